// XGB's own trainer (tree_method "hist"): XGBoost's multi:softprob objective and tree rule, on features
// binned once. ml-xgboost (XGBoost 0.7's exact greedy method in WebAssembly) was measured unfit at scale:
// 4.0× scikit-learn's xgboost at 50k rows of 200 users, and at 100k rows of 1,000 users it had not finished
// 2 trees per class in 20 minutes (README, "Training at scale"). What is the same as XGBoost's: gradients
// and hessians of the softmax (float32, h = 2p(1 − p)), the gain and weight formulas (λ, α, max_delta_step),
// min_child_weight on both children, a split only when it lowers the loss by more than 1e-6, depth-wise
// growth, colsample_bytree then colsample_bylevel of that set per level, Bernoulli subsample per tree,
// pruning by γ bottom-up, leaf = eta × weight, left when x < threshold. What differs: split candidates
// are the boundaries of at most 256 bins per feature (quantiles of the training values; every distinct
// value its own bin when there are fewer), thresholds the float32 midpoint of the two values around the
// boundary, as XGBoost's exact method places them; and the random draws are ours, one stream per tree.
import { createRng, randInt, type Rng } from "../util/random.js";
import { shortFloat32 } from "./tree-common.js";
import type { XgbParams, XgbTree } from "./xgboost.js";

/** At most this many bins per feature (XGBoost's max_bin default). */
export const MAX_BINS = 256;

/** XGBoost's kRtEps: a split must lower the loss by more than this. */
const RT_EPS = 1e-6;

/** Training rows binned once per fit, column by column. */
export interface BinnedData {
  n: number;
  d: number;
  /** values[f * n + i]: row i's value of feature f, as XGBoost reads it (float32). */
  values: Float32Array;
  /**
   * bins[i * d + f]: row i's bin on feature f (row by row: a node's rows are visited in an order of their
   * own, and a row's bins of every feature share its cache line); bins are ordered like their values.
   */
  bins: Uint8Array;
  /** Per feature, the smallest and the largest training value in each bin. */
  binLo: Float32Array[];
  binHi: Float32Array[];
}

/**
 * Bins each feature (values already as XGBoost reads them, float32): every distinct value its own bin
 * when there are at most `maxBins`, else bins of about n / maxBins rows that never split equal values.
 */
export function binFeatures(
  X: readonly (readonly number[])[],
  toValue: (v: number) => number,
  maxBins = MAX_BINS,
): BinnedData {
  const n = X.length;
  const d = X[0]!.length;
  const bins = new Uint8Array(n * d);
  const values = new Float32Array(n * d);
  const binLo: Float32Array[] = [];
  const binHi: Float32Array[] = [];
  const col = new Float64Array(n);
  const order = new Float64Array(n);
  for (let f = 0; f < d; f++) {
    for (let i = 0; i < n; i++) values[f * n + i] = col[i] = toValue(X[i]![f]!);
    order.set(col);
    order.sort();
    // distinct values and how many rows hold each
    const distinct: number[] = [];
    const counts: number[] = [];
    for (let i = 0; i < n; i++) {
      if (i > 0 && order[i] === order[i - 1]) counts[counts.length - 1]!++;
      else {
        distinct.push(order[i]!);
        counts.push(1);
      }
    }
    // the last distinct value of each bin
    const ends: number[] = [];
    if (distinct.length <= maxBins) for (let k = 0; k < distinct.length; k++) ends.push(k);
    else {
      let seen = 0;
      let bin = 1;
      for (let k = 0; k < distinct.length; k++) {
        seen += counts[k]!;
        if (seen >= (bin * n) / maxBins || k === distinct.length - 1) {
          ends.push(k);
          while (bin * n <= seen * maxBins) bin++;
        }
      }
    }
    const lo = new Float32Array(ends.length);
    const hi = new Float32Array(ends.length);
    for (let b = 0; b < ends.length; b++) {
      lo[b] = distinct[b === 0 ? 0 : ends[b - 1]! + 1]!;
      hi[b] = distinct[ends[b]!]!;
    }
    binLo.push(lo);
    binHi.push(hi);
    for (let i = 0; i < n; i++) {
      const v = col[i]!;
      // the first bin whose largest value is ≥ v
      let a = 0;
      let z = hi.length - 1;
      while (a < z) {
        const mid = (a + z) >> 1;
        if (hi[mid]! < v) a = mid + 1;
        else z = mid;
      }
      bins[i * d + f] = a;
    }
  }
  return { n, d, values, bins, binLo, binHi };
}

