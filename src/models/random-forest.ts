// Our random forest / extremely randomised trees (CART, Gini or entropy). ml-random-forest was measured
// unfit here (O(n²·classes) split search, early stopping, 10 MB files): see bench/train.mjs. Trees live
// in preorder, so the left child of node i is i + 1; the file stores one code per node (split feature or
// leaf class) and float32 thresholds as base64, and the loader rebuilds the right-child links itself.
import type { Label } from "../data/types.js";
import { KeystrokeError } from "../errors.js";
import { createRng, randInt, type Rng } from "../util/random.js";
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
  decodeTyped,
  encodeTyped,
  float32In,
  GrowingArray,
  roundSig,
  type TypedCtor,
} from "./tree-common.js";
import {
  augmentInto,
  augmentRow,
  augmentedWidth,
  foldImportance,
  interpolateRows,
  resolveAugment,
  type FeatureAugment,
} from "./tree-augment.js";
import type { Classifier, FitOptions, SerializedModel } from "./types.js";

/** Hyperparameters of the forest; every one has a measured default (see DEFAULT_FOREST_PARAMS). */
export interface ForestParams {
  /** Number of trees averaged. */
  nTrees: number;
  /** "best": exhaustive Gini split search (random forest); "random": one random threshold per feature (ExtraTrees). */
  splitter: "best" | "random";
  /** Features tried per split: "sqrt", "log2", "all", a count (integer ≥ 1) or a fraction in (0, 1). */
  maxFeatures: "sqrt" | "log2" | "all" | number;
  /** Draw each tree's rows with replacement; default true for "best", false for "random". */
  bootstrap: boolean;
  /** Deepest level grown; null grows until leaves are pure. */
  maxDepth: number | null;
  minSamplesSplit: number;
  minSamplesLeaf: number;
  /** Impurity a split lowers: Gini, or entropy (information gain). */
  criterion: "gini" | "entropy";
  /**
   * Synthetic training rows per real row, each between two rows of the same user (0: none; see
   * tree-augment.ts), or "auto": SYNTHETIC_AUTO.perRow when the classes have fewer than
   * SYNTHETIC_AUTO.belowRows training rows (median), else none. The fit records the number it used.
   */
  synthetic: number | "auto";
  /** Derived features added inside the model: "auto" (summary rows of 8 get theirs), "summary" or "none"; the fit records what it applied. */
  augment: "auto" | FeatureAugment;
}

/**
 * Chosen by 5-fold CV on the shared timings (bench/train.mjs and its sweep; fit seeds 1–3 to see past
 * the seed noise of ±0.01): ExtraTrees, 300 trees, √d features per split, entropy, and 4 synthetic rows
 * per row drawn between two samples of the same user: 0.85 (0.851–0.853), against 0.83 without the
 * synthetic rows (which double the nodes: 3.3 MB instead of 1.8 MB) and 0.77 for a bootstrap forest of
 * "best" splits. Gini scores 0.846 with them; 1,000 trees, 0.3·d features, several thresholds per
 * feature, signed-log or rank transforms and extra per-key features (tempo-normalised intervals,
 * ranks, HT/PPT ratios, trigraph times, random projections) all stayed within the noise or lost up to
 * 0.05. On the 8 summary numbers the derived features of tree-augment.ts lift 0.23 to 0.29. The
 * synthetic rows are "auto" since: the 4 above where users have few samples, none where they have many
 * (SYNTHETIC_AUTO).
 */
export const DEFAULT_FOREST_PARAMS: Readonly<Omit<ForestParams, "bootstrap">> = {
  nTrees: 300,
  splitter: "random",
  maxFeatures: "sqrt",
  maxDepth: null,
  minSamplesSplit: 2,
  minSamplesLeaf: 1,
  criterion: "entropy",
  synthetic: "auto",
  augment: "auto",
};

/**
 * What `synthetic: "auto"` resolves to: four interpolated rows per row when the median class has fewer
 * than 30 training rows, none from 30 on. Measured with `node bench/train-synthetic.mjs` (300 trees,
 * accuracy averaged over fit seeds 1–2, synthetic 0 → 4): 5-fold CV on ThreatFabric (~5.5 training rows
 * per user) 0.829 → 0.857 on timings and 0.254 → 0.291 on summary; trained on earlier sessions and tested
 * on later ones, generated 50 users with 10 rows each 0.962 → 0.968, 20 rows 0.954 → 0.964, 40 rows
 * 0.955 → 0.956 (0.958 with 2), 100 rows 0.963 → 0.966 at 5.6× the CPU (6.1 → 34.0 s), IIITBh small
 * (125 rows per user) 0.994 → 0.996 and IIITBh big (75 rows per user) 0.977 → 0.968: past a few dozen
 * rows per user the rows cost their time and can cost accuracy.
 */
export const SYNTHETIC_AUTO = { perRow: 4, belowRows: 30 } as const;

/** The synthetic rows per real row a fit uses: the number given, or what "auto" makes of the classes' sizes. */
export function resolveSynthetic(synthetic: number | "auto", codes: Int32Array, nClasses: number): number {
  if (synthetic !== "auto") return synthetic;
  const counts = new Int32Array(nClasses);
  for (let i = 0; i < codes.length; i++) counts[codes[i]!]!++;
  const sorted = Array.from(counts).sort((a, b) => a - b);
  const median =
    nClasses % 2 ? sorted[nClasses >> 1]! : (sorted[nClasses / 2 - 1]! + sorted[nClasses / 2]!) / 2;
  return median < SYNTHETIC_AUTO.belowRows ? SYNTHETIC_AUTO.perRow : 0;
}

/**
 * One tree in readable form (what `forestTrees` decodes, for tests and debugging): preorder nodes; a leaf has
 * feature −k with its k (class, probability) entries next in leafClass/leafProb.
 */
export interface StoredTree {
  feature: number[];
  threshold: number[];
  right: number[];
  leafClass: number[];
  leafProb: number[];
}

