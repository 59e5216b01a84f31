import type { PopulationStats, Template, VerificationResult } from "./types.js";
import { policyOf } from "./policy.js";
import { enrollUser } from "./template.js";

/**
 * Template adaptation (opt-in): an accepted sample whose score lies at least `margin` under the threshold
 * (published anomaly scale) joins the user's last `window` adapted samples, and the template is re-fitted
 * from the enrolment samples plus that window. Replays and scripted samples never adapt.
 */
export interface AdaptationSettings {
  window: number;
  margin: number;
}

/** Window and margin when only `--adapt` is given (bench:verify --only adapt measures them). */
export const DEFAULT_ADAPTATION: AdaptationSettings = { window: 10, margin: 0.1 };

/** True when a verification may update the user's template under these settings. */
export function mayAdapt(r: VerificationResult, settings: AdaptationSettings): boolean {
  return r.accepted && !r.replay && !r.scripted && r.threshold - r.anomaly_score >= settings.margin;
}

/**
 * The template re-fitted from the enrolment samples and the last `window` adapted samples (this one last),
 * with the same detector, population and operating policy; quality fields carry over.
 */
export function adaptTemplate(
  t: Template,
  enrolment: readonly number[][],
  vector: readonly number[],
  population: PopulationStats | undefined,
  settings: AdaptationSettings,
): Template {
  const adapted = [...(t.adapted ?? []), [...vector]].slice(-Math.max(1, settings.window));
  const next = enrollUser(t.user, [...enrolment.map((v) => [...v]), ...adapted], {
    detector: t.detector,
    ...(population ? { population } : {}),
    policy: policyOf(t),
    keepSamples: false,
  });
  next.adapted = adapted;
  if (t.quality !== undefined) next.quality = t.quality;
  if (t.outliers) next.outliers = t.outliers;
  if (t.forced) next.forced = t.forced;
  return next;
}
