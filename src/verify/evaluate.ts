import type { Label, Sample } from "../data/types.js";
import { KeystrokeError } from "../errors.js";
import { extractTimings } from "../features/index.js";
import { computeEer, countAtMost, ratesAt, zeroMissFalseAlarmRate } from "./eer.js";
import { buildPopulation } from "./population.js";
import { hashString } from "./detectors.js";
import { DETECTORS, MIN_ENROL_SAMPLES, enrollUser, scoreRaw, toAnomaly } from "./template.js";
import type { DetectorName, PopulationStats } from "./types.js";

/** One detector's results under the protocol. */
export interface DetectorEvaluation {
  /** Per-user EER: mean and sample standard deviation over users. */
  eer: { mean: number; sd: number };
  /** Mean over users of the share of genuine samples rejected when no impostor is accepted. */
  zeroMissFar: number;
  perUser: Array<{ user: Label; eer: number }>;
  /** Per-user FAR and FRR averaged at common thresholds on the anomaly scale (≤ 200 points, threshold ascending). */
  roc: Array<{ threshold: number; far: number; frr: number }>;
  /** Where that averaged curve crosses FAR = FRR (not the same number as eer.mean, which averages per-user EERs). */
  eerPoint: { far: number; frr: number };
  /** Mean FAR and FRR at the templates' own thresholds (the documented rule), i.e. what deployment would see. */
  atThreshold: { far: number; frr: number };
  /**
   * Mean over users of the FRR at the lowest threshold whose FAR is at most the target (keys "0.01", "0.001").
   * With fewer than 1/target impostor scores per user, that is the FRR at which no impostor is accepted.
   */
  frr_at_far: Record<string, number>;
}

/** The protocol actually run, and each detector's results. */
export interface VerificationEvaluation {
  protocol: {
    name: string;
    /** "published": the population comes from the evaluated users; "disjoint": only from other users. */
    kind: VerificationProtocol;
    featureSet: "timings";
    /** Enrolment samples per user: a number, or "first half". */
    enrol: number | "first half";
    impostorsPerUser: number;
    users: number;
    skipped: Array<{ user: Label; reason: string }>;
    genuineSamples: number;
    impostorSamples: number;
    notes: string[];
  };
  detectors: Record<string, DetectorEvaluation>;
  best: string;
}

/** Options of `evaluateVerification`. */
export interface EvaluateVerificationOptions {
  /** Enrolment samples per user (default: the first half of each user's samples, rounded down). */
  enrol?: number;
  /** Impostor samples taken from the start of every other user (default 5). */
  impostors?: number;
  detectors?: DetectorName[];
  /** "published" (default) or "disjoint": population models only from users outside the evaluated fold. */
  protocol?: VerificationProtocol;
}

/** The two protocols of `evaluateVerification`. */
export type VerificationProtocol = "published" | "disjoint";
/** FAR targets at which every evaluation reports the FRR. */
export const FAR_TARGETS = [0.01, 0.001] as const;

const ROC_POINTS = 200;

/**
 * Killourhy & Maxion's protocol: per user, a template from their first N samples, genuine scores from the
 * rest, impostor scores from the first M samples of every other user; per-user EER, then mean and sd.
 */