/** The encoding this version writes and reads; files without it (the JSON-array trees of before) are refused. */
export const FOREST_ENCODING = "rf-packed-1";

/**
 * A forest's model-file state. `codes` holds one entry per node in preorder, tree after tree: a split on
 * feature f is f; a pure leaf of class c is nFeatures + c; a mixed leaf is nFeatures + nClasses, its
 * entries next in leafSizes/leafClasses/leafProbs. Every array is base64 of little-endian values.
 */
interface PackedForest {
  encoding: typeof FOREST_ENCODING;
  /** Width of an input row. */
  nFeatures: number;
  /** Derived features appended to a row before the trees see it (tree-augment.ts). */
  augment: FeatureAugment;
  /** Impurity decrease per tree feature (inputs, then derived ones), summing to 1. */
  importance: number[];
  nTrees: number;
  nodes: number;
  /** Bytes per code: 2, or 4 when nFeatures + nClasses + 1 exceeds 65,536. */
  codeBytes: 2 | 4;
  /** Uint32 node count of every tree. */
  treeSizes: string;
  codes: string;
  /** Float32, one per split node. */
  thresholds: string;
  mixedLeaves: number;
  /** Code-width entries per mixed leaf (≥ 2), then their classes (code width) and float32 probabilities. */
  leafSizes: string;
  leafEntries: number;
  leafClasses: string;
  leafProbs: string;
}

/** Merges user params over the defaults, refusing bad values with BAD_FLAG naming the parameter. */
export function resolveForestParams(input: object = {}): ForestParams {
  const params = input as Record<string, unknown>;
  const known = new Set([
    "nTrees",
    "splitter",
    "maxFeatures",
    "bootstrap",
    "maxDepth",
    "minSamplesSplit",
    "minSamplesLeaf",
    "criterion",
    "synthetic",
    "augment",
  ]);
  for (const key of Object.keys(params)) {
    if (!known.has(key)) bad(key, `unknown RF parameter (known: ${[...known].join(", ")})`);
  }
  const p = { ...DEFAULT_FOREST_PARAMS, ...params } as Record<string, unknown>;
  const posInt = (key: string, min: number): number => {
    const v = p[key];
    if (typeof v !== "number" || !Number.isInteger(v) || v < min) bad(key, `must be an integer ≥ ${min}`);
    return v;
  };
  const splitter = p.splitter;
  if (splitter !== "best" && splitter !== "random") bad("splitter", 'must be "best" or "random"');
  const mf = p.maxFeatures;
  const mfOk =
    mf === "sqrt" ||
    mf === "log2" ||
    mf === "all" ||
    (typeof mf === "number" && ((mf > 0 && mf < 1) || (Number.isInteger(mf) && mf >= 1)));
  if (!mfOk) bad("maxFeatures", 'must be "sqrt", "log2", "all", an integer ≥ 1 or a fraction in (0, 1)');
  const bootstrap = p.bootstrap ?? splitter === "best";
  if (typeof bootstrap !== "boolean") bad("bootstrap", "must be true or false");
  const criterion = p.criterion;
  if (criterion !== "gini" && criterion !== "entropy") bad("criterion", 'must be "gini" or "entropy"');
  const augment = p.augment;
  if (augment !== "auto" && augment !== "summary" && augment !== "none")
    bad("augment", 'must be "auto", "summary" or "none"');
  const maxDepth = p.maxDepth;
  if (maxDepth !== null && (typeof maxDepth !== "number" || !Number.isInteger(maxDepth) || maxDepth < 1))
    bad("maxDepth", "must be null or an integer ≥ 1");
  return {
    nTrees: posInt("nTrees", 1),
    splitter,
    maxFeatures: mf,
    bootstrap,
    maxDepth,
    minSamplesSplit: posInt("minSamplesSplit", 2),
    minSamplesLeaf: posInt("minSamplesLeaf", 1),
    criterion,
    synthetic:
      p.synthetic === "auto"
        ? "auto"
        : typeof p.synthetic === "number" && Number.isInteger(p.synthetic) && p.synthetic >= 0
          ? p.synthetic
          : bad("synthetic", 'must be "auto" or an integer ≥ 0'),
    augment,
  };
}

function bad(key: string, message: string): never {
  throw new KeystrokeError("BAD_FLAG", `RF parameter ${key}: ${message}`, { field: `params.${key}` });
}

/** Features tried per split for d features. */
export function featuresPerSplit(maxFeatures: ForestParams["maxFeatures"], d: number): number {
  if (maxFeatures === "sqrt") return Math.max(1, Math.floor(Math.sqrt(d)));
  if (maxFeatures === "log2") return Math.max(1, Math.floor(Math.log2(d)));
  if (maxFeatures === "all") return d;
  if (maxFeatures < 1) return Math.max(1, Math.floor(maxFeatures * d));
  return Math.min(d, maxFeatures);
}

/** Working memory of one fit, reused by every tree. */
interface Builder {
  n: number;
  d: number;
  nClasses: number;
  /** Column-major features: X[f * n + i]. */
  X: Float64Array;
  y: Int32Array;
  /** For "best": rank[f * n + i] is row i's position in feature f's sorted order; order maps it back. */
  rank: Int32Array | null;
  order: Int32Array | null;
  mtry: number;
  params: ForestParams;
  samples: Int32Array;
  buf: Int32Array;
  left: Float64Array;
  total: Float64Array;
  feats: Int32Array;
  treeImportance: Float64Array;
  /** Entropy criterion: xlogx[k] = k·ln k for every possible (integer) class weight; null for Gini. */
  xlogx: Float64Array | null;
  /** The distinct classes of the current node, and a per-class stamp of the last node that listed it. */
  present: Int32Array;
  stamp: Int32Array;
  nodeId: number;
  /** The current node's labels, weights and total weight, and one feature's values, contiguous. */
  nodeY: Int32Array;
  nodeW: Float64Array;
  nodeWT: number;
  vals: Float64Array;
}