/** The seed of class c's tree t (its own stream: a tree does not depend on how the trees are split among threads). */
function treeSeed(seed: number, round: number, c: number, t: number): number {
  let h = Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(round + 1, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) ^ Math.imul(c + 1, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 13), 0x297a2d39) ^ Math.imul(t + 1, 0x27d4eb2f);
  return (h ^ (h >>> 16)) >>> 0;
}

function thresholdL1(w: number, alpha: number): number {
  if (w > alpha) return w - alpha;
  if (w < -alpha) return w + alpha;
  return 0;
}

/** XGBoost's CalcWeight and CalcGain (param.h), for one node's gradient and hessian sums. */
class Rule {
  readonly lambda: number;
  readonly alpha: number;
  readonly maxDelta: number;
  readonly minChild: number;

  constructor(p: XgbParams) {
    this.lambda = p.lambda ?? 1;
    this.alpha = p.alpha ?? 0;
    this.maxDelta = p.max_delta_step ?? 0;
    this.minChild = p.min_child_weight;
  }

  weight(G: number, H: number): number {
    if (H < this.minChild) return 0;
    let w = -thresholdL1(G, this.alpha) / (H + this.lambda);
    if (this.maxDelta !== 0) {
      if (w > this.maxDelta) w = this.maxDelta;
      if (w < -this.maxDelta) w = -this.maxDelta;
    }
    return w;
  }

  gain(G: number, H: number): number {
    if (H < this.minChild) return 0;
    if (this.maxDelta === 0) {
      const g = this.alpha === 0 ? G : thresholdL1(G, this.alpha);
      return (g * g) / (H + this.lambda);
    }
    const w = this.weight(G, H);
    const ret = G * w + 0.5 * (H + this.lambda) * w * w;
    return this.alpha === 0 ? -2 * ret : -2 * (ret + this.alpha * Math.abs(w));
  }
}

/** A node while its tree grows (breadth first); turned into preorder at the end. */
interface GrowNode {
  start: number;
  end: number;
  G: number;
  H: number;
  /** Rows of the tree's class in the node (forest mode: a node without any cannot gain from a split). */
  own: number;
  feature: number;
  threshold: number;
  left: number;
  right: number;
  lossChg: number;
}

/** Working memory of one fit, reused by every tree. */
interface Scratch {
  rows: Int32Array;
  buf: Int32Array;
  histG: Float64Array;
  histH: Float64Array;
  histN: Int32Array;
  /** Forest mode: rows of the tree's class per bin. */
  histO: Int32Array;
  /** Forest mode: every training row's bin counts per feature (the root's histogram whatever the class). */
  allCounts: Int32Array[];
  /** Each training row's leaf value in the tree just grown (for the next round's margins). */
  leafOf: Float64Array;
}

/** One class's gradients: per row g and h (float32 as XGBoost computes them). */
interface Gradients {
  g: Float32Array;
  h: Float32Array;
  /**
   * Forest mode (round 1, no α or max_delta_step): every row of the class has g1, every other row g0, all
   * h0, so a node's sums follow from two counts, and a node without the class's rows never splits.
   */
  twoValued: boolean;
  g0: number;
  g1: number;
  h0: number;
  /** 1 for the rows of the tree's class (forest mode). */
  own: Uint8Array;
  /** The rows of the tree's class (forest mode). */
  ownRows: Int32Array;
}

