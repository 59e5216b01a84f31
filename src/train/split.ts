import type { Label } from "../data/types.js";
import { createRng, shuffle } from "../util/random.js";

/**
 * Splits row indices into train and held-out sets, stratified by user: each user gives
 * round(fraction × n) of their rows (seeded shuffle), always keeping at least one row for training.
 */
export function stratifiedHoldout(labels: readonly Label[], fraction: number, seed: number): { train: number[]; test: number[] } {
  const byUser = new Map<Label, number[]>();
  labels.forEach((label, i) => {
    const rows = byUser.get(label);
    if (rows) rows.push(i);
    else byUser.set(label, [i]);
  });
  const rng = createRng(seed);
  const train: number[] = [];
  const test: number[] = [];
  for (const rows of byUser.values()) {
    shuffle(rng, rows);
    const k = fraction <= 0 ? 0 : Math.min(rows.length - 1, Math.round(fraction * rows.length));
    test.push(...rows.slice(0, k));
    train.push(...rows.slice(k));
  }
  const byIndex = (a: number, b: number) => a - b;
  return { train: train.sort(byIndex), test: test.sort(byIndex) };
}
