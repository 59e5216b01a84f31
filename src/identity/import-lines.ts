import { KeystrokeError, type ErrorCode, type ErrorPlace } from "../errors.js";
import type { SerializedTemplate } from "../store/index.js";
import type { Template } from "../verify/types.js";
import { sampleHash, userKey } from "./service.js";

// The per-line work of an import (users import), apart from the store: parse a line of an export, check
// every value of a user line, and put the user in the form the store writes (its template and samples as
// JSON text, its samples' replay hashes). Pure functions of one line, so a worker thread (import-worker.ts)
// can run them beside the thread that writes (transfer.ts); errors are data, thrown by the caller in order.

/** A user line, checked and ready to store. */
export interface PreparedUser {
  id: string;
  template: SerializedTemplate;
  /** Each enrolment sample as JSON text. */
  samples: string[];
  sampleHashes: string[];
  /** The export's population id (the store's is given at import), or null. */
  population: number | null;
  /** As the export gives them (NaN when absent: the import's time is used). */
  enrolledAt: number;
  updatedAt: number;
}

/** One line of an export, prepared. */
export type PreparedLine =
  | { t: "blank" }
  /** Any other JSON line (the header, a population, an unknown kind), parsed: checked in order by the caller. */
  | { t: "value"; value: unknown }
  | { t: "user"; user: PreparedUser }
  /** What to throw (`json`: false when the line is not JSON at all). */
  | { t: "error"; code: ErrorCode; detail: string; place: ErrorPlace; json: boolean };

/** Prepares line `n` of `file` (see PreparedLine): JSON.parse, then for a user line every check and the texts to store. */
export function prepareLine(raw: string, n: number, file: string): PreparedLine {
  if (raw.trim() === "") return { t: "blank" };
  let line: unknown;
  try {
    line = JSON.parse(raw);
  } catch (e) {
    return {
      t: "error",
      code: "BAD_ROW",
      detail: `not JSON (${(e as Error).message})`,
      place: { file, line: n },
      json: false,
    };
  }
  if ((line as { kind?: unknown } | null)?.kind !== "user") return { t: "value", value: line };
  try {
    return { t: "user", user: prepareUser(raw, line as UserLine, n, file) };
  } catch (e) {
    if (!(e instanceof KeystrokeError)) throw e;
    return { t: "error", code: e.code, detail: e.detail, place: e.place, json: true };
  }
}

interface UserLine {
  id: unknown;
  template: unknown;
  samples: unknown;
  population: unknown;
  enrolled_at: unknown;
  updated_at: unknown;
}

function prepareUser(raw: string, u: UserLine, n: number, file: string): PreparedUser {
  const t = u.template;
  if (
    typeof u.id !== "string" ||
    !isTemplate(t) ||
    !Array.isArray(u.samples) ||
    !u.samples.every(
      (v) => Array.isArray(v) && v.length === t.nFeatures && v.every((x) => Number.isFinite(x)),
    )
  ) {
    throw new KeystrokeError(
      "BAD_ROW",
      "user line needs id, template (detector, n, nFeatures, threshold) and samples (each of the template's nFeatures timings)",
      { file, line: n },
    );
  }
  const samples = u.samples as number[][];
  const id = userKey(u.id, { field: `line ${n}: id` });
  if (u.population !== null && typeof u.population !== "number")
    throw new KeystrokeError("BAD_ROW", "population must be a population id or null", { file, line: n });
  const texts = storedTexts(raw, t, samples);
  if (texts === null || MAY_OVERFLOW.test(texts.template)) {
    const bad = nonFinite(t, "template");
    if (bad !== null) throw new KeystrokeError("BAD_ROW", `${bad} is not a finite number`, { file, line: n });
  }
  let json: string;
  if (texts) json = texts.template;
  else {
    const { samples: _omitted, ...rest } = t;
    json = JSON.stringify(rest);
  }
  return {
    id,
    template: { detector: t.detector, threshold: t.threshold, n: t.n, nFeatures: t.nFeatures, json },
    samples: texts ? texts.samples : samples.map((v) => JSON.stringify(v)),
    sampleHashes: samples.map(sampleHash),
    population: u.population,
    enrolledAt: Number(u.enrolled_at),
    updatedAt: Number(u.updated_at),
  };
}

/** The fields a stored template needs, of the right types (finite numbers, whole counts). */
function isTemplate(t: unknown): t is Template {
  if (typeof t !== "object" || t === null || Array.isArray(t)) return false;
  const x = t as Partial<Template>;
  return (
    typeof x.detector === "string" &&
    Number.isInteger(x.n) &&
    x.n! >= 0 &&
    Number.isInteger(x.nFeatures) &&
    x.nFeatures! > 0 &&
    Number.isFinite(x.threshold)
  );
}

