// Open-set identification: "is this sample close enough to any known user to be named at all?"
//
// The rule is model-independent, so it holds the same for RF, SVM and XGB and for both feature sets: every
// known user has a template (the per-feature median of their training rows); the distance of a sample to
// a template is the mean absolute deviation per feature, each feature scaled by its pooled within-user
// spread and capped at DEVIATION_CAP spreads (scaled Manhattan). A sample is unknown when its distance to the template of the user the model
// names is at or above a threshold.
//
// The threshold is chosen at train time for a target false-identification rate (FIR: the share of
// strangers that would still be named): every training user in turn plays the stranger, and the distance
// of each of their rows to the nearest template of the OTHER users is a stranger distance. The threshold
// is the FIR-quantile of those distances. The share of known users' rows it would reject is estimated
// with leave-one-out templates (each row's own template computed without it).
import type { Label, Sample } from "../data/types.js";
import { KeystrokeError } from "../errors.js";
import { extractFeatures, type FeatureSetName } from "../features/index.js";
import { argmax, compareLabels } from "./common.js";
import type { Algorithm, Classifier } from "./types.js";

/** The rule's name, recorded with it so that a later rule cannot be mistaken for this one. */
export const OPEN_SET_RULE = "template-distance";
/** The target false-identification rate `train` calibrates for unless told (chosen on the shared data: see README). */
export const DEFAULT_TARGET_FIR = 0.05;

/** What a model file records for open-set identification (snake_case: it is JSON that people read). */
export interface OpenSetModel {
  rule: typeof OPEN_SET_RULE;
  /** The share of strangers still named that the threshold was chosen for. */
  target_fir: number;
  /** Unknown when the distance to the named user's template is at or above this. */
  threshold: number;
  /** Per-feature scale: the pooled within-user mean absolute deviation from the user's median. */
  scale: number[];
  classes: Label[];
  /** One template (per-feature median) per class, in `classes` order. */
  centers: number[][];
  /** What the calibration measured on the training rows. */
  calibration: OpenSetCalibration;
}

/** Figures of the train-time calibration. */
export interface OpenSetCalibration {
  /** Share of leave-one-user-out stranger rows at or above the threshold (rejected). */
  strangers_rejected: number;
  /** Share of known users' rows (leave-one-out templates) at or above the threshold: rejected though known. */
  known_rejected: number;
  rows: number;
  users: number;
}

/** The decision for one sample. */
export interface OpenSetDecision {
  unknown: boolean;
  distance: number;
  threshold: number;
}

