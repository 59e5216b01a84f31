import type { Sample } from "../data/types.js";
import { KeystrokeError } from "../errors.js";
import { extractFeatures, featureNames, type FeatureSetName } from "../features/index.js";
import { accuracy, macroF1 } from "../metrics/classification.js";
import { fitOpenSet, type OpenSetModel } from "../models/open-set.js";
import type { ModelToWrite } from "../models/store.js";
import type { Algorithm, TrainProgress } from "../models/types.js";
import { defaultWorkers, runFitJobs, type FitJob } from "./jobs.js";
import { stratifiedHoldout } from "./split.js";

/** Labelled samples to train on, as the reader returns them. */
export interface TrainingData {
  samples: Sample[];
  keyNames?: string[];
}

/** What to train. */
export interface TrainOptions {
  algorithms: readonly Algorithm[];
  featureSets: readonly FeatureSetName[];
  seed: number;
  /** Share of each user's rows kept back for scoring; 0 trains on everything and scores nothing. */
  holdout: number;
  /** Worker threads; 0 fits in-process. Default: one per core. */
  workers?: number;
  params?: Partial<Record<Algorithm, Record<string, unknown>>>;
  /**
   * After scoring on the held-out share, fit again on every row and return those models (default true);
   * false returns the models fitted on the training share, the ones the scores describe exactly.
   */
  refit?: boolean;
  /** Progress of every model, as data: the CLI draws it, tests read it. */
  onProgress?: (event: TrainEvent) => void;
  /**
   * The false-identification rate the open-set threshold is calibrated for (default DEFAULT_TARGET_FIR).
   * Every model file gets the rule (`open_set`), so `predict --reject-unknown` can answer "unknown".
   */
  targetFir?: number;
}

/** A progress event of one model of the run. */
export interface TrainEvent extends TrainProgress {
  featureSet: FeatureSetName;
  /** "score": the fit on the training share, scored on the held-out rows; "refit": the final fit on every row. */
  stage?: "score" | "refit";
}

/** The models of a run, ready for writeModelDir, with the split that scored them. */
export interface TrainRun {
  models: Array<ModelToWrite & { algorithm: Algorithm }>;
  trainRows: number;
  holdoutRows: number;
  users: number;
  /** True when the models returned were refitted on every row after scoring. */
  refitOnAll: boolean;
  /** The row indices the returned models were fitted on. */
  fittedRows: number[];
  /** Why the models carry no open-set rule (too few users or samples), when they do not. */
  openSetSkipped?: string;
}

/**
 * Trains every requested algorithm on every requested feature set, in parallel worker threads, and
 * scores each on a stratified held-out share of the rows. Then, by default, fits each again on every row
 * (the held-out rows are too valuable to leave out of the model people use) and returns those: the scores
 * are then the recipe's held-out accuracy. `refit: false` returns the scored models themselves.
 */
export async function trainModels(data: TrainingData, options: TrainOptions): Promise<TrainRun> {
  const { samples } = data;
  const labels = samples.map((s, i) => {
    if (s.label === undefined)
      throw new KeystrokeError("BAD_ROW", "has no user label; training needs a label column", {
        line: s.source?.line ?? i + 2,
      });
    return s.label;
  });
  const users = new Set(labels).size;
  if (users < 2)
    throw new KeystrokeError("TOO_FEW_SAMPLES", `training needs at least 2 users; the data has ${users}`);
  const keys = samples[0]!.press.length;
  if (options.featureSets.includes("timings")) {
    const odd = samples.find((s) => s.press.length !== keys);
    if (odd) {
      throw new KeystrokeError(
        "BAD_ROW",
        `has ${odd.press.length} keys but the first sample has ${keys}; timings features need equal lengths`,
        {
          ...(odd.source ? { file: odd.source.file, line: odd.source.line } : {}),
        },
        { suggestion: "use --features summary, or --skip-invalid to drop such samples" },
      );
    }
  }
  const { train, test } = stratifiedHoldout(labels, options.holdout, options.seed);
  const yTrain = train.map((i) => labels[i]!);
  const yTest = test.map((i) => labels[i]!);

  const jobs: FitJob[] = [];
  const meta: Array<{ featureSet: FeatureSetName; names: string[] }> = [];
  for (const featureSet of options.featureSets) {
    const rows = samples.map((s) => extractFeatures(s, featureSet));
    const X = train.map((i) => rows[i]!);
    const Xtest = test.map((i) => rows[i]!);
    const names = featureNames(featureSet, keys, data.keyNames);
    for (const algorithm of options.algorithms) {
      const params = options.params?.[algorithm];
      jobs.push({
        id: jobs.length,
        algorithm,
        featureSet,
        X,
        y: yTrain,
        Xtest,
        seed: options.seed,
        ...(params ? { params } : {}),
      });
      meta.push({ featureSet, names });
    }
  }
  const workers = options.workers ?? defaultWorkers(jobs.length);
  const results = await runFitJobs(jobs, {
    workers,
    onProgress: (id, p) => options.onProgress?.({ ...p, featureSet: jobs[id]!.featureSet, stage: "score" }),
  });
  const refit = options.refit !== false && test.length > 0;
  let final = results;
  if (refit) {
    const all = labels.map((_, i) => i);
    const refitJobs = jobs.map((job) => {
      const rows = samples.map((s) => extractFeatures(s, job.featureSet));
      return { ...job, X: all.map((i) => rows[i]!), y: labels, Xtest: [] };
    });
    final = await runFitJobs(refitJobs, {
      workers,
      onProgress: (id, p) => options.onProgress?.({ ...p, featureSet: jobs[id]!.featureSet, stage: "refit" }),
    });
  }

  const fittedRows = refit ? labels.map((_, i) => i) : train;
  // the open-set rule is fitted on the rows the written models saw, once per feature set
  let openSetSkipped: string | undefined;
  const openSets = new Map<FeatureSetName, OpenSetModel>();
  for (const featureSet of options.featureSets) {
    try {
      openSets.set(
        featureSet,
        fitOpenSet(
          fittedRows.map((i) => extractFeatures(samples[i]!, featureSet)),
          fittedRows.map((i) => labels[i]!),
          options.targetFir,
        ),
      );
    } catch (e) {
      if (!(e instanceof KeystrokeError) || e.code !== "TOO_FEW_SAMPLES") throw e;
      openSetSkipped = e.detail;
    }
  }
  const models = results.map((r, i) => {
    const job = jobs[i]!;
    const featureSet = meta[i]!.featureSet;
    const predicted = r.proba.map((p) => r.serialized.classes[argmax(p)]!);
    const written = final[i]!;
    return {
      algorithm: job.algorithm,
      serialized: written.serialized,
      featureSet,
      featureNames: meta[i]!.names,
      keys: featureSet === "timings" ? keys : null,
      ...(featureSet === "timings" && data.keyNames ? { keyNames: data.keyNames } : {}),
      ...(test.length > 0
        ? {
            metrics: {
              accuracy: round(accuracy(yTest, predicted)),
              macroF1: round(macroF1(yTest, predicted)),
              holdoutRows: test.length,
            },
          }
        : {}),
      fitSeconds: written.fitSeconds,
      ...(openSets.has(featureSet) ? { openSet: openSets.get(featureSet)! } : {}),
    };
  });
  return {
    models,
    trainRows: train.length,
    holdoutRows: test.length,
    users,
    refitOnAll: refit || test.length === 0,
    fittedRows,
    ...(openSetSkipped !== undefined ? { openSetSkipped } : {}),
  };
}

function argmax(p: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < p.length; i++) if (p[i]! > p[best]!) best = i;
  return best;
}

function round(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}
