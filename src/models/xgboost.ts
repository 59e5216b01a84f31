// XGBoost: trained by our histogram trainer (xgb-hist.ts, the default) or by ml-xgboost (XGBoost 0.7 in
// wasm, tree_method "exact"), whose saved binary booster is parsed here; either way the trees are evaluated
// in TypeScript, so loading and predicting never touch wasm.
import { createRequire } from "node:module";
import type { Label } from "../data/types.js";
import { KeystrokeError } from "../errors.js";
import {
  argmax,
  badModel,
  checkEnvelope,
  checkRow,
  checkTrainingData,
  encodeLabels,
  intField,
  makeYielder,
  numArray,
  requireTwoClasses,
  shortFloat32,
} from "./tree-common.js";
import type { Classifier, FitOptions, SerializedModel } from "./types.js";
import { binFeatures, growHistTrees, type HistFit } from "./xgb-hist.js";

/**
 * Measured defaults (5-fold CV on the shared timings, bench/train.mjs and its sweep): XGBoost's own
 * random-forest mode (one round of parallel trees, each fitting one class against the rest). What
 * helps is decorrelating the trees: 0.08 of the features per level (3 of 49) and every row (subsample
 * 1) take 30 trees per class from 0.65 to 0.72 at the same ~1.2 s per fit. More trees buy accuracy at
 * a fixed price: 60 → 0.74 (1.9 s), 80 → 0.75 (2.5 s), 100 → 0.77 (2.8 s); 80 is the default, because
 * `train` fits the models in parallel worker threads and its wall time stays under Python's for its three. With 60+ trees depth 6 scores as depth 12;
 * with 30, depth 6 loses a little (0.71). Boosting is slower here (~0.35 s per
 * round with 110 classes in this wasm build) and less accurate (8 rounds of depth 4: 0.49).
 * min_child_weight is low because a class's hessians are tiny when it is 1 of 110 (0.05 vs 1: 0.65 vs
 * 0.51); λ stays 1 (0.01: 0.55). Names are XGBoost's parameter names, plus `rounds` (boosting iterations).
 */
/**
 * tree_method "hist" (our trainer, xgb-hist.ts) is the default: `node bench/xgb-methods.mjs` fitted both on
 * every shared file with the same folds and seeds and found no accuracy lost (ThreatFabric timings 5-fold
 * CV, fit seeds 1–3: exact 0.757, hist 0.763 on average; summary 0.160 and 0.164; IIITBh within ±0.002 by
 * CV, across sessions big 0.962 → 0.976, small 0.992 → 0.990; generated 10k 0.946 both) at 3–6× less fit
 * time in process; at scale it is what makes XGB trainable (README, "Training at scale").
 */
/** XGBoost's parameter names (plus `rounds`, the boosting iterations, and `tree_method`); the first nine have defaults. */
export interface XgbParams {
  rounds: number;
  num_parallel_tree: number;
  max_depth: number;
  eta: number;
  subsample: number;
  colsample_bytree: number;
  colsample_bylevel: number;
  min_child_weight: number;
  gamma?: number;
  lambda?: number;
  alpha?: number;
  max_delta_step?: number;
  /**
   * "hist": our trainer (xgb-hist.ts: XGBoost's objective and tree rule on binned features, in TypeScript);
   * "exact": XGBoost 0.7's exact greedy method, in WebAssembly (ml-xgboost).
   */
  tree_method: TreeMethod;
}

/** Who grows the trees (see XgbParams.tree_method). */
export type TreeMethod = "hist" | "exact";
const TREE_METHODS: readonly TreeMethod[] = ["hist", "exact"];

export const DEFAULT_XGB_PARAMS: Readonly<XgbParams> = {
  rounds: 1,
  num_parallel_tree: 80,
  max_depth: 12,
  eta: 1,
  subsample: 1,
  colsample_bytree: 1,
  colsample_bylevel: 0.08,
  min_child_weight: 0.05,
  tree_method: "hist",
};

