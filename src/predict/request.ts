import type { Label } from "../data/types.js";
import { MAX_TIME } from "../data/validate.js";
import { KeystrokeError } from "../errors.js";
import { TIMING_KINDS } from "../features/index.js";
import { ALGORITHMS, type Algorithm } from "../models/types.js";

/** The original contract: the 8 summary numbers (HT, PPT, RRT, RPT × Mean, STD), in that order. */
export interface SummaryRequest {
  kind: "summary";
  model?: Algorithm;
  summary: number[];
  /** `"reject_unknown": true` in the body: open-set identification (see PredictOptions.rejectUnknown). */
  rejectUnknown?: boolean;
}

/** Raw timings of one typed sample: press and release times per key, in typing order. */
export interface TimingsRequest {
  kind: "timings";
  model?: Algorithm;
  press: number[];
  release: number[];
  keys?: string[];
  /** `"allow_summary": true` in the body: the summary model may answer when the timings model cannot take the sample. */
  allowSummary?: boolean;
  /** `"reject_unknown": true` in the body: open-set identification (see PredictOptions.rejectUnknown). */
  rejectUnknown?: boolean;
}

/** One validated request; everything below the border trusts it. */
export type PredictRequest = SummaryRequest | TimingsRequest;

/** A verification request: a sample plus the user it claims to be. */
export type VerifyRequest = PredictRequest & { claim: Label; explain?: boolean };

/** More keys than any typing sample has; the default bound on the work one request can ask for. */
export const MAX_KEYS = 4096;

// the same bound as CSV samples: beyond it a time is no real timing, and features would overflow
export { MAX_TIME } from "../data/validate.js";

/** Longer than any user id; a claim is echoed in messages, so its length is bounded. */
export const MAX_CLAIM_LENGTH = 256;

/** Limits a caller (the server's flags, the CLI) puts on one request; defaults merged in parseRequest. */
export interface RequestLimits {
  /** Most keys in one sample (default MAX_KEYS). */
  maxKeys?: number;
}

/** Parses an algorithm name in any case (`rf`, `Svm`); throws BAD_REQUEST naming `place` otherwise. */
export function parseAlgorithm(
  value: unknown,
  place: { field?: string; flag?: string } = { field: "Model" },
): Algorithm {
  if (typeof value === "string") {
    const upper = value.toUpperCase();
    if ((ALGORITHMS as readonly string[]).includes(upper)) return upper as Algorithm;
  }
  const code = place.flag ? "BAD_FLAG" : "BAD_REQUEST";
  throw new KeystrokeError(
    code,
    `unknown model ${describe(value)} (models: ${ALGORITHMS.join(", ")})`,
    place,
  );
}

/**
 * Checks one decoded JSON value and returns a typed request: the original contract (`Model`, `HT`…`RPT`
 * with `Mean`/`STD`) or raw timings (`press`/`release` arrays, or `keystrokes` objects). Raw timings win
 * when both are present, since the summary can be derived from them but not the other way round.
 * Every error is a KeystrokeError whose place names the offending field (`HT.STD`, `press[3]`).
 */
export function parseRequest(value: unknown, limits: RequestLimits = {}): PredictRequest {
  const maxKeys = limits.maxKeys ?? MAX_KEYS;
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new KeystrokeError("BAD_REQUEST", `a request must be a JSON object, got ${kindOf(value)}`);
  }
  const body = value as Record<string, unknown>;
  const model = body.Model === undefined ? undefined : parseAlgorithm(body.Model);
  if (body.allow_summary !== undefined && typeof body.allow_summary !== "boolean") {
    throw new KeystrokeError("BAD_REQUEST", `must be true or false, got ${kindOf(body.allow_summary)}`, {
      field: "allow_summary",
    });
  }
  if (body.reject_unknown !== undefined && typeof body.reject_unknown !== "boolean") {
    throw new KeystrokeError("BAD_REQUEST", `must be true or false, got ${kindOf(body.reject_unknown)}`, {
      field: "reject_unknown",
    });
  }
  const reject = body.reject_unknown === true ? { rejectUnknown: true } : {};
  const extra = {
    ...(model ? { model } : {}),
    ...(body.allow_summary === true ? { allowSummary: true } : {}),
    ...reject,
  };
  if (body.press !== undefined || body.release !== undefined)
    return { kind: "timings", ...parseArrays(body, maxKeys), ...extra };
  if (body.keystrokes !== undefined)
    return { kind: "timings", ...parseKeystrokes(body.keystrokes, maxKeys), ...extra };
  if (TIMING_KINDS.some((k) => body[k] !== undefined))
    return { kind: "summary", summary: parseSummary(body), ...(model ? { model } : {}), ...reject };
  throw new KeystrokeError(
    "BAD_REQUEST",
    "no timings: expected HT, PPT, RRT, RPT (each with Mean and STD), press and release, or keystrokes",
    {
      field: "HT",
    },
  );
}

