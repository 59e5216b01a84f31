import { performance } from "node:perf_hooks";
import type { Label } from "../data/types.js";
import { KeystrokeError } from "../errors.js";
import { extractSummary, extractTimings, type FeatureSetName } from "../features/index.js";
import { openSetDecision } from "../models/open-set.js";
import type { LoadedModel, ModelDir } from "../models/store.js";
import type { Algorithm } from "../models/types.js";
import type { PredictRequest, TimingsRequest } from "./request.js";
import { unitWarning } from "./units.js";

/** One candidate user and the model's probability for them. */
export interface Candidate {
  UserID: Label;
  probability: number;
}

/** The answer to one request: the original contract's `UserID` first, then what the model saw and how sure it is. */
export interface PredictAnswer {
  UserID: Label;
  Model: Algorithm;
  features: FeatureSetName;
  confidence: number;
  top: Candidate[];
  model_version: string;
  inference_time_ms: number;
  /** Present when the input looks wrong without being invalid (times in seconds, …). */
  warnings?: string[];
}

/**
 * The answer when open-set identification was asked for (`rejectUnknown`): `UserID` is null and `unknown`
 * true when the sample is not close enough to the template of the user the model names.
 */
export interface OpenSetAnswer extends Omit<PredictAnswer, "UserID"> {
  UserID: Label | null;
  unknown: boolean;
  /** The sample's distance to the named user's template and the threshold it is compared with (unknown when distance ≥ threshold). */
  open_set: { distance: number; threshold: number; target_fir: number };
}

/** Per-call choices: a model forced by the caller (beats the request's `Model`), and how many candidates. */
export interface PredictOptions {
  model?: Algorithm;
  top?: number;
  /**
   * Let the summary model answer a raw sample that the timings model cannot take (another key count, other
   * keys). Off by default: such a sample is a SAMPLE_MISMATCH error saying why, never a silent downgrade.
   */
  allowSummary?: boolean;
  /**
   * Open-set identification: answer `"UserID": null, "unknown": true` when the sample is too far from the
   * template of the user the model names (the threshold calibrated by `train`). Off: the original answer.
   */
  rejectUnknown?: boolean;
}

/** The models a predictor answers from: a loaded models directory, or anything shaped like one. */
export type ModelSource = Pick<ModelDir, "models" | "find"> & {
  manifest: Pick<ModelDir["manifest"], "best">;
};

export const DEFAULT_TOP = 3;

/** Which model answers a request and the feature vector it needs. */
export interface Routed {
  model: LoadedModel;
  vector: number[];
}

/**
 * Answers identification requests from a set of loaded models. Holds no mutable state, so a server can
 * build a new one on reload and swap it in with one assignment.
 */
export class Predictor {
  readonly source: ModelSource;

  constructor(source: ModelSource) {
    this.source = source;
  }

  /** The algorithm a request is answered with: the caller's, else the request's `Model`, else the manifest's best. */
  algorithmFor(req: PredictRequest, options: PredictOptions = {}): Algorithm {
    return options.model ?? req.model ?? this.source.manifest.best;
  }

  /**
   * Picks the model and builds its feature vector: raw timings go to the timings model when the sample
   * has the key count it was trained on, otherwise (and for summary requests) to the summary model.
   */
  route(req: PredictRequest, options: PredictOptions = {}): Routed {
    const algorithm = this.algorithmFor(req, options);
    if (req.kind === "timings") {
      const timings = this.source.find(algorithm, "timings");
      const mismatch = timings ? sampleMismatch(timings, req) : undefined;
      if (timings && mismatch === undefined)
        return { model: timings, vector: finiteFeatures(extractTimings(req)) };
      const summary = this.source.find(algorithm, "summary");
      // no timings model at all: the summary model is the only one there is, and the answer says so (`features`)
      if (summary && (!timings || options.allowSummary || req.allowSummary))
        return { model: summary, vector: finiteFeatures(extractSummary(req)) };
      if (timings && mismatch !== undefined) {
        const way = summary
          ? `; allowSummary (--allow-summary, "allow_summary": true) lets the weaker ${algorithm} summary model answer it instead`
          : `, and there is no ${algorithm} summary model to answer it`;
        throw new KeystrokeError("SAMPLE_MISMATCH", `${mismatch.message}${way}`, { field: mismatch.field });
      }
      throw this.unknown(algorithm);
    }
    const summary = this.source.find(algorithm, "summary");
    if (summary) return { model: summary, vector: req.summary };
    throw this.unknown(algorithm, "summary");
  }

  /** Identifies the user who typed one validated request. */
  predict(req: PredictRequest, options: PredictOptions & { rejectUnknown: true }): OpenSetAnswer;
  predict(req: PredictRequest, options?: PredictOptions): PredictAnswer | OpenSetAnswer;
  predict(req: PredictRequest, options: PredictOptions = {}): PredictAnswer | OpenSetAnswer {
    const t0 = performance.now();
    const { model, vector } = this.route(req, options);
    const proba = model.classifier.predictProba(vector);
    const classes = model.classifier.classes;
    const top = topK(proba, classes, options.top ?? DEFAULT_TOP);
    // top[0] exists whenever the model has a class; a model with none could not have been trained
    const best = top[0]!;
    if (options.rejectUnknown || req.rejectUnknown) return this.openSet(req, model, vector, top, t0);
    const elapsed = performance.now() - t0;
    const warning = req.kind === "timings" ? unitWarning(req) : undefined;
    return {
      UserID: best.UserID,
      Model: model.algorithm,
      features: model.featureSet,
      confidence: best.probability,
      top,
      model_version: model.version,
      inference_time_ms: Math.round(elapsed * 1e4) / 1e4,
      ...(warning !== undefined ? { warnings: [warning] } : {}),
    };
  }