/** The path of the first number in `x` that is not finite (JSON's 1e999 parses to Infinity), or null. */
function nonFinite(x: unknown, path: string): string | null {
  if (typeof x === "number") return Number.isFinite(x) ? null : path;
  if (Array.isArray(x)) {
    for (let i = 0; i < x.length; i++) {
      const bad = nonFinite(x[i], `${path}[${i}]`);
      if (bad !== null) return bad;
    }
  } else if (typeof x === "object" && x !== null) {
    for (const [k, v] of Object.entries(x)) {
      const bad = nonFinite(v, `${path}.${k}`);
      if (bad !== null) return bad;
    }
  }
  return null;
}

// In compact JSON a number can only exceed 1.8e308 (and parse to Infinity) with an exponent of three digits
// or a run of hundreds of digits: text without either needs no walk through its numbers.
const MAY_OVERFLOW = /[eE][+-]?\d{3}|[,:[]-?\d{200}/;

/**
 * The texts to store for a user line that JSON.parse has read and the caller has checked: its template and
 * its samples, cut out of the line itself when the line is compact JSON as an export writes it (serialising
 * them again gives the same text, and took a quarter of an import's time). Null for any other line (spaces
 * between tokens, escaped keys, a template carrying its own `samples`): the store serialises those.
 */
function storedTexts(
  raw: string,
  template: Template,
  samples: number[][],
): { template: string; samples: string[] } | null {
  if (Object.hasOwn(template, "samples")) return null;
  const spans = compactSpans(raw, ["template", "samples"]);
  const t = spans?.get("template");
  const s = spans?.get("samples");
  if (!t || !s) return null;
  // samples were checked to be arrays of numbers: in compact text their elements are split by "],["
  const inner = raw.slice(s[0] + 1, s[1] - 1);
  const texts = inner === "" ? [] : inner.split("],[");
  if (texts.length !== samples.length) return null;
  const last = texts.length - 1;
  for (let i = 0; i <= last; i++) texts[i] = `${i === 0 ? "" : "["}${texts[i]}${i === last ? "" : "]"}`;
  return { template: raw.slice(t[0], t[1]), samples: texts };
}

// everything but strings' quotes, brackets and whitespace: numbers, literals, commas and colons
const PLAIN = /[^"{}[\]\s]*/y;
// where a number or literal ends
const SCALAR_END = /[,}\]\s]|$/g;

/** The index after the string that starts (with its quote) at `i`. */
function endOfString(text: string, i: number): number {
  for (let j = i + 1; ;) {
    const q = text.indexOf('"', j);
    if (q < 0) return -1;
    let b = q - 1;
    while (text.charCodeAt(b) === 92) b--;
    // an even number of backslashes before the quote: it ends the string
    if ((q - 1 - b) % 2 === 0) return q + 1;
    j = q + 1;
  }
}

/** The index after the value that starts at `i` in valid JSON text; -1 on whitespace between its tokens. */
function endOfValue(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === 34) return endOfString(text, i);
  if (c !== 123 && c !== 91) {
    SCALAR_END.lastIndex = i;
    const m = SCALAR_END.exec(text)!;
    return /\s/.test(m[0]) ? -1 : m.index;
  }
  let depth = 0;
  let j = i;
  while (j < text.length) {
    const ch = text.charCodeAt(j);
    if (ch === 34) {
      j = endOfString(text, j);
      if (j < 0) return -1;
    } else if (ch === 123 || ch === 91) {
      depth++;
      j++;
    } else if (ch === 125 || ch === 93) {
      if (--depth === 0) return j + 1;
      j++;
    } else return -1; // whitespace: PLAIN stops only at brackets, quotes and whitespace
    PLAIN.lastIndex = j;
    PLAIN.test(text);
    j = PLAIN.lastIndex;
  }
  return -1;
}

/**
 * Where the values of `keys` start and end in the text of a JSON object that JSON.parse has read, when it is
 * compact (no whitespace between tokens, no escaped keys); the last of a repeated key, as JSON.parse takes.
 * Null for any other text.
 */
export function compactSpans(text: string, keys: readonly string[]): Map<string, [number, number]> | null {
  const spans = new Map<string, [number, number]>();
  if (text.charCodeAt(0) !== 123) return null;
  if (text === "{}") return spans;
  for (let i = 1; ;) {
    if (text.charCodeAt(i) !== 34) return null;
    const keyEnd = endOfString(text, i);
    if (keyEnd < 0 || text.charCodeAt(keyEnd) !== 58) return null;
    const key = text.slice(i + 1, keyEnd - 1);
    if (key.includes("\\")) return null;
    const valueEnd = endOfValue(text, keyEnd + 1);
    if (valueEnd < 0) return null;
    if (keys.includes(key)) spans.set(key, [keyEnd + 1, valueEnd]);
    const next = text.charCodeAt(valueEnd);
    if (next === 125) return valueEnd + 1 === text.length ? spans : null;
    if (next !== 44) return null;
    i = valueEnd + 1;
  }
}