/**
 * Narrow inputs (the 8 summary numbers) gain nothing from more trees (5-fold CV on the shared data:
 * 30 trees per class 0.159, 80 trees 0.167) while every prediction walks all of them (92 vs 246 µs per prediction, bench:train),
 * and the summary model is the one the original REST contract is served from: fewer trees there.
 */
const FEW_FEATURES = 16;
const FEW_FEATURES_TREES = 30;

/** Allowed parameters and their ranges: [min, max, integer]. */
const PARAM_RANGES: Record<string, [number, number, boolean]> = {
  rounds: [1, 10_000, true],
  num_parallel_tree: [1, 10_000, true],
  max_depth: [1, 64, true],
  eta: [0, 1, false],
  subsample: [0, 1, false],
  colsample_bytree: [0, 1, false],
  colsample_bylevel: [0, 1, false],
  min_child_weight: [0, Infinity, false],
  gamma: [0, Infinity, false],
  lambda: [0, Infinity, false],
  alpha: [0, Infinity, false],
  max_delta_step: [0, Infinity, false],
};

/** Merges user params over the defaults, refusing unknown names and bad values (BAD_FLAG naming the parameter). */
export function resolveXgbParams(input: object = {}, nFeatures?: number): XgbParams {
  const params = input as Record<string, unknown>;
  const out: XgbParams & Record<string, unknown> = { ...DEFAULT_XGB_PARAMS };
  if (nFeatures !== undefined && nFeatures < FEW_FEATURES) out.num_parallel_tree = FEW_FEATURES_TREES;
  for (const [key, value] of Object.entries(params)) {
    if (key === "tree_method") {
      if (!TREE_METHODS.includes(value as TreeMethod))
        bad(key, `must be ${TREE_METHODS.map((m) => `"${m}"`).join(" or ")}`);
      out.tree_method = value as TreeMethod;
      continue;
    }
    const range = PARAM_RANGES[key];
    if (!range)
      bad(key, `unknown XGB parameter (known: ${[...Object.keys(PARAM_RANGES), "tree_method"].join(", ")})`);
    const [min, max, int] = range;
    if (
      typeof value !== "number" ||
      !Number.isFinite(value) ||
      value < min ||
      value > max ||
      (int && !Number.isInteger(value))
    ) {
      bad(key, `must be ${int ? "an integer" : "a number"} in [${min}, ${max}]`);
    }
    if (!int && min === 0 && max === 1 && key !== "eta" && value === 0) bad(key, "must be greater than 0");
    out[key] = value;
  }
  return out;
}

function bad(key: string, message: string): never {
  throw new KeystrokeError("BAD_FLAG", `XGB parameter ${key}: ${message}`, { field: `params.${key}` });
}

// ml-xgboost's binding builds its matrices with missing = -1, so a timing of exactly -1 ms would be
// "missing". Both training and prediction move it to the next float32 below, keeping it an ordinary value.
const MINUS_ONE_NUDGED = Math.fround(-1 - 2 ** -23);

function toXgbValue(v: number): number {
  const f = Math.fround(v);
  return f === -1 ? MINUS_ONE_NUDGED : f;
}

/** The few wasm entry points we call (emscripten Module of ml-xgboost). */
interface XgbWasm {
  create(data: number, labels: number, rows: number, cols: number): number;
  setParam(model: number, key: string, value: string): void;
  train(model: number, iterations: number): void;
  save(model: number): number;
  fileContent(ptr: number, size: number): void;
  predictOne(model: number, row: number, cols: number, out: number): number;
  free(model: number): void;
  malloc(bytes: number): number;
  freePtr(ptr: number): void;
  heapU8(): Uint8Array;
  heapF32(): Float32Array;
}

