/** Exit codes used by the bin; the core never exits, it throws a KeystrokeError carrying one of these. */
export const ExitCodes = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  INPUT: 3,
  MODEL: 4,
  INTERRUPTED: 130,
} as const;
export type ExitCode = (typeof ExitCodes)[keyof typeof ExitCodes];

/** What each exit code means, for `--help` (one list, so the help cannot drift from ExitCodes). */
export const EXIT_CODE_HELP: ReadonlyArray<readonly [ExitCode, string]> = [
  [ExitCodes.OK, "success"],
  [ExitCodes.FAILURE, "failure (I/O error, an unexpected error)"],
  [ExitCodes.USAGE, "bad command line or config value (unknown flag, bad flag value)"],
  [ExitCodes.INPUT, "bad input (CSV, JSON, a request), or some requests of a batch not answered"],
  [ExitCodes.MODEL, "models missing, damaged, or without the model asked for"],
  [ExitCodes.INTERRUPTED, "interrupted (Ctrl-C)"],
];

/**
 * Where in the user's input a problem sits: a file line/column, a JSON field, a CLI flag, or a library
 * option. The core names `option` (the library's option name, e.g. `modelsDir`); the CLI maps it to its
 * flag (`--models-dir`) before printing.
 */
export interface ErrorPlace {
  file?: string;
  line?: number;
  column?: string;
  field?: string;
  flag?: string;
  option?: string;
}

/**
 * The one error catalogue: every error the CLI, the HTTP API and the library report carries one of these
 * codes, with the same message and field on each.
 */
export type ErrorCode =
  | "BAD_HEADER"
  | "BAD_ROW"
  | "BAD_JSON"
  | "BAD_REQUEST"
  | "BAD_FLAG"
  | "SAMPLE_MISMATCH"
  | "NO_MODELS"
  | "UNKNOWN_MODEL"
  | "UNKNOWN_USER"
  | "NO_TEMPLATES"
  | "BAD_MODEL_FILE"
  | "TOO_FEW_SAMPLES"
  | "ENROLMENT_REFUSED"
  | "IO"
  | "BAD_STORE"
  | "STORE_UNAVAILABLE"
  | "STORE_BUSY"
  | "UNAUTHORIZED"
  | "FORBIDDEN"
  | "NOT_FOUND"
  | "BODY_TOO_LARGE"
  | "UNSUPPORTED_MEDIA_TYPE"
  | "RATE_LIMITED"
  | "TIMEOUT"
  | "INTERNAL";

const EXIT_BY_CODE: Record<ErrorCode, ExitCode> = {
  BAD_HEADER: ExitCodes.INPUT,
  BAD_ROW: ExitCodes.INPUT,
  BAD_JSON: ExitCodes.INPUT,
  BAD_REQUEST: ExitCodes.INPUT,
  BAD_FLAG: ExitCodes.USAGE,
  SAMPLE_MISMATCH: ExitCodes.INPUT,
  NO_MODELS: ExitCodes.MODEL,
  UNKNOWN_MODEL: ExitCodes.MODEL,
  UNKNOWN_USER: ExitCodes.INPUT,
  NO_TEMPLATES: ExitCodes.MODEL,
  BAD_MODEL_FILE: ExitCodes.MODEL,
  TOO_FEW_SAMPLES: ExitCodes.INPUT,
  // inconsistent enrolment samples (two people, different texts): HTTP 422
  ENROLMENT_REFUSED: ExitCodes.INPUT,
  IO: ExitCodes.FAILURE,
  // the identity store: a corrupt file or a newer schema (like a bad model file); unreachable or locked
  BAD_STORE: ExitCodes.MODEL,
  STORE_UNAVAILABLE: ExitCodes.FAILURE,
  STORE_BUSY: ExitCodes.FAILURE,
  UNAUTHORIZED: ExitCodes.USAGE,
  FORBIDDEN: ExitCodes.USAGE,
  NOT_FOUND: ExitCodes.USAGE,
  BODY_TOO_LARGE: ExitCodes.INPUT,
  UNSUPPORTED_MEDIA_TYPE: ExitCodes.INPUT,
  RATE_LIMITED: ExitCodes.FAILURE,
  TIMEOUT: ExitCodes.FAILURE,
  INTERNAL: ExitCodes.FAILURE,
};

