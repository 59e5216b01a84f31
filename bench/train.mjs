// bench:train — stratified 5-fold CV accuracy and fit time of our models (RF, XGB, SVM: whatever
// dist/models/index.js can fit) on both feature sets, next to the Python reference (train.py --cv 5)
// measured in the same run, plus ml-random-forest at a reduced setting to keep the choice of our own
// forest justified. `KEYSTROKE_BENCH_SWEEP=1` adds the hyperparameter sweep behind the defaults.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ANCHORS, BIN, ROOT, ensurePython, measure, median, printTable, sharedData } from "./lib.mjs";
import trainScale, { SCALE_ONLY } from "./train-scale.mjs";

const DIST = join(ROOT, "dist");
const dist = (p) => import(pathToFileURL(join(DIST, p)).href);
const FOLDS = 5;
const FOLD_SEED = 0;
const FIT_SEED = 1;
const ALGORITHMS = ["SVM", "RF", "XGB"];
const SETS = ["timings", "summary"];

/** Samples of the shared CSV: through readDataset when src/data has it, else a plain wide-CSV parse. */
export async function loadSamples(path) {
  if (existsSync(join(DIST, "data", "index.js"))) {
    const data = await dist("data/index.js");
    if (typeof data.readDataset === "function")
      return (await data.readDataset(path, { requireLabel: true })).samples;
  }
  const [head, ...lines] = readFileSync(path, "utf8").trim().split(/\r?\n/);
  const cols = head.split(",");
  const keys = cols.filter((c) => c.startsWith("press-")).length;
  const label = cols.indexOf("UserID");
  return lines.map((line) => {
    const cells = line.split(",");
    const at = (name) => Number(cells[cols.indexOf(name)]);
    return {
      press: Array.from({ length: keys }, (_, i) => at(`press-${i}`)),
      release: Array.from({ length: keys }, (_, i) => at(`release-${i}`)),
      label: Number.isFinite(Number(cells[label])) ? Number(cells[label]) : cells[label],
    };
  });
}

/** Fold index of every row: each class shuffled with a fixed seed, then dealt round-robin over the folds. */
export async function stratifiedFolds(y, k = FOLDS, seed = FOLD_SEED) {
  const { createRng, shuffle } = await dist("util/random.js");
  const rng = createRng(seed);
  const byClass = new Map();
  y.forEach((c, i) => (byClass.get(c) ?? byClass.set(c, []).get(c)).push(i));
  const keys = [...byClass.keys()].sort((a, b) =>
    typeof a === typeof b ? (a < b ? -1 : a > b ? 1 : 0) : typeof a === "number" ? -1 : 1,
  );
  const fold = new Int32Array(y.length);
  let next = 0;
  for (const c of keys) for (const i of shuffle(rng, byClass.get(c))) fold[i] = next++ % k;
  return fold;
}

/** Mean accuracy and mean fit seconds over the folds; throws whatever the fit throws. */
export async function crossValidate(fit, X, y, fold, k = FOLDS) {
  let acc = 0;
  let fitS = 0;
  for (let f = 0; f < k; f++) {
    const tr = [];
    const te = [];
    for (let i = 0; i < y.length; i++) (fold[i] === f ? te : tr).push(i);
    const t0 = performance.now();
    const model = await fit(
      tr.map((i) => X[i]),
      tr.map((i) => y[i]),
    );
    fitS += (performance.now() - t0) / 1000;
    let ok = 0;
    for (const i of te) if (model.classes[model.predictIndex(X[i])] === y[i]) ok++;
    acc += ok / te.length;
  }
  return { accuracy: acc / k, fitS: fitS / k };
}

function python(data, set) {
  const r = spawnSync(
    "/usr/bin/python3",
    [join(ANCHORS, "train.py"), data, "--cv", String(FOLDS), "--features", set],
    { encoding: "utf8", maxBuffer: 1 << 26 },
  );
  if (r.status !== 0) return { error: (r.stderr || "").trim().split("\n").pop() };
  const out = {};
  for (const line of r.stdout.trim().split("\n")) {
    const j = JSON.parse(line);
    out[j.model] = { accuracy: j.accuracy, fitS: j.fit_s };
  }
  return out;
}

