// The served XGB model's predictProba as shipped (a branch per node) against branch-free walks (each tree
// walked to its full depth, the child chosen by arithmetic; one tree at a time, or four side by side,
// followed by the same softmax), CPU µs per call over 64 varied rows, after checking that all three give
// the same probabilities bit for bit. Kept to show why the branchy walk stays. Usage, after `npm run build`:
//   node bench/xgb-walk.mjs MODELS_DIR BODY_FILE   (an original-contract body; bench/servers.mjs writes both)
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT } from "./lib.mjs";

const [modelsDir, bodyFile] = process.argv.slice(2);
if (!modelsDir || !bodyFile) {
  console.error("usage: node bench/xgb-walk.mjs MODELS_DIR BODY_FILE");
  process.exit(2);
}
const { loadModelDir } = await import(pathToFileURL(join(ROOT, "dist", "models", "store.js")).href);
let m, b;
try {
  m = (await loadModelDir(modelsDir)).models.find((x) => x.algorithm === "XGB")?.classifier;
  b = JSON.parse(readFileSync(bodyFile, "utf8"));
} catch (e) {
  console.error(`xgb-walk: ${e.message}`);
  process.exit(2);
}
if (!m) {
  console.error(`xgb-walk: ${modelsDir} has no XGB model`);
  process.exit(2);
}
const row = ["HT", "PPT", "RRT", "RPT"].flatMap((k) => [b[k].Mean, b[k].STD]);
const { feature, value, right, roots, groups } = m;
const nT = roots.length,
  nN = feature.length,
  nC = m.classes.length;
// branchless layout: thr (leaf: -Inf, so go=1 and right=self), leafv, depth per tree
const thr = new Float64Array(nN),
  leafv = new Float64Array(nN),
  rgt = new Int32Array(nN),
  feat = new Int32Array(nN),
  depth = new Int32Array(nT);
for (let t = 0; t < nT; t++) {
  const end = t + 1 < nT ? roots[t + 1] : nN;
  for (let i = roots[t]; i < end; i++) {
    if (feature[i] >= 0) {
      thr[i] = value[i];
      rgt[i] = right[i];
      feat[i] = feature[i];
    } else {
      thr[i] = -Infinity;
      rgt[i] = i;
      feat[i] = 0;
      leafv[i] = value[i];
    }
  }
  // depth
  let d = 0;
  const st = [[roots[t], 0]];
  while (st.length) {
    const [i, k] = st.pop();
    if (feature[i] < 0) {
      d = Math.max(d, k);
      continue;
    }
    st.push([i + 1, k + 1], [right[i], k + 1]);
  }
  depth[t] = d;
}
const x = new Float64Array(m.nFeatures),
  out = new Float64Array(nC);
function branchless(row) {
  for (let j = 0; j < x.length; j++) x[j] = Math.fround(row[j]);
  out.fill(Math.fround(m.state.baseScore));
  for (let t = 0; t < nT; t++) {
    let n = roots[t];
    for (let d = depth[t]; d > 0; d--) {
      const go = +(x[feat[n]] >= thr[n]);
      n = n + 1 + go * (rgt[n] - n - 1);
    }
    out[groups[t]] += leafv[n];
  }
  return out;
}
function branchless4(row) {
  for (let j = 0; j < x.length; j++) x[j] = Math.fround(row[j]);
  out.fill(Math.fround(m.state.baseScore));
  let t = 0;
  for (; t + 3 < nT; t += 4) {
    let a = roots[t],
      b2 = roots[t + 1],
      c = roots[t + 2],
      e = roots[t + 3];
    let d = Math.max(depth[t], depth[t + 1], depth[t + 2], depth[t + 3]);
    for (; d > 0; d--) {
      a = a + 1 + +(x[feat[a]] >= thr[a]) * (rgt[a] - a - 1);
      b2 = b2 + 1 + +(x[feat[b2]] >= thr[b2]) * (rgt[b2] - b2 - 1);
      c = c + 1 + +(x[feat[c]] >= thr[c]) * (rgt[c] - c - 1);
      e = e + 1 + +(x[feat[e]] >= thr[e]) * (rgt[e] - e - 1);
    }
    out[groups[t]] += leafv[a];
    out[groups[t + 1]] += leafv[b2];
    out[groups[t + 2]] += leafv[c];
    out[groups[t + 3]] += leafv[e];
  }
  for (; t < nT; t++) {
    let n = roots[t];
    for (let d = depth[t]; d > 0; d--) n = n + 1 + +(x[feat[n]] >= thr[n]) * (rgt[n] - n - 1);
    out[groups[t]] += leafv[n];
  }
  return out;
}
/** The shipped softmax over margins (XgbModel.predictProba's last step), in place. */
function softmax(o) {
  let max = -Infinity;
  for (let c = 0; c < o.length; c++) if (o[c] > max) max = o[c];
  let sum = 0;
  for (let c = 0; c < o.length; c++) sum += o[c] = Math.exp(o[c] - max);
  for (let c = 0; c < o.length; c++) o[c] /= sum;
  return o;
}
// different rows to defeat branch-history learning: perturb
const rows = Array.from({ length: 64 }, (_, k) =>
  row.map((v) => v * (0.7 + (0.6 * ((k * 37 + 11) % 64)) / 64)),
);
const ref = rows.map((r) => Float64Array.from(m.predictProba(r)));
for (const [name, f] of [
  ["shipped predictProba (branchy)", (r) => m.predictProba(r)],
  ["branch-free, one tree at a time", (r) => softmax(branchless(r))],
  ["branch-free, four trees side by side", (r) => softmax(branchless4(r))],
]) {
  for (let k = 0; k < 64; k++) {
    const o = f(rows[k]);
    for (let c = 0; c < nC; c++) if (o[c] !== ref[k][c]) throw new Error(`${name} differs`);
  }
  for (let i = 0; i < 3000; i++) f(rows[i & 63]);
  const t0 = process.cpuUsage();
  const N = 20000;
  for (let i = 0; i < N; i++) f(rows[i & 63]);
  const u = process.cpuUsage(t0);
  console.log(name, ((u.user + u.system) / N).toFixed(2), "µs/call");
}
console.log(
  "trees",
  nT,
  "nodes",
  nN,
  "max depth",
  Math.max(...depth),
  "mean depth",
  depth.reduce((a, b) => a + b) / nT,
);
