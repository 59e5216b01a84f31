import type { Label } from "../data/types.js";
import { KeystrokeError } from "../errors.js";
import { createRng, shuffle } from "../util/random.js";
import { compareLabels, labelKey } from "./classification.js";

/** One fold of a k-fold split: row indices to fit on and to test on (both ascending). */
export interface Fold {
  train: number[];
  test: number[];
}

/**
 * Stratified k-fold split: each user's rows are shuffled (seeded) and dealt round-robin over the folds,
 * continuing where the previous user stopped, so every fold keeps the class mix and fold sizes differ by
 * at most one. A user with fewer than k rows is missing from some test folds, and a user with one row is
 * unseen in the training set of its fold; use `smallestClass` to warn about it.
 *
 * Written here rather than taken from ml-cross-validation: its getFolds is not stratified, draws with
 * Math.random (no seed, so runs cannot be repeated) and its kFold expects synchronous ml-style classifier
 * classes, while our fitClassifier is async and takes a seed.
 */
export function stratifiedKFold(labels: readonly Label[], k: number, seed: number): Fold[] {
  if (!Number.isInteger(k) || k < 2)
    throw new KeystrokeError("BAD_FLAG", `cross-validation needs a whole number of folds ≥ 2, got ${k}`, {
      option: "k",
    });
  if (k > labels.length) {
    throw new KeystrokeError("TOO_FEW_SAMPLES", `cannot split ${labels.length} rows into ${k} folds`, {
      option: "k",
    });
  }
  const groups = new Map<string, { label: Label; rows: number[] }>();
  labels.forEach((l, i) => {
    const key = labelKey(l);
    const g = groups.get(key);
    if (g) g.rows.push(i);
    else groups.set(key, { label: l, rows: [i] });
  });
  const rng = createRng(seed);
  const testOf: number[][] = Array.from({ length: k }, () => []);
  let next = 0;
  for (const g of [...groups.values()].sort((a, b) => compareLabels(a.label, b.label))) {
    for (const row of shuffle(rng, [...g.rows])) {
      testOf[next]!.push(row);
      next = (next + 1) % k;
    }
  }
  const fold = new Int32Array(labels.length);
  testOf.forEach((rows, f) => rows.forEach((r) => (fold[r] = f)));
  return testOf.map((rows, f) => ({
    test: rows.sort((a, b) => a - b),
    train: labels.map((_, i) => i).filter((i) => fold[i] !== f),
  }));
}

/** The fewest rows any one user has (Infinity for no rows). */
export function smallestClass(labels: readonly Label[]): number {
  const counts = new Map<string, number>();
  for (const l of labels) counts.set(labelKey(l), (counts.get(labelKey(l)) ?? 0) + 1);
  return Math.min(...counts.values());
}
