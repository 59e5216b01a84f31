/**
 * The HTTP contract of `keystroke-id serve`, as JSON Schemas (TypeBox): the server documents its routes
 * with them (/openapi.json) and the typed client takes its types from them, so the two cannot drift apart.
 * Request bodies are checked by the core's own parser (src/predict/request.ts), whose messages name the
 * field; these request schemas describe what it accepts.
 */
import { Type, type Static } from "@sinclair/typebox";

const Ms = (description: string) => Type.Number({ minimum: 0, description });

/** A user id: a number, or a non-empty string of at most 256 characters. */
export const UserIdSchema = Type.Union([Type.Number(), Type.String({ minLength: 1, maxLength: 256 })], {
  description: "a user id: a number or a string",
});

/** One keystroke: press and release in ms (any common origin, e.g. performance.now()), and optionally the key. */
export const KeystrokeSchema = Type.Object(
  {
    key: Type.Optional(
      Type.String({ description: "the key, its physical code or its class (not used by the features)" }),
    ),
    press: Ms("press time, ms"),
    release: Ms("release time, ms (not before press)"),
  },
  { title: "Keystroke" },
);

const ModelField = Type.Optional(
  Type.String({ description: "SVM, RF or XGB (any case); default: the best model" }),
);
const MeanStd = Type.Object({ Mean: Type.Number(), STD: Type.Number({ minimum: 0 }) });

/** Raw timings as keystroke objects (what keystroke-id/recorder's sample() gives). */
export const KeystrokesSampleSchema = Type.Object(
  {
    keystrokes: Type.Array(KeystrokeSchema, { minItems: 2, description: "in typing (press) order" }),
    Model: ModelField,
  },
  { title: "KeystrokesSample" },
);
/** Raw timings as two parallel arrays. */
export const ArraysSampleSchema = Type.Object(
  {
    press: Type.Array(Type.Number({ minimum: 0 }), { minItems: 2 }),
    release: Type.Array(Type.Number({ minimum: 0 }), { minItems: 2 }),
    Model: ModelField,
  },
  { title: "ArraysSample" },
);
/** The original contract: the 8 summary numbers. */
export const SummarySampleSchema = Type.Object(
  { HT: MeanStd, PPT: MeanStd, RRT: MeanStd, RPT: MeanStd, Model: ModelField },
  { title: "SummarySample" },
);

/** Any of the three sample forms; raw timings win when several are present. */
export const SampleSchema = Type.Union([KeystrokesSampleSchema, ArraysSampleSchema, SummarySampleSchema]);
export type Sample = Static<typeof SampleSchema>;
export type KeystrokesSample = Static<typeof KeystrokesSampleSchema>;

/** A sample plus the user it claims to be. */
export const VerifyRequestSchema = Type.Union([
  Type.Intersect([KeystrokesSampleSchema, Type.Object({ UserID: UserIdSchema })]),
  Type.Intersect([ArraysSampleSchema, Type.Object({ UserID: UserIdSchema })]),
  Type.Intersect([SummarySampleSchema, Type.Object({ UserID: UserIdSchema })]),
]);
export type VerifyRequest = Static<typeof VerifyRequestSchema>;

/** Every error: a message that names the field, a code, and where in a batch it was. */
export const ErrorSchema = Type.Object(
  {
    error: Type.String(),
    code: Type.Optional(Type.String()),
    field: Type.Optional(Type.String()),
    index: Type.Optional(Type.Integer({ description: "position in a JSON array batch (0-based)" })),
    line: Type.Optional(Type.Integer({ description: "line of an NDJSON body (1-based)" })),
  },
  { title: "Error" },
);
export type ErrorBody = Static<typeof ErrorSchema>;

