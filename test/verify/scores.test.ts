import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { logTiming } from "../../src/verify/detectors.js";
import {
  anomalyScore,
  buildPopulation,
  confidenceScore,
  enrollUser,
  verifySample,
  type DetectorName,
  type Template,
} from "../../src/verify/index.js";
import { syntheticSamples, vectorsOf } from "./helpers.js";

// What README "Verification" says the scores mean, checked as properties: anomaly_score in [0, 1] and
// increasing with the distance from the template; confidence_score 0–100 in the decision returned, 0 on the
// threshold; accepted exactly when anomaly_score ≤ threshold.

describe("the score functions", () => {
  it("anomalyScore is in [0, 1] and never decreases as the calibrated score grows", () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true }), fc.double({ noNaN: true }), (a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        const x = anomalyScore(lo);
        const y = anomalyScore(hi);
        expect(x).toBeGreaterThanOrEqual(0);
        expect(y).toBeLessThanOrEqual(1);
        expect(x).toBeLessThanOrEqual(y);
      }),
    );
    // the anchors the README gives
    expect(anomalyScore(0)).toBeCloseTo(0.1, 6);
    expect(anomalyScore(0.5)).toBeCloseTo(0.5, 6);
    expect(anomalyScore(1)).toBeCloseTo(0.9, 6);
    // far from the template still tells samples apart at the published precision
    expect(anomalyScore(100)).toBeLessThan(anomalyScore(200));
  });

  it("confidenceScore is 0–100, 0 on the threshold, and grows with the distance on the side of the decision", () => {
    const unit = fc.double({ min: 0, max: 1, noNaN: true });
    fc.assert(
      fc.property(unit, unit, unit, (t, a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        for (const x of [lo, hi]) {
          const c = confidenceScore(x <= t, x, t);
          expect(c).toBeGreaterThanOrEqual(0);
          expect(c).toBeLessThanOrEqual(100);
        }
        expect(confidenceScore(true, t, t)).toBe(0);
        if (hi <= t)
          expect(confidenceScore(true, lo, t)).toBeGreaterThanOrEqual(confidenceScore(true, hi, t));
        if (lo > t)
          expect(confidenceScore(false, hi, t)).toBeGreaterThanOrEqual(confidenceScore(false, lo, t));
      }),
    );
    expect(confidenceScore(true, 0, 0.4)).toBe(100);
    expect(confidenceScore(false, 1, 0.4)).toBe(100);
    // a rejection the distance would not have made (a replay below the threshold) has no confidence from it
    expect(confidenceScore(false, 0.1, 0.4)).toBe(0);
  });
});

/** Inverse of logTiming. */
const fromLog = (y: number) => (y < 0 ? -Math.expm1(-y) : Math.expm1(y));

/** A sample moved `s` along `dir` from the template's centre, in the space the detector measures in. */
type Mover = (t: Template, dir: readonly number[], s: number) => number[];
const inLogSpace: Mover = (t, dir, s) => {
  const mean = t.state.mean as number[];
  const spread = t.state.spread as number[];
  // intervals whose learnt weight is negative count less the further they go: keep them at the centre
  const w = t.state.weights as number[] | undefined;
  return mean.map((m, j) => fromLog(m + (w && w[j]! < 0 ? 0 : s * dir[j]! * spread[j]!)));
};
const inRawSpace =
  (spreadKey: string): Mover =>
  (t, dir, s) => {
    const mean = t.state.mean as number[];
    const spread = t.state[spreadKey] as number[];
    return mean.map((m, j) => m + s * dir[j]! * spread[j]!);
  };

const samples = syntheticSamples(10, 8, 6, 11);
const users = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
const population = buildPopulation(
  users.map((u) => ({ user: u, vectors: vectorsOf(samples, u).slice(0, 6) })),
);
const CASES: Array<[DetectorName, Mover]> = [
  ["manhattan-scaled", inRawSpace("spread")],
  ["zscore-outliers", inRawSpace("sd")],
  ["manhattan-robust", inLogSpace],
  ["metric-learned", inLogSpace],
  ["discriminative", inLogSpace],
];

describe.each(CASES)("verification answers of %s on generated samples", (detector, move) => {
  const template = enrollUser(1, vectorsOf(samples, 1).slice(0, 6), { detector, population });
  const d = template.nFeatures;
  const direction = fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: d, maxLength: d });
  const step = fc.double({ min: 0, max: 6, noNaN: true });

  it("are in range, monotonic as the sample moves away from the template, and agree with accepted", () => {
    fc.assert(
      fc.property(direction, step, step, (dir, a, b) => {
        const [near, far] = a <= b ? [a, b] : [b, a];
        const [x, y] = [near, far].map((s) => verifySample(template, move(template, dir, s), { population }));
        for (const r of [x!, y!]) {
          expect(r.anomaly_score).toBeGreaterThanOrEqual(0);
          expect(r.anomaly_score).toBeLessThanOrEqual(1);
          expect(r.confidence_score).toBeGreaterThanOrEqual(0);
          expect(r.confidence_score).toBeLessThanOrEqual(100);
          if (!r.replay && !r.scripted) expect(r.accepted).toBe(r.anomaly_score <= r.threshold);
          else expect(r.accepted).toBe(false);
          expect(r.policy).toEqual({ kind: "eer" });
        }
        expect(y!.anomaly_score).toBeGreaterThanOrEqual(x!.anomaly_score);
        if (!x!.scripted && !y!.scripted) {
          if (y!.accepted) expect(x!.accepted).toBe(true);
          if (x!.accepted && y!.accepted)
            expect(x!.confidence_score).toBeGreaterThanOrEqual(y!.confidence_score);
          if (!x!.accepted && !y!.accepted)
            expect(y!.confidence_score).toBeGreaterThanOrEqual(x!.confidence_score);
        }
      }),
      { numRuns: 60 },
    );
  });

  it("accepts the template's centre and rejects a sample far from it", () => {
    const centre = verifySample(template, move(template, new Array<number>(d).fill(1), 0), { population });
    const far = verifySample(template, move(template, new Array<number>(d).fill(1), 6), { population });
    expect(centre.accepted).toBe(true);
    expect(far.accepted).toBe(false);
    expect(far.anomaly_score).toBeGreaterThan(centre.anomaly_score);
  });
});

it("logTiming's inverse used to move samples is exact", () => {
  for (const v of [-30, -1, 0, 0.5, 12, 400]) expect(fromLog(logTiming(v))).toBeCloseTo(v, 9);
});
