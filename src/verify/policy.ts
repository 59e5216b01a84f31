import { KeystrokeError } from "../errors.js";
import type { Label } from "../data/types.js";
import type { OperatingPolicy, PopulationStats, Template } from "./types.js";

/** The operating point when none is set: each user's equal-error point, as before policies existed. */
export const DEFAULT_POLICY: OperatingPolicy = { kind: "eer" };

/** The policy a template's threshold was set for (templates from before policies: the EER point). */
export function policyOf(t: Pick<Template, "policy">): OperatingPolicy {
  return t.policy ?? DEFAULT_POLICY;
}

/** True when two policies set thresholds alike. */
export function samePolicy(a: OperatingPolicy, b: OperatingPolicy): boolean {
  return a.kind === b.kind && (a.kind === "eer" || a.target_far === (b as typeof a).target_far);
}

/**
 * A policy from a flag, a config value, a request field or the store's setting: `eer`, a rate such as
 * `0.01` (a target false-accept rate, 0 < rate < 1), or the JSON object an answer shows.
 */
export function parsePolicy(value: unknown, place: { flag?: string; field?: string } = {}): OperatingPolicy {
  const code = place.flag ? "BAD_FLAG" : "BAD_REQUEST";
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const o = value as Record<string, unknown>;
    if (o.kind === "eer") return DEFAULT_POLICY;
    if (o.kind === "target_far") return parsePolicy(o.target_far, place);
    throw new KeystrokeError(
      code,
      `is not an operating policy ({"kind":"eer"} or {"kind":"target_far","target_far":0.01})`,
      place,
    );
  }
  if (typeof value === "string" && value.trim().toLowerCase() === "eer") return DEFAULT_POLICY;
  const n =
    typeof value === "number"
      ? value
      : typeof value === "string" && value.trim() !== ""
        ? Number(value)
        : NaN;
  if (!(n > 0 && n < 1))
    throw new KeystrokeError(
      code,
      `"${String(value)}" is not a target false-accept rate: give a rate between 0 and 1 (e.g. 0.01) or "eer"`,
      place,
    );
  return { kind: "target_far", target_far: n };
}

/**
 * The impostor stand-ins a user's threshold is calibrated on: the population's background and negative
 * samples of every other user (never the user; never the impostors an evaluation scores, which build no
 * population), without duplicates.
 */
export function backgroundImpostors(
  population: PopulationStats | undefined,
  user: Label,
  wide: boolean,
): Array<{ user: Label; vector: number[] }> {
  const others = (l: Label) => String(l) !== String(user);
  const bg = (population?.background ?? []).filter((b) => others(b.user));
  if (!wide) return bg;
  const seen = new Set<string>();
  const out: Array<{ user: Label; vector: number[] }> = [];
  for (const b of [...bg, ...(population?.negatives ?? []).filter((n) => others(n.user))]) {
    const key = `${String(b.user)}\u0000${b.vector.join(",")}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(b);
  }
  return out;
}

/**
 * The highest threshold (published anomaly scale, 6 digits) that accepts at most ⌊target · n⌋ of these
 * impostor scores (published anomaly scale): just under the (k+1)-th smallest.
 */
export function targetFarThreshold(impostorScores: readonly number[], targetFar: number): number {
  const imp = [...impostorScores].sort((a, b) => a - b);
  const k = Math.floor(targetFar * imp.length + 1e-9);
  if (k >= imp.length) return 1;
  return Math.max(0, Math.round((imp[k]! - 1e-6) * 1e6) / 1e6);
}
