// Pure-TypeScript evaluation of a libsvm C-SVC model with an RBF kernel: decision values, Platt's
// pairwise probabilities and the multi-class pairwise coupling, following libsvm 3.22's svm.cpp
// (svm_predict_values, sigmoid_predict, multiclass_probability) so results match libsvm-js.

/** The kernels prediction knows: RBF exp(−γ·|x − z|²) and Laplacian exp(−γ·|x − z|₁). */
export type SvmKernel = "rbf" | "laplacian";
export const SVM_KERNELS: readonly SvmKernel[] = ["rbf", "laplacian"];

/**
 * How pairwise probabilities become class probabilities: "wu-lin-weng" is libsvm's iterative
 * coupling; "price" is the closed form of Price et al. (1995), one pass over the pairs.
 */
export type SvmCoupling = "wu-lin-weng" | "price";
export const SVM_COUPLINGS: readonly SvmCoupling[] = ["wu-lin-weng", "price"];

/** A trained C-SVC in libsvm's layout (model class order), with full-precision numbers. */
export interface SvmCore {
  /** Number of classes (libsvm's nr_class). */
  nClass: number;
  /** Number of input features. */
  nFeatures: number;
  kernel: SvmKernel;
  /** Kernel width: K(x, z) = exp(−gamma · distance), squared Euclidean (rbf) or L1 (laplacian). */
  gamma: number;
  /** Support vectors per class, in model class order (libsvm's nSV). */
  nSV: number[];
  /** Support vectors, rows grouped by class as nSV says, each nFeatures long (flat, row-major). */
  sv: Float64Array;
  /** libsvm's sv_coef: (nClass − 1) rows of l coefficients (flat, row-major). */
  coef: Float64Array;
  /** One offset per class pair (i < j, in model order). */
  rho: Float64Array;
  /** Platt sigmoid parameters per class pair: P(i beats j) = 1 / (1 + exp(A·f + B)). */
  probA: Float64Array;
  probB: Float64Array;
}

/** libsvm's clamp of pairwise probabilities, which keeps the coupling away from 0 and 1. */
const MIN_PROB = 1e-7;

/** RBF kernel value exp(−gamma · |a − b|²) of two equally long vectors. */
export function rbfKernel(a: ArrayLike<number>, b: ArrayLike<number>, gamma: number): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    sum += d * d;
  }
  return Math.exp(-gamma * sum);
}

/** Laplacian kernel value exp(−gamma · |a − b|₁) of two equally long vectors. */
export function laplacianKernel(a: ArrayLike<number>, b: ArrayLike<number>, gamma: number): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return Math.exp(-gamma * sum);
}

/** Reusable buffers (and the coefficients re-laid for speed) so a prediction allocates nothing. */
export interface SvmScratch {
  kvalue: Float64Array;
  /** sv_coef transposed: per support vector, its k − 1 coefficients against the other classes. */
  coefT: Float64Array;
  /** Per class, the k − 1 sums Σ coef·K over its support vectors, one per other class. */
  V: Float64Array;
  start: Int32Array;
  nSV: Int32Array;
  dec: Float64Array;
  /** k × k, only for the "wu-lin-weng" coupling: allocated on its first use (800 MB at 10,000 users otherwise). */
  Q: Float64Array | null;
  Qp: Float64Array;
  p: Float64Array;
}

/** Allocates the buffers predictions on this model reuse. */
export function createScratch(m: SvmCore): SvmScratch {
  const k = m.nClass;
  const l = m.sv.length / Math.max(1, m.nFeatures);
  const start = new Int32Array(k);
  for (let i = 1; i < k; i++) start[i] = start[i - 1]! + m.nSV[i - 1]!;
  const coefT = new Float64Array(l * Math.max(0, k - 1));
  for (let r = 0; r < k - 1; r++) for (let s = 0; s < l; s++) coefT[s * (k - 1) + r] = m.coef[r * l + s]!;
  return {
    kvalue: new Float64Array(l),
    coefT,
    V: new Float64Array(k * Math.max(0, k - 1)),
    start,
    nSV: Int32Array.from(m.nSV),
    dec: new Float64Array((k * (k - 1)) / 2),
    Q: null,
    Qp: new Float64Array(k),
    p: new Float64Array(k),
  };
}

/** Kernel values of one (already scaled) row against every support vector, into s.kvalue. */
function kernelValues(m: SvmCore, x: ArrayLike<number>, kv: Float64Array): void {
  const d = m.nFeatures;
  const l = kv.length;
  const sv = m.sv;
  const g = -m.gamma;
  if (m.kernel === "laplacian") {
    for (let i = 0, o = 0; i < l; i++, o += d) {
      let sum = 0;
      for (let f = 0; f < d; f++) sum += Math.abs(x[f]! - sv[o + f]!);
      kv[i] = Math.exp(g * sum);
    }
  } else {
    for (let i = 0, o = 0; i < l; i++, o += d) {
      let sum = 0;
      for (let f = 0; f < d; f++) {
        const diff = x[f]! - sv[o + f]!;
        sum += diff * diff;
      }
      kv[i] = Math.exp(g * sum);
    }
  }
}

