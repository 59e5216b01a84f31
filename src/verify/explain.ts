import { KeystrokeError } from "../errors.js";
import { logTiming, robustTemplate } from "./detectors.js";
import type { ExplanationItem, PopulationStats, Template } from "./types.js";

/** Intervals an explanation lists at most. */
export const EXPLANATION_SIZE = 5;

const KINDS = ["HT", "PPT", "RRT", "RPT"] as const;

/**
 * Where interval j of a timings vector of k keys comes from: HT of key j, then PPT, RRT, RPT of pair
 * (i, i+1), named by the keys when they are known, else by their indexes.
 */
export function intervalName(
  j: number,
  nFeatures: number,
  keys?: readonly string[],
): { key_pair: string; kind: ExplanationItem["kind"] } {
  const k = (nFeatures + 3) / 4;
  const name = (i: number) => (keys && keys.length === k ? keys[i]! : String(i));
  if (j < k) return { key_pair: name(j), kind: "HT" };
  const block = Math.floor((j - k) / (k - 1));
  const i = (j - k) % (k - 1);
  return { key_pair: `${name(i)}→${name(i + 1)}`, kind: KINDS[1 + block]! };
}

/**
 * The intervals of a sample that lie furthest from the user's profile (log-time means and spreads, the
 * space of manhattan-robust), in spreads, most deviating first. Templates from before profiles were stored
 * use their detector state when it holds a log-space mean and spread.
 */
export function explainSample(
  template: Template,
  vector: readonly number[],
  population: PopulationStats | undefined,
  keys?: readonly string[],
  size = EXPLANATION_SIZE,
): ExplanationItem[] {
  const profile = template.profile ?? legacyProfile(template, population);
  const items: ExplanationItem[] = [];
  for (let j = 0; j < vector.length; j++) {
    const diff = logTiming(vector[j]!) - profile.mean[j]!;
    const spreads = Math.abs(diff) / Math.max(profile.spread[j]!, 1e-6);
    items.push({
      ...intervalName(j, template.nFeatures, keys),
      spreads: Math.round(spreads * 100) / 100,
      direction: diff > 0 ? "slower" : "faster",
    });
  }
  return items.sort((a, b) => b.spreads - a.spreads).slice(0, size);
}

function legacyProfile(
  t: Template,
  population: PopulationStats | undefined,
): { mean: number[]; spread: number[] } {
  const s = t.state;
  const logSpace = [
    "manhattan-robust",
    "manhattan-robust-cohort",
    "metric-learned",
    "metric-learned-cohort",
    "discriminative",
  ];
  if (logSpace.includes(t.detector) && Array.isArray(s.mean) && Array.isArray(s.spread))
    return { mean: s.mean as number[], spread: s.spread as number[] };
  if (Array.isArray(s.samples)) return robustTemplate(s.samples as number[][], population?.logSpread);
  throw new KeystrokeError(
    "BAD_REQUEST",
    `the template of user ${String(t.user)} was enrolled before explanations; enrol the user again to explain`,
    { field: "explain" },
  );
}
