import type { FastifyInstance, RouteOptions } from "fastify";
import { Type, type TSchema } from "@sinclair/typebox";
import {
  ArraysSampleSchema,
  AuditSchema,
  AutoSchema,
  DeletedSchema,
  EnrolmentSchema,
  EnrollRequestSchema,
  UserListSchema,
  UserViewSchema,
  ErrorSchema,
  HealthSchema,
  KeystrokesSampleSchema,
  IdentifyAnswerSchema,
  SampleSchema,
  StatusSchema,
  UserIdSchema,
  VerificationSchema,
  VerifyRequestSchema,
} from "../../client/contract.js";

/** What the document says of one route: a request body (documentation: the core's parser checks it), answers, and words. */
interface RouteDoc {
  summary: string;
  tags: string[];
  body?: TSchema;
  /** Answers by status; a `content` object for non-JSON ones. */
  response: Record<string, unknown>;
}

const text = (type: string, description: string) => ({
  description,
  content: { [type]: { schema: { type: "string" } } },
});
const batchOf = (item: TSchema) =>
  Type.Array(Type.Union([item, ErrorSchema]), {
    description: "a JSON array batch: an answer or an error object (with index) per request",
  });
/** A 200 that is JSON (one answer or a batch) or, for an NDJSON body, NDJSON. */
const jsonOrNdjson = (item: TSchema) => ({
  description: "one answer, a batch of them, or NDJSON",
  content: {
    "application/json": { schema: Type.Union([item, batchOf(item)]) },
    "application/x-ndjson": {
      schema: { type: "string", description: "one answer or error object (with line) per line" },
    },
  },
});

/** Error answers every route can give: token missing or wrong, rate limited, failure, closing or no models. */
const COMMON_ERRORS = { 401: ErrorSchema, 429: ErrorSchema, 500: ErrorSchema, 503: ErrorSchema };
/** Errors of routes that read a JSON body. */
const BODY_ERRORS = { 400: ErrorSchema, 413: ErrorSchema, 415: ErrorSchema };

const DemoRhythm = Type.Object(
  { hold: Type.Array(Type.Number()), gap: Type.Array(Type.Number()) },
  { title: "Rhythm", description: "mean hold time per key and press-to-press gap per pair, ms" },
);

/** The document of every route, by `METHOD url`. */
export const ROUTE_DOCS: Record<string, RouteDoc> = {
  "POST /predict": {
    summary: "Who typed this sample? One request, a JSON array of them, or NDJSON (application/x-ndjson).",
    tags: ["identify"],
    body: Type.Union([SampleSchema, Type.Array(SampleSchema)]),
    response: { 200: jsonOrNdjson(IdentifyAnswerSchema), ...BODY_ERRORS, 404: ErrorSchema, ...COMMON_ERRORS },
  },
  "POST /verify": {
    summary: "Is this sample from the user it claims (UserID)? One request, a JSON array of them, or NDJSON.",
    tags: ["verify"],
    body: Type.Union([VerifyRequestSchema, Type.Array(VerifyRequestSchema)]),
    response: { 200: jsonOrNdjson(VerificationSchema), ...BODY_ERRORS, 404: ErrorSchema, ...COMMON_ERRORS },
  },
  "GET /health": {
    summary:
      "Up and ready (no token; not rate limited); 503 with ready: false when the identity store does not answer.",
    tags: ["operations"],
    response: { 200: HealthSchema, 500: ErrorSchema, 503: Type.Union([HealthSchema, ErrorSchema]) },
  },
  "GET /status": {
    summary: "The models and verification templates being served.",
    tags: ["operations"],
    response: { 200: StatusSchema, ...COMMON_ERRORS },
  },
  "GET /models": {
    summary: "The manifest of the models being served.",
    tags: ["operations"],
    response: {
      200: Type.Object(
        { best: Type.String(), models: Type.Array(Type.Object({}, { additionalProperties: true })) },
        { title: "Manifest", additionalProperties: true },
      ),
      ...COMMON_ERRORS,
    },
  },
  "POST /enroll": {
    summary: "Enrols a user (admin token): replaces the template, or adds samples with mode: append.",
    tags: ["identities"],
    body: EnrollRequestSchema,
    response: { 200: EnrolmentSchema, ...BODY_ERRORS, 403: ErrorSchema, ...COMMON_ERRORS },
  },
  "POST /auto/{id}": {
    summary:
      "Enrol-or-verify in one call (admin token): collects samples until the user can be enrolled, then verifies.",
    tags: ["identities"],
    body: Type.Union([KeystrokesSampleSchema, ArraysSampleSchema]),
    response: { 200: AutoSchema, ...BODY_ERRORS, 403: ErrorSchema, ...COMMON_ERRORS },
  },
  "GET /users": {
    summary: "Lists enrolled users, a page at a time (admin token).",
    tags: ["identities"],
    response: { 200: UserListSchema, 400: ErrorSchema, 403: ErrorSchema, ...COMMON_ERRORS },
  },
  "GET /users/{id}": {
    summary:
      "One enrolled user: dates, sample count, detector, threshold, quality; never timings (admin token).",
    tags: ["identities"],
    response: { 200: UserViewSchema, 400: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, ...COMMON_ERRORS },
  },
  "GET /users/{id}/audit": {
    summary: "A user's audit log: enrolments, deletions and decisions (admin token).",
    tags: ["identities"],
    response: { 200: AuditSchema, 400: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, ...COMMON_ERRORS },
  },
  "DELETE /users/{id}": {
    summary: "Erases a user's template, enrolment samples and replay hashes (admin token).",
    tags: ["identities"],
    response: { 200: DeletedSchema, 400: ErrorSchema, 403: ErrorSchema, 404: ErrorSchema, ...COMMON_ERRORS },
  },
  "GET /metrics": {
    summary: "Prometheus metrics.",
    tags: ["operations"],
    response: { 200: text("text/plain", "Prometheus text format"), ...COMMON_ERRORS },
  },
  "GET /recorder.js": {
    summary:
      "The keystroke recorder as one <script> file, defining KeystrokeRecorder.createRecorder (no token).",
    tags: ["browser"],
    response: {
      200: text("text/javascript", "the recorder script"),
      429: ErrorSchema,
      500: ErrorSchema,
      503: ErrorSchema,
    },
  },
  "GET /demo": {
    summary: "The demo page (serve --demo; on by default on loopback only).",
    tags: ["demo"],
    response: {
      200: text("text/html", "the demo page"),
      429: ErrorSchema,
      500: ErrorSchema,
      503: ErrorSchema,
    },
  },
  "GET /demo/config": {
    summary: "The demo's phrase and how many samples it enrols with.",
    tags: ["demo"],
    response: {
      200: Type.Object(
        {
          phrase: Type.String(),
          keys: Type.Union([Type.Integer(), Type.Null()]),
          samples: Type.Integer(),
          enroll: Type.String(),
          verify: Type.String(),
        },
        { title: "DemoConfig", additionalProperties: true },
      ),
      429: ErrorSchema,
      500: ErrorSchema,
      503: ErrorSchema,
    },
  },
  "POST /demo/enroll": {
    summary: "Enrols a demo user (in this process's memory only) from typed samples.",
    tags: ["demo"],
    body: Type.Object({
      UserID: UserIdSchema,
      samples: Type.Array(KeystrokesSampleSchema, { minItems: 5, maxItems: 50 }),
    }),
    response: {
      200: Type.Object(
        {
          UserID: UserIdSchema,
          samples: Type.Integer(),
          detector: Type.String(),
          threshold: Type.Number(),
          rhythm: DemoRhythm,
        },
        { title: "DemoEnrolment" },
      ),
      ...BODY_ERRORS,
      ...COMMON_ERRORS,
    },
  },
  "POST /demo/verify": {
    summary:
      "Verifies a demo user's sample; answers the decision with this attempt's rhythm and the template's.",
    tags: ["demo"],
    body: Type.Intersect([KeystrokesSampleSchema, Type.Object({ UserID: UserIdSchema })]),
    response: {
      200: Type.Intersect([VerificationSchema, Type.Object({ rhythm: DemoRhythm, template: DemoRhythm })], {
        title: "DemoVerification",
      }),
      ...BODY_ERRORS,
      404: ErrorSchema,
      ...COMMON_ERRORS,
    },
  },
};

