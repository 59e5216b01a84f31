// Our own C-SVC trainer: libsvm's one-vs-one decomposition and its SMO solver (second-order working
// set selection, Fan, Chen & Lin 2005; libsvm 3.22's Solver without shrinking), in TypeScript over
// contiguous rows. Each class pair is solved on its own rows with its own small kernel matrix, so
// memory grows with the largest pair, never with n² (libsvm-js needed the whole n × n Gram matrix for
// the Laplacian kernel: 3.5 GB at 10k rows). The pairs are independent, so they can be split over threads.
import type { SvmCore, SvmKernel } from "./svm-predict.js";

/** Training rows for the solver: row-major scaled features and class indices, grouped by class ascending. */
export interface SolverData {
  X: Float64Array;
  d: number;
  /** Class index of each row (ascending: all rows of a class are contiguous). */
  y: Int32Array;
}

/** One C-SVC fit's settings. */
export interface SolverOptions {
  C: number;
  gamma: number;
  kernel: SvmKernel;
  /** Stopping tolerance on the KKT violation (libsvm's -e, 0.001). */
  eps?: number;
}

/** The solution of one class pair: α·y per row of the pair (class a's rows, then class b's) and rho. */
export interface PairSolution {
  a: number;
  b: number;
  coef: Float64Array;
  rho: number;
}

const TAU = 1e-12;
/** Bytes of kernel rows kept per pair problem; a pair larger than this recomputes rows on demand. */
const CACHE_BYTES = 64 * 2 ** 20;

/** The classes present in the data, each with its first row and row count (rows grouped by class). */
export function classRanges(y: Int32Array): { label: number; start: number; count: number }[] {
  const out: { label: number; start: number; count: number }[] = [];
  for (let i = 0; i < y.length; i++) {
    const last = out[out.length - 1];
    if (last && last.label === y[i]) last.count++;
    else {
      if (last && y[i]! < last.label) throw new Error("solver rows must be grouped by ascending class");
      out.push({ label: y[i]!, start: i, count: 1 });
    }
  }
  return out;
}

/** Kernel value of rows i and j of X (row-major, width d). */
function kernelAt(
  X: Float64Array,
  d: number,
  i: number,
  j: number,
  kernel: SvmKernel,
  negGamma: number,
): number {
  let sum = 0;
  const oi = i * d;
  const oj = j * d;
  if (kernel === "laplacian") for (let f = 0; f < d; f++) sum += Math.abs(X[oi + f]! - X[oj + f]!);
  else
    for (let f = 0; f < d; f++) {
      const t = X[oi + f]! - X[oj + f]!;
      sum += t * t;
    }
  return Math.exp(negGamma * sum);
}

/**
 * Solves the binary C-SVC of class ranges ra (+1) and rb (−1), as libsvm's Solver::Solve with WSS2
 * and calculate_rho. Returns the coefficients α·y of the pair's rows and rho.
 */
