import { describe, expect, it } from "vitest";
import { createScratch, decisionValues } from "../../src/models/svm-predict.js";
import { loadLibsvm, trainSvc } from "../../src/models/svm-libsvm.js";
import { assembleModel, solvePairs, trainOneVsOne, type SolverData } from "../../src/models/svm-solver.js";
import { createRng, normal } from "../../src/util/random.js";

// 6 classes of 4-feature rows around random centres, grouped by class as the solver wants them
function data(seed: number, perClass: number[]): { rows: number[][]; y: number[] } {
  const rng = createRng(seed);
  const rows: number[][] = [];
  const y: number[] = [];
  perClass.forEach((n, c) => {
    const centre = Array.from({ length: 4 }, () => 2 * normal(rng));
    for (let i = 0; i < n; i++) {
      rows.push(centre.map((v) => v + normal(rng)));
      y.push(c);
    }
  });
  return { rows, y };
}

const flat = (rows: number[][], y: number[]): SolverData => ({
  X: Float64Array.from(rows.flat()),
  d: rows[0]!.length,
  y: Int32Array.from(y),
});

describe("our SMO solver against libsvm (the oracle, same problem)", () => {
  for (const kernel of ["rbf", "laplacian"] as const) {
    it(`gives libsvm's decision values (${kernel}; libsvm shrinks, we do not, so they agree to the stopping tolerance)`, async () => {
      const { rows, y } = data(5, [9, 7, 12, 5, 8, 10]);
      const opts = { C: 4, gamma: 0.3, kernel };
      const ours = trainOneVsOne(flat(rows, y), opts);
      const lib = await loadLibsvm();
      const ref = trainSvc(lib, rows, y, opts);
      expect(ours.labels).toEqual(ref.labels);
      expect(ours.core.nSV.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
      const so = createScratch(ours.core);
      const sr = createScratch(ref.core);
      const rng = createRng(2);
      let agree = 0;
      for (let t = 0; t < 60; t++) {
        const x = Array.from({ length: 4 }, () => 3 * normal(rng));
        const a = decisionValues(ours.core, x, so);
        const b = decisionValues(ref.core, x, sr);
        for (let p = 0; p < a.length; p++) {
          expect(Math.abs(a[p]! - b[p]!)).toBeLessThan(0.02);
          if (Math.sign(a[p]!) === Math.sign(b[p]!)) agree++;
        }
      }
      expect(agree / (60 * 15)).toBeGreaterThan(0.98);
    });
  }

  it("solves any split of the pairs into the same model (threads may take any share)", () => {
    const { rows, y } = data(7, [6, 6, 6, 6, 6]);
    const d = flat(rows, y);
    const opts = { C: 10, gamma: 0.5, kernel: "laplacian" as const };
    const whole = trainOneVsOne(d, opts);
    const split = assembleModel(d, opts, [
      ...solvePairs(d, opts, 0, 3),
      ...solvePairs(d, opts, 3, 7),
      ...solvePairs(d, opts, 7, 10),
    ]);
    expect(Array.from(split.core.coef)).toEqual(Array.from(whole.core.coef));
    expect(Array.from(split.core.rho)).toEqual(Array.from(whole.core.rho));
    expect(Array.from(split.core.sv)).toEqual(Array.from(whole.core.sv));
  });

  it("refuses rows that are not grouped by class", () => {
    expect(() => trainOneVsOne(flat([[0], [1], [2]], [1, 0, 1]), { C: 1, gamma: 1, kernel: "rbf" })).toThrow(
      /grouped/,
    );
  });
});