/**
 * The k(k−1)/2 one-vs-one decision values of one (already scaled) row, as libsvm's
 * svm_predict_values. Each support vector of class i carries k − 1 coefficients, one per other class;
 * summing them per class first (V[i][·], long contiguous loops) and then pairing
 * dec(i, j) = V[i][j − 1] + V[j][i] − rho costs the same multiply-adds as libsvm's per-pair loops,
 * without ~12,000 short loops over 5–7 support vectors each.
 */
export function decisionValues(m: SvmCore, x: ArrayLike<number>, s: SvmScratch): Float64Array {
  // locals, not property loads, inside the hot loops (V8 cannot hoist loads past the typed-array stores)
  const kv = s.kvalue;
  kernelValues(m, x, kv);
  const k = m.nClass;
  const k1 = k - 1;
  const coefT = s.coefT;
  const V = s.V;
  const start = s.start;
  const nSV = s.nSV;
  V.fill(0);
  for (let i = 0; i < k; i++) {
    const vo = i * k1;
    const end = start[i]! + nSV[i]!;
    let t = start[i]!;
    // two support vectors per sweep: half the loads and stores of V
    for (; t + 1 < end; t += 2) {
      const ka = kv[t]!;
      const kb = kv[t + 1]!;
      const ca = t * k1;
      const cb = ca + k1;
      for (let r = 0; r < k1; r++) V[vo + r] = V[vo + r]! + coefT[ca + r]! * ka + coefT[cb + r]! * kb;
    }
    if (t < end) {
      const ka = kv[t]!;
      const ca = t * k1;
      for (let r = 0; r < k1; r++) V[vo + r] = V[vo + r]! + coefT[ca + r]! * ka;
    }
  }
  const rho = m.rho;
  const dec = s.dec;
  let p = 0;
  for (let i = 0; i < k; i++) {
    const vi = i * k1 - 1;
    for (let j = i + 1; j < k; j++) {
      dec[p] = V[vi + j]! + V[j * k1 + i]! - rho[p]!;
      p++;
    }
  }
  return dec;
}

/** Platt's sigmoid 1 / (1 + exp(A·f + B)), written as libsvm does to avoid cancellation. */
export function sigmoidPredict(f: number, A: number, B: number): number {
  const fApB = f * A + B;
  if (fApB >= 0) {
    const e = Math.exp(-fApB);
    return e / (1 + e);
  }
  return 1 / (1 + Math.exp(fApB));
}

/**
 * Couples pairwise probabilities r (k × k, r[i][j] = P(i beats j), flat) into class probabilities
 * (Wu, Lin & Weng 2004, method 2; libsvm's multiclass_probability, same iteration and stopping rule).
 */
export function multiclassProbability(
  k: number,
  r: Float64Array,
  s: Pick<SvmScratch, "Q" | "Qp" | "p">,
): Float64Array {
  const Q = (s.Q ??= new Float64Array(k * k));
  for (let t = 0; t < k; t++) Q[t * k + t] = 0;
  for (let i = 0; i < k; i++) {
    for (let j = i + 1; j < k; j++) {
      const q = -r[j * k + i]! * r[i * k + j]!;
      Q[i * k + j] = q;
      Q[j * k + i] = q;
      Q[i * k + i] = Q[i * k + i]! + r[j * k + i]! * r[j * k + i]!;
      Q[j * k + j] = Q[j * k + j]! + r[i * k + j]! * r[i * k + j]!;
    }
  }
  return coupleQ(k, s);
}

/**
 * The iteration of libsvm's multiclass_probability on a prepared Q (Q[t][t] = Σ_j r_jt², Q[t][j] =
 * −r_jt·r_tj). libsvm divides all of p and Qp by (1 + diff) after each step and recomputes Qp = Q·p
 * before each stopping test; here one common factor S stands for the divisions (p = S·p̃,
 * Qp = S·Q̃p) and the updated Qp is used for the test, so a sweep costs k² instead of 3k² — the
 * same iterates up to rounding (differences ~1e-15).
 */
