import type { Label } from "../data/types.js";
import { KeystrokeError } from "../errors.js";
import { DETECTOR_IMPLS, type Scorer } from "./detectors.js";
import { computeEer } from "./eer.js";
import { robustTemplate } from "./detectors.js";
import { explainSample } from "./explain.js";
import { backgroundImpostors, DEFAULT_POLICY, policyOf, targetFarThreshold } from "./policy.js";
import { isScripted, sameTimings } from "./replay.js";
import { anomalyScore, calibrated, confidenceScore } from "./scores.js";
import type {
  Calibration,
  DetectorName,
  OperatingPolicy,
  PopulationStats,
  RecentSamples,
  Template,
  VerificationResult,
} from "./types.js";

/** Every detector, baselines first. */
export const DETECTORS: readonly DetectorName[] = [
  "manhattan-scaled",
  "mahalanobis-nn",
  "zscore-outliers",
  "knn-manhattan-scaled",
  "manhattan-robust",
  "manhattan-robust-cohort",
  "gmm-ubm",
  "metric-learned",
  "metric-learned-cohort",
  "discriminative",
  "fusion",
];
/**
 * The detector chosen by the best mean rank over every shared dataset × protocol (published, disjoint) ×
 * enrolment size (5, 10, 20, 50, half) in `npm run bench:verify` (README "Verification accuracy").
 */
export const DEFAULT_DETECTOR: DetectorName = "fusion";
/** Fewest enrolment samples accepted. */
export const MIN_ENROL_SAMPLES = 3;
/** Leave-one-out scores computed at most for this many enrolment samples (evenly spaced), to bound enrolment time. */
const MAX_LOO = 25;

/** The documented per-user threshold rule, stored in every template. */
export const THRESHOLD_RULE =
  "equal-error point between the user's leave-one-out enrolment scores and the population background samples' scores " +
  "(other users, never the user); without a background, the largest leave-one-out score";

/** The threshold rule of the target_far policy, stored in the templates enrolled under it. */
export const TARGET_FAR_RULE =
  "highest threshold accepting at most the target share of the population's background and negative samples " +
  "of users other than the user; without a background, the largest leave-one-out score";

/** True when the name is a detector. */
export function isDetectorName(name: string): name is DetectorName {
  return (DETECTORS as readonly string[]).includes(name);
}

/** Options of `enrollUser`. */
export interface EnrollOptions {
  detector?: DetectorName;
  population?: PopulationStats;
  minSamples?: number;
  /** Drop enrolment samples far from the others (only with ≥ 6 samples); off by default. */
  filterOutliers?: boolean;
  /** Keep the enrolment vectors in the template for replay detection (default true). */
  keepSamples?: boolean;
  /** The operating point the threshold is set for (default: the EER point). */
  policy?: OperatingPolicy;
}

/** Learns a user's verification template from their genuine timing vectors; throws TOO_FEW_SAMPLES. */
export function enrollUser(user: Label, vectors: number[][], options: EnrollOptions = {}): Template {
  const detector = options.detector ?? DEFAULT_DETECTOR;
  if (!isDetectorName(detector)) {
    throw new KeystrokeError(
      "BAD_FLAG",
      `unknown detector "${String(detector)}" (detectors: ${DETECTORS.join(", ")})`,
      { flag: "--detector" },
    );
  }
  const minSamples = Math.max(2, options.minSamples ?? MIN_ENROL_SAMPLES);
  if (vectors.length < minSamples) {
    throw new KeystrokeError(
      "TOO_FEW_SAMPLES",
      `user ${String(user)} has ${vectors.length} sample${vectors.length === 1 ? "" : "s"}; enrolling needs at least ${minSamples}`,
    );
  }
  const d = vectors[0]!.length;
  vectors.forEach((v, i) => checkVector(v, d, `sample ${i + 1} of user ${String(user)}`));
  const population = options.population;
  if (population && population.nFeatures !== d) {
    throw new KeystrokeError(
      "BAD_REQUEST",
      `samples have ${d} timing features but the population was built from ${population.nFeatures} (different number of keys)`,
    );
  }
  const impl = DETECTOR_IMPLS[detector];
  const used = options.filterOutliers ? filterOutliers(vectors, population, user, minSamples) : vectors;
  const state = impl.fit(used, population, user);
  const scorer = impl.compile(state, population);

  const loo = leaveOneOutScores(detector, used, population, user);
  const background = (population?.background ?? []).filter((b) => String(b.user) !== String(user));
  const bg = background.map((b) => scorer(b.vector, b.user));
  const genuine = median(loo);
  let impostor = bg.length ? median(bg) : genuine + 1;
  if (!(impostor > genuine)) impostor = genuine + Math.max(Math.abs(genuine), 1);
  const calibration: Calibration = { genuine, impostor };
  const policy = options.policy ?? DEFAULT_POLICY;
  const template: Template = {
    user,
    detector,
    featureSet: "timings",
    n: used.length,
    nFeatures: d,
    state,
    calibration,
    threshold: policyThreshold(policy, loo, bg, calibration, () =>
      backgroundImpostors(population, user, true).map((b) => scorer(b.vector, b.user)),
    ),
    scale: "bounded",
    thresholdRule: policy.kind === "eer" ? THRESHOLD_RULE : TARGET_FAR_RULE,
    policy,
    profile: robustTemplate(used, population?.logSpread),
  };
  if (options.keepSamples !== false) template.samples = vectors.map((v) => [...v]);
  compiled.set(template, { population, scorer });
  return template;
}

/**
 * A user's threshold on the published anomaly scale for a policy, from raw scores: the user's leave-one-out
 * ones, the background ones (EER point) and, for a target FAR, the wider set of other users' samples.
 */