/** Routes of the document itself (and the docs UI's assets), which are not part of the API. */
const SELF = /^\/(openapi\.json|docs)(\/|$)/;
/** `/users/:id` as the document writes it, `/users/{id}`. */
const docPath = (url: string) => url.replace(/:(\w+)/g, "{$1}");

/**
 * /openapi.json (OpenAPI 3.1, generated by @fastify/swagger from the route schemas) and /docs
 * (@fastify/swagger-ui). Register before the routes: an onRoute hook gives each route documented in
 * ROUTE_DOCS its response schemas (which also serialise its answers) and words. Request bodies stay checked
 * by the core's parser, whose messages name the field; the document shows their schema all the same.
 * A route with no entry is tagged "undocumented" (the OpenAPI test fails on any), never refused at start-up.
 */
async function openapiPlugin(app: FastifyInstance): Promise<void> {
  app.addHook("onRoute", (route: RouteOptions) => {
    if (
      SELF.test(route.url) ||
      route.method === "HEAD" ||
      (Array.isArray(route.method) && route.method.includes("HEAD"))
    )
      return;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      const doc = ROUTE_DOCS[`${method} ${docPath(route.url)}`];
      if (!doc) {
        route.schema = { ...route.schema, tags: ["undocumented"] };
        continue;
      }
      route.schema = { ...route.schema, summary: doc.summary, tags: doc.tags, response: doc.response };
    }
  });

  const { default: swagger } = await import("@fastify/swagger");
  const { default: swaggerUi } = await import("@fastify/swagger-ui");
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "keystroke-id",
        version: process.env.npm_package_version ?? "0.1.0",
        description: "Identify and verify people from keystroke timings.",
      },
      components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
      security: [{ bearer: [] }],
    },
    hideUntagged: false,
    // the document shows each body's real schema; the route keeps the permissive one the core's parser sits behind
    transform: ({ schema, url, route }) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      const doc = ROUTE_DOCS[`${methods[0]} ${docPath(url)}`];
      if (!doc?.body || !schema) return { schema, url };
      return { schema: { ...schema, body: doc.body }, url };
    },
  });
  await app.register(swaggerUi, { routePrefix: "/docs", uiConfig: { docExpansion: "list" }, uiHooks: {} });
  app.get("/openapi.json", { config: { access: "public" }, schema: { hide: true } }, async () =>
    app.swagger(),
  );
}

// registered into the parent scope (what fastify-plugin does), so that its onRoute hook sees every route
(openapiPlugin as unknown as Record<symbol, boolean>)[Symbol.for("skip-override")] = true;
export default openapiPlugin;
