// SVM identification: libsvm-js trains a C-SVC on scaled features (Laplacian kernel by default, given
// to libsvm as a Gram matrix; RBF built in), C and gamma chosen by a small stratified CV grid;
// prediction (decision values, Platt probabilities, pairwise coupling) is pure TypeScript over the
// model taken out of libsvm, so loading and predicting never touch wasm.
import type { Label } from "../data/types.js";
import { KeystrokeError } from "../errors.js";
import { createRng, shuffle } from "../util/random.js";
import type { Classifier, FitOptions, SerializedModel } from "./types.js";
import type { ExtractedModel } from "./svm-libsvm.js";
import { trainOneVsOne, type SolverData, type SolverOptions } from "./svm-solver.js";
import { applyScaler, fitScaler, SVM_TRANSFORMS, type SvmScaler, type SvmTransform } from "./svm-scaler.js";
import {
  argmax,
  checkEnvelope,
  checkRow,
  checkTrainingData,
  encodeLabels,
  requireTwoClasses,
  stratifiedFolds,
} from "./common.js";
import {
  createScratch,
  decisionValues,
  predictProbabilities,
  sigmoidTrain,
  sigmoidTrainSymmetric,
  SVM_COUPLINGS,
  SVM_KERNELS,
  type SvmCore,
  type SvmCoupling,
  type SvmKernel,
  type SvmScratch,
} from "./svm-predict.js";

/** How the pairwise Platt sigmoids are fitted from cross-validated decision values. */
export type PlattMode = "pooled" | "pairwise";

/** Hyperparameters of fitSvm; every field can be overridden through FitOptions.params. */
export interface SvmParams {
  /** "laplacian" (L1 distance; robust to one odd key timing) or "rbf" (squared Euclidean distance). */
  kernel: SvmKernel;
  /** How pairwise probabilities are coupled into class probabilities at prediction time. */
  coupling: SvmCoupling;
  /** Candidate costs (one value: no search over C). */
  C: number[];
  /** Candidate gammas as multiples of 1/d (d = number of features). */
  gammaScale: number[];
  /** Inner stratified CV folds of the grid search (also the source of the Platt fit). */
  folds: number;
  transform: SvmTransform;
  logScale: number;
  /**
   * "pooled": one sigmoid fitted on the decision values of all class pairs together; "pairwise": one
   * per pair, as libsvm does. With ~7 samples per user, a per-pair fit sees ~14 points and is noisy.
   */
  platt: PlattMode;
  /** "coordinate": gamma at the middle C, then C at the best gamma; "grid": every pair. */
  search: "coordinate" | "grid";
  /** Rows the grid search (and the Platt fit) sees at most: a stratified share of larger data. */
  gridRows: number;
}

/** Fits one multi-class C-SVC on grouped, scaled rows: in-process, or spread over worker threads. */
export type SvmTrainer = (
  data: SolverData,
  options: SolverOptions,
) => ExtractedModel | Promise<ExtractedModel>;

/**
 * The measured defaults. 5-fold CV on the 110-user set, timings: Laplacian 0.844 vs RBF 0.713 (one odd
 * key timing moves an L1 distance much less than a squared one); Price coupling as accurate as libsvm's
 * (0.844 / 0.845) at ~1.7× the predictions per second. The grid search sees at most 1,500 rows: on the
 * generated 10k rows / 50 users of bench:train's scale series (5,000 training rows) it picks the same C
 * and gamma as with 3,000 and scores 0.966 across sessions either way, for 10.3 instead of 24.6 CPU
 * seconds of fit (the shared files have fewer rows and are not affected).
 */
export const SVM_DEFAULTS: Readonly<SvmParams> = {
  kernel: "laplacian",
  coupling: "price",
  C: [1, 10, 100],
  gammaScale: [0.5, 1, 2],
  folds: 3,
  transform: "signed-log",
  logScale: 30,
  platt: "pooled",
  search: "coordinate",
  gridRows: 1500,
};

