/** Equal error rate and friends. Scores are anomaly scores: higher = less like the user; accept when score ≤ threshold. */

/** The equal error rate and the threshold where false accepts and false rejects cross. */
export interface EerResult {
  eer: number;
  threshold: number;
}

/**
 * EER of one user's genuine and impostor scores. The thresholds are swept over every distinct score
 * (accept s ≤ t); where the false-accept rate first reaches the false-reject rate, the crossing is
 * interpolated linearly between that ROC point and the one before it.
 */
export function computeEer(genuine: ArrayLike<number>, impostor: ArrayLike<number>): EerResult {
  if (genuine.length === 0 || impostor.length === 0) return { eer: NaN, threshold: NaN };
  const gen = Float64Array.from(genuine).sort();
  const imp = Float64Array.from(impostor).sort();
  const values = uniqueSorted(gen, imp);
  let prevFar = 0;
  let prevFrr = 1;
  let prevT = -Infinity;
  let gi = 0;
  let ii = 0;
  for (let k = 0; k < values.length; k++) {
    const v = values[k]!;
    while (gi < gen.length && gen[gi]! <= v) gi++;
    while (ii < imp.length && imp[ii]! <= v) ii++;
    const far = ii / imp.length;
    const frr = (gen.length - gi) / gen.length;
    if (far >= frr) {
      const d1 = prevFrr - prevFar;
      const d2 = far - frr;
      const t = d1 + d2 === 0 ? 1 : d1 / (d1 + d2);
      const eer = prevFar + t * (far - prevFar);
      let threshold: number;
      if (t >= 1) {
        // the rates are equal on [v, next score): the middle of that gap generalises best
        const next = values[k + 1];
        threshold = next === undefined ? v : (v + next) / 2;
      } else threshold = Number.isFinite(prevT) ? prevT + t * (v - prevT) : v;
      return { eer, threshold };
    }
    prevFar = far;
    prevFrr = frr;
    prevT = v;
  }
  return { eer: 0, threshold: values[values.length - 1]! };
}

/**
 * Killourhy & Maxion's zero-miss false-alarm rate: the share of genuine samples rejected when the
 * threshold is set just low enough that no impostor is accepted.
 */
export function zeroMissFalseAlarmRate(genuine: readonly number[], impostor: readonly number[]): number {
  if (genuine.length === 0 || impostor.length === 0) return NaN;
  let minImp = Infinity;
  for (const s of impostor) if (s < minImp) minImp = s;
  let rejected = 0;
  for (const s of genuine) if (s >= minImp) rejected++;
  return rejected / genuine.length;
}

/** False-accept and false-reject rates at one threshold (accept when score ≤ threshold). */
export function ratesAt(
  genuine: ArrayLike<number>,
  impostor: ArrayLike<number>,
  threshold: number,
): { far: number; frr: number } {
  let fa = 0;
  let fr = 0;
  for (let i = 0; i < impostor.length; i++) if (impostor[i]! <= threshold) fa++;
  for (let i = 0; i < genuine.length; i++) if (genuine[i]! > threshold) fr++;
  return {
    far: impostor.length ? fa / impostor.length : NaN,
    frr: genuine.length ? fr / genuine.length : NaN,
  };
}

/** Number of values ≤ x in an ascending array. */
export function countAtMost(sorted: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function uniqueSorted(a: Float64Array, b: Float64Array): number[] {
  const all = new Float64Array(a.length + b.length);
  all.set(a);
  all.set(b, a.length);
  all.sort();
  const out: number[] = [];
  for (let i = 0; i < all.length; i++) if (i === 0 || all[i] !== all[i - 1]) out.push(all[i]!);
  return out;
}
