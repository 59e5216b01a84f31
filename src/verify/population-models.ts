import type { Label } from "../data/types.js";
import { hashString, logTiming, robustTemplate } from "./detectors.js";
import { gmmToJson, trainGmm } from "./gmm.js";
import { fitLogistic } from "./logistic.js";
import type { PopulationStats } from "./types.js";

// The models that the population detectors (gmm-ubm, metric-learned, discriminative) share, learnt once from
// the population's users when the population is built: never from the people a template is later tested on.

/** Settings of the population models; chosen on the shared data (see README "Verification accuracy"). */
export const POPULATION_MODEL_SETTINGS = {
  /**
   * Most components of the universal background model. With few users, components become one user each and
   * MAP adaptation then changes nothing, so there is one component per `usersPerComponent` users.
   */
  ubmComponents: 8,
  usersPerComponent: 3,
  /** Variance floor of the UBM, as a share of each feature's overall variance (cross-session drift needs a wide one). */
  varianceFloor: 0.01,
  /** MAP relevance factor: how many samples a component needs before it moves half-way to the user. */
  relevance: 4,
  /** Samples the UBM is trained on at most (evenly chosen per user). */
  ubmSamples: 4000,
  /** Template size used when learning the metric (a user's first samples, at most). */
  metricTemplate: 10,
  /** Genuine test samples per population user when learning the metric. */
  metricGenuine: 20,
  /** Other users (samples) each template meets as impostors when learning the metric. */
  metricImpostors: 60,
  /** L2 pull of the metric towards zero (on class-balanced losses). */
  metricL2: 0.001,
  /** Negatives kept per population user for `discriminative`. */
  negativesPerUser: 30,
  negativesTotal: 2048,
} as const;

/** One user's raw timing vectors. */
interface UserVectorsIn {
  user: Label;
  vectors: number[][];
}

/** Scaled log timings (log timing / pooled spread): the space of the UBM. */
export function scaledLog(x: ArrayLike<number>, invSpread: Float64Array, out: Float64Array): Float64Array {
  for (let j = 0; j < out.length; j++) out[j] = logTiming(x[j]!) * invSpread[j]!;
  return out;
}

/** Per-interval deviation terms log1p(|log x − mean| / spread) of a vector from a robust template (manhattan-robust sums them). */
export function deviationTerms(
  x: ArrayLike<number>,
  mean: ArrayLike<number>,
  spread: ArrayLike<number>,
  out: Float64Array,
): Float64Array {
  for (let j = 0; j < out.length; j++)
    out[j] = Math.log1p(Math.abs(logTiming(x[j]!) - mean[j]!) / spread[j]!);
  return out;
}

/** Inverse pooled spreads, guarded against a zero spread. */
export function inverseSpread(logSpread: readonly number[]): Float64Array {
  return Float64Array.from(logSpread, (s) => 1 / Math.max(s, 1e-6));
}

function evenly<T>(items: readonly T[], max: number): T[] {
  if (items.length <= max) return [...items];
  return Array.from({ length: max }, (_, i) => items[Math.floor((i * items.length) / max)]!);
}

/** The UBM, metric and negatives of a population, from its users' vectors and pooled spread. */
export function buildPopulationModels(
  users: readonly UserVectorsIn[],
  logSpread: number[],
): Pick<PopulationStats, "ubm" | "metric" | "negatives"> {
  const S = POPULATION_MODEL_SETTINGS;
  const d = logSpread.length;
  const inv = inverseSpread(logSpread);
  const out: Pick<PopulationStats, "ubm" | "metric" | "negatives"> = {};

  const perUser = Math.max(1, Math.floor(S.ubmSamples / Math.max(1, users.length)));
  const data = users.flatMap((u) =>
    evenly(u.vectors, perUser).map((v) => scaledLog(v, inv, new Float64Array(d))),
  );
  const k = Math.max(1, Math.min(S.ubmComponents, Math.floor(users.length / S.usersPerComponent)));
  if (data.length >= 2 * k) {
    const g = trainGmm(data, { k, seed: 1, varianceFloor: S.varianceFloor });
    out.ubm = { ...gmmToJson(g), relevance: S.relevance };
  }

  const metric = learnMetric(users, logSpread);
  if (metric) out.metric = metric;

  const ranked = [...users].sort((a, b) => hashString(String(a.user)) - hashString(String(b.user)));
  const per = Math.max(
    1,
    Math.min(S.negativesPerUser, Math.floor(S.negativesTotal / Math.max(1, users.length))),
  );
  out.negatives = ranked.flatMap((u) =>
    evenly(u.vectors, per).map((v) => ({ user: u.user, vector: [...v] })),
  );
  return out;
}

/**
 * Learns the weight of each deviation term: per population user with at least 4 samples, a robust template
 * from their first samples; their later samples are genuine rows, other users' samples impostor rows; a
 * class-balanced logistic regression separates them. Undefined when fewer than 3 users can take part.
 */
function learnMetric(users: readonly UserVectorsIn[], logSpread: number[]): PopulationStats["metric"] {
  const S = POPULATION_MODEL_SETTINGS;
  const d = logSpread.length;
  const able = users.filter((u) => u.vectors.length >= 3);
  if (able.length < 2) return undefined;
  const rows: Float64Array[] = [];
  const labels: number[] = [];
  let genuine = 0;
  let impostor = 0;
  for (const u of able) {
    const t = Math.max(1, Math.min(S.metricTemplate, Math.floor(u.vectors.length / 2)));
    const tpl = robustTemplate(u.vectors.slice(0, t), logSpread);
    for (const v of evenly(u.vectors.slice(t), S.metricGenuine)) {
      rows.push(deviationTerms(v, tpl.mean, tpl.spread, new Float64Array(d)));
      labels.push(0);
      genuine++;
    }
    // other users met in an order fixed by a hash of the pair, one sample each, cycling through their samples
    const others = users
      .filter((o) => String(o.user) !== String(u.user))
      .sort(
        (a, b) =>
          hashString(`${String(u.user)}\u0000${String(a.user)}`) -
          hashString(`${String(u.user)}\u0000${String(b.user)}`),
      );
    for (let i = 0; i < Math.min(S.metricImpostors, others.length * 3); i++) {
      const o = others[i % others.length]!;
      const v = o.vectors[Math.floor(i / others.length) % o.vectors.length]!;
      rows.push(deviationTerms(v, tpl.mean, tpl.spread, new Float64Array(d)));
      labels.push(1);
      impostor++;
    }
  }
  const m = fitLogistic(rows, labels, { l2: S.metricL2 });
  return { weights: Array.from(m.weights), bias: m.bias, genuinePairs: genuine, impostorPairs: impostor };
}
