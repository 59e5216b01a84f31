import { describe, expect, it } from "vitest";
import { smallestClass, stratifiedKFold } from "../../src/metrics/index.js";

// 3 users with 10, 7 and 4 rows, interleaved
const labels = [...Array(10).fill("a"), ...Array(7).fill(2), ...Array(4).fill("c")].map(
  (l, i, all) => all[(i * 5) % all.length]!,
);

describe("stratified k-fold", () => {
  it("partitions the rows: every row is tested exactly once and never trained on in its fold", () => {
    const folds = stratifiedKFold(labels, 3, 1);
    expect(folds).toHaveLength(3);
    const tested = folds.flatMap((f) => f.test).sort((a, b) => a - b);
    expect(tested).toEqual(labels.map((_, i) => i));
    for (const f of folds) {
      expect(f.train.length + f.test.length).toBe(labels.length);
      expect(f.train.some((i) => f.test.includes(i))).toBe(false);
    }
  });

  it("keeps each user's share per fold within one row, and fold sizes within one", () => {
    const k = 3;
    const folds = stratifiedKFold(labels, k, 7);
    for (const user of ["a", 2, "c"]) {
      const counts = folds.map((f) => f.test.filter((i) => labels[i] === user).length);
      expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
    }
    const sizes = folds.map((f) => f.test.length);
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
  });

  it("repeats with the same seed and differs with another", () => {
    expect(stratifiedKFold(labels, 4, 42)).toEqual(stratifiedKFold(labels, 4, 42));
    expect(stratifiedKFold(labels, 4, 42)).not.toEqual(stratifiedKFold(labels, 4, 43));
  });

  // the core names its own option (k); the CLI maps it to --cv (test/cli-vocab.test.ts)
  it("refuses k < 2, a fractional k, and more folds than rows", () => {
    expect(() => stratifiedKFold(labels, 1, 0)).toThrow(/option k:/);
    expect(() => stratifiedKFold(labels, 2.5, 0)).toThrow(/option k:/);
    expect(() => stratifiedKFold(["a", "b"], 3, 0)).toThrow(/cannot split 2 rows into 3 folds/);
  });

  it("finds the smallest class", () => {
    expect(smallestClass(labels)).toBe(4);
  });
});
