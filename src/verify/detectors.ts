import type { Label } from "../data/types.js";
import { KeystrokeError } from "../errors.js";
import type { CohortMember, DetectorName, PopulationStats } from "./types.js";
import { POPULATION_DETECTOR_IMPLS } from "./population-detectors.js";
import { fusionDetector } from "./fusion-detector.js";

/** A compiled scorer: anomaly score of one raw timing vector; `exclude` drops that user from the cohort. */
export type Scorer = (x: ArrayLike<number>, exclude?: Label) => number;

/** How one detector learns a template from a user's raw timing vectors and scores new ones. */
export interface DetectorImpl {
  /** Learns the detector state (plain JSON) from one user's genuine vectors only. */
  fit(vectors: number[][], population: PopulationStats | undefined, user: Label): Record<string, unknown>;
  /** Compiles a state into a fast scorer; cohort detectors look their cohort up in the population. */
  compile(state: Record<string, unknown>, population: PopulationStats | undefined): Scorer;
}

/** Per-feature spread below this (in the detector's units) is clamped, so a feature every sample shared cannot dominate. */
const MIN_SPREAD = 1e-6;
/** Weight, in pseudo-samples, of the population spread mixed into a user's own spread (manhattan-robust). */
export const SHRINK_PSEUDO_SAMPLES = 1;
/** Cohort templates kept in each user's template for score normalisation. */
export const COHORT_SIZE = 32;
/** Killourhy & Maxion's outlier-count cut-off (|z| above the two-sided 95% normal quantile). */
const Z_CUTOFF = 1.96;
/** Neighbours averaged by knn-manhattan-scaled (measured: 1 is best with few enrolment samples). */
const KNN_K = 1;

/** Signed log of an interval: compresses the long pauses that otherwise dominate a distance. */
export function logTiming(v: number): number {
  return v < 0 ? -Math.log1p(-v) : Math.log1p(v);
}

/** Raw timing vectors → signed-log vectors. */
export function logVectors(vectors: readonly (readonly number[])[]): number[][] {
  return vectors.map((v) => v.map(logTiming));
}

/** Column means. */
export function columnMeans(vectors: readonly (readonly number[])[]): number[] {
  const d = vectors[0]!.length;
  const m = new Array<number>(d).fill(0);
  for (const v of vectors) for (let j = 0; j < d; j++) m[j]! += v[j]!;
  return m.map((s) => s / vectors.length);
}

/** Column mean absolute deviations from the given means. */
export function columnMad(vectors: readonly (readonly number[])[], means: readonly number[]): number[] {
  const d = means.length;
  const a = new Array<number>(d).fill(0);
  for (const v of vectors) for (let j = 0; j < d; j++) a[j]! += Math.abs(v[j]! - means[j]!);
  return a.map((s) => s / vectors.length);
}

/** Column standard deviations (n − 1 denominator). */
export function columnSd(vectors: readonly (readonly number[])[], means: readonly number[]): number[] {
  const d = means.length;
  const s = new Array<number>(d).fill(0);
  for (const v of vectors) for (let j = 0; j < d; j++) s[j]! += (v[j]! - means[j]!) ** 2;
  const den = Math.max(1, vectors.length - 1);
  return s.map((x) => Math.sqrt(x / den));
}

/**
 * The log-space template of manhattan-robust: means of the log timings and a spread that mixes the
 * user's own mean absolute deviation (n samples) with the population's pooled one (SHRINK_PSEUDO_SAMPLES),
 * because three samples' spread alone is mostly noise.
 */
export function robustTemplate(
  vectors: readonly (readonly number[])[],
  logSpread?: readonly number[],
): { mean: number[]; spread: number[] } {
  const lv = logVectors(vectors);
  const mean = columnMeans(lv);
  const own = columnMad(lv, mean);
  const n = lv.length;
  const spread = own.map((a, j) => {
    const mixed = logSpread
      ? (n * a + SHRINK_PSEUDO_SAMPLES * logSpread[j]!) / (n + SHRINK_PSEUDO_SAMPLES)
      : a;
    return Math.max(mixed, MIN_SPREAD);
  });
  return { mean, spread };
}

const f64 = (a: unknown): Float64Array => Float64Array.from(a as number[]);
const inverse = (a: unknown): Float64Array => Float64Array.from(a as number[], (v) => 1 / v);

function robustDistance(
  lx: Float64Array,
  mean: Float64Array,
  inverseSpread: Float64Array,
  offset: number,
): number {
  let s = 0;
  for (let j = 0; j < lx.length; j++)
    s += Math.log1p(Math.abs(lx[j]! - mean[offset + j]!) * inverseSpread[offset + j]!);
  return s;
}