export function evaluateVerification(
  samples: Sample[],
  options: EvaluateVerificationOptions = {},
): VerificationEvaluation {
  const impostorsPer = options.impostors ?? 5;
  if (
    options.enrol !== undefined &&
    !(Number.isInteger(options.enrol) && options.enrol >= MIN_ENROL_SAMPLES)
  ) {
    throw new KeystrokeError("BAD_FLAG", `enrolment samples must be an integer ≥ ${MIN_ENROL_SAMPLES}`, {
      flag: "--enrol",
    });
  }
  if (!(Number.isInteger(impostorsPer) && impostorsPer >= 1))
    throw new KeystrokeError("BAD_FLAG", "impostor samples per user must be an integer ≥ 1", {
      flag: "--impostors",
    });
  const detectors = options.detectors ?? [...DETECTORS];
  const byUser = new Map<string, { user: Label; vectors: number[][] }>();
  let d = -1;
  for (const s of samples) {
    if (s.label === undefined) {
      const where = s.source ? { file: s.source.file, line: s.source.line } : {};
      throw new KeystrokeError(
        "BAD_ROW",
        "verification evaluation needs labelled samples (a UserID column)",
        where,
      );
    }
    const v = extractTimings(s);
    if (d < 0) d = v.length;
    else if (v.length !== d) {
      const where = s.source ? { file: s.source.file, line: s.source.line } : {};
      throw new KeystrokeError(
        "BAD_ROW",
        `sample has ${s.press.length} keys; earlier samples have ${(d + 3) / 4}`,
        where,
      );
    }
    const key = String(s.label);
    let entry = byUser.get(key);
    if (!entry) byUser.set(key, (entry = { user: s.label, vectors: [] }));
    entry.vectors.push(v);
  }
  const all = [...byUser.values()];
  if ((options.protocol ?? "published") === "disjoint")
    return evaluateDisjoint(all, options, impostorsPer, detectors);
  const { skipped, usable: evaluated } = splitEnrolment(all, options);
  if (evaluated.length < 2)
    throw new KeystrokeError(
      "TOO_FEW_SAMPLES",
      `verification evaluation needs at least 2 users with enough samples (${evaluated.length} had)`,
    );
  const impostorPool = all.map((u) => ({ user: u.user, vectors: u.vectors.slice(0, impostorsPer) }));
  // the impostor test samples (every user's first ones) never enter the population that scores them
  const population = buildPopulation(
    evaluated.map((u) => ({
      user: u.user,
      vectors: u.enrol.length > impostorsPer + 2 ? u.enrol.slice(impostorsPer) : u.enrol,
    })),
    {
      source:
        "the evaluated users' enrolment samples, less the first samples of each that serve as impostor tests",
    },
  );
  const run = scoreDetectors(
    detectors,
    evaluated.map((u) => ({ ...u, population, impostors: impostorPool })),
  );
  return protocolResult(
    { name: "Killourhy & Maxion (DSN 2009)", kind: "published" },
    { options, impostorsPer, users: evaluated.length, skipped, run },
    [
      "population models (pooled spread, cohort, background, UBM, learnt metric, negatives) come from the evaluated users' enrolment samples, " +
        `less each user's first ${impostorsPer} (the impostor test samples): the impostors are other enrolled people, but their scored samples never train anything`,
      "cohort normalisation leaves the impostor's own template out, as if the impostor were not enrolled",
      "thresholds (atThreshold) are set from the population background samples",
    ],
  );
}

/**
 * Each user's enrolment samples (`options.enrol`, or the first half) and genuine tests (the rest); users with
 * too few samples to enrol, or none left to test, are skipped with the reason.
 */
function splitEnrolment(
  all: Array<{ user: Label; vectors: number[][] }>,
  options: EvaluateVerificationOptions,
): {
  skipped: Array<{ user: Label; reason: string }>;
  usable: Array<{ user: Label; vectors: number[][]; enrol: number[][]; genuine: number[][] }>;
} {
  const skipped: Array<{ user: Label; reason: string }> = [];
  const usable: Array<{ user: Label; vectors: number[][]; enrol: number[][]; genuine: number[][] }> = [];
  for (const u of all) {
    const n = options.enrol ?? Math.floor(u.vectors.length / 2);
    if (n < MIN_ENROL_SAMPLES)
      skipped.push({
        user: u.user,
        reason: `${u.vectors.length} samples: fewer than ${MIN_ENROL_SAMPLES} to enrol`,
      });
    else if (u.vectors.length <= n)
      skipped.push({ user: u.user, reason: `${u.vectors.length} samples: none left as genuine tests` });
    else usable.push({ ...u, enrol: u.vectors.slice(0, n), genuine: u.vectors.slice(n) });
  }
  return { skipped, usable };
}

/** A protocol's evaluation: what was measured on whom, the protocol's notes (then the FRR note), each detector's figures. */
function protocolResult(
  protocol: { name: string; kind: VerificationProtocol },
  m: {
    options: EvaluateVerificationOptions;
    impostorsPer: number;
    users: number;
    skipped: Array<{ user: Label; reason: string }>;
    run: ReturnType<typeof scoreDetectors>;
  },
  notes: string[],
): VerificationEvaluation {
  return {
    protocol: {
      ...protocol,
      featureSet: "timings",
      enrol: m.options.enrol ?? "first half",
      impostorsPerUser: m.impostorsPer,
      users: m.users,
      skipped: m.skipped,
      genuineSamples: m.run.genuineCount,
      impostorSamples: m.run.impostorCount,
      notes: [...notes, frrNote(m.run.minImpostors)],
    },
    detectors: m.run.results,
    best: m.run.best,
  };
}

