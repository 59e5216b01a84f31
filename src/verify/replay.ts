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

/** Recently verified samples, the last `perUser` per user, matched exactly (a key per vector). */
export class RecentSampleCache implements RecentSamples {
  private readonly byUser = new Map<string, { keys: string[]; set: Set<string> }>();

  constructor(private readonly perUser = 100) {}

  /** True when this user recently submitted exactly these timings. */
  has(user: Label, vector: readonly number[]): boolean {
    return this.byUser.get(String(user))?.set.has(vectorKey(vector)) ?? false;
  }

  /** Remembers a submitted sample, forgetting the user's oldest beyond the cap. */
  add(user: Label, vector: readonly number[]): void {
    const id = String(user);
    let entry = this.byUser.get(id);
    if (!entry) this.byUser.set(id, (entry = { keys: [], set: new Set() }));
    const key = vectorKey(vector);
    if (entry.set.has(key)) return;
    entry.keys.push(key);
    entry.set.add(key);
    if (entry.keys.length > this.perUser) entry.set.delete(entry.keys.shift()!);
  }
}

/** A string key identifying a timings vector exactly. */
export function vectorKey(vector: ArrayLike<number>): string {
  return Array.prototype.join.call(vector, ",");
}
