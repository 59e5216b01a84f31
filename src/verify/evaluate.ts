import type { Label, Sample } from "../data/types.js";
import { KeystrokeError } from "../errors.js";
import { extractTimings } from "../features/index.js";
import { computeEer, countAtMost, ratesAt, zeroMissFalseAlarmRate } from "./eer.js";
import { buildPopulation } from "./population.js";
import { DETECTORS, MIN_ENROL_SAMPLES, enrollUser, scoreRaw, toAnomaly } from "./template.js";
import type { DetectorName } from "./types.js";

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
}

/** The protocol actually run, and each detector's results. */
export interface VerificationEvaluation {
  protocol: {
    name: string;
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
}

const ROC_POINTS = 200;

/**
 * Killourhy & Maxion's protocol: per user, a template from their first N samples, genuine scores from the
 * rest, impostor scores from the first M samples of every other user; per-user EER, then mean and sd.
 */
export function evaluateVerification(samples: Sample[], options: EvaluateVerificationOptions = {}): VerificationEvaluation {
  const impostorsPer = options.impostors ?? 5;
  if (options.enrol !== undefined && !(Number.isInteger(options.enrol) && options.enrol >= MIN_ENROL_SAMPLES)) {
    throw new KeystrokeError("BAD_FLAG", `enrolment samples must be an integer ≥ ${MIN_ENROL_SAMPLES}`, { flag: "--enrol" });
  }
  if (!(Number.isInteger(impostorsPer) && impostorsPer >= 1)) throw new KeystrokeError("BAD_FLAG", "impostor samples per user must be an integer ≥ 1", { flag: "--impostors" });
  const detectors = options.detectors ?? [...DETECTORS];
  const byUser = new Map<string, { user: Label; vectors: number[][] }>();
  let d = -1;
  for (const s of samples) {
    if (s.label === undefined) {
      const where = s.source ? { file: s.source.file, line: s.source.line } : {};
      throw new KeystrokeError("BAD_ROW", "verification evaluation needs labelled samples (a UserID column)", where);
    }
    const v = extractTimings(s);
    if (d < 0) d = v.length;
    else if (v.length !== d) {
      const where = s.source ? { file: s.source.file, line: s.source.line } : {};
      throw new KeystrokeError("BAD_ROW", `sample has ${s.press.length} keys; earlier samples have ${(d + 3) / 4}`, where);
    }
    const key = String(s.label);
    let entry = byUser.get(key);
    if (!entry) byUser.set(key, (entry = { user: s.label, vectors: [] }));
    entry.vectors.push(v);
  }
  const all = [...byUser.values()];
  const skipped: Array<{ user: Label; reason: string }> = [];
  const evaluated: Array<{ user: Label; enrol: number[][]; genuine: number[][] }> = [];
  for (const u of all) {
    const n = options.enrol ?? Math.floor(u.vectors.length / 2);
    if (n < MIN_ENROL_SAMPLES) skipped.push({ user: u.user, reason: `${u.vectors.length} samples: fewer than ${MIN_ENROL_SAMPLES} to enrol` });
    else if (u.vectors.length <= n) skipped.push({ user: u.user, reason: `${u.vectors.length} samples: none left as genuine tests` });
    else evaluated.push({ user: u.user, enrol: u.vectors.slice(0, n), genuine: u.vectors.slice(n) });
  }
  if (evaluated.length < 2) throw new KeystrokeError("TOO_FEW_SAMPLES", `verification evaluation needs at least 2 users with enough samples (${evaluated.length} had)`);
  const impostorPool = all.map((u) => ({ user: u.user, vectors: u.vectors.slice(0, impostorsPer) }));
  const population = buildPopulation(evaluated.map((u) => ({ user: u.user, vectors: u.enrol })));

  const results: Record<string, DetectorEvaluation> = {};
  let genuineCount = 0;
  let impostorCount = 0;
  for (const detector of detectors) {
    const perUser: Array<{ user: Label; eer: number }> = [];
    const curves: Array<{ gen: Float64Array; imp: Float64Array }> = [];
    let zm = 0;
    let tFar = 0;
    let tFrr = 0;
    genuineCount = 0;
    impostorCount = 0;
    for (const u of evaluated) {
      const t = enrollUser(u.user, u.enrol, { detector, population, keepSamples: false });
      const gen = u.genuine.map((x) => scoreRaw(t, x, undefined, population));
      const imp: number[] = [];
      for (const o of impostorPool) {
        if (String(o.user) === String(u.user)) continue;
        // the impostor's own template never sits in the cohort: impostors are treated as not enrolled
        for (const x of o.vectors) imp.push(scoreRaw(t, x, o.user, population));
      }
      genuineCount += gen.length;
      impostorCount += imp.length;
      perUser.push({ user: u.user, eer: computeEer(gen, imp).eer });
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
    };
  }
  const best = detectors.reduce((a, b) => (results[b]!.eer.mean < results[a]!.eer.mean ? b : a));
  return {
    protocol: {
      name: "Killourhy & Maxion (DSN 2009)",
      featureSet: "timings",
      enrol: options.enrol ?? "first half",
      impostorsPerUser: impostorsPer,
      users: evaluated.length,
      skipped,
      genuineSamples: genuineCount,
      impostorSamples: impostorCount,
      notes: [
        "population statistics (pooled spread, cohort, background) come from the evaluated users' enrolment samples only",
        "cohort normalisation leaves the impostor's own template out, as if the impostor were not enrolled",
        "thresholds (atThreshold) are set from the background samples, which can overlap the impostor test samples",
      ],
    },
    detectors: results,
    best,
  };
}

function averagedRoc(curves: Array<{ gen: Float64Array; imp: Float64Array }>): Array<{ threshold: number; far: number; frr: number }> {
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
