import { createRng } from "../util/random.js";

/**
 * A diagonal-covariance Gaussian mixture in flat typed arrays: component c's mean and variance of
 * feature j sit at c * d + j. Plain numbers in JSON (`gmmToJson`), Float64Arrays while scoring.
 */
export interface Gmm {
  k: number;
  d: number;
  weights: Float64Array;
  means: Float64Array;
  vars: Float64Array;
}

/** A GMM as stored in the population (plain JSON). */
export interface GmmJson {
  k: number;
  d: number;
  weights: number[];
  means: number[];
  vars: number[];
}

/** Options of `trainGmm`. */
export interface TrainGmmOptions {
  k: number;
  seed?: number;
  iterations?: number;
  /** Variances never fall below this share of the feature's overall variance. */
  varianceFloor?: number;
}

const LOG_2PI = Math.log(2 * Math.PI);

/** Plain JSON of a GMM. */
export function gmmToJson(g: Gmm): GmmJson {
  return {
    k: g.k,
    d: g.d,
    weights: Array.from(g.weights),
    means: Array.from(g.means),
    vars: Array.from(g.vars),
  };
}

/** A GMM from its plain JSON. */
export function gmmFromJson(g: GmmJson): Gmm {
  return {
    k: g.k,
    d: g.d,
    weights: Float64Array.from(g.weights),
    means: Float64Array.from(g.means),
    vars: Float64Array.from(g.vars),
  };
}

/**
 * Fits a diagonal GMM by EM: k-means++ seeding (seeded, so runs repeat), then `iterations` EM steps with a
 * variance floor, because with few samples per component a variance collapses onto one point.
 */
export function trainGmm(data: readonly Float64Array[], options: TrainGmmOptions): Gmm {
  const n = data.length;
  const d = data[0]!.length;
  const k = Math.max(1, Math.min(options.k, n));
  const rng = createRng(options.seed ?? 1);
  const iterations = options.iterations ?? 25;
  const floorShare = options.varianceFloor ?? 0.01;

  const mean = new Float64Array(d);
  for (const x of data) for (let j = 0; j < d; j++) mean[j]! += x[j]! / n;
  const globalVar = new Float64Array(d);
  for (const x of data) for (let j = 0; j < d; j++) globalVar[j]! += (x[j]! - mean[j]!) ** 2 / n;
  const floor = Float64Array.from(globalVar, (v) => Math.max(v * floorShare, 1e-6));

  // k-means++ seeding
  const means = new Float64Array(k * d);
  const dist = new Float64Array(n).fill(Infinity);
  let pick = Math.floor(rng() * n);
  for (let c = 0; c < k; c++) {
    means.set(data[pick]!, c * d);
    let total = 0;
    for (let i = 0; i < n; i++) {
      let s = 0;
      const x = data[i]!;
      for (let j = 0; j < d; j++) s += (x[j]! - means[c * d + j]!) ** 2 / globalVar[j]!;
      if (s < dist[i]!) dist[i] = s;
      total += dist[i]!;
    }
    let r = rng() * total;
    pick = n - 1;
    for (let i = 0; i < n; i++) {
      r -= dist[i]!;
      if (r <= 0) {
        pick = i;
        break;
      }
    }
  }
  const g: Gmm = { k, d, weights: new Float64Array(k).fill(1 / k), means, vars: new Float64Array(k * d) };
  for (let c = 0; c < k; c++) g.vars.set(globalVar, c * d);

  const resp = new Float64Array(n * k);
  for (let it = 0; it < iterations; it++) {
    for (let i = 0; i < n; i++) posteriors(g, data[i]!, resp, i * k);
    const nk = new Float64Array(k);
    const sx = new Float64Array(k * d);
    const sxx = new Float64Array(k * d);
    for (let i = 0; i < n; i++) {
      const x = data[i]!;
      for (let c = 0; c < k; c++) {
        const r = resp[i * k + c]!;
        if (r < 1e-10) continue;
        nk[c]! += r;
        for (let j = 0; j < d; j++) {
          sx[c * d + j]! += r * x[j]!;
          sxx[c * d + j]! += r * x[j]! * x[j]!;
        }
      }
    }
    for (let c = 0; c < k; c++) {
      const w = nk[c]!;
      g.weights[c] = Math.max(w / n, 1e-8);
      if (w < 1e-6) continue;
      for (let j = 0; j < d; j++) {
        const m = sx[c * d + j]! / w;
        g.means[c * d + j] = m;
        g.vars[c * d + j] = Math.max(sxx[c * d + j]! / w - m * m, floor[j]!);
      }
    }
  }
  return g;
}

/** Log-likelihood of one vector; `out`, when given, receives the component posteriors at `offset`. */
export function gmmLogLikelihood(g: Gmm, x: ArrayLike<number>, means: Float64Array = g.means): number {
  return posteriors(g, x, undefined, 0, means);
}

function posteriors(
  g: Gmm,
  x: ArrayLike<number>,
  out: Float64Array | undefined,
  offset: number,
  means: Float64Array = g.means,
): number {
  const { k, d } = g;
  const logp = new Float64Array(k);
  let max = -Infinity;
  for (let c = 0; c < k; c++) {
    let s = Math.log(g.weights[c]!) - 0.5 * d * LOG_2PI;
    for (let j = 0; j < d; j++) {
      const v = g.vars[c * d + j]!;
      const e = x[j]! - means[c * d + j]!;
      s -= 0.5 * (Math.log(v) + (e * e) / v);
    }
    logp[c] = s;
    if (s > max) max = s;
  }
  let sum = 0;
  for (let c = 0; c < k; c++) sum += Math.exp(logp[c]! - max);
  const ll = max + Math.log(sum);
  if (out) for (let c = 0; c < k; c++) out[offset + c] = Math.exp(logp[c]! - ll);
  return ll;
}

/**
 * Reynolds' MAP adaptation of the means only (weights and variances stay the UBM's): each component moves
 * towards the user's data by n_c / (n_c + relevance), so a component the user never visits stays put.
 */
export function mapAdaptMeans(g: Gmm, data: readonly Float64Array[], relevance: number): Float64Array {
  const { k, d } = g;
  const nk = new Float64Array(k);
  const sx = new Float64Array(k * d);
  const resp = new Float64Array(k);
  for (const x of data) {
    posteriors(g, x, resp, 0);
    for (let c = 0; c < k; c++) {
      const r = resp[c]!;
      nk[c]! += r;
      for (let j = 0; j < d; j++) sx[c * d + j]! += r * x[j]!;
    }
  }
  const adapted = Float64Array.from(g.means);
  for (let c = 0; c < k; c++) {
    if (nk[c]! < 1e-10) continue;
    const alpha = nk[c]! / (nk[c]! + relevance);
    for (let j = 0; j < d; j++)
      adapted[c * d + j] = alpha * (sx[c * d + j]! / nk[c]!) + (1 - alpha) * g.means[c * d + j]!;
  }
  return adapted;
}
