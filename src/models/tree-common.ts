// Helpers shared by the tree models (our forest and the XGBoost reader): label encoding, input checks,
// argmax, compact number text and structure checks of a loaded model file.
import type { Label } from "../data/types.js";
import { KeystrokeError } from "../errors.js";
import type { Algorithm, SerializedModel } from "./types.js";

/** Labels as class indices: classes sorted numbers ascending, then strings, so the order never depends on the data order. */
export function encodeLabels(y: readonly Label[]): { classes: Label[]; codes: Int32Array } {
  const seen = new Map<Label, number>();
  for (const v of y) seen.set(v, 0);
  const classes = [...seen.keys()].sort(compareLabels);
  classes.forEach((c, i) => seen.set(c, i));
  const codes = new Int32Array(y.length);
  for (let i = 0; i < y.length; i++) codes[i] = seen.get(y[i]!)!;
  return { classes, codes };
}

/** Orders labels: numbers ascending first, then strings by code unit. */
export function compareLabels(a: Label, b: Label): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "number") return -1;
  if (typeof b === "number") return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Checks a training matrix once at the border: rows × equal-length finite numbers, one label per row. */
export function checkTrainingData(X: readonly (readonly number[])[], y: readonly Label[], algorithm: Algorithm): number {
  if (X.length === 0) throw new KeystrokeError("TOO_FEW_SAMPLES", `${algorithm}: no training rows`);
  if (X.length !== y.length) throw new KeystrokeError("BAD_ROW", `${algorithm}: ${X.length} rows but ${y.length} labels`);
  const d = X[0]!.length;
  if (d === 0) throw new KeystrokeError("BAD_ROW", `${algorithm}: rows have no features`);
  for (let i = 0; i < X.length; i++) {
    const row = X[i]!;
    if (row.length !== d) throw new KeystrokeError("BAD_ROW", `${algorithm}: row ${i} has ${row.length} features, expected ${d}`);
    for (let j = 0; j < d; j++) {
      if (!Number.isFinite(row[j])) throw new KeystrokeError("BAD_ROW", `${algorithm}: row ${i}, feature ${j} is not a finite number`);
    }
    const label = y[i];
    if (!(typeof label === "string" || (typeof label === "number" && Number.isFinite(label)))) {
      throw new KeystrokeError("BAD_ROW", `${algorithm}: label of row ${i} is neither a string nor a finite number`);
    }
  }
  return d;
}

/** Refuses a prediction row of the wrong width (a model trained on another feature set). */
export function checkRow(row: ArrayLike<number>, nFeatures: number, algorithm: Algorithm): void {
  if (row.length !== nFeatures) {
    throw new KeystrokeError("BAD_REQUEST", `${algorithm} model expects ${nFeatures} features, got ${row.length}`);
  }
}

/** Index of the largest entry; ties go to the lowest index. */
export function argmax(p: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < p.length; i++) if (p[i]! > p[best]!) best = i;
  return best;
}

/** The value rounded to `digits` significant digits, so files stay small and reload to the same number. */
export function roundSig(v: number, digits = 6): number {
  return v === 0 || !Number.isFinite(v) ? v : Number(v.toPrecision(digits));
}

/** The shortest decimal that reads back (through Math.fround) as the same float32. */
export function shortFloat32(v: number): number {
  const f = Math.fround(v);
  for (let p = 1; p <= 9; p++) {
    const s = Number(f.toPrecision(p));
    if (Math.fround(s) === f) return s;
  }
  return f;
}

/** The shortest decimal t with lo ≤ t < hi (a threshold that splits the same samples as any in the gap). */
export function shortIn(lo: number, hi: number, near: number): number {
  for (let p = 1; p <= 17; p++) {
    const s = Number(near.toPrecision(p));
    if (s >= lo && s < hi) return s;
  }
  return near;
}

/**
 * A float32 threshold t with lo ≤ t < hi, the shortest decimal near `near` when one reads back inside
 * the gap. `lo` must itself be a float32 (training values are), so the fallback always splits the same way.
 */
export function float32In(lo: number, hi: number, near: number): number {
  const t = Math.fround(shortIn(lo, hi, near));
  return t >= lo && t < hi ? t : lo;
}

/** Fails a model-file check with BAD_MODEL_FILE naming the JSON field. */
export function badModel(field: string, message: string): never {
  throw new KeystrokeError("BAD_MODEL_FILE", message, { field });
}