/** What ml-xgboost's emscripten module exports (the part used here). */
interface EmscriptenModule {
  isReady: Promise<unknown>;
  cwrap(name: string, ret: string | null, args: string[]): unknown;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  HEAPU8: Uint8Array;
  HEAPF32: Float32Array;
}

let wasmPromise: Promise<XgbWasm> | undefined;

/** Loads ml-xgboost's wasm once, without its stderr chatter or its process-wide uncaughtException hook. */
export function loadXgbWasm(): Promise<XgbWasm> {
  wasmPromise ??= (async () => {
    const require = createRequire(import.meta.url);
    const listeners = new Set(process.listeners("uncaughtException"));
    const wasm = (globalThis as unknown as { WebAssembly: { instantiateStreaming?: unknown } }).WebAssembly;
    const streaming = wasm.instantiateStreaming;
    // Node's fetch cannot read a file path, so emscripten would print "wasm streaming compile failed"
    // before falling back to the ArrayBuffer path it uses anyway.
    wasm.instantiateStreaming = undefined;
    let M: EmscriptenModule;
    try {
      M = require("ml-xgboost/dist/wasm/xgboost.js") as EmscriptenModule;
      await M.isReady;
    } finally {
      wasm.instantiateStreaming = streaming;
      for (const l of process.listeners("uncaughtException"))
        if (!listeners.has(l)) process.off("uncaughtException", l);
    }
    // emscripten's cwrap: a typed JS function over an exported C function
    const cw = <F>(name: string, ret: string | null, args: string[]) => M.cwrap(name, ret, args) as F;
    const create = cw<XgbWasm["create"]>("create_model", "number", ["number", "number", "number", "number"]);
    const setParam = cw<XgbWasm["setParam"]>("set_param", null, ["number", "string", "string"]);
    const train = cw<XgbWasm["train"]>("train_full_model", null, ["number", "number"]);
    const save = cw<XgbWasm["save"]>("save_model", "number", ["number"]);
    const fileContent = cw<XgbWasm["fileContent"]>("get_file_content", null, ["number", "number"]);
    const predictOne = cw<XgbWasm["predictOne"]>("predict_one", "number", [
      "number",
      "number",
      "number",
      "number",
    ]);
    const free = cw<XgbWasm["free"]>("free_memory_model", null, ["number"]);
    return {
      create,
      setParam,
      train,
      save,
      fileContent,
      predictOne,
      free,
      malloc: (bytes: number) => M._malloc(bytes),
      freePtr: (ptr: number) => M._free(ptr),
      // the heap views change when the wasm memory grows, so read them fresh each time
      heapU8: () => M.HEAPU8,
      heapF32: () => M.HEAPF32,
    };
  })();
  return wasmPromise;
}

/** One tree as stored, in preorder (left child of node i is i + 1): `value` is a split threshold or a leaf value. */
export interface XgbTree {
  /** The class whose margin this tree adds to. */
  group: number;
  /** Split feature, −1 for a leaf. */
  feature: number[];
  value: number[];
  /** Right child of a split; 0 for a leaf. */
  right: number[];
}

interface XgbState {
  nFeatures: number;
  baseScore: number;
  trees: XgbTree[];
}

/** A booster still alive in the wasm heap, for tests comparing the TS predictions with XGBoost's own. */
export interface LiveBooster {
  /** XGBoost's own class probabilities of one row. */
  predict(row: ArrayLike<number>): Float32Array;
  /** Releases the wasm memory (the heap never shrinks otherwise). */
  free(): void;
}

/**
 * In forest mode (one round) the parallel trees are independent given the same starting margin, so
 * they are grown in chunks of CHUNK_TREES, each chunk a booster of its own with its own seed: chunks
 * can go to different threads and the model is the same whatever the split.
 */
// Each chunk is a booster of its own, and each extra booster cost about 0.6 s here (750 rows of 110 users:
// 8 chunks of 10 trees took 8.5 s in process against 4.1 s for one booster of 80, 2 chunks of 40 4.7 s),
// so chunks are few and large: 80 trees are two chunks, one per core of a 2-core machine.
const CHUNK_TREES = 40;

