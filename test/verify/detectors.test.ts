import { describe, expect, it } from "vitest";
import { DETECTOR_IMPLS, logTiming } from "../../src/verify/detectors.js";
import type { PopulationStats } from "../../src/verify/index.js";

const E = [
  [1, 10],
  [3, 14],
  [2, 12],
];
// means [2, 12]; mean absolute deviations [2/3, 4/3]; standard deviations (n − 1) [1, 2]
const score = (
  name: keyof typeof DETECTOR_IMPLS,
  x: number[],
  vectors = E,
  population?: PopulationStats,
  exclude?: string,
) => {
  const impl = DETECTOR_IMPLS[name];
  return impl.compile(impl.fit(vectors, population, "u"), population)(x, exclude);
};

describe("Killourhy & Maxion's detectors on hand-checked numbers", () => {
  it("manhattan-scaled: Σ |x − mean| / mean absolute deviation", () => {
    expect(score("manhattan-scaled", [4, 12])).toBeCloseTo(2 / (2 / 3), 12);
    expect(score("manhattan-scaled", [1, 16])).toBeCloseTo(1 / (2 / 3) + 4 / (4 / 3), 12);
    expect(score("manhattan-scaled", [2, 12])).toBe(0);
  });

  it("zscore-outliers: features with |z| > 1.96", () => {
    expect(score("zscore-outliers", [4.5, 12])).toBe(1); // z = 2.5, 0
    expect(score("zscore-outliers", [3, 15])).toBe(0); // z = 1, 1.5
    expect(score("zscore-outliers", [5, 17])).toBe(2); // z = 3, 2.5
  });

  it("knn-manhattan-scaled: scaled distance to the nearest enrolment sample", () => {
    // to [1,10]: 3 + 2.25; to [3,14]: 0 + 0.75; to [2,12]: 1.5 + 0.75
    expect(score("knn-manhattan-scaled", [3, 13])).toBeCloseTo(0.75, 12);
  });

  it("mahalanobis-nn: ridge-regularised Mahalanobis distance to the nearest enrolment sample", () => {
    const V = [
      [0, 0],
      [2, 0],
      [0, 2],
    ];
    // covariance (n − 1): [[4/3, −2/3], [−2/3, 4/3]], plus a ridge of 1% of the mean variance (+1e-6)
    const r = 0.01 * (4 / 3) + 1e-6;
    const a = 4 / 3 + r;
    const b = -2 / 3;
    const det = a * a - b * b;
    const maha = (v: number[]) =>
      Math.sqrt((a * v[0]! * v[0]! - 2 * b * v[0]! * v[1]! + a * v[1]! * v[1]!) / det);
    const x = [1.5, 0.4];
    const expected = Math.min(...V.map((e) => maha([x[0]! - e[0]!, x[1]! - e[1]!])));
    expect(score("mahalanobis-nn", x, V)).toBeCloseTo(expected, 9);
  });
});

describe("our detectors", () => {
  const L = E.map((v) => v.map(Math.log1p));
  const mean = [0, 1].map((j) => (L[0]![j]! + L[1]![j]! + L[2]![j]!) / 3);
  const mad = [0, 1].map((j) => L.reduce((s, v) => s + Math.abs(v[j]! - mean[j]!), 0) / 3);

  it("logTiming is a signed log1p", () => {
    expect(logTiming(0)).toBe(0);
    expect(logTiming(Math.E - 1)).toBeCloseTo(1, 12);
    expect(logTiming(-(Math.E - 1))).toBeCloseTo(-1, 12);
  });

  it("manhattan-robust: Σ log1p(|log x − mean| / spread), spread shrunk toward the population's", () => {
    const x = [4, 12];
    const own = [0, 1].reduce((s, j) => s + Math.log1p(Math.abs(Math.log1p(x[j]!) - mean[j]!) / mad[j]!), 0);
    expect(score("manhattan-robust", x)).toBeCloseTo(own, 12);
    const pop = {
      logSpread: [0.5, 0.1],
      cohort: [],
      background: [],
      featureSet: "timings",
      nFeatures: 2,
      users: 1,
    } as PopulationStats;
    // three own samples and one pseudo-sample of the population spread
    const shrunk = [0, 1].map((j) => (3 * mad[j]! + pop.logSpread[j]!) / 4);
    const expected = [0, 1].reduce(
      (s, j) => s + Math.log1p(Math.abs(Math.log1p(x[j]!) - mean[j]!) / shrunk[j]!),
      0,
    );
    expect(score("manhattan-robust", x, E, pop)).toBeCloseTo(expected, 12);
  });

  it("manhattan-robust-cohort: the user's distance t-normalised by the cohort's, the excluded member left out", () => {
    const members = [
      { user: "a", mean: [1, 2], spread: [0.5, 0.5] },
      { user: "b", mean: [2, 3], spread: [0.2, 0.4] },
      { user: "c", mean: [0.5, 2.5], spread: [1, 1] },
    ];
    const pop: PopulationStats = {
      featureSet: "timings",
      nFeatures: 2,
      users: 4,
      logSpread: [0.3, 0.3],
      cohort: members,
      background: [],
    };
    const x = [4, 12];
    const lx = x.map(Math.log1p);
    const dist = (m: number[], a: number[]) =>
      [0, 1].reduce((s, j) => s + Math.log1p(Math.abs(lx[j]! - m[j]!) / a[j]!), 0);
    const shrunk = [0, 1].map((j) => (3 * mad[j]! + 0.3) / 4);
    const own = dist(mean, shrunk);
    const tnorm = (cs: number[]) => {
      const mu = cs.reduce((s, c) => s + c, 0) / cs.length;
      const sd = Math.sqrt(cs.reduce((s, c) => s + (c - mu) ** 2, 0) / cs.length);
      return (own - mu) / sd;
    };
    const all = members.map((m) => dist(m.mean, m.spread));
    expect(score("manhattan-robust-cohort", x, E, pop)).toBeCloseTo(tnorm(all), 9);
    expect(score("manhattan-robust-cohort", x, E, pop, "b")).toBeCloseTo(tnorm([all[0]!, all[2]!]), 9);
  });

  it("manhattan-robust-cohort refuses to enrol without other users", () => {
    expect(() => score("manhattan-robust-cohort", [1, 1])).toThrow(/needs a population/);
  });
});
