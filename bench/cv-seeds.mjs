// One model's 5-fold cross-validation on the shared ThreatFabric file (bench/train.mjs's folds) over
// several fit seeds, to tell a change of accuracy from a different draw of the same model.
//   npm run build && node bench/cv-seeds.mjs RF [PARAMS_JSON] [SEEDS, default 1,2,3]
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT, printTable, sharedData } from "./lib.mjs";
import { crossValidate, loadSamples, stratifiedFolds } from "./train.mjs";

const [algorithm, paramsJson, seedList] = process.argv.slice(2);
if (!["SVM", "RF", "XGB"].includes(algorithm ?? "")) {
  console.error("usage: node bench/cv-seeds.mjs SVM|RF|XGB [PARAMS_JSON] [SEEDS]");
  process.exit(2);
}
const data = sharedData();
if (!data) process.exit(0);
const dist = (p) => import(pathToFileURL(join(ROOT, "dist", p)).href);
const { fitClassifier } = await dist("models/index.js");
const { extractTimings, extractSummary } = await dist("features/index.js");
const params = paramsJson ? JSON.parse(paramsJson) : undefined;
const seeds = (seedList ?? "1,2,3").split(",").map(Number);
const samples = await loadSamples(data);
const y = samples.map((s) => s.label);
const fold = await stratifiedFolds(y);
const rows = [];
for (const [set, X] of [
  ["timings", samples.map((s) => extractTimings(s))],
  ["summary", samples.map((s) => extractSummary(s))],
]) {
  const acc = [];
  for (const seed of seeds) {
    const r = await crossValidate(
      (Xtr, ytr) => fitClassifier(algorithm, Xtr, ytr, { seed, ...(params ? { params } : {}) }),
      X,
      y,
      fold,
    );
    acc.push(r.accuracy);
  }
  rows.push([set, acc.map((a) => a.toFixed(3)).join(", "), acc.reduce((a, b) => a + b, 0) / acc.length]);
}
printTable(
  `${algorithm} ${paramsJson ?? "defaults"}: 5-fold CV accuracy on ${data.split("/").pop()} over fit seeds ${seeds.join(", ")}`,
  ["features", "per seed", "mean"],
  rows,
);
