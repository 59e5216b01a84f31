// What the three classifiers share, so they behave alike at every border (one contract, tested once
// against all three in test/models/contract.test.ts): label order, the checks of training data, of a
// prediction row and of a model file's envelope, argmax, and stratified folds.
import type { Label } from "../data/types.js";
import { KeystrokeError } from "../errors.js";
import { createRng, shuffle } from "../util/random.js";
import type { Algorithm, SerializedModel } from "./types.js";

/** Labels as class indices: classes sorted numbers ascending, then strings, so the order never depends on the data order. */
export function encodeLabels(y: readonly Label[]): { classes: Label[]; codes: Int32Array } {
  const seen = new Map<Label, number>();
  for (const v of y) seen.set(v, 0);
  const classes = [...seen.keys()].sort(compareLabels);
  classes.forEach((c, i) => seen.set(c, i));
  const codes = new Int32Array(y.length);
  for (let i = 0; i < y.length; i++) codes[i] = seen.get(y[i]!)!;
  return { classes, codes };
}

/** Orders labels: numbers ascending first, then strings by code unit. */
export function compareLabels(a: Label, b: Label): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "number") return -1;
  if (typeof b === "number") return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Checks a training matrix once at the border: rows × equal-length finite numbers, one label per row. */
export function checkTrainingData(
  X: readonly (readonly number[])[],
  y: readonly Label[],
  algorithm: Algorithm,
): number {
  if (X.length === 0) throw new KeystrokeError("TOO_FEW_SAMPLES", `${algorithm}: no training rows`);
  if (X.length !== y.length)
    throw new KeystrokeError("BAD_ROW", `${algorithm}: ${X.length} rows but ${y.length} labels`);
  const d = X[0]!.length;
  if (d === 0) throw new KeystrokeError("BAD_ROW", `${algorithm}: rows have no features`);
  for (let i = 0; i < X.length; i++) {
    const row = X[i]!;
    if (row.length !== d)
      throw new KeystrokeError("BAD_ROW", `${algorithm}: row ${i} has ${row.length} features, expected ${d}`);
    for (let j = 0; j < d; j++) {
      if (!Number.isFinite(row[j]))
        throw new KeystrokeError("BAD_ROW", `${algorithm}: row ${i}, feature ${j} is not a finite number`);
    }
    const label = y[i];
    if (!(typeof label === "string" || (typeof label === "number" && Number.isFinite(label)))) {
      throw new KeystrokeError(
        "BAD_ROW",
        `${algorithm}: label of row ${i} is neither a string nor a finite number`,
      );
    }
  }
  return d;
}

/**
 * Identification tells users apart: a model of one user could only ever answer that user, so every
 * algorithm refuses to fit one (TOO_FEW_SAMPLES) and to load one (BAD_MODEL_FILE).
 */
export function requireTwoClasses(classes: readonly Label[], algorithm: Algorithm): void {
  if (classes.length < 2)
    throw new KeystrokeError(
      "TOO_FEW_SAMPLES",
      `${algorithm} needs samples of at least two users to tell apart (got ${classes.length})`,
    );
}

/** Refuses a prediction row of the wrong width (a model trained on another feature set). */
export function checkRow(row: ArrayLike<number>, nFeatures: number, algorithm: Algorithm): void {
  if (row.length !== nFeatures) {
    throw new KeystrokeError(
      "BAD_REQUEST",
      `${algorithm} model expects ${nFeatures} features, got ${row.length}`,
      { field: "features" },
    );
  }
  // NaN or ±Infinity would walk a tree to an arbitrary leaf or make an SVM's probabilities NaN
  for (let j = 0; j < nFeatures; j++) {
    if (!Number.isFinite(row[j]))
      throw new KeystrokeError("BAD_REQUEST", `${algorithm} model: feature ${j} is not a finite number`, {
        field: `features[${j}]`,
      });
  }
}

/** Index of the largest entry; ties go to the lowest index. */
export function argmax(p: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < p.length; i++) if (p[i]! > p[best]!) best = i;
  return best;
}

/** Fails a model-file check with BAD_MODEL_FILE naming the JSON field. */
export function badModel(field: string, message: string): never {
  throw new KeystrokeError("BAD_MODEL_FILE", message, { field });
}

/** Checks the envelope of a serialised model (algorithm, classes) and returns its state object. */
export function checkEnvelope(model: SerializedModel, algorithm: Algorithm): Record<string, unknown> {
  if (model === null || typeof model !== "object") badModel("model", "model is not an object");
  if (model.algorithm !== algorithm)
    badModel("algorithm", `expected "${algorithm}", got ${JSON.stringify(model.algorithm)}`);
  const classes = model.classes as unknown;
  if (!Array.isArray(classes) || classes.length < 2)
    badModel("classes", "must list at least two users (a model of one user cannot tell anyone apart)");
  const seen = new Set<Label>();
  for (const c of classes) {
    if (!(typeof c === "string" || (typeof c === "number" && Number.isFinite(c))))
      badModel("classes", "entries must be strings or numbers");
    if (seen.has(c)) badModel("classes", `duplicate class ${JSON.stringify(c)}`);
    seen.add(c);
  }
  if (model.params === null || typeof model.params !== "object" || Array.isArray(model.params))
    badModel("params", "must be an object");
  const state = model.state;
  if (state === null || typeof state !== "object" || Array.isArray(state))
    badModel("state", "must be an object");
  return state as Record<string, unknown>;
}

/** Test-row index lists of k stratified folds: each class's rows shuffled (seeded), then dealt round-robin. */
export function stratifiedFolds(yi: readonly number[], nClass: number, k: number, seed: number): number[][] {
  const rng = createRng(seed);
  const byClass: number[][] = Array.from({ length: nClass }, () => []);
  yi.forEach((c, i) => byClass[c]!.push(i));
  const folds: number[][] = Array.from({ length: k }, () => []);
  let next = 0;
  for (const rows of byClass) {
    for (const r of shuffle(rng, rows)) {
      folds[next]!.push(r);
      next = (next + 1) % k;
    }
  }
  return folds.filter((f) => f.length > 0).map((f) => f.sort((a, b) => a - b));
}
