import type { Label } from "../data/types.js";
import { KeystrokeError } from "../errors.js";
import { DETECTOR_IMPLS, type DetectorImpl, type Scorer } from "./detectors.js";
import type { DetectorName, PopulationStats } from "./types.js";

// Score-level fusion: detectors that err on different samples (a per-user linear model, a nearest neighbour in
// raw timings, a background model of log timings) are each z-normalised against the user's own scores on
// background users' samples, then summed. The normalisation uses the population only (its negatives, never
// the user and never a scored sample), so it is fixed at enrolment and costs three scores per claim.

/** The fused detectors, equally weighted (not tuned: chosen as three different families). */
export const FUSION_PARTS: readonly DetectorName[] = ["discriminative", "knn-manhattan-scaled", "gmm-ubm"];
/** Background samples per user that each part's normalisation is computed from (evenly through the pool). */
const NORM_NEGATIVES = 200;
/** Smallest spread a part's normalisation divides by, so a part that scores every negative alike cannot dominate. */
const MIN_SD = 1e-9;

interface FusedPart {
  detector: DetectorName;
  state: Record<string, unknown>;
  /** Mean and standard deviation of this part's scores of the background samples. */
  mu: number;
  sd: number;
}

function partImpl(name: DetectorName): DetectorImpl {
  // looked up when used: detectors.ts registers this module, so its table is not ready at import time
  return DETECTOR_IMPLS[name];
}

/** Background samples of other users (evenly through the hash-ranked pool, capped). */
export function normalisationSamples(
  population: PopulationStats | undefined,
  user: Label,
): Array<{ user: Label; vector: number[] }> {
  const pool = (population?.negatives ?? []).filter((n) => String(n.user) !== String(user));
  if (pool.length < 2) {
    throw new KeystrokeError(
      "BAD_REQUEST",
      "detector fusion needs population models (negatives of at least 2 samples from other users) that this population does not have",
      {},
      {
        suggestion:
          "rebuild the verification store (train, or enroll into a new models directory) with at least 3 users of 4 or more samples",
      },
    );
  }
  if (pool.length <= NORM_NEGATIVES) return pool;
  return Array.from(
    { length: NORM_NEGATIVES },
    (_, i) => pool[Math.floor((i * pool.length) / NORM_NEGATIVES)]!,
  );
}

/**
 * discriminative + knn-manhattan-scaled + gmm-ubm, each part's score z-normalised by the mean and spread of
 * that part's scores of background users' samples (per user), summed; lower = more like the user.
 */
export const fusionDetector: DetectorImpl = {
  fit(vectors, population, user) {
    const negatives = normalisationSamples(population, user);
    const parts: FusedPart[] = FUSION_PARTS.map((detector) => {
      const impl = partImpl(detector);
      const state = impl.fit(vectors, population, user);
      const scorer = impl.compile(state, population);
      const scores = negatives.map((n) => scorer(n.vector, n.user));
      const mu = scores.reduce((a, b) => a + b, 0) / scores.length;
      const sd = Math.sqrt(scores.reduce((a, b) => a + (b - mu) ** 2, 0) / scores.length);
      return { detector, state, mu, sd };
    });
    return { parts };
  },
  compile(state, population) {
    const parts = state.parts as FusedPart[];
    const scorers: Scorer[] = parts.map((p) => partImpl(p.detector).compile(p.state, population));
    const mu = Float64Array.from(parts, (p) => p.mu);
    const inv = Float64Array.from(parts, (p) => 1 / Math.max(p.sd, MIN_SD));
    return (x, exclude) => {
      let s = 0;
      for (let i = 0; i < scorers.length; i++) s += (scorers[i]!(x, exclude) - mu[i]!) * inv[i]!;
      return s;
    };
  },
};