/**
 * Grows one tree for class c on the binned rows with gradients `grad` (XGBoost's rule, see the file's
 * head); fills s.leafOf for every row the tree saw when `track` is set.
 */
function growTree(
  data: BinnedData,
  codes: Int32Array,
  c: number,
  grad: Gradients,
  p: XgbParams,
  rule: Rule,
  rng: Rng,
  s: Scratch,
  track: boolean,
): XgbTree {
  const { n, d, bins, binLo, binHi } = data;
  const { g, h } = grad;
  // rows of this tree: Bernoulli(subsample) per row, as XGBoost samples
  let m = 0;
  // forest mode counts rows, so their order does not matter: a tree of every row keeps the last one's
  if (grad.twoValued && p.subsample >= 1) m = n;
  else for (let i = 0; i < n; i++) if (p.subsample >= 1 || rng() < p.subsample) s.rows[m++] = i;
  // features of this tree, then of each level
  let treeFeatures = Array.from({ length: d }, (_, f) => f);
  if (p.colsample_bytree < 1) {
    shuffle(treeFeatures, rng);
    treeFeatures = treeFeatures.slice(0, Math.max(1, Math.floor(p.colsample_bytree * d)));
  }
  const perLevel = Math.max(1, Math.floor(p.colsample_bylevel * treeFeatures.length));
  let G0 = 0;
  let H0 = 0;
  let own0 = 0;
  if (grad.twoValued) {
    if (m === n) own0 = grad.ownRows.length;
    else for (let k = 0; k < m; k++) own0 += grad.own[s.rows[k]!]!;
    G0 = m * grad.g0 + own0 * (grad.g1 - grad.g0);
    H0 = m * grad.h0;
  } else {
    for (let k = 0; k < m; k++) {
      const i = s.rows[k]!;
      G0 += g[i]!;
      H0 += h[i]!;
      if (codes[i] === c) own0++;
    }
  }
  const nodes: GrowNode[] = [
    { start: 0, end: m, G: G0, H: H0, own: own0, feature: -1, threshold: 0, left: -1, right: -1, lossChg: 0 },
  ];
  let level = [0];
  const levelFeatures = treeFeatures.slice();
  for (let depth = 0; depth < p.max_depth && level.length > 0; depth++) {
    if (perLevel < levelFeatures.length) shuffle(levelFeatures, rng);
    const next: number[] = [];
    for (const id of level) {
      const node = nodes[id]!;
      if (grad.twoValued && node.own === 0) continue;
      if (node.H < 2 * rule.minChild || node.end - node.start < 2) continue;
      const split = grad.twoValued
        ? bestSplitCounted(data, node, levelFeatures, perLevel, grad, rule, s, id === 0 && m === n)
        : bestSplit(data, node, levelFeatures, perLevel, g, h, rule, s);
      if (split === null) continue;
      // partition the node's rows: bins ≤ split.bin left, in their order
      const sf = split.feature;
      let lo = node.start;
      let hi = 0;
      let ownL = 0;
      for (let k = node.start; k < node.end; k++) {
        const i = s.rows[k]!;
        if (bins[i * d + sf]! <= split.bin) {
          s.rows[lo++] = i;
          if (grad.twoValued ? grad.own[i] === 1 : codes[i] === c) ownL++;
        } else s.buf[hi++] = i;
      }
      s.rows.set(s.buf.subarray(0, hi), lo);
      node.feature = split.feature;
      // as XGBoost's exact method: the float32 midpoint of the node's two values around the gap (here the
      // largest value of the last bin left and the smallest of the first bin right)
      const below = binHi[split.feature]![split.bin]!;
      const above = binLo[split.feature]![split.next]!;
      const mid = Math.fround((below + above) * 0.5);
      node.threshold = mid > below && mid <= above ? mid : above;
      node.lossChg = split.lossChg;
      node.left = nodes.length;
      nodes.push({
        start: node.start,
        end: lo,
        G: split.GL,
        H: split.HL,
        own: ownL,
        feature: -1,
        threshold: 0,
        left: -1,
        right: -1,
        lossChg: 0,
      });
      node.right = nodes.length;
      nodes.push({
        start: lo,
        end: node.end,
        G: node.G - split.GL,
        H: node.H - split.HL,
        own: node.own - ownL,
        feature: -1,
        threshold: 0,
        left: -1,
        right: -1,
        lossChg: 0,
      });
      next.push(node.left, node.right);
    }
    level = next;
  }
  const gamma = p.gamma ?? 0;
  if (gamma > 0) prune(nodes, 0, gamma);
  const tree: XgbTree = { group: c, feature: [], value: [], right: [] };
  const eta = p.eta;
  // preorder: the left child right after its parent
  const stack = [0, -1];
  while (stack.length) {
    const parent = stack.pop()!;
    const id = stack.pop()!;
    const at = tree.feature.length;
    if (parent >= 0) tree.right[parent] = at;
    const node = nodes[id]!;
    if (node.feature < 0) {
      const value = shortFloat32(Math.fround(eta * rule.weight(node.G, node.H)));
      tree.feature.push(-1);
      tree.value.push(value);
      tree.right.push(0);
      if (track) for (let k = node.start; k < node.end; k++) s.leafOf[s.rows[k]!] = Math.fround(value);
      continue;
    }
    tree.feature.push(node.feature);
    tree.value.push(shortFloat32(node.threshold));
    tree.right.push(-1);
    stack.push(node.right, at, node.left, -1);
  }
  return tree;
}