function coupleQ(k: number, s: Pick<SvmScratch, "Q" | "Qp" | "p">): Float64Array {
  const { Qp, p } = s;
  const Q = s.Q!;
  const maxIter = Math.max(100, k);
  const eps = 0.005 / k;
  for (let t = 0; t < k; t++) p[t] = 1 / k;
  for (let t = 0; t < k; t++) {
    let acc = 0;
    const row = t * k;
    for (let j = 0; j < k; j++) acc += Q[row + j]!;
    Qp[t] = acc / k;
  }
  for (let iter = 0; iter < maxIter; iter++) {
    let pQp = 0;
    for (let t = 0; t < k; t++) pQp += p[t]! * Qp[t]!;
    let maxError = 0;
    for (let t = 0; t < k; t++) {
      const e = Math.abs(Qp[t]! - pQp);
      if (e > maxError) maxError = e;
    }
    if (maxError < eps) break;
    let S = 1;
    for (let t = 0; t < k; t++) {
      const row = t * k;
      const qtt = Q[row + t]!;
      const qpt = S * Qp[t]!;
      const diff = (-qpt + pQp) / qtt;
      p[t] = p[t]! + diff / S;
      const d1 = 1 + diff;
      pQp = (pQp + diff * (diff * qtt + 2 * qpt)) / d1 / d1;
      const step = diff / S;
      for (let j = 0; j < k; j++) Qp[j] = Qp[j]! + step * Q[row + j]!;
      S /= d1;
    }
    for (let j = 0; j < k; j++) {
      p[j] = p[j]! * S;
      Qp[j] = Qp[j]! * S;
    }
  }
  return p;
}

/**
 * Class probabilities of one scaled row, in model class order (libsvm's svm_predict_probability with
 * the "wu-lin-weng" coupling). Returns the scratch `p` buffer: copy it before the next call.
 */
export function predictProbabilities(
  m: SvmCore,
  x: ArrayLike<number>,
  s: SvmScratch,
  coupling: SvmCoupling = "wu-lin-weng",
): Float64Array {
  const k = m.nClass;
  if (k === 1) {
    s.p[0] = 1;
    return s.p;
  }
  const dec = decisionValues(m, x, s);
  if (k === 2) {
    const v = Math.min(Math.max(sigmoidPredict(dec[0]!, m.probA[0]!, m.probB[0]!), MIN_PROB), 1 - MIN_PROB);
    s.p[0] = v;
    s.p[1] = 1 - v;
    return s.p;
  }
  if (coupling === "price") return priceCoupling(m, dec, s);
  // Q straight from the pairwise probabilities: r_ij = v, r_ji = 1 − v
  const Q = (s.Q ??= new Float64Array(k * k));
  for (let t = 0; t < k; t++) Q[t * k + t] = 0;
  let p = 0;
  for (let i = 0; i < k; i++) {
    for (let j = i + 1; j < k; j++) {
      const v = Math.min(Math.max(sigmoidPredict(dec[p]!, m.probA[p]!, m.probB[p]!), MIN_PROB), 1 - MIN_PROB);
      const w = 1 - v;
      const q = -w * v;
      Q[i * k + j] = q;
      Q[j * k + i] = q;
      Q[i * k + i] = Q[i * k + i]! + w * w;
      Q[j * k + j] = Q[j * k + j]! + v * v;
      p++;
    }
  }
  return coupleQ(k, s);
}

// r = 1 / (1 + e) clamped to [MIN_PROB, 1 − MIN_PROB] is e clamped to these bounds
const E_MIN = MIN_PROB / (1 - MIN_PROB);
const E_MAX = (1 - MIN_PROB) / MIN_PROB;

/**
 * Price et al. (1995): p_i ∝ 1 / (Σ_{j≠i} 1/r_ij − (k − 2)), exact when the r_ij are consistent.
 * With r_ij = 1 / (1 + e_ij), 1/r_ij = 1 + e_ij and 1/r_ji = 1 + 1/e_ij: one exp per pair, no iteration.
 */
function priceCoupling(m: SvmCore, dec: Float64Array, s: SvmScratch): Float64Array {
  const k = m.nClass;
  const acc = s.Qp;
  const probA = m.probA;
  const probB = m.probB;
  acc.fill(0);
  let p = 0;
  for (let i = 0; i < k; i++) {
    let ai = 0;
    for (let j = i + 1; j < k; j++) {
      let e = Math.exp(dec[p]! * probA[p]! + probB[p]!);
      e = e < E_MIN ? E_MIN : e > E_MAX ? E_MAX : e;
      ai += e;
      acc[j] = acc[j]! + 1 / e;
      p++;
    }
    acc[i] = acc[i]! + ai;
  }
  // Σ_j (1 + e_ij) − (k − 2) = Σ_j e_ij + 1
  const out = s.p;
  let sum = 0;
  for (let i = 0; i < k; i++) {
    const v = 1 / (acc[i]! + 1);
    out[i] = v;
    sum += v;
  }
  for (let i = 0; i < k; i++) out[i] = out[i]! / sum;
  return out;
}

