import type { Label } from "../data/types.js";
import { createRng, shuffle } from "../util/random.js";

/**
 * Splits row indices into train and held-out sets, stratified by user, so that the held-out share is
 * the fraction asked for: round(fraction × rows) in all, each user giving floor or ceil of fraction × n
 * of their rows (the largest remainders get the ceil; ties in a seeded order), always keeping at least
 * one row of each user for training.
 *
 * Rounding each user on their own (round(fraction × n)) gave every user of 7 rows exactly 1 of 7 at
 * fraction 0.2: 14.7% held out on the 750-row benchmark data, not 20%.
 */
export function stratifiedHoldout(
  labels: readonly Label[],
  fraction: number,
  seed: number,
): { train: number[]; test: number[] } {
  const byUser = new Map<Label, number[]>();
  labels.forEach((label, i) => {
    const rows = byUser.get(label);
    if (rows) rows.push(i);
    else byUser.set(label, [i]);
  });
  const rng = createRng(seed);
  const users = [...byUser.values()];
  for (const rows of users) shuffle(rng, rows);
  const take = users.map((rows) =>
    fraction <= 0 ? 0 : Math.min(rows.length - 1, Math.floor(fraction * rows.length)),
  );
  if (fraction > 0) {
    const capacity = users.reduce((sum, rows) => sum + rows.length - 1, 0);
    let missing = Math.min(capacity, Math.round(fraction * labels.length)) - take.reduce((a, b) => a + b, 0);
    const order = shuffle(
      rng,
      users.map((_, u) => u),
    );
    const remainder = (u: number) => fraction * users[u]!.length - Math.floor(fraction * users[u]!.length);
    // stable sort over a shuffled order: equal remainders are served in a seeded random order
    const candidates = order
      .filter((u) => take[u]! < users[u]!.length - 1)
      .sort((a, b) => remainder(b) - remainder(a));
    for (const u of candidates) {
      if (missing <= 0) break;
      take[u]!++;
      missing--;
    }
  }
  const train: number[] = [];
  const test: number[] = [];
  users.forEach((rows, u) => {
    test.push(...rows.slice(0, take[u]));
    train.push(...rows.slice(take[u]));
  });
  const byIndex = (a: number, b: number) => a - b;
  return { train: train.sort(byIndex), test: test.sort(byIndex) };
}
