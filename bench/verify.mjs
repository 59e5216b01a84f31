// bench:verify — verification under Killourhy & Maxion's protocol on the shared data (mean per-user EER of
// every detector), and in-process claims per second of the default detector next to scaled Manhattan.
// Imports the built library: run `npx tsc -p tsconfig.build.json` first.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT, median, printTable, sharedData } from "./lib.mjs";

const REPEATS = 3;
const SECONDS = 1.5;

/** Runs the verification benchmark and prints its tables. */
export default async function verifyBench() {
  const dist = join(ROOT, "dist", "index.js");
  if (!existsSync(dist)) {
    console.log("(skipped: dist/ is not built; run npx tsc -p tsconfig.build.json)");
    return;
  }
  const lib = await import(pathToFileURL(dist).href);
  const { readDataset } = await import(pathToFileURL(join(ROOT, "dist", "data", "index.js")).href);
  const data = sharedData();
  if (!data) return;
  const ds = await readDataset(data, { requireLabel: true });

  const t0 = performance.now();
  const ev = lib.evaluateVerification(ds.samples);
  const evalS = (performance.now() - t0) / 1000;
  const p = ev.protocol;
  printTable(
    `EER on ${data} (${p.users} users; enrol first half, genuine = rest, impostors = first ${p.impostorsPerUser} of each other user; ${p.genuineSamples} genuine, ${p.impostorSamples} impostor scores; ${evalS.toFixed(1)} s)`,
    ["detector", "mean EER", "sd", "zero-miss FAR", "FAR @ threshold", "FRR @ threshold"],
    Object.entries(ev.detectors).map(([name, d]) => [
      name + (name === ev.best ? " (best)" : "") + (name === lib.DEFAULT_DETECTOR ? " (default)" : ""),
      d.eer.mean,
      d.eer.sd,
      d.zeroMissFar,
      d.atThreshold.far,
      d.atThreshold.frr,
    ]),
  );

  const vectors = ds.samples.map((s) => lib.extractTimings(s));
  const rows = [];
  for (const detector of ["manhattan-scaled", lib.DEFAULT_DETECTOR]) {
    const { templates, population } = lib.enrollSamples(ds.samples, { detector });
    const byUser = templates.map((t) => t);
    const store = new lib.TemplateStore("(memory)", { detector, keys: 13, nFeatures: vectors[0].length, featureNames: [], population }, templates);
    const rates = { core: [], store: [] };
    // per CPU-second too: on a shared 2-core machine the wall-clock rate mostly measures the neighbours
    const cpuRates = { core: [], store: [] };
    for (let r = 0; r < REPEATS; r++) {
      for (const kind of ["core", "store"]) {
        let n = 0;
        const cpu0 = process.cpuUsage();
        const start = performance.now();
        while (performance.now() - start < SECONDS * 1000) {
          for (let i = 0; i < vectors.length; i++) {
            const t = byUser[(i * 7) % byUser.length];
            if (kind === "core") lib.verifySample(t, vectors[i], { population });
            else store.verify(t.user, vectors[i]);
            n++;
          }
        }
        rates[kind].push(n / ((performance.now() - start) / 1000));
        const cpu = process.cpuUsage(cpu0);
        cpuRates[kind].push(n / ((cpu.user + cpu.system) / 1e6));
      }
    }
    rows.push([detector, median(rates.core), median(cpuRates.core), median(rates.store), median(cpuRates.store)]);
  }
  printTable(
    `In-process verification, claims/s, medians of ${REPEATS} runs of ${SECONDS} s (target ≥ 20,000; store.verify adds replay memory and counters)`,
    ["detector", "verifySample /s wall", "/s CPU", "store.verify /s wall", "/s CPU"],
    rows,
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await verifyBench();
