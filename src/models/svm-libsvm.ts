// The only place that touches libsvm-js (wasm): loading it quietly, training one C-SVC (RBF built in,
// Laplacian through a precomputed Gram matrix) and taking the model out as full-precision numbers,
// and writing our state back in libsvm's text format.
import { createRequire } from "node:module";
import { laplacianKernel, type SvmCore, type SvmKernel } from "./svm-predict.js";

/** The parts of libsvm-js's SVM class used here. */
interface LibsvmModel {
  model: number;
  train(samples: number[][], labels: number[]): void;
  serializeModel(): string;
  getSVIndices(): number[];
  getLabels(): number[];
  free(): void;
}
interface LibsvmStatic {
  new (options: Record<string, unknown>): LibsvmModel;
  load(serialized: string): LibsvmModel & {
    predictOne(x: number[]): number;
    predictOneProbability(x: number[]): {
      prediction: number;
      estimates: Array<{ label: number; probability: number }>;
    };
  };
  KERNEL_TYPES: Record<string, string>;
  SVM_TYPES: Record<string, string>;
}
/** The emscripten module object: its heap views are replaced when memory grows, so read them late. */
interface EmscriptenModule {
  load(): Promise<void>;
  HEAP32: Int32Array;
  HEAPF64: Float64Array;
  print: (s: string) => void;
  printErr: (s: string) => void;
}

/** One private libsvm instance: its own wasm memory, dropped with the handle. */
export interface Libsvm {
  SVM: LibsvmStatic;
  module: EmscriptenModule;
}

/**
 * Loads a fresh libsvm-js wasm instance. It is silenced (its glue prints a harmless streaming-compile
 * warning on stderr) and the `unhandledRejection` handler its glue installs — which would make any
 * unhandled rejection exit the whole process — is removed again. A fresh instance per fit keeps
 * libsvm's internal state (rand(), heap) from leaking between fits; it is garbage once dropped.
 */
export async function loadLibsvm(): Promise<Libsvm> {
  const require = createRequire(import.meta.url);
  const gluePath = require.resolve("libsvm-js/out/wasm/libsvm.js");
  const before = new Set(process.listeners("unhandledRejection"));
  delete require.cache[gluePath];
  let module: EmscriptenModule;
  try {
    module = require(gluePath) as EmscriptenModule;
  } finally {
    delete require.cache[gluePath];
    for (const l of process.listeners("unhandledRejection"))
      if (!before.has(l)) process.removeListener("unhandledRejection", l);
  }
  const quiet = () => {};
  module.print = quiet;
  module.printErr = quiet;
  await module.load();
  const loadSVM = require("libsvm-js/src/loadSVM.js") as (m: EmscriptenModule) => LibsvmStatic;
  return { SVM: loadSVM(module), module };
}

/** A trained model taken out of libsvm: the core in model class order and that order's labels. */
export interface ExtractedModel {
  core: SvmCore;
  /** libsvm's label of each model class (the integers passed to train). */
  labels: number[];
}

/** What the text of a libsvm model holds (only what an RBF or precomputed-kernel C-SVC has). */
export interface ParsedLibsvmModel {
  /** "precomputed": each support vector is `0:n`, the 1-based number of its training row. */
  kernelType: "rbf" | "precomputed";
  gamma: number;
  nClass: number;
  totalSV: number;
  rho: number[];
  labels: number[];
  probA?: number[];
  probB?: number[];
  nSV: number[];
  /** (nClass − 1) coefficient columns per support vector. */
  coefs: number[][];
  /** Sparse support vectors: feature index (1-based) → value. */
  svs: Array<Map<number, number>>;
}

/** Parses libsvm's text model format (svm_save_model); throws on anything but an RBF or precomputed C-SVC. */
export function parseLibsvmModel(text: string): ParsedLibsvmModel {
  const lines = text.split("\n");
  const head = new Map<string, string[]>();
  let i = 0;
  for (; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "SV") break;
    if (line === "") continue;
    const [key, ...rest] = line.split(/\s+/);
    head.set(key!, rest);
  }
  if (i === lines.length) throw new Error("libsvm model text has no SV section");
  const one = (key: string) => {
    const v = head.get(key);
    if (!v || v.length !== 1) throw new Error(`libsvm model text: bad "${key}"`);
    return v[0]!;
  };
  const nums = (key: string) => {
    const v = head.get(key);
    if (!v) throw new Error(`libsvm model text: no "${key}"`);
    return v.map(Number);
  };
  const kernelType = one("kernel_type");
  if (one("svm_type") !== "c_svc" || (kernelType !== "rbf" && kernelType !== "precomputed"))
    throw new Error("libsvm model is not an RBF or precomputed C-SVC");
  const nClass = Number(one("nr_class"));
  const totalSV = Number(one("total_sv"));
  const coefs: number[][] = [];
  const svs: Array<Map<number, number>> = [];
  for (i++; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "") continue;
    const parts = line.split(/\s+/);
    coefs.push(parts.slice(0, nClass - 1).map(Number));
    const sv = new Map<number, number>();
    for (const part of parts.slice(nClass - 1)) {
      const [idx, val] = part.split(":");
      sv.set(Number(idx), Number(val));
    }
    svs.push(sv);
  }
  if (svs.length !== totalSV)
    throw new Error(`libsvm model text: ${svs.length} support vectors, header says ${totalSV}`);
  return {
    kernelType,
    gamma: kernelType === "rbf" ? Number(one("gamma")) : NaN,
    nClass,
    totalSV,
    rho: nums("rho"),
    labels: nums("label"),
    probA: head.has("probA") ? nums("probA") : undefined,
    probB: head.has("probB") ? nums("probB") : undefined,
    nSV: nums("nr_sv"),
    coefs,
    svs,
  };
}

