import type { Sample } from "../data/types.js";
import { KeystrokeError } from "../errors.js";
import { extractFeatures, featureNames, type FeatureSetName } from "../features/index.js";
import { fitClassifier } from "../models/index.js";
import type { Algorithm } from "../models/types.js";
import {
  summarizePredictions,
  predictAll,
  meanSd,
  type ClassifierEvaluation,
  type Prediction,
} from "./evaluation.js";
import { stratifiedKFold, type Fold } from "./folds.js";

/** The headline scores of one fold. */
export interface FoldScores {
  accuracy: number;
  top3: number;
  balancedAccuracy: number;
  macroF1: number;
}

const SCORE_NAMES = ["accuracy", "top3", "balancedAccuracy", "macroF1"] as const;

/** Progress of a cross-validation: one event after each fitted fold. */
export interface CrossValidationProgress {
  algorithm: Algorithm;
  featureSet: FeatureSetName;
  fold: number;
  folds: number;
  /** Fits done and to do over the whole run. */
  done: number;
  total: number;
}

/** Options of crossValidate. */
export interface CrossValidationOptions {
  k: number;
  seed: number;
  algorithms: readonly Algorithm[];
  featureSets: readonly FeatureSetName[];
  rejectBelow?: number;
  onProgress?: (p: CrossValidationProgress) => void;
}

/** The result of one algorithm × feature set: per-fold scores, their mean ± sd, and the pooled out-of-fold evaluation. */
export interface CrossValidationResult {
  algorithm: Algorithm;
  featureSet: FeatureSetName;
  folds: FoldScores[];
  mean: FoldScores;
  sd: FoldScores;
  /** All out-of-fold predictions evaluated together (confusion matrix, per-user accuracy, coverage). */
  pooled: ClassifierEvaluation;
  /** Mean feature importance over the folds, when the algorithm has one (RF). */
  importance?: Array<{ name: string; value: number }>;
}

/**
 * Stratified k-fold cross-validation of the training recipe: for each algorithm and feature set, fits
 * with the default parameters on k − 1 folds and tests on the held-out one. Every model is refitted from
 * the same seed, so a run repeats exactly.
 */
export async function crossValidate(
  samples: readonly Sample[],
  options: CrossValidationOptions,
): Promise<CrossValidationResult[]> {
  const labels = samples.map((s, i) => {
    if (s.label === undefined)
      throw new KeystrokeError(
        "BAD_ROW",
        "cross-validation needs a label on every row",
        s.source ?? { line: i + 1 },
      );
    return s.label;
  });
  const folds = stratifiedKFold(labels, options.k, options.seed);
  const total = options.algorithms.length * options.featureSets.length * folds.length;
  let done = 0;
  const results: CrossValidationResult[] = [];
  for (const featureSet of options.featureSets) {
    const X = samples.map((s) => extractFeatures(s, featureSet));
    const names = featureNames(featureSet, samples[0]?.press.length ?? 0, samples[0]?.keys);
    for (const algorithm of options.algorithms) {
      const r = await crossValidateOne(
        algorithm,
        X,
        labels,
        folds,
        options,
        names,
        () => {
          done++;
          return { done, total };
        },
        featureSet,
      );
      results.push(r);
    }
  }
  return results;
}

async function crossValidateOne(
  algorithm: Algorithm,
  X: number[][],
  labels: NonNullable<Sample["label"]>[],
  folds: Fold[],
  options: CrossValidationOptions,
  names: string[],
  tick: () => { done: number; total: number },
  featureSet: FeatureSetName,
): Promise<CrossValidationResult> {
  const scores: FoldScores[] = [];
  const pooled = new Array<Prediction>(labels.length);
  let importanceSum: Float64Array | undefined;
  for (let f = 0; f < folds.length; f++) {
    const { train, test } = folds[f]!;
    const classifier = await fitClassifier(
      algorithm,
      train.map((i) => X[i]!),
      train.map((i) => labels[i]!),
      { seed: options.seed },
    );
    const preds = predictAll(
      classifier,
      test.map((i) => X[i]!),
      test.map((i) => labels[i]!),
    );
    preds.forEach((p, j) => (pooled[test[j]!] = p));
    const e = summarizePredictions(preds);
    scores.push({
      accuracy: e.accuracy,
      top3: e.top3,
      balancedAccuracy: e.balancedAccuracy,
      macroF1: e.macroF1,
    });
    const imp = classifier.featureImportance?.();
    if (imp) {
      importanceSum ??= new Float64Array(imp.length);
      for (let j = 0; j < imp.length; j++) importanceSum[j]! += imp[j]! / folds.length;
    }
    options.onProgress?.({ algorithm, featureSet, fold: f + 1, folds: folds.length, ...tick() });
  }
  const mean = {} as FoldScores;
  const sd = {} as FoldScores;
  for (const name of SCORE_NAMES) {
    const m = meanSd(scores.map((s) => s[name]));
    mean[name] = m.mean;
    sd[name] = m.sd;
  }
  const result: CrossValidationResult = {
    algorithm,
    featureSet,
    folds: scores,
    mean,
    sd,
    pooled: summarizePredictions(pooled, { rejectBelow: options.rejectBelow }),
  };
  if (importanceSum)
    result.importance = [...importanceSum].map((value, j) => ({ name: names[j] ?? `feature ${j}`, value }));
  return result;
}
