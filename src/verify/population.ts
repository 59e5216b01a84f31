import type { Label } from "../data/types.js";
import { KeystrokeError } from "../errors.js";
import { columnMad, columnMeans, hashString, logVectors, robustTemplate } from "./detectors.js";
import { buildPopulationModels } from "./population-models.js";
import type { PopulationStats } from "./types.js";

/** Caps on what the population keeps (the verification index stays small with thousands of users). */
export const POPULATION_LIMITS = { cohort: 128, background: 256 } as const;

/** One user's enrolment vectors (raw timings), the input of `buildPopulation`. */
export interface UserVectors {
  user: Label;
  vectors: number[][];
}

/**
 * Population statistics from many users' enrolment vectors: pooled log-timing spread (users with ≥ 2
 * samples), each user's robust template as a cohort member, and each user's first vector as background.
 * Users beyond the caps are chosen by a hash of their id, so the choice does not depend on input order.
 */
export function buildPopulation(
  users: readonly UserVectors[],
  options: { source?: string } = {},
): PopulationStats {
  const usable = users.filter((u) => u.vectors.length > 0);
  if (usable.length === 0)
    throw new KeystrokeError("TOO_FEW_SAMPLES", "no samples to build population statistics from");
  const d = usable[0]!.vectors[0]!.length;
  for (const u of usable) {
    for (const v of u.vectors) {
      if (v.length !== d)
        throw new KeystrokeError(
          "BAD_REQUEST",
          `user ${String(u.user)}: a vector has ${v.length} features, expected ${d}`,
        );
    }
  }
  const logSpread = new Array<number>(d).fill(0);
  let spreadUsers = 0;
  for (const u of usable) {
    if (u.vectors.length < 2) continue;
    const lv = logVectors(u.vectors);
    const mad = columnMad(lv, columnMeans(lv));
    for (let j = 0; j < d; j++) logSpread[j]! += mad[j]!;
    spreadUsers++;
  }
  for (let j = 0; j < d; j++) logSpread[j] = spreadUsers ? logSpread[j]! / spreadUsers : 0;
  const ranked = [...usable].sort((a, b) => hashString(String(a.user)) - hashString(String(b.user)));
  const cohortUsers = ranked.filter((u) => u.vectors.length >= 2).slice(0, POPULATION_LIMITS.cohort);
  const cohort = cohortUsers.map((u) => ({
    user: u.user,
    ...robustTemplate(u.vectors, spreadUsers ? logSpread : undefined),
  }));
  const background = ranked
    .slice(0, POPULATION_LIMITS.background)
    .map((u) => ({ user: u.user, vector: [...u.vectors[0]!] }));
  const models = buildPopulationModels(usable, logSpread);
  return {
    featureSet: "timings",
    nFeatures: d,
    users: usable.length,
    logSpread,
    cohort,
    background,
    ...models,
    ...(options.source !== undefined ? { source: options.source } : {}),
  };
}