/** Options of one libsvm training run. */
export interface TrainOptions {
  C: number;
  gamma: number;
  kernel: SvmKernel;
}

const KERNEL_TYPE = { rbf: 2, precomputed: 4 } as const;

/**
 * Trains a C-SVC without probability estimates (they are fitted in TypeScript) and takes the model
 * out. libsvm has no Laplacian kernel: it gets the Gram matrix (each row `[n, K(x_n, x_1), …]`).
 * Support vectors come from `X` by index (exact). The rest is read from the model's memory:
 * libsvm-js's serializeModel is slow (its in-memory file grows in small steps) and prints rho with only
 * 6 significant digits. Should the memory layout not check out, the text format is the fallback.
 */
export function trainSvc(lib: Libsvm, X: number[][], y: number[], options: TrainOptions): ExtractedModel {
  const { SVM } = lib;
  const precomputed = options.kernel === "laplacian";
  const svm = new SVM({
    type: SVM.SVM_TYPES.C_SVC,
    kernel: precomputed ? SVM.KERNEL_TYPES.PRECOMPUTED : SVM.KERNEL_TYPES.RBF,
    gamma: options.gamma,
    cost: options.C,
    probabilityEstimates: false,
    quiet: true,
  });
  try {
    svm.train(precomputed ? gramRows(X, options.gamma) : X, y);
    const labels = svm.getLabels();
    const indices = svm.getSVIndices();
    const svRows = indices.map((j) => X[j]!);
    const type = precomputed ? KERNEL_TYPE.precomputed : KERNEL_TYPE.rbf;
    const fromMemory = readModel(lib, svm.model, options, type, labels, indices);
    if (fromMemory) return { core: coreFrom(fromMemory, svRows, options, null), labels };
    const parsed = parseLibsvmModel(svm.serializeModel());
    return { core: coreFrom(parsed, svRows, options, precomputed ? indices : null), labels: parsed.labels };
  } finally {
    svm.free();
  }
}

/** libsvm's precomputed-kernel rows: the 1-based row number, then the row's Laplacian kernel values. */
function gramRows(X: number[][], gamma: number): number[][] {
  const n = X.length;
  const rows = X.map((_, i) => {
    const row = new Array<number>(n + 1);
    row[0] = i + 1;
    row[i + 1] = 1;
    return row;
  });
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const v = laplacianKernel(X[i]!, X[j]!, gamma);
      rows[i]![j + 1] = v;
      rows[j]![i + 1] = v;
    }
  }
  return rows;
}

/**
 * The core of an extracted model; with `indices`, the text's support vectors are checked against
 * them: an RBF model's against the training rows' values (the text keeps 8 digits, so a larger gap
 * means a wrong index mapping, not rounding), a precomputed one's row numbers against the indices.
 */
function coreFrom(
  parsed: Omit<ParsedLibsvmModel, "svs" | "kernelType"> & { svs?: ParsedLibsvmModel["svs"] },
  svRows: number[][],
  options: TrainOptions,
  indices: number[] | null,
): SvmCore {
  const d = svRows[0]?.length ?? 0;
  const l = parsed.totalSV;
  const sv = new Float64Array(l * d);
  const coef = new Float64Array(Math.max(0, parsed.nClass - 1) * l);
  for (let s = 0; s < l; s++) {
    const row = svRows[s]!;
    const fromText = parsed.svs?.[s];
    if (fromText && options.kernel === "laplacian" && indices && fromText.get(0) !== indices[s]! + 1)
      throw new Error(`libsvm support vector ${s} is not training row ${indices[s]}`);
    for (let f = 0; f < d; f++) {
      if (fromText && options.kernel === "rbf") {
        const t = fromText.get(f + 1) ?? 0;
        if (Math.abs(t - row[f]!) > 1e-6 * Math.max(1, Math.abs(t)))
          throw new Error(`libsvm support vector ${s} does not match training row`);
      }
      sv[s * d + f] = row[f]!;
    }
    for (let c = 0; c < parsed.nClass - 1; c++) coef[c * l + s] = parsed.coefs[s]![c]!;
  }
  const pairs = (parsed.nClass * (parsed.nClass - 1)) / 2;
  return {
    nClass: parsed.nClass,
    nFeatures: d,
    kernel: options.kernel,
    gamma: options.gamma,
    nSV: parsed.nSV,
    sv,
    coef,
    rho: Float64Array.from(parsed.rho),
    probA: new Float64Array(pairs),
    probB: new Float64Array(pairs),
  };
}