/** ml-random-forest on one fold at a reduced setting (its full setting takes minutes): the record of why we wrote our own. */
async function mlRandomForestRecord(X, y, fold, fitClassifier) {
  const require = createRequire(join(ROOT, "package.json"));
  let RFC;
  try {
    ({ RandomForestClassifier: RFC } = require("ml-random-forest"));
  } catch {
    return [["ml-random-forest", "not installed", "", "", ""]];
  }
  const tr = [];
  const te = [];
  for (let i = 0; i < y.length; i++) (fold[i] === 0 ? te : tr).push(i);
  // ml-random-forest wants labels 0..k-1
  const classes = [...new Set(y)].sort((a, b) => a - b);
  const code = new Map(classes.map((c, i) => [c, i]));
  const rows = [];
  // noOOB: its out-of-bag bookkeeping crashes (mode of an empty list) when a class is missing from a bag
  const opts = {
    nEstimators: 10,
    maxFeatures: 0.15,
    seed: 1,
    noOOB: true,
    treeOptions: { gainThreshold: 0 },
  };
  let t0 = performance.now();
  const ml = new RFC(opts);
  ml.train(
    tr.map((i) => X[i]),
    tr.map((i) => code.get(y[i])),
  );
  const mlS = (performance.now() - t0) / 1000;
  const pred = ml.predict(te.map((i) => X[i]));
  const mlAcc = te.filter((i, k) => pred[k] === code.get(y[i])).length / te.length;
  rows.push([
    "ml-random-forest, 10 trees, maxFeatures 0.15, gainThreshold 0",
    mlAcc,
    mlS,
    JSON.stringify(ml.toJSON()).length / 1e6,
    mlS * 10,
  ]);
  for (const [label, params] of [
    ["ours, 10 trees, splitter best, maxFeatures 0.15", { nTrees: 10, splitter: "best", maxFeatures: 0.15 }],
    ["ours, defaults", {}],
  ]) {
    t0 = performance.now();
    const m = await fitClassifier(
      "RF",
      tr.map((i) => X[i]),
      tr.map((i) => y[i]),
      { seed: FIT_SEED, params },
    );
    const s = (performance.now() - t0) / 1000;
    const acc = te.filter((i) => m.classes[m.predictIndex(X[i])] === y[i]).length / te.length;
    rows.push([label, acc, s, JSON.stringify(m.toJSON()).length / 1e6, ""]);
  }
  return rows;
}

// Each entry overrides the defaults (src/models/random-forest.ts, xgboost.ts), so {} is the default row.
const SWEEP = {
  RF: [
    {},
    { synthetic: 0 },
    { synthetic: 2 },
    { criterion: "gini" },
    { criterion: "gini", synthetic: 0 },
    { nTrees: 200 },
    { maxFeatures: 0.3 },
    { augment: "none" },
    { splitter: "best", synthetic: 0 },
  ],
  XGB: [
    {},
    { max_depth: 6 },
    { num_parallel_tree: 60, max_depth: 6 },
    { num_parallel_tree: 100, max_depth: 6 },
    { colsample_bylevel: 0.15 },
    { subsample: 0.632 },
    { lambda: 0.01 },
    // the former defaults
    { subsample: 0.632, colsample_bylevel: 0.15 },
    {
      rounds: 8,
      num_parallel_tree: 1,
      max_depth: 4,
      eta: 0.3,
      subsample: 0.8,
      colsample_bytree: 0.5,
      colsample_bylevel: 1,
    },
  ],
};

/** Size, parse+load time and per-prediction time of default models fitted on every row (best of a few runs). */
async function modelFiles(features, y, fitClassifier, loadClassifier) {
  const rows = [];
  for (const algorithm of ["RF", "XGB"]) {
    for (const set of SETS) {
      const X = features[set];
      const model = await fitClassifier(algorithm, X, y, { seed: FIT_SEED });
      const text = JSON.stringify(model.toJSON());
      let loadMs = Infinity;
      for (let r = 0; r < 5; r++) {
        const t0 = performance.now();
        await loadClassifier(JSON.parse(text));
        loadMs = Math.min(loadMs, performance.now() - t0);
      }
      let us = Infinity;
      for (let r = 0; r < 5; r++) {
        const t0 = performance.now();
        for (const row of X) model.predictIndex(row);
        us = Math.min(us, ((performance.now() - t0) * 1000) / X.length);
      }
      rows.push([algorithm, set, text.length / 1e6, loadMs, us, 1e6 / us]);
    }
  }
  return rows;
}

// `keystroke-id train` fits its models in parallel worker threads; train.py fits one after another.
function wholeTrainRuns(data, pyOk) {
  const out = mkdtempSync(join(tmpdir(), "kid-bench-train-"));
  const runs = (cmd, args, cwd) => {
    const r = [0, 1, 2].map(() => measure(cmd, args, { cwd }));
    const bad = r.find((x) => x.status !== 0);
    if (bad) return ["failed: " + bad.stderr.split("\n")[0], ""];
    return [median(r.map((x) => x.wallS)), Math.max(...r.map((x) => x.maxRssMB))];
  };
  const rows = [
    [
      "keystroke-id train --features timings --holdout 0",
      ...runs(process.execPath, [
        BIN,
        "train",
        data,
        "--features",
        "timings",
        "--holdout",
        "0",
        "--no-verification",
        "--json",
        "--models-dir",
        out,
      ]),
    ],
  ];
  if (pyOk)
    rows.push([
      "python3 anchors/train.py --features timings",
      ...runs("/usr/bin/python3", [join(ANCHORS, "train.py"), data, "--features", "timings"], ANCHORS),
    ]);
  rmSync(out, { recursive: true, force: true });
  return rows;
}

