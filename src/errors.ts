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

/** Where in the user's input a problem sits: a file line/column, a JSON field, or a flag. */
export interface ErrorPlace {
  file?: string;
  line?: number;
  column?: string;
  field?: string;
  flag?: string;
}

export type ErrorCode =
  | "BAD_HEADER"
  | "BAD_ROW"
  | "BAD_JSON"
  | "BAD_REQUEST"
  | "BAD_FLAG"
  | "NO_MODELS"
  | "UNKNOWN_MODEL"
  | "UNKNOWN_USER"
  | "BAD_MODEL_FILE"
  | "TOO_FEW_SAMPLES"
  | "IO"
  | "BAD_STORE"
  | "STORE_UNAVAILABLE"
  | "STORE_BUSY";

const EXIT_BY_CODE: Record<ErrorCode, ExitCode> = {
  BAD_HEADER: ExitCodes.INPUT,
  BAD_ROW: ExitCodes.INPUT,
  BAD_JSON: ExitCodes.INPUT,
  BAD_REQUEST: ExitCodes.INPUT,
  BAD_FLAG: ExitCodes.USAGE,
  NO_MODELS: ExitCodes.MODEL,
  UNKNOWN_MODEL: ExitCodes.MODEL,
  UNKNOWN_USER: ExitCodes.INPUT,
  BAD_MODEL_FILE: ExitCodes.MODEL,
  TOO_FEW_SAMPLES: ExitCodes.INPUT,
  IO: ExitCodes.FAILURE,
  // the identity store: a corrupt file or a newer schema (like a bad model file); unreachable or locked
  BAD_STORE: ExitCodes.MODEL,
  STORE_UNAVAILABLE: ExitCodes.FAILURE,
  STORE_BUSY: ExitCodes.FAILURE,
};

/** The one error type the core throws: a code, a message a person can act on, and the place. */
export class KeystrokeError extends Error {
  readonly code: ErrorCode;
  readonly place: ErrorPlace;
  readonly suggestion?: string;

  constructor(code: ErrorCode, message: string, place: ErrorPlace = {}, options: { cause?: unknown; suggestion?: string } = {}) {
    super(withPlace(message, place), options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "KeystrokeError";
    this.code = code;
    this.place = place;
    this.suggestion = options.suggestion;
  }

  /** The exit code the bin uses for this error. */
  get exitCode(): ExitCode {
    return EXIT_BY_CODE[this.code];
  }
}

function withPlace(message: string, place: ErrorPlace): string {
  const where: string[] = [];
  if (place.file !== undefined) where.push(place.line !== undefined ? `${place.file}:${place.line}` : place.file);
  else if (place.line !== undefined) where.push(`line ${place.line}`);
  if (place.column !== undefined) where.push(`column ${place.column}`);
  if (place.field !== undefined) where.push(`field ${place.field}`);
  if (place.flag !== undefined) where.push(`flag ${place.flag}`);
  return where.length ? `${where.join(", ")}: ${message}` : message;
}

/** True when the value is a KeystrokeError (also across module copies). */
export function isKeystrokeError(e: unknown): e is KeystrokeError {
  return e instanceof KeystrokeError || (e instanceof Error && e.name === "KeystrokeError" && "code" in e);
}