function toLog(x: ArrayLike<number>, out: Float64Array): Float64Array {
  for (let j = 0; j < out.length; j++) out[j] = logTiming(x[j]!);
  return out;
}

const manhattanScaled: DetectorImpl = {
  fit(vectors) {
    const mean = columnMeans(vectors);
    const spread = columnMad(vectors, mean).map((a) => Math.max(a, MIN_SPREAD));
    return { mean, spread };
  },
  compile(state) {
    const mean = f64(state.mean);
    const spread = f64(state.spread);
    return (x) => {
      let s = 0;
      for (let j = 0; j < mean.length; j++) s += Math.abs(x[j]! - mean[j]!) / spread[j]!;
      return s;
    };
  },
};

const zscoreOutliers: DetectorImpl = {
  fit(vectors) {
    const mean = columnMeans(vectors);
    const sd = columnSd(vectors, mean).map((a) => Math.max(a, MIN_SPREAD));
    return { mean, sd };
  },
  compile(state) {
    const mean = f64(state.mean);
    const sd = f64(state.sd);
    return (x) => {
      let c = 0;
      for (let j = 0; j < mean.length; j++) if (Math.abs(x[j]! - mean[j]!) / sd[j]! > Z_CUTOFF) c++;
      return c;
    };
  },
};

const knnManhattanScaled: DetectorImpl = {
  fit(vectors) {
    const mean = columnMeans(vectors);
    const spread = columnMad(vectors, mean).map((a) => Math.max(a, MIN_SPREAD));
    return { spread, samples: vectors.map((v) => [...v]), k: Math.min(KNN_K, vectors.length) };
  },
  compile(state) {
    const spread = f64(state.spread);
    const samples = (state.samples as number[][]).map(f64);
    const k = state.k as number;
    const d = new Float64Array(samples.length);
    return (x) => {
      for (let i = 0; i < samples.length; i++) {
        const e = samples[i]!;
        let s = 0;
        for (let j = 0; j < spread.length; j++) s += Math.abs(x[j]! - e[j]!) / spread[j]!;
        d[i] = s;
      }
      if (k === 1) return Math.min(...d);
      const sorted = Float64Array.from(d).sort();
      let s = 0;
      for (let i = 0; i < k; i++) s += sorted[i]!;
      return s / k;
    };
  },
};

/**
 * Nearest-neighbour Mahalanobis: the covariance of the enrolment vectors, made invertible by a ridge of
 * 1% of its mean variance (with fewer samples than features it is singular), whitened once by the
 * inverse Cholesky factor so scoring is a Euclidean nearest-neighbour search.
 */
const mahalanobisNn: DetectorImpl = {
  fit(vectors) {
    const d = vectors[0]!.length;
    const n = vectors.length;
    const mean = columnMeans(vectors);
    const cov = new Float64Array(d * d);
    for (const v of vectors) {
      for (let a = 0; a < d; a++) {
        const da = v[a]! - mean[a]!;
        for (let b = 0; b <= a; b++) cov[a * d + b]! += da * (v[b]! - mean[b]!);
      }
    }
    let trace = 0;
    for (let a = 0; a < d; a++) {
      for (let b = 0; b <= a; b++) cov[a * d + b]! /= Math.max(1, n - 1);
      trace += cov[a * d + a]!;
    }
    const ridge = 0.01 * (trace / d) + MIN_SPREAD;
    for (let a = 0; a < d; a++) cov[a * d + a]! += ridge;
    const L = cholesky(cov, d);
    const W = invertLower(L, d);
    const whitened = vectors.map((v) => Array.from(applyLower(W, d, v, new Float64Array(d))));
    return { whitening: Array.from(W), whitened };
  },
  compile(state) {
    const W = f64(state.whitening);
    const whitened = (state.whitened as number[][]).map(f64);
    const d = whitened[0]!.length;
    const z = new Float64Array(d);
    return (x) => {
      applyLower(W, d, x, z);
      let best = Infinity;
      for (const e of whitened) {
        let s = 0;
        for (let j = 0; j < d; j++) s += (z[j]! - e[j]!) ** 2;
        if (s < best) best = s;
      }
      return Math.sqrt(best);
    };
  },
};

const manhattanRobust: DetectorImpl = {
  fit(vectors, population) {
    return robustTemplate(vectors, population?.logSpread);
  },
  compile(state) {
    const mean = f64(state.mean);
    const inv = inverse(state.spread);
    const lx = new Float64Array(mean.length);
    return (x) => robustDistance(toLog(x, lx), mean, inv, 0);
  },
};

/**
 * manhattan-robust, t-normalised: the claimed user's distance minus the mean distance of the same sample
 * to a cohort of other users' templates, over their standard deviation. A sample that is far from
 * everyone (an unusual session) stops looking like an impostor; one close to everyone stops looking genuine.
 */
