import { describe, expect, it, vi } from "vitest";
import type { Classifier } from "../../src/models/types.js";
import type { Label, Sample } from "../../src/data/types.js";

// A nearest-centroid stand-in for the real models, so cross-validation is tested on its own mechanics.
vi.mock("../../src/models/index.js", () => ({
  fitClassifier: async (_algorithm: string, X: number[][], y: Label[]) => {
    const classes = [...new Set(y)];
    const centroids = classes.map((c) => {
      const rows = X.filter((_, i) => y[i] === c);
      return rows[0]!.map((_, j) => rows.reduce((s, r) => s + r[j]!, 0) / rows.length);
    });
    return stub(classes, X[0]!.length, (row) => {
      const w = centroids.map((m) => Math.exp(-m.reduce((s, v, j) => s + (v - row[j]!) ** 2, 0) / 1000));
      const sum = w.reduce((s, v) => s + v, 0);
      return w.map((v) => v / sum);
    });
  },
}));

const { evaluateClassifier, crossValidate, meanSd } = await import("../../src/metrics/index.js");

function stub(classes: Label[], nFeatures: number, proba: (row: ArrayLike<number>) => number[]): Classifier {
  return {
    algorithm: "RF",
    classes,
    params: {},
    nFeatures,
    predictProba: (row) => Float64Array.from(proba(row)),
    predictIndex: (row) => {
      const p = proba(row);
      return p.indexOf(Math.max(...p));
    },
    toJSON: () => ({ algorithm: "RF", classes, params: {}, state: null }),
    featureImportance: () => Float64Array.from({ length: nFeatures }, (_, j) => (j === 0 ? 1 : 0)),
  };
}

describe("evaluateClassifier", () => {
  // the rows are the probabilities themselves
  const model = stub([1, 2, 3], 3, (row) => Array.from(row));
  const X = [
    [0.7, 0.2, 0.1], // true 1 → 1
    [0.2, 0.5, 0.3], // true 3 → 2, rank 1
    [0.1, 0.1, 0.8], // true 3 → 3
    [0.6, 0.3, 0.1], // true 9 (unseen) → 1
  ];
  const y = [1, 3, 3, 9];

  it("counts a user the model never saw as an error and lists them", () => {
    const e = evaluateClassifier(model, X, y, { rejectBelow: 0.65 });
    expect(e.samples).toBe(4);
    expect(e.accuracy).toBe(0.5);
    expect(e.top3).toBe(0.75);
    expect(e.unseenUsers).toEqual([{ user: 9, samples: 1 }]);
    expect(e.unseenSamples).toBe(1);
    expect(e.confusion.labels).toEqual([1, 2, 3, 9]);
    // users 1, 3, 9: recall 1, 1/2, 0
    expect(e.balancedAccuracy).toBeCloseTo(1 / 2, 12);
    expect(e.mostWrong.map((u) => u.user)).toEqual([9, 3]);
    expect(e.reject).toMatchObject({ accepted: 2, rejected: 2, accuracy: 1 });
    expect(e.coverage.at(-1)).toEqual({ threshold: 0.5, coverage: 1, accuracy: 0.5 });
  });

  it("refuses rows of the wrong width", () => {
    expect(() => evaluateClassifier(model, [[1, 2]], [1])).toThrow(/row 1 has 2 features.*expects 3/);
  });
});

describe("meanSd", () => {
  it("uses the sample standard deviation", () => {
    expect(meanSd([1, 2, 3, 4])).toEqual({ mean: 2.5, sd: Math.sqrt(5 / 3) });
    expect(meanSd([7])).toEqual({ mean: 7, sd: 0 });
  });
});

describe("crossValidate", () => {
  // two well-separated users and one in between, 6 samples each, 4 keys
  const samples: Sample[] = [];
  for (const [label, hold] of [
    ["a", 50],
    ["b", 150],
    ["c", 100],
  ] as const) {
    for (let r = 0; r < 6; r++) {
      const press = [0, 200, 400, 600].map((t) => t + r);
      samples.push({ label, press, release: press.map((p) => p + hold + r) });
    }
  }

  it("fits every fold, reports mean ± sd and pools the held-out predictions", async () => {
    const events: number[] = [];
    const [r] = await crossValidate(samples, {
      k: 3,
      seed: 5,
      algorithms: ["RF"],
      featureSets: ["summary"],
      onProgress: (p) => events.push(p.done),
    });
    expect(events).toEqual([1, 2, 3]);
    expect(r!.folds).toHaveLength(3);
    expect(r!.pooled.samples).toBe(18);
    expect(r!.mean.accuracy).toBeCloseTo(r!.folds.reduce((s, f) => s + f.accuracy, 0) / 3, 12);
    expect(r!.mean.accuracy).toBe(1);
    expect(r!.sd.accuracy).toBe(0);
    expect(r!.importance?.slice(0, 3)).toEqual([
      { name: "HT.Mean", value: 1 },
      { name: "HT.STD", value: 0 },
      { name: "PPT.Mean", value: 0 },
    ]);
  });

  it("repeats exactly with the same seed", async () => {
    const opts = {
      k: 2,
      seed: 9,
      algorithms: ["RF", "SVM"] as const,
      featureSets: ["summary", "timings"] as const,
    };
    const a = await crossValidate(samples, opts);
    expect(a.map((r) => `${r.algorithm}/${r.featureSet}`)).toEqual([
      "RF/summary",
      "SVM/summary",
      "RF/timings",
      "SVM/timings",
    ]);
    expect(await crossValidate(samples, opts)).toEqual(a);
  });

  it("names the row of an unlabelled sample", async () => {
    const bad = [
      ...samples,
      { press: [0, 1, 2, 3], release: [1, 2, 3, 4], source: { file: "x.csv", line: 20 } },
    ];
    await expect(
      crossValidate(bad, { k: 2, seed: 1, algorithms: ["RF"], featureSets: ["summary"] }),
    ).rejects.toThrow(/x\.csv:20/);
  });
});
