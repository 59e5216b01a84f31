import { describe, expect, it } from "vitest";
import {
  argmax,
  createScratch,
  decisionValues,
  laplacianKernel,
  multiclassProbability,
  predictProbabilities,
  rbfKernel,
  sigmoidPredict,
  sigmoidTrain,
  sigmoidTrainSymmetric,
  type SvmCore,
} from "../../src/models/svm-predict.js";
import { applyScaler, fitScaler, signedLog } from "../../src/models/svm-scaler.js";

/** Two classes, one support vector each: small enough to evaluate by hand. */
function twoClassCore(): SvmCore {
  return {
    nClass: 2,
    nFeatures: 2,
    kernel: "rbf",
    gamma: 1,
    nSV: [1, 1],
    sv: Float64Array.from([0, 0, 1, 0]),
    coef: Float64Array.from([0.5, -0.5]),
    rho: Float64Array.from([0.1]),
    probA: Float64Array.from([-2]),
    probB: Float64Array.from([0.25]),
  };
}

describe("RBF kernel and decision values", () => {
  it("computes exp(-gamma |a-b|^2)", () => {
    expect(rbfKernel([0, 0], [1, 2], 0.5)).toBeCloseTo(Math.exp(-2.5), 15);
    expect(rbfKernel([3, -1], [3, -1], 7)).toBe(1);
  });

  it("gives the hand-computed two-class decision value", () => {
    const core = twoClassCore();
    const s = createScratch(core);
    // f(x) = 0.5·K(x, sv0) − 0.5·K(x, sv1) − rho, with K(0, sv0) = 1 and K(0, sv1) = e^−1
    expect(decisionValues(core, [0, 0], s)[0]).toBeCloseTo(0.5 - 0.5 * Math.exp(-1) - 0.1, 14);
    // at x = (1, 0) the roles swap: 0.5·e^−1 − 0.5 − 0.1
    expect(decisionValues(core, [1, 0], s)[0]).toBeCloseTo(0.5 * Math.exp(-1) - 0.6, 14);
  });

  it("turns a two-class decision value into Platt probabilities", () => {
    const core = twoClassCore();
    const f = 0.5 - 0.5 * Math.exp(-1) - 0.1;
    const p0 = 1 / (1 + Math.exp(-2 * f + 0.25));
    const p = predictProbabilities(core, [0, 0], createScratch(core));
    expect(p[0]).toBeCloseTo(p0, 14);
    expect(p[1]).toBeCloseTo(1 - p0, 14);
    expect(sigmoidPredict(f, -2, 0.25)).toBeCloseTo(p0, 15);
    // the fApB >= 0 branch gives the same function
    expect(sigmoidPredict(-3, -2, 0.25)).toBeCloseTo(1 / (1 + Math.exp(6.25)), 15);
  });
});

describe("Laplacian kernel", () => {
  it("computes exp(-gamma |a-b|_1)", () => {
    expect(laplacianKernel([0, 0], [1, -2], 0.5)).toBeCloseTo(Math.exp(-1.5), 15);
    expect(laplacianKernel([3, -1], [3, -1], 7)).toBe(1);
  });

  it("gives the hand-computed decision value of a three-class core", () => {
    // one support vector per class at (0,0), (1,0), (0,2); libsvm's coef layout: row r, column s
    const core: SvmCore = {
      nClass: 3,
      nFeatures: 2,
      kernel: "laplacian",
      gamma: 0.5,
      nSV: [1, 1, 1],
      sv: Float64Array.from([0, 0, 1, 0, 0, 2]),
      coef: Float64Array.from([1, -1, -0.5, 0.5, 2, -2]),
      rho: Float64Array.from([0.1, 0.2, 0.3]),
      probA: new Float64Array(3),
      probB: new Float64Array(3),
    };
    const x = [0.5, 0.5];
    const K = [Math.exp(-0.5 * 1), Math.exp(-0.5 * 1), Math.exp(-0.5 * 2)];
    // pair (0,1): sv0 row 0, sv1 row 0; pair (0,2): sv0 row 1, sv2 row 0; pair (1,2): sv1 row 1, sv2 row 1
    const dec = decisionValues(core, x, createScratch(core));
    expect(dec[0]).toBeCloseTo(1 * K[0]! - 1 * K[1]! - 0.1, 14);
    expect(dec[1]).toBeCloseTo(0.5 * K[0]! - 0.5 * K[2]! - 0.2, 14);
    expect(dec[2]).toBeCloseTo(2 * K[1]! - 2 * K[2]! - 0.3, 14);
  });
});

/** A core with no support vectors: its decision values are −rho, chosen so that the pairwise
 * probabilities are exactly consistent with `truth` (A = −1, B = 0: r_ij = p_i / (p_i + p_j)). */