export function policyThreshold(
  policy: OperatingPolicy,
  loo: readonly number[],
  background: readonly number[],
  calibration: Calibration,
  wideBackground: () => number[],
): number {
  const toPublic = (raw: number) => anomalyScore(calibrated(raw, calibration));
  if (policy.kind === "target_far") {
    const imp = wideBackground();
    if (imp.length) return targetFarThreshold(imp.map(toPublic), policy.target_far);
  }
  return toPublic(background.length ? computeEer(loo, background).threshold : Math.max(...loo));
}

/** A template's threshold on the published anomaly scale (older templates kept it on the calibrated scale). */
export function publicThreshold(t: Pick<Template, "threshold" | "scale">): number {
  return t.scale === "bounded" ? t.threshold : anomalyScore(t.threshold);
}

/** Context of one verification: recently verified samples (replay check) and the replay tolerance in ms. */
export interface VerifyContext {
  population?: PopulationStats;
  recent?: RecentSamples;
  replayTolerance?: number;
  /** Add the intervals that deviate most from the template (`true`, or with the sample's key names). */
  explain?: boolean | { keys?: readonly string[] };
}

/** Answers the claim "this timing vector was typed by the template's user". */
export function verifySample(
  template: Template,
  vector: number[],
  context: VerifyContext = {},
): VerificationResult {
  checkVector(vector, template.nFeatures, "sample");
  const tolerance = context.replayTolerance ?? 0;
  const replay =
    (template.samples?.some((s) => sameTimings(s, vector, tolerance)) ?? false) ||
    (context.recent?.has(template.user, vector) ?? false);
  const scripted = isScripted(vector);
  const anomaly = anomalyScore(
    calibrated(scoreRaw(template, vector, undefined, context.population), template.calibration),
  );
  context.recent?.add(template.user, vector);
  const threshold = publicThreshold(template);
  const below = anomaly <= threshold;
  const accepted = below && !replay && !scripted;
  const result: VerificationResult = {
    UserID: template.user,
    accepted,
    anomaly_score: anomaly,
    confidence_score: confidenceScore(accepted, anomaly, threshold),
    threshold,
    detector: template.detector,
    policy: policyOf(template),
    replay,
    scripted,
  };
  if (replay) result.reason = "replay: the timings repeat an enrolled or recently verified sample exactly";
  else if (scripted) result.reason = "scripted: near-constant key intervals";
  else if (!below) result.reason = "timings unlike the user's";
  if (context.explain) {
    const keys = typeof context.explain === "object" ? context.explain.keys : undefined;
    result.explanation = explainSample(template, vector, context.population, keys);
  }
  return result;
}

/**
 * A template's detector score of one raw vector (internal scale); `exclude` keeps a user out of the cohort.
 * Cohort detectors need the population they were enrolled with.
 */
export function scoreRaw(
  template: Template,
  vector: ArrayLike<number>,
  exclude?: Label,
  population?: PopulationStats,
): number {
  let entry = compiled.get(template);
  if (!entry || (population !== undefined && entry.population !== population)) {
    const impl = DETECTOR_IMPLS[template.detector];
    if (!impl)
      throw new KeystrokeError(
        "BAD_MODEL_FILE",
        `template of user ${String(template.user)} names an unknown detector "${String(template.detector)}"`,
      );
    entry = { population, scorer: impl.compile(template.state, population) };
    compiled.set(template, entry);
  }
  return entry.scorer(vector, exclude);
}

/** Raw detector score → the user's calibrated scale (see scores.ts; `anomalyScore` maps it to the public one). */
export function toAnomaly(raw: number, c: Calibration): number {
  return calibrated(raw, c);
}

const compiled = new WeakMap<Template, { population: PopulationStats | undefined; scorer: Scorer }>();

function checkVector(v: unknown, d: number, what: string): void {
  if (!Array.isArray(v) || v.length !== d) {
    throw new KeystrokeError(
      "BAD_REQUEST",
      `${what} has ${Array.isArray(v) ? v.length : "no"} timing features, expected ${d} (same number of keys as enrolment)`,
    );
  }
  for (let j = 0; j < d; j++) {
    if (typeof v[j] !== "number" || !Number.isFinite(v[j]))
      throw new KeystrokeError("BAD_REQUEST", `${what}: timing feature ${j} is not a finite number`);
  }
}

function leaveOneOutScores(
  detector: DetectorName,
  vectors: number[][],
  population: PopulationStats | undefined,
  user: Label,
): number[] {
  const impl = DETECTOR_IMPLS[detector];
  const n = vectors.length;
  const picks =
    n <= MAX_LOO
      ? [...Array(n).keys()]
      : Array.from({ length: MAX_LOO }, (_, i) => Math.floor((i * n) / MAX_LOO));
  return picks.map((i) => {
    const rest = vectors.filter((_, k) => k !== i);
    return impl.compile(impl.fit(rest, population, user), population)(vectors[i]!);
  });
}

function filterOutliers(
  vectors: number[][],
  population: PopulationStats | undefined,
  user: Label,
  minSamples: number,
): number[][] {
  if (vectors.length < 6) return vectors;
  const loo = leaveOneOutScores("manhattan-robust", vectors, population, user);
  if (loo.length !== vectors.length) return vectors;
  const med = median(loo);
  const mad = median(loo.map((s) => Math.abs(s - med)));
  // a sample more than 3 robust standard deviations (1.4826 MAD) above the typical one is a slip, not the user
  const cut = med + 3 * 1.4826 * mad;
  const kept = vectors.filter((_, i) => loo[i]! <= cut);
  return kept.length >= minSamples ? kept : vectors;
}

/** Median of a non-empty list. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