function frrNote(minImpostors: number): string {
  return `FRR at FAR 1% and 0.1% are per-user (then averaged); with ${minImpostors} impostor scores per user (fewest), a target below 1/${minImpostors} means no impostor accepted`;
}

/** One evaluated user with the population and impostors their scores are computed against. */
interface EvaluatedUser {
  user: Label;
  enrol: number[][];
  genuine: number[][];
  population: PopulationStats;
  impostors: Array<{ user: Label; vectors: number[][] }>;
}

/** Number of user folds of the disjoint protocol: about 4 users a fold, 2 to 5 folds. */
export function disjointFolds(users: number): number {
  return Math.max(2, Math.min(5, Math.round(users / 4)));
}

function evaluateDisjoint(
  all: Array<{ user: Label; vectors: number[][] }>,
  options: EvaluateVerificationOptions,
  impostorsPer: number,
  detectors: DetectorName[],
): VerificationEvaluation {
  const { skipped, usable } = splitEnrolment(all, options);
  const k = disjointFolds(usable.length);
  if (usable.length < 2 * k || usable.length < 4) {
    throw new KeystrokeError(
      "TOO_FEW_SAMPLES",
      `the disjoint protocol needs at least 4 users with enough samples (${usable.length} had)`,
    );
  }
  // folds by a hash of the user id: repeatable and independent of row order
  const ranked = [...usable].sort((a, b) => hashString(String(a.user)) - hashString(String(b.user)));
  const folds = Array.from({ length: k }, (_, f) => ranked.filter((_, i) => i % k === f));
  const evaluated: EvaluatedUser[] = [];
  for (const fold of folds) {
    const inFold = new Set(fold.map((u) => String(u.user)));
    const population = buildPopulation(
      all.filter((u) => !inFold.has(String(u.user))),
      {
        source: `all samples of the ${all.length - fold.length} users outside the evaluated fold (${k} folds by a hash of the user id)`,
      },
    );
    const impostors = fold.map((u) => ({ user: u.user, vectors: u.vectors.slice(0, impostorsPer) }));
    for (const u of fold)
      evaluated.push({ user: u.user, enrol: u.enrol, genuine: u.genuine, population, impostors });
  }
  const run = scoreDetectors(detectors, evaluated);
  return protocolResult(
    { name: "Killourhy & Maxion (DSN 2009), population disjoint from the evaluated users", kind: "disjoint" },
    { options, impostorsPer, users: evaluated.length, skipped, run },
    [
      `users are split into ${k} folds by a hash of their id; every population model (pooled spread, cohort, background, UBM, learnt metric, negatives) ` +
        "of a fold is built only from the users outside it, so genuine users and impostors are people the population never saw",
      "impostors of a user are the first samples of the other users of the same fold",
    ],
  );
}