function consistentCore(truth: number[]): SvmCore {
  const k = truth.length;
  const rho: number[] = [];
  for (let i = 0; i < k; i++) for (let j = i + 1; j < k; j++) rho.push(Math.log(truth[j]! / truth[i]!));
  const pairs = rho.length;
  return {
    nClass: k,
    nFeatures: 2,
    kernel: "laplacian",
    gamma: 1,
    nSV: new Array<number>(k).fill(0),
    sv: new Float64Array(0),
    coef: new Float64Array(0),
    rho: Float64Array.from(rho),
    probA: new Float64Array(pairs).fill(-1),
    probB: new Float64Array(pairs),
  };
}

describe("Price coupling", () => {
  const truth = [0.5, 0.25, 0.15, 0.07, 0.03];

  it("recovers class probabilities from consistent pairwise ones exactly", () => {
    const core = consistentCore(truth);
    const p = predictProbabilities(core, [0, 0], createScratch(core), "price");
    truth.forEach((t, i) => expect(p[i]).toBeCloseTo(t, 12));
  });

  it("agrees with libsvm's iterative coupling there, to libsvm's stopping tolerance", () => {
    const core = consistentCore(truth);
    const s = createScratch(core);
    const price = Array.from(predictProbabilities(core, [0, 0], s, "price"));
    const wlw = Array.from(predictProbabilities(core, [0, 0], s, "wu-lin-weng"));
    price.forEach((v, i) => expect(Math.abs(v - wlw[i]!)).toBeLessThan(2e-3));
  });

  it("sums to 1 and keeps every class above 0 on inconsistent pairs", () => {
    const core = consistentCore(truth);
    // a cycle: 0 beats 1, 1 beats 2, 2 beats 0, all strongly (saturating the 1e-7 clamp)
    core.rho[0] = -40;
    core.rho[4] = -40;
    core.rho[1] = 40;
    const p = predictProbabilities(core, [0, 0], createScratch(core), "price");
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(Math.min(...p)).toBeGreaterThan(0);
  });
});

describe("pairwise coupling", () => {
  it("recovers class probabilities from consistent pairwise ones", () => {
    const truth = [0.5, 0.25, 0.15, 0.1];
    const k = truth.length;
    const r = new Float64Array(k * k);
    for (let i = 0; i < k; i++)
      for (let j = 0; j < k; j++) if (i !== j) r[i * k + j] = truth[i]! / (truth[i]! + truth[j]!);
    const p = multiclassProbability(k, r, {
      Q: new Float64Array(k * k),
      Qp: new Float64Array(k),
      p: new Float64Array(k),
    });
    // libsvm stops once the optimality error is below 0.005 / k, so agreement is to about that
    for (let i = 0; i < k; i++) expect(Math.abs(p[i]! - truth[i]!)).toBeLessThan(2e-3);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  });

  it("breaks argmax ties towards the lowest index", () => {
    expect(argmax([0.2, 0.4, 0.4])).toBe(1);
    expect(argmax([0.3])).toBe(0);
  });
});

describe("Platt fits", () => {
  it("fits a decreasing sigmoid to separable decision values", () => {
    const dec = [2, 1.5, 1, -1, -1.2, -2];
    const labels = [1, 1, 1, -1, -1, -1];
    const [A, B] = sigmoidTrain(dec, labels);
    expect(A).toBeLessThan(0);
    expect(Math.abs(B)).toBeLessThan(0.5);
    expect(sigmoidPredict(2, A, B)).toBeGreaterThan(0.75);
  });

  it("symmetric fit equals sigmoidTrain on the mirrored values", () => {
    const vals = [1.2, 0.3, -0.4, 2.5, 0.9, -1.1, 1.7];
    const mirrored = vals.flatMap((v) => [v, -v]);
    const labels = vals.flatMap(() => [1, -1]);
    const [A, B] = sigmoidTrain(mirrored, labels);
    expect(B).toBeCloseTo(0, 6);
    expect(sigmoidTrainSymmetric(vals)).toBeCloseTo(A, 4);
  });
});

describe("scaler", () => {
  it("applies a signed log, then standardises with std 0 taken as 1", () => {
    expect(signedLog(-30, 30)).toBeCloseTo(-Math.log(2), 15);
    const s = fitScaler(
      [
        [0, 5],
        [30, 5],
      ],
      "signed-log",
      30,
    );
    expect(s.std[1]).toBe(1);
    const half = Math.log(2) / 2;
    expect(s.mean[0]).toBeCloseTo(half, 15);
    expect(Array.from(applyScaler(s, [30, 5]))).toEqual(
      [1, 0].map((v, i) => (i === 0 ? expect.closeTo(v, 12) : 0)),
    );
  });
});
