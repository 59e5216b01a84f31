// One fit of the training scale series in its own process (so its peak RSS is its own): reads a scale
// CSV, fits one of our models on the earlier sessions, on every core (src/train/jobs.ts), and prints one
// JSON line: fit seconds and accuracy on the later sessions. Usage: node scale-fit.mjs FILE ALGORITHM [PARAMS_JSON] [SEED]
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { readScaleCsv } from "./scale-data.mjs";
import { ROOT } from "./lib.mjs";

const [file, algorithm, paramsJson, seedArg] = process.argv.slice(2);
const jobs = await import(pathToFileURL(join(ROOT, "dist", "train", "jobs.js")).href);
const { Xtr, ytr, Xte, yte } = readScaleCsv(file);
const t0 = performance.now();
const params = paramsJson ? JSON.parse(paramsJson) : undefined;
const model = await jobs.fitOnWorkers(algorithm, Xtr, ytr, {
  seed: seedArg ? Number(seedArg) : 1,
  ...(params ? { params } : {}),
});
const fitS = (performance.now() - t0) / 1000;
let ok = 0;
for (let i = 0; i < Xte.length; i++) if (model.classes[model.predictIndex(Xte[i])] === yte[i]) ok++;
console.log(
  JSON.stringify({ algorithm, fit_s: fitS, accuracy: ok / Xte.length, train: Xtr.length, test: Xte.length }),
);
