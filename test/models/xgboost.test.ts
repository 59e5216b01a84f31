/* eslint-disable @typescript-eslint/no-explicit-any -- the refusal tests corrupt serialised models field by field */
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import type { Label } from "../../src/data/types.js";
import {
  fitXgboost,
  fitXgboostWithBooster,
  loadXgbWasm,
  loadXgboost,
  parseBooster,
  resolveXgbParams,
  type XgbTree,
} from "../../src/models/xgboost.js";
import type { Classifier, SerializedModel, TrainProgress } from "../../src/models/types.js";
import { createRng, normal } from "../../src/util/random.js";
import { ROOT } from "../helpers/cli.js";

/** k well-separated classes in 3 informative columns plus a column of -1/0/1/2 (ml-xgboost's binding treats -1 as missing). */
function fixture(seed: number, k: number, n: number): { X: number[][]; y: number[] } {
  const rng = createRng(seed);
  const centres = Array.from({ length: k }, () => [rng() * 100, rng() * 100, rng() * 100]);
  const X: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < k; c++) {
      X.push([...centres[c]!.map((m) => m + normal(rng) * 2), Math.floor(rng() * 4) - 1]);
      y.push(c);
    }
  }
  return { X, y };
}

// small boosted setting: the measured defaults (forest mode, 100 trees per class) are slow for unit tests.
// This file tests XGBoost's own trainer in wasm (tree_method "exact"); xgb-hist.test.ts tests ours against it.
const QUICK = {
  tree_method: "exact",
  rounds: 4,
  num_parallel_tree: 1,
  max_depth: 3,
  eta: 0.5,
  subsample: 0.8,
  colsample_bylevel: 1,
};

function accuracy(m: Classifier, X: number[][], y: Label[]): number {
  return X.filter((row, i) => m.classes[m.predictIndex(row)] === y[i]).length / X.length;
}

const roundTrip = (m: Classifier): SerializedModel =>
  JSON.parse(JSON.stringify(m.toJSON())) as SerializedModel;

describe("xgboost: learning and agreement with the wasm booster", () => {
  const train = fixture(1, 4, 30);
  const test = fixture(1, 4, 60);
  test.X = test.X.slice(120);
  test.y = test.y.slice(120);

  it("learns a separable fixture", async () => {
    const m = await fitXgboost(train.X, train.y, { seed: 3, params: QUICK });
    expect(m.algorithm).toBe("XGB");
    expect(m.nFeatures).toBe(4);
    expect(accuracy(m, test.X, test.y)).toBeGreaterThan(0.95);
  });

  it("TS probabilities match XGBoost's own predict to 1e-5 (including -1 and 0 feature values)", async () => {
    const { classifier, booster } = await fitXgboostWithBooster(train.X, train.y, {
      seed: 5,
      params: { ...QUICK, rounds: 6, max_depth: 4 },
    });
    try {
      let worst = 0;
      for (const row of [...train.X, ...test.X, [50, 50, 50, -1], [0, 0, 0, 0]]) {
        const ours = classifier.predictProba(row);
        const theirs = booster.predict(row);
        expect(theirs.length).toBe(ours.length);
        for (let c = 0; c < ours.length; c++) worst = Math.max(worst, Math.abs(ours[c]! - theirs[c]!));
      }
      expect(worst).toBeLessThan(1e-5);
    } finally {
      booster.free();
    }
  });

  it("forest mode (the default shape) also matches the wasm booster", async () => {
    const small = fixture(2, 3, 15);
    const { classifier, booster } = await fitXgboostWithBooster(small.X, small.y, {
      seed: 1,
      params: { num_parallel_tree: 10 },
    });
    try {
      for (const row of small.X) {
        const theirs = booster.predict(row);
        classifier.predictProba(row).forEach((p, c) => expect(Math.abs(p - theirs[c]!)).toBeLessThan(1e-5));
      }
      expect(accuracy(classifier, small.X, small.y)).toBeGreaterThan(0.95);
    } finally {
      booster.free();
    }
  });

  it("one round per call builds the same booster as one call for all rounds", async () => {
    const params = resolveXgbParams(QUICK);
    const m = await fitXgboost(train.X, train.y, { seed: 9, params: QUICK });
    const xgb = await loadXgbWasm();
    const n = train.X.length;
    const d = 4;
    const data = xgb.malloc(n * d * 4);
    const labels = xgb.malloc(n * 4);
    train.X.forEach((row, i) =>
      row.forEach(
        (v, j) => (xgb.heapF32()[data / 4 + i * d + j] = v === -1 ? Math.fround(-1 - 2 ** -23) : v),
      ),
    );
    train.y.forEach((c, i) => (xgb.heapF32()[labels / 4 + i] = c));
    const h = xgb.create(data, labels, n, d);
    xgb.freePtr(data);
    xgb.freePtr(labels);
    const set: Record<string, string> = {
      booster: "gbtree",
      objective: "multi:softprob",
      num_class: "4",
      silent: "1",
      nthread: "1",
      seed: "9",
    };
    for (const [k, v] of Object.entries(params)) if (k !== "rounds") set[k] = String(v);
    for (const [k, v] of Object.entries(set)) xgb.setParam(h, k, v);
    xgb.train(h, params.rounds);
    const size = xgb.save(h);
    const ptr = xgb.malloc(size);
    xgb.fileContent(ptr, size);
    const bytes = xgb.heapU8().slice(ptr, ptr + size);
    xgb.freePtr(ptr);
    xgb.free(h);
    expect((m.toJSON().state as { trees: XgbTree[] }).trees).toEqual(parseBooster(bytes, 4, d).trees);
  });
});