export function solvePair(
  data: SolverData,
  ra: { start: number; count: number },
  rb: { start: number; count: number },
  opts: SolverOptions,
): { coef: Float64Array; rho: number } {
  const { X, d } = data;
  const m = ra.count + rb.count;
  const rowOf = (t: number) => (t < ra.count ? ra.start + t : rb.start + t - ra.count);
  const yy = new Int8Array(m);
  for (let t = 0; t < m; t++) yy[t] = t < ra.count ? 1 : -1;
  const C = opts.C;
  const eps = opts.eps ?? 1e-3;
  const negGamma = -opts.gamma;
  const kernel = opts.kernel;
  // Q rows (Q_ts = y_t y_s K_ts), computed when first needed and kept while the budget allows
  const maxRows = Math.max(2, Math.floor(CACHE_BYTES / (8 * m)));
  const cache = new Array<Float64Array | undefined>(m);
  const order: number[] = [];
  const rowCache = (t: number): Float64Array => {
    const hit = cache[t];
    if (hit) return hit;
    if (order.length >= maxRows) cache[order.shift()!] = undefined;
    const q = new Float64Array(m);
    const rt = rowOf(t);
    const yt = yy[t]!;
    for (let s = 0; s < m; s++)
      q[s] = yt * yy[s]! * (s === t ? 1 : kernelAt(X, d, rt, rowOf(s), kernel, negGamma));
    cache[t] = q;
    order.push(t);
    return q;
  };
  // QD = K(x, x) = 1 for both kernels
  const alpha = new Float64Array(m);
  const G = new Float64Array(m).fill(-1);
  const maxIter = Math.max(10_000_000, m > 2 ** 31 / 100 ? 2 ** 31 : 100 * m);
  for (let iter = 0; iter < maxIter; iter++) {
    // select i: the maximal violating pair's first index
    let Gmax = -Infinity;
    let i = -1;
    for (let t = 0; t < m; t++) {
      if (yy[t] === 1) {
        if (alpha[t]! < C && -G[t]! >= Gmax) {
          Gmax = -G[t]!;
          i = t;
        }
      } else if (alpha[t]! > 0 && G[t]! >= Gmax) {
        Gmax = G[t]!;
        i = t;
      }
    }
    if (i < 0) break;
    const Qi = rowCache(i);
    const yi = yy[i]!;
    let Gmax2 = -Infinity;
    let j = -1;
    let objMin = Infinity;
    for (let t = 0; t < m; t++) {
      if (yy[t] === 1) {
        if (alpha[t]! > 0) {
          const gradDiff = Gmax + G[t]!;
          if (G[t]! >= Gmax2) Gmax2 = G[t]!;
          if (gradDiff > 0) {
            const quad = 2 - 2 * yi * Qi[t]!;
            const obj = -(gradDiff * gradDiff) / (quad > 0 ? quad : TAU);
            if (obj <= objMin) {
              j = t;
              objMin = obj;
            }
          }
        }
      } else if (alpha[t]! < C) {
        const gradDiff = Gmax - G[t]!;
        if (-G[t]! >= Gmax2) Gmax2 = -G[t]!;
        if (gradDiff > 0) {
          const quad = 2 + 2 * yi * Qi[t]!;
          const obj = -(gradDiff * gradDiff) / (quad > 0 ? quad : TAU);
          if (obj <= objMin) {
            j = t;
            objMin = obj;
          }
        }
      }
    }
    if (Gmax + Gmax2 < eps || j < 0) break;
    const Qj = rowCache(j);
    const oldI = alpha[i]!;
    const oldJ = alpha[j]!;
    let ai = oldI;
    let aj = oldJ;
    if (yy[i] !== yy[j]) {
      let quad = 2 + 2 * Qi[j]!;
      if (quad <= 0) quad = TAU;
      const delta = (-G[i]! - G[j]!) / quad;
      const diff = ai - aj;
      ai += delta;
      aj += delta;
      if (diff > 0) {
        if (aj < 0) {
          aj = 0;
          ai = diff;
        }
      } else if (ai < 0) {
        ai = 0;
        aj = -diff;
      }
      if (diff > 0) {
        if (ai > C) {
          ai = C;
          aj = C - diff;
        }
      } else if (aj > C) {
        aj = C;
        ai = C + diff;
      }
    } else {
      let quad = 2 - 2 * Qi[j]!;
      if (quad <= 0) quad = TAU;
      const delta = (G[i]! - G[j]!) / quad;
      const sum = ai + aj;
      ai -= delta;
      aj += delta;
      if (sum > C) {
        if (ai > C) {
          ai = C;
          aj = sum - C;
        }
      } else if (aj < 0) {
        aj = 0;
        ai = sum;
      }
      if (sum > C) {
        if (aj > C) {
          aj = C;
          ai = sum - C;
        }
      } else if (ai < 0) {
        ai = 0;
        aj = sum;
      }
    }
    alpha[i] = ai;
    alpha[j] = aj;
    const dI = ai - oldI;
    const dJ = aj - oldJ;
    for (let t = 0; t < m; t++) G[t] = G[t]! + Qi[t]! * dI + Qj[t]! * dJ;
  }
  // calculate_rho
  let ub = Infinity;
  let lb = -Infinity;
  let nFree = 0;
  let sumFree = 0;
  for (let t = 0; t < m; t++) {
    const yG = yy[t]! * G[t]!;
    if (alpha[t]! >= C) {
      if (yy[t] === -1) ub = Math.min(ub, yG);
      else lb = Math.max(lb, yG);
    } else if (alpha[t]! <= 0) {
      if (yy[t] === 1) ub = Math.min(ub, yG);
      else lb = Math.max(lb, yG);
    } else {
      nFree++;
      sumFree += yG;
    }
  }
  const rho = nFree > 0 ? sumFree / nFree : (ub + lb) / 2;
  const coef = new Float64Array(m);
  for (let t = 0; t < m; t++) coef[t] = alpha[t]! * yy[t]!;
  return { coef, rho };
}

