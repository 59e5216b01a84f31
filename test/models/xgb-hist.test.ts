import { describe, expect, it } from "vitest";
import { binFeatures } from "../../src/models/xgb-hist.js";
import {
  fitXgboost,
  fitXgboostPart,
  fitXgboostWithBooster,
  mergeXgbParts,
  resolveXgbParams,
  xgbChunks,
  type XgbPart,
} from "../../src/models/xgboost.js";
import type { TrainProgress } from "../../src/models/types.js";
import { createRng, normal } from "../../src/util/random.js";

/** k classes whose means differ per column, values rounded to 0.01 (few repeats, so the trees are unique). */
function rows(seed: number, k: number, n: number, d: number): { X: number[][]; y: number[] } {
  const rng = createRng(seed);
  const X: number[][] = [];
  const y: number[] = [];
  for (let c = 0; c < k; c++) {
    for (let i = 0; i < n; i++) {
      X.push(
        Array.from(
          { length: d },
          (_, j) => Math.round((((c * (j + 1)) % 5) + normal(rng) * 1.5) * 100) / 100,
        ),
      );
      y.push(c);
    }
  }
  return { X, y };
}

const identity = (v: number) => Math.fround(v);

describe("xgb hist trainer: binning", () => {
  it("gives every distinct value its own bin when there are few, in value order", () => {
    const X = [[3], [1], [2], [3], [1]];
    const b = binFeatures(X, identity, 256);
    expect(Array.from(b.bins)).toEqual([2, 0, 1, 2, 0]);
    expect(Array.from(b.binLo[0]!)).toEqual([1, 2, 3]);
    expect(Array.from(b.binHi[0]!)).toEqual([1, 2, 3]);
  });

  it("makes at most maxBins bins of about equal size, never splitting equal values", () => {
    const rng = createRng(5);
    const X = Array.from({ length: 2000 }, () => [Math.floor(rng() * 700) / 7]);
    X.push(...Array.from({ length: 300 }, () => [50]));
    const b = binFeatures(X, identity, 16);
    const nb = b.binLo[0]!.length;
    expect(nb).toBeLessThanOrEqual(16);
    expect(nb).toBeGreaterThanOrEqual(12);
    const counts = new Array<number>(nb).fill(0);
    X.forEach((row, i) => {
      const bin = b.bins[i]!;
      counts[bin]!++;
      // each row's value (as float32, as binned) lies within its bin's range; the ranges are ordered and disjoint
      expect(Math.fround(row[0]!)).toBeGreaterThanOrEqual(b.binLo[0]![bin]!);
      expect(Math.fround(row[0]!)).toBeLessThanOrEqual(b.binHi[0]![bin]!);
    });
    for (let k = 1; k < nb; k++) expect(b.binLo[0]![k]!).toBeGreaterThan(b.binHi[0]![k - 1]!);
    // the 300 copies of 50 sit in one bin; apart from that bin, none holds more than twice its share
    const fifty = b.bins[2000]!;
    counts.forEach((c, k) => {
      if (k !== fifty) expect(c).toBeLessThanOrEqual((2 * 2300) / 16);
    });
  });
});

describe("xgb hist trainer: the same trees as XGBoost's exact method where the bins hold single values", () => {
  const train = rows(3, 4, 20, 5);
  const test = rows(4, 4, 10, 5).X;
  // every rule the trainer implements: min_child_weight, boosting rounds with eta, λ, α, γ, max_delta_step
  for (const params of [
    { num_parallel_tree: 1, max_depth: 3, colsample_bylevel: 1 },
    { num_parallel_tree: 1, max_depth: 6, colsample_bylevel: 1, min_child_weight: 1 },
    { rounds: 4, num_parallel_tree: 1, max_depth: 3, eta: 0.3, colsample_bylevel: 1, min_child_weight: 0.5 },
    {
      rounds: 3,
      num_parallel_tree: 1,
      max_depth: 4,
      eta: 0.5,
      colsample_bylevel: 1,
      lambda: 0.5,
      alpha: 0.1,
      gamma: 0.05,
    },
    { rounds: 2, num_parallel_tree: 1, max_depth: 4, eta: 0.5, colsample_bylevel: 1, max_delta_step: 0.7 },
  ]) {
    it(JSON.stringify(params), async () => {
      const { booster } = await fitXgboostWithBooster(train.X, train.y, { seed: 1, params });
      try {
        const hist = await fitXgboost(train.X, train.y, {
          seed: 1,
          params: { ...params, tree_method: "hist" },
        });
        const exact = await fitXgboost(train.X, train.y, {
          seed: 1,
          params: { ...params, tree_method: "exact" },
        });
        const nodes = (m: typeof hist) =>
          (m.toJSON().state as { trees: { feature: number[] }[] }).trees.map((t) => t.feature);
        // the same splits on the same features in every tree
        expect(nodes(hist)).toEqual(nodes(exact));
        for (const row of test) {
          const h = hist.predictProba(row);
          const e = exact.predictProba(row);
          const xgb = booster.predict(row);
          for (let c = 0; c < h.length; c++) {
            expect(Math.abs(h[c]! - e[c]!)).toBeLessThan(1e-6);
            expect(Math.abs(h[c]! - xgb[c]!)).toBeLessThan(1e-6);
          }
        }
      } finally {
        booster.free();
      }
    });
  }
});

