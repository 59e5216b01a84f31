import type { Label } from "../data/types.js";
import { KeystrokeError } from "../errors.js";
import { hashString, robustTemplate, type DetectorImpl } from "./detectors.js";
import { gmmFromJson, gmmLogLikelihood, mapAdaptMeans } from "./gmm.js";
import { fitLogistic } from "./logistic.js";
import { deviationTerms, inverseSpread, scaledLog } from "./population-models.js";
import type { CohortMember, DetectorName, PopulationStats } from "./types.js";

// Detectors that learn from the population, not only from the user's own samples. Each needs the models
// `buildPopulation` learns (UBM, metric, negatives): a store built before them names the fix.

/** Background samples one user's discriminative model is fitted against (enrolment time grows with it). */
const MAX_NEGATIVES = 200;
/** Cohort templates kept for t-normalisation of metric-learned-cohort. */
const COHORT = 32;
/** L2 pull of a user's discriminative weights towards the population metric (class-balanced loss units). */
/**
 * Tunable settings of the population detectors. `l2` pulls a user's discriminative weights towards the
 * population metric (class-balanced loss units); bench:verify's cross-check tunes it on one dataset and
 * measures it on the other, so it is writable — change it only for such an experiment.
 */
export const DISCRIMINATIVE_SETTINGS = { l2: 0.5 };

function need<K extends "ubm" | "metric" | "negatives">(
  population: PopulationStats | undefined,
  what: K,
  detector: DetectorName,
): NonNullable<PopulationStats[K]> {
  const v = population?.[what];
  if (v === undefined || v === null) {
    throw new KeystrokeError(
      "BAD_REQUEST",
      `detector ${detector} needs population models (${what}) that this population does not have`,
      {},
      {
        suggestion:
          "rebuild the verification store (train, or enroll into a new models directory) with at least 3 users of 4 or more samples",
      },
    );
  }
  return v;
}

/**
 * GMM-UBM: a universal background model of everyone's scaled log timings, its means MAP-adapted to the
 * user (Reynolds et al. 2000); the score is the log-likelihood ratio, UBM over user (lower = more like the user).
 */
const gmmUbm: DetectorImpl = {
  fit(vectors, population) {
    const ubmJson = need(population, "ubm", "gmm-ubm");
    const ubm = gmmFromJson(ubmJson);
    const inv = inverseSpread(population!.logSpread);
    const z = vectors.map((v) => scaledLog(v, inv, new Float64Array(ubm.d)));
    return { means: Array.from(mapAdaptMeans(ubm, z, ubmJson.relevance)) };
  },
  compile(state, population) {
    const ubm = gmmFromJson(need(population, "ubm", "gmm-ubm"));
    const inv = inverseSpread(population!.logSpread);
    const means = Float64Array.from(state.means as number[]);
    const z = new Float64Array(ubm.d);
    return (x) => {
      scaledLog(x, inv, z);
      return gmmLogLikelihood(ubm, z) - gmmLogLikelihood(ubm, z, means);
    };
  },
};

function weightedDistance(
  x: ArrayLike<number>,
  mean: ArrayLike<number>,
  spread: ArrayLike<number>,
  w: Float64Array,
  buf: Float64Array,
): number {
  deviationTerms(x, mean, spread, buf);
  let s = 0;
  for (let j = 0; j < w.length; j++) s += w[j]! * buf[j]!;
  return s;
}

/**
 * manhattan-robust with weights learnt on the population (a diagonal metric learnt with a logistic pair loss:
 * a user's own later samples against other users'), so intervals that separate people weigh more.
 */
const metricLearned: DetectorImpl = {
  fit(vectors, population) {
    need(population, "metric", "metric-learned");
    return robustTemplate(vectors, population!.logSpread);
  },
  compile(state, population) {
    const w = Float64Array.from(need(population, "metric", "metric-learned").weights);
    const mean = Float64Array.from(state.mean as number[]);
    const spread = Float64Array.from(state.spread as number[]);
    const buf = new Float64Array(w.length);
    return (x) => weightedDistance(x, mean, spread, w, buf);
  },
};

