import { describe, expect, it } from "vitest";
import { coverageCurve, rejectAt } from "../../src/metrics/index.js";

const confidence = [0.5, 0.9, 0.8, 0.8];
const correct = [false, true, false, true];

describe("accuracy against coverage", () => {
  it("steps through distinct thresholds, accepting tied samples together", () => {
    expect(coverageCurve(confidence, correct)).toEqual([
      { threshold: 0.9, coverage: 0.25, accuracy: 1 },
      { threshold: 0.8, coverage: 0.75, accuracy: 2 / 3 },
      { threshold: 0.5, coverage: 1, accuracy: 0.5 },
    ]);
  });

  it("is empty for no samples", () => {
    expect(coverageCurve([], [])).toEqual([]);
  });
});

describe("reject option", () => {
  it("accepts samples whose top probability is at least p", () => {
    expect(rejectAt(confidence, correct, 0.8)).toEqual({
      threshold: 0.8,
      accepted: 3,
      rejected: 1,
      rejectedShare: 0.25,
      coverage: 0.75,
      accuracy: 2 / 3,
    });
    expect(rejectAt(confidence, correct, 0).accuracy).toBe(0.5);
  });

  it("reports no accuracy when everything is rejected", () => {
    const r = rejectAt(confidence, correct, 0.95);
    expect(r.accepted).toBe(0);
    expect(r.rejectedShare).toBe(1);
    expect(r.accuracy).toBeNull();
  });

  // the core names its own option; the CLI maps it to --reject-below
  it("refuses a threshold outside [0, 1], naming the option", () => {
    expect(() => rejectAt(confidence, correct, 1.5)).toThrow(/option rejectBelow:/);
    expect(() => rejectAt(confidence, correct, NaN)).toThrow(/probability/);
  });
});
