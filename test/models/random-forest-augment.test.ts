import { describe, expect, it } from "vitest";
import { fitRandomForest, loadRandomForest } from "../../src/models/random-forest.js";
import {
  augmentRow,
  augmentedWidth,
  foldImportance,
  interpolateRows,
  resolveAugment,
} from "../../src/models/tree-augment.js";
import type { SerializedModel } from "../../src/models/types.js";
import { createRng, normal } from "../../src/util/random.js";

describe("interpolateRows", () => {
  const X = [
    [0, 0],
    [10, 100],
    [20, 50],
    [5, 5],
  ];
  const codes = Int32Array.from([0, 0, 0, 1]);

  it("adds perRow rows per row of a class with company, each on a segment between two rows of that class", () => {
    const out = interpolateRows(X, codes, 3, createRng(1));
    // class 1 has a single row: no partner, no synthetic rows
    expect(out.X.length).toBe(4 + 3 * 3);
    expect(out.X.slice(0, 4)).toEqual(X);
    expect([...out.codes]).toEqual([0, 0, 0, 1, ...Array(9).fill(0)]);
    const own = X.slice(0, 3);
    for (const row of out.X.slice(4)) {
      // lies on some segment a→b of two distinct class-0 rows: row − a is a multiple t ∈ [0, 1] of b − a
      const onSegment = own.some((a, i) =>
        own.some((b, j) => {
          if (i === j) return false;
          const t = (row[0]! - a[0]!) / (b[0]! - a[0]!);
          return t >= 0 && t <= 1 && Math.abs(a[1]! + t * (b[1]! - a[1]!) - row[1]!) < 1e-9;
        }),
      );
      expect(onSegment).toBe(true);
    }
  });

  it("is deterministic for a seed and returns the rows unchanged for perRow 0", () => {
    expect(interpolateRows(X, codes, 2, createRng(5))).toEqual(interpolateRows(X, codes, 2, createRng(5)));
    expect(interpolateRows(X, codes, 2, createRng(5))).not.toEqual(
      interpolateRows(X, codes, 2, createRng(6)),
    );
    expect(interpolateRows(X, codes, 0, createRng(5)).X).toEqual(X);
  });
});

describe("summary augmentation", () => {
  // HT 100±10, PPT 200±40, RRT 210±50, RPT 90±30 (mean, std)
  const row = [100, 10, 200, 40, 210, 50, 90, 30];

  it("appends the hand-computed derived features", () => {
    const out = augmentRow("summary", row);
    expect(out.slice(0, 8)).toEqual(row);
    expect(out.slice(8)).toEqual([
      100 / 200, // HT/PPT
      90 / 200, // RPT/PPT
      210 / 200, // RRT/PPT
      10 / 100, // CV of HT
      40 / 200,
      50 / 210,
      30 / 90,
      200 - 90, // mean hold of all keys but the last
      210 - 200, // (last hold − first hold)/(n − 1)
      100 - 110,
      1600 + 100 - 900, // ≈ 2·Cov(PPT, HT)
      2500 - 1600,
      800 / 400,
      900 / 1600,
    ]);
    expect(augmentedWidth("summary", 8)).toBe(out.length);
    expect(augmentRow("none", row)).toEqual(row);
  });

  it("'auto' picks summary for 8 features only; 'summary' refuses other widths", () => {
    expect(resolveAugment("auto", 8)).toBe("summary");
    expect(resolveAugment("auto", 49)).toBe("none");
    expect(resolveAugment("summary", 49)).toBeUndefined();
    expect(resolveAugment("tempo", 8)).toBeUndefined();
  });

  it("folds derived importances back onto their inputs", () => {
    const imp = new Float64Array(22);
    imp[8] = 0.5; // HT/PPT → HT.Mean and PPT.Mean
    imp[0] = 0.5;
    const folded = foldImportance("summary", imp, 8);
    expect([...folded]).toEqual([0.75, 0, 0.25, 0, 0, 0, 0, 0]);
  });

  it("a forest on 8-wide rows records augment 'summary', predicts on raw rows and reports 8 importances", async () => {
    const rng = createRng(3);
    const X: number[][] = [];
    const y: number[] = [];
    // 45 rows to train, 255 held out: enough that a lucky seed cannot make the plain forest look as good
    for (let i = 0; i < 300; i++) {
      const c = i % 3;
      // classes differ only in the HT/PPT ratio, at random tempo: a relation no single input shows
      const tempo = 100 + rng() * 300;
      const ratio = [0.3, 0.6, 0.9][c]!;
      X.push([
        tempo * ratio,
        5 + rng(),
        tempo,
        10 + rng(),
        tempo,
        10 + rng(),
        tempo * (1 - ratio),
        10 + rng(),
      ]);
      y.push(c);
    }
    const fit = (augment: string) =>
      fitRandomForest(X.slice(0, 45), y.slice(0, 45), { seed: 1, params: { nTrees: 50, augment } });
    const m = await fit("auto");
    expect(m.params.augment).toBe("summary");
    expect(m.nFeatures).toBe(8);
    const imp = m.featureImportance!();
    expect(imp.length).toBe(8);
    expect(imp.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    const acc = (mm: typeof m) =>
      X.slice(45).filter((r, i) => mm.classes[mm.predictIndex(r)] === y[45 + i]).length / (X.length - 45);
    const plain = await fit("none");
    expect(plain.params.augment).toBe("none");
    expect(acc(m)).toBeGreaterThan(acc(plain));
    expect(acc(m)).toBeGreaterThan(0.9);
    const back = loadRandomForest(JSON.parse(JSON.stringify(m.toJSON())) as SerializedModel);
    for (const r of X.slice(45)) expect(back.predictProba(r)).toEqual(m.predictProba(r));
  });
});

describe("synthetic rows in the forest", () => {
  const rng = createRng(8);
  const X: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < 40; i++) {
    X.push([(i % 4) * 10 + normal(rng), normal(rng)]);
    y.push(i % 4);
  }

  it("are recorded in params, change the trees, and keep same-seed files byte-identical", async () => {
    const fit = (synthetic: number, seed = 1) =>
      fitRandomForest(X, y, { seed, params: { nTrees: 5, synthetic } });
    const a = JSON.stringify((await fit(4)).toJSON());
    expect(JSON.stringify((await fit(4)).toJSON())).toBe(a);
    expect(JSON.stringify((await fit(0)).toJSON())).not.toBe(a);
    expect((await fit(4)).params.synthetic).toBe(4);
    // more rows to separate: more nodes
    const nodes = async (s: number) => ((await fit(s)).toJSON().state as { nodes: number }).nodes;
    expect(await nodes(4)).toBeGreaterThan(await nodes(0));
  });
});
