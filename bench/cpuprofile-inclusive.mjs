// Inclusive time per function of a V8 CPU profile (`node --cpu-prof`), as shares of the busy (non-idle)
// time: each sample counts once for every distinct function on its stack. Used to see where a served
// request's time goes (e.g. how much of it is under the socket's writev):
//
//   node --cpu-prof --cpu-prof-dir=DIR bin/keystroke-id.js serve … &   # load it with wrk, then SIGINT
//   node bench/cpuprofile-inclusive.mjs DIR/CPU….cpuprofile [REGEX] [TOP]
import { readFileSync } from "node:fs";

const [file, pattern = ".", top = "60"] = process.argv.slice(2);
if (!file) {
  console.error("usage: node bench/cpuprofile-inclusive.mjs PROFILE.cpuprofile [REGEX] [TOP]");
  process.exit(2);
}
const profile = JSON.parse(readFileSync(file, "utf8"));
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const name = (n) => {
  const cf = n.callFrame;
  const where = cf.url.split("/node_modules/").at(-1) || "(native)";
  return `${cf.functionName || "(anonymous)"} ${where}:${cf.lineNumber + 1}`;
};
const timeOf = new Map();
let total = 0;
let idle = 0;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0;
  timeOf.set(id, (timeOf.get(id) ?? 0) + dt);
  total += dt;
  if (nodes.get(id).callFrame.functionName === "(idle)") idle += dt;
});
const inclusive = new Map();
for (const [id, dt] of timeOf) {
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const k = name(nodes.get(cur));
    if (seen.has(k)) continue;
    seen.add(k);
    inclusive.set(k, (inclusive.get(k) ?? 0) + dt);
  }
}
const busy = total - idle;
console.log(`busy ${(busy / 1e6).toFixed(2)} s of ${(total / 1e6).toFixed(2)} s profiled`);
const re = new RegExp(pattern);
for (const [k, dt] of [...inclusive]
  .filter(([k]) => re.test(k) && !k.startsWith("(root)") && !k.startsWith("(idle)"))
  .sort((a, b) => b[1] - a[1])
  .slice(0, Number(top)))
  console.log(`${((100 * dt) / busy).toFixed(1).padStart(5)}%  ${k}`);
