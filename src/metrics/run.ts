import type { Label, Sample } from "../data/types.js";
import { KeystrokeError } from "../errors.js";
import { extractFeatures, type FeatureSetName } from "../features/index.js";
import type { Algorithm, Classifier } from "../models/types.js";
import { compareLabels, labelKey } from "./classification.js";
import { crossValidate, type CrossValidationOptions, type FoldScores } from "./cross-validation.js";
import { evaluateClassifier, type ClassifierEvaluation } from "./evaluation.js";

/** One algorithm × feature set, evaluated on a held-out file or by cross-validation. */
export interface ModelEvaluation {
  algorithm: Algorithm;
  featureSet: FeatureSetName;
  /** Held-out: metrics on the file. Cross-validation: metrics of the pooled out-of-fold predictions. */
  evaluation: ClassifierEvaluation;
  /** Cross-validation only: per-fold scores and their mean ± sd. */
  cv?: { k: number; seed: number; folds: FoldScores[]; mean: FoldScores; sd: FoldScores };
  /** Feature importance when the model has one (RF), named. */
  importance?: Array<{ name: string; value: number }>;
  /** The model file's version, when loaded from a models directory. */
  version?: string;
}

/** Rows and distinct users of a labelled sample list. */
export function datasetSummary(samples: readonly Sample[]): { rows: number; users: number } {
  return { rows: samples.length, users: new Set(samples.map((s) => labelKey(s.label ?? ""))).size };
}

function labelsOf(samples: readonly Sample[]): Label[] {
  return samples.map((s, i) => {
    if (s.label === undefined)
      throw new KeystrokeError(
        "BAD_ROW",
        "evaluation needs a label on every row",
        s.source ?? { line: i + 1 },
      );
    return s.label;
  });
}

/** A loaded model as the evaluation needs it (structurally the store's LoadedModel). */
export interface EvaluableModel {
  algorithm: Algorithm;
  featureSet: FeatureSetName;
  classifier: Classifier;
  featureNames: string[];
  keys: number | null;
  version?: string;
}

/**
 * Evaluates loaded models on labelled samples. A timings model needs samples of its key count; a sample
 * of another length is reported with its file and line rather than scored.
 */
export function evaluateModels(
  samples: readonly Sample[],
  models: readonly EvaluableModel[],
  options: { rejectBelow?: number } = {},
): ModelEvaluation[] {
  const y = labelsOf(samples);
  return models.map((m) => {
    if (m.keys !== null) {
      const bad = samples.find((s) => s.press.length !== m.keys);
      if (bad) {
        throw new KeystrokeError(
          "BAD_ROW",
          `sample has ${bad.press.length} keys; the ${m.algorithm} ${m.featureSet} model was trained on ${m.keys}`,
          bad.source ?? {},
          {
            suggestion: "evaluate with --features summary, which accepts any length",
          },
        );
      }
    }
    const X = samples.map((s) => extractFeatures(s, m.featureSet));
    const out: ModelEvaluation = {
      algorithm: m.algorithm,
      featureSet: m.featureSet,
      evaluation: evaluateClassifier(m.classifier, X, y, options),
    };
    const imp = m.classifier.featureImportance?.();
    if (imp)
      out.importance = [...imp].map((value, j) => ({ name: m.featureNames[j] ?? `feature ${j}`, value }));
    if (m.version !== undefined) out.version = m.version;
    return out;
  });
}

/** Options of crossValidateModels: those of crossValidate. */
export type CrossValidateModelsOptions = CrossValidationOptions;

/** Cross-validates the training recipe and returns the results in the same form as evaluateModels. */
export async function crossValidateModels(
  samples: readonly Sample[],
  options: CrossValidateModelsOptions,
): Promise<ModelEvaluation[]> {
  const results = await crossValidate(samples, options);
  return results.map((r) => {
    const out: ModelEvaluation = {
      algorithm: r.algorithm,
      featureSet: r.featureSet,
      evaluation: r.pooled,
      cv: { k: options.k, seed: options.seed, folds: r.folds, mean: r.mean, sd: r.sd },
    };
    if (r.importance) out.importance = r.importance;
    return out;
  });
}

/** The JSON of one model's entry: every metric except the coverage curve (the report draws that). */
export type ModelJson = Omit<ClassifierEvaluation, "coverage"> & {
  version?: string;
  cv?: { k: number; seed: number; sd: FoldScores; folds: FoldScores[] };
};

/**
 * The `evaluate --json` document: `{dataset, models: {RF: {timings: {...}, summary: {...}}, …}}`. Under
 * cross-validation accuracy, top3, balancedAccuracy and macroF1 are means over folds (their sd and the
 * folds under `cv`); the other fields come from the pooled out-of-fold predictions. Non-finite numbers
 * become null.
 */
export function evaluationJson(
  dataset: { file: string; rows: number; users: number },
  models: readonly ModelEvaluation[],
  verification?: unknown,
): Record<string, unknown> {
  const byAlgorithm: Record<string, Record<string, ModelJson>> = {};
  for (const m of models) {
    const { coverage: _coverage, ...rest } = m.evaluation;
    const entry: ModelJson = { ...rest };
    if (m.cv) {
      Object.assign(entry, m.cv.mean);
      entry.cv = { k: m.cv.k, seed: m.cv.seed, sd: m.cv.sd, folds: m.cv.folds };
    }
    if (m.version !== undefined) entry.version = m.version;
    (byAlgorithm[m.algorithm] ??= {})[m.featureSet] = entry;
  }
  const doc: Record<string, unknown> = { dataset, models: byAlgorithm };
  if (verification !== undefined) doc.verification = verification;
  return JSON.parse(
    JSON.stringify(doc, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? null : v)),
  ) as Record<string, unknown>;
}

/** The (true, predicted) pairs confused most often, for a terminal summary of a large confusion matrix. */
export function topConfusions(
  evaluation: ClassifierEvaluation,
  n = 5,
): Array<{ actual: Label; predicted: Label; count: number }> {
  const { labels, matrix } = evaluation.confusion;
  const pairs: Array<{ actual: Label; predicted: Label; count: number }> = [];
  matrix.forEach((row, i) =>
    row.forEach(
      (v, j) => i !== j && v > 0 && pairs.push({ actual: labels[i]!, predicted: labels[j]!, count: v }),
    ),
  );
  return pairs
    .sort(
      (a, b) =>
        b.count - a.count || compareLabels(a.actual, b.actual) || compareLabels(a.predicted, b.predicted),
    )
    .slice(0, n);
}
