import type { Label, Sample } from "../data/types.js";
import { KeystrokeError } from "../errors.js";
import { extractTimings } from "../features/index.js";
import { buildPopulation } from "./population.js";
import { assessEnrolment, refuseInconsistent } from "./quality.js";
import { DEFAULT_DETECTOR, MIN_ENROL_SAMPLES, enrollUser } from "./template.js";
import type { DetectorName, OperatingPolicy, PopulationStats, Template } from "./types.js";

/** Options of `enrollSamples`. */
export interface EnrollSamplesOptions {
  /** Default: `defaultDetectorFor(population)`. */
  detector?: DetectorName;
  /** The store's population; built from these samples when absent (a new store). */
  population?: PopulationStats;
  /** Only this user's samples; unlabelled samples are assigned to this user. */
  user?: Label;
  minSamples?: number;
  filterOutliers?: boolean;
  /** Skip (and report) users with too few samples instead of throwing (train over a whole data set). */
  skipTooFew?: boolean;
  /**
   * What an inconsistent enrolment does (two people, different texts, too few samples): "refuse" throws
   * ENROLMENT_REFUSED, "record" (default, as `train` over a labelled file) only records quality and outliers.
   */
  onInconsistent?: "refuse" | "record";
  /** Enrol despite the problems; they are recorded in the template's `forced`. */
  force?: boolean;
  /** The operating point thresholds are set for (default: the EER point). */
  policy?: OperatingPolicy;
}

/** Templates for the users of a sample set, and the population they were enrolled against. */
export interface EnrollSamplesResult {
  templates: Template[];
  population: PopulationStats;
  /** True when the population was built from these samples. */
  populationBuilt: boolean;
  keys: number;
  skipped: Array<{ user: Label; samples: number }>;
}

/** Fewest cohort users for which cohort normalisation is the default (measured: with 3 it is worse than none). */
export const MIN_COHORT = 10;

/**
 * The default detector for a population: fusion when the population has its models (a learnt metric, a UBM
 * and background samples of at least 3 users; discriminative without the UBM), manhattan-robust-cohort with more than MIN_COHORT cohort users
 * (a store built before those models), else manhattan-robust.
 */
export function defaultDetectorFor(population: PopulationStats | undefined): DetectorName {
  if (population?.metric && (population.negatives?.length ?? 0) > 0 && population.users >= 3)
    return population.ubm || DEFAULT_DETECTOR !== "fusion" ? DEFAULT_DETECTOR : "discriminative";
  return (population?.cohort.length ?? 0) > MIN_COHORT ? "manhattan-robust-cohort" : "manhattan-robust";
}

/** Groups samples by user and enrols each (what `train` and `enroll` both call). */
export function enrollSamples(samples: Sample[], options: EnrollSamplesOptions = {}): EnrollSamplesResult {
  const minSamples = options.minSamples ?? MIN_ENROL_SAMPLES;
  const groups = new Map<string, { user: Label; vectors: number[][] }>();
  let keys = -1;
  const texts = new Map<string, string[]>();
  for (const s of samples) {
    let label = s.label;
    if (label === undefined) {
      if (options.user === undefined) {
        throw new KeystrokeError(
          "BAD_ROW",
          "sample has no UserID; pass --user to say whose samples these are",
          s.source ? { ...s.source } : {},
        );
      }
      label = options.user;
    } else if (options.user !== undefined && String(label) !== String(options.user)) continue;
    if (keys < 0) keys = s.press.length;
    else if (s.press.length !== keys) {
      throw new KeystrokeError(
        "BAD_ROW",
        `sample has ${s.press.length} keys; earlier samples have ${keys}`,
        s.source ? { ...s.source } : {},
      );
    }
    const id = String(label);
    let g = groups.get(id);
    if (!g) groups.set(id, (g = { user: options.user ?? label, vectors: [] }));
    g.vectors.push(extractTimings(s));
    if (s.keys) {
      const list = texts.get(id) ?? [];
      list.push(s.keys.join("\u0000"));
      texts.set(id, list);
    }
  }
  if (groups.size === 0) {
    throw new KeystrokeError(
      options.user === undefined ? "TOO_FEW_SAMPLES" : "UNKNOWN_USER",
      options.user === undefined ? "no samples to enrol" : `no samples of user ${String(options.user)}`,
      options.user === undefined ? {} : { flag: "--user" },
    );
  }
  const skipped: Array<{ user: Label; samples: number }> = [];
  const usable = [...groups.values()].filter((g) => {
    if (g.vectors.length >= minSamples) return true;
    if (!options.skipTooFew) {
      throw new KeystrokeError(
        "TOO_FEW_SAMPLES",
        `user ${String(g.user)} has ${g.vectors.length} sample${g.vectors.length === 1 ? "" : "s"}; enrolling needs at least ${minSamples}`,
      );
    }
    skipped.push({ user: g.user, samples: g.vectors.length });
    return false;
  });
  if (usable.length === 0)
    throw new KeystrokeError("TOO_FEW_SAMPLES", `no user has the ${minSamples} samples enrolling needs`);
  const population = options.population ?? buildPopulation(usable);
  const detector = options.detector ?? defaultDetectorFor(population);
  const assessed = usable.map((g) => {
    const q = assessEnrolment(g.vectors, population, {
      minSamples,
      ...(texts.has(String(g.user)) ? { texts: texts.get(String(g.user))! } : {}),
    });
    if (options.onInconsistent === "refuse" && !options.force) refuseInconsistent(g.user, q);
    return q;
  });
  const templates = usable.map((g, i) => {
    const t = enrollUser(g.user, g.vectors, {
      detector,
      population,
      minSamples,
      filterOutliers: options.filterOutliers,
      ...(options.policy ? { policy: options.policy } : {}),
    });
    const q = assessed[i]!;
    t.quality = q.quality;
    t.outliers = q.outliers;
    if (q.problems.length && options.force) t.forced = { problems: q.problems.map((p) => p.code) };
    return t;
  });
  return { templates, population, populationBuilt: options.population === undefined, keys, skipped };
}
