import { describe, expect, it } from "vitest";
import {
  RecentSampleCache,
  anomalyScore,
  THRESHOLD_RULE,
  buildPopulation,
  computeEer,
  enrollSamples,
  enrollUser,
  isScripted,
  scoreRaw,
  toAnomaly,
  verifySample,
} from "../../src/verify/index.js";
import { syntheticSamples, vectorsOf } from "./helpers.js";

const samples = syntheticSamples(8, 8);
const population = buildPopulation(
  [1, 2, 3, 4, 5, 6, 7, 8].map((u) => ({ user: u, vectors: vectorsOf(samples, u).slice(0, 4) })),
);

describe("enrollUser", () => {
  it("needs at least 3 samples", () => {
    const v = vectorsOf(samples, 1);
    expect(() => enrollUser(1, v.slice(0, 2), { population })).toThrow(
      expect.objectContaining({ code: "TOO_FEW_SAMPLES" }),
    );
    expect(() => enrollUser(1, v.slice(0, 3), { population })).not.toThrow();
  });

  it("rejects vectors of the wrong length, naming the sample", () => {
    const v = vectorsOf(samples, 1).slice(0, 3);
    v[1] = v[1]!.slice(1);
    expect(() => enrollUser(1, v, { population })).toThrow(/sample 2 of user 1/);
  });

  it("sets the threshold by the documented rule: EER point of leave-one-out vs background scores", () => {
    const v = vectorsOf(samples, 3).slice(0, 4);
    const t = enrollUser(3, v, { population, detector: "manhattan-scaled" });
    expect(t.thresholdRule).toBe(THRESHOLD_RULE);
    const loo = v.map((x, i) =>
      scoreRaw(
        enrollUser(
          3,
          v.filter((_, k) => k !== i),
          { population, detector: "manhattan-scaled", minSamples: 3 },
        ),
        x,
      ),
    );
    const bg = population.background.filter((b) => b.user !== 3).map((b) => scoreRaw(t, b.vector));
    expect(t.threshold).toBeCloseTo(anomalyScore(toAnomaly(computeEer(loo, bg).threshold, t.calibration)), 9);
  });
});

describe("verifySample", () => {
  const { templates } = enrollSamples(
    samples.filter((s) => [1, 2, 3, 4, 5, 6, 7, 8].includes(s.label as number)).slice(0, 32),
    { population, detector: "manhattan-robust-cohort" },
  );
  const t1 = templates.find((t) => t.user === 1)!;
  const later = vectorsOf(samples, 1).slice(4);
  const other = vectorsOf(samples, 5).slice(4);

  it("accepts the user's later samples and rejects another user's, with scores on the anomaly scale", () => {
    const mine = later.map((x) => verifySample(t1, x, { population }));
    const theirs = other.map((x) => verifySample(t1, x, { population }));
    expect(mine.filter((r) => r.accepted).length).toBeGreaterThanOrEqual(3);
    expect(theirs.filter((r) => r.accepted).length).toBeLessThanOrEqual(1);
    expect(Math.max(...mine.map((r) => r.anomaly_score))).toBeLessThan(
      Math.min(...theirs.map((r) => r.anomaly_score)),
    );
    for (const r of [...mine, ...theirs]) {
      expect(r.UserID).toBe(1);
      expect(r.detector).toBe("manhattan-robust-cohort");
      expect(r.confidence_score).toBeGreaterThanOrEqual(0);
      expect(r.confidence_score).toBeLessThanOrEqual(100);
      expect(r.accepted).toBe(r.anomaly_score <= r.threshold);
      expect(r.replay || r.scripted).toBe(false);
    }
  });

  it("rejects an enrolled sample replayed exactly, and a recently verified one", () => {
    const enrolled = vectorsOf(samples, 1)[0]!;
    const r = verifySample(t1, [...enrolled], { population });
    expect(r).toMatchObject({ accepted: false, replay: true });
    expect(r.reason).toMatch(/replay/);
    // one millisecond off is no longer the same pattern
    const nudged = [...enrolled];
    nudged[0]! += 1;
    expect(verifySample(t1, nudged, { population }).replay).toBe(false);

    const recent = new RecentSampleCache();
    const first = verifySample(t1, later[0]!, { population, recent });
    const again = verifySample(t1, [...later[0]!], { population, recent });
    expect(first.replay).toBe(false);
    expect(again).toMatchObject({ replay: true, accepted: false });
  });

  it("defaults to fusion with population models; an older store without them falls back as before", () => {
    expect(enrollSamples(samples, { population }).templates[0]!.detector).toBe("fusion");
    const { metric: _m, negatives: _n, ubm: _u, ...older } = population;
    expect(enrollSamples(samples, { population: older }).templates[0]!.detector).toBe("manhattan-robust");
    const many = syntheticSamples(12, 4, 6, 3);
    const built = enrollSamples(many, {}).population;
    const { metric: _m2, negatives: _n2, ubm: _u2, ...olderMany } = built;
    expect(enrollSamples(many, { population: olderMany }).templates[0]!.detector).toBe(
      "manhattan-robust-cohort",
    );
    // two users are too few for background models to mean anything
    expect(enrollSamples(syntheticSamples(2, 5), {}).templates[0]!.detector).toBe("manhattan-robust");
  });

  it("remembers the last samples per user only, each user apart", () => {
    const recent = new RecentSampleCache(2);
    const [a, b, c] = later;
    recent.add(1, a!);
    recent.add(1, b!);
    recent.add(1, c!);
    expect([recent.has(1, a!), recent.has(1, b!), recent.has(1, c!)]).toEqual([false, true, true]);
    expect(recent.has(2, c!)).toBe(false);
  });

  it("flags near-constant intervals as scripted and rejects them", () => {
    const keys = 6;
    // a script pressing every 120 ms and holding each key 80 ms
    const v = [
      ...Array(keys).fill(80),
      ...Array(keys - 1).fill(120),
      ...Array(keys - 1).fill(120),
      ...Array(keys - 1).fill(40),
    ];
    expect(isScripted(v)).toBe(true);
    const r = verifySample(t1, v, { population });
    expect(r).toMatchObject({ scripted: true, accepted: false });
    expect(later.some((x) => isScripted(x))).toBe(false);
  });

  it("names the problem when a sample has the wrong number of keys", () => {
    expect(() => verifySample(t1, [1, 2, 3], { population })).toThrow(
      expect.objectContaining({ code: "BAD_REQUEST" }),
    );
  });
});
