// Training-row augmentation shared by the tree models. With ~6 samples per user, a tree's regions hug
// the few points it saw; points drawn between two samples of the same user (SMOTE-style) fill in the
// space a user's typing actually varies over. Only fitting changes: prediction sees the raw features.
import type { Rng } from "../util/random.js";

/**
 * Adds `perRow` synthetic rows per training row, each at a uniform random point on the segment from
 * that row to another row of the same class. A class with one row gets none. Deterministic for a given rng.
 */
export function interpolateRows(
  X: readonly (readonly number[])[],
  codes: Int32Array,
  perRow: number,
  rng: Rng,
): { X: (readonly number[])[]; codes: Int32Array } {
  if (perRow <= 0) return { X: [...X], codes };
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i]!;
    let list = byClass.get(c);
    if (!list) byClass.set(c, (list = []));
    list.push(i);
  }
  const outX: (readonly number[])[] = [...X];
  const outY: number[] = Array.from(codes);
  for (let rep = 0; rep < perRow; rep++) {
    for (let i = 0; i < X.length; i++) {
      const same = byClass.get(codes[i]!)!;
      if (same.length < 2) continue;
      // a uniform partner other than i: draw among the others and skip over i's own slot
      const r = Math.floor(rng() * (same.length - 1));
      const j = same[r]! >= i ? same[r + 1]! : same[r]!;
      const a = X[i]!;
      const b = X[j]!;
      const t = rng();
      outX.push(a.map((v, f) => v + t * (b[f]! - v)));
      outY.push(codes[i]!);
    }
  }
  return { X: outX, codes: Int32Array.from(outY) };
}

/** Feature augmentations a tree model can apply inside itself (recorded in its params). */
export type FeatureAugment = "none" | "summary";

/** Where each summary input sits: HT, PPT, RRT, RPT × (mean, std), the order of extractSummary. */
const [HTM, HTS, PPM, PPS, RRM, RRS, RPM, RPS] = [0, 1, 2, 3, 4, 5, 6, 7] as const;

const ratio = (a: number, b: number): number => a / (Math.abs(b) || 1);

/**
 * Derived summary features and the inputs each is made of. Trees split one feature at a time, so
 * relations between the 8 numbers are invisible to them unless given: tempo-free ratios and
 * coefficients of variation; differences that recover per-key facts (PPT.Mean − RPT.Mean is the mean
 * hold of all keys but the last, RRT.Mean − PPT.Mean the last hold minus the first, over n − 1); and
 * variance identities (Var PPT + Var HT − Var RPT ≈ 2·Cov(PPT, HT), since RPT = PPT − HT per pair).
 * Measured by 5-fold CV (bench/train.mjs): RF 0.23 → 0.29 on the summary set.
 */
const SUMMARY_DERIVED: readonly { inputs: readonly number[]; value: (r: ArrayLike<number>) => number }[] = [
  { inputs: [HTM, PPM], value: (r) => ratio(r[HTM]!, r[PPM]!) },
  { inputs: [RPM, PPM], value: (r) => ratio(r[RPM]!, r[PPM]!) },
  { inputs: [RRM, PPM], value: (r) => ratio(r[RRM]!, r[PPM]!) },
  { inputs: [HTS, HTM], value: (r) => ratio(r[HTS]!, r[HTM]!) },
  { inputs: [PPS, PPM], value: (r) => ratio(r[PPS]!, r[PPM]!) },
  { inputs: [RRS, RRM], value: (r) => ratio(r[RRS]!, r[RRM]!) },
  { inputs: [RPS, RPM], value: (r) => ratio(r[RPS]!, r[RPM]!) },
  { inputs: [PPM, RPM], value: (r) => r[PPM]! - r[RPM]! },
  { inputs: [RRM, PPM], value: (r) => r[RRM]! - r[PPM]! },
  { inputs: [HTM, PPM, RPM], value: (r) => r[HTM]! - (r[PPM]! - r[RPM]!) },
  { inputs: [PPS, HTS, RPS], value: (r) => covPH(r) },
  { inputs: [RRS, PPS], value: (r) => r[RRS]! ** 2 - r[PPS]! ** 2 },
  { inputs: [PPS, HTS, RPS], value: (r) => ratio(covPH(r), r[PPS]! * r[HTS]!) },
  { inputs: [RRS, PPS], value: (r) => ratio(r[RRS]! ** 2 - r[PPS]! ** 2, r[PPS]! ** 2) },
];

function covPH(r: ArrayLike<number>): number {
  return r[PPS]! ** 2 + r[HTS]! ** 2 - r[RPS]! ** 2;
}

/** The augmentation "auto" picks for rows of d features: the 8-number summary set gets its derived features. */
export function resolveAugment(value: unknown, d: number): FeatureAugment | undefined {
  if (value === "auto") return d === 8 ? "summary" : "none";
  if (value === "none") return "none";
  if (value === "summary") return d === 8 ? "summary" : undefined;
  return undefined;
}

/** Width of a row after the augmentation. */
export function augmentedWidth(augment: FeatureAugment, d: number): number {
  return augment === "summary" ? d + SUMMARY_DERIVED.length : d;
}

/** The row with the augmentation's derived features appended (the same function in fit and predict). */
export function augmentRow(augment: FeatureAugment, row: ArrayLike<number>): number[] {
  const out = Array.from(row);
  if (augment === "summary") for (const f of SUMMARY_DERIVED) out.push(f.value(row));
  return out;
}

/** augmentRow into a reused buffer (prediction: no allocation per request). */
export function augmentInto(
  augment: FeatureAugment,
  row: ArrayLike<number>,
  out: Float64Array,
): Float64Array {
  const d = row.length;
  for (let j = 0; j < d; j++) out[j] = row[j]!;
  if (augment === "summary")
    for (let k = 0; k < SUMMARY_DERIVED.length; k++) out[d + k] = SUMMARY_DERIVED[k]!.value(row);
  return out;
}

/** Folds importances of the augmented features back onto the d inputs (a derived feature's share split evenly over its inputs). */
export function foldImportance(
  augment: FeatureAugment,
  importance: ArrayLike<number>,
  d: number,
): Float64Array {
  const out = Float64Array.from({ length: d }, (_, j) => importance[j]!);
  if (augment === "summary") {
    SUMMARY_DERIVED.forEach((f, k) => {
      for (const j of f.inputs) out[j]! += importance[d + k]! / f.inputs.length;
    });
  }
  return out;
}