/**
 * The HTTP status of every code. Total on purpose: a new code without a status fails the type check
 * instead of silently becoming a 500.
 */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  BAD_HEADER: 400,
  BAD_ROW: 400,
  BAD_JSON: 400,
  BAD_REQUEST: 400,
  BAD_FLAG: 400,
  // a sample the timings model cannot take (length, text) is well-formed but not answerable as asked
  SAMPLE_MISMATCH: 422,
  TOO_FEW_SAMPLES: 400,
  // inconsistent enrolment samples (two people, different texts): well-formed, but not enrolled
  ENROLMENT_REFUSED: 422,
  // a model name outside SVM/RF/XGB is a bad request (400, as the original contract); a known model that
  // this models dir does not hold, or a user with no template, is a missing resource (404)
  UNKNOWN_MODEL: 404,
  UNKNOWN_USER: 404,
  NO_TEMPLATES: 404,
  NOT_FOUND: 404,
  UNAUTHORIZED: 401,
  // identity changes switched off (serve without --admin-token while --token is set)
  FORBIDDEN: 403,
  BODY_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  TIMEOUT: 408,
  NO_MODELS: 503,
  // the identity store cannot answer now: try again (never a 500, never an accept)
  STORE_UNAVAILABLE: 503,
  STORE_BUSY: 503,
  BAD_STORE: 500,
  BAD_MODEL_FILE: 500,
  IO: 500,
  INTERNAL: 500,
};

/** The one error type the core throws: a code, a message a person can act on, and the place. */
export class KeystrokeError extends Error {
  readonly code: ErrorCode;
  readonly place: ErrorPlace;
  readonly suggestion?: string;
  /** The message without the place prefix (the CLI re-prefixes it when it maps an option to a flag). */
  readonly detail: string;

