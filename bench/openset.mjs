// bench:verify --only openset — open-set identification on the shared real data: per dataset, a third of
// the users (seeded draw) are strangers the models never see; the models are trained on the first half
// of each known user's samples (earlier sessions), and every model answers the known users' later
// samples and every stranger sample with reject_unknown. Prints the share of strangers rejected and the
// accuracy kept on known users (a rejection counts as a miss), next to the accuracy without the rule.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { printTable } from "./lib.mjs";

const pct = (v) => (v === null || v === undefined ? "—" : `${(100 * v).toFixed(1)}%`);

/** Runs the open-set part on the loaded datasets ({ name, samples }); returns the measured document. */
export default async function opensetBench(lib, loaded, argv = []) {
  const firs = argv.includes("--fir") ? argv[argv.indexOf("--fir") + 1].split(",").map(Number) : [0.05, 0.1];
  const algorithms = argv.includes("--models")
    ? argv[argv.indexOf("--models") + 1].split(",").map((a) => a.toUpperCase())
    : ["RF", "SVM", "XGB"];
  const seed = 7;
  const doc = {};
  const rows = [];
  for (const d of loaded) {
    const users = [...new Set(d.samples.map((s) => s.label))].sort((a, b) =>
      String(a).localeCompare(String(b)),
    );
    const rng = lib.createRng(seed);
    const order = users
      .map((u) => [rng(), u])
      .sort((a, b) => a[0] - b[0])
      .map(([, u]) => u);
    const strangers = new Set(order.slice(0, Math.max(1, Math.round(users.length / 3))));
    const byUser = new Map();
    for (const s of d.samples) {
      if (!byUser.has(s.label)) byUser.set(s.label, []);
      byUser.get(s.label).push(s);
    }
    const train = [];
    const test = [];
    for (const [u, list] of byUser) {
      if (strangers.has(u)) test.push(...list);
      else {
        const half = Math.ceil(list.length / 2);
        train.push(...list.slice(0, half));
        test.push(...list.slice(half));
      }
    }
    doc[d.name] = {
      users: users.length,
      strangers: strangers.size,
      train_rows: train.length,
      test_rows: test.length,
      by_fir: {},
    };
    for (const fir of firs) {
      const t0 = performance.now();
      const run = await lib.trainModels(
        { samples: train },
        { algorithms, featureSets: ["timings"], seed, holdout: 0, workers: 1, targetFir: fir },
      );
      const dir = mkdtempSync(join(tmpdir(), "ks-openset-"));
      try {
        await lib.writeModelDir(dir, run.models, {
          data: {
            name: d.name,
            sha256: "-",
            rows: train.length,
            users: users.length - strangers.size,
            layout: "bench",
          },
          seed,
          holdout: 0,
        });
        const predictor = await lib.loadPredictor(dir);
        const s = (performance.now() - t0) / 1000;
        for (const algorithm of algorithms) {
          const answers = test.map((sample) => {
            const a = predictor.predict(
              { kind: "timings", press: sample.press, release: sample.release },
              { model: algorithm, rejectUnknown: true },
            );
            return { label: sample.label, named: a.top[0].UserID, unknown: a.unknown };
          });
          const sum = lib.summariseOpenSet(answers, (u) => !strangers.has(u));
          const threshold = predictor.source.find(algorithm, "timings").openSet.threshold;
          doc[d.name].by_fir[fir] = {
            ...(doc[d.name].by_fir[fir] ?? {}),
            [algorithm]: { threshold, ...sum },
          };
          rows.push([
            d.name,
            `${users.length - strangers.size} / ${strangers.size}`,
            pct(fir),
            algorithm,
            threshold.toFixed(3),
            pct(sum.strangers_rejected),
            pct(sum.known_accuracy),
            pct(sum.known_accuracy_kept),
            pct(sum.known_rejected),
          ]);
        }
        process.stderr.write(
          `  openset ${d.name}, target FIR ${fir}: trained and answered in ${s.toFixed(0)} s\n`,
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  printTable(
    "Open-set identification (timings models; a third of the users are strangers never trained on; known users: trained on their first half, tested on the rest)",
    [
      "dataset",
      "known / strangers",
      "target FIR",
      "model",
      "threshold",
      "strangers rejected",
      "known acc. (no rule)",
      "known acc. kept",
      "known rejected",
    ],
    rows,
  );
  return doc;
}
