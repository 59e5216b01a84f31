import type { Label } from "../data/types.js";
import { errorBody, isKeystrokeError, KeystrokeError, type ErrorCode } from "../errors.js";
import { extractTimings } from "../features/index.js";
import { parseJson, findJsonFault } from "./json.js";
import {
  finiteFeatures,
  type OpenSetAnswer,
  type PredictAnswer,
  type PredictOptions,
  type Predictor,
} from "./predictor.js";
import { parseRequest, parseVerifyRequest, type RequestLimits, type VerifyRequest } from "./request.js";
import type { VerificationResult } from "../verify/types.js";
import { unitWarning } from "./units.js";

/** What stands in a batch or stream in place of a request that could not be answered. */
export interface ErrorAnswer {
  error: string;
  code: ErrorCode;
  field?: string;
  /** Position in a JSON array batch (0-based). */
  index?: number;
  /** Line of an NDJSON stream (1-based). */
  line?: number;
}

/** How a text of requests was laid out: one object, a JSON array, or one object per line. */
export type RequestInput =
  | { form: "single"; value: unknown }
  | { form: "batch"; values: unknown[] }
  | { form: "ndjson"; lines: NdjsonLine[] };

/** One line of an NDJSON stream: its decoded value, or why it could not be decoded. */
export interface NdjsonLine {
  line: number;
  value?: unknown;
  error?: KeystrokeError;
}

/**
 * Decides how a text holds its requests. Valid JSON is one request or an array of them; otherwise, if
 * it has several lines and the first parses on its own, it is NDJSON (a bad line becomes an error in its
 * place); otherwise it is one broken JSON document, reported with its line and column.
 */
export function readRequests(text: string, file?: string): RequestInput {
  if (text.trim() === "")
    throw new KeystrokeError(
      "BAD_JSON",
      "no input: expected a JSON request, an array of them, or NDJSON",
      file ? { file } : {},
    );
  let whole: unknown;
  let ok = true;
  try {
    whole = JSON.parse(text);
  } catch {
    ok = false;
  }
  if (ok) return Array.isArray(whole) ? { form: "batch", values: whole } : { form: "single", value: whole };
  const rows = text.split("\n");
  const first = rows.findIndex((r) => r.trim() !== "");
  if (rows.filter((r) => r.trim() !== "").length > 1 && findJsonFault(rows[first]!) === null) {
    const lines: NdjsonLine[] = [];
    rows.forEach((row, i) => {
      if (row.trim() === "") return;
      try {
        lines.push({ line: i + 1, value: parseJson(row, { ...(file ? { file } : {}), line: i + 1 }) });
      } catch (e) {
        lines.push({ line: i + 1, error: e as KeystrokeError });
      }
    });
    return { form: "ndjson", lines };
  }
  return { form: "single", value: parseJson(text, file ? { file } : {}) };
}

/** Turns a KeystrokeError into the error object a batch carries in the request's place; rethrows anything else (a bug). */
export function errorAnswer(e: unknown, at: { index?: number; line?: number } = {}): ErrorAnswer {
  if (!isKeystrokeError(e)) throw e;
  return {
    ...errorBody(e),
    ...(at.index !== undefined ? { index: at.index } : {}),
    ...(at.line !== undefined ? { line: at.line } : {}),
  };
}

/** Validates and answers one decoded request; throws KeystrokeError on bad input. */
export function answerRequest(
  predictor: Predictor,
  value: unknown,
  options: PredictOptions = {},
  limits: RequestLimits = {},
): PredictAnswer | OpenSetAnswer {
  return predictor.predict(parseRequest(value, limits), options);
}

/** Answers every request of a batch; a bad one gets an error object in its place and the rest are answered. */
export function answerBatch(
  predictor: Predictor,
  values: readonly unknown[],
  options: PredictOptions = {},
  limits: RequestLimits = {},
): Array<PredictAnswer | OpenSetAnswer | ErrorAnswer> {
  const out = new Array<PredictAnswer | OpenSetAnswer | ErrorAnswer>(values.length);
  for (let i = 0; i < values.length; i++) {
    try {
      out[i] = answerRequest(predictor, values[i], options, limits);
    } catch (e) {
      out[i] = errorAnswer(e, { index: i });
    }
  }
  return out;
}

/** True for the error objects of a batch. */
export function isErrorAnswer(a: unknown): a is ErrorAnswer {
  return typeof a === "object" && a !== null && "error" in a;
}

/** What verification needs of the identity store (src/identity's IdentityService, or a test's stand-in). */
export interface Verifier {
  /** Keys per sample the templates were enrolled with, when one number holds for all (checked here to name the field). */
  readonly keys?: number;
  verify(
    user: Label,
    vector: number[],
    options?: { explain?: { keys?: readonly string[] } },
  ): VerificationResult | Promise<VerificationResult>;
}

/** Validates a verification request (`UserID` is the claim unless `claim` is given) and answers it. */
export async function answerVerify(
  verifier: Verifier,
  value: unknown,
  claim?: Label,
  limits: RequestLimits = {},
  options: { explain?: boolean } = {},
): Promise<VerificationAnswer> {
  const req = parseVerifyRequest(value, claim, limits);
  return verifyRequest(verifier, options.explain ? { ...req, explain: true } : req);
}

/** A verification answer: the detector's result, the feature set that answered (always the per-key timings), and warnings. */
export type VerificationAnswer = VerificationResult & { features: "timings"; warnings?: string[] };

/** Verifies one validated request: raw timings only, since templates are per-key. */
export async function verifyRequest(verifier: Verifier, req: VerifyRequest): Promise<VerificationAnswer> {
  if (req.kind !== "timings") {
    throw new KeystrokeError(
      "BAD_REQUEST",
      "verification needs raw timings (press/release or keystrokes); the HT/PPT/RRT/RPT summary cannot be checked against a per-key template",
      {
        field: "press",
      },
    );
  }
  if (verifier.keys !== undefined && req.press.length !== verifier.keys) {
    throw new KeystrokeError(
      "SAMPLE_MISMATCH",
      `has ${req.press.length} keys; the verification templates were enrolled with ${verifier.keys}`,
      { field: req.keys ? "keystrokes" : "press" },
    );
  }
  const warning = unitWarning(req);
  const result = await verifier.verify(
    req.claim,
    finiteFeatures(extractTimings(req)),
    req.explain ? { explain: req.keys ? { keys: req.keys } : {} } : undefined,
  );
  // Object.assign, not `{ ...result, … }`: a literal led by a spread promoted what it referenced out of
  // V8's young generation (Node 20, --trace-gc-nvp), as in parseVerifyRequest
  const answer: VerificationAnswer = Object.assign({}, result, { features: "timings" as const });
  if (warning !== undefined) answer.warnings = [warning];
  return answer;
}