function scoreDetectors(
  detectors: readonly DetectorName[],
  evaluated: readonly EvaluatedUser[],
): {
  results: Record<string, DetectorEvaluation>;
  best: string;
  genuineCount: number;
  impostorCount: number;
  minImpostors: number;
} {
  const results: Record<string, DetectorEvaluation> = {};
  let genuineCount = 0;
  let impostorCount = 0;
  let minImpostors = Infinity;
  for (const detector of detectors) {
    const perUser: Array<{ user: Label; eer: number }> = [];
    const curves: Array<{ gen: Float64Array; imp: Float64Array }> = [];
    let zm = 0;
    let tFar = 0;
    let tFrr = 0;
    genuineCount = 0;
    impostorCount = 0;
    const frr = FAR_TARGETS.map(() => 0);
    for (const u of evaluated) {
      const population = u.population;
      const t = enrollUser(u.user, u.enrol, { detector, population, keepSamples: false });
      const gen = u.genuine.map((x) => scoreRaw(t, x, undefined, population));
      const imp: number[] = [];
      for (const o of u.impostors) {
        if (String(o.user) === String(u.user)) continue;
        // the impostor's own template never sits in the cohort: impostors are treated as not enrolled
        for (const x of o.vectors) imp.push(scoreRaw(t, x, o.user, population));
      }
      genuineCount += gen.length;
      impostorCount += imp.length;
      perUser.push({ user: u.user, eer: computeEer(gen, imp).eer });
      minImpostors = Math.min(minImpostors, imp.length);
      FAR_TARGETS.forEach((target, i) => (frr[i]! += frrAtFar(gen, imp, target)));
      zm += zeroMissFalseAlarmRate(gen, imp);
      const genA = Float64Array.from(gen, (s) => toAnomaly(s, t.calibration)).sort();
      const impA = Float64Array.from(imp, (s) => toAnomaly(s, t.calibration)).sort();
      const r = ratesAt(genA, impA, t.threshold);
      tFar += r.far;
      tFrr += r.frr;
      curves.push({ gen: genA, imp: impA });
    }
    const k = evaluated.length;
    const eers = perUser.map((p) => p.eer);
    const roc = averagedRoc(curves);
    results[detector] = {
      eer: { mean: mean(eers), sd: sampleSd(eers) },
      zeroMissFar: zm / k,
      perUser,
      roc,
      eerPoint: crossing(roc),
      atThreshold: { far: tFar / k, frr: tFrr / k },
      frr_at_far: Object.fromEntries(FAR_TARGETS.map((target, i) => [String(target), frr[i]! / k])),
    };
  }
  const best = detectors.reduce((a, b) => (results[b]!.eer.mean < results[a]!.eer.mean ? b : a));
  return { results, best, genuineCount, impostorCount, minImpostors };
}

/** FRR at the largest threshold whose FAR is at most `target` (accept when score ≤ threshold). */
export function frrAtFar(genuine: readonly number[], impostor: readonly number[], target: number): number {
  const imp = Float64Array.from(impostor).sort();
  // impostors that may be accepted: floor(target × count); the threshold sits just below the next one
  const allowed = Math.floor(target * imp.length + 1e-9);
  const limit = allowed >= imp.length ? Infinity : imp[allowed]!;
  let rejected = 0;
  for (const s of genuine) if (!(s < limit)) rejected++;
  return genuine.length ? rejected / genuine.length : NaN;
}

function averagedRoc(
  curves: Array<{ gen: Float64Array; imp: Float64Array }>,
): Array<{ threshold: number; far: number; frr: number }> {
  const pooled: number[] = [];
  for (const c of curves) {
    for (const s of c.gen) pooled.push(s);
    for (const s of c.imp) pooled.push(s);
  }
  const sorted = Float64Array.from(pooled).sort();
  const thresholds: number[] = [];
  for (let i = 0; i < ROC_POINTS; i++) {
    const t = sorted[Math.round((i * (sorted.length - 1)) / (ROC_POINTS - 1))]!;
    if (thresholds.length === 0 || t !== thresholds[thresholds.length - 1]) thresholds.push(t);
  }
  return thresholds.map((t) => {
    let far = 0;
    let frr = 0;
    for (const c of curves) {
      far += countAtMost(c.imp, t) / c.imp.length;
      frr += (c.gen.length - countAtMost(c.gen, t)) / c.gen.length;
    }
    return { threshold: t, far: far / curves.length, frr: frr / curves.length };
  });
}

function crossing(roc: Array<{ far: number; frr: number }>): { far: number; frr: number } {
  for (let i = 0; i < roc.length; i++) {
    const p = roc[i]!;
    if (p.far >= p.frr) {
      if (i === 0) return { far: p.far, frr: p.frr };
      const q = roc[i - 1]!;
      const d1 = q.frr - q.far;
      const d2 = p.far - p.frr;
      const t = d1 + d2 === 0 ? 1 : d1 / (d1 + d2);
      const e = q.far + t * (p.far - q.far);
      return { far: e, frr: e };
    }
  }
  const last = roc[roc.length - 1]!;
  return { far: last.far, frr: last.frr };
}

function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

function sampleSd(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
}

/** An enrolment size of the suite: a number of samples, or "half" (each user's first half). */
export type EnrolSize = number | "half";