/** The class pairs (a < b, as indices into classRanges) of pairs [from, to) in libsvm's order. */
export function pairList(k: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let a = 0; a < k; a++) for (let b = a + 1; b < k; b++) out.push([a, b]);
  return out;
}

/** Solves pairs [from, to) of libsvm's order (for splitting a fit over threads). */
export function solvePairs(data: SolverData, opts: SolverOptions, from: number, to: number): PairSolution[] {
  const ranges = classRanges(data.y);
  const k = ranges.length;
  const out: PairSolution[] = [];
  let p = 0;
  for (let a = 0; a < k; a++) {
    for (let b = a + 1; b < k; b++, p++) {
      if (p < from) continue;
      if (p >= to) return out;
      const s = solvePair(data, ranges[a]!, ranges[b]!, opts);
      out.push({ a, b, coef: s.coef, rho: s.rho });
    }
  }
  return out;
}

/**
 * Joins every pair's solution into libsvm's multi-class model: the support vectors of each class are
 * its rows with a non-zero coefficient in any pair, in row order; sv_coef[j − 1] holds class i's
 * coefficients against class j > i, sv_coef[i] class j's against class i (libsvm's svm_train).
 */
export function assembleModel(
  data: SolverData,
  opts: SolverOptions,
  solutions: readonly PairSolution[],
): { core: SvmCore; labels: number[]; svIndex: Int32Array } {
  const { X, d } = data;
  const ranges = classRanges(data.y);
  const k = ranges.length;
  const n = data.y.length;
  const nonzero = new Uint8Array(n);
  for (const s of solutions) {
    const ra = ranges[s.a]!;
    const rb = ranges[s.b]!;
    for (let t = 0; t < ra.count; t++) if (s.coef[t] !== 0) nonzero[ra.start + t] = 1;
    for (let t = 0; t < rb.count; t++) if (s.coef[ra.count + t] !== 0) nonzero[rb.start + t] = 1;
  }
  const pos = new Int32Array(n).fill(-1);
  const nSV: number[] = [];
  let l = 0;
  for (const r of ranges) {
    let c = 0;
    for (let t = r.start; t < r.start + r.count; t++) if (nonzero[t]) pos[t] = l + c++;
    nSV.push(c);
    l += c;
  }
  const svIndex = new Int32Array(l);
  const sv = new Float64Array(l * d);
  for (let t = 0; t < n; t++) {
    if (pos[t]! < 0) continue;
    svIndex[pos[t]!] = t;
    sv.set(X.subarray(t * d, (t + 1) * d), pos[t]! * d);
  }
  const coef = new Float64Array(Math.max(0, k - 1) * l);
  const rho = new Float64Array((k * (k - 1)) / 2);
  for (const s of solutions) {
    const ra = ranges[s.a]!;
    const rb = ranges[s.b]!;
    for (let t = 0; t < ra.count; t++) {
      const at = pos[ra.start + t]!;
      if (at >= 0) coef[(s.b - 1) * l + at] = s.coef[t]!;
    }
    for (let t = 0; t < rb.count; t++) {
      const at = pos[rb.start + t]!;
      if (at >= 0) coef[s.a * l + at] = s.coef[ra.count + t]!;
    }
    rho[s.a * k - (s.a * (s.a + 1)) / 2 + (s.b - s.a - 1)] = s.rho;
  }
  const pairs = rho.length;
  return {
    core: {
      nClass: k,
      nFeatures: d,
      kernel: opts.kernel,
      gamma: opts.gamma,
      nSV,
      sv,
      coef,
      rho,
      probA: new Float64Array(pairs),
      probB: new Float64Array(pairs),
    },
    labels: ranges.map((r) => r.label),
    svIndex,
  };
}

/** A whole multi-class C-SVC fit on one thread. */
export function trainOneVsOne(data: SolverData, opts: SolverOptions): { core: SvmCore; labels: number[] } {
  const k = classRanges(data.y).length;
  return assembleModel(data, opts, solvePairs(data, opts, 0, (k * (k - 1)) / 2));
}
