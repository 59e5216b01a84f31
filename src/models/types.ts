import type { Label } from "../data/types.js";
import type { ForestParams } from "./random-forest.js";
import type { SvmParams } from "./svm.js";
import type { XgbParams } from "./xgboost.js";

/** The three identification algorithms of the original contract. */
export type Algorithm = "SVM" | "RF" | "XGB";
export const ALGORITHMS: readonly Algorithm[] = ["SVM", "RF", "XGB"];

/** One progress event while fitting (trees built, boosting rounds, CV folds of a grid search). */
export interface TrainProgress {
  algorithm: Algorithm;
  /** What is being counted: "trees", "rounds", "folds", … */
  phase: string;
  done: number;
  total: number;
}

/** Each algorithm's hyperparameters (every one has a measured default). */
export interface ParamsByAlgorithm {
  SVM: SvmParams;
  RF: ForestParams;
  XGB: XgbParams;
}

/** What a caller may override for algorithm A: any subset of its parameters. */
export type ParamsOf<A extends Algorithm> = Partial<ParamsByAlgorithm[A]>;

/**
 * Options every fit takes: a seed (same seed + same data → identical model), a progress callback, and
 * the algorithm's own parameters (typed per algorithm; each fit still checks them, since they may come
 * from JSON, and refuses an unknown or bad one with BAD_FLAG naming it).
 */
export interface FitOptions<P extends object = ParamsOf<Algorithm>> {
  seed: number;
  onProgress?: (p: TrainProgress) => void;
  /** Algorithm-specific hyperparameters overriding the measured defaults. */
  params?: P;
}

/** What a model file holds: enough to rebuild the classifier with no training data. */
export interface SerializedModel {
  algorithm: Algorithm;
  classes: Label[];
  /** Hyperparameters actually used. */
  params: Record<string, unknown>;
  /** Algorithm-specific state (trees, support vectors, scaler, …); plain JSON. */
  state: unknown;
}

/**
 * A fitted identification model. Prediction is synchronous and in TypeScript (no wasm at load or
 * predict time), so a server answers fast and a CLI starts fast.
 */
export interface Classifier {
  readonly algorithm: Algorithm;
  /** The user ids, in the order of predictProba's entries. */
  readonly classes: readonly Label[];
  readonly params: Readonly<Record<string, unknown>>;
  /** Number of input features expected. */
  readonly nFeatures: number;
  /** Class probabilities of one row (sum 1), aligned with `classes`. */
  predictProba(row: ArrayLike<number>): Float64Array;
  /** Index into `classes` of the predicted user; always the argmax of predictProba. */
  predictIndex(row: ArrayLike<number>): number;
  /** Plain-JSON state; the same model always serialises to the same text. */
  toJSON(): SerializedModel;
  /** Per-feature importance (sums to 1) when the algorithm has one (RF: mean impurity decrease). */
  featureImportance?(): Float64Array;
}