interface Split {
  feature: number;
  threshold: number;
  proxy: number;
  /** ExtraTrees: the gap [lo, hi) between the node's values, any threshold in it splits the same rows. */
  lo: number;
  hi: number;
  drawn: number;
}

function makeBuilder(
  X: readonly (readonly number[])[],
  y: Int32Array,
  nClasses: number,
  params: ForestParams,
): Builder {
  const n = X.length;
  const d = X[0]!.length;
  const Xc = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    const row = X[i]!;
    // float32 values (as scikit-learn and XGBoost use) make every gap between them hold a float32 threshold
    for (let f = 0; f < d; f++) Xc[f * n + i] = Math.fround(row[f]!);
  }
  let rank: Int32Array | null = null;
  let order: Int32Array | null = null;
  if (params.splitter === "best") {
    // Sorting each feature once lets every node sort small integer ranks natively instead of comparing floats.
    rank = new Int32Array(n * d);
    order = new Int32Array(n * d);
    const idx = Array.from({ length: n }, (_, i) => i);
    for (let f = 0; f < d; f++) {
      const off = f * n;
      idx.sort((a, b) => Xc[off + a]! - Xc[off + b]! || a - b);
      for (let r = 0; r < n; r++) {
        order[off + r] = idx[r]!;
        rank[off + idx[r]!] = r;
      }
    }
  }
  const feats = new Int32Array(d);
  for (let f = 0; f < d; f++) feats[f] = f;
  return {
    n,
    d,
    nClasses,
    X: Xc,
    y,
    rank,
    order,
    mtry: featuresPerSplit(params.maxFeatures, d),
    params,
    samples: new Int32Array(n),
    buf: new Int32Array(n),
    left: new Float64Array(nClasses),
    total: new Float64Array(nClasses),
    feats,
    treeImportance: new Float64Array(d),
    xlogx:
      params.criterion === "entropy"
        ? Float64Array.from({ length: n + 1 }, (_, k) => (k > 0 ? k * Math.log(k) : 0))
        : null,
    present: new Int32Array(nClasses),
    stamp: new Int32Array(nClasses),
    nodeId: 0,
    nodeY: new Int32Array(n),
    nodeW: new Float64Array(n),
    nodeWT: 0,
    vals: new Float64Array(n),
  };
}

/**
 * Where a part's trees go as they grow, in the model file's preorder encoding (see PackedForest): typed
 * arrays rather than JS arrays of numbers, which took about 3× the bytes per node and sent a 1,000-user
 * forest past 2.7 GB of RSS while it grew (`node bench/scale-fit.mjs`, README "Training at scale").
 */
class TreeSink {
  readonly sizes = new GrowingArray(Uint32Array);
  readonly codes = new GrowingArray(Int32Array);
  readonly thresholds = new GrowingArray(Float32Array);
  readonly leafSizes = new GrowingArray(Int32Array);
  readonly leafClasses = new GrowingArray(Int32Array);
  readonly leafProbs = new GrowingArray(Float32Array);
}

/** Grows one tree on rows weighted by w (bootstrap counts or ones) into `sink`; adds its normalised importances to `importance`. */
function growTree(b: Builder, w: Float64Array, rng: Rng, importance: Float64Array, sink: TreeSink): void {
  const { X, y, total, samples, params } = b;
  const maxDepth = params.maxDepth ?? Infinity;
  const pureBase = b.d;
  const mixedCode = b.d + b.nClasses;
  let m0 = 0;
  for (let i = 0; i < b.n; i++) if (w[i]! > 0) samples[m0++] = i;
  let nodes = 0;
  b.treeImportance.fill(0);
  // findSplit shuffles the feature list in place: start every tree from the same order, so that a tree
  // depends on its own seed only and a forest is the same however its trees are split among threads
  for (let f = 0; f < b.d; f++) b.feats[f] = f;
  // Explicit stack in preorder: the left child is pushed last so it always comes right after its parent.
  const stack: number[] = [0, m0, 0];
  while (stack.length) {
    const depth = stack.pop()!;
    const end = stack.pop()!;
    const start = stack.pop()!;
    nodes++;
    // With 110 users most nodes hold a handful of rows: touch only the classes present, never all of them.
    const stampNow = ++b.nodeId;
    let nPresent = 0;
    let wT = 0;
    let sqT = 0;
    for (let k = start; k < end; k++) {
      const i = samples[k]!;
      const c = y[i]!;
      const wi = w[i]!;
      if (b.stamp[c] !== stampNow) {
        b.stamp[c] = stampNow;
        b.present[nPresent++] = c;
        total[c] = 0;
      }
      sqT += wi * (2 * total[c]! + wi);
      total[c]! += wi;
      wT += wi;
      b.nodeY[k - start] = c;
      b.nodeW[k - start] = wi;
    }
    b.nodeWT = wT;
    const m = end - start;
    const pure = sqT >= wT * wT * (1 - 1e-12);
    // class order, so sums over classes round the same whatever order the rows came in
    const present = b.present.subarray(0, nPresent).sort();
    // sT is what the children's scores start from: Σ w_c² (Gini) or Σ w_c·ln w_c (entropy)
    let sT = sqT;
    if (b.xlogx && !pure) {
      sT = 0;
      for (let k = 0; k < nPresent; k++) sT += b.xlogx[total[present[k]!]!]!;
    }
    const split =
      pure || m < params.minSamplesSplit || m < 2 * params.minSamplesLeaf || depth >= maxDepth
        ? null
        : findSplit(b, w, start, end, wT, sT, rng);
    if (split === null) {
      let k = 0;
      for (const c of present) if (total[c]! > 0) k++;
      if (k === 1) {
        for (const c of present) if (total[c]! > 0) sink.codes.push(pureBase + c);
      } else {
        sink.codes.push(mixedCode);
        sink.leafSizes.push(k);
        for (const c of present) {
          if (total[c]! > 0) {
            sink.leafClasses.push(c);
            sink.leafProbs.push(total[c]! / wT);
          }
        }
      }
      continue;
    }
    const f = split.feature;
    const off = f * b.n;
    let lo = start;
    let hi = end - 1;
    while (lo <= hi) {
      if (X[off + samples[lo]!]! <= split.threshold) lo++;
      else {
        const t = samples[lo]!;
        samples[lo] = samples[hi]!;
        samples[hi--] = t;
      }
    }
    b.treeImportance[f]! += split.proxy - (b.xlogx ? sT - b.xlogx[wT]! : sT / wT);
    sink.codes.push(f);
    sink.thresholds.push(split.threshold);
    stack.push(lo, end, depth + 1, start, lo, depth + 1);
  }
  let sum = 0;
  for (let f = 0; f < b.d; f++) sum += b.treeImportance[f]!;
  if (sum > 0) for (let f = 0; f < b.d; f++) importance[f]! += b.treeImportance[f]! / sum;
  sink.sizes.push(nodes);
}