/** One cell of the suite: a protocol and an enrolment size, with each detector's figures (or why it could not run). */
export interface SuiteRun {
  protocol: VerificationProtocol;
  enrol: EnrolSize;
  users?: number;
  /** Per detector: mean and sd of the per-user EER, FRR at FAR 1% and 0.1%. */
  detectors?: Record<string, { eer: number; sd: number; frr_at_far_1pct: number; frr_at_far_0_1pct: number }>;
  notes?: string[];
  populationSource?: string;
  /** Why this cell has no figures (e.g. no user has enough samples). */
  skipped?: string;
}

/** Options of `evaluateVerificationSuite`. */
export interface SuiteOptions {
  enrolSizes?: EnrolSize[];
  protocols?: VerificationProtocol[];
  detectors?: DetectorName[];
  impostors?: number;
  /**
   * An evaluation already made of these samples with the published protocol, each user's first half and
   * the same detectors and impostors: the suite's cell for it takes it instead of computing it again.
   */
  published?: VerificationEvaluation;
  /** Called before each cell (progress). */
  onRun?: (protocol: VerificationProtocol, enrol: EnrolSize) => void;
}

/** The enrolment sizes the issue asks for. */
export const DEFAULT_ENROL_SIZES: readonly EnrolSize[] = [5, 10, 20, 50, "half"];

/** Every protocol × enrolment size; cells where too few users have the samples are kept, with the reason. */
export function evaluateVerificationSuite(samples: Sample[], options: SuiteOptions = {}): SuiteRun[] {
  const runs: SuiteRun[] = [];
  for (const protocol of options.protocols ?? (["published", "disjoint"] as const)) {
    for (const enrol of options.enrolSizes ?? DEFAULT_ENROL_SIZES) {
      options.onRun?.(protocol, enrol);
      try {
        const reuse = protocol === "published" && enrol === "half" ? options.published : undefined;
        const ev =
          reuse ??
          evaluateVerification(samples, {
            protocol,
            ...(enrol === "half" ? {} : { enrol }),
            ...(options.detectors ? { detectors: options.detectors } : {}),
            ...(options.impostors !== undefined ? { impostors: options.impostors } : {}),
          });
        runs.push({
          protocol,
          enrol,
          users: ev.protocol.users,
          detectors: Object.fromEntries(
            Object.entries(ev.detectors).map(([name, d]) => [
              name,
              {
                eer: d.eer.mean,
                sd: d.eer.sd,
                frr_at_far_1pct: d.frr_at_far["0.01"]!,
                frr_at_far_0_1pct: d.frr_at_far["0.001"]!,
              },
            ]),
          ),
          notes: ev.protocol.notes,
        });
      } catch (e) {
        if (!(e instanceof KeystrokeError) || e.code !== "TOO_FEW_SAMPLES") throw e;
        runs.push({ protocol, enrol, skipped: e.message });
      }
    }
  }
  return runs;
}

/**
 * Mean rank of each detector over every cell that has figures (rank 1 = lowest mean EER in that cell; ties share
 * the mean of their ranks), best first. The default detector is chosen this way over both shared datasets.
 */
export function meanRanks(
  runs: readonly SuiteRun[],
): Array<{ detector: string; meanRank: number; cells: number; meanEer: number }> {
  const acc = new Map<string, { rank: number; cells: number; eer: number }>();
  for (const r of runs) {
    if (!r.detectors) continue;
    const entries = Object.entries(r.detectors);
    for (const [name, d] of entries) {
      const below = entries.filter(([, o]) => o.eer < d.eer).length;
      const equal = entries.filter(([, o]) => o.eer === d.eer).length;
      const rank = below + (equal + 1) / 2;
      const a = acc.get(name) ?? { rank: 0, cells: 0, eer: 0 };
      a.rank += rank;
      a.cells++;
      a.eer += d.eer;
      acc.set(name, a);
    }
  }
  return [...acc.entries()]
    .map(([detector, a]) => ({
      detector,
      meanRank: a.rank / a.cells,
      cells: a.cells,
      meanEer: a.eer / a.cells,
    }))
    .sort((a, b) => a.meanRank - b.meanRank || a.meanEer - b.meanEer);
}
