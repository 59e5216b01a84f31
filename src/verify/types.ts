import type { Label } from "../data/types.js";

/** The verification detectors; the first four are Killourhy & Maxion's (DSN 2009), the last two ours. */
export type DetectorName =
  | "manhattan-scaled"
  | "mahalanobis-nn"
  | "zscore-outliers"
  | "knn-manhattan-scaled"
  | "manhattan-robust"
  | "manhattan-robust-cohort"
  | "gmm-ubm"
  | "metric-learned"
  | "metric-learned-cohort"
  | "discriminative"
  | "fusion";

/** Per-feature statistics of one enrolled user, in the space the detector works in. */
export interface CohortMember {
  user: Label;
  mean: number[];
  spread: number[];
}

/**
 * What every enrolment shares: pooled spread of the users' (log) timings, the cohort used for score
 * normalisation and a background set of other people's samples used to set thresholds. Built once from
 * the training users (`buildPopulation`) and stored in the verification index (verification/index.<hash>.json).
 */
export interface PopulationStats {
  featureSet: "timings";
  nFeatures: number;
  /** Users the statistics were computed from. */
  users: number;
  /** Pooled within-user mean absolute deviation of each log-timing feature. */
  logSpread: number[];
  /** Other users' log-space templates, for cohort normalisation (capped, seeded choice). */
  cohort: CohortMember[];
  /** Raw timing vectors of other users (one per user, capped), impostor stand-ins for thresholds. */
  background: Array<{ user: Label; vector: number[] }>;
  /**
   * Universal background model of gmm-ubm: a diagonal GMM of the population's scaled log timings
   * (log timing / logSpread), with the MAP relevance factor its users are adapted with.
   */
  ubm?: { k: number; d: number; weights: number[]; means: number[]; vars: number[]; relevance: number };
  /**
   * The diagonal metric of metric-learned: weights of the per-interval deviation terms of manhattan-robust,
   * learnt by logistic regression on the population's users (their own later samples against their template
   * versus other users' samples), so the intervals that tell people apart count more.
   */
  metric?: { weights: number[]; bias: number; genuinePairs: number; impostorPairs: number };
  /** Several raw timing vectors per population user (capped): the negatives of `discriminative`. */
  negatives?: Array<{ user: Label; vector: number[] }>;
  /** Where the population's users came from, for protocol notes. */
  source?: string;
}

/** Maps a detector's raw score to the user's calibrated scale: 0 = typical of the user, 1 = typical of others (see scores.ts). */
export interface Calibration {
  /** Median leave-one-out score of the user's own enrolment samples. */
  genuine: number;
  /** Median score of the background (other people's) samples; genuine + 1 when there is none. */
  impostor: number;
}

/** One user's verification template: learnt from that user's genuine samples only. */
export interface Template {
  user: Label;
  detector: DetectorName;
  featureSet: "timings";
  /** Number of enrolment samples used. */
  n: number;
  nFeatures: number;
  /** Detector state (means, spreads, whitened samples, cohort, …); plain JSON. */
  state: Record<string, unknown>;
  calibration: Calibration;
  /**
   * Decision threshold: accept when anomaly_score ≤ threshold. On the published anomaly scale (0–1, see
   * scores.ts) when `scale` is "bounded"; on the calibrated scale in templates written before it (converted
   * when read).
   */
  threshold: number;
  /** "bounded": `threshold` is on the published anomaly scale (absent in older templates). */
  scale?: "bounded";
  /** How the threshold was chosen (see THRESHOLD_RULE). */
  thresholdRule: string;
  /** The enrolment samples' raw timing vectors, for replay detection. */
  samples?: number[][];
  /** Enrolment quality 0–100 (see assessEnrolment) and the samples that looked unlike the others. */
  quality?: number;
  outliers?: Array<{ index: number; reason: string }>;
  /** Problems that would have refused this enrolment, enrolled anyway (`force`). */
  forced?: { problems: string[] };
  /** Accepted samples that adapted the template (the last `window`, oldest first; see adapt.ts). */
  adapted?: number[][];
  /** The user's robust log-space profile (means, spreads) that explanations measure deviations against. */
  profile?: { mean: number[]; spread: number[] };
  /** The store-wide operating point this template's threshold was set for (see OperatingPolicy). */
  policy?: OperatingPolicy;
}

/**
 * The store-wide operating point: "eer" puts each user's threshold where their leave-one-out genuine scores
 * and the background impostor scores cross; "target_far" puts it where at most that share of background
 * impostors (population users other than the user) would be accepted. Written as it is shown in answers.
 */
export type OperatingPolicy = { kind: "eer" } | { kind: "target_far"; target_far: number };

/** One interval of a sample that deviates from the user's template (an explanation). */
export interface ExplanationItem {
  /** `a→b` for a pair (or `a` for a hold) when the keys are known, else key indexes (`3→4`, `3`). */
  key_pair: string;
  /** HT (hold), PPT (press–press), RRT (release–release) or RPT (release–press). */
  kind: "HT" | "PPT" | "RRT" | "RPT";
  /** How many of the user's spreads the interval lies from the template, in log time. */
  spreads: number;
  direction: "slower" | "faster";
}

/** The answer to a claim "this sample was typed by user X". */
export interface VerificationResult {
  UserID: Label;
  accepted: boolean;
  /** In (0, 1); 0.1 = as typical as the user's own samples, 0.9 = as typical as someone else's (scores.ts). */
  anomaly_score: number;
  /** Confidence in the decision returned: 0 on the threshold, towards 100 far from it (scores.ts). */
  confidence_score: number;
  threshold: number;
  detector: DetectorName;
  /** The operating point the user's threshold was set for. */
  policy: OperatingPolicy;
  /** The timings repeat an enrolled or recently verified sample exactly: rejected. */
  replay: boolean;
  /** Near-constant hold or press–press intervals (scripted input): rejected. */
  scripted: boolean;
  reason?: string;
  /** With `explain`: the intervals deviating most from the template, most deviating first. */
  explanation?: ExplanationItem[];
}

/** Recently verified samples per user, so that a replayed pattern is caught. */
export interface RecentSamples {
  has(user: Label, vector: readonly number[]): boolean;
  add(user: Label, vector: readonly number[]): void;
}