describe("xgb hist trainer: forest mode, threads, progress", () => {
  const data = rows(8, 6, 15, 7);

  it("joins chunks fitted apart into the model fitted in one piece, whatever the order they arrive in", async () => {
    const params = { num_parallel_tree: 50, max_depth: 4, tree_method: "hist" };
    expect(xgbChunks(params, 7)).toHaveLength(2);
    const whole = JSON.stringify((await fitXgboost(data.X, data.y, { seed: 4, params })).toJSON());
    const parts: XgbPart[] = [];
    for (const chunk of [1, 0]) parts.push(await fitXgboostPart(data.X, data.y, { seed: 4, params }, chunk));
    expect(JSON.stringify(mergeXgbParts(data.X, data.y, { seed: 4, params }, parts).toJSON())).toBe(whole);
    const other = JSON.stringify((await fitXgboost(data.X, data.y, { seed: 5, params })).toJSON());
    expect(other).not.toBe(whole);
  });

  it("samples features per level: with one feature per level the trees differ from tree to tree", async () => {
    const m = await fitXgboost(data.X, data.y, {
      seed: 2,
      params: { num_parallel_tree: 6, max_depth: 3, colsample_bylevel: 0.1, tree_method: "hist" },
    });
    const trees = (m.toJSON().state as { trees: { group: number; feature: number[] }[] }).trees;
    expect(trees).toHaveLength(6 * 6);
    const roots = new Set(trees.filter((t) => t.group === 0).map((t) => t.feature[0]));
    expect(roots.size).toBeGreaterThan(1);
  });

  it("reports progress with increasing done up to the total trees", async () => {
    const events: TrainProgress[] = [];
    await fitXgboost(data.X, data.y, {
      seed: 1,
      params: { num_parallel_tree: 3, max_depth: 3, tree_method: "hist" },
      onProgress: (p) => events.push(p),
    });
    expect(events.length).toBeGreaterThan(0);
    expect(events.at(-1)).toMatchObject({ algorithm: "XGB", done: 18, total: 18 });
    for (let i = 1; i < events.length; i++) expect(events[i]!.done).toBeGreaterThan(events[i - 1]!.done);
  });

  it("with row subsampling over boosting rounds, or features sampled per tree, learns as well as XGBoost's exact method", async () => {
    const train = rows(11, 4, 40, 6);
    const test = rows(12, 4, 20, 6);
    const score = async (params: object, method: string) => {
      const m = await fitXgboost(train.X, train.y, { seed: 3, params: { ...params, tree_method: method } });
      return test.X.filter((row, i) => m.classes[m.predictIndex(row)] === test.y[i]).length / test.X.length;
    };
    for (const params of [
      { rounds: 6, num_parallel_tree: 1, max_depth: 3, eta: 0.5, subsample: 0.7, colsample_bylevel: 1 },
      { num_parallel_tree: 20, max_depth: 4, colsample_bytree: 0.5, colsample_bylevel: 1 },
    ]) {
      // random draws differ between the two trainers, so the models do too: chance is 0.25, exact scores ~0.73
      const hist = await score(params, "hist");
      expect(hist).toBeGreaterThan(0.5);
      expect(hist).toBeGreaterThanOrEqual((await score(params, "exact")) - 0.05);
    }
  });

  it("refuses an unknown tree_method, naming the parameter", () => {
    expect(() => resolveXgbParams({ tree_method: "approx" })).toThrow(
      expect.objectContaining({ code: "BAD_FLAG", message: expect.stringContaining("tree_method") }),
    );
  });
});
