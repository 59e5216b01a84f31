import type { Label } from "../data/types.js";
import { KeystrokeError } from "../errors.js";

/**
 * Labels are matched by their text, so a user id read as the number 73 from a CSV and the string "73" from
 * a model file are the same user; the first spelling seen is the one reported.
 */
export function labelKey(label: Label): string {
  return String(label);
}

/** Numbers in numeric order, then strings in code-point order: the order users appear in tables and charts. */
export function compareLabels(a: Label, b: Label): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "number") return -1;
  if (typeof b === "number") return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function sameLength(actual: readonly unknown[], predicted: readonly unknown[]): void {
  if (actual.length !== predicted.length) {
    throw new KeystrokeError(
      "BAD_REQUEST",
      `${actual.length} true labels but ${predicted.length} predictions`,
    );
  }
}

/** Share of predictions equal to the true label (NaN for no samples). */
export function accuracy(actual: readonly Label[], predicted: readonly Label[]): number {
  sameLength(actual, predicted);
  if (actual.length === 0) return NaN;
  let hits = 0;
  for (let i = 0; i < actual.length; i++) if (labelKey(actual[i]!) === labelKey(predicted[i]!)) hits++;
  return hits / actual.length;
}

/**
 * Rank of the true class in one probability row: how many classes have a strictly higher probability.
 * Null when the true class is not among `classes` (a user the model never saw).
 */
export function trueRank(
  probabilities: ArrayLike<number>,
  classes: readonly Label[],
  actual: Label,
): number | null {
  const key = labelKey(actual);
  const t = classes.findIndex((c) => labelKey(c) === key);
  if (t < 0) return null;
  const p = probabilities[t]!;
  let above = 0;
  for (let j = 0; j < probabilities.length; j++) if (probabilities[j]! > p) above++;
  return above;
}

/**
 * Share of rows whose true class is among the k most probable. Tie rule: the true class counts when fewer
 * than k classes are strictly more probable than it, so a true class tied with the k-th probability is a
 * hit (the optimistic reading; sklearn's top_k_accuracy_score breaks ties by class order instead).
 * Users the model never saw are misses.
 */
export function topKAccuracy(
  probabilities: readonly ArrayLike<number>[],
  classes: readonly Label[],
  actual: readonly Label[],
  k: number,
): number {
  sameLength(actual, probabilities);
  if (!Number.isInteger(k) || k < 1)
    throw new KeystrokeError("BAD_FLAG", `top-k needs a whole k ≥ 1, got ${k}`);
  if (actual.length === 0) return NaN;
  let hits = 0;
  for (let i = 0; i < actual.length; i++) {
    const rank = trueRank(probabilities[i]!, classes, actual[i]!);
    if (rank !== null && rank < k) hits++;
  }
  return hits / actual.length;
}

/** A confusion matrix: rows are true users, columns predicted users, both in `labels` order. */
export interface ConfusionMatrix {
  labels: Label[];
  matrix: number[][];
}

/**
 * Counts (true, predicted) pairs. Labels default to every user seen in either list, in compareLabels
 * order, so a user the model never saw has a row (all errors) and a user never predicted has a column.
 */
export function confusionMatrix(
  actual: readonly Label[],
  predicted: readonly Label[],
  labels?: readonly Label[],
): ConfusionMatrix {
  sameLength(actual, predicted);
  let order: Label[];
  if (labels) order = [...labels];
  else {
    const seen = new Map<string, Label>();
    for (const l of [...actual, ...predicted]) if (!seen.has(labelKey(l))) seen.set(labelKey(l), l);
    order = [...seen.values()].sort(compareLabels);
  }
  const index = new Map(order.map((l, i) => [labelKey(l), i]));
  const matrix = order.map(() => new Array<number>(order.length).fill(0));
  for (let i = 0; i < actual.length; i++) {
    const a = index.get(labelKey(actual[i]!));
    const p = index.get(labelKey(predicted[i]!));
    if (a === undefined || p === undefined) {
      throw new KeystrokeError(
        "BAD_REQUEST",
        `label ${String(a === undefined ? actual[i] : predicted[i])} is not in the confusion matrix labels`,
      );
    }
    matrix[a]![p]!++;
  }
  return { labels: order, matrix };
}

/** Precision, recall, F1 and support of one class, read off a confusion matrix. */
export interface ClassScores {
  label: Label;
  precision: number;
  recall: number;
  f1: number;
  /** True samples of the class. */
  support: number;
}

/**
 * Per-class scores from a confusion matrix. A class never predicted has precision 0 and a class with no
 * true samples has recall 0 (sklearn's zero_division=0); F1 is 0 when precision + recall is 0.
 */