  constructor(
    code: ErrorCode,
    message: string,
    place: ErrorPlace = {},
    options: { cause?: unknown; suggestion?: string } = {},
  ) {
    super(withPlace(message, place), options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "KeystrokeError";
    this.code = code;
    this.place = place;
    this.detail = message;
    this.suggestion = options.suggestion;
  }

  /** The exit code the bin uses for this error. */
  get exitCode(): ExitCode {
    return EXIT_BY_CODE[this.code];
  }

  /** The HTTP status the server answers this error with. */
  get status(): number {
    return HTTP_STATUS[this.code];
  }
}

/** Prefixes a message with where it happened: `data.csv:12, column press-3: …`. */
export function withPlace(message: string, place: ErrorPlace): string {
  const where: string[] = [];
  if (place.file !== undefined)
    where.push(place.line !== undefined ? `${place.file}:${place.line}` : place.file);
  else if (place.line !== undefined) where.push(`line ${place.line}`);
  if (place.column !== undefined) where.push(`column ${place.column}`);
  if (place.field !== undefined) where.push(`field ${place.field}`);
  if (place.flag !== undefined) where.push(`flag ${place.flag}`);
  else if (place.option !== undefined) where.push(`option ${place.option}`);
  return where.length ? `${where.join(", ")}: ${message}` : message;
}

/** True when the value is a KeystrokeError (also across module copies). */
export function isKeystrokeError(e: unknown): e is KeystrokeError {
  return e instanceof KeystrokeError || (e instanceof Error && e.name === "KeystrokeError" && "code" in e);
}

/** The JSON body of an error answer: the same code, message and field the CLI and the library report. */
export interface ErrorBody {
  error: string;
  code: ErrorCode;
  field?: string;
}

/** What a framework error looks like (fastify's FastifyError, @fastify/rate-limit's), without importing one. */
interface FrameworkError {
  statusCode?: number;
  code?: string;
  message?: string;
  validation?: ReadonlyArray<{ instancePath?: string; message?: string; params?: unknown }>;
  validationContext?: string;
}

/** Limits an error message may quote (the server's settings). */
export interface ErrorContext {
  bodyLimit?: number;
}

/**
 * Turns any error into a catalogue error: a KeystrokeError as it is; a framework error (fastify's
 * FST_ERR_* codes, schema validation, rate limiting, timeouts) into the catalogue code for the same case,
 * so no framework-internal code or message reaches a client; anything else into INTERNAL.
 */
export function toKeystrokeError(e: unknown, context: ErrorContext = {}): KeystrokeError {
  if (isKeystrokeError(e)) return e;
  const f = (typeof e === "object" && e !== null ? e : {}) as FrameworkError;
  // Not Array.isArray: it narrows a ReadonlyArray to any[].
  if (f.validation !== undefined && typeof f.validation.length === "number") {
    const v = f.validation[0];
    const missing = (v?.params as { missingProperty?: string } | undefined)?.missingProperty;
    const path = (v?.instancePath ?? "").split("/").filter(Boolean).join(".");
    const field =
      [f.validationContext === "body" ? "" : f.validationContext, path, missing].filter(Boolean).join(".") ||
      "body";
    return new KeystrokeError("BAD_REQUEST", v?.message ?? "is invalid", { field }, { cause: e });
  }
  const status = typeof f.statusCode === "number" ? f.statusCode : 500;
  const code = typeof f.code === "string" ? f.code : "";
  if (status === 413 || code === "FST_ERR_CTP_BODY_TOO_LARGE") {
    const limit = context.bodyLimit !== undefined ? ` of ${context.bodyLimit} bytes` : "";
    return new KeystrokeError(
      "BODY_TOO_LARGE",
      `request body is larger than the limit${limit}`,
      {},
      { cause: e },
    );
  }
  if (status === 415 || code === "FST_ERR_CTP_INVALID_MEDIA_TYPE") {
    return new KeystrokeError(
      "UNSUPPORTED_MEDIA_TYPE",
      "unsupported content type: send application/json (or application/x-ndjson)",
      {},
      { cause: e },
    );
  }
  if (code === "FST_ERR_CTP_EMPTY_JSON_BODY" || code === "FST_ERR_CTP_INVALID_JSON_BODY") {
    return new KeystrokeError("BAD_JSON", "the body is empty or not JSON", { field: "body" }, { cause: e });
  }
  if (status === 429 || code === "RATE_LIMITED")
    return new KeystrokeError("RATE_LIMITED", f.message ?? "too many requests", {}, { cause: e });
  if (status === 408)
    return new KeystrokeError("TIMEOUT", "the request took too long to arrive", {}, { cause: e });
  if (status === 401)
    return new KeystrokeError(
      "UNAUTHORIZED",
      "missing or wrong bearer token (Authorization: Bearer <token>)",
      {},
      { cause: e },
    );
  if (status === 404) return new KeystrokeError("NOT_FOUND", "not found", {}, { cause: e });
  // any other client error from the framework: a bad request, described without its internals
  if (status >= 400 && status < 500)
    return new KeystrokeError("BAD_REQUEST", "the request could not be read", {}, { cause: e });
  return new KeystrokeError("INTERNAL", "internal error", {}, { cause: e });
}

/** The HTTP answer to any error: status from the total HTTP_STATUS mapping, body `{error, code, field}`. */
export function errorResponse(e: unknown, context: ErrorContext = {}): { status: number; body: ErrorBody } {
  const k = toKeystrokeError(e, context);
  return { status: HTTP_STATUS[k.code], body: errorBody(k) };
}

/** `{error, code, field}` of a catalogue error: what HTTP answers, what a batch holds in a request's place, what `--output json` prints. */
export function errorBody(k: KeystrokeError): ErrorBody {
  return { error: k.message, code: k.code, ...(k.place.field !== undefined ? { field: k.place.field } : {}) };
}