/** The SVM's state in a model file (plain JSON; support vectors and coefficients to 7 digits). */
export interface SvmState {
  scaler: SvmScaler;
  /** Absent in files written before the Laplacian kernel: "rbf". */
  kernel?: SvmKernel;
  /** Absent in files written before the Price coupling: "wu-lin-weng". */
  coupling?: SvmCoupling;
  gamma: number;
  /** Index into `classes` of each model class, in libsvm's model order. */
  order: number[];
  nSV: number[];
  /** Support vectors (scaled), grouped by model class. */
  sv: number[][];
  /** libsvm's sv_coef: nClass − 1 rows of one coefficient per support vector. */
  coef: number[][];
  rho: number[];
  probA: number[];
  probB: number[];
}

/** Trains the SVM (grid search over C and gamma by inner stratified CV, then a final fit on all rows). */
export async function fitSvm(
  X: number[][],
  y: Label[],
  options: FitOptions<object> & { trainer?: SvmTrainer },
): Promise<Classifier> {
  const params = resolveParams(options.params ?? {});
  const d = checkTrainingData(X, y, "SVM");
  const { classes, codes } = encodeLabels(y);
  requireTwoClasses(classes, "SVM");
  const yi = Array.from(codes);
  const k = classes.length;

  // the grid search runs on a stratified share of at most gridRows rows; the final fit uses them all
  const grid = gridSample(yi, k, params.gridRows, options.seed);
  const Xg = grid.map((i) => X[i]!);
  const yg = grid.map((i) => yi[i]!);
  const train = options.trainer ?? trainOneVsOne;
  const folds = stratifiedFolds(yg, k, Math.min(params.folds, Xg.length), options.seed);
  const nFolds = folds.length;
  // "coordinate": gamma at the middle C, then the other Cs at the best gamma (5 fits per fold instead of 9)
  const midC = params.C[(params.C.length - 1) >> 1]!;
  const phases: Combo[][] =
    params.search === "grid"
      ? [params.C.flatMap((C) => params.gammaScale.map((gammaScale) => ({ C, gammaScale })))]
      : [
          params.gammaScale.map((gammaScale) => ({ C: midC, gammaScale })),
          params.C.filter((C) => C !== midC).map((C) => ({ C, gammaScale: NaN })),
        ];
  const total = phases.reduce((a, ph) => a + ph.length, 0) * nFolds;
  const data = folds.map((test) => foldData(Xg, yg, test, params));

  const tried: Array<Combo & CvResult> = [];
  let done = 0;
  for (const phase of phases) {
    const best = bestOf(tried);
    const combos = phase.map((c) => ({
      C: c.C,
      gammaScale: Number.isNaN(c.gammaScale) ? best!.gammaScale : c.gammaScale,
    }));
    const results = combos.map((c) => ({
      ...c,
      correct: 0,
      oof: new Float64Array(Xg.length * (k - 1)).fill(NaN),
    }));
    for (const fold of data) {
      for (const r of results) {
        const m = await train(fold.train, { C: r.C, gamma: r.gammaScale / d, kernel: params.kernel });
        scoreFold(m, fold.Xtest, fold.test, yg, k, r);
        done++;
        options.onProgress?.({ algorithm: "SVM", phase: "folds", done, total });
        // let a progress view render between fits
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    tried.push(...results);
  }

  const chosen = bestOf(tried)!;
  const gamma = chosen.gammaScale / d;
  const platt = fitPlatt(chosen.oof, yg, k, params.platt);

  const all = sortByClass(
    X.map((_, i) => i),
    yi,
  );
  const scaler = fitScaler(X, params.transform, params.logScale);
  const final = await train(solverData(X, yi, all, scaler), { C: chosen.C, gamma, kernel: params.kernel });
  applyPlatt(final, platt, k);

  const state = stateFrom(final, scaler, params.coupling);
  const used: Record<string, unknown> = {
    kernel: params.kernel,
    coupling: params.coupling,
    C: chosen.C,
    gamma,
    gammaScale: chosen.gammaScale,
    transform: params.transform,
    logScale: params.logScale,
    platt: params.platt,
    folds: nFolds,
    search: params.search,
    grid: { C: params.C, gammaScale: params.gammaScale },
    cvAccuracy: chosen.correct / Xg.length,
    gridRows: Xg.length,
  };
  return new SvmClassifier(classes, used, state);
}

/** Rebuilds an SVM from its model file, checking the structure (KeystrokeError BAD_MODEL_FILE). */
export function loadSvm(model: SerializedModel): Classifier {
  checkEnvelope(model, "SVM");
  return new SvmClassifier(model.classes, model.params, checkState(model.state, model.classes.length));
}

/** The fitted SVM: scaling, decision values as libsvm's, Platt sigmoids and the chosen coupling. */
class SvmClassifier implements Classifier {
  readonly algorithm = "SVM" as const;
  readonly nFeatures: number;
  private readonly core: SvmCore;
  private readonly scratch: SvmScratch;
  private readonly scaled: Float64Array;

  constructor(
    readonly classes: readonly Label[],
    readonly params: Readonly<Record<string, unknown>>,
    private readonly state: SvmState,
  ) {
    this.nFeatures = state.scaler.mean.length;
    this.core = coreFromState(state);
    this.scratch = createScratch(this.core);
    this.scaled = new Float64Array(this.nFeatures);
  }

  predictProba(row: ArrayLike<number>): Float64Array {
    checkRow(row, this.nFeatures, "SVM");
    const p = predictProbabilities(
      this.core,
      applyScaler(this.state.scaler, row, this.scaled),
      this.scratch,
      this.state.coupling ?? "wu-lin-weng",
    );
    const out = new Float64Array(this.classes.length);
    for (let m = 0; m < this.state.order.length; m++) out[this.state.order[m]!] = p[m]!;
    return out;
  }

  predictIndex(row: ArrayLike<number>): number {
    // the probability argmax, not libsvm's vote: the two can disagree, and the reported top class must be the prediction
    return argmax(this.predictProba(row));
  }

  toJSON(): SerializedModel {
    return { algorithm: "SVM", classes: [...this.classes], params: { ...this.params }, state: this.state };
  }
}

// ---- fitting helpers ------------------------------------------------------------------------------

interface Combo {
  C: number;
  gammaScale: number;
}
interface CvResult {
  /** Held-out rows the one-vs-one vote got right. */
  correct: number;
  /** Per row, decision values against each other class, signed towards the row's class (NaN: none). */
  oof: Float64Array;
}

/** Most held-out hits; ties keep the candidate tried first. */
function bestOf<T extends CvResult>(results: T[]): T | undefined {
  let best: T | undefined;
  for (const r of results) if (!best || r.correct > best.correct) best = r;
  return best;
}

/** One fold's training rows (scaled on the fold's own rows, grouped by class) and held-out rows. */
function foldData(X: number[][], yi: number[], test: number[], params: SvmParams) {
  const inTest = new Uint8Array(X.length);
  for (const i of test) inTest[i] = 1;
  const train = sortByClass(
    X.map((_, i) => i).filter((i) => !inTest[i]),
    yi,
  );
  const scaler = fitScaler(
    train.map((i) => X[i]!),
    params.transform,
    params.logScale,
  );
  return {
    test,
    train: solverData(X, yi, train, scaler),
    Xtest: test.map((i) => applyScaler(scaler, X[i]!)),
  };
}

/** The rows (already grouped by class) scaled into one contiguous matrix for the solver. */
function solverData(X: number[][], yi: number[], rows: number[], scaler: SvmScaler): SolverData {
  const d = scaler.mean.length;
  const flat = new Float64Array(rows.length * d);
  const y = new Int32Array(rows.length);
  rows.forEach((r, t) => {
    applyScaler(scaler, X[r]!, flat.subarray(t * d, (t + 1) * d));
    y[t] = yi[r]!;
  });
  return { X: flat, d, y };
}

/** Row indices of a stratified share of about `max` rows (every row when there are fewer), at least 3 per class when it has them. */
function gridSample(yi: number[], k: number, max: number, seed: number): number[] {
  if (yi.length <= max) return yi.map((_, i) => i);
  const rng = createRng((seed ^ 0x6a1d) >>> 0);
  const byClass: number[][] = Array.from({ length: k }, () => []);
  yi.forEach((c, i) => byClass[c]!.push(i));
  const share = max / yi.length;
  const out: number[] = [];
  for (const rows of byClass)
    out.push(
      ...shuffle(rng, rows).slice(0, Math.max(Math.min(3, rows.length), Math.round(rows.length * share))),
    );
  return out.sort((a, b) => a - b);
}

function resolveParams(input: object): SvmParams {
  const user = input as Record<string, unknown>;
  const p: SvmParams = { ...SVM_DEFAULTS, C: [...SVM_DEFAULTS.C], gammaScale: [...SVM_DEFAULTS.gammaScale] };
  const oneOf = <T extends string>(key: string, v: unknown, allowed: readonly T[]): T => {
    if (!allowed.includes(v as T))
      throw new KeystrokeError("BAD_FLAG", `SVM parameter ${key} must be one of ${allowed.join(", ")}`, {
        field: key,
      });
    return v as T;
  };
  const positives = (key: string, v: unknown): number[] => {
    const list = Array.isArray(v) ? v : [v];
    if (list.length === 0 || !list.every((x) => typeof x === "number" && Number.isFinite(x) && x > 0)) {
      throw new KeystrokeError(
        "BAD_FLAG",
        `SVM parameter ${key} must be a positive number or a list of them`,
        { field: key },
      );
    }
    return list as number[];
  };
  for (const [key, v] of Object.entries(user)) {
    switch (key) {
      case "kernel":
        p.kernel = oneOf(key, v, SVM_KERNELS);
        break;
      case "coupling":
        p.coupling = oneOf(key, v, SVM_COUPLINGS);
        break;
      case "C":
        p.C = positives(key, v);
        break;
      case "gammaScale":
        p.gammaScale = positives(key, v);
        break;
      case "logScale":
        if (typeof v !== "number" || !(v > 0) || !Number.isFinite(v))
          throw new KeystrokeError("BAD_FLAG", "SVM parameter logScale must be a positive number", {
            field: key,
          });
        p.logScale = v;
        break;
      case "folds":
        if (!Number.isInteger(v) || (v as number) < 2)
          throw new KeystrokeError("BAD_FLAG", "SVM parameter folds must be an integer ≥ 2", { field: key });
        p.folds = v as number;
        break;
      case "transform":
        if (!SVM_TRANSFORMS.includes(v as SvmTransform))
          throw new KeystrokeError(
            "BAD_FLAG",
            `SVM parameter transform must be one of ${SVM_TRANSFORMS.join(", ")}`,
            { field: key },
          );
        p.transform = v as SvmTransform;
        break;
      case "platt":
        if (v !== "pooled" && v !== "pairwise")
          throw new KeystrokeError("BAD_FLAG", "SVM parameter platt must be pooled or pairwise", {
            field: key,
          });
        p.platt = v;
        break;
      case "gridRows":
        if (!Number.isInteger(v) || (v as number) < 2)
          throw new KeystrokeError("BAD_FLAG", "SVM parameter gridRows must be an integer ≥ 2", {
            field: key,
          });
        p.gridRows = v as number;
        break;
      case "search":
        if (v !== "coordinate" && v !== "grid")
          throw new KeystrokeError("BAD_FLAG", "SVM parameter search must be coordinate or grid", {
            field: key,
          });
        p.search = v;
        break;
      default:
        throw new KeystrokeError(
          "BAD_FLAG",
          `unknown SVM parameter "${key}" (kernel, coupling, C, gammaScale, folds, transform, logScale, platt, search, gridRows)`,
          { field: key },
        );
    }
  }
  return p;
}

/** Row indices stably sorted by class, so libsvm's model class order is ascending class index. */
function sortByClass(rows: number[], yi: number[]): number[] {
  return rows
    .map((r, pos) => [r, pos] as const)
    .sort((a, b) => yi[a[0]]! - yi[b[0]]! || a[1] - b[1])
    .map(([r]) => r);
}

/** Pair index of model classes a < b among k (libsvm's order: (0,1), (0,2), …, (1,2), …). */
function pairIndex(a: number, b: number, k: number): number {
  return a * k - (a * (a + 1)) / 2 + (b - a - 1);
}

/**
 * Scores one fold model on its held-out rows: counts libsvm's one-vs-one vote hits, and stores each
 * row's decision values against every other class, signed towards its own class (for the Platt fit).
 */
function scoreFold(
  m: ExtractedModel,
  Xtest: Float64Array[],
  test: number[],
  yi: number[],
  k: number,
  out: { correct: number; oof: Float64Array },
): void {
  const core = m.core;
  const km = core.nClass;
  const scratch = createScratch(core);
  const modelOf = new Int32Array(k).fill(-1);
  m.labels.forEach((label, mi) => (modelOf[label] = mi));
  const vote = new Int32Array(km);
  for (let t = 0; t < test.length; t++) {
    const row = test[t]!;
    const own = yi[row]!;
    const dec = decisionValues(core, Xtest[t]!, scratch);
    vote.fill(0);
    let p = 0;
    for (let i = 0; i < km; i++) for (let j = i + 1; j < km; j++) vote[dec[p++]! > 0 ? i : j]!++;
    if (m.labels[argmax(vote)] === own) out.correct++;
    const mo = modelOf[own]!;
    if (mo < 0) continue;
    let slot = row * (k - 1);
    for (let other = 0; other < k; other++) {
      if (other === own) continue;
      const mj = modelOf[other]!;
      if (mj >= 0) out.oof[slot] = mo < mj ? dec[pairIndex(mo, mj, km)]! : -dec[pairIndex(mj, mo, km)]!;
      slot++;
    }
  }
}

/** Platt parameters per class pair a < b (class indices): P(a beats b) = 1 / (1 + exp(A·f + B)). */
interface PlattFit {
  A: Float64Array;
  B: Float64Array;
}

function fitPlatt(oof: Float64Array, yi: number[], k: number, mode: PlattMode): PlattFit {
  const pairs = (k * (k - 1)) / 2;
  const A = new Float64Array(pairs);
  const B = new Float64Array(pairs);
  if (mode === "pooled") {
    // mirrored values (symmetric fit, B = 0): the sigmoid cannot favour the lower-indexed class of a pair
    // no out-of-fold evidence at all (one sample per user: a held-out row's user is never in its
    // training folds) leaves A = 0, every probability equal: fall back to P = sigmoid(decision value)
    const values = oof.filter((v) => !Number.isNaN(v));
    A.fill(values.length > 0 ? sigmoidTrainSymmetric(values) : -1);
    return { A, B };
  }
  const dec: number[][] = Array.from({ length: pairs }, () => []);
  const lab: number[][] = Array.from({ length: pairs }, () => []);
  for (let row = 0; row < yi.length; row++) {
    const own = yi[row]!;
    let slot = row * (k - 1);
    for (let other = 0; other < k; other++) {
      if (other === own) continue;
      const v = oof[slot++]!;
      if (Number.isNaN(v)) continue;
      const p = own < other ? pairIndex(own, other, k) : pairIndex(other, own, k);
      dec[p]!.push(own < other ? v : -v);
      lab[p]!.push(own < other ? 1 : -1);
    }
  }
  for (let p = 0; p < pairs; p++) [A[p], B[p]] = sigmoidTrain(dec[p]!, lab[p]!);
  return { A, B };
}

/** Writes the class-pair Platt parameters into the model's own pair order. */
function applyPlatt(m: ExtractedModel, fit: PlattFit, k: number): void {
  const km = m.core.nClass;
  let p = 0;
  for (let i = 0; i < km; i++) {
    for (let j = i + 1; j < km; j++) {
      const a = m.labels[i]!;
      const b = m.labels[j]!;
      const q = a < b ? pairIndex(a, b, k) : pairIndex(b, a, k);
      m.core.probA[p] = fit.A[q]!;
      // swapping a pair turns f into −f and P into 1 − P: the same A, the opposite B
      m.core.probB[p] = a < b ? fit.B[q]! : -fit.B[q]!;
      p++;
    }
  }
}

/**
 * 7 significant digits: support vectors and coefficients are nine tenths of a model file, and their
 * full 17 digits change decision values by ~1e-7 at most (measured: the same CV accuracy).
 */
function round7(v: number): number {
  return Number(v.toPrecision(7));
}

function stateFrom(m: ExtractedModel, scaler: SvmScaler, coupling: SvmCoupling): SvmState {
  const c = m.core;
  const d = c.nFeatures;
  const l = c.sv.length / d;
  return {
    scaler,
    kernel: c.kernel,
    coupling,
    gamma: c.gamma,
    order: [...m.labels],
    nSV: [...c.nSV],
    sv: Array.from({ length: l }, (_, s) => Array.from(c.sv.subarray(s * d, (s + 1) * d), round7)),
    coef: Array.from({ length: c.nClass - 1 }, (_, r) =>
      Array.from(c.coef.subarray(r * l, (r + 1) * l), round7),
    ),
    rho: Array.from(c.rho),
    probA: Array.from(c.probA),
    probB: Array.from(c.probB),
  };
}

// ---- loading helpers ------------------------------------------------------------------------------

function bad(message: string, field?: string): never {
  throw new KeystrokeError("BAD_MODEL_FILE", `SVM model: ${message}`, field ? { field } : {});
}

function isNumberArray(v: unknown, length?: number): v is number[] {
  return (
    Array.isArray(v) &&
    (length === undefined || v.length === length) &&
    v.every((x) => typeof x === "number" && Number.isFinite(x))
  );
}

function checkState(state: unknown, nClasses: number): SvmState {
  if (state === null || typeof state !== "object") bad("state is not an object", "state");
  const s = state as Partial<SvmState>;
  const sc = s.scaler as Partial<SvmScaler> | undefined;
  if (!sc || typeof sc !== "object") bad("no scaler", "state.scaler");
  if (!SVM_TRANSFORMS.includes(sc.transform as SvmTransform))
    bad("unknown transform", "state.scaler.transform");
  if (typeof sc.logScale !== "number" || !(sc.logScale > 0))
    bad("logScale must be positive", "state.scaler.logScale");
  if (!isNumberArray(sc.mean) || sc.mean.length === 0)
    bad("mean must be a list of numbers", "state.scaler.mean");
  const d = sc.mean.length;
  if (!isNumberArray(sc.std, d) || !sc.std.every((v) => v > 0))
    bad(`std must be ${d} positive numbers`, "state.scaler.std");
  if (s.kernel !== undefined && !SVM_KERNELS.includes(s.kernel))
    bad(`kernel must be one of ${SVM_KERNELS.join(", ")}`, "state.kernel");
  if (s.coupling !== undefined && !SVM_COUPLINGS.includes(s.coupling))
    bad(`coupling must be one of ${SVM_COUPLINGS.join(", ")}`, "state.coupling");
  if (typeof s.gamma !== "number" || !(s.gamma > 0) || !Number.isFinite(s.gamma))
    bad("gamma must be positive", "state.gamma");
  if (!isNumberArray(s.order) || s.order.length < 2 || s.order.length > nClasses)
    bad("order must list the model's classes", "state.order");
  const k = s.order.length;
  if (!s.order.every((v) => Number.isInteger(v) && v >= 0 && v < nClasses) || new Set(s.order).size !== k)
    bad("order must be distinct class indices", "state.order");
  if (!isNumberArray(s.nSV, k) || !s.nSV.every((v) => Number.isInteger(v) && v >= 0))
    bad(`nSV must be ${k} counts`, "state.nSV");
  const l = s.nSV.reduce((a, b) => a + b, 0);
  if (!Array.isArray(s.sv) || s.sv.length !== l || !s.sv.every((r) => isNumberArray(r, d)))
    bad(`sv must be ${l} rows of ${d} numbers`, "state.sv");
  if (!Array.isArray(s.coef) || s.coef.length !== k - 1 || !s.coef.every((r) => isNumberArray(r, l)))
    bad(`coef must be ${k - 1} rows of ${l} numbers`, "state.coef");
  const pairs = (k * (k - 1)) / 2;
  if (!isNumberArray(s.rho, pairs)) bad(`rho must be ${pairs} numbers`, "state.rho");
  if (!isNumberArray(s.probA, pairs)) bad(`probA must be ${pairs} numbers`, "state.probA");
  if (!isNumberArray(s.probB, pairs)) bad(`probB must be ${pairs} numbers`, "state.probB");
  return s as SvmState;
}

function coreFromState(s: SvmState): SvmCore {
  const d = s.scaler.mean.length;
  const l = s.sv.length;
  const sv = new Float64Array(l * d);
  s.sv.forEach((row, i) => sv.set(row, i * d));
  const coef = new Float64Array(Math.max(0, s.order.length - 1) * l);
  s.coef.forEach((row, r) => coef.set(row, r * l));
  return {
    nClass: s.order.length,
    nFeatures: d,
    kernel: s.kernel ?? "rbf",
    gamma: s.gamma,
    nSV: s.nSV,
    sv,
    coef,
    rho: Float64Array.from(s.rho),
    probA: Float64Array.from(s.probA),
    probB: Float64Array.from(s.probB),
  };
}