/** Trees per chunk of a fit (one chunk unless forest mode with more than CHUNK_TREES trees). */
export function xgbChunks(params: object | undefined, nFeatures: number): number[] {
  const p = resolveXgbParams(params, nFeatures);
  const trees = p.num_parallel_tree;
  if (p.rounds !== 1 || trees <= CHUNK_TREES) return [trees];
  const n = Math.ceil(trees / CHUNK_TREES);
  return Array.from({ length: n }, (_, c) => Math.floor(((c + 1) * trees) / n) - Math.floor((c * trees) / n));
}

/** One chunk of an XGB fit: its trees, class by class, and the starting margin. */
export interface XgbPart {
  chunk: number;
  baseScore: number;
  trees: XgbTree[];
}

/** Grows chunk `chunk` of the fit `options` describes (for fitting on several threads). */
export async function fitXgboostPart(
  X: number[][],
  y: Label[],
  options: FitOptions<object>,
  chunk: number,
): Promise<XgbPart> {
  const sizes = xgbChunks(options.params, X[0]?.length ?? 0);
  if (resolveXgbParams(options.params, X[0]?.length).tree_method === "hist") {
    const fit = prepareHist(X, y, options);
    const from = sizes.slice(0, chunk).reduce((a, b) => a + b, 0);
    const report = options.onProgress;
    const trees = await growHistTrees(
      fit,
      from,
      from + sizes[chunk]!,
      report && ((done, total) => report({ algorithm: "XGB", phase: "trees", done, total })),
      makeYielder(),
    );
    return { chunk, baseScore: fit.baseScore, trees };
  }
  // XGBoost reads its seed as a signed 32-bit int
  const seed =
    sizes.length === 1
      ? options.seed
      : ((Math.imul(options.seed >>> 0, 0x9e3779b1) ^ Math.imul(chunk + 1, 0x85ebca6b)) >>> 0) % 0x7fffffff;
  const { classifier } = await trainXgboost(
    X,
    y,
    { ...options, seed, params: { ...options.params, num_parallel_tree: sizes[chunk]! } },
    false,
  );
  const state = (classifier as XgbModel).toJSON().state as XgbState;
  return { chunk, baseScore: state.baseScore, trees: state.trees };
}

/** Joins the chunks of one fit into the model. */
export function mergeXgbParts(
  X: number[][],
  y: Label[],
  options: FitOptions<object>,
  parts: readonly XgbPart[],
): Classifier {
  const d = checkTrainingData(X, y, "XGB");
  const { classes } = encodeLabels(y);
  const sorted = [...parts].sort((a, b) => a.chunk - b.chunk);
  const sizes = xgbChunks(options.params, d);
  if (sorted.length !== sizes.length)
    throw new KeystrokeError("IO", `XGB: ${sorted.length} chunks, expected ${sizes.length}`);
  return new XgbModel(
    classes,
    { ...resolveXgbParams(options.params, d) },
    { nFeatures: d, baseScore: sorted[0]!.baseScore, trees: sorted.flatMap((p) => p.trees) },
  );
}

