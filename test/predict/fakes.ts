import type { Label } from "../../src/data/types.js";
import type { FeatureSetName } from "../../src/features/index.js";
import type { LoadedModel } from "../../src/models/store.js";
import type { Algorithm, Classifier } from "../../src/models/types.js";
import type { ModelSource } from "../../src/predict/index.js";

/** A classifier that answers fixed probabilities and remembers the rows it was given. */
export function fakeClassifier(
  algorithm: Algorithm,
  classes: Label[],
  proba: number[],
  nFeatures: number,
): Classifier & { seen: number[][] } {
  const seen: number[][] = [];
  return {
    algorithm,
    classes,
    params: {},
    nFeatures,
    seen,
    predictProba(row) {
      seen.push(Array.from(row));
      return Float64Array.from(proba);
    },
    predictIndex() {
      return proba.indexOf(Math.max(...proba));
    },
    toJSON() {
      return { algorithm, classes, params: {}, state: null };
    },
  };
}

/** A loaded model around a fake classifier. */
export function fakeModel(
  algorithm: Algorithm,
  featureSet: FeatureSetName,
  keys: number | null,
  proba: number[],
  classes: Label[] = [10, 20, 30],
): LoadedModel & { classifier: ReturnType<typeof fakeClassifier> } {
  const n = featureSet === "summary" ? 8 : keys! + 3 * (keys! - 1);
  return {
    algorithm,
    featureSet,
    keys,
    featureNames: [],
    version: `${algorithm.toLowerCase()}-${featureSet}-fake`,
    classifier: fakeClassifier(algorithm, classes, proba, n),
  };
}

/** A model source over the given models, shaped like a loaded models directory. */
export function fakeSource(models: LoadedModel[], best: Algorithm = "RF"): ModelSource {
  return {
    models,
    manifest: { best },
    find: (a, s) => models.find((m) => m.algorithm === a && m.featureSet === s),
  };
}
