import { KeystrokeError } from "../errors.js";
import type { FeatureSetName } from "../features/index.js";
import { ALGORITHMS, type Algorithm } from "../models/types.js";

// Parsers for flag values shared by the commands: each reports a bad value once, naming the flag.

/** `svm,rf` → ["SVM","RF"] (any case, de-duplicated, in the canonical order). */
export function parseAlgorithms(value: string, flag = "--model"): Algorithm[] {
  const wanted = value.split(",").map((s) => s.trim().toUpperCase()).filter(Boolean);
  for (const w of wanted) {
    if (!ALGORITHMS.includes(w as Algorithm)) throw new KeystrokeError("BAD_FLAG", `unknown model "${w}" (choose from ${ALGORITHMS.join(", ")}, comma-separated)`, { flag });
  }
  if (wanted.length === 0) throw new KeystrokeError("BAD_FLAG", "names no model", { flag });
  return ALGORITHMS.filter((a) => wanted.includes(a));
}

/** `timings|summary|both` → the feature sets to use. */
export function parseFeatureSets(value: string, flag = "--features"): FeatureSetName[] {
  switch (value.trim().toLowerCase()) {
    case "both":
      return ["timings", "summary"];
    case "timings":
      return ["timings"];
    case "summary":
      return ["summary"];
    default:
      throw new KeystrokeError("BAD_FLAG", `"${value}" is not a feature set (timings, summary or both)`, { flag });
  }
}

/** A number in [min, max], with the flag named when it is not one. */
export function parseNumber(value: string, flag: string, range: { min?: number; max?: number; integer?: boolean } = {}): number {
  const n = Number(value);
  const { min = -Infinity, max = Infinity, integer = false } = range;
  if (value.trim() === "" || !Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min || n > max) {
    const kind = integer ? "an integer" : "a number";
    const bounds = min > -Infinity && max < Infinity ? ` from ${min} to ${max}` : min > -Infinity ? ` ≥ ${min}` : "";
    throw new KeystrokeError("BAD_FLAG", `"${value}" is not ${kind}${bounds}`, { flag });
  }
  return n;
}

const DURATION_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `90m`, `12h`, `30d`, `500ms` (a bare number is ms) → ms; BAD_FLAG naming the flag otherwise. */
export function parseDuration(value: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(value.trim());
  const ms = m ? Number(m[1]) * DURATION_MS[(m[2] ?? "ms") as keyof typeof DURATION_MS] : NaN;
  if (!m || !(ms >= 1) || ms > 100 * 365 * DURATION_MS.d) throw new KeystrokeError("BAD_FLAG", `"${value}" is not a duration (e.g. 30d, 12h, 90m, 45s, 500ms)`, { flag });
  return Math.round(ms);
}
