// Helpers of the tree models (our forest and the XGBoost reader): compact number text, typed arrays as
// base64 and structure checks of a loaded model file; the checks all three models share are in common.ts.
import { badModel } from "./common.js";

export {
  argmax,
  badModel,
  checkEnvelope,
  checkRow,
  checkTrainingData,
  compareLabels,
  encodeLabels,
  requireTwoClasses,
} from "./common.js";

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

/** A positive integer field of a model file. */
export function intField(obj: Record<string, unknown>, key: string, field: string, min = 1): number {
  const v = obj[key];
  if (typeof v !== "number" || !Number.isInteger(v) || v < min)
    badModel(field, `must be an integer ≥ ${min}`);
  return v;
}

/** An array of finite numbers of a model file, optionally all integers in [min, max]. */
export function numArray(
  obj: Record<string, unknown>,
  key: string,
  field: string,
  int?: { min: number; max: number },
): number[] {
  const v = obj[key];
  if (!Array.isArray(v)) badModel(field, "must be an array of numbers");
  for (let i = 0; i < v.length; i++) {
    const x = v[i] as unknown;
    if (typeof x !== "number" || !Number.isFinite(x)) badModel(`${field}[${i}]`, "must be a finite number");
    if (int && (!Number.isInteger(x) || x < int.min || x > int.max))
      badModel(`${field}[${i}]`, `must be an integer in [${int.min}, ${int.max}]`);
  }
  return v as number[];
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The typed arrays a model file stores as base64. */
export type TypedArray = Uint16Array | Uint32Array | Int32Array | Float32Array;
/** Constructor of one of them. */
export type TypedCtor<T extends TypedArray> = {
  new (length: number): T;
  new (buffer: ArrayBuffer): T;
  BYTES_PER_ELEMENT: number;
};

/** A typed array as base64 of its little-endian bytes: compact in JSON and fast to read back. */
export function encodeTyped(a: TypedArray): string {
  const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const le = LITTLE_ENDIAN ? bytes : swapBytes(Uint8Array.from(bytes), a.BYTES_PER_ELEMENT);
  return Buffer.from(le.buffer, le.byteOffset, le.byteLength).toString("base64");
}

/** Reads a base64 field written by encodeTyped, refusing a non-string or a wrong length with BAD_MODEL_FILE. */
export function decodeTyped<T extends TypedArray>(
  obj: Record<string, unknown>,
  key: string,
  field: string,
  Ctor: TypedCtor<T>,
  length: number,
): T {
  const s = obj[key];
  const bytes = length * Ctor.BYTES_PER_ELEMENT;
  // base64 of b bytes is exactly 4·⌈b/3⌉ characters; Buffer.from skips bad characters, so the length check also catches those
  if (typeof s !== "string" || s.length !== 4 * Math.ceil(bytes / 3))
    badModel(field, `must be base64 of ${length} × ${Ctor.BYTES_PER_ELEMENT}-byte values`);
  const buf = Buffer.from(s, "base64");
  if (buf.length !== bytes)
    badModel(field, `must be base64 of ${length} × ${Ctor.BYTES_PER_ELEMENT}-byte values`);
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

/** Typed arrays a GrowingArray can hold. */
type GrowableTyped = Int32Array | Uint32Array | Float32Array;

/** An append-only typed array that doubles its capacity when full (a model's nodes as they are grown). */
export class GrowingArray<T extends GrowableTyped> {
  private data: T;
  length = 0;

  constructor(
    private readonly Ctor: { new (length: number): T },
    capacity = 1024,
  ) {
    this.data = new Ctor(capacity);
  }

  push(v: number): void {
    if (this.length === this.data.length) {
      const bigger = new this.Ctor(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = v;
  }

  /** The values pushed so far, in an array of exactly that length (a copy: the builder's spare capacity is dropped). */
  take(): T {
    return this.data.slice(0, this.length) as T;
  }
}