/** An identification answer. */
export const PredictAnswerSchema = Type.Object(
  {
    UserID: UserIdSchema,
    Model: Type.String(),
    features: Type.String({ description: "summary or timings" }),
    confidence: Type.Number(),
    top: Type.Array(Type.Object({ UserID: UserIdSchema, probability: Type.Number() })),
    model_version: Type.String(),
    inference_time_ms: Type.Number(),
  },
  { title: "PredictAnswer" },
);
export type PredictAnswer = Static<typeof PredictAnswerSchema>;

/**
 * What POST /predict answers: the original answer, or with reject_unknown (open-set identification) the
 * same answer where `UserID` is null and `unknown` true for a sample too far from every known user.
 * One object schema (not a union), so serialising the original answer costs what it did.
 */
export const IdentifyAnswerSchema = Type.Object(
  {
    ...PredictAnswerSchema.properties,
    UserID: Type.Union([UserIdSchema, Type.Null()], {
      description: "the user named; null only with reject_unknown, when the sample is unknown",
    }),
    unknown: Type.Optional(
      Type.Boolean({
        description: "with reject_unknown: true when the sample is not close enough to any known user",
      }),
    ),
    open_set: Type.Optional(
      Type.Object(
        {
          distance: Type.Number({
            description: "distance to the named user's template (capped scaled Manhattan)",
          }),
          threshold: Type.Number({ description: "unknown when distance >= threshold" }),
          target_fir: Type.Number({
            description: "false-identification rate the threshold was calibrated for",
          }),
        },
        { description: "with reject_unknown: the open-set decision's figures" },
      ),
    ),
  },
  { title: "PredictAnswer" },
);
export type IdentifyAnswer = Static<typeof IdentifyAnswerSchema>;

/** A verification decision. */
export const VerificationSchema = Type.Object(
  {
    UserID: UserIdSchema,
    accepted: Type.Boolean(),
    anomaly_score: Type.Number({
      minimum: 0,
      maximum: 1,
      description:
        "in [0, 1], increasing with the distance from the template: 0.1 = typical of the user, 0.9 = typical of others",
    }),
    confidence_score: Type.Number({
      minimum: 0,
      maximum: 100,
      description: "confidence in the decision returned: 0 on the threshold, towards 100 far from it",
    }),
    threshold: Type.Number({
      minimum: 0,
      maximum: 1,
      description: "accepted when anomaly_score <= threshold",
    }),
    detector: Type.String(),
    policy: Type.Union(
      [
        Type.Object({ kind: Type.Literal("eer") }),
        Type.Object({
          kind: Type.Literal("target_far"),
          target_far: Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1 }),
        }),
      ],
      { description: "the operating point the user's threshold was set for" },
    ),
    replay: Type.Boolean(),
    scripted: Type.Boolean(),
    reason: Type.Optional(Type.String()),
    explanation: Type.Optional(
      Type.Array(
        Type.Object({
          key_pair: Type.String({
            description: "a→b (or a key for a hold time); key indexes when the keys are not known",
          }),
          kind: Type.Union([
            Type.Literal("HT"),
            Type.Literal("PPT"),
            Type.Literal("RRT"),
            Type.Literal("RPT"),
          ]),
          spreads: Type.Number({
            description: "distance from the user's template in the user's spreads (log time)",
          }),
          direction: Type.Union([Type.Literal("slower"), Type.Literal("faster")]),
        }),
        { description: "with explain=true: the intervals that deviated most from the template, most first" },
      ),
    ),
  },
  { title: "Verification" },
);
export type Verification = Static<typeof VerificationSchema>;

/** GET /health (no token): up and ready. */
export const HealthSchema = Type.Object(
  {
    status: Type.String(),
    ready: Type.Boolean(),
    store: Type.Optional(
      Type.String({ description: "ok or unavailable, when the server has an identity store" }),
    ),
  },
  { title: "Health" },
);
export type Health = Static<typeof HealthSchema>;