/** metric-learned, t-normalised against a cohort of other users' templates (as manhattan-robust-cohort). */
const metricLearnedCohort: DetectorImpl = {
  fit(vectors, population, user) {
    need(population, "metric", "metric-learned-cohort");
    const own = robustTemplate(vectors, population!.logSpread);
    const members = population!.cohort.filter((m) => String(m.user) !== String(user));
    if (members.length < 2) {
      throw new KeystrokeError(
        "BAD_REQUEST",
        "detector metric-learned-cohort needs a population with at least 2 other users",
        {},
        { suggestion: "use metric-learned" },
      );
    }
    const key = (m: CohortMember) => hashString(`${String(user)}\u0000${String(m.user)}`);
    const chosen =
      members.length <= COHORT ? members : [...members].sort((a, b) => key(a) - key(b)).slice(0, COHORT);
    return { ...own, cohort: chosen.map((m) => m.user) };
  },
  compile(state, population) {
    const w = Float64Array.from(need(population, "metric", "metric-learned-cohort").weights);
    const mean = Float64Array.from(state.mean as number[]);
    const spread = Float64Array.from(state.spread as number[]);
    const byId = new Map(population!.cohort.map((m) => [String(m.user), m]));
    const members = (state.cohort as Label[])
      .map((u) => byId.get(String(u)))
      .filter((m): m is CohortMember => m !== undefined);
    const ids = members.map((m) => String(m.user));
    const buf = new Float64Array(w.length);
    return (x, exclude) => {
      const s = weightedDistance(x, mean, spread, w, buf);
      const ex = exclude === undefined ? -1 : ids.indexOf(String(exclude));
      let n = 0;
      let sum = 0;
      let sum2 = 0;
      for (let i = 0; i < members.length; i++) {
        if (i === ex) continue;
        const c = weightedDistance(x, members[i]!.mean, members[i]!.spread, w, buf);
        n++;
        sum += c;
        sum2 += c * c;
      }
      const mu = sum / n;
      const sd = Math.sqrt(Math.max(sum2 / n - mu * mu, 0));
      return (s - mu) / Math.max(sd, 1e-6);
    };
  },
};

/**
 * A per-user discriminative model: logistic regression of the user (their enrolment samples, each against
 * a template of the others) against background users' samples, on the deviation terms, pulled towards the
 * population metric so that a handful of samples cannot overfit.
 */
const discriminative: DetectorImpl = {
  fit(vectors, population, user) {
    const metric = need(population, "metric", "discriminative");
    const pool = need(population, "negatives", "discriminative").filter(
      (n) => String(n.user) !== String(user),
    );
    // evenly through the hash-ranked pool, so every background user is represented and a fit stays cheap
    const negatives =
      pool.length <= MAX_NEGATIVES
        ? pool
        : Array.from(
            { length: MAX_NEGATIVES },
            (_, i) => pool[Math.floor((i * pool.length) / MAX_NEGATIVES)]!,
          );
    const own = robustTemplate(vectors, population!.logSpread);
    const d = own.mean.length;
    const rows: Float64Array[] = [];
    const labels: number[] = [];
    vectors.forEach((v, i) => {
      const rest = vectors.filter((_, k) => k !== i);
      const t = robustTemplate(rest, population!.logSpread);
      rows.push(deviationTerms(v, t.mean, t.spread, new Float64Array(d)));
      labels.push(0);
    });
    for (const n of negatives) {
      rows.push(deviationTerms(n.vector, own.mean, own.spread, new Float64Array(d)));
      labels.push(1);
    }
    const m = negatives.length
      ? fitLogistic(rows, labels, { l2: DISCRIMINATIVE_SETTINGS.l2, prior: metric.weights })
      : { weights: Float64Array.from(metric.weights) };
    return { ...own, weights: Array.from(m.weights) };
  },
  compile(state) {
    const w = Float64Array.from(state.weights as number[]);
    const mean = Float64Array.from(state.mean as number[]);
    const spread = Float64Array.from(state.spread as number[]);
    const buf = new Float64Array(w.length);
    return (x) => weightedDistance(x, mean, spread, w, buf);
  },
};

/** The population detectors by name. */
export const POPULATION_DETECTOR_IMPLS = {
  "gmm-ubm": gmmUbm,
  "metric-learned": metricLearned,
  "metric-learned-cohort": metricLearnedCohort,
  discriminative,
} satisfies Partial<Record<DetectorName, DetectorImpl>>;