  // kept out of predict() so that the original answer's path does no more work than before
  private openSet(
    req: PredictRequest,
    model: LoadedModel,
    vector: number[],
    top: Candidate[],
    t0: number,
  ): OpenSetAnswer {
    const rule = model.openSet;
    if (!rule) {
      throw new KeystrokeError(
        "UNKNOWN_MODEL",
        `the ${model.algorithm} ${model.featureSet} model (${model.version}) has no open-set threshold: it was trained by an older keystroke-id, or on fewer than 3 users`,
        { field: "reject_unknown" },
        { suggestion: "retrain the models with this version (keystroke-id train) to use reject_unknown" },
      );
    }
    const best = top[0]!;
    const decision = openSetDecision(rule, vector, best.UserID);
    const elapsed = performance.now() - t0;
    const warning = req.kind === "timings" ? unitWarning(req) : undefined;
    return {
      UserID: decision.unknown ? null : best.UserID,
      unknown: decision.unknown,
      Model: model.algorithm,
      features: model.featureSet,
      confidence: best.probability,
      top,
      model_version: model.version,
      inference_time_ms: Math.round(elapsed * 1e4) / 1e4,
      open_set: { distance: decision.distance, threshold: decision.threshold, target_fir: rule.target_fir },
      ...(warning !== undefined ? { warnings: [warning] } : {}),
    };
  }

  private unknown(algorithm: Algorithm, featureSet?: FeatureSetName): KeystrokeError {
    const have = this.source.models.map((m) => `${m.algorithm}/${m.featureSet}`).join(", ") || "none";
    const what = featureSet ? `${algorithm} ${featureSet} model` : `${algorithm} model`;
    return new KeystrokeError(
      "UNKNOWN_MODEL",
      `no ${what} is loaded (loaded: ${have})`,
      { field: "Model" },
      {
        suggestion: "train it with keystroke-id train, or ask for another model",
      },
    );
  }
}

/** The key names a timings model was trained on (from its `HT.<i>.<key>` feature names), when it has them. */
export function modelKeyNames(model: Pick<LoadedModel, "featureNames" | "keys">): string[] | undefined {
  if (model.keys === null) return undefined;
  const names: string[] = [];
  for (let i = 0; i < model.keys; i++) {
    const prefix = `HT.${i}.`;
    const f = model.featureNames[i];
    if (f === undefined || !f.startsWith(prefix)) return undefined;
    names.push(f.slice(prefix.length));
  }
  return names;
}

/** Why a timings model cannot take a raw sample (its key count, or the keys typed), or undefined when it can. */
export function sampleMismatch(
  model: Pick<LoadedModel, "featureNames" | "keys" | "algorithm">,
  req: TimingsRequest,
): { message: string; field: string } | undefined {
  if (model.keys !== req.press.length) {
    return {
      message: `has ${req.press.length} keys but the ${model.algorithm} timings model was trained on samples of ${model.keys} keys`,
      field: req.keys ? "keystrokes" : "press",
    };
  }
  const expected = modelKeyNames(model);
  if (expected && req.keys) {
    const i = req.keys.findIndex((k, j) => !sameKey(k, expected[j]!));
    if (i >= 0) {
      return {
        message: `key ${i} is "${clip(req.keys[i]!)}" but the ${model.algorithm} timings model was trained on the text ${clip(expected.join(" "), 80)} (key ${i}: "${clip(expected[i]!)}")`,
        field: `keystrokes[${i}].key`,
      };
    }
  }
  return undefined;
}

// layouts name keys differently ("period" and "."; "Shift.r" and "Shift"): compare loosely
const KEY_ALIASES: Record<string, string> = {
  period: ".",
  comma: ",",
  space: " ",
  return: "enter",
  five: "5",
  "shift.r": "shift",
  "shift.l": "shift",
};
function sameKey(a: string, b: string): boolean {
  const norm = (k: string) => KEY_ALIASES[k.toLowerCase()] ?? k.toLowerCase();
  return norm(a) === norm(b);
}

function clip(s: string, n = 20): string {
  return s.length > n ? s.slice(0, n) + "…" : s;
}

/**
 * Returns the vector when every derived feature is a finite number, else throws BAD_REQUEST naming
 * `press`. The border bounds each time, so this only guards against a gap in that bound: a model fed
 * Infinity or NaN answers nonsense (or NaN probabilities) rather than failing.
 */
export function finiteFeatures(vector: number[], field = "press"): number[] {
  for (let i = 0; i < vector.length; i++) {
    if (!Number.isFinite(vector[i]!))
      throw new KeystrokeError("BAD_REQUEST", "the timings are too far apart to compute features from", {
        field,
      });
  }
  return vector;
}

/** The k most probable classes, best first; ties keep class order so answers are repeatable. */
export function topK(proba: ArrayLike<number>, classes: readonly Label[], k: number): Candidate[] {
  const n = Math.min(Math.max(1, Math.floor(k)), proba.length);
  // k is small (3 by default): one insertion pass beats sorting 110 probabilities
  const idx: number[] = [];
  for (let i = 0; i < proba.length; i++) {
    const p = proba[i]!;
    if (idx.length === n) {
      if (p <= proba[idx[n - 1]!]!) continue;
      idx.pop();
    }
    let j = idx.length;
    idx.push(i);
    while (j > 0 && proba[idx[j - 1]!]! < p) {
      idx[j] = idx[j - 1]!;
      j--;
    }
    idx[j] = i;
  }
  const out = new Array<Candidate>(idx.length);
  for (let i = 0; i < idx.length; i++) out[i] = { UserID: classes[idx[i]!]!, probability: proba[idx[i]!]! };
  return out;
}