/** Trains XGBoost (multi:softprob) with our trainer or in wasm (tree_method), returning a pure-TS classifier. */
export async function fitXgboost(
  X: number[][],
  y: Label[],
  options: FitOptions<object>,
): Promise<Classifier> {
  const d = checkTrainingData(X, y, "XGB");
  const sizes = xgbChunks(options.params, d);
  const params = resolveXgbParams(options.params, d);
  if (params.tree_method === "hist") {
    // chunk by chunk, so that the trees come in the order a fit split over threads joins them in
    const fit = prepareHist(X, y, options);
    const total = params.rounds * fit.nClasses * params.num_parallel_tree;
    const trees: XgbTree[] = [];
    const pause = makeYielder();
    let from = 0;
    for (const size of sizes) {
      const before = trees.length;
      const grown = await growHistTrees(
        fit,
        from,
        from + size,
        (done) => options.onProgress?.({ algorithm: "XGB", phase: "trees", done: before + done, total }),
        pause,
      );
      // one by one: spreading 100,000+ trees into push() overflows the call stack
      for (const t of grown) trees.push(t);
      from += size;
    }
    return new XgbModel(fit.classes, { ...params }, { nFeatures: d, baseScore: fit.baseScore, trees });
  }
  if (sizes.length === 1) {
    const { classifier, booster } = await trainXgboost(X, y, options, false);
    booster?.free();
    return classifier;
  }
  const parts: XgbPart[] = [];
  const total = sizes.reduce((a, b) => a + b, 0);
  let done = 0;
  for (let c = 0; c < sizes.length; c++) {
    parts.push(
      await fitXgboostPart(
        X,
        y,
        { seed: options.seed, ...(options.params ? { params: options.params } : {}) },
        c,
      ),
    );
    done += sizes[c]!;
    options.onProgress?.({ algorithm: "XGB", phase: "trees", done, total });
  }
  return mergeXgbParts(X, y, options, parts);
}

/** fitXgboost that also keeps the wasm booster alive (call `free()`), so tests can check predictions agree. */
export async function fitXgboostWithBooster(
  X: number[][],
  y: Label[],
  options: FitOptions<object>,
): Promise<{ classifier: Classifier; booster: LiveBooster }> {
  const exact = { ...options, params: { ...options.params, tree_method: "exact" } };
  const { classifier, booster } = await trainXgboost(X, y, exact, true);
  return { classifier, booster: booster! };
}

/** What our trainer needs of a fit: the rows binned once, the labels as codes, the checked params. */
function prepareHist(X: number[][], y: Label[], options: FitOptions<object>): HistFit & { classes: Label[] } {
  checkTrainingData(X, y, "XGB");
  const params = resolveXgbParams(options.params, X[0]?.length);
  const { classes, codes } = encodeLabels(y);
  requireTwoClasses(classes, "XGB");
  return {
    data: binFeatures(X, toXgbValue),
    codes,
    nClasses: classes.length,
    classes,
    params,
    seed: options.seed,
    // XGBoost's default base_score, every class's starting margin
    baseScore: 0.5,
  };
}

