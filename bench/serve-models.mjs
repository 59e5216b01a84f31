// bench:serve --only models: each served model's predictProba in process, for one original-contract
// request, hot (the same call in a loop: the model's nodes stay in the cache) and cold (a 32 MB buffer
// written before each call, as the rest of a server's work does between requests). Medians of single
// calls, so that the moments another process takes the core do not count.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { join } from "node:path";
import { printTable, ROOT } from "./lib.mjs";

const CALLS = Number(process.env.BENCH_MODEL_CALLS ?? 2000);
const FLUSH = new Float64Array((32 << 20) / 8);

function flush() {
  for (let i = 0; i < FLUSH.length; i += 8) FLUSH[i] += 1;
}

function medianCallUs(f, before) {
  const times = new Float64Array(CALLS);
  for (let i = 0; i < CALLS; i++) {
    before?.();
    const t0 = performance.now();
    f();
    times[i] = performance.now() - t0;
  }
  times.sort();
  return times[CALLS >> 1] * 1000;
}

/** Prints µs per predictProba call of every model in `modelsDir` for the original-contract bodies (`bodies[model]`). */
export async function benchModels(modelsDir, bodies, root = ROOT) {
  const { loadModelDir } = await import(pathToFileURL(join(root, "dist", "models", "store.js")).href);
  const dir = await loadModelDir(modelsDir);
  const rows = [];
  for (const m of dir.models) {
    const b = JSON.parse(readFileSync(bodies[m.algorithm], "utf8"));
    const x = ["HT", "PPT", "RRT", "RPT"].flatMap((k) => [b[k].Mean, b[k].STD]);
    const call = () => m.classifier.predictProba(x);
    for (let i = 0; i < 200; i++) call();
    rows.push([m.algorithm, medianCallUs(call), medianCallUs(call, flush)]);
  }
  printTable(
    `predictProba in process, one original-contract row, median µs of ${CALLS} calls`,
    ["model", "hot (same call in a loop)", "cold (32 MB written before each call)"],
    rows,
  );
}
