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

/** Maps a detector's raw score to the public anomaly scale: 0 = typical of the user, 1 = typical of others. */
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
  /** Decision threshold on the anomaly scale: accept when anomaly_score ≤ threshold. */
  threshold: number;
  /** How the threshold was chosen (see THRESHOLD_RULE). */
  thresholdRule: string;
  /** The enrolment samples' raw timing vectors, for replay detection. */
  samples?: number[][];
  /** Enrolment quality 0–100 (see assessEnrolment) and the samples that looked unlike the others. */
  quality?: number;
  outliers?: Array<{ index: number; reason: string }>;
  /** Problems that would have refused this enrolment, enrolled anyway (`force`). */
  forced?: { problems: string[] };
  /** The store-wide operating point this template's threshold was set for (see OperatingPolicy). */
  policy?: OperatingPolicy;
}

/**
 * The store-wide operating point: "eer" puts each user's threshold where their leave-one-out genuine scores
 * and the background impostor scores cross; { targetFar } puts it where at most that share of background
 * impostors would be accepted.
 */
export type OperatingPolicy = { kind: "eer" } | { kind: "target_far"; targetFar: number };

/** The answer to a claim "this sample was typed by user X". */
export interface VerificationResult {
  UserID: Label;
  accepted: boolean;
  /** 0 = as typical as the user's own samples, 1 = as typical as someone else's; larger is stranger. */
  anomaly_score: number;
  /** How sure the decision is, 0 (on the threshold) to 100 (far from it). */
  confidence_score: number;
  threshold: number;
  detector: DetectorName;
  /** The timings repeat an enrolled or recently verified sample exactly: rejected. */
  replay: boolean;
  /** Near-constant hold or press–press intervals (scripted input): rejected. */
  scripted: boolean;
  reason?: string;
}

/** Recently verified samples per user, so that a replayed pattern is caught. */
export interface RecentSamples {
  has(user: Label, vector: readonly number[]): boolean;
  add(user: Label, vector: readonly number[]): void;
}