function median(values: number[]): number {
  const s = values.slice().sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

/**
 * Each feature's deviation counts at most this many spreads: one wild interval (a pause) must not outweigh
 * the rest of the rhythm. Chosen on the shared data (it lowered the share of known samples rejected at the
 * same stranger rate on all three files, most on IIITBh).
 */
export const DEVIATION_CAP = 3;

/** Capped scaled Manhattan distance of a row to a template: mean over features of min(|x − centre| / scale, DEVIATION_CAP). */
export function templateDistance(
  x: ArrayLike<number>,
  center: ArrayLike<number>,
  scale: ArrayLike<number>,
): number {
  let sum = 0;
  for (let j = 0; j < center.length; j++)
    sum += Math.min(Math.abs(x[j]! - center[j]!) / scale[j]!, DEVIATION_CAP);
  return sum / center.length;
}

/**
 * The threshold for a target FIR from stranger distances: the smallest distance at or above which at
 * least (1 − fir) of the strangers lie, i.e. at most a `fir` share of them fall strictly below it.
 */
export function thresholdForFir(strangers: readonly number[], fir: number): number {
  if (strangers.length === 0)
    throw new KeystrokeError("TOO_FEW_SAMPLES", "open-set calibration needs stranger distances");
  const s = strangers.slice().sort((a, b) => a - b);
  const k = Math.floor(fir * s.length + 1e-9);
  return s[Math.min(k, s.length - 1)]!;
}

/**
 * Fits the open-set rule on training rows: templates, scale, and the threshold for `targetFir`.
 * Needs at least 3 users (each one in turn plays the stranger against 2 or more) and 2 rows per user
 * (a leave-one-out template needs one row left).
 */
export function fitOpenSet(
  X: readonly (readonly number[])[],
  y: readonly Label[],
  targetFir = DEFAULT_TARGET_FIR,
): OpenSetModel {
  if (!(targetFir > 0 && targetFir < 1))
    throw new KeystrokeError(
      "BAD_REQUEST",
      `the target false-identification rate must be between 0 and 1, got ${targetFir}`,
      { option: "targetFir" },
    );
  const byClass = new Map<Label, number[]>();
  y.forEach((label, i) => {
    const rows = byClass.get(label);
    if (rows) rows.push(i);
    else byClass.set(label, [i]);
  });
  const classes = [...byClass.keys()].sort(compareLabels);
  if (classes.length < 3)
    throw new KeystrokeError(
      "TOO_FEW_SAMPLES",
      `open-set calibration needs at least 3 users (got ${classes.length}): each user plays the stranger to the others`,
    );
  const d = X[0]!.length;
  const groups = classes.map((c) => byClass.get(c)!);
  const centers = groups.map((rows) =>
    Array.from({ length: d }, (_, j) => median(rows.map((i) => X[i]![j]!))),
  );
  // pooled within-user spread per feature; a constant feature gets a floor so it cannot divide by zero
  const scale = new Array<number>(d).fill(0);
  groups.forEach((rows, c) => {
    for (const i of rows) for (let j = 0; j < d; j++) scale[j]! += Math.abs(X[i]![j]! - centers[c]![j]!);
  });
  const floor = 1e-6;
  for (let j = 0; j < d; j++) scale[j] = Math.max(scale[j]! / X.length, floor);

  // strangers: each user's rows against the nearest template of the other users
  const strangers: number[] = [];
  groups.forEach((rows, c) => {
    for (const i of rows) {
      let best = Infinity;
      for (let o = 0; o < centers.length; o++)
        if (o !== c) best = Math.min(best, templateDistance(X[i]!, centers[o]!, scale));
      strangers.push(best);
    }
  });
  // known users: each row against its own user's template computed without it
  const known: number[] = [];
  groups.forEach((rows) => {
    if (rows.length < 2) return;
    for (const i of rows) {
      const others = rows.filter((r) => r !== i);
      const loo = Array.from({ length: d }, (_, j) => median(others.map((r) => X[r]![j]!)));
      known.push(templateDistance(X[i]!, loo, scale));
    }
  });
  if (known.length === 0)
    throw new KeystrokeError("TOO_FEW_SAMPLES", "open-set calibration needs at least 2 samples of some user");
  const threshold = thresholdForFir(strangers, targetFir);
  const share = (v: number[]) => round(v.filter((x) => x >= threshold).length / v.length);
  return {
    rule: OPEN_SET_RULE,
    target_fir: targetFir,
    threshold: round(threshold),
    scale: scale.map(round),
    classes,
    centers: centers.map((c) => c.map(round)),
    calibration: {
      strangers_rejected: share(strangers),
      known_rejected: share(known),
      rows: X.length,
      users: classes.length,
    },
  };
}

/** Decides whether a sample the model named `label` is unknown. */
export function openSetDecision(
  model: OpenSetModel,
  vector: ArrayLike<number>,
  label: Label,
): OpenSetDecision {
  const c = model.classes.indexOf(label);
  // a class the model knows but the rule does not cannot happen for files written together; refuse it rather than guess
  if (c < 0)
    throw new KeystrokeError("BAD_MODEL_FILE", `open_set has no template for user ${JSON.stringify(label)}`, {
      field: "open_set.classes",
    });
  const distance = templateDistance(vector, model.centers[c]!, model.scale);
  return { unknown: distance >= model.threshold, distance: round(distance), threshold: model.threshold };
}

/** Checks the `open_set` entry of a model file (written by this module) against the model's feature count. */
export function checkOpenSet(value: unknown, nFeatures: number): OpenSetModel {
  const bad = (field: string, message: string): never => {
    throw new KeystrokeError("BAD_MODEL_FILE", message, { field: `open_set.${field}` });
  };
  if (value === null || typeof value !== "object" || Array.isArray(value))
    bad("rule", "open_set must be an object");
  const m = value as Record<string, unknown>;
  if (m.rule !== OPEN_SET_RULE)
    bad("rule", `unknown open-set rule ${JSON.stringify(m.rule)} (this version knows "${OPEN_SET_RULE}")`);
  const num = (v: unknown) => typeof v === "number" && Number.isFinite(v);
  if (!num(m.threshold)) bad("threshold", "must be a finite number");
  if (!num(m.target_fir)) bad("target_fir", "must be a finite number");
  const vec = (v: unknown, field: string, positive = false): number[] => {
    if (
      !Array.isArray(v) ||
      v.length !== nFeatures ||
      !v.every((x) => num(x) && (!positive || (x as number) > 0))
    )
      bad(field, `must be ${nFeatures} finite${positive ? " positive" : ""} numbers`);
    return v as number[];
  };
  vec(m.scale, "scale", true);
  if (!Array.isArray(m.classes) || !Array.isArray(m.centers) || m.classes.length !== m.centers.length)
    bad("centers", "must hold one template per class");
  (m.centers as unknown[]).forEach((c, i) => vec(c, `centers[${i}]`));
  return value as OpenSetModel;
}

function round(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}

/** What open-set identification did on labelled samples, some of whose users the model never saw. */
export interface OpenSetSummary {
  /** Samples of users the model knows, and of users it does not. */
  known: number;
  strangers: number;
  /** Share of strangers' samples answered "unknown" (null when there were none). */
  strangers_rejected: number | null;
  /** Share of known users' samples answered "unknown". */
  known_rejected: number | null;
  /** Share of known users' samples named correctly without the rule, and with it (a rejection counts as a miss). */
  known_accuracy: number | null;
  known_accuracy_kept: number | null;
}

/** Sums up open-set answers against the true labels: `knows(label)` says whether the model was trained on that user. */
export function summariseOpenSet(
  rows: ReadonlyArray<{ label: Label; named: Label; unknown: boolean }>,
  knows: (label: Label) => boolean,
): OpenSetSummary {
  let known = 0;
  let strangers = 0;
  let strangersRejected = 0;
  let knownRejected = 0;
  let correct = 0;
  let kept = 0;
  for (const r of rows) {
    if (!knows(r.label)) {
      strangers++;
      if (r.unknown) strangersRejected++;
      continue;
    }
    known++;
    if (r.unknown) knownRejected++;
    if (r.named === r.label) {
      correct++;
      if (!r.unknown) kept++;
    }
  }
  const share = (n: number, d: number) => (d === 0 ? null : round(n / d));
  return {
    known,
    strangers,
    strangers_rejected: share(strangersRejected, strangers),
    known_rejected: share(knownRejected, known),
    known_accuracy: share(correct, known),
    known_accuracy_kept: share(kept, known),
  };
}

/** What `evaluate` reports of a model's open-set rule on a labelled file. */
export interface OpenSetEvaluation extends OpenSetSummary {
  algorithm: Algorithm;
  featureSet: FeatureSetName;
  threshold: number;
  target_fir: number;
  /** Users of the file the model was not trained on (strangers). */
  stranger_users: number;
}

/**
 * Runs a model with its open-set rule over labelled samples: users the model was not trained on are the
 * strangers. Undefined when the model has no rule (written before it existed, or on fewer than 3 users).
 */
export function evaluateOpenSet(
  samples: readonly Sample[],
  model: { algorithm: Algorithm; featureSet: FeatureSetName; classifier: Classifier; openSet?: OpenSetModel },
): OpenSetEvaluation | undefined {
  const rule = model.openSet;
  if (!rule) return undefined;
  const known = new Set<Label>(model.classifier.classes);
  const rows = samples.map((s) => {
    const vector = extractFeatures(s, model.featureSet);
    const named = model.classifier.classes[argmax(model.classifier.predictProba(vector))]!;
    return { label: s.label!, named, unknown: openSetDecision(rule, vector, named).unknown };
  });
  const strangerUsers = new Set(samples.map((s) => s.label!).filter((l) => !known.has(l))).size;
  return {
    algorithm: model.algorithm,
    featureSet: model.featureSet,
    threshold: rule.threshold,
    target_fir: rule.target_fir,
    stranger_users: strangerUsers,
    ...summariseOpenSet(rows, (l) => known.has(l)),
  };
}
