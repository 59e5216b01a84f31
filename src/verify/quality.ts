import type { Label } from "../data/types.js";
import { KeystrokeError } from "../errors.js";
import { logTiming } from "./detectors.js";
import type { PopulationStats } from "./types.js";

/** One enrolment sample that does not look like the others, and why. */
export interface OutlierSample {
  /** 0-based position in the enrolment samples. */
  index: number;
  reason: string;
}

/** Why an enrolment is refused (each can be overridden with `force`). */
export type EnrolmentProblem = "too_few_samples" | "different_lengths" | "different_texts" | "two_people";

/** The assessment of one user's enrolment samples. */
export interface EnrolmentQuality {
  /** 0 (unusable) to 100: consistency × share of clean samples × amount (see `assessEnrolment`). */
  quality: number;
  outliers: OutlierSample[];
  /** Problems that refuse the enrolment unless forced. */
  problems: Array<{ code: EnrolmentProblem; message: string }>;
  /**
   * How far apart the two halves of the best 2-way split of the samples are (mean |difference| in pooled
   * spreads), and the separation above which the population says two people typed them (undefined without one).
   */
  split?: { separation: number; limit: number | undefined };
}

/** What was forced into a template despite its problems (recorded in the template). */
export interface ForcedEnrolment {
  problems: EnrolmentProblem[];
}

/** Options of `assessEnrolment`. */
export interface AssessOptions {
  /** Fewest samples the detector needs (default 3). */
  minSamples?: number;
  /** The typed text of each sample (key names joined), when the input names keys. */
  texts?: readonly string[];
}

/** Samples with the full weight of the "amount" factor. */
const FULL_AMOUNT = 10;
/** Outlier cut-off: robust z of a sample's leave-one-out distance. */
const OUTLIER_Z = 3.5;

/**
 * Assesses enrolment samples before a template is learnt from them. Refusal problems: fewer samples than the
 * detector needs; samples of different lengths or texts; samples of two people — the best 2-way split of the
 * samples (2-means on log timings scaled by the population's pooled spread) lies farther apart than the
 * population says one person's samples split (the limit is the geometric mean of the median split of one
 * population user's samples and of a mix of two population users, and at least the largest split of one user). Quality = 100 × consistency (1 − separation
 * / (2 × limit), clamped) × share of non-outlier samples × amount (½ + ½ · min(1, n / 10)).
 */
export function assessEnrolment(
  vectors: readonly (readonly number[])[],
  population?: PopulationStats,
  options: AssessOptions = {},
): EnrolmentQuality {
  const minSamples = options.minSamples ?? 3;
  const problems: EnrolmentQuality["problems"] = [];
  const n = vectors.length;
  if (n < minSamples)
    problems.push({
      code: "too_few_samples",
      message: `${n} sample(s); the detector needs at least ${minSamples}`,
    });
  const lengths = new Set(vectors.map((v) => v.length));
  if (lengths.size > 1) {
    problems.push({
      code: "different_lengths",
      message: `samples have different numbers of timing features (${[...lengths].join(", ")}): different texts or lengths`,
    });
  }
  if (options.texts) {
    const texts = new Set(options.texts.filter((t) => t !== ""));
    if (texts.size > 1)
      problems.push({
        code: "different_texts",
        message: `samples type different texts (${[...texts]
          .slice(0, 3)
          .map((t) => JSON.stringify(t))
          .join(", ")}${texts.size > 3 ? ", …" : ""})`,
      });
  }
  if (n === 0 || lengths.size > 1) return { quality: 0, outliers: [], problems };

  const d = vectors[0]!.length;
  const inv = new Float64Array(d);
  for (let j = 0; j < d; j++) inv[j] = 1 / Math.max(population?.logSpread[j] ?? 0, 1e-3);
  const z = vectors.map((v) => Float64Array.from(v, (x, j) => logTiming(x) * inv[j]!));

  const outliers: OutlierSample[] = [];
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < i; k++) {
      if (vectors[i]!.every((x, j) => x === vectors[k]![j])) {
        outliers.push({ index: i, reason: `repeats sample ${k + 1} exactly (a replay or a copy)` });
        break;
      }
    }
  }
  if (n >= 4) {
    const loo = z.map((x, i) => meanAbs(x, meanOf(z.filter((_, k) => k !== i))));
    const med = median(loo);
    const mad = median(loo.map((s) => Math.abs(s - med))) * 1.4826;
    loo.forEach((s, i) => {
      if (mad > 0 && (s - med) / mad > OUTLIER_Z && !outliers.some((o) => o.index === i)) {
        outliers.push({
          index: i,
          reason: `far from the user's other samples: ${s.toFixed(2)} pooled spreads per interval against a typical ${med.toFixed(2)}`,
        });
      }
    });
  }
  outliers.sort((a, b) => a.index - b.index);

  let split: EnrolmentQuality["split"];
  let consistency = 1;
  if (n >= 4) {
    // outliers are charged once (below); left in, a lone far sample would be the "second group"
    const kept = z.filter((_, i) => !outliers.some((o) => o.index === i));
    const separation = kept.length >= 4 ? splitSeparation(kept) : 0;
    const limit = population ? twoPeopleLimit(population, inv, n) : undefined;
    split = { separation, limit };
    if (limit !== undefined) {
      consistency = Math.min(1, Math.max(0, 1 - separation / (2 * limit)));
      if (separation > limit) {
        problems.push({
          code: "two_people",
          message: `the samples split into two groups ${separation.toFixed(2)} pooled spreads apart (one person's samples split at most ~${limit.toFixed(2)} in this population): samples of two people?`,
        });
      }
    }
  }
  const amount = 0.5 + 0.5 * Math.min(1, n / FULL_AMOUNT);
  const quality = Math.round(100 * consistency * (1 - outliers.length / n) * amount);
  return { quality, outliers, problems, ...(split ? { split } : {}) };
}

