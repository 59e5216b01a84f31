import type { Label } from "../data/types.js";
import { KeystrokeError } from "../errors.js";
import type { Algorithm, Classifier, FitOptions, ParamsOf, SerializedModel } from "./types.js";

export * from "./types.js";

/** Fits one algorithm on a feature matrix (rows × features) and labels. Heavy modules load lazily. */
export async function fitClassifier<A extends Algorithm>(
  algorithm: A,
  X: number[][],
  y: Label[],
  options: FitOptions<ParamsOf<A>>,
): Promise<Classifier> {
  // each fit checks its params at run time: they may come from JSON
  const loose = options as FitOptions<object>;
  switch (algorithm) {
    case "RF":
      return (await import("./random-forest.js")).fitRandomForest(X, y, loose);
    case "SVM":
      return (await import("./svm.js")).fitSvm(X, y, loose);
    case "XGB":
      return (await import("./xgboost.js")).fitXgboost(X, y, loose);
    default:
      throw new KeystrokeError(
        "UNKNOWN_MODEL",
        `unknown model "${String(algorithm)}" (models: SVM, RF, XGB)`,
      );
  }
}

/** Rebuilds a classifier from its serialised form (pure TypeScript, no wasm). */
export async function loadClassifier(model: SerializedModel): Promise<Classifier> {
  switch (model.algorithm) {
    case "RF":
      return (await import("./random-forest.js")).loadRandomForest(model);
    case "SVM":
      return (await import("./svm.js")).loadSvm(model);
    case "XGB":
      return (await import("./xgboost.js")).loadXgboost(model);
    default:
      throw new KeystrokeError(
        "BAD_MODEL_FILE",
        `unknown algorithm "${String((model as { algorithm?: unknown }).algorithm)}" in model file`,
      );
  }
}
