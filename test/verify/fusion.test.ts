import { describe, expect, it } from "vitest";
import { DETECTOR_IMPLS } from "../../src/verify/detectors.js";
import { FUSION_PARTS, normalisationSamples } from "../../src/verify/fusion-detector.js";
import { buildPopulation, enrollSamples } from "../../src/verify/index.js";
import { syntheticSamples, vectorsOf } from "./helpers.js";

const samples = syntheticSamples(8, 12);
const population = buildPopulation(
  Array.from({ length: 8 }, (_, i) => ({ user: i + 1, vectors: vectorsOf(samples, i + 1).slice(0, 8) })),
);
const fusion = DETECTOR_IMPLS.fusion;
const enrol = vectorsOf(samples, 1).slice(0, 8);

describe("fusion: discriminative + knn-manhattan-scaled + gmm-ubm, z-normalised on background samples", () => {
  it("normalises with other users' background samples only, never the user's own", () => {
    const negatives = normalisationSamples(population, 1);
    expect(negatives.length).toBeGreaterThan(10);
    expect(negatives.every((n) => String(n.user) !== "1")).toBe(true);
    expect(new Set(negatives.map((n) => String(n.user))).size).toBe(7);
  });

  it("is the sum of each part's score z-normalised by its mean and spread on those samples", () => {
    const state = fusion.fit(enrol, population, 1);
    const score = fusion.compile(state, population);
    const negatives = normalisationSamples(population, 1);
    const probe = vectorsOf(samples, 1)[10]!;
    let expected = 0;
    for (const name of FUSION_PARTS) {
      const impl = DETECTOR_IMPLS[name];
      const part = impl.compile(impl.fit(enrol, population, 1), population);
      const bg = negatives.map((n) => part(n.vector, n.user));
      const mu = bg.reduce((a, b) => a + b, 0) / bg.length;
      const sd = Math.sqrt(bg.reduce((a, b) => a + (b - mu) ** 2, 0) / bg.length);
      expected += (part(probe) - mu) / sd;
    }
    expect(score(probe)).toBeCloseTo(expected, 9);
    // so the background samples themselves average 0 on the fused scale
    const fused = negatives.map((n) => score(n.vector, n.user));
    expect(fused.reduce((a, b) => a + b, 0) / fused.length).toBeCloseTo(0, 9);
  });

  it("scores the user's later samples below other users' samples", () => {
    const score = fusion.compile(fusion.fit(enrol, population, 1), population);
    const genuine = vectorsOf(samples, 1)
      .slice(8)
      .map((x) => score(x));
    const impostor = [2, 3, 4, 5].flatMap((u) => vectorsOf(samples, u).slice(8)).map((x) => score(x));
    expect(Math.max(...genuine)).toBeLessThan(Math.min(...impostor));
  });

  it("names the missing population models instead of scoring without them", () => {
    const { negatives: _n, ...older } = population;
    expect(() => fusion.fit(enrol, older, 1)).toThrow(/fusion needs population models/);
  });

  it("is the default with population models; without a UBM the default is discriminative", () => {
    expect(enrollSamples(samples, { population }).templates[0]!.detector).toBe("fusion");
    const { ubm: _u, ...noUbm } = population;
    expect(enrollSamples(samples, { population: noUbm }).templates[0]!.detector).toBe("discriminative");
  });
});