export default async function main() {
  if (!SCALE_ONLY) await cvTables();
  // --no-scale: the cross-validation tables alone (the scale series takes far longer)
  if (!process.argv.includes("--no-scale")) await trainScale();
}

async function cvTables() {
  const data = sharedData();
  if (!data) return;
  if (!existsSync(join(DIST, "models", "index.js"))) {
    console.log("(skipped: dist/ is not built; run `npx tsc -p tsconfig.build.json`)");
    return;
  }
  const { fitClassifier, loadClassifier } = await dist("models/index.js");
  const { extractTimings, extractSummary } = await dist("features/index.js");
  const samples = await loadSamples(data);
  const y = samples.map((s) => s.label);
  const fold = await stratifiedFolds(y);
  const features = {
    timings: samples.map((s) => extractTimings(s)),
    summary: samples.map((s) => extractSummary(s)),
  };
  const pyOk = ensurePython();
  const rows = [];
  const totals = {};
  for (const set of SETS) {
    const py = pyOk ? python(data, set) : { error: "python reference not installed" };
    totals[set] = { ours: 0, python: 0 };
    for (const algorithm of ALGORITHMS) {
      let ours;
      try {
        ours = await crossValidate(
          (Xtr, ytr) => fitClassifier(algorithm, Xtr, ytr, { seed: FIT_SEED }),
          features[set],
          y,
          fold,
        );
      } catch (e) {
        ours = { error: e instanceof Error ? e.message.split("\n")[0] : String(e) };
      }
      const p = py[algorithm];
      if (ours.fitS !== undefined) totals[set].ours += ours.fitS;
      if (p) totals[set].python += p.fitS;
      rows.push([
        set,
        algorithm,
        ours.accuracy ?? `missing: ${ours.error}`,
        ours.fitS ?? "",
        p?.accuracy ?? py.error ?? "",
        p?.fitS ?? "",
        ours.accuracy !== undefined && p ? ours.accuracy / p.accuracy : "",
        ours.fitS !== undefined && p ? p.fitS / ours.fitS : "",
      ]);
    }
  }
  printTable(
    `Stratified ${FOLDS}-fold CV (shuffle seed ${FOLD_SEED}), mean per fold; Python = anchors/train.py --cv ${FOLDS} (its own folds, scikit-learn/XGBoost defaults)`,
    ["features", "model", "ours acc", "ours fit s", "python acc", "python fit s", "acc ratio", "speed-up ×"],
    rows,
  );
  printTable(
    "Fit time of all three models, seconds per fold",
    ["features", "ours", "python", "speed-up ×"],
    SETS.map((s) => [
      s,
      totals[s].ours,
      totals[s].python,
      totals[s].python ? totals[s].python / totals[s].ours : "",
    ]),
  );
  printTable(
    "Whole `train` run on all rows, timings features, three models (wall seconds, whole process, median of 3)",
    ["run", "seconds", "peak RSS MB"],
    wholeTrainRuns(data, pyOk),
  );
  printTable(
    "Why our own forest: ml-random-forest on fold 1 of timings (reduced setting)",
    ["model", "accuracy", "fit s", "JSON MB", "est. s for 100 trees"],
    await mlRandomForestRecord(features.timings, y, fold, fitClassifier),
  );
  printTable(
    "Model files of the defaults fitted on all rows (best of 5; load = JSON.parse + loadClassifier)",
    ["model", "features", "JSON MB", "parse+load ms", "µs / prediction", "predictions / s (1 core)"],
    await modelFiles(features, y, fitClassifier, loadClassifier),
  );
  if (process.env.KEYSTROKE_BENCH_SWEEP) {
    const sweep = [];
    for (const [algorithm, configs] of Object.entries(SWEEP)) {
      for (const params of configs) {
        for (const set of SETS) {
          const r = await crossValidate(
            (Xtr, ytr) => fitClassifier(algorithm, Xtr, ytr, { seed: FIT_SEED, params }),
            features[set],
            y,
            fold,
          );
          sweep.push([algorithm, JSON.stringify(params), set, r.accuracy, r.fitS]);
        }
      }
    }
    printTable(
      "Hyperparameter sweep behind the defaults (same folds)",
      ["model", "params", "features", "accuracy", "fit s"],
      sweep,
    );
  }
}