describe("xgboost: reading the binary booster by hand", () => {
  /** An XGBoost 0.7 binary model of 2 classes, 2 features: tree 0 (class 0) with a deleted node, tree 1 (class 1) a single leaf. */
  function handModel(): Uint8Array {
    const out: number[] = [];
    const buf = new DataView(new ArrayBuffer(8));
    const i32 = (v: number) => (buf.setInt32(0, v, true), out.push(...new Uint8Array(buf.buffer, 0, 4)));
    const f32 = (v: number) => (buf.setFloat32(0, v, true), out.push(...new Uint8Array(buf.buffer, 0, 4)));
    const str = (s: string) => (i32(s.length), i32(0), out.push(...new TextEncoder().encode(s)));
    f32(0.5); // base_score
    i32(2); // num_feature
    i32(2); // num_class
    for (let k = 0; k < 31; k++) i32(0);
    str("multi:softprob");
    str("gbtree");
    i32(2); // num_trees
    i32(1);
    i32(2);
    i32(0);
    i32(0);
    i32(0); // num_pbuffer (int64)
    i32(2); // num_output_group
    i32(0);
    for (let k = 0; k < 32; k++) i32(0);
    const tree = (nodes: [number, number, number, number, number][], deleted: number) => {
      i32(1);
      i32(nodes.length);
      i32(deleted);
      i32(2);
      i32(2);
      i32(0);
      for (let k = 0; k < 31; k++) i32(0);
      for (const [parent, left, right, feature, value] of nodes) {
        i32(parent);
        i32(left);
        i32(right);
        i32(feature);
        f32(value);
      }
      for (let k = 0; k < nodes.length * 4; k++) i32(0);
    };
    // root: feature 1 < 0.5; its LEFT child is node 2 (a leaf), its right child node 1 splits on feature 0 < 3
    tree(
      [
        [-1, 2, 1, 1, 0.5],
        [0, 3, 4, 0 | 0x80000000, 3],
        [0, -1, -1, 0, 0.25],
        [1, -1, -1, 0, -0.5],
        [1, -1, -1, 0, 0.125],
        [4, -1, -1, -1, 9], // deleted (pruned) node, unreachable
      ],
      1,
    );
    tree([[-1, -1, -1, 0, 0.75]], 0);
    i32(0); // tree_info: the class of each tree
    i32(1);
    return Uint8Array.from(out);
  }

  it("renumbers the reachable nodes in preorder and keeps float32 values short", () => {
    const state = parseBooster(handModel(), 2, 2);
    expect(state.baseScore).toBe(0.5);
    expect(state.trees).toEqual([
      { group: 0, feature: [1, -1, 0, -1, -1], value: [0.5, 0.25, 3, -0.5, 0.125], right: [2, 0, 4, 0, 0] },
      { group: 1, feature: [-1], value: [0.75], right: [0] },
    ]);
  });

  it("sums leaves per class over base_score and applies softmax", () => {
    const m = loadXgboost({
      algorithm: "XGB",
      classes: ["a", "b"],
      params: {},
      state: parseBooster(handModel(), 2, 2),
    });
    const p0 = (margin0: number) => 1 / (1 + Math.exp(0.5 + 0.75 - margin0));
    expect(m.predictProba([0, 0])[0]).toBeCloseTo(p0(0.5 + 0.25), 12); // feature 1 < 0.5: left leaf
    expect(m.predictProba([5, 1])[0]).toBeCloseTo(p0(0.5 + 0.125), 12); // feature 0 ≥ 3
    expect(m.predictProba([2, 1])[0]).toBeCloseTo(p0(0.5 - 0.5), 12);
    expect(m.predictProba([-1, 1])[0]).toBeCloseTo(p0(0), 12); // -1 is an ordinary value, not "missing"
    expect(m.predictIndex([0, 0])).toBe(1);
  });

  it("refuses a truncated or foreign booster", () => {
    const bytes = handModel();
    expect(() => parseBooster(bytes.slice(0, bytes.length - 30), 2, 2)).toThrow(
      expect.objectContaining({ code: "IO" }),
    );
    expect(() => parseBooster(bytes, 3, 2)).toThrow(/3 classes|classes/);
  });
});