/** GET /status: what is being served. */
export const StatusSchema = Type.Object(
  {
    status: Type.String(),
    uptime_s: Type.Number(),
    loaded_at: Type.String(),
    best: Type.String(),
    models: Type.Array(
      Type.Object({
        Model: Type.String(),
        features: Type.String(),
        model_version: Type.String(),
        keys: Type.Union([Type.Integer(), Type.Null()]),
      }),
    ),
    verification: Type.Union([
      Type.Null(),
      Type.Object(
        {},
        {
          additionalProperties: true,
          description: "the identity store's state (kind, location, users), or the in-memory templates",
        },
      ),
    ]),
  },
  { title: "Status", additionalProperties: true },
);
export type Status = Static<typeof StatusSchema>;

/** POST /enroll: a user's samples; `replace` (default) starts the template again, `append` adds to it. */
export const EnrollRequestSchema = Type.Object(
  {
    UserID: UserIdSchema,
    samples: Type.Array(Type.Union([KeystrokesSampleSchema, ArraysSampleSchema]), {
      minItems: 1,
      maxItems: 1000,
    }),
    mode: Type.Optional(Type.Union([Type.Literal("replace"), Type.Literal("append")])),
    detector: Type.Optional(Type.String()),
  },
  { title: "EnrollRequest" },
);
export type EnrollRequest = Static<typeof EnrollRequestSchema>;

/** What one enrolment did. */
export const EnrolmentSchema = Type.Object(
  {
    UserID: UserIdSchema,
    samples: Type.Integer(),
    threshold: Type.Number(),
    detector: Type.String(),
    replaced: Type.Boolean(),
  },
  { title: "Enrolment", additionalProperties: true },
);
export type Enrolment = Static<typeof EnrolmentSchema>;

/** POST /auto/:id: still enrolling (`enrolled: false`, with `needed`), or enrolled and then a verification's fields. */
export const AutoSchema = Type.Object(
  {
    enrolled: Type.Boolean(),
    enrolled_now: Type.Optional(Type.Boolean()),
    samples: Type.Optional(Type.Integer()),
    needed: Type.Optional(Type.Integer({ description: "samples still missing before the user is enrolled" })),
    ...Type.Partial(VerificationSchema).properties,
  },
  { title: "Auto", additionalProperties: true },
);
export type Auto = Static<typeof AutoSchema>;

/** GET /users/:id: never timings. */
export const UserViewSchema = Type.Object(
  {
    UserID: UserIdSchema,
    enrolled_at: Type.String(),
    updated_at: Type.String(),
    samples: Type.Integer(),
    detector: Type.String(),
    threshold: Type.Number(),
    keys: Type.Integer(),
    quality: Type.Union([Type.Number(), Type.Null()]),
  },
  { title: "User", additionalProperties: true },
);
export type UserView = Static<typeof UserViewSchema>;

/** GET /users: one page of users. */
export const UserListSchema = Type.Object(
  {
    users: Type.Array(
      Type.Object(
        {
          UserID: UserIdSchema,
          samples: Type.Integer(),
          detector: Type.String(),
          threshold: Type.Number(),
          updated_at: Type.String(),
        },
        { additionalProperties: true },
      ),
    ),
    next: Type.Union([Type.String(), Type.Null()], {
      description: "pass as ?after= for the next page; null at the end",
    }),
  },
  { title: "UserList", additionalProperties: true },
);

/** GET /users/:id/audit. */
export const AuditSchema = Type.Object(
  {
    UserID: UserIdSchema,
    entries: Type.Array(
      Type.Object(
        {
          at: Type.String(),
          action: Type.String(),
          outcome: Type.String(),
          score: Type.Union([Type.Number(), Type.Null()]),
          instance: Type.String(),
        },
        { additionalProperties: true },
      ),
    ),
  },
  { title: "Audit", additionalProperties: true },
);

/** DELETE /users/:id. */
export const DeletedSchema = Type.Object(
  { UserID: UserIdSchema, deleted: Type.Boolean() },
  { title: "Deleted", additionalProperties: true },
);