/**
 * Best split of rows [start, end) among `mtry` randomly drawn non-constant features. The score is
 * Σ_side (Σ_c w_c²) / w_side for Gini and Σ_side (Σ_c w_c ln w_c − w_side ln w_side) for entropy: each
 * ranks splits exactly as the weighted impurity decrease does. Weights are integers (bootstrap counts).
 */
function findSplit(
  b: Builder,
  w: Float64Array,
  start: number,
  end: number,
  wT: number,
  sqT: number,
  rng: Rng,
): Split | null {
  const { d, feats, mtry } = b;
  const best: Split = { feature: -1, threshold: 0, proxy: -Infinity, lo: 0, hi: 0, drawn: 0 };
  let visited = 0;
  for (let j = 0; j < d && visited < mtry; j++) {
    const r = j + randInt(rng, d - j);
    const f = feats[r]!;
    feats[r] = feats[j]!;
    feats[j] = f;
    const constant =
      b.params.splitter === "best"
        ? bestOnFeature(b, w, f, start, end, wT, sqT, best)
        : randomOnFeature(b, f, start, end, sqT, rng, best);
    if (!constant) visited++;
  }
  if (best.feature < 0) return null;
  if (b.params.splitter === "random") best.threshold = float32In(best.lo, best.hi, best.drawn);
  return best;
}

/** Exhaustive search on one feature; returns true when the feature is constant in the node. */
function bestOnFeature(
  b: Builder,
  w: Float64Array,
  f: number,
  start: number,
  end: number,
  wT: number,
  sqT: number,
  best: Split,
): boolean {
  const { X, y, n, samples, left, total } = b;
  const rank = b.rank!;
  const order = b.order!;
  const off = f * n;
  const m = end - start;
  const sorted = b.buf.subarray(0, m);
  for (let k = 0; k < m; k++) sorted[k] = rank[off + samples[start + k]!]!;
  sorted.sort();
  if (X[off + order[off + sorted[m - 1]!]!]! <= X[off + order[off + sorted[0]!]!]!) return true;
  const minLeaf = b.params.minSamplesLeaf;
  const xlogx = b.xlogx;
  let wL = 0;
  let sqL = 0;
  let sqR = sqT;
  let next = order[off + sorted[0]!]!;
  for (let k = 0; k < m - 1; k++) {
    const i = next;
    next = order[off + sorted[k + 1]!]!;
    const c = y[i]!;
    const wi = w[i]!;
    const lc = left[c]!;
    if (xlogx) {
      const rc = total[c]! - lc;
      sqL += xlogx[lc + wi]! - xlogx[lc]!;
      sqR += xlogx[rc - wi]! - xlogx[rc]!;
    } else {
      sqL += wi * (2 * lc + wi);
      sqR -= wi * (2 * (total[c]! - lc) - wi);
    }
    left[c] = lc + wi;
    wL += wi;
    const v = X[off + i]!;
    const vn = X[off + next]!;
    if (vn <= v || k + 1 < minLeaf || m - k - 1 < minLeaf) continue;
    const proxy = xlogx ? sqL - xlogx[wL]! + sqR - xlogx[wT - wL]! : sqL / wL + sqR / (wT - wL);
    if (proxy > best.proxy) {
      // near the midpoint, as scikit-learn, stored as a float32 inside the gap
      best.feature = f;
      best.threshold = float32In(v, vn, v / 2 + vn / 2);
      best.proxy = proxy;
    }
  }
  // leave `left` all zero for the next call (cheaper than clearing every class)
  for (let k = 0; k < m - 1; k++) left[y[order[off + sorted[k]!]!]!] = 0;
  return false;
}

