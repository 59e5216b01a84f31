import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { readDataset } from "../../src/data/index.js";
import {
  DETECTORS,
  computeEer,
  evaluateVerification,
  zeroMissFalseAlarmRate,
} from "../../src/verify/index.js";
import { ROOT, SHARED_DATA } from "../helpers/cli.js";
import { syntheticSamples } from "./helpers.js";

const CMU = resolve(ROOT, "fixtures", "cmu-small.csv");

/** The CMU derived layout by hand: H, DD, UD in seconds → our HT, PPT, RRT, RPT vector in ms. */
function handVectors(path: string): Map<string, number[][]> {
  const [head, ...rows] = readFileSync(path, "utf8").trim().split("\n");
  const cols = head!.split(",");
  const H = cols
    .map((c, i) => [c, i] as const)
    .filter(([c]) => c.startsWith("H."))
    .map(([, i]) => i);
  const DD = cols
    .map((c, i) => [c, i] as const)
    .filter(([c]) => c.startsWith("DD."))
    .map(([, i]) => i);
  const UD = cols
    .map((c, i) => [c, i] as const)
    .filter(([c]) => c.startsWith("UD."))
    .map(([, i]) => i);
  const out = new Map<string, number[][]>();
  for (const row of rows) {
    const f = row.split(",");
    const ht = H.map((i) => Number(f[i]) * 1000);
    const ppt = DD.map((i) => Number(f[i]) * 1000);
    const rpt = UD.map((i) => Number(f[i]) * 1000);
    const rrt = ppt.map((p, k) => p - ht[k]! + ht[k + 1]!);
    const v = [...ht, ...ppt, ...rrt, ...rpt];
    if (!out.has(f[0]!)) out.set(f[0]!, []);
    out.get(f[0]!)!.push(v);
  }
  return out;
}

function scaledManhattan(train: number[][]) {
  const d = train[0]!.length;
  const mean = Array.from({ length: d }, (_, j) => train.reduce((s, v) => s + v[j]!, 0) / train.length);
  const mad = Array.from(
    { length: d },
    (_, j) => train.reduce((s, v) => s + Math.abs(v[j]! - mean[j]!), 0) / train.length,
  );
  return (x: number[]) => x.reduce((s, v, j) => s + Math.abs(v - mean[j]!) / mad[j]!, 0);
}

describe("evaluateVerification", () => {
  it.skipIf(!existsSync(CMU))(
    "matches a hand calculation of scaled Manhattan on the CMU-layout fixture",
    async () => {
      const ds = await readDataset(CMU, { requireLabel: true });
      const r = evaluateVerification(ds.samples, { detectors: ["manhattan-scaled"] });
      const hand = handVectors(CMU);
      const users = [...hand.keys()];
      const expected = users.map((u) => {
        const all = hand.get(u)!;
        const half = Math.floor(all.length / 2);
        const score = scaledManhattan(all.slice(0, half));
        const gen = all.slice(half).map(score);
        const imp = users.filter((o) => o !== u).flatMap((o) => hand.get(o)!.slice(0, 5).map(score));
        return { eer: computeEer(gen, imp).eer, zm: zeroMissFalseAlarmRate(gen, imp) };
      });
      const det = r.detectors["manhattan-scaled"]!;
      expect(det.perUser.map((p) => String(p.user))).toEqual(users);
      det.perUser.forEach((p, i) => expect(p.eer).toBeCloseTo(expected[i]!.eer, 9));
      const mean = expected.reduce((s, e) => s + e.eer, 0) / users.length;
      expect(det.eer.mean).toBeCloseTo(mean, 9);
      expect(det.zeroMissFar).toBeCloseTo(expected.reduce((s, e) => s + e.zm, 0) / users.length, 9);
      expect(r.protocol.genuineSamples).toBe(
        users.reduce((s, u) => s + hand.get(u)!.length - Math.floor(hand.get(u)!.length / 2), 0),
      );
      expect(r.protocol.impostorSamples).toBe(users.length * (users.length - 1) * 5);
    },
  );

  it("reports every detector with a ROC of at most 200 points and picks the lowest mean EER", () => {
    const samples = syntheticSamples(6, 10);
    const r = evaluateVerification(samples, { enrol: 4, impostors: 3 });
    expect(Object.keys(r.detectors)).toHaveLength(DETECTORS.length);
    for (const d of Object.values(r.detectors)) {
      expect(d.perUser).toHaveLength(6);
      for (const p of d.perUser) expect(p.eer).toBeGreaterThanOrEqual(0);
      expect(d.roc.length).toBeLessThanOrEqual(200);
      for (let i = 1; i < d.roc.length; i++) {
        expect(d.roc[i]!.threshold).toBeGreaterThan(d.roc[i - 1]!.threshold);
        expect(d.roc[i]!.far).toBeGreaterThanOrEqual(d.roc[i - 1]!.far);
        expect(d.roc[i]!.frr).toBeLessThanOrEqual(d.roc[i - 1]!.frr);
      }
      expect(d.eerPoint.far).toBeCloseTo(d.eerPoint.frr, 12);
    }
    const means = Object.entries(r.detectors).map(([k, d]) => [k, d.eer.mean] as const);
    expect(r.detectors[r.best]!.eer.mean).toBe(Math.min(...means.map(([, m]) => m)));
    expect(r.protocol).toMatchObject({
      enrol: 4,
      impostorsPerUser: 3,
      users: 6,
      genuineSamples: 36,
      impostorSamples: 90,
    });
  });

  it("skips users too small to enrol and says why", () => {
    const samples = syntheticSamples(4, 8).filter((s, i) => !(s.label === 2 && i > 16));
    const r = evaluateVerification(samples, { detectors: ["manhattan-scaled"] });
    expect(r.protocol.skipped.map((s) => s.user)).toEqual([2]);
  });

  it.skipIf(!existsSync(SHARED_DATA))(
    "meets the target on the real data: best mean EER ≤ 0.05",
    async () => {
      const ds = await readDataset(SHARED_DATA, { requireLabel: true });
      const r = evaluateVerification(ds.samples, {
        detectors: ["manhattan-scaled", "manhattan-robust-cohort"],
      });
      expect(r.protocol.users).toBe(110);
      expect(r.best).toBe("manhattan-robust-cohort");
      expect(r.detectors["manhattan-robust-cohort"]!.eer.mean).toBeLessThanOrEqual(0.05);
      expect(r.detectors["manhattan-scaled"]!.eer.mean).toBeGreaterThan(
        r.detectors["manhattan-robust-cohort"]!.eer.mean,
      );
    },
    180_000,
  );
});

