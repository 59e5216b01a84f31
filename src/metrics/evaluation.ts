import type { Label } from "../data/types.js";
import { KeystrokeError } from "../errors.js";
import type { Classifier } from "../models/types.js";
import {
  accuracy,
  balancedAccuracy,
  compareLabels,
  confusionMatrix,
  labelKey,
  macroScores,
  mostWrongUsers,
  perUserAccuracy,
  trueRank,
  type ConfusionMatrix,
  type UserAccuracy,
} from "./classification.js";
import { coverageCurve, rejectAt, type CoveragePoint, type RejectResult } from "./coverage.js";

/** What a model said about one sample, enough to compute every identification metric. */
export interface Prediction {
  actual: Label;
  predicted: Label;
  /** The top class probability. */
  confidence: number;
  /** Classes strictly more probable than the true one (0 = right); null when the model never saw the user. */
  rank: number | null;
}

/** Options of an evaluation. */
export interface EvaluateOptions {
  /** How many worst-recognised users to list (default 5). */
  mostWrong?: number;
  /** Also report identification with a reject option at this top-probability threshold. */
  rejectBelow?: number;
}

/** A user in the test data that the model was never trained on, and how many samples they have. */
export interface UnseenUser {
  user: Label;
  samples: number;
}

/** Every identification metric of one model on one labelled set. */
export interface ClassifierEvaluation {
  samples: number;
  users: number;
  accuracy: number;
  /** Top-3 accuracy with the tie rule of topKAccuracy. */
  top3: number;
  balancedAccuracy: number;
  macroPrecision: number;
  macroRecall: number;
  macroF1: number;
  confusion: ConfusionMatrix;
  perUser: UserAccuracy[];
  mostWrong: UserAccuracy[];
  /** Users absent from the model's classes; their samples are counted as errors, never dropped. */
  unseenUsers: UnseenUser[];
  unseenSamples: number;
  coverage: CoveragePoint[];
  reject?: RejectResult;
}

/** Runs the classifier over the rows and records, per sample, the prediction, its probability and the true rank. */
export function predictAll(
  classifier: Classifier,
  X: readonly ArrayLike<number>[],
  y: readonly Label[],
): Prediction[] {
  if (X.length !== y.length)
    throw new KeystrokeError("BAD_REQUEST", `${X.length} rows but ${y.length} labels`);
  return X.map((row, i) => {
    if (row.length !== classifier.nFeatures) {
      throw new KeystrokeError(
        "BAD_REQUEST",
        `row ${i + 1} has ${row.length} features, the ${classifier.algorithm} model expects ${classifier.nFeatures}`,
      );
    }
    const proba = classifier.predictProba(row);
    let best = 0;
    for (let j = 1; j < proba.length; j++) if (proba[j]! > proba[best]!) best = j;
    return {
      actual: y[i]!,
      predicted: classifier.classes[best]!,
      confidence: proba[best]!,
      rank: trueRank(proba, classifier.classes, y[i]!),
    };
  });
}

/**
 * Computes every metric from recorded predictions. A sample whose rank is null came from a user the model
 * never saw (per sample, so pooled cross-validation predictions from different folds are judged right).
 */
export function summarizePredictions(
  predictions: readonly Prediction[],
  options: EvaluateOptions = {},
): ClassifierEvaluation {
  const actual = predictions.map((p) => p.actual);
  const predicted = predictions.map((p) => p.predicted);
  const correct = predictions.map((p) => labelKey(p.actual) === labelKey(p.predicted));
  const confidence = predictions.map((p) => p.confidence);
  const unseen = new Map<string, UnseenUser>();
  for (const { actual: a, rank } of predictions) {
    if (rank !== null) continue;
    const u = unseen.get(labelKey(a));
    if (u) u.samples++;
    else unseen.set(labelKey(a), { user: a, samples: 1 });
  }
  const perUser = perUserAccuracy(actual, predicted);
  const macro = macroScores(actual, predicted);
  const n = predictions.length;
  const evaluation: ClassifierEvaluation = {
    samples: n,
    users: perUser.length,
    accuracy: accuracy(actual, predicted),
    top3: n === 0 ? NaN : predictions.filter((p) => p.rank !== null && p.rank < 3).length / n,
    balancedAccuracy: balancedAccuracy(actual, predicted),
    macroPrecision: macro.precision,
    macroRecall: macro.recall,
    macroF1: macro.f1,
    confusion: confusionMatrix(actual, predicted),
    perUser,
    mostWrong: mostWrongUsers(perUser, options.mostWrong ?? 5),
    unseenUsers: [...unseen.values()].sort((a, b) => compareLabels(a.user, b.user)),
    unseenSamples: [...unseen.values()].reduce((s, u) => s + u.samples, 0),
    coverage: coverageCurve(confidence, correct),
  };
  if (options.rejectBelow !== undefined)
    evaluation.reject = rejectAt(confidence, correct, options.rejectBelow);
  return evaluation;
}

/**
 * Evaluates a fitted classifier on labelled rows: accuracy, top-3, balanced accuracy, macro scores, the
 * confusion matrix, per-user accuracy and the accuracy–coverage curve. Users the model never saw count
 * as errors and are listed in `unseenUsers`.
 */
export function evaluateClassifier(
  classifier: Classifier,
  X: readonly ArrayLike<number>[],
  y: readonly Label[],
  options: EvaluateOptions = {},
): ClassifierEvaluation {
  return summarizePredictions(predictAll(classifier, X, y), options);
}

/** Mean and sample standard deviation (n − 1; 0 for a single value) of a list of scores. */
export function meanSd(values: readonly number[]): { mean: number; sd: number } {
  const n = values.length;
  if (n === 0) return { mean: NaN, sd: NaN };
  const mean = values.reduce((s, v) => s + v, 0) / n;
  if (n === 1) return { mean, sd: 0 };
  const ss = values.reduce((s, v) => s + (v - mean) ** 2, 0);
  return { mean, sd: Math.sqrt(ss / (n - 1)) };
}