/** One uniform threshold between the node's min and max of the feature; returns true when constant. */
function randomOnFeature(
  b: Builder,
  f: number,
  start: number,
  end: number,
  sqT: number,
  rng: Rng,
  best: Split,
): boolean {
  const { X, n, samples, left, total, nodeY, nodeW, vals } = b;
  const off = f * n;
  const m = end - start;
  // gather the node's values once: the passes below then read contiguous memory
  let min = Infinity;
  let max = -Infinity;
  for (let k = 0; k < m; k++) {
    const v = X[off + samples[start + k]!]!;
    vals[k] = v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (max <= min) return true;
  let t = min + rng() * (max - min);
  if (t >= max) t = min;
  const xlogx = b.xlogx;
  let wL = 0;
  let sqL = 0;
  let sqR = sqT;
  let nL = 0;
  let lo = -Infinity;
  let hi = Infinity;
  for (let k = 0; k < m; k++) {
    const v = vals[k]!;
    if (v <= t) {
      const c = nodeY[k]!;
      const wi = nodeW[k]!;
      const lc = left[c]!;
      if (xlogx) {
        const rc = total[c]! - lc;
        sqL += xlogx[lc + wi]! - xlogx[lc]!;
        sqR += xlogx[rc - wi]! - xlogx[rc]!;
      } else {
        sqL += wi * (2 * lc + wi);
        sqR -= wi * (2 * (total[c]! - lc) - wi);
      }
      left[c] = lc + wi;
      wL += wi;
      nL++;
      if (v > lo) lo = v;
    } else if (v < hi) hi = v;
  }
  for (let k = 0; k < m; k++) if (vals[k]! <= t) left[nodeY[k]!] = 0;
  const wT = b.nodeWT;
  const minLeaf = b.params.minSamplesLeaf;
  if (nL < minLeaf || m - nL < minLeaf) return false;
  const proxy = xlogx ? sqL - xlogx[wL]! + sqR - xlogx[wT - wL]! : sqL / wL + sqR / (wT - wL);
  if (proxy > best.proxy) {
    best.feature = f;
    best.drawn = t;
    best.lo = lo;
    best.hi = hi;
    best.proxy = proxy;
  }
  return false;
}

/**
 * Trees [from, to) of a forest, grown on their own: tree t draws from its own stream (seed, t), so a
 * forest grown in parts on several threads is the same forest, tree for tree, whatever the split.
 */
export interface ForestPart {
  from: number;
  /** The part's trees, tree after tree, in the model file's encoding (see PackedForest). */
  trees: ForestArrays;
  /** Per-feature sums of the trees' normalised impurity decreases (not yet normalised over the forest). */
  importance: Float64Array;
}

/**
 * Trees in the model file's encoding, decoded: per tree its node count; per node in preorder a code (a
 * split's feature f; nFeatures + c for a pure leaf of class c; nFeatures + nClasses for a mixed leaf);
 * per split a float32 threshold; per mixed leaf its entry count, then the entries' classes and probabilities.
 */
export interface ForestArrays {
  sizes: Uint32Array;
  codes: Int32Array | Uint16Array | Uint32Array;
  thresholds: Float32Array;
  leafSizes: Int32Array | Uint16Array | Uint32Array;
  leafClasses: Int32Array | Uint16Array | Uint32Array;
  leafProbs: Float32Array;
}

/** The ArrayBuffers of a forest part, to hand it to another thread without copying. */
export function forestPartBuffers(part: ForestPart): ArrayBuffer[] {
  const t = part.trees;
  const views = [t.sizes, t.codes, t.thresholds, t.leafSizes, t.leafClasses, t.leafProbs, part.importance];
  return [...new Set(views.map((v) => v.buffer as ArrayBuffer))];
}

/** What a forest fit needs before growing trees: checked params, augmentation, labels and the builder. */
function prepareForest(X: number[][], y: Label[], options: FitOptions<object>) {
  const nInputs = checkTrainingData(X, y, "RF");
  const params = resolveForestParams(options.params);
  const augment = resolveAugment(params.augment, nInputs);
  if (augment === undefined)
    bad("augment", `"${params.augment}" does not apply to rows of ${nInputs} features`);
  params.augment = augment;
  const { classes, codes } = encodeLabels(y);
  requireTwoClasses(classes, "RF");
  params.synthetic = resolveSynthetic(params.synthetic, codes, classes.length);
  const wide = augment === "none" ? X : X.map((row) => augmentRow(augment, row));
  // its own stream, so the trees draw the same numbers whatever the augmentation drew
  const aug =
    params.synthetic > 0
      ? interpolateRows(wide, codes, params.synthetic, createRng((options.seed ^ 0x5eed) >>> 0))
      : { X: wide, codes };
  return { nInputs, params, augment, classes, aug };
}

/** The seed of tree t's own random stream. */
function treeSeed(seed: number, t: number): number {
  return (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(t + 1, 0x85ebca6b)) >>> 0;
}

/** Grows trees [from, to) of the forest `options` describes (for fitting on several threads). */
export async function fitForestPart(
  X: number[][],
  y: Label[],
  options: FitOptions<object>,
  from: number,
  to: number,
): Promise<ForestPart> {
  const { params, augment, nInputs, classes, aug } = prepareForest(X, y, options);
  const d = augmentedWidth(augment, nInputs);
  const b = makeBuilder(aug.X, aug.codes, classes.length, params);
  const w = new Float64Array(b.n);
  const importance = new Float64Array(d);
  const sink = new TreeSink();
  const pause = makeYielder();
  const end = Math.min(to, params.nTrees);
  for (let t = from; t < end; t++) {
    const rng = createRng(treeSeed(options.seed, t));
    if (params.bootstrap) {
      w.fill(0);
      for (let i = 0; i < b.n; i++) w[randInt(rng, b.n)]!++;
    } else w.fill(1);
    growTree(b, w, rng, importance, sink);
    options.onProgress?.({ algorithm: "RF", phase: "trees", done: t + 1 - from, total: end - from });
    await pause();
  }
  const trees: ForestArrays = {
    sizes: sink.sizes.take(),
    codes: sink.codes.take(),
    thresholds: sink.thresholds.take(),
    leafSizes: sink.leafSizes.take(),
    leafClasses: sink.leafClasses.take(),
    leafProbs: sink.leafProbs.take(),
  };
  return { from, trees, importance };
}

/** Joins the parts of one forest (any split of its trees) into the fitted forest. */
export function mergeForestParts(
  X: number[][],
  y: Label[],
  options: FitOptions<object>,
  parts: readonly ForestPart[],
): Classifier {
  const nInputs = checkTrainingData(X, y, "RF");
  const params = resolveForestParams(options.params);
  const augment = resolveAugment(params.augment, nInputs)!;
  params.augment = augment;
  const { classes, codes } = encodeLabels(y);
  params.synthetic = resolveSynthetic(params.synthetic, codes, classes.length);
  const d = augmentedWidth(augment, nInputs);
  const sorted = [...parts].sort((a, b) => a.from - b.from);
  const nTrees = sorted.reduce((n, p) => n + p.trees.sizes.length, 0);
  if (nTrees !== params.nTrees)
    throw new KeystrokeError("IO", `RF: the parts hold ${nTrees} trees, expected ${params.nTrees}`);
  const importance = new Float64Array(d);
  // summed in tree order, so the result does not depend on how the trees were split
  for (const p of sorted) for (let f = 0; f < d; f++) importance[f]! += p.importance[f]!;
  let sum = 0;
  for (let f = 0; f < d; f++) sum += importance[f]!;
  const imp = Array.from(importance, (v) => roundSig(sum > 0 ? v / sum : 1 / d));
  const join = <T extends Int32Array | Uint32Array | Float32Array>(
    Ctor: { new (length: number): T },
    key: keyof ForestArrays,
  ): T =>
    concatTyped(
      Ctor,
      sorted.map((p) => p.trees[key]),
    );
  const joined: ForestArrays = {
    sizes: join(Uint32Array, "sizes"),
    codes: join(Int32Array, "codes"),
    thresholds: join(Float32Array, "thresholds"),
    leafSizes: join(Int32Array, "leafSizes"),
    leafClasses: join(Int32Array, "leafClasses"),
    leafProbs: join(Float32Array, "leafProbs"),
  };

  const walk = buildWalk(joined, augment, d, classes.length);
  return new Forest(classes, { ...params }, { nInputs, importance: imp }, walk);
}

/** The arrays one after another in one array of type Ctor. */
function concatTyped<T extends Int32Array | Uint32Array | Float32Array>(
  Ctor: { new (length: number): T },
  arrays: ArrayLike<number>[],
): T {
  const out = new Ctor(arrays.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of arrays) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}

/** Trains a random forest (splitter "best") or ExtraTrees (splitter "random", the default) with a seed. */
export async function fitRandomForest(
  X: number[][],
  y: Label[],
  options: FitOptions<object>,
): Promise<Classifier> {
  const nTrees = resolveForestParams(options.params).nTrees;
  const part = await fitForestPart(X, y, options, 0, nTrees);
  return mergeForestParts(X, y, options, [part]);
}

/** The model-file state of a walkable forest (the inverse of unpackForest). */
function packWalk(walk: Walkable, header: ForestHeader, nClasses: number): PackedForest {
  const { augment, roots, thr, meta, leafClass, leafProb } = walk;
  const nFeatures = augmentedWidth(augment, header.nInputs);
  const codeBytes = nFeatures + nClasses + 1 <= 0x10000 ? 2 : 4;
  const Codes = codeBytes === 2 ? Uint16Array : Uint32Array;
  const nodes = thr.length / 3;
  let splits = 0;
  let mixed = 0;
  for (let i = 0; i < nodes; i++) {
    const f = meta[3 * i + 1]!;
    if (f >= 0) splits++;
    else if (f < -nClasses) mixed++;
  }
  const sizes = new Uint32Array(roots.length);
  for (let t = 0; t < roots.length; t++)
    sizes[t] = ((t + 1 < roots.length ? roots[t + 1]! : 3 * nodes) - roots[t]!) / 3;
  const codes = new Codes(nodes);
  const thresholds = new Float32Array(splits);
  const leafSizes = new Codes(mixed);
  let split = 0;
  let leaf = 0;
  for (let i = 0; i < nodes; i++) {
    const f = meta[3 * i + 1]!;
    if (f >= 0) {
      codes[i] = f;
      thresholds[split++] = thr[3 * i]!;
    } else if (f >= -nClasses) codes[i] = nFeatures + (-f - 1);
    else {
      codes[i] = nFeatures + nClasses;
      leafSizes[leaf++] = -f - nClasses;
    }
  }
  return {
    encoding: FOREST_ENCODING,
    nFeatures: header.nInputs,
    augment,
    importance: header.importance,
    nTrees: roots.length,
    nodes,
    codeBytes,
    treeSizes: encodeTyped(sizes),
    codes: encodeTyped(codes),
    thresholds: encodeTyped(thresholds),
    mixedLeaves: mixed,
    leafSizes: encodeTyped(leafSizes),
    leafEntries: leafClass.length,
    leafClasses: encodeTyped(Codes.from(leafClass)),
    leafProbs: encodeTyped(leafProb),
  };
}

/** What a forest's file says besides its trees. */
interface ForestHeader {
  /** Width of an input row. */
  nInputs: number;
  /** Impurity decrease per tree feature (inputs, then derived ones), summing to 1. */
  importance: number[];
}

/**
 * The forest ready to walk. Per node, in one buffer of 3 × 4 bytes so a node is one cache access:
 * [threshold (float32), feature (int32), right child (int32, already ×3)]. A leaf's feature is −(c + 1)
 * for a pure leaf of class c, or −(nClasses + k) for a mixed leaf whose k entries start at `right`.
 */
interface Walkable {
  augment: FeatureAugment;
  roots: Int32Array;
  thr: Float32Array;
  meta: Int32Array;
  leafClass: Int32Array;
  leafProb: Float32Array;
}

/** Decodes and checks the packed state in one pass per array (BAD_MODEL_FILE naming the field otherwise). */
function unpackForest(raw: Record<string, unknown>, nClasses: number): Walkable {
  const nInputs = intField(raw, "nFeatures", "state.nFeatures");
  const augment = resolveAugment(raw.augment, nInputs);
  if (augment === undefined || raw.augment === "auto")
    badModel("state.augment", `must be "none", or "summary" for rows of 8 features`);
  const nFeatures = augmentedWidth(augment, nInputs);
  const importance = numArray(raw, "importance", "state.importance");
  if (importance.length !== nFeatures) badModel("state.importance", `must have ${nFeatures} entries`);
  const nTrees = intField(raw, "nTrees", "state.nTrees");
  const nodes = intField(raw, "nodes", "state.nodes");
  const mixed = intField(raw, "mixedLeaves", "state.mixedLeaves", 0);
  const entries = intField(raw, "leafEntries", "state.leafEntries", 0);
  const codeBytes = raw.codeBytes;
  if (codeBytes !== 2 && codeBytes !== 4) badModel("state.codeBytes", "must be 2 or 4");
  if (codeBytes === 2 && nFeatures + nClasses + 1 > 0x10000)
    badModel("state.codeBytes", "2-byte codes cannot name this many features and classes");
  const Codes = (codeBytes === 2 ? Uint16Array : Uint32Array) as unknown as TypedCtor<
    Uint16Array | Uint32Array
  >;
  const codes = decodeTyped(raw, "codes", "state.codes", Codes, nodes);
  let splits = 0;
  for (let i = 0; i < nodes; i++) if (codes[i]! < nFeatures) splits++;
  const arrays: ForestArrays = {
    sizes: decodeTyped(raw, "treeSizes", "state.treeSizes", Uint32Array, nTrees),
    codes,
    thresholds: decodeTyped(raw, "thresholds", "state.thresholds", Float32Array, splits),
    leafSizes: decodeTyped(raw, "leafSizes", "state.leafSizes", Codes, mixed),
    leafClasses: decodeTyped(raw, "leafClasses", "state.leafClasses", Codes, entries),
    leafProbs: decodeTyped(raw, "leafProbs", "state.leafProbs", Float32Array, entries),
  };
  return buildWalk(arrays, augment, nFeatures, nClasses);
}

/**
 * Checks trees in the file's encoding (BAD_MODEL_FILE naming the state field otherwise) and lays them
 * out for walking: one pass per array, the right-child links rebuilt from the preorder.
 */
function buildWalk(
  arrays: ForestArrays,
  augment: FeatureAugment,
  nFeatures: number,
  nClasses: number,
): Walkable {
  const { sizes, codes, thresholds, leafSizes, leafClasses, leafProbs } = arrays;
  const nTrees = sizes.length;
  const nodes = codes.length;
  const mixed = leafSizes.length;
  const entries = leafClasses.length;
  let splits = 0;
  for (let i = 0; i < nodes; i++) {
    const c = codes[i]!;
    if (c < nFeatures) splits++;
    else if (c > nFeatures + nClasses)
      badModel(`state.codes[${i}]`, `names neither a feature (< ${nFeatures}) nor a class`);
  }
  if (thresholds.length !== splits)
    badModel("state.thresholds", `must hold one threshold per split (${splits})`);
  for (let i = 0; i < splits; i++)
    if (!Number.isFinite(thresholds[i]!)) badModel(`state.thresholds[${i}]`, "must be finite");
  let sizeSum = 0;
  for (let k = 0; k < mixed; k++) {
    if (leafSizes[k]! < 2) badModel(`state.leafSizes[${k}]`, "a mixed leaf has at least 2 entries");
    sizeSum += leafSizes[k]!;
  }
  if (sizeSum !== entries)
    badModel("state.leafSizes", `name ${sizeSum} entries but leafEntries is ${entries}`);
  for (let e = 0; e < entries; e++) {
    if (leafClasses[e]! >= nClasses)
      badModel(`state.leafClasses[${e}]`, `must be a class index < ${nClasses}`);
    const p = leafProbs[e]!;
    if (!(p >= 0 && p <= 1)) badModel(`state.leafProbs[${e}]`, "probabilities must lie in [0, 1]");
  }
  const buf = new ArrayBuffer(nodes * 12);
  const thr = new Float32Array(buf);
  const meta = new Int32Array(buf);
  const roots = new Int32Array(nTrees);
  // Right children from subtree sizes, walking each tree backwards: a leaf is a subtree of 1; a split's
  // left subtree is the one that starts right after it. Any malformed preorder leaves the stack wrong.
  const stack = new Int32Array(nodes + 1);
  let base = 0;
  let split = 0;
  let mixedSeen = 0;
  const splitIndex = new Int32Array(nTrees);
  let entryAt = 0;
  for (let t = 0; t < nTrees; t++) {
    const size = sizes[t]!;
    if (size === 0 || base + size > nodes)
      badModel(`state.treeSizes[${t}]`, "trees must be non-empty and fit in state.nodes");
    let sp = 0;
    for (let i = base + size - 1; i >= base; i--) {
      const c = codes[i]!;
      if (c < nFeatures) {
        if (sp < 2) badModel(`state.codes[${i}]`, "a split needs two subtrees after it (malformed preorder)");
        const l = stack[--sp]!;
        const r = stack[--sp]!;
        meta[3 * i + 1] = c;
        meta[3 * i + 2] = 3 * (i + 1 + l);
        stack[sp++] = 1 + l + r;
      } else {
        meta[3 * i + 1] = c < nFeatures + nClasses ? -(c - nFeatures + 1) : 0;
        stack[sp++] = 1;
      }
    }
    if (sp !== 1 || stack[0] !== size)
      badModel(`state.treeSizes[${t}]`, "the codes do not form exactly one tree of this size");
    roots[t] = 3 * base;
    splitIndex[t] = split;
    // thresholds and mixed leaves are stored in preorder, so fill them forwards
    for (let i = base; i < base + size; i++) {
      const c = codes[i]!;
      if (c < nFeatures) thr[3 * i] = thresholds[split++]!;
      else if (c === nFeatures + nClasses) {
        const k = leafSizes[mixedSeen++]!;
        meta[3 * i + 1] = -(nClasses + k);
        meta[3 * i + 2] = entryAt;
        entryAt += k;
      }
    }
    base += size;
  }
  if (base !== nodes) badModel("state.treeSizes", `trees hold ${base} nodes but state.nodes is ${nodes}`);
  if (mixedSeen !== mixed)
    badModel("state.mixedLeaves", `codes name ${mixedSeen} mixed leaves, not ${mixed}`);
  const leafClass = leafClasses instanceof Int32Array ? leafClasses : Int32Array.from(leafClasses);
  return { augment, roots, thr, meta, leafClass, leafProb: leafProbs };
}

/** Rebuilds a forest from its model file, checking its structure (BAD_MODEL_FILE otherwise). */
export function loadRandomForest(model: SerializedModel): Classifier {
  const raw = checkEnvelope(model, "RF");
  if (raw.encoding !== FOREST_ENCODING) {
    badModel(
      "state.encoding",
      `this RF model file is in an older format (expected "${FOREST_ENCODING}"): train the model again`,
    );
  }
  const walk = unpackForest(raw, model.classes.length);
  const header = { nInputs: raw.nFeatures as number, importance: raw.importance as number[] };
  return new Forest([...model.classes], { ...model.params }, header, walk);
}

/** The trees of an RF model file in readable form (for tests, reports and debugging). */
export function forestTrees(model: SerializedModel): StoredTree[] {
  const raw = checkEnvelope(model, "RF");
  const nClasses = model.classes.length;
  const { roots, thr, meta, leafClass, leafProb } = unpackForest(raw, nClasses);
  const nodes = thr.length;
  return Array.from(roots, (root, t) => {
    const end = t + 1 < roots.length ? roots[t + 1]! : nodes;
    const tree: StoredTree = { feature: [], threshold: [], right: [], leafClass: [], leafProb: [] };
    for (let i = root; i < end; i += 3) {
      const f = meta[i + 1]!;
      if (f >= 0) {
        tree.feature.push(f);
        tree.threshold.push(thr[i]!);
        tree.right.push((meta[i + 2]! - root) / 3);
      } else if (f >= -nClasses) {
        tree.feature.push(-1);
        tree.threshold.push(0);
        tree.right.push(0);
        tree.leafClass.push(-f - 1);
        tree.leafProb.push(1);
      } else {
        const k = -f - nClasses;
        tree.feature.push(-k);
        tree.threshold.push(0);
        tree.right.push(0);
        for (let e = meta[i + 2]!; e < meta[i + 2]! + k; e++) {
          tree.leafClass.push(leafClass[e]!);
          tree.leafProb.push(leafProb[e]!);
        }
      }
    }
    return tree;
  });
}

/** A fitted forest: every tree in one interleaved node buffer for a tight prediction loop. */
class Forest implements Classifier {
  readonly algorithm = "RF" as const;
  readonly nFeatures: number;

  constructor(
    readonly classes: readonly Label[],
    readonly params: Readonly<Record<string, unknown>>,
    private readonly header: ForestHeader,
    private readonly walk: Walkable,
  ) {
    this.nFeatures = header.nInputs;
    this.wide = new Float64Array(augmentedWidth(walk.augment, header.nInputs));
    this.leaves = new Int32Array(walk.roots.length);
  }

  /** The augmented row of the current prediction (reused: predictions are synchronous). */
  private readonly wide: Float64Array;
  /** The leaf each tree reached in the current prediction (reused likewise). */
  private readonly leaves: Int32Array;

  predictProba(input: ArrayLike<number>): Float64Array {
    checkRow(input, this.nFeatures, "RF");
    const { augment, roots, thr, meta, leafClass, leafProb } = this.walk;
    // always the reused Float64Array (also without augmentation): one element kind in the hot loop
    const row = augmentInto(augment, input, this.wide);
    const nClasses = this.classes.length;
    const leaves = this.leaves;
    const nTrees = roots.length;
    // Each step down a tree is a load that misses the cache when the forest is larger than it (a served
    // forest is megabytes): four trees walked side by side keep four independent loads in flight instead of
    // one. The leaves are summed afterwards in tree order, so the answer is the same bit for bit.
    let t = 0;
    for (; t + 3 < nTrees; t += 4) {
      let i0 = roots[t]!;
      let i1 = roots[t + 1]!;
      let i2 = roots[t + 2]!;
      let i3 = roots[t + 3]!;
      let f0 = meta[i0 + 1]!;
      let f1 = meta[i1 + 1]!;
      let f2 = meta[i2 + 1]!;
      let f3 = meta[i3 + 1]!;
      // a split has feature ≥ 0, a leaf < 0: the AND is ≥ 0 while any of the four is still at a split
      while ((f0 & f1 & f2 & f3) >= 0) {
        if (f0 >= 0) {
          i0 = row[f0]! <= thr[i0]! ? i0 + 3 : meta[i0 + 2]!;
          f0 = meta[i0 + 1]!;
        }
        if (f1 >= 0) {
          i1 = row[f1]! <= thr[i1]! ? i1 + 3 : meta[i1 + 2]!;
          f1 = meta[i1 + 1]!;
        }
        if (f2 >= 0) {
          i2 = row[f2]! <= thr[i2]! ? i2 + 3 : meta[i2 + 2]!;
          f2 = meta[i2 + 1]!;
        }
        if (f3 >= 0) {
          i3 = row[f3]! <= thr[i3]! ? i3 + 3 : meta[i3 + 2]!;
          f3 = meta[i3 + 1]!;
        }
      }
      leaves[t] = i0;
      leaves[t + 1] = i1;
      leaves[t + 2] = i2;
      leaves[t + 3] = i3;
    }
    for (; t < nTrees; t++) {
      let i = roots[t]!;
      let f = meta[i + 1]!;
      while (f >= 0) {
        i = row[f]! <= thr[i]! ? i + 3 : meta[i + 2]!;
        f = meta[i + 1]!;
      }
      leaves[t] = i;
    }
    const out = new Float64Array(nClasses);
    let sum = 0;
    for (let t = 0; t < nTrees; t++) {
      const i = leaves[t]!;
      const f = meta[i + 1]!;
      if (f >= -nClasses) {
        out[-f - 1]!++;
        sum++;
      } else {
        for (let e = meta[i + 2]!, end = e - f - nClasses; e < end; e++) {
          out[leafClass[e]!]! += leafProb[e]!;
          sum += leafProb[e]!;
        }
      }
    }
    if (sum > 0) for (let c = 0; c < nClasses; c++) out[c]! /= sum;
    else out.fill(1 / nClasses);
    return out;
  }

  predictIndex(row: ArrayLike<number>): number {
    return argmax(this.predictProba(row));
  }

  featureImportance(): Float64Array {
    return foldImportance(this.walk.augment, this.header.importance, this.nFeatures);
  }

  toJSON(): SerializedModel {
    const state = packWalk(this.walk, this.header, this.classes.length);
    return { algorithm: "RF", classes: [...this.classes], params: { ...this.params }, state };
  }
}