/** Parses a verification request: any request form plus `UserID`, the claimed user. */
export function parseVerifyRequest(value: unknown, claim?: Label, limits: RequestLimits = {}): VerifyRequest {
  const req = parseRequest(value, limits);
  const body = value as Record<string, unknown>;
  const claimed = claim ?? parseClaim(body.UserID, { field: "UserID" });
  if (body.explain !== undefined && typeof body.explain !== "boolean")
    throw new KeystrokeError("BAD_REQUEST", `must be true or false, got ${kindOf(body.explain)}`, {
      field: "explain",
    });
  // fields added in place, not `{ ...req, claim }`: under --trace-gc-nvp (Node 20) a loop of this function
  // promoted the parsed arrays out of the young generation when the answer was a literal led by a spread
  const out: VerifyRequest = Object.assign(req, { claim: claimed });
  if (body.explain === true) out.explain = true;
  return out;
}

/** A claimed user id: a number or a non-empty string; a string holding a plain number becomes that number. */
export function parseClaim(value: unknown, place: { field?: string; flag?: string }): Label {
  const code = place.flag ? "BAD_FLAG" : "BAD_REQUEST";
  if (value === undefined) throw new KeystrokeError(code, "missing: the user the sample claims to be", place);
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string" && value.trim() !== "") {
    if (value.length > MAX_CLAIM_LENGTH)
      throw new KeystrokeError(
        code,
        `is ${value.length} characters long; a user id has at most ${MAX_CLAIM_LENGTH}`,
        place,
      );
    const n = Number(value);
    return Number.isFinite(n) && String(n) === value ? n : value;
  }
  throw new KeystrokeError(code, `must be a user id (number or string), got ${kindOf(value)}`, place);
}

function parseSummary(body: Record<string, unknown>): number[] {
  const out = new Array<number>(8);
  let i = 0;
  for (const kind of TIMING_KINDS) {
    const part = body[kind];
    if (part === undefined)
      throw new KeystrokeError("BAD_REQUEST", "missing (expected an object with Mean and STD)", {
        field: kind,
      });
    if (part === null || typeof part !== "object" || Array.isArray(part)) {
      throw new KeystrokeError("BAD_REQUEST", `must be an object with Mean and STD, got ${kindOf(part)}`, {
        field: kind,
      });
    }
    const mean = number((part as Record<string, unknown>).Mean, `${kind}.Mean`);
    const std = number((part as Record<string, unknown>).STD, `${kind}.STD`);
    // RPT (and RRT) are legitimately negative when keys overlap; a hold time or a spread never is.
    if (kind === "HT" && mean < 0)
      throw new KeystrokeError("BAD_REQUEST", "a hold time cannot be negative", { field: "HT.Mean" });
    if (std < 0)
      throw new KeystrokeError("BAD_REQUEST", "a standard deviation cannot be negative", {
        field: `${kind}.STD`,
      });
    out[i++] = mean;
    out[i++] = std;
  }
  return out;
}

function parseArrays(body: Record<string, unknown>, maxKeys: number): { press: number[]; release: number[] } {
  const press = timeArray(body.press, "press", maxKeys);
  const release = timeArray(body.release, "release", maxKeys);
  if (press.length !== release.length) {
    throw new KeystrokeError("BAD_REQUEST", `has ${release.length} times but press has ${press.length}`, {
      field: "release",
    });
  }
  checkOrder(press, release, (i, which) => `${which}[${i}]`);
  return { press, release };
}