const manhattanRobustCohort: DetectorImpl = {
  fit(vectors, population, user) {
    const own = robustTemplate(vectors, population?.logSpread);
    const members = (population?.cohort ?? []).filter((m) => String(m.user) !== String(user));
    if (members.length < 2) {
      throw new KeystrokeError(
        "BAD_FLAG",
        "detector manhattan-robust-cohort needs a population with at least 2 other enrolled users",
        { flag: "--detector" },
        {
          suggestion: "enrol several users at once, or use --detector manhattan-robust",
        },
      );
    }
    // only the ids: the members' statistics live once, in the population (the verification index)
    return { ...own, cohort: pickCohort(members, user, COHORT_SIZE).map((m) => m.user) };
  },
  compile(state, population) {
    const mean = f64(state.mean);
    const inv = inverse(state.spread);
    if (!population) {
      throw new KeystrokeError(
        "BAD_REQUEST",
        "detector manhattan-robust-cohort needs the population statistics its template was enrolled with",
        {},
        {
          suggestion: "verify through loadTemplates(), or pass context.population",
        },
      );
    }
    const byId = new Map(population.cohort.map((m) => [String(m.user), m]));
    const members = (state.cohort as Label[])
      .map((u) => byId.get(String(u)))
      .filter((m): m is CohortMember => m !== undefined);
    const d = mean.length;
    const k = members.length;
    const users = members.map((m) => String(m.user));
    // one flat block per array: the cohort loop is the hot path of every claim
    const cMean = new Float64Array(k * d);
    const cInv = new Float64Array(k * d);
    members.forEach((m, i) => {
      cMean.set(m.mean, i * d);
      cInv.set(inverse(m.spread), i * d);
    });
    const lx = new Float64Array(d);
    return (x, exclude) => {
      toLog(x, lx);
      const s = robustDistance(lx, mean, inv, 0);
      const ex = exclude === undefined ? -1 : users.indexOf(String(exclude));
      let n = 0;
      let sum = 0;
      let sum2 = 0;
      for (let i = 0; i < k; i++) {
        if (i === ex) continue;
        const c = robustDistance(lx, cMean, cInv, i * d);
        n++;
        sum += c;
        sum2 += c * c;
      }
      const mu = sum / n;
      const sd = Math.sqrt(Math.max(sum2 / n - mu * mu, 0));
      return (s - mu) / Math.max(sd, MIN_SPREAD);
    };
  },
};

/** The implementation of each detector. */
export const DETECTOR_IMPLS: Record<DetectorName, DetectorImpl> = {
  "manhattan-scaled": manhattanScaled,
  "mahalanobis-nn": mahalanobisNn,
  "zscore-outliers": zscoreOutliers,
  "knn-manhattan-scaled": knnManhattanScaled,
  "manhattan-robust": manhattanRobust,
  "manhattan-robust-cohort": manhattanRobustCohort,
  ...POPULATION_DETECTOR_IMPLS,
  // a getter: fusion-detector.ts looks its parts up in this table, so either module may be loaded first
  get fusion() {
    return fusionDetector;
  },
};

/** A stable 32-bit hash of a string (FNV-1a), so a user's cohort choice repeats across runs. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function pickCohort(members: CohortMember[], user: Label, size: number): CohortMember[] {
  if (members.length <= size) return members;
  // ranked by a hash of (user, member) rather than drawn: deterministic, and independent of member order
  const key = (m: CohortMember) => hashString(`${String(user)}\u0000${String(m.user)}`);
  return [...members].sort((a, b) => key(a) - key(b)).slice(0, size);
}

function cholesky(a: Float64Array, d: number): Float64Array {
  const L = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * d + j]!;
      for (let k = 0; k < j; k++) s -= L[i * d + k]! * L[j * d + k]!;
      if (i === j) L[i * d + i] = Math.sqrt(Math.max(s, MIN_SPREAD));
      else L[i * d + j] = s / L[j * d + j]!;
    }
  }
  return L;
}

function invertLower(L: Float64Array, d: number): Float64Array {
  const W = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    W[i * d + i] = 1 / L[i * d + i]!;
    for (let j = 0; j < i; j++) {
      let s = 0;
      for (let k = j; k < i; k++) s += L[i * d + k]! * W[k * d + j]!;
      W[i * d + j] = -s / L[i * d + i]!;
    }
  }
  return W;
}

function applyLower(W: ArrayLike<number>, d: number, x: ArrayLike<number>, out: Float64Array): Float64Array {
  for (let i = 0; i < d; i++) {
    let s = 0;
    for (let k = 0; k <= i; k++) s += W[i * d + k]! * x[k]!;
    out[i] = s;
  }
  return out;
}