/** Throws ENROLMENT_REFUSED naming the user and the problems, unless there are none. */
export function refuseInconsistent(user: Label, q: EnrolmentQuality): void {
  if (q.problems.length === 0) return;
  throw new KeystrokeError(
    "ENROLMENT_REFUSED",
    `enrolment of user ${String(user)} refused: ${q.problems.map((p) => p.message).join("; ")}`,
    {},
    {
      suggestion:
        "check that every sample is this user's typing of the same text; force (--force) enrols anyway and records it in the template",
    },
  );
}

function meanOf(rows: readonly Float64Array[]): Float64Array {
  const m = new Float64Array(rows[0]!.length);
  for (const r of rows) for (let j = 0; j < m.length; j++) m[j]! += r[j]! / rows.length;
  return m;
}

function meanAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += Math.abs(a[j]! - b[j]!);
  return s / a.length;
}

/** Mean |difference| of the two group means of a 2-means split (initialised at the two farthest samples, 10 steps). */
export function splitSeparation(z: readonly Float64Array[]): number {
  const n = z.length;
  let a = 0;
  let b = 1;
  let far = -1;
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < i; k++) {
      const dd = meanAbs(z[i]!, z[k]!);
      if (dd > far) {
        far = dd;
        a = i;
        b = k;
      }
    }
  }
  let ca: Float64Array = Float64Array.from(z[a]!);
  let cb: Float64Array = Float64Array.from(z[b]!);
  let ga: Float64Array[] = [];
  let gb: Float64Array[] = [];
  for (let it = 0; it < 10; it++) {
    ga = [];
    gb = [];
    for (const x of z) (meanAbs(x, ca) <= meanAbs(x, cb) ? ga : gb).push(x);
    if (ga.length === 0 || gb.length === 0) return 0;
    ca = meanOf(ga);
    cb = meanOf(gb);
  }
  // a "group" of one sample is an outlier, not a second person
  if (ga.length < 2 || gb.length < 2) return 0;
  return meanAbs(ca, cb);
}

const limits = new WeakMap<PopulationStats, Map<number, number | undefined>>();

/** The two-people limit for n samples, from the population's negatives (cached per population and n). */
function twoPeopleLimit(population: PopulationStats, inv: Float64Array, n: number): number | undefined {
  let byN = limits.get(population);
  if (!byN) limits.set(population, (byN = new Map<number, number | undefined>()));
  if (byN.has(n)) return byN.get(n);
  const groups = new Map<string, Float64Array[]>();
  for (const neg of population.negatives ?? []) {
    const key = String(neg.user);
    const list = groups.get(key) ?? [];
    list.push(Float64Array.from(neg.vector, (x, j) => logTiming(x) * inv[j]!));
    groups.set(key, list);
  }
  const users = [...groups.values()].filter((g) => g.length >= 4);
  let limit: number | undefined;
  if (users.length >= 2) {
    const take = Math.max(4, Math.min(n, 30));
    const within = users.map((g) => splitSeparation(g.slice(0, take)));
    const between: number[] = [];
    for (let i = 0; i < users.length && between.length < 60; i++) {
      const o = users[(i + 1) % users.length]!;
      const half = Math.max(2, Math.floor(take / 2));
      between.push(splitSeparation([...users[i]!.slice(0, half), ...o.slice(0, half)]));
    }
    const w = median(within);
    const bt = median(between);
    // never below what any population user's own samples reach: refusing a real user costs more than letting
    // an unusual mix through (a mix still shows in its low quality), and a store built from the very samples
    // being enrolled must not refuse its own users
    const most = Math.max(...within);
    limit = bt > w && w > 0 ? Math.max(Math.sqrt(w * bt), most) : undefined;
  }
  byN.set(n, limit);
  return limit;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
