// The evidence behind the forest's `synthetic` default: accuracy and fit CPU seconds of our RF with 0…4
// interpolated rows per real row, on every shared data set and the generated series alike: 5-fold CV on
// ThreatFabric (timings and summary features, the folds of bench:train), and train-on-earlier-sessions,
// test-on-later on both IIITBh files and the generated 10k rows / 50 users (bench/scale-data.mjs).
// In-process, one thread, so CPU seconds are the fit's own. Usage (after `npm run build`):
//   node bench/train-synthetic.mjs [--synthetic 0,1,2,4] [--seeds 1,2] [--trees 300] [--gen 10000:50,2000:50] [--gen-only]
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT, SHARED, printTable } from "./lib.mjs";
import { crossValidate, loadSamples, stratifiedFolds } from "./train.mjs";
import { generateRows, readIiitbh, readScaleCsv, writeScaleCsv } from "./scale-data.mjs";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : process.argv[i + 1];
};
const list = (s) => s.split(",").map(Number);
const SYNTHETIC = list(arg("--synthetic", "0,1,2,4"));
const SEEDS = list(arg("--seeds", "1,2"));
const TREES = Number(arg("--trees", 300));
/** Generated sets as rows:users (about rows / users / 2 training rows per user). */
const GEN = arg("--gen", "10000:50")
  .split(",")
  .map((s) => s.split(":").map(Number));
/** Skip the shared files (only the generated sets). */
const GEN_ONLY = process.argv.includes("--gen-only");

const dist = (p) => import(pathToFileURL(join(ROOT, "dist", p)).href);
const { fitClassifier } = await dist("models/index.js");
const { extractTimings, extractSummary } = await dist("features/index.js");

/** CPU seconds (user + system) of this process while `f` runs, and its result. */
async function cpu(f) {
  const c0 = process.cpuUsage();
  const r = await f();
  const c = process.cpuUsage(c0);
  return { r, cpuS: (c.user + c.system) / 1e6 };
}

const tasks = [];
const tf = join(SHARED, "data", "threatfabric-train.csv");
if (!GEN_ONLY && existsSync(tf)) {
  const samples = await loadSamples(tf);
  const y = samples.map((s) => s.label);
  const fold = await stratifiedFolds(y);
  for (const [set, extract] of [
    ["timings", extractTimings],
    ["summary", extractSummary],
  ]) {
    const X = samples.map((s) => extract(s));
    tasks.push({
      name: `ThreatFabric ${set}, 5-fold CV`,
      run: (params) => crossValidate((Xtr, ytr) => fitClassifier("RF", Xtr, ytr, params), X, y, fold),
    });
  }
}
const tmp = mkdtempSync(join(tmpdir(), "kid-bench-synth-"));
const split = [];
for (const f of ["iiitbh-big.csv", "iiitbh-small.csv"]) {
  const path = join(SHARED, "data", f);
  if (GEN_ONLY || !existsSync(path)) continue;
  const file = join(tmp, f);
  writeScaleCsv(file, readIiitbh(path));
  split.push([`IIITBh ${f.slice(7, -4)}, cross-session`, file]);
}
for (const [rows, users] of GEN) {
  const gen = join(tmp, `gen-${rows}-${users}.csv`);
  writeScaleCsv(gen, generateRows(rows, users));
  split.push([`generated ${rows} rows / ${users} users, cross-session`, gen]);
}
for (const [name, file] of split) {
  const { Xtr, ytr, Xte, yte } = readScaleCsv(file);
  tasks.push({
    name,
    run: async (params) => {
      const model = await fitClassifier("RF", Xtr, ytr, params);
      let ok = 0;
      for (let i = 0; i < Xte.length; i++) if (model.classes[model.predictIndex(Xte[i])] === yte[i]) ok++;
      return { accuracy: ok / Xte.length };
    },
  });
}
rmSync(tmp, { recursive: true, force: true });

const rows = [];
for (const task of tasks) {
  for (const synthetic of SYNTHETIC) {
    let acc = 0;
    let cpuS = 0;
    for (const seed of SEEDS) {
      const m = await cpu(() => task.run({ seed, params: { synthetic, nTrees: TREES } }));
      acc += m.r.accuracy;
      cpuS += m.cpuS;
    }
    rows.push([task.name, synthetic, acc / SEEDS.length, cpuS / SEEDS.length]);
    console.error(`[synthetic] ${JSON.stringify(rows.at(-1))}`);
  }
}
printTable(
  `RF accuracy and fit CPU against synthetic rows per real row (${TREES} trees, mean over fit seeds ${SEEDS.join(", ")}; one thread)`,
  ["data", "synthetic", "accuracy", "fit + score CPU s"],
  rows,
);