function parseKeystrokes(
  value: unknown,
  maxKeys: number,
): { press: number[]; release: number[]; keys?: string[] } {
  if (!Array.isArray(value))
    throw new KeystrokeError(
      "BAD_REQUEST",
      `must be an array of {key, press, release}, got ${kindOf(value)}`,
      { field: "keystrokes" },
    );
  checkLength(value.length, "keystrokes", maxKeys);
  const n = value.length;
  const press = new Array<number>(n);
  const release = new Array<number>(n);
  const keys = new Array<string>(n);
  let named = true;
  for (let i = 0; i < n; i++) {
    const k = value[i] as unknown;
    if (k === null || typeof k !== "object" || Array.isArray(k)) {
      throw new KeystrokeError("BAD_REQUEST", `must be an object {key, press, release}, got ${kindOf(k)}`, {
        field: `keystrokes[${i}]`,
      });
    }
    const o = k as Record<string, unknown>;
    press[i] = time(o.press, `keystrokes[${i}].press`);
    release[i] = time(o.release, `keystrokes[${i}].release`);
    if (o.key === undefined) named = false;
    else if (typeof o.key !== "string")
      throw new KeystrokeError("BAD_REQUEST", `must be a string, got ${kindOf(o.key)}`, {
        field: `keystrokes[${i}].key`,
      });
    else keys[i] = o.key;
  }
  checkOrder(press, release, (i, which) => `keystrokes[${i}].${which}`);
  return named ? { press, release, keys } : { press, release };
}

function timeArray(value: unknown, field: string, maxKeys: number): number[] {
  if (value === undefined)
    throw new KeystrokeError("BAD_REQUEST", "missing (press and release go together)", { field });
  if (!Array.isArray(value))
    throw new KeystrokeError("BAD_REQUEST", `must be an array of times in ms, got ${kindOf(value)}`, {
      field,
    });
  checkLength(value.length, field, maxKeys);
  const out = new Array<number>(value.length);
  for (let i = 0; i < value.length; i++) out[i] = time(value[i], `${field}[${i}]`);
  return out;
}

function checkLength(n: number, field: string, maxKeys: number): void {
  // Fewer than two keys has no press–press interval, so neither feature set can be computed.
  if (n < 2) throw new KeystrokeError("BAD_REQUEST", `needs at least 2 keys, got ${n}`, { field });
  if (n > maxKeys)
    throw new KeystrokeError("BAD_REQUEST", `has ${n} keys; at most ${maxKeys} are accepted`, { field });
}

function checkOrder(
  press: number[],
  release: number[],
  field: (i: number, which: "press" | "release") => string,
): void {
  for (let i = 0; i < press.length; i++) {
    if (release[i]! < press[i]!)
      throw new KeystrokeError("BAD_REQUEST", "a key cannot be released before it is pressed", {
        field: field(i, "release"),
      });
    if (i > 0 && press[i]! < press[i - 1]!) {
      throw new KeystrokeError(
        "BAD_REQUEST",
        "presses must be in typing order (this one is earlier than the one before)",
        { field: field(i, "press") },
      );
    }
  }
}

function time(value: unknown, field: string): number {
  const v = number(value, field);
  if (v < 0) throw new KeystrokeError("BAD_REQUEST", "a time cannot be negative", { field });
  return v;
}

function number(value: unknown, field: string): number {
  if (value === undefined) throw new KeystrokeError("BAD_REQUEST", "missing (expected a number)", { field });
  if (typeof value !== "number")
    throw new KeystrokeError("BAD_REQUEST", `must be a number, got ${kindOf(value)}`, { field });
  // JSON has no NaN or Infinity, but 1e999 parses to Infinity.
  if (!Number.isFinite(value)) throw new KeystrokeError("BAD_REQUEST", "must be a finite number", { field });
  if (Math.abs(value) > MAX_TIME)
    throw new KeystrokeError("BAD_REQUEST", `is too large for a time in ms (at most ${MAX_TIME})`, { field });
  return value;
}

/** The kind of a JSON value, for messages that must not echo the user's data back. */
function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  if (typeof value === "string") return "a string";
  if (typeof value === "undefined") return "nothing";
  return `a ${typeof value}`;
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 20 ? value.slice(0, 20) + "…" : value);
  return kindOf(value);
}
