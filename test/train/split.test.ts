import { describe, expect, it } from "vitest";
import { stratifiedHoldout } from "../../src/train/split.js";

describe("stratifiedHoldout", () => {
  const labels = [1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 4];

  it("holds out round(fraction × n) of each user's rows and keeps one to train on", () => {
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
});
