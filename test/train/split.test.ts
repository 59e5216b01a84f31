import { describe, expect, it } from "vitest";
import { stratifiedHoldout } from "../../src/train/split.js";

describe("stratifiedHoldout", () => {
  const labels = [1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 4];

  it("holds out floor or ceil of fraction × n of each user's rows and keeps one to train on", () => {
    const { train, test } = stratifiedHoldout(labels, 0.2, 7);
    const count = (rows: number[], user: number) => rows.filter((i) => labels[i] === user).length;
    expect(count(test, 1)).toBe(1);
    expect(count(test, 2)).toBe(1);
    expect(count(test, 3)).toBe(2);
    expect(count(test, 4)).toBe(0); // a user with one row trains on it
    expect(count(train, 4)).toBe(1);
    expect([...train, ...test].sort((a, b) => a - b)).toEqual(labels.map((_, i) => i));
  });

  it("is repeatable for a seed and differs across seeds", () => {
    const a = stratifiedHoldout(labels, 0.4, 1);
    expect(stratifiedHoldout(labels, 0.4, 1)).toEqual(a);
    const others = [2, 3, 4, 5].map((s) => stratifiedHoldout(labels, 0.4, s).test.join());
    expect(others.some((t) => t !== a.test.join())).toBe(true);
  });

  it("holds out nothing at fraction 0", () => {
    const { train, test } = stratifiedHoldout(labels, 0, 1);
    expect(test).toEqual([]);
    expect(train).toHaveLength(labels.length);
  });

  it("holds out the share asked for overall, not 1 row of 7 per user (the 14.7% of per-user rounding)", () => {
    // shaped like the benchmark data: 750 rows of 110 users, 6 or 7 rows each
    const many: number[] = [];
    for (let u = 0; u < 110; u++) for (let r = 0; r < (u < 70 ? 7 : 6); r++) many.push(u);
    const extra = 750 - many.length;
    for (let r = 0; r < extra; r++) many.push(200 + r, 200 + r);
    const { test } = stratifiedHoldout(many, 0.2, 42);
    expect(test.length).toBe(Math.round(0.2 * many.length));
    // each user gives floor or ceil of their quota, never more
    const byUser = new Map<number, number>();
    for (const i of test) byUser.set(many[i]!, (byUser.get(many[i]!) ?? 0) + 1);
    for (const u of new Set(many)) {
      const n = many.filter((l) => l === u).length;
      const k = byUser.get(u) ?? 0;
      expect(k === Math.floor(0.2 * n) || k === Math.ceil(0.2 * n)).toBe(true);
      expect(k).toBeLessThan(n);
    }
  });
});