describe("xgboost: labels, progress, determinism, save/load", () => {
  const { X, y } = fixture(4, 3, 20);

  it("keeps string labels and orders classes numbers first", async () => {
    const names = ["zed", 7, "amy"];
    const m = await fitXgboost(
      X,
      y.map((c) => names[c]!),
      { seed: 1, params: { ...QUICK, rounds: 2 } },
    );
    expect(m.classes).toEqual([7, "amy", "zed"]);
    expect(
      accuracy(
        m,
        X,
        y.map((c) => names[c]!),
      ),
    ).toBeGreaterThan(0.95);
  });

  it("reports one progress event per round", async () => {
    const events: TrainProgress[] = [];
    await fitXgboost(X, y, { seed: 1, params: { ...QUICK, rounds: 3 }, onProgress: (p) => events.push(p) });
    expect(events.map((e) => e.done)).toEqual([1, 2, 3]);
    expect(events.every((e) => e.total === 3 && e.phase === "rounds" && e.algorithm === "XGB")).toBe(true);
  });

  it("same seed gives byte-identical JSON, another seed a different one", async () => {
    const fit = (seed: number) => fitXgboost(X, y, { seed, params: QUICK });
    const a = JSON.stringify((await fit(11)).toJSON());
    expect(JSON.stringify((await fit(11)).toJSON())).toBe(a);
    expect(JSON.stringify((await fit(12)).toJSON())).not.toBe(a);
  });

  it("save → load gives identical probabilities", async () => {
    const m = await fitXgboost(X, y, { seed: 2, params: QUICK });
    const back = loadXgboost(roundTrip(m));
    expect(back.params).toEqual(m.params);
    for (const row of fixture(77, 3, 5).X) expect(back.predictProba(row)).toEqual(m.predictProba(row));
  });

  it("loads and predicts without wasm, and fitting prints nothing on stderr", () => {
    const url = (p: string) => pathToFileURL(resolve(ROOT, "dist", p)).href;
    const script = `
      const { fitXgboost, loadXgboost } = await import(${JSON.stringify(url("models/xgboost.js"))});
      const before = process.listeners("uncaughtException").length;
      const X = [[0, 1], [1, 0], [0, 2], [2, 0], [0, 3], [3, 0]];
      const m = await fitXgboost(X, [0, 1, 0, 1, 0, 1], { seed: 1, params: { tree_method: "exact", rounds: 2, num_parallel_tree: 1, subsample: 1, colsample_bylevel: 1, min_child_weight: 0 } });
      const again = loadXgboost(JSON.parse(JSON.stringify(m.toJSON())));
      process.stdout.write(JSON.stringify({ listeners: process.listeners("uncaughtException").length - before, p: [...again.predictProba([0, 5])] }));
    `;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { listeners: number; p: number[] };
    expect(out.listeners).toBe(0);
    expect(out.p[0]).toBeGreaterThan(out.p[1]!);
  });
});

describe("xgboost: defaults", () => {
  it("uses fewer trees per class for narrow inputs such as the 8 summary numbers, unless told otherwise", () => {
    const wide = resolveXgbParams({}, 49).num_parallel_tree;
    const narrow = resolveXgbParams({}, 8).num_parallel_tree;
    expect(narrow).toBeLessThan(wide);
    expect(resolveXgbParams({ num_parallel_tree: 50 }, 8).num_parallel_tree).toBe(50);
  });
});

describe("xgboost: refusals", () => {
  const { X, y } = fixture(4, 3, 10);
  let good: SerializedModel | undefined;
  const corrupt = async (mutate: (m: any) => void) => {
    good ??= roundTrip(await fitXgboost(X, y, { seed: 1, params: { ...QUICK, rounds: 2 } }));
    const m = structuredClone(good);
    mutate(m);
    return () => loadXgboost(m);
  };
  const cases: [string, (m: any) => void][] = [
    ["wrong algorithm", (m) => (m.algorithm = "RF")],
    ["no trees", (m) => (m.state.trees = [])],
    ["missing baseScore", (m) => delete m.state.baseScore],
    ["group out of range", (m) => (m.state.trees[0].group = 3)],
    ["feature out of range", (m) => (m.state.trees[0].feature[0] = 4)],
    ["unequal arrays", (m) => m.state.trees[0].value.pop()],
    ["a cycle", (m) => (m.state.trees[0].right[0] = 0)],
    ["non-number value", (m) => (m.state.trees[0].value[0] = null)],
    ["params not an object", (m) => (m.params = "x")],
  ];
  for (const [name, mutate] of cases) {
    it(`refuses a model file with ${name} (BAD_MODEL_FILE)`, async () => {
      expect(await corrupt(mutate)).toThrow(expect.objectContaining({ code: "BAD_MODEL_FILE" }));
    });
  }

  it("refuses bad params, a single class and rows of the wrong width", async () => {
    for (const params of [
      { rounds: 0 },
      { eta: 2 },
      { max_depth: 1.5 },
      { subsample: 0 },
      { booster: "dart" },
      { eta: "0.3" },
    ]) {
      expect(() => resolveXgbParams(params)).toThrow(expect.objectContaining({ code: "BAD_FLAG" }));
    }
    await expect(fitXgboost([[1], [2]], [5, 5], { seed: 1 })).rejects.toMatchObject({
      code: "TOO_FEW_SAMPLES",
    });
    const m = await fitXgboost(X, y, { seed: 1, params: { ...QUICK, rounds: 1 } });
    expect(() => m.predictProba([1, 2])).toThrow(expect.objectContaining({ code: "BAD_REQUEST" }));
  });
});