/** Checks the envelope of a serialised model (algorithm, classes) and returns its state object. */
export function checkEnvelope(model: SerializedModel, algorithm: Algorithm): Record<string, unknown> {
  if (model === null || typeof model !== "object") badModel("model", "model is not an object");
  if (model.algorithm !== algorithm) badModel("algorithm", `expected "${algorithm}", got ${JSON.stringify(model.algorithm)}`);
  const classes = model.classes as unknown;
  if (!Array.isArray(classes) || classes.length === 0) badModel("classes", "must be a non-empty array");
  const seen = new Set<Label>();
  for (const c of classes) {
    if (!(typeof c === "string" || (typeof c === "number" && Number.isFinite(c)))) badModel("classes", "entries must be strings or numbers");
    if (seen.has(c)) badModel("classes", `duplicate class ${JSON.stringify(c)}`);
    seen.add(c);
  }
  if (model.params === null || typeof model.params !== "object" || Array.isArray(model.params)) badModel("params", "must be an object");
  const state = model.state as unknown;
  if (state === null || typeof state !== "object" || Array.isArray(state)) badModel("state", "must be an object");
  return state as Record<string, unknown>;
}

/** A positive integer field of a model file. */
export function intField(obj: Record<string, unknown>, key: string, field: string, min = 1): number {
  const v = obj[key];
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) badModel(field, `must be an integer ≥ ${min}`);
  return v;
}

/** An array of finite numbers of a model file, optionally all integers in [min, max]. */
export function numArray(obj: Record<string, unknown>, key: string, field: string, int?: { min: number; max: number }): number[] {
  const v = obj[key];
  if (!Array.isArray(v)) badModel(field, "must be an array of numbers");
  for (let i = 0; i < v.length; i++) {
    const x = v[i] as unknown;
    if (typeof x !== "number" || !Number.isFinite(x)) badModel(`${field}[${i}]`, "must be a finite number");
    if (int && (!Number.isInteger(x) || x < int.min || x > int.max)) badModel(`${field}[${i}]`, `must be an integer in [${int.min}, ${int.max}]`);
  }
  return v as number[];
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The typed arrays a model file stores as base64. */
export type TypedArray = Uint16Array | Uint32Array | Int32Array | Float32Array;
/** Constructor of one of them. */
export type TypedCtor<T extends TypedArray> = { new (length: number): T; new (buffer: ArrayBuffer): T; BYTES_PER_ELEMENT: number };

/** A typed array as base64 of its little-endian bytes: compact in JSON and fast to read back. */
export function encodeTyped(a: TypedArray): string {
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const le = LITTLE_ENDIAN ? bytes : swapBytes(Uint8Array.from(bytes), a.BYTES_PER_ELEMENT);
  return Buffer.from(le.buffer, le.byteOffset, le.byteLength).toString("base64");
}

/** Reads a base64 field written by encodeTyped, refusing a non-string or a wrong length with BAD_MODEL_FILE. */
export function decodeTyped<T extends TypedArray>(obj: Record<string, unknown>, key: string, field: string, Ctor: TypedCtor<T>, length: number): T {
  const s = obj[key];
  const bytes = length * Ctor.BYTES_PER_ELEMENT;
  // base64 of b bytes is exactly 4·⌈b/3⌉ characters; Buffer.from skips bad characters, so the length check also catches those
  if (typeof s !== "string" || s.length !== 4 * Math.ceil(bytes / 3)) badModel(field, `must be base64 of ${length} × ${Ctor.BYTES_PER_ELEMENT}-byte values`);
  const buf = Buffer.from(s, "base64");
  if (buf.length !== bytes) badModel(field, `must be base64 of ${length} × ${Ctor.BYTES_PER_ELEMENT}-byte values`);
  const out = new Ctor(length);
  const view = new Uint8Array(out.buffer);
  view.set(buf);
  if (!LITTLE_ENDIAN) swapBytes(view, Ctor.BYTES_PER_ELEMENT);
  return out;
}

function swapBytes(bytes: Uint8Array, width: number): Uint8Array {
  for (let i = 0; i < bytes.length; i += width) bytes.subarray(i, i + width).reverse();
  return bytes;
}

/** Lets a long synchronous fit give the event loop (an ink view, a server) a turn now and then. */
export function makeYielder(everyMs = 50): () => Promise<void> | undefined {
  let last = Date.now();
  return () => {
    const now = Date.now();
    if (now - last < everyMs) return undefined;
    last = now;
    return new Promise((resolve) => setImmediate(resolve));
  };
}