/** XGBoost's pruner: a split whose children are both leaves and that lowers the loss by less than γ goes. */
function prune(nodes: GrowNode[], id: number, gamma: number): void {
  const node = nodes[id]!;
  if (node.feature < 0) return;
  prune(nodes, node.left, gamma);
  prune(nodes, node.right, gamma);
  if (nodes[node.left]!.feature < 0 && nodes[node.right]!.feature < 0 && node.lossChg < gamma)
    node.feature = -1;
}

function shuffle(a: number[], rng: Rng): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = randInt(rng, i + 1);
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
}

/** The best split of a node over the level's first `count` features, or null when none lowers the loss. */
function bestSplit(
  data: BinnedData,
  node: GrowNode,
  features: readonly number[],
  count: number,
  g: Float32Array,
  h: Float32Array,
  rule: Rule,
  s: Scratch,
): Split | null {
  const { d, bins, binLo } = data;
  const rootGain = rule.gain(node.G, node.H);
  let best: Split | null = null;
  let bestChg = RT_EPS;
  for (let j = 0; j < count; j++) {
    const f = features[j]!;
    const nb = binLo[f]!.length;
    if (nb < 2) continue;
    const { histG, histH, histN } = s;
    histG.fill(0, 0, nb);
    histH.fill(0, 0, nb);
    histN.fill(0, 0, nb);
    for (let k = node.start; k < node.end; k++) {
      const i = s.rows[k]!;
      const b = bins[i * d + f]!;
      histG[b]! += g[i]!;
      histH[b]! += h[i]!;
      histN[b]!++;
    }
    let GL = 0;
    let HL = 0;
    let NL = 0;
    const total = node.end - node.start;
    for (let b = 0; b + 1 < nb; b++) {
      GL += histG[b]!;
      HL += histH[b]!;
      NL += histN[b]!;
      if (histN[b] === 0) continue;
      if (NL === total) break;
      const HR = node.H - HL;
      if (HL < rule.minChild || HR < rule.minChild) continue;
      const chg = rule.gain(GL, HL) + rule.gain(node.G - GL, HR) - rootGain;
      if (chg > bestChg) {
        bestChg = chg;
        let next = b + 1;
        while (histN[next] === 0) next++;
        best = { feature: f, bin: b, next, GL, HL, lossChg: chg };
      }
    }
  }
  return best;
}

/**
 * bestSplit in forest mode: per bin only the rows and the class's rows are counted (the sums follow from
 * the counts); the root of a tree that sees every row takes its counts from the whole data's histogram.
 */