async function trainXgboost(
  X: number[][],
  y: Label[],
  options: FitOptions<object>,
  keep: boolean,
): Promise<{ classifier: Classifier; booster?: LiveBooster }> {
  const d = checkTrainingData(X, y, "XGB");
  const params = resolveXgbParams(options.params, X[0]?.length);
  const { classes, codes } = encodeLabels(y);
  requireTwoClasses(classes, "XGB");
  const xgb = await loadXgbWasm();
  const n = X.length;
  const dataPtr = xgb.malloc(n * d * 4);
  const labelPtr = xgb.malloc(n * 4);
  let model: number;
  try {
    const heap = xgb.heapF32();
    for (let i = 0; i < n; i++) {
      const row = X[i]!;
      for (let j = 0; j < d; j++) heap[dataPtr / 4 + i * d + j] = toXgbValue(row[j]!);
      heap[labelPtr / 4 + i] = codes[i]!;
    }
    model = xgb.create(dataPtr, labelPtr, n, d);
  } finally {
    xgb.freePtr(dataPtr);
    xgb.freePtr(labelPtr);
  }
  let kept = false;
  try {
    const booster: Record<string, string> = {
      booster: "gbtree",
      objective: "multi:softprob",
      num_class: String(classes.length),
      silent: "1",
      nthread: "1",
      seed: String(options.seed >>> 0),
    };
    for (const [k, v] of Object.entries(params)) if (k !== "rounds") booster[k] = String(v);
    for (const [k, v] of Object.entries(booster)) xgb.setParam(model, k, v);
    const pause = makeYielder();
    // One round per call gives the same booster as one call for all rounds (checked in the tests) and lets us report progress.
    for (let r = 0; r < params.rounds; r++) {
      xgb.train(model, 1);
      options.onProgress?.({ algorithm: "XGB", phase: "rounds", done: r + 1, total: params.rounds });
      await pause();
    }
    const size = xgb.save(model);
    if (size < 0) throw new KeystrokeError("IO", "XGB: the wasm booster could not be saved");
    const ptr = xgb.malloc(size);
    let bytes: Uint8Array;
    try {
      xgb.fileContent(ptr, size);
      bytes = xgb.heapU8().slice(ptr, ptr + size);
    } finally {
      xgb.freePtr(ptr);
    }
    const state = parseBooster(bytes, classes.length, d);
    const classifier = new XgbModel(classes, { ...params }, state);
    if (!keep) return { classifier };
    kept = true;
    const live = model;
    return {
      classifier,
      booster: {
        predict(row) {
          const rp = xgb.malloc(d * 4);
          const out = xgb.malloc(classes.length * 4);
          try {
            const heap = xgb.heapF32();
            for (let j = 0; j < d; j++) heap[rp / 4 + j] = toXgbValue(row[j]!);
            const k = xgb.predictOne(live, rp, d, out);
            return xgb.heapF32().slice(out / 4, out / 4 + k);
          } finally {
            xgb.freePtr(rp);
            xgb.freePtr(out);
          }
        },
        free: () => xgb.free(live),
      },
    };
  } finally {
    if (!kept) xgb.free(model);
  }
}

/**
 * Reads XGBoost 0.7's binary model (Learner → GBTree → RegTree structs, little-endian) into preorder
 * trees. Deleted (pruned) nodes are dropped because only nodes reachable from the root are copied.
 */
export function parseBooster(bytes: Uint8Array, nClasses: number, nFeatures: number): XgbState {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const need = (k: number) => {
    if (at + k > bytes.length) throw new KeystrokeError("IO", "XGB: the saved booster is truncated");
  };
  const i32 = () => (need(4), (at += 4), view.getInt32(at - 4, true));
  const f32 = () => (need(4), (at += 4), view.getFloat32(at - 4, true));
  const str = () => {
    need(8);
    const len = Number(view.getBigUint64(at, true));
    at += 8;
    need(len);
    const s = new TextDecoder().decode(bytes.subarray(at, at + len));
    at += len;
    return s;
  };
  if (bytes.length >= 4 && new TextDecoder().decode(bytes.subarray(0, 4)) === "binf") at = 4;
  // LearnerModelParam: base_score, num_feature, num_class, contain_extra_attrs, contain_eval_metrics, reserved[29]
  const baseScore = f32();
  at += 4;
  const numClass = i32();
  at += 4 * 31;
  const objective = str();
  const gbm = str();
  if (gbm !== "gbtree" || objective !== "multi:softprob" || numClass !== nClasses) {
    throw new KeystrokeError("IO", `XGB: unexpected booster (${gbm}, ${objective}, ${numClass} classes)`);
  }
  // GBTreeModelParam: num_trees, num_roots, num_feature, pad, num_pbuffer (int64), num_output_group, size_leaf_vector, reserved[32]
  const numTrees = i32();
  at += 4 * 3 + 8;
  const groups = i32();
  at += 4 + 4 * 32;
  if (groups !== nClasses)
    throw new KeystrokeError("IO", `XGB: booster has ${groups} output groups, expected ${nClasses}`);
  const raw: { left: Int32Array; right: Int32Array; feature: Int32Array; value: Float32Array }[] = [];
  for (let t = 0; t < numTrees; t++) {
    // TreeParam: num_roots, num_nodes, num_deleted, max_depth, num_feature, size_leaf_vector, reserved[31]
    at += 4;
    const nodes = i32();
    at += 4 * 3;
    const leafVector = i32();
    at += 4 * 31;
    const tree = {
      left: new Int32Array(nodes),
      right: new Int32Array(nodes),
      feature: new Int32Array(nodes),
      value: new Float32Array(nodes),
    };
    for (let k = 0; k < nodes; k++) {
      // Node: parent, cleft, cright, sindex (top bit = default left), leaf value or split condition
      at += 4;
      tree.left[k] = i32();
      tree.right[k] = i32();
      need(4);
      tree.feature[k] = view.getUint32(at, true) & 0x7fffffff;
      at += 4;
      tree.value[k] = f32();
    }
    at += nodes * 16; // RTreeNodeStat: loss_chg, sum_hess, base_weight, leaf_child_cnt
    if (leafVector !== 0) {
      need(8);
      at += 8 + 4 * Number(view.getBigUint64(at, true));
    }
    raw.push(tree);
  }
  const trees: XgbTree[] = [];
  for (let t = 0; t < numTrees; t++) {
    const group = i32();
    if (group < 0 || group >= nClasses)
      throw new KeystrokeError("IO", `XGB: tree ${t} belongs to class ${group} of ${nClasses}`);
    trees.push(toPreorder(raw[t]!, group, nFeatures));
  }
  return { nFeatures, baseScore, trees };
}

