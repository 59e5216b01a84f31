// Our random forest / extremely randomised trees (CART, Gini). ml-random-forest was measured unfit here
// (O(n²·classes) split search, early stopping, 10 MB files): see bench/train.mjs. Trees live in flat
// arrays in preorder, so the left child of node i is i + 1 and only the right child is stored.
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
  roundSig,
  shortIn,
} from "./tree-common.js";
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
}

/**
 * Chosen by 5-fold CV on the shared timings (bench/train.mjs and its sweep): ExtraTrees, 300 trees, √d
 * features per split: 0.83–0.86 depending on the fold shuffle (scikit-learn's ExtraTrees(500) scores
 * the same on the same protocol), against 0.77 for a bootstrap forest of "best" splits. 500 trees or
 * 0.3·d features moved accuracy by less than the fold-to-fold noise and cost file size and time.
 */
export const DEFAULT_FOREST_PARAMS: Readonly<Omit<ForestParams, "bootstrap">> = {
  nTrees: 300,
  splitter: "random",
  maxFeatures: "sqrt",
  maxDepth: null,
  minSamplesSplit: 2,
  minSamplesLeaf: 1,
};

/** One tree as stored: preorder nodes; a leaf has feature −k with its k (class, probability) entries next in leafClass/leafProb. */
export interface StoredTree {
  feature: number[];
  threshold: number[];
  right: number[];
  leafClass: number[];
  leafProb: number[];
}

interface ForestState {
  nFeatures: number;
  importance: number[];
  trees: StoredTree[];
}