function bestSplitCounted(
  data: BinnedData,
  node: GrowNode,
  features: readonly number[],
  count: number,
  grad: Gradients,
  rule: Rule,
  s: Scratch,
  wholeData: boolean,
): Split | null {
  const { d, bins, binLo } = data;
  const { g0, h0, own, ownRows } = grad;
  const dg = grad.g1 - g0;
  const rootGain = rule.gain(node.G, node.H);
  const { histN, histO } = s;
  // the histograms of all the level's features, MAX_BINS apart, filled in one pass over the node's rows
  histO.fill(0, 0, count * MAX_BINS);
  if (wholeData) {
    for (let k = 0; k < ownRows.length; k++) {
      const base = ownRows[k]! * d;
      for (let j = 0; j < count; j++) histO[j * MAX_BINS + bins[base + features[j]!]!]!++;
    }
  } else {
    histN.fill(0, 0, count * MAX_BINS);
    for (let k = node.start; k < node.end; k++) {
      const i = s.rows[k]!;
      const base = i * d;
      const o = own[i]!;
      for (let j = 0; j < count; j++) {
        const at = j * MAX_BINS + bins[base + features[j]!]!;
        histN[at]!++;
        histO[at]! += o;
      }
    }
  }
  let best: Split | null = null;
  let bestChg = RT_EPS;
  const total = node.end - node.start;
  for (let j = 0; j < count; j++) {
    const f = features[j]!;
    const nb = binLo[f]!.length;
    if (nb < 2) continue;
    const counts = wholeData ? s.allCounts[f]! : histN.subarray(j * MAX_BINS, j * MAX_BINS + nb);
    const ownCounts = histO.subarray(j * MAX_BINS, j * MAX_BINS + nb);
    let NL = 0;
    let OL = 0;
    for (let b = 0; b + 1 < nb; b++) {
      const cb = counts[b]!;
      if (cb === 0) continue;
      NL += cb;
      OL += ownCounts[b]!;
      if (NL === total) break;
      const HL = NL * h0;
      const HR = node.H - HL;
      if (HL < rule.minChild || HR < rule.minChild) continue;
      const GL = NL * g0 + OL * dg;
      const chg = rule.gain(GL, HL) + rule.gain(node.G - GL, HR) - rootGain;
      if (chg > bestChg) {
        bestChg = chg;
        let next = b + 1;
        while (counts[next] === 0) next++;
        best = { feature: f, bin: b, next, GL, HL, lossChg: chg };
      }
    }
  }
  return best;
}

/** A node's split: rows in bins ≤ bin go left; `next` is the first bin right that holds any of its rows. */
interface Split {
  feature: number;
  bin: number;
  next: number;
  GL: number;
  HL: number;
  lossChg: number;
}

/** What one fit (or one chunk of it) needs: the binned rows, labels and the rule. */
export interface HistFit {
  data: BinnedData;
  codes: Int32Array;
  nClasses: number;
  params: XgbParams;
  seed: number;
  /** XGBoost's starting margin of every class. */
  baseScore: number;
}

/**
 * Grows the model's trees: per round, per class, trees [from, to) of its num_parallel_tree (all of them
 * unless a chunk of a one-round forest), in XGBoost's order (round, class, tree). Reports progress per
 * class and yields through `pause` between classes.
 */