export { argmax } from "./common.js";

/**
 * Fits Platt's sigmoid to decision values and ±1 labels (libsvm's sigmoid_train: Newton's method
 * with backtracking on the regularised targets of Platt 2000 / Lin, Lin & Weng 2007). Returns [A, B].
 */
export function sigmoidTrain(dec: ArrayLike<number>, labels: ArrayLike<number>): [number, number] {
  const l = dec.length;
  let prior1 = 0;
  let prior0 = 0;
  for (let i = 0; i < l; i++) {
    if (labels[i]! > 0) prior1 += 1;
    else prior0 += 1;
  }
  const maxIter = 100;
  const minStep = 1e-10;
  const sigma = 1e-12;
  const eps = 1e-5;
  const hiTarget = (prior1 + 1) / (prior1 + 2);
  const loTarget = 1 / (prior0 + 2);
  const t = new Float64Array(l);
  let A = 0;
  let B = Math.log((prior0 + 1) / (prior1 + 1));
  let fval = 0;
  for (let i = 0; i < l; i++) {
    t[i] = labels[i]! > 0 ? hiTarget : loTarget;
    fval += logLoss(dec[i]! * A + B, t[i]!);
  }
  for (let iter = 0; iter < maxIter; iter++) {
    let h11 = sigma;
    let h22 = sigma;
    let h21 = 0;
    let g1 = 0;
    let g2 = 0;
    for (let i = 0; i < l; i++) {
      const fApB = dec[i]! * A + B;
      let p: number;
      let q: number;
      if (fApB >= 0) {
        const e = Math.exp(-fApB);
        p = e / (1 + e);
        q = 1 / (1 + e);
      } else {
        const e = Math.exp(fApB);
        p = 1 / (1 + e);
        q = e / (1 + e);
      }
      const d2 = p * q;
      h11 += dec[i]! * dec[i]! * d2;
      h22 += d2;
      h21 += dec[i]! * d2;
      const d1 = t[i]! - p;
      g1 += dec[i]! * d1;
      g2 += d1;
    }
    if (Math.abs(g1) < eps && Math.abs(g2) < eps) break;
    const det = h11 * h22 - h21 * h21;
    const dA = -(h22 * g1 - h21 * g2) / det;
    const dB = -(-h21 * g1 + h11 * g2) / det;
    const gd = g1 * dA + g2 * dB;
    let stepsize = 1;
    while (stepsize >= minStep) {
      const newA = A + stepsize * dA;
      const newB = B + stepsize * dB;
      let newf = 0;
      for (let i = 0; i < l; i++) newf += logLoss(dec[i]! * newA + newB, t[i]!);
      if (newf < fval + 0.0001 * stepsize * gd) {
        A = newA;
        B = newB;
        fval = newf;
        break;
      }
      stepsize /= 2;
    }
    if (stepsize < minStep) break;
  }
  return [A, B];
}

function logLoss(fApB: number, t: number): number {
  return fApB >= 0 ? t * fApB + Math.log(1 + Math.exp(-fApB)) : (t - 1) * fApB + Math.log(1 + Math.exp(fApB));
}

/**
 * sigmoidTrain on the values plus their mirror images (−v, −1), without materialising them: the
 * mirrored problem is symmetric, so B = 0 and only A is fitted (1-D Newton, same targets and stops).
 * `values` are decision values signed towards the true class. Returns A.
 */
export function sigmoidTrainSymmetric(values: ArrayLike<number>): number {
  const n = values.length;
  if (n === 0) return 0;
  const t = (n + 1) / (n + 2);
  const loss = (A: number) => {
    let f = 0;
    for (let i = 0; i < n; i++) f += logLoss(values[i]! * A, t);
    return f;
  };
  let A = 0;
  let fval = loss(A);
  for (let iter = 0; iter < 100; iter++) {
    let h = 1e-12;
    let g = 0;
    for (let i = 0; i < n; i++) {
      const v = values[i]!;
      const z = v * A;
      const e = Math.exp(-Math.abs(z));
      const p = z >= 0 ? e / (1 + e) : 1 / (1 + e);
      h += v * v * p * (1 - p);
      g += v * (t - p);
    }
    // the mirrored problem has twice these sums; halving eps keeps libsvm's stopping rule
    if (Math.abs(g) < 0.5e-5) break;
    const dA = -g / h;
    let step = 1;
    while (step >= 1e-10) {
      const newA = A + step * dA;
      const newf = loss(newA);
      if (newf < fval + 0.0001 * step * g * dA) {
        A = newA;
        fval = newf;
        break;
      }
      step /= 2;
    }
    if (step < 1e-10) break;
  }
  return A;
}