/** Merges user params over the defaults, refusing bad values with BAD_FLAG naming the parameter. */
export function resolveForestParams(params: Record<string, unknown> = {}): ForestParams {
  const known = new Set(["nTrees", "splitter", "maxFeatures", "bootstrap", "maxDepth", "minSamplesSplit", "minSamplesLeaf"]);
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
  const mfOk = mf === "sqrt" || mf === "log2" || mf === "all" || (typeof mf === "number" && ((mf > 0 && mf < 1) || (Number.isInteger(mf) && mf >= 1)));
  if (!mfOk) bad("maxFeatures", 'must be "sqrt", "log2", "all", an integer ≥ 1 or a fraction in (0, 1)');
  const bootstrap = p.bootstrap ?? splitter === "best";
  if (typeof bootstrap !== "boolean") bad("bootstrap", "must be true or false");
  const maxDepth = p.maxDepth;
  if (maxDepth !== null && (typeof maxDepth !== "number" || !Number.isInteger(maxDepth) || maxDepth < 1)) bad("maxDepth", "must be null or an integer ≥ 1");
  return {
    nTrees: posInt("nTrees", 1),
    splitter,
    maxFeatures: mf as ForestParams["maxFeatures"],
    bootstrap,
    maxDepth: maxDepth as number | null,
    minSamplesSplit: posInt("minSamplesSplit", 2),
    minSamplesLeaf: posInt("minSamplesLeaf", 1),
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

function makeBuilder(X: readonly (readonly number[])[], y: Int32Array, nClasses: number, params: ForestParams): Builder {
  const n = X.length;
  const d = X[0]!.length;
  const Xc = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    const row = X[i]!;
    for (let f = 0; f < d; f++) Xc[f * n + i] = row[f]!;
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
  };
}

/** Grows one tree on rows weighted by w (bootstrap counts or ones); adds its normalised importances to `importance`. */
function growTree(b: Builder, w: Float64Array, rng: Rng, importance: Float64Array): StoredTree {
  const { X, y, total, samples, params } = b;
  const maxDepth = params.maxDepth ?? Infinity;
  let m0 = 0;
  for (let i = 0; i < b.n; i++) if (w[i]! > 0) samples[m0++] = i;
  const tree: StoredTree = { feature: [], threshold: [], right: [], leafClass: [], leafProb: [] };
  b.treeImportance.fill(0);
  // Explicit stack in preorder: the left child is pushed last so it always gets index parent + 1.
  const stack: number[] = [0, m0, 0, -1];
  while (stack.length) {
    const parent = stack.pop()!;
    const depth = stack.pop()!;
    const end = stack.pop()!;
    const start = stack.pop()!;
    const node = tree.feature.length;
    if (parent >= 0) tree.right[parent] = node;
    total.fill(0);
    let wT = 0;
    let sqT = 0;
    for (let k = start; k < end; k++) {
      const i = samples[k]!;
      const c = y[i]!;
      const wi = w[i]!;
      sqT += wi * (2 * total[c]! + wi);
      total[c] += wi;
      wT += wi;
    }
    const m = end - start;
    const pure = sqT >= wT * wT * (1 - 1e-12);
    const split = pure || m < params.minSamplesSplit || m < 2 * params.minSamplesLeaf || depth >= maxDepth ? null : findSplit(b, w, start, end, wT, sqT, rng);
    if (split === null) {
      let k = 0;
      for (let c = 0; c < b.nClasses; c++) {
        if (total[c]! > 0) {
          tree.leafClass.push(c);
          tree.leafProb.push(roundSig(total[c]! / wT));
          k++;
        }
      }
      tree.feature.push(-k);
      tree.threshold.push(0);
      tree.right.push(0);
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
    b.treeImportance[f] += split.proxy - sqT / wT;
    tree.feature.push(f);
    tree.threshold.push(split.threshold);
    tree.right.push(-1);
    stack.push(lo, end, depth + 1, node, start, lo, depth + 1, -1);
  }
  let sum = 0;
  for (let f = 0; f < b.d; f++) sum += b.treeImportance[f]!;
  if (sum > 0) for (let f = 0; f < b.d; f++) importance[f] += b.treeImportance[f]! / sum;
  return tree;
}

/**
 * Best split of rows [start, end) among `mtry` randomly drawn non-constant features. The score is
 * Σ_side (Σ_c w_c²) / w_side, which ranks splits exactly as the weighted Gini decrease does.
 */
function findSplit(b: Builder, w: Float64Array, start: number, end: number, wT: number, sqT: number, rng: Rng): Split | null {
  const { d, feats, mtry } = b;
  const best: Split = { feature: -1, threshold: 0, proxy: -Infinity, lo: 0, hi: 0, drawn: 0 };
  let visited = 0;
  for (let j = 0; j < d && visited < mtry; j++) {
    const r = j + randInt(rng, d - j);
    const f = feats[r]!;
    feats[r] = feats[j]!;
    feats[j] = f;
    const constant = b.params.splitter === "best" ? bestOnFeature(b, w, f, start, end, wT, sqT, best) : randomOnFeature(b, w, f, start, end, wT, sqT, rng, best);
    if (!constant) visited++;
  }
  if (best.feature < 0) return null;
  if (b.params.splitter === "random") best.threshold = shortIn(best.lo, best.hi, best.drawn);
  return best;
}

/** Exhaustive search on one feature; returns true when the feature is constant in the node. */
function bestOnFeature(b: Builder, w: Float64Array, f: number, start: number, end: number, wT: number, sqT: number, best: Split): boolean {
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
  left.fill(0);
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
    sqL += wi * (2 * lc + wi);
    sqR -= wi * (2 * (total[c]! - lc) - wi);
    left[c] = lc + wi;
    wL += wi;
    const v = X[off + i]!;
    const vn = X[off + next]!;
    if (vn <= v || k + 1 < minLeaf || m - k - 1 < minLeaf) continue;
    const proxy = sqL / wL + sqR / (wT - wL);
    if (proxy > best.proxy) {
      // the midpoint, as scikit-learn, unless rounding lands it on the upper value
      let t = v / 2 + vn / 2;
      if (t >= vn || !Number.isFinite(t)) t = v;
      best.feature = f;
      best.threshold = t;
      best.proxy = proxy;
    }
  }
  return false;
}

/** One uniform threshold between the node's min and max of the feature; returns true when constant. */
function randomOnFeature(b: Builder, w: Float64Array, f: number, start: number, end: number, wT: number, sqT: number, rng: Rng, best: Split): boolean {
  const { X, y, n, samples, left, total } = b;
  const off = f * n;
  let min = Infinity;
  let max = -Infinity;
  for (let k = start; k < end; k++) {
    const v = X[off + samples[k]!]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (max <= min) return true;
  let t = min + rng() * (max - min);
  if (t >= max) t = min;
  left.fill(0);
  let wL = 0;
  let sqL = 0;
  let sqR = sqT;
  let nL = 0;
  let lo = -Infinity;
  let hi = Infinity;
  for (let k = start; k < end; k++) {
    const i = samples[k]!;
    const v = X[off + i]!;
    if (v <= t) {
      const c = y[i]!;
      const wi = w[i]!;
      const lc = left[c]!;
      sqL += wi * (2 * lc + wi);
      sqR -= wi * (2 * (total[c]! - lc) - wi);
      left[c] = lc + wi;
      wL += wi;
      nL++;
      if (v > lo) lo = v;
    } else if (v < hi) hi = v;
  }
  const m = end - start;
  const minLeaf = b.params.minSamplesLeaf;
  if (nL < minLeaf || m - nL < minLeaf) return false;
  const proxy = sqL / wL + sqR / (wT - wL);
  if (proxy > best.proxy) {
    best.feature = f;
    best.drawn = t;
    best.lo = lo;
    best.hi = hi;
    best.proxy = proxy;
  }
  return false;
}

/** Trains a random forest (splitter "best") or ExtraTrees (splitter "random", the default) with a seed. */
export async function fitRandomForest(X: number[][], y: Label[], options: FitOptions): Promise<Classifier> {
  const d = checkTrainingData(X, y, "RF");
  const params = resolveForestParams(options.params);
  const { classes, codes } = encodeLabels(y);
  const b = makeBuilder(X, codes, classes.length, params);
  const rng = createRng(options.seed);
  const w = new Float64Array(b.n);
  const importance = new Float64Array(d);
  const trees: StoredTree[] = [];
  const pause = makeYielder();
  for (let t = 0; t < params.nTrees; t++) {
    if (params.bootstrap) {
      w.fill(0);
      for (let i = 0; i < b.n; i++) w[randInt(rng, b.n)]++;
    } else w.fill(1);
    trees.push(growTree(b, w, rng, importance));
    options.onProgress?.({ algorithm: "RF", phase: "trees", done: t + 1, total: params.nTrees });
    await pause();
  }
  let sum = 0;
  for (let f = 0; f < d; f++) sum += importance[f]!;
  const imp = Array.from(importance, (v) => roundSig(sum > 0 ? v / sum : 1 / d));
  const state: ForestState = { nFeatures: d, importance: imp, trees };
  return new Forest(classes, { ...params }, state);
}

/** Rebuilds a forest from its model file, checking every tree's structure (BAD_MODEL_FILE otherwise). */
export function loadRandomForest(model: SerializedModel): Classifier {
  const raw = checkEnvelope(model, "RF");
  const nClasses = model.classes.length;
  const nFeatures = intField(raw, "nFeatures", "state.nFeatures");
  const importance = numArray(raw, "importance", "state.importance");
  if (importance.length !== nFeatures) badModel("state.importance", `must have ${nFeatures} entries`);
  if (!Array.isArray(raw.trees) || raw.trees.length === 0) badModel("state.trees", "must be a non-empty array");
  const trees = (raw.trees as unknown[]).map((t, i) => checkTree(t, `state.trees[${i}]`, nFeatures, nClasses));
  return new Forest([...model.classes], { ...model.params }, { nFeatures, importance, trees });
}

function checkTree(raw: unknown, field: string, nFeatures: number, nClasses: number): StoredTree {
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) badModel(field, "must be an object");
  const o = raw as Record<string, unknown>;
  const feature = numArray(o, "feature", `${field}.feature`, { min: -nClasses, max: nFeatures - 1 });
  const threshold = numArray(o, "threshold", `${field}.threshold`);
  const right = numArray(o, "right", `${field}.right`, { min: 0, max: feature.length - 1 });
  const leafClass = numArray(o, "leafClass", `${field}.leafClass`, { min: 0, max: nClasses - 1 });
  const leafProb = numArray(o, "leafProb", `${field}.leafProb`);
  const nodes = feature.length;
  if (nodes === 0 || threshold.length !== nodes || right.length !== nodes) badModel(field, "feature, threshold and right must be non-empty and of equal length");
  if (leafProb.length !== leafClass.length) badModel(field, "leafClass and leafProb must be of equal length");
  if (leafProb.some((p) => p < 0 || p > 1)) badModel(`${field}.leafProb`, "probabilities must lie in [0, 1]");
  // Walking the preorder proves the arrays form one tree: every subtree ends exactly where the next starts.
  let entries = 0;
  const stack = [0];
  let expect = 0;
  while (stack.length) {
    const i = stack.pop()!;
    if (i !== expect) badModel(`${field}.right`, `node ${i} is not where preorder puts it (expected ${expect})`);
    expect = i + 1;
    if (feature[i]! < 0) {
      entries -= feature[i]!;
      continue;
    }
    if (right[i]! <= i + 1) badModel(`${field}.right[${i}]`, "right child must come after the left subtree");
    stack.push(right[i]!, i + 1);
  }
  if (expect !== nodes) badModel(field, `${nodes - expect} nodes are not reachable from the root`);
  if (entries !== leafClass.length) badModel(`${field}.leafClass`, `leaves name ${entries} entries but ${leafClass.length} are stored`);
  return { feature, threshold, right, leafClass, leafProb };
}

/** A fitted forest: every tree concatenated into flat typed arrays for a tight prediction loop. */
class Forest implements Classifier {
  readonly algorithm = "RF" as const;
  readonly nFeatures: number;
  private readonly roots: Int32Array;
  /** Split feature, or −k for a leaf of k entries. */
  private readonly feature: Int32Array;
  private readonly threshold: Float64Array;
  /** Right child of a split (absolute), or a leaf's first entry in leafClass/leafProb. */
  private readonly right: Int32Array;
  private readonly leafClass: Int32Array;
  private readonly leafProb: Float64Array;

  constructor(
    readonly classes: readonly Label[],
    readonly params: Readonly<Record<string, unknown>>,
    private readonly state: ForestState,
  ) {
    this.nFeatures = state.nFeatures;
    let nodes = 0;
    let entries = 0;
    for (const t of state.trees) {
      nodes += t.feature.length;
      entries += t.leafClass.length;
    }
    this.roots = new Int32Array(state.trees.length);
    this.feature = new Int32Array(nodes);
    this.threshold = new Float64Array(nodes);
    this.right = new Int32Array(nodes);
    this.leafClass = new Int32Array(entries);
    this.leafProb = new Float64Array(entries);
    let base = 0;
    let entry = 0;
    state.trees.forEach((t, ti) => {
      this.roots[ti] = base;
      this.leafClass.set(t.leafClass, entry);
      this.leafProb.set(t.leafProb, entry);
      for (let i = 0; i < t.feature.length; i++) {
        const f = t.feature[i]!;
        this.feature[base + i] = f;
        this.threshold[base + i] = t.threshold[i]!;
        if (f >= 0) this.right[base + i] = base + t.right[i]!;
        else {
          this.right[base + i] = entry;
          entry -= f;
        }
      }
      base += t.feature.length;
    });
  }

  predictProba(row: ArrayLike<number>): Float64Array {
    checkRow(row, this.nFeatures, "RF");
    const { feature, threshold, right, leafClass, leafProb, roots } = this;
    const out = new Float64Array(this.classes.length);
    let sum = 0;
    for (let t = 0; t < roots.length; t++) {
      let node = roots[t]!;
      let f = feature[node]!;
      while (f >= 0) {
        node = row[f]! <= threshold[node]! ? node + 1 : right[node]!;
        f = feature[node]!;
      }
      for (let k = right[node]!, e = k - f; k < e; k++) {
        out[leafClass[k]!] += leafProb[k]!;
        sum += leafProb[k]!;
      }
    }
    if (sum > 0) for (let c = 0; c < out.length; c++) out[c] /= sum;
    else out.fill(1 / out.length);
    return out;
  }

  predictIndex(row: ArrayLike<number>): number {
    return argmax(this.predictProba(row));
  }

  featureImportance(): Float64Array {
    return Float64Array.from(this.state.importance);
  }

  toJSON(): SerializedModel {
    return { algorithm: "RF", classes: [...this.classes], params: { ...this.params }, state: this.state };
  }
}
