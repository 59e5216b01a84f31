import { describe, expect, it } from "vitest";
import { computeEer, ratesAt, zeroMissFalseAlarmRate } from "../../src/verify/index.js";

describe("computeEer", () => {
  it("interpolates the crossing on a tiny score set", () => {
    // t < 2.5: FAR 0; at 2.5: FAR 1/4, FRR 1/3; at 3: FAR 1/4, FRR 0 → the segment crosses FAR = FRR at 0.25
    const r = computeEer([1, 2, 3], [2.5, 4, 5, 6]);
    expect(r.eer).toBeCloseTo(0.25, 12);
    // a quarter of the way from 2.5 to 3
    expect(r.threshold).toBeCloseTo(2.625, 12);
  });

  it("is 0 for separated scores, with the threshold in the gap", () => {
    const r = computeEer([1, 2], [3, 4]);
    expect(r.eer).toBe(0);
    expect(r.threshold).toBe(2.5);
    expect(ratesAt([1, 2], [3, 4], r.threshold)).toEqual({ far: 0, frr: 0 });
  });

  it("is 1 when every impostor scores below every genuine sample", () => {
    expect(computeEer([5, 6], [1, 2]).eer).toBe(1);
  });

  it("is 0.5 when genuine and impostor scores coincide", () => {
    expect(computeEer([1, 2, 3, 4], [1, 2, 3, 4]).eer).toBeCloseTo(0.5, 12);
  });

  it("does not depend on the order of the scores", () => {
    expect(computeEer([3, 1, 2], [6, 2.5, 5, 4])).toEqual(computeEer([1, 2, 3], [2.5, 4, 5, 6]));
  });
});

describe("zeroMissFalseAlarmRate", () => {
  it("counts genuine scores at or above the lowest impostor score", () => {
    expect(zeroMissFalseAlarmRate([1, 2, 3], [2.5, 4])).toBeCloseTo(1 / 3, 12);
    expect(zeroMissFalseAlarmRate([1, 2.5, 3], [2.5, 4])).toBeCloseTo(2 / 3, 12);
    expect(zeroMissFalseAlarmRate([1, 2], [3])).toBe(0);
  });
});