describe("protocols, operating points and the suite", () => {
  it("FRR at a FAR target: the threshold lets in at most that share of impostors", async () => {
    const { frrAtFar } = await import("../../src/verify/index.js");
    const imp = Array.from({ length: 100 }, (_, i) => i + 1); // 1..100
    // FAR 1% lets one impostor (score 1) in: threshold just below 2; genuine 1.5 accepted, 3 rejected
    expect(frrAtFar([1.5, 3], imp, 0.01)).toBe(0.5);
    // FAR 0.1% of 100 impostors lets none in: everything at 1 or above is rejected
    expect(frrAtFar([0.5, 1.5], imp, 0.001)).toBe(0.5);
  });

  it("the disjoint protocol builds every population from users outside the evaluated fold and says so", () => {
    const samples = syntheticSamples(12, 10);
    const r = evaluateVerification(samples, {
      protocol: "disjoint",
      enrol: 4,
      impostors: 3,
      detectors: ["manhattan-scaled", "gmm-ubm", "discriminative"],
    });
    expect(r.protocol.kind).toBe("disjoint");
    expect(r.protocol.users).toBe(12);
    expect(r.protocol.notes.join(" ")).toMatch(/only from the users outside it/);
    // 3 folds of 4 users: each user meets the 3 other users of their fold, 3 samples each
    expect(r.protocol.impostorSamples).toBe(12 * 3 * 3);
    for (const d of Object.values(r.detectors)) {
      expect(d.eer.mean).toBeGreaterThanOrEqual(0);
      expect(d.frr_at_far["0.01"]).toBeGreaterThanOrEqual(0);
    }
  });

  it("the suite keeps cells without enough samples, with the reason, and ranks detectors by mean rank", async () => {
    const { evaluateVerificationSuite, meanRanks } = await import("../../src/verify/index.js");
    const samples = syntheticSamples(8, 12);
    const runs = evaluateVerificationSuite(samples, {
      enrolSizes: [5, 50, "half"],
      protocols: ["published"],
      detectors: ["manhattan-scaled", "metric-learned"],
    });
    expect(runs.map((r) => r.enrol)).toEqual([5, 50, "half"]);
    expect(runs[1]!.skipped).toMatch(/at least 2 users/);
    expect(runs[0]!.detectors!["metric-learned"]!.eer).toBeGreaterThanOrEqual(0);
    const ranks = meanRanks([
      {
        protocol: "published",
        enrol: 5,
        detectors: {
          a: { eer: 0.1, sd: 0, frr_at_far_1pct: 0, frr_at_far_0_1pct: 0 },
          b: { eer: 0.2, sd: 0, frr_at_far_1pct: 0, frr_at_far_0_1pct: 0 },
        },
      },
      {
        protocol: "disjoint",
        enrol: 5,
        detectors: {
          a: { eer: 0.3, sd: 0, frr_at_far_1pct: 0, frr_at_far_0_1pct: 0 },
          b: { eer: 0.3, sd: 0, frr_at_far_1pct: 0, frr_at_far_0_1pct: 0 },
        },
      },
    ]);
    expect(ranks.map((r) => [r.detector, r.meanRank])).toEqual([
      ["a", 1.25],
      ["b", 1.75],
    ]);
  });
});