export async function growHistTrees(
  fit: HistFit,
  from: number,
  to: number,
  onTrees?: (done: number, total: number) => void,
  pause?: () => Promise<void> | undefined,
): Promise<XgbTree[]> {
  const { data, codes, nClasses, params: p, seed } = fit;
  const { n } = data;
  const rule = new Rule(p);
  const maxBins = data.binLo.reduce((a, c) => Math.max(a, c.length), 1);
  const s: Scratch = {
    rows: Int32Array.from({ length: n }, (_, i) => i),
    buf: new Int32Array(n),
    histG: new Float64Array(maxBins),
    histH: new Float64Array(maxBins),
    histN: new Int32Array(Math.max(maxBins, data.d * MAX_BINS)),
    histO: new Int32Array(data.d * MAX_BINS),
    allCounts: data.binLo.map((lo, f) => {
      const counts = new Int32Array(lo.length);
      for (let i = 0; i < n; i++) counts[data.bins[i * data.d + f]!]!++;
      return counts;
    }),
    leafOf: new Float64Array(n),
  };
  const own = new Uint8Array(n);
  const boosting = p.rounds > 1;
  // margins per row and class (only when later rounds need them)
  const margin = boosting ? new Float64Array(n * nClasses).fill(Math.fround(fit.baseScore)) : null;
  const g = new Float32Array(n);
  const h = new Float32Array(n);
  const prob = new Float64Array(boosting ? n * nClasses : 0);
  const trees: XgbTree[] = [];
  const total = p.rounds * nClasses * (to - from);
  let done = 0;
  for (let r = 0; r < p.rounds; r++) {
    if (margin) softmaxRows(margin, prob, n, nClasses);
    for (let c = 0; c < nClasses; c++) {
      const twoValued = r === 0 && (p.alpha ?? 0) === 0 && (p.max_delta_step ?? 0) === 0;
      for (let i = 0; i < n; i++) {
        // XGBoost's softmax gradient in float32: g = p − [label = c], h = max(2p(1 − p), 1e-16)
        const pc = Math.fround(margin ? prob[i * nClasses + c]! : 1 / nClasses);
        g[i] = codes[i] === c ? Math.fround(pc - 1) : pc;
        h[i] = Math.max(Math.fround(2 * pc * Math.fround(1 - pc)), 1e-16);
      }
      const p0 = Math.fround(1 / nClasses);
      let ownRows = new Int32Array(0);
      if (twoValued) {
        let k = 0;
        for (let i = 0; i < n; i++) k += own[i] = codes[i] === c ? 1 : 0;
        ownRows = new Int32Array(k);
        for (let i = 0, j = 0; i < n; i++) if (own[i]) ownRows[j++] = i;
      }
      const grad: Gradients = {
        g,
        h,
        twoValued,
        g0: p0,
        g1: Math.fround(p0 - 1),
        h0: Math.max(Math.fround(2 * p0 * Math.fround(1 - p0)), 1e-16),
        own,
        ownRows,
      };
      for (let t = from; t < to; t++) {
        const rng = createRng(treeSeed(seed, r, c, t));
        const tree = growTree(data, codes, c, grad, p, rule, rng, s, margin !== null);
        if (margin) {
          // the rows the tree did not see (subsample) still get its value
          if (p.subsample < 1) fillLeaves(tree, data, s.leafOf);
          for (let i = 0; i < n; i++) margin[i * nClasses + c]! += s.leafOf[i]!;
        }
        trees.push(tree);
      }
      done += to - from;
      onTrees?.(done, total);
      await pause?.();
    }
  }
  return trees;
}

/** Every training row's leaf value in `tree`, walked as the model walks it (left when x < threshold). */
function fillLeaves(tree: XgbTree, data: BinnedData, out: Float64Array): void {
  const { n, values } = data;
  for (let i = 0; i < n; i++) {
    let node = 0;
    let f = tree.feature[node]!;
    while (f >= 0) {
      node = values[f * n + i]! < Math.fround(tree.value[node]!) ? node + 1 : tree.right[node]!;
      f = tree.feature[node]!;
    }
    out[i] = Math.fround(tree.value[node]!);
  }
}

function softmaxRows(margin: Float64Array, prob: Float64Array, n: number, k: number): void {
  for (let i = 0; i < n; i++) {
    const o = i * k;
    let max = -Infinity;
    for (let c = 0; c < k; c++) if (margin[o + c]! > max) max = margin[o + c]!;
    let sum = 0;
    for (let c = 0; c < k; c++) sum += prob[o + c] = Math.exp(margin[o + c]! - max);
    for (let c = 0; c < k; c++) prob[o + c]! /= sum;
  }
}