function toPreorder(
  raw: { left: Int32Array; right: Int32Array; feature: Int32Array; value: Float32Array },
  group: number,
  nFeatures: number,
): XgbTree {
  const tree: XgbTree = { group, feature: [], value: [], right: [] };
  const stack: number[] = [0, -1];
  while (stack.length) {
    const parent = stack.pop()!;
    const k = stack.pop()!;
    const node = tree.feature.length;
    if (parent >= 0) tree.right[parent] = node;
    if (k < 0 || k >= raw.left.length || node > raw.left.length)
      throw new KeystrokeError("IO", "XGB: malformed tree in the saved booster");
    if (raw.left[k] === -1) {
      tree.feature.push(-1);
      tree.value.push(shortFloat32(raw.value[k]!));
      tree.right.push(0);
      continue;
    }
    if (raw.feature[k]! >= nFeatures) throw new KeystrokeError("IO", "XGB: a split uses an unknown feature");
    tree.feature.push(raw.feature[k]!);
    tree.value.push(shortFloat32(raw.value[k]!));
    tree.right.push(-1);
    stack.push(raw.right[k]!, node, raw.left[k]!, -1);
  }
  return tree;
}

/** Rebuilds an XGBoost classifier from its model file (pure TypeScript), checking its structure. */
export function loadXgboost(model: SerializedModel): Classifier {
  const raw = checkEnvelope(model, "XGB");
  const nClasses = model.classes.length;
  const nFeatures = intField(raw, "nFeatures", "state.nFeatures");
  const baseScore = raw.baseScore;
  if (typeof baseScore !== "number" || !Number.isFinite(baseScore))
    badModel("state.baseScore", "must be a finite number");
  if (!Array.isArray(raw.trees) || raw.trees.length === 0)
    badModel("state.trees", "must be a non-empty array");
  const trees = (raw.trees as unknown[]).map((t, i) =>
    checkTree(t, `state.trees[${i}]`, nFeatures, nClasses),
  );
  return new XgbModel([...model.classes], { ...model.params }, { nFeatures, baseScore, trees });
}

