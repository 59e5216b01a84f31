import { describe, expect, it, vi } from "vitest";
import { isKeystrokeError } from "../../src/errors.js";
import type { Label } from "../../src/data/types.js";
import type { SerializedModel, TrainProgress } from "../../src/models/types.js";
import { fitSvm, loadSvm, type SvmState } from "../../src/models/svm.js";
import { loadLibsvm, parseLibsvmModel, toLibsvmText, trainSvc } from "../../src/models/svm-libsvm.js";
import {
  createScratch,
  decisionValues,
  laplacianKernel,
  predictProbabilities,
  type SvmCore,
} from "../../src/models/svm-predict.js";
import { applyScaler } from "../../src/models/svm-scaler.js";
import { createRng, normal } from "../../src/util/random.js";

/** Gaussian blobs, one per class, far apart in 5 dimensions, on a millisecond-like scale. */
function blobs(seed: number, perClass: number, labels: Label[]): { X: number[][]; y: Label[] } {
  const rng = createRng(seed);
  const X: number[][] = [];
  const y: Label[] = [];
  labels.forEach((label, c) => {
    const centre = Array.from(
      { length: 5 },
      (_, f) => 100 + 60 * ((c >> f) & 1) + 40 * c * (f === 4 ? 1 : 0),
    );
    for (let i = 0; i < perClass; i++) {
      X.push(centre.map((m) => m + 8 * normal(rng)));
      y.push(label);
    }
  });
  return { X, y };
}

function coreOf(state: SvmState): SvmCore {
  return {
    nClass: state.order.length,
    nFeatures: state.scaler.mean.length,
    kernel: state.kernel ?? "rbf",
    gamma: state.gamma,
    nSV: state.nSV,
    sv: Float64Array.from(state.sv.flat()),
    coef: Float64Array.from(state.coef.flat()),
    rho: Float64Array.from(state.rho),
    probA: Float64Array.from(state.probA),
    probB: Float64Array.from(state.probB),
  };
}

const LABELS: Label[] = [7, 3, 12, 5];
const train = blobs(1, 20, LABELS);
const test = blobs(2, 25, LABELS);

