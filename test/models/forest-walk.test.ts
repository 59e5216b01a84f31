import { describe, expect, it } from "vitest";
import {
  fitRandomForest,
  forestTrees,
  loadRandomForest,
  type StoredTree,
} from "../../src/models/random-forest.js";
import type { SerializedModel } from "../../src/models/types.js";
import { createRng, normal } from "../../src/util/random.js";

/** One tree at a time from the readable form, summed in tree order: what predictProba must equal bit for bit. */
function referenceProba(trees: StoredTree[], nClasses: number, row: number[]): number[] {
  const out = new Array<number>(nClasses).fill(0);
  let sum = 0;
  for (const tree of trees) {
    // where each leaf's entries start, in preorder
    const entryAt: number[] = [];
    let e = 0;
    tree.feature.forEach((f, i) => {
      entryAt[i] = e;
      if (f === -1) e += 1;
      else if (f < -1) e += -f;
    });
    let i = 0;
    while (tree.feature[i]! >= 0) i = row[tree.feature[i]!]! <= tree.threshold[i]! ? i + 1 : tree.right[i]!;
    const f = tree.feature[i]!;
    for (let k = 0, n = f === -1 ? 1 : -f; k < n; k++) {
      out[tree.leafClass[entryAt[i]! + k]!]! += tree.leafProb[entryAt[i]! + k]!;
      sum += tree.leafProb[entryAt[i]! + k]!;
    }
  }
  return out.map((v) => v / sum);
}

describe("random forest: the interleaved walk", () => {
  it("gives the same probabilities, bit for bit, as walking each tree alone (tree counts not a multiple of 4)", async () => {
    const rng = createRng(5);
    const X: number[][] = [];
    const y: number[] = [];
    // overlapping classes, so that trees end in mixed leaves as well as pure ones
    for (let i = 0; i < 240; i++) {
      const c = i % 6;
      X.push(Array.from({ length: 5 }, (_, d) => c * 3 + d + normal(rng) * 4));
      y.push(c);
    }
    for (const nTrees of [1, 3, 4, 30]) {
      const m = await fitRandomForest(X, y, { seed: 9, params: { nTrees, maxDepth: 6 } });
      const file = JSON.parse(JSON.stringify(m.toJSON())) as SerializedModel;
      const trees = forestTrees(file);
      expect(trees).toHaveLength(nTrees);
      const mixed = trees.some((t) => t.feature.some((f) => f < -1));
      if (nTrees === 30) expect(mixed).toBe(true);
      const loaded = loadRandomForest(file);
      for (let r = 0; r < 60; r++) {
        const row = Array.from({ length: 5 }, () => rng() * 25 - 3);
        const want = referenceProba(trees, m.classes.length, row);
        expect(Array.from(m.predictProba(row))).toStrictEqual(want);
        expect(Array.from(loaded.predictProba(row))).toStrictEqual(want);
      }
    }
  });
});
