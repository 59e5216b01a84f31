import { describe, expect, it } from "vitest";
import {
  checkOpenSet,
  DEVIATION_CAP,
  fitOpenSet,
  openSetDecision,
  summariseOpenSet,
  templateDistance,
  thresholdForFir,
} from "../../src/models/open-set.js";
import { createRng, normal } from "../../src/util/random.js";

// three users far apart in two features, with small seeded noise
function data(perUser = 12, seed = 1) {
  const rng = createRng(seed);
  const X: number[][] = [];
  const y: number[] = [];
  const centres = [
    [100, 50],
    [200, 80],
    [300, 20],
  ];
  centres.forEach((c, u) => {
    for (let i = 0; i < perUser; i++) {
      X.push([c[0]! + 5 * normal(rng), c[1]! + 3 * normal(rng)]);
      y.push(u + 1);
    }
  });
  return { X, y };
}

describe("the open-set rule", () => {
  it("measures capped scaled Manhattan distance (by hand)", () => {
    // |1-0|/1 = 1; |10-0|/2 = 5, capped at 3: (1 + 3) / 2
    expect(DEVIATION_CAP).toBe(3);
    expect(templateDistance([1, 10], [0, 0], [1, 2])).toBe(2);
    expect(templateDistance([0.5, -1], [0, 0], [1, 2])).toBe(0.5);
  });

  it("puts the threshold where at most the target share of strangers falls below it", () => {
    // sorted 1..5; 20%: one stranger (1) of five is below 2
    expect(thresholdForFir([5, 1, 4, 2, 3], 0.2)).toBe(2);
    expect(thresholdForFir([5, 1, 4, 2, 3], 0.1)).toBe(1);
    expect(thresholdForFir([5, 1, 4, 2, 3], 0.99)).toBe(5);
  });

  it("names a sample near a known user and rejects one far from all of them", () => {
    const { X, y } = data();
    const m = fitOpenSet(X, y, 0.05);
    expect(m.classes).toEqual([1, 2, 3]);
    // users this far apart: every leave-one-user-out stranger is rejected, almost no known sample is
    expect(m.calibration.strangers_rejected).toBeGreaterThanOrEqual(0.95);
    expect(m.calibration.known_rejected).toBeLessThan(0.1);
    expect(openSetDecision(m, [201, 79], 2).unknown).toBe(false);
    const far = openSetDecision(m, [150, 120], 1);
    expect(far.unknown).toBe(true);
    expect(far.distance).toBeGreaterThanOrEqual(far.threshold);
    // the rule judges the template of the user the model named, not the nearest one
    expect(openSetDecision(m, [201, 79], 1).unknown).toBe(true);
  });

  it("a higher target FIR gives a higher threshold (more strangers named)", () => {
    const { X, y } = data(20, 4);
    // strangers overlap here: the users are only a few spreads apart
    const near = X.map((r) => [r[0]! / 20, r[1]! / 5]);
    const lo = fitOpenSet(near, y, 0.01);
    const hi = fitOpenSet(near, y, 0.3);
    expect(hi.threshold).toBeGreaterThanOrEqual(lo.threshold);
    expect(hi.calibration.strangers_rejected).toBeLessThanOrEqual(lo.calibration.strangers_rejected);
  });

  it("refuses what it cannot calibrate: two users, a rate outside (0, 1)", () => {
    const { X, y } = data();
    const two = y.map((v, i) => [v, i] as const).filter(([v]) => v !== 3);
    expect(() =>
      fitOpenSet(
        two.map(([, i]) => X[i]!),
        two.map(([v]) => v),
      ),
    ).toThrow(expect.objectContaining({ code: "TOO_FEW_SAMPLES" }));
    expect(() => fitOpenSet(X, y, 0)).toThrow(expect.objectContaining({ code: "BAD_REQUEST" }));
  });

  it("checks a stored rule against the model's features", () => {
    const { X, y } = data();
    const m = JSON.parse(JSON.stringify(fitOpenSet(X, y))) as unknown;
    expect(checkOpenSet(m, 2)).toEqual(m);
    expect(() => checkOpenSet(m, 3)).toThrow(/open_set\.scale.*3 finite positive numbers/);
    expect(() => checkOpenSet({ ...(m as object), rule: "other" }, 2)).toThrow(/unknown open-set rule/);
  });

  it("sums up strangers rejected and the accuracy kept on known users (by hand)", () => {
    const s = summariseOpenSet(
      [
        { label: 1, named: 1, unknown: false }, // kept
        { label: 1, named: 1, unknown: true }, // correct but rejected
        { label: 2, named: 1, unknown: false }, // wrong
        { label: 2, named: 2, unknown: false }, // kept
        { label: 9, named: 1, unknown: true }, // stranger rejected
        { label: 9, named: 2, unknown: false }, // stranger named
        { label: 8, named: 2, unknown: true }, // stranger rejected
      ],
      (l) => l === 1 || l === 2,
    );
    expect(s).toEqual({
      known: 4,
      strangers: 3,
      strangers_rejected: 0.666667,
      known_rejected: 0.25,
      known_accuracy: 0.75,
      known_accuracy_kept: 0.5,
    });
  });
});
