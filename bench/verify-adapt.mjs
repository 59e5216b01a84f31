// Template adaptation on session-ordered data (issue 14 item 7), a section of bench:verify:
//   node bench/verify.mjs --only adapt [--detector NAME] [--window W] [--margin M] [--dataset iiitbh-small]
// Per user: template from the first session; genuine scores from every later session in order, impostor
// scores from the first 5 samples of every other user in each later session; population from every user's
// first session only (the impostor samples scored are never in it). Without adaptation every later sample is
// scored by the first-session template. With it, an accepted genuine sample scoring at least `margin` under
// the threshold re-fits the template (enrolment + last `window` adapted samples) before the next sample; each
// session's impostors are scored by the template as it stood when that session began (they never adapt).
import { existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT, SHARED, printTable } from "./lib.mjs";

const DATASETS = [
  { name: "iiitbh-big", file: "iiitbh-big.csv" },
  { name: "iiitbh-small", file: "iiitbh-small.csv" },
];
const IMPOSTORS_PER_USER_SESSION = 5;

const arg = (argv, name, dflt) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : dflt);
const pct = (v) => (Number.isFinite(v) ? `${(100 * v).toFixed(2)}%` : "—");

/** Runs the adaptation section; returns the measured rows. */
export default async function adaptBench(argv = process.argv.slice(2)) {
  const lib = await import(pathToFileURL(join(ROOT, "dist", "index.js")).href);
  const { readDataset } = await import(pathToFileURL(join(ROOT, "dist", "data", "index.js")).href);
  const { extractTimings } = await import(pathToFileURL(join(ROOT, "dist", "features", "index.js")).href);
  const detector = arg(argv, "--detector", lib.DEFAULT_DETECTOR);
  const settings = {
    window: Number(arg(argv, "--window", lib.DEFAULT_ADAPTATION.window)),
    margin: Number(arg(argv, "--margin", lib.DEFAULT_ADAPTATION.margin)),
  };
  const rows = [];
  const only = arg(argv, "--dataset", undefined);
  for (const d of DATASETS.filter((x) => only === undefined || x.name === only)) {
    const path = join(SHARED, "data", d.file);
    if (!existsSync(path)) {
      console.log(`(skipped ${d.name}: ${path} is absent)`);
      continue;
    }
    const t0 = performance.now();
    const ds = await readDataset(path, { requireLabel: true, onInvalid: "skip" });
    if (ds.skipped.length)
      console.log(`${d.name}: skipped ${ds.skipped.length} invalid row(s) (as --on-invalid skip)`);
    // user → session → vectors, in file order
    const byUser = new Map();
    for (const s of ds.samples) {
      const u = String(s.label);
      if (!byUser.has(u)) byUser.set(u, { user: s.label, sessions: new Map() });
      const sessions = byUser.get(u).sessions;
      const key = Number(s.session ?? 1);
      if (!sessions.has(key)) sessions.set(key, []);
      sessions.get(key).push(extractTimings(s));
    }
    const users = [...byUser.values()].map((u) => ({
      user: u.user,
      sessions: [...u.sessions.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v),
    }));
    const population = lib.buildPopulation(
      users.map((u) => ({ user: u.user, vectors: u.sessions[0] })),
      { source: `first session of every user of ${d.name}` },
    );
    const eers = { fixed: [], adapted: [] };
    let adaptations = 0;
    let genuineLater = 0;
    for (const u of users) {
      const enrol = u.sessions[0];
      const t0u = lib.enrollUser(u.user, enrol, { detector, population, keepSamples: false });
      const scores = { fixed: { gen: [], imp: [] }, adapted: { gen: [], imp: [] } };
      let current = t0u;
      for (let s = 1; s < u.sessions.length; s++) {
        const impostors = users
          .filter((o) => o !== u && o.sessions[s])
          .flatMap((o) => o.sessions[s].slice(0, IMPOSTORS_PER_USER_SESSION));
        for (const v of impostors) {
          scores.fixed.imp.push(lib.verifySample(t0u, v, { population }).anomaly_score);
          scores.adapted.imp.push(lib.verifySample(current, v, { population }).anomaly_score);
        }
        for (const v of u.sessions[s]) {
          genuineLater++;
          scores.fixed.gen.push(lib.verifySample(t0u, v, { population }).anomaly_score);
          const r = lib.verifySample(current, v, { population });
          scores.adapted.gen.push(r.anomaly_score);
          if (lib.mayAdapt(r, settings)) {
            current = lib.adaptTemplate(current, enrol, v, population, settings);
            adaptations++;
          }
        }
      }
      for (const k of ["fixed", "adapted"]) eers[k].push(lib.computeEer(scores[k].gen, scores[k].imp).eer);
    }
    const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const sd = (xs) => Math.sqrt(mean(xs.map((x) => (x - mean(xs)) ** 2)));
    rows.push({
      dataset: d.name,
      users: users.length,
      later_sessions: Math.max(...users.map((u) => u.sessions.length)) - 1,
      eer_fixed: mean(eers.fixed),
      eer_fixed_sd: sd(eers.fixed),
      eer_adapted: mean(eers.adapted),
      eer_adapted_sd: sd(eers.adapted),
      adaptations,
      genuine_later: genuineLater,
      seconds: (performance.now() - t0) / 1000,
    });
  }
  printTable(
    `Template adaptation (${detector}; window ${settings.window}, margin ${settings.margin}): mean per-user EER on sessions 2+ (template from session 1)`,
    ["dataset", "users", "later sessions", "EER without", "EER with --adapt", "adaptations / genuine", "s"],
    rows.map((r) => [
      r.dataset,
      String(r.users),
      String(r.later_sessions),
      `${pct(r.eer_fixed)} ± ${pct(r.eer_fixed_sd)}`,
      `${pct(r.eer_adapted)} ± ${pct(r.eer_adapted_sd)}`,
      `${r.adaptations} / ${r.genuine_later}`,
      r.seconds.toFixed(0),
    ]),
  );
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await adaptBench();
