import type { Calibration } from "./types.js";

// The public scores of a verification, defined once (README "Verification", "What the scores mean"):
//
// - the detector's raw score (a distance from the template: larger = less like the user) is placed on the
//   user's calibrated scale z, where 0 is the median leave-one-out score of the user's own enrolment
//   samples and 1 the median score of other people's (background) samples;
// - `anomaly_score` = 1/2 + (z − 1/2) / (2 (|z − 1/2| + 1/8)): strictly increasing in z, always in (0, 1);
//   the user's typical sample scores 0.1, a typical other person's 0.9, half-way between them 0.5. Its tails
//   fall off as 1/z, so samples far from the template stay distinguishable at the published precision;
// - `accepted` is `anomaly_score ≤ threshold` on the published (rounded) figures, so the answer never
//   contradicts itself;
// - `confidence_score` is how far the score lies from the threshold, as a share of the room on the side of
//   the decision returned: 100 · (threshold − a) / threshold when accepted, 100 · (a − threshold) /
//   (1 − threshold) when rejected. 0 on the threshold, towards 100 at either end of the scale; it falls as
//   an accepted sample moves away from the template and rises as a rejected one does.

/** Steepness of the anomaly map: half-width, on the calibrated scale, of the middle half of the (0, 1) range. */
const ANOMALY_KNEE = 1 / 8;
/** Digits the public scores are rounded to (and decisions taken on). */
const SCORE_DIGITS = 1e6;

/** Raw detector score → the user's calibrated scale (0 = their typical leave-one-out score, 1 = a typical other person's). */
export function calibrated(raw: number, c: Calibration): number {
  return (raw - c.genuine) / (c.impostor - c.genuine);
}

/** Calibrated score → the public `anomaly_score` in (0, 1), rounded to 6 digits (strictly increasing before rounding). */
export function anomalyScore(z: number): number {
  if (Number.isNaN(z)) return 1;
  const u = z - 0.5;
  const a = Number.isFinite(u) ? 0.5 + 0.5 * (u / (Math.abs(u) + ANOMALY_KNEE)) : u > 0 ? 1 : 0;
  return roundScore(a);
}

/**
 * Confidence (0–100, one decimal) in the decision returned, from the distance alone: for an acceptance the
 * share of the room below the threshold that lies between the score and it; for a rejection the share of
 * the room above it. A rejection the distance would not have made (a replay, scripted input) gets 0.
 */
export function confidenceScore(accepted: boolean, anomaly: number, threshold: number): number {
  const gap = accepted ? threshold - anomaly : anomaly - threshold;
  const room = accepted ? threshold : 1 - threshold;
  const c = room > 0 && gap > 0 ? Math.min(100, (100 * gap) / room) : 0;
  return Math.round(c * 10) / 10;
}

/** A score rounded as published. */
export function roundScore(x: number): number {
  return Math.round(x * SCORE_DIGITS) / SCORE_DIGITS;
}