describe("fitSvm on a separable fixture", async () => {
  const events: TrainProgress[] = [];
  const model = await fitSvm(train.X, train.y, { seed: 42, onProgress: (p) => events.push({ ...p }) });

  it("classifies held-out rows correctly (> 95%)", () => {
    let ok = 0;
    for (let i = 0; i < test.X.length; i++)
      if (model.classes[model.predictIndex(test.X[i]!)] === test.y[i]) ok++;
    expect(ok / test.X.length).toBeGreaterThan(0.95);
  });

  it("keeps numeric classes numeric and sorted", () => {
    expect(model.classes).toEqual([3, 5, 7, 12]);
    expect(model.nFeatures).toBe(5);
    expect(model.algorithm).toBe("SVM");
  });

  it("predicts the argmax of its probabilities, which sum to 1", () => {
    for (const row of test.X.slice(0, 30)) {
      const p = model.predictProba(row);
      expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
      const top = p.indexOf(Math.max(...p));
      expect(model.predictIndex(row)).toBe(top);
    }
  });

  it("reports every grid-search fit as a fold event", () => {
    // coordinate search: 3 gammas at C = 10, then C = 1 and 100 → 5 fits per fold, 3 folds
    expect(events.length).toBe(15);
    expect(events.every((e) => e.algorithm === "SVM" && e.phase === "folds" && e.total === 15)).toBe(true);
    expect(events.map((e) => e.done)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
  });

  it("records the hyperparameters it chose", () => {
    expect(model.params.kernel).toBe("laplacian");
    expect(model.params.coupling).toBe("price");
    expect([1, 10, 100]).toContain(model.params.C);
    expect([0.5, 1, 2]).toContain(model.params.gammaScale);
    expect(model.params.gamma).toBeCloseTo((model.params.gammaScale as number) / 5, 15);
    expect(model.params.cvAccuracy).toBeGreaterThan(0.9);
  });

  it("saves and loads to identical probabilities", () => {
    const text = JSON.stringify(model.toJSON());
    const loaded = loadSvm(JSON.parse(text) as SerializedModel);
    expect(loaded.classes).toEqual(model.classes);
    for (const row of test.X.slice(0, 20))
      expect(Array.from(loaded.predictProba(row))).toEqual(Array.from(model.predictProba(row)));
    expect(JSON.stringify(loaded.toJSON())).toBe(text);
  });

  it("stores support vectors and coefficients to 7 significant digits", () => {
    const state = model.toJSON().state as SvmState;
    for (const v of [...state.sv.flat(), ...state.coef.flat()]) expect(Number(v.toPrecision(7))).toBe(v);
  });

  it("has libsvm's decision values and, with libsvm's coupling, its probabilities (precomputed Laplacian)", async () => {
    const state = model.toJSON().state as SvmState;
    const core = coreOf(state);
    const scratch = createScratch(core);
    const lib = await loadLibsvm();
    const ref = lib.SVM.load(toLibsvmText(core, state.order));
    try {
      const rng = createRng(9);
      const rows = [
        ...test.X.slice(0, 40),
        ...Array.from({ length: 40 }, () => Array.from({ length: 5 }, () => 80 + 120 * rng())),
      ];
      const k = core.nClass;
      const votes = new Int32Array(k);
      for (const row of rows) {
        const scaled = Array.from(applyScaler(state.scaler, row));
        // libsvm's precomputed rows: [0, K(x, sv_1), …, K(x, sv_l)]
        const gram = [0, ...state.sv.map((sv) => laplacianKernel(scaled, sv, state.gamma))];
        const dec = decisionValues(core, scaled, scratch);
        votes.fill(0);
        let p = 0;
        for (let i = 0; i < k; i++) for (let j = i + 1; j < k; j++) votes[dec[p++]! > 0 ? i : j]!++;
        expect(votes.indexOf(Math.max(...votes))).toBe(ref.predictOne(gram));
        const r = ref.predictOneProbability(gram);
        const wlw = predictProbabilities(core, scaled, scratch, "wu-lin-weng");
        for (const e of r.estimates) expect(Math.abs(wlw[e.label]! - e.probability)).toBeLessThan(1e-9);
      }
    } finally {
      ref.free();
    }
  });

  it("refuses a wrong number of features", () => {
    expect(() => model.predictProba([1, 2, 3])).toThrow(/expects 5 features/);
  });
});

describe("an RBF model with libsvm's coupling", async () => {
  const model = await fitSvm(train.X, train.y, {
    seed: 42,
    params: { kernel: "rbf", coupling: "wu-lin-weng" },
  });

  it("matches libsvm-js's predictProbability and label on the same model", async () => {
    const state = model.toJSON().state as SvmState;
    expect(state.kernel).toBe("rbf");
    const lib = await loadLibsvm();
    const ref = lib.SVM.load(toLibsvmText(coreOf(state), state.order));
    try {
      const rng = createRng(9);
      // held-out rows plus random points between and beyond the blobs
      const rows = [
        ...test.X.slice(0, 40),
        ...Array.from({ length: 40 }, () => Array.from({ length: 5 }, () => 80 + 120 * rng())),
      ];
      for (const row of rows) {
        const scaled = Array.from(applyScaler(state.scaler, row));
        const r = ref.predictOneProbability(scaled);
        const p = model.predictProba(row);
        for (const e of r.estimates)
          expect(Math.abs(p[state.order[e.label]!]! - e.probability)).toBeLessThan(1e-9);
        expect(model.predictIndex(row)).toBe(state.order[r.prediction]);
      }
    } finally {
      ref.free();
    }
  });

  it("reads a model file written before kernels and couplings were stored as RBF + libsvm coupling", () => {
    const json = JSON.parse(JSON.stringify(model.toJSON())) as SerializedModel & { state: SvmState };
    delete json.state.kernel;
    delete json.state.coupling;
    const old = loadSvm(json);
    for (const row of test.X.slice(0, 10))
      expect(Array.from(old.predictProba(row))).toEqual(Array.from(model.predictProba(row)));
  });
});

describe("libsvm extraction", () => {
  it("reads the same model from memory as libsvm's text, at full precision", async () => {
    const { X } = blobs(3, 10, [0, 1, 2]);
    const y = X.map((_, i) => Math.floor(i / 10));
    const scaled = X.map((r) => r.map((v) => (v - 130) / 40));
    const lib = await loadLibsvm();
    const fromMemory = trainSvc(lib, scaled, y, { C: 3, gamma: 0.4, kernel: "rbf" });
    const svm = new lib.SVM({
      type: lib.SVM.SVM_TYPES.C_SVC,
      kernel: lib.SVM.KERNEL_TYPES.RBF,
      gamma: 0.4,
      cost: 3,
      quiet: true,
    });
    svm.train(scaled, y);
    const text = parseLibsvmModel(svm.serializeModel());
    svm.free();
    expect(fromMemory.labels).toEqual(text.labels);
    expect(fromMemory.core.nSV).toEqual(text.nSV);
    Array.from(fromMemory.core.rho).forEach((v, p) =>
      expect(Math.abs(v - text.rho[p]!)).toBeLessThanOrEqual(5e-6 * Math.abs(v)),
    );
    const l = text.totalSV;
    for (let s = 0; s < l; s++)
      for (let c = 0; c < 2; c++) expect(fromMemory.core.coef[c * l + s]).toBeCloseTo(text.coefs[s]![c]!, 12);
  });

  it("reads a precomputed-kernel (Laplacian) model from memory as libsvm's text has it", async () => {
    const { X } = blobs(3, 10, [0, 1, 2]);
    const y = X.map((_, i) => Math.floor(i / 10));
    const scaled = X.map((r) => r.map((v) => (v - 130) / 40));
    const lib = await loadLibsvm();
    const fromMemory = trainSvc(lib, scaled, y, { C: 3, gamma: 0.4, kernel: "laplacian" });
    const svm = new lib.SVM({
      type: lib.SVM.SVM_TYPES.C_SVC,
      kernel: lib.SVM.KERNEL_TYPES.PRECOMPUTED,
      cost: 3,
      quiet: true,
    });
    svm.train(
      scaled.map((a, i) => [i + 1, ...scaled.map((b) => laplacianKernel(a, b, 0.4))]),
      y,
    );
    const indices = svm.getSVIndices();
    const text = parseLibsvmModel(svm.serializeModel());
    svm.free();
    expect(text.kernelType).toBe("precomputed");
    expect(fromMemory.core.kernel).toBe("laplacian");
    expect(fromMemory.core.nSV).toEqual(text.nSV);
    // the support vectors are the training rows libsvm names by number
    text.svs.forEach((sv, s) => expect(sv.get(0)).toBe(indices[s]! + 1));
    indices.forEach((row, s) =>
      expect(Array.from(fromMemory.core.sv.subarray(s * 5, s * 5 + 5))).toEqual(scaled[row]),
    );
    const l = text.totalSV;
    for (let s = 0; s < l; s++)
      for (let c = 0; c < 2; c++) expect(fromMemory.core.coef[c * l + s]).toBeCloseTo(text.coefs[s]![c]!, 12);
  });

  it("evaluates a libsvm-trained probability model like libsvm-js does", async () => {
    const { X } = blobs(4, 12, [0, 1, 2, 3]);
    const y = X.map((_, i) => Math.floor(i / 12));
    const scaled = X.map((r) => r.map((v) => (v - 140) / 50));
    const lib = await loadLibsvm();
    const svm = new lib.SVM({
      type: lib.SVM.SVM_TYPES.C_SVC,
      kernel: lib.SVM.KERNEL_TYPES.RBF,
      gamma: 0.5,
      cost: 1,
      probabilityEstimates: true,
      quiet: true,
    });
    svm.train(scaled, y);
    const textModel = svm.serializeModel();
    svm.free();
    const parsed = parseLibsvmModel(textModel);
    const d = 5;
    const core: SvmCore = {
      nClass: parsed.nClass,
      nFeatures: d,
      kernel: "rbf",
      gamma: parsed.gamma,
      nSV: parsed.nSV,
      sv: Float64Array.from(
        parsed.svs.flatMap((m) => Array.from({ length: d }, (_, f) => m.get(f + 1) ?? 0)),
      ),
      coef: Float64Array.from(
        { length: (parsed.nClass - 1) * parsed.totalSV },
        (_, i) => parsed.coefs[i % parsed.totalSV]![Math.floor(i / parsed.totalSV)]!,
      ),
      rho: Float64Array.from(parsed.rho),
      probA: Float64Array.from(parsed.probA!),
      probB: Float64Array.from(parsed.probB!),
    };
    const ref = lib.SVM.load(textModel);
    const scratch = createScratch(core);
    try {
      for (const row of scaled) {
        const r = ref.predictOneProbability(row);
        const p = predictProbabilities(core, row, scratch);
        r.estimates.forEach((e, m) => expect(Math.abs(p[m]! - e.probability)).toBeLessThan(1e-9));
        expect(parsed.labels[p.indexOf(Math.max(...p))]).toBe(r.prediction);
      }
    } finally {
      ref.free();
    }
  });
});

describe("fitSvm behaviour", () => {
  const small = blobs(5, 8, [1, 2, 3]);

  it("gives byte-identical JSON for the same data and seed", async () => {
    const a = await fitSvm(small.X, small.y, { seed: 7 });
    const b = await fitSvm(small.X, small.y, { seed: 7 });
    expect(JSON.stringify(b.toJSON())).toBe(JSON.stringify(a.toJSON()));
  });

  it("orders mixed labels numbers ascending, then strings", async () => {
    const { X } = blobs(6, 6, [0, 1, 2, 3]);
    const y: Label[] = X.map((_, i) => [10, "b", 2, "a"][Math.floor(i / 6)]!);
    const m = await fitSvm(X, y, { seed: 1, params: { C: 10, gammaScale: 1 } });
    expect(m.classes).toEqual([2, 10, "a", "b"]);
    expect(m.classes[m.predictIndex(X[0]!)]).toBe(10);
  });

  it("prints nothing and leaves no process handlers behind", async () => {
    const before = process.listeners("unhandledRejection").length;
    const warn = vi.spyOn(console, "warn");
    const log = vi.spyOn(console, "log");
    const err = vi.spyOn(process.stderr, "write");
    try {
      await fitSvm(small.X, small.y, { seed: 3, params: { C: 10, gammaScale: 1 } });
      expect(warn).not.toHaveBeenCalled();
      expect(log).not.toHaveBeenCalled();
      expect(err).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
      log.mockRestore();
      err.mockRestore();
    }
    expect(process.listeners("unhandledRejection").length).toBe(before);
  });

  it("refuses one class, bad parameters and ragged rows with KeystrokeErrors", async () => {
    const codeOf = (p: Promise<unknown>) =>
      p.then(
        () => "resolved",
        (e: unknown) => (isKeystrokeError(e) ? e.code : String(e)),
      );
    expect(await codeOf(fitSvm(small.X.slice(0, 8), small.y.slice(0, 8), { seed: 1 }))).toBe(
      "TOO_FEW_SAMPLES",
    );
    expect(await codeOf(fitSvm(small.X, small.y, { seed: 1, params: { C: -1 } }))).toBe("BAD_FLAG");
    expect(await codeOf(fitSvm(small.X, small.y, { seed: 1, params: { kernel: "linear" } }))).toBe(
      "BAD_FLAG",
    );
    expect(await codeOf(fitSvm(small.X, small.y, { seed: 1, params: { coupling: "vote" } }))).toBe(
      "BAD_FLAG",
    );
    const ragged = small.X.map((r, i) => (i === 4 ? r.slice(1) : r));
    // the same code as RF and XGB give (models/common.ts)
    expect(await codeOf(fitSvm(ragged, small.y, { seed: 1 }))).toBe("BAD_ROW");
  });
});

describe("loadSvm refuses corrupted models", async () => {
  const { X, y } = blobs(8, 6, [1, 2, 3]);
  const good = (await fitSvm(X, y, { seed: 1, params: { C: 10, gammaScale: 1 } })).toJSON();
  const copy = () =>
    JSON.parse(JSON.stringify(good)) as SerializedModel & { state: SvmState & Record<string, unknown> };

  const corruptions: Array<[string, (m: ReturnType<typeof copy>) => void]> = [
    ["wrong algorithm", (m) => ((m as { algorithm: string }).algorithm = "RF")],
    ["duplicate classes", (m) => (m.classes = [1, 1, 3])],
    ["missing state", (m) => ((m as { state: unknown }).state = null)],
    ["missing scaler", (m) => delete (m.state as Partial<SvmState>).scaler],
    ["zero std", (m) => (m.state.scaler.std[0] = 0)],
    ["short support vector", (m) => m.state.sv[0]!.pop()],
    ["missing coefficient row", (m) => m.state.coef.pop()],
    ["rho that is not a number", (m) => ((m.state.rho as unknown[])[0] = null)],
    ["class index out of range", (m) => (m.state.order[0] = 9)],
    ["nSV not matching the support vectors", (m) => (m.state.nSV[0] = m.state.nSV[0]! + 1)],
    ["negative gamma", (m) => (m.state.gamma = -1)],
    ["unknown kernel", (m) => ((m.state as { kernel: string }).kernel = "sigmoid")],
    ["unknown coupling", (m) => ((m.state as { coupling: string }).coupling = "vote")],
  ];
  it.each(corruptions)("refuses %s", (_name, corrupt) => {
    const m = copy();
    corrupt(m);
    let caught: unknown;
    try {
      loadSvm(m);
    } catch (e) {
      caught = e;
    }
    expect(isKeystrokeError(caught) && caught.code).toBe("BAD_MODEL_FILE");
  });

  it("accepts the uncorrupted copy", () => {
    expect(loadSvm(copy()).classes).toEqual([1, 2, 3]);
  });
});