function checkTree(raw: unknown, field: string, nFeatures: number, nClasses: number): XgbTree {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) badModel(field, "must be an object");
  const o = raw as Record<string, unknown>;
  const group = intField(o, "group", `${field}.group`, 0);
  if (group >= nClasses) badModel(`${field}.group`, `must be below ${nClasses}`);
  const feature = numArray(o, "feature", `${field}.feature`, { min: -1, max: nFeatures - 1 });
  const value = numArray(o, "value", `${field}.value`);
  const right = numArray(o, "right", `${field}.right`, { min: 0, max: feature.length - 1 });
  const nodes = feature.length;
  if (nodes === 0 || value.length !== nodes || right.length !== nodes)
    badModel(field, "feature, value and right must be non-empty and of equal length");
  // Walking the preorder proves the arrays form one tree: every subtree ends exactly where the next starts.
  const stack = [0];
  let expect = 0;
  while (stack.length) {
    const i = stack.pop()!;
    if (i !== expect)
      badModel(`${field}.right`, `node ${i} is not where preorder puts it (expected ${expect})`);
    expect = i + 1;
    if (feature[i]! < 0) continue;
    if (right[i]! <= i + 1) badModel(`${field}.right[${i}]`, "right child must come after the left subtree");
    stack.push(right[i]!, i + 1);
  }
  if (expect !== nodes) badModel(field, `${nodes - expect} nodes are not reachable from the root`);
  return { group, feature, value, right };
}

/** A boosted model evaluated in TypeScript: per-class margins (base score + leaf values), then softmax. */
class XgbModel implements Classifier {
  readonly algorithm = "XGB" as const;
  readonly nFeatures: number;
  private readonly roots: Int32Array;
  private readonly groups: Int32Array;
  private readonly feature: Int32Array;
  /** float32 thresholds and leaf values, as XGBoost holds them. */
  private readonly value: Float64Array;
  private readonly right: Int32Array;
  private readonly scratch: Float64Array;

  constructor(
    readonly classes: readonly Label[],
    readonly params: Readonly<Record<string, unknown>>,
    private readonly state: XgbState,
  ) {
    this.nFeatures = state.nFeatures;
    const nodes = state.trees.reduce((s, t) => s + t.feature.length, 0);
    this.roots = new Int32Array(state.trees.length);
    this.groups = new Int32Array(state.trees.length);
    this.feature = new Int32Array(nodes);
    this.value = new Float64Array(nodes);
    this.right = new Int32Array(nodes);
    this.scratch = new Float64Array(state.nFeatures);
    let base = 0;
    state.trees.forEach((t, ti) => {
      this.roots[ti] = base;
      this.groups[ti] = t.group;
      for (let i = 0; i < t.feature.length; i++) {
        this.feature[base + i] = t.feature[i]!;
        this.value[base + i] = Math.fround(t.value[i]!);
        this.right[base + i] = base + t.right[i]!;
      }
      base += t.feature.length;
    });
  }

  predictProba(row: ArrayLike<number>): Float64Array {
    checkRow(row, this.nFeatures, "XGB");
    const x = this.scratch;
    // XGBoost compares float32 values, so round the row the same way once
    for (let j = 0; j < x.length; j++) x[j] = toXgbValue(row[j]!);
    const { feature, value, right, roots, groups } = this;
    const out = new Float64Array(this.classes.length).fill(Math.fround(this.state.baseScore));
    for (let t = 0; t < roots.length; t++) {
      let node = roots[t]!;
      let f = feature[node]!;
      while (f >= 0) {
        node = x[f]! < value[node]! ? node + 1 : right[node]!;
        f = feature[node]!;
      }
      out[groups[t]!]! += value[node]!;
    }
    let max = -Infinity;
    for (let c = 0; c < out.length; c++) if (out[c]! > max) max = out[c]!;
    let sum = 0;
    for (let c = 0; c < out.length; c++) sum += out[c] = Math.exp(out[c]! - max);
    for (let c = 0; c < out.length; c++) out[c]! /= sum;
    return out;
  }

  predictIndex(row: ArrayLike<number>): number {
    return argmax(this.predictProba(row));
  }

  toJSON(): SerializedModel {
    return { algorithm: "XGB", classes: [...this.classes], params: { ...this.params }, state: this.state };
  }
}
