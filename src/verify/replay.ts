import type { Label } from "../data/types.js";
import type { RecentSamples } from "./types.js";

/**
 * Below this coefficient of variation the hold times or the press–press intervals of a sample count as
 * near-constant (scripted). The least varied of the 750 real samples we have has 0.10 on both.
 */
export const SCRIPTED_MAX_CV = 0.04;

/** True when all timings of `a` equal those of `b` within `tolerance` (ms). */
export function sameTimings(a: ArrayLike<number>, b: ArrayLike<number>, tolerance = 0): boolean {
  if (a.length !== b.length) return false;
  for (let j = 0; j < a.length; j++) if (Math.abs(a[j]! - b[j]!) > tolerance) return false;
  return true;
}

/**
 * True when a timings vector (HT of k keys, then PPT, RRT, RPT of k − 1 pairs) has near-constant hold
 * times or near-constant press–press intervals, as a script typing with a fixed delay produces.
 */
export function isScripted(vector: ArrayLike<number>): boolean {
  const k = (vector.length + 3) / 4;
  if (!Number.isInteger(k) || k < 3) return false;
  return lowVariation(vector, 0, k) || lowVariation(vector, k, k - 1);
}

function lowVariation(v: ArrayLike<number>, start: number, n: number): boolean {
  let sum = 0;
  for (let i = start; i < start + n; i++) sum += v[i]!;
  const mean = sum / n;
  let ss = 0;
  for (let i = start; i < start + n; i++) ss += (v[i]! - mean) ** 2;
  const sd = Math.sqrt(ss / n);
  // with a mean near zero the ratio is meaningless; an all-zero series is scripted all the same
  return Math.abs(mean) < 1e-9 ? sd < 1e-9 : sd / Math.abs(mean) < SCRIPTED_MAX_CV;
}

/** Recently verified samples, the last `perUser` per user, matched exactly (hash buckets, then compared). */
export class RecentSampleCache implements RecentSamples {
  private readonly byUser = new Map<
    string,
    { order: Float64Array[]; buckets: Map<number, Float64Array[]> }
  >();

  constructor(private readonly perUser = 100) {}

  /** True when this user recently submitted exactly these timings. */
  has(user: Label, vector: readonly number[]): boolean {
    const bucket = this.byUser.get(String(user))?.buckets.get(vectorHash(vector));
    return bucket !== undefined && bucket.some((v) => sameTimings(v, vector));
  }

  /** Remembers a submitted sample, forgetting the user's oldest beyond the cap. */
  add(user: Label, vector: readonly number[]): void {
    const id = String(user);
    let entry = this.byUser.get(id);
    if (!entry) this.byUser.set(id, (entry = { order: [], buckets: new Map() }));
    const h = vectorHash(vector);
    const bucket = entry.buckets.get(h);
    if (bucket?.some((v) => sameTimings(v, vector))) return;
    const copy = Float64Array.from(vector);
    if (bucket) bucket.push(copy);
    else entry.buckets.set(h, [copy]);
    entry.order.push(copy);
    if (entry.order.length > this.perUser) {
      const old = entry.order.shift()!;
      const oh = vectorHash(old);
      const ob = entry.buckets.get(oh)!;
      ob.splice(ob.indexOf(old), 1);
      if (ob.length === 0) entry.buckets.delete(oh);
    }
  }
}

/** A 32-bit hash of a timings vector (FNV-1a over its values); equal vectors hash alike. */
export function vectorHash(vector: ArrayLike<number>): number {
  let h = 0x811c9dc5;
  for (let j = 0; j < vector.length; j++) {
    // timings are whole or fractional milliseconds: a micro-second grid keeps equal values equal
    const v = Math.round(vector[j]! * 1000) | 0;
    h = Math.imul(h ^ (v & 0xffff), 0x01000193);
    h = Math.imul(h ^ (v >>> 16), 0x01000193);
  }
  return h >>> 0;
}