// struct svm_model in wasm32 (libsvm 3.22): struct svm_parameter (96 bytes: svm_type 0, kernel_type 4,
// gamma 16, C 48), then nr_class 96, l 100, SV 104, sv_coef 108, rho 112, probA 116, probB 120,
// sv_indices 124, label 128, nSV 132. Every read is checked against what libsvm-js's API reports.
const OFF = {
  svmType: 0,
  kernelType: 4,
  gamma: 16,
  C: 48,
  nrClass: 96,
  l: 100,
  svCoef: 108,
  rho: 112,
  svIndices: 124,
  label: 128,
  nSV: 132,
};

function readModel(
  lib: Libsvm,
  m: number,
  options: TrainOptions,
  kernelType: number,
  labels: number[],
  indices: number[],
): Omit<ParsedLibsvmModel, "svs" | "kernelType"> | null {
  const h32 = lib.module.HEAP32;
  const f64 = lib.module.HEAPF64;
  const int = (off: number) => h32[(m + off) >> 2]!;
  const ints = (ptr: number, n: number) =>
    ptr > 0 && ptr % 4 === 0 && ptr / 4 + n <= h32.length
      ? Array.from(h32.subarray(ptr / 4, ptr / 4 + n))
      : null;
  const doubles = (ptr: number, n: number) =>
    ptr > 0 && ptr % 8 === 0 && ptr / 8 + n <= f64.length
      ? Array.from(f64.subarray(ptr / 8, ptr / 8 + n))
      : null;
  const k = labels.length;
  const l = indices.length;
  if (m <= 0 || m % 8 !== 0) return null;
  if (
    int(OFF.svmType) !== 0 ||
    int(OFF.kernelType) !== kernelType ||
    int(OFF.nrClass) !== k ||
    int(OFF.l) !== l
  )
    return null;
  if (f64[(m + OFF.gamma) >> 3] !== options.gamma || f64[(m + OFF.C) >> 3] !== options.C) return null;
  const label = ints(int(OFF.label), k);
  const svIndices = ints(int(OFF.svIndices), l);
  const nSV = ints(int(OFF.nSV), k);
  if (!label || !svIndices || !nSV) return null;
  if (label.some((v, i) => v !== labels[i]) || svIndices.some((v, i) => v !== indices[i]! + 1)) return null;
  if (nSV.reduce((a, b) => a + b, 0) !== l) return null;
  const pairs = (k * (k - 1)) / 2;
  const rho = k > 1 ? doubles(int(OFF.rho), pairs) : [];
  const coefPtrs = k > 1 ? ints(int(OFF.svCoef), k - 1) : [];
  if (!rho || !coefPtrs) return null;
  const rows: number[][] = [];
  for (const ptr of coefPtrs) {
    const row = doubles(ptr, l);
    if (!row) return null;
    rows.push(row);
  }
  if (!rho.every(Number.isFinite) || !rows.every((r) => r.every(Number.isFinite))) return null;
  return {
    gamma: options.gamma,
    nClass: k,
    totalSV: l,
    rho,
    labels,
    nSV,
    coefs: Array.from({ length: l }, (_, s) => rows.map((r) => r[s]!)),
  };
}

/**
 * Writes a core back in libsvm's text model format (full precision), e.g. for libsvm-js's SVM.load.
 * A Laplacian core becomes a precomputed-kernel model whose support vector s is `0:s+1`: libsvm then
 * predicts a row given as `[0, K(x, sv_1), …, K(x, sv_l)]`.
 */
export function toLibsvmText(core: SvmCore, labels: readonly number[]): string {
  const k = core.nClass;
  const d = core.nFeatures;
  const l = core.sv.length / Math.max(1, d);
  const precomputed = core.kernel === "laplacian";
  const out = [
    "svm_type c_svc",
    ...(precomputed ? ["kernel_type precomputed"] : ["kernel_type rbf", `gamma ${core.gamma}`]),
    `nr_class ${k}`,
    `total_sv ${l}`,
    `rho ${Array.from(core.rho).join(" ")}`,
    `label ${labels.join(" ")}`,
    `probA ${Array.from(core.probA).join(" ")}`,
    `probB ${Array.from(core.probB).join(" ")}`,
    `nr_sv ${core.nSV.join(" ")}`,
    "SV",
  ];
  for (let s = 0; s < l; s++) {
    const parts: string[] = [];
    for (let c = 0; c < k - 1; c++) parts.push(String(core.coef[c * l + s]));
    if (precomputed) parts.push(`0:${s + 1}`);
    else for (let f = 0; f < d; f++) parts.push(`${f + 1}:${core.sv[s * d + f]}`);
    out.push(parts.join(" ") + " ");
  }
  return out.join("\n") + "\n";
}