export function classScores(cm: ConfusionMatrix): ClassScores[] {
  const n = cm.labels.length;
  return cm.labels.map((label, c) => {
    const tp = cm.matrix[c]![c]!;
    let rowSum = 0;
    let colSum = 0;
    for (let j = 0; j < n; j++) {
      rowSum += cm.matrix[c]![j]!;
      colSum += cm.matrix[j]![c]!;
    }
    const precision = colSum === 0 ? 0 : tp / colSum;
    const recall = rowSum === 0 ? 0 : tp / rowSum;
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    return { label, precision, recall, f1, support: rowSum };
  });
}

/** Unweighted means over classes of precision, recall and F1. */
export interface MacroScores {
  precision: number;
  recall: number;
  f1: number;
}

/**
 * Macro precision / recall / F1 over every user that is a true label or a prediction (sklearn's default
 * label set). Classes with no predictions count with precision 0, see classScores. F1 is the mean of the
 * per-class F1s, not the F1 of the mean precision and recall.
 */
export function macroScores(actual: readonly Label[], predicted: readonly Label[]): MacroScores {
  const scores = classScores(confusionMatrix(actual, predicted));
  if (scores.length === 0) return { precision: NaN, recall: NaN, f1: NaN };
  const mean = (f: (s: ClassScores) => number) => scores.reduce((acc, s) => acc + f(s), 0) / scores.length;
  return { precision: mean((s) => s.precision), recall: mean((s) => s.recall), f1: mean((s) => s.f1) };
}

/** Macro precision (see macroScores for the zero-division rule). */
export function macroPrecision(actual: readonly Label[], predicted: readonly Label[]): number {
  return macroScores(actual, predicted).precision;
}

/** Macro recall (see macroScores). */
export function macroRecall(actual: readonly Label[], predicted: readonly Label[]): number {
  return macroScores(actual, predicted).recall;
}

/** Macro F1: the mean of per-class F1 scores (see macroScores). */
export function macroF1(actual: readonly Label[], predicted: readonly Label[]): number {
  return macroScores(actual, predicted).f1;
}

/** How one user fares: samples, how many were recognised, and whom they were most often taken for. */
export interface UserAccuracy {
  user: Label;
  support: number;
  correct: number;
  errors: number;
  accuracy: number;
  /** The wrong prediction made most often for this user (null when never wrong); ties: first in label order. */
  confusedWith: Label | null;
}

/** Per-user accuracy (recall) for every true user, in compareLabels order. */
export function perUserAccuracy(actual: readonly Label[], predicted: readonly Label[]): UserAccuracy[] {
  sameLength(actual, predicted);
  const users = new Map<
    string,
    { user: Label; support: number; correct: number; wrong: Map<string, { label: Label; n: number }> }
  >();
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const k = labelKey(a);
    let u = users.get(k);
    if (!u) users.set(k, (u = { user: a, support: 0, correct: 0, wrong: new Map() }));
    u.support++;
    const p = predicted[i]!;
    if (labelKey(p) === k) u.correct++;
    else {
      const w = u.wrong.get(labelKey(p));
      if (w) w.n++;
      else u.wrong.set(labelKey(p), { label: p, n: 1 });
    }
  }
  return [...users.values()]
    .map((u) => {
      const wrong = [...u.wrong.values()].sort((x, y) => y.n - x.n || compareLabels(x.label, y.label));
      return {
        user: u.user,
        support: u.support,
        correct: u.correct,
        errors: u.support - u.correct,
        accuracy: u.correct / u.support,
        confusedWith: wrong.length ? wrong[0]!.label : null,
      };
    })
    .sort((x, y) => compareLabels(x.user, y.user));
}

/**
 * The n users recognised worst: lowest accuracy first, then more errors, then label order. Users with no
 * errors are never listed, so the list may be shorter than n.
 */
export function mostWrongUsers(perUser: readonly UserAccuracy[], n = 5): UserAccuracy[] {
  return perUser
    .filter((u) => u.errors > 0)
    .sort((x, y) => x.accuracy - y.accuracy || y.errors - x.errors || compareLabels(x.user, y.user))
    .slice(0, n);
}

/** Mean of per-user recall over the users that have true samples (sklearn's balanced_accuracy_score). */
export function balancedAccuracy(actual: readonly Label[], predicted: readonly Label[]): number {
  const users = perUserAccuracy(actual, predicted);
  if (users.length === 0) return NaN;
  return users.reduce((s, u) => s + u.accuracy, 0) / users.length;
}
