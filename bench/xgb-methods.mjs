// XGB's two trainers side by side on every shared file, same folds, same fit seed: tree_method "exact"
// (XGBoost 0.7's exact greedy method in WebAssembly, ml-xgboost) and "hist" (ours, src/models/xgb-hist.ts).
// Stratified 5-fold CV (bench/train.mjs's folds) of the shared ThreatFabric file (timings and summary
// features) and of both IIITBh files (their 31 timings), then each user's earlier sessions against the later
// ones on both IIITBh files and on generated data (bench/scale-data.mjs, fixed seed). In process, one core.
//   npm run build && node bench/xgb-methods.mjs [--generated 10000,50000] [--seed 1] [--only threatfabric]
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT, SHARED, printTable, sharedData } from "./lib.mjs";
import { crossValidate, loadSamples, stratifiedFolds } from "./train.mjs";
import { generateRows, readIiitbh, readScaleCsv, writeScaleCsv } from "./scale-data.mjs";

const dist = (p) => import(pathToFileURL(join(ROOT, "dist", p)).href);
const { fitClassifier } = await dist("models/index.js");
const { extractTimings, extractSummary } = await dist("features/index.js");
const METHODS = ["exact", "hist"];
const flag = (name) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const FIT_SEED = Number(flag("--seed") ?? 1);
const GENERATED = (flag("--generated") ?? "10000").split(",").map(Number);
// --only threatfabric: the ThreatFabric cross-validation alone (for a sweep over fit seeds)
const ONLY_TF = flag("--only") === "threatfabric";
if (!Number.isInteger(FIT_SEED) || GENERATED.some((r) => !Number.isInteger(r) || r < 1000)) {
  console.error(
    "usage: node bench/xgb-methods.mjs [--generated 10000,50000] [--seed 1] [--only threatfabric]",
  );
  process.exit(2);
}

const fit = (method) => (X, y) =>
  fitClassifier("XGB", X, y, { seed: FIT_SEED, params: { tree_method: method } });

const cvRows = [];
/** One table row: both trainers' accuracy and fit time on one data set and protocol. */
function addRow(name, protocol, r) {
  cvRows.push([
    name,
    protocol,
    r.exact.accuracy,
    r.hist.accuracy,
    r.hist.accuracy - r.exact.accuracy,
    r.exact.fitS,
    r.hist.fitS,
  ]);
  console.error(`[xgb-methods] ${JSON.stringify(cvRows.at(-1))}`);
}
const sets = [];
const data = sharedData();
if (data) {
  const samples = await loadSamples(data);
  const y = samples.map((s) => s.label);
  sets.push(["ThreatFabric timings", samples.map((s) => extractTimings(s)), y]);
  sets.push(["ThreatFabric summary", samples.map((s) => extractSummary(s)), y]);
}
for (const f of ONLY_TF ? [] : ["iiitbh-big.csv", "iiitbh-small.csv"]) {
  const path = join(SHARED, "data", f);
  if (!existsSync(path)) continue;
  const rows = readIiitbh(path);
  sets.push([`IIITBh ${f.slice(7, -4)} timings`, rows.map((r) => r.t), rows.map((r) => r.user)]);
}
for (const [name, X, y] of sets) {
  const fold = await stratifiedFolds(y);
  const r = {};
  for (const m of METHODS) r[m] = await crossValidate(fit(m), X, y, fold);
  addRow(name, "5-fold CV", r);
}
const tmp = mkdtempSync(join(tmpdir(), "kid-xgb-methods-"));
try {
  const files = [];
  for (const f of ONLY_TF ? [] : ["iiitbh-big.csv", "iiitbh-small.csv"]) {
    const path = join(SHARED, "data", f);
    if (!existsSync(path)) continue;
    files.push([`IIITBh ${f.slice(7, -4)}`, join(tmp, f)]);
    writeScaleCsv(files.at(-1)[1], readIiitbh(path));
  }
  for (const rows of ONLY_TF ? [] : GENERATED) {
    const users = rows >= 100000 ? 1000 : rows >= 50000 ? 200 : 50;
    files.push([`generated ${rows / 1000}k rows, ${users} users`, join(tmp, `gen-${rows}.csv`)]);
    writeScaleCsv(files.at(-1)[1], generateRows(rows, users));
  }
  for (const [name, file] of files) {
    const { Xtr, ytr, Xte, yte } = readScaleCsv(file);
    const r = {};
    for (const m of METHODS) {
      const t0 = performance.now();
      const model = await fit(m)(Xtr, ytr);
      const fitS = (performance.now() - t0) / 1000;
      let ok = 0;
      for (let i = 0; i < Xte.length; i++) if (model.classes[model.predictIndex(Xte[i])] === yte[i]) ok++;
      r[m] = { accuracy: ok / Xte.length, fitS };
    }
    addRow(name, "earlier → later sessions", r);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
printTable(
  `XGB trainers, defaults otherwise (fit seed ${FIT_SEED}; in process, one core; fit s per fold or per fit)`,
  ["data", "protocol", "exact accuracy", "hist accuracy", "hist − exact", "exact fit s", "hist fit s"],
  cvRows,
);
