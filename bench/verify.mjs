// bench:verify — verification accuracy on ALL the shared real data: every detector under two protocols
// (published: population from the evaluated users; disjoint: population from other users only) and every
// enrolment size; the default detector chosen by mean rank over all of it; the IIITBh target (default ≤ half
// of scaled Manhattan); a cross-check (tuned on one dataset, measured on the other); then in-process claims/s.
// Imports the built library: run `npx tsc -p tsconfig.build.json` first.
//
//   node bench/verify.mjs [--quick] [--json out.json]     (--quick: enrolment "half" only)
//   node bench/verify.mjs --only adapt [--detector NAME] [--window W] [--margin M]   (template adaptation: bench/verify-adapt.mjs)
//   node bench/verify.mjs --only openset [--fir 0.05,0.1] [--models rf,svm,xgb]   (open-set identification)
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT, SHARED, median, printTable } from "./lib.mjs";

const REPEATS = 3;
const SECONDS = 1.5;
const DATASETS = [
  { name: "iiitbh-big", file: "iiitbh-big.csv" },
  { name: "iiitbh-small", file: "iiitbh-small.csv" },
  { name: "threatfabric", file: "threatfabric-train.csv" },
];
/** Published mean EERs on the CMU benchmark (Killourhy & Maxion's data, not the data here): for reference only. */
const PUBLISHED = [
  ["scaled Manhattan (Killourhy & Maxion 2009)", 0.096],
  ["Mahalanobis + Manhattan (Zhong, Deng & Jain 2012)", 0.084],
  ["GMM-UBM (Deng & Zhong 2013)", 0.055],
  ["deep belief network (Deng & Zhong 2013)", 0.035],
  ["Siamese network, disjoint training users (Wahab, Hou et al. 2025)", 0.007],
];
const pct = (v) => (v === undefined || !Number.isFinite(v) ? "—" : `${(100 * v).toFixed(2)}%`);

/** Runs the verification benchmark and prints its tables; returns the measured document. */
export default async function verifyBench(argv = process.argv.slice(2)) {
  const dist = join(ROOT, "dist", "index.js");
  if (!existsSync(dist)) {
    console.log("(skipped: dist/ is not built; run npx tsc -p tsconfig.build.json)");
    return undefined;
  }
  if (argv.includes("--only") && argv[argv.indexOf("--only") + 1] === "adapt") {
    const { default: adaptBench } = await import("./verify-adapt.mjs");
    return { adapt: await adaptBench(argv) };
  }
  const quick = argv.includes("--quick");
  const jsonOut = argv.includes("--json") ? argv[argv.indexOf("--json") + 1] : undefined;
  const lib = await import(pathToFileURL(dist).href);
  const { readDataset } = await import(pathToFileURL(join(ROOT, "dist", "data", "index.js")).href);
  const sizes = quick ? ["half"] : lib.DEFAULT_ENROL_SIZES;

  const loaded = [];
  for (const d of DATASETS) {
    const path = join(SHARED, "data", d.file);
    if (!existsSync(path)) {
      console.log(`(skipped ${d.name}: ${path} is absent)`);
      continue;
    }
    // iiitbh-small line 433 has a UD that disagrees with DD − H: skipped and reported, as `--on-invalid skip`
    const ds = await readDataset(path, { requireLabel: true, onInvalid: "skip" });
    if (ds.skipped.length)
      console.log(
        `${d.name}: skipped ${ds.skipped.length} invalid row(s): ${ds.skipped.map((s) => `line ${s.line} (${s.reason})`).join("; ")}`,
      );
    loaded.push({ ...d, samples: ds.samples });
  }
  if (loaded.length === 0) return undefined;
  if (argv.includes("--only") && argv[argv.indexOf("--only") + 1] === "openset") {
    const openset = (await import("./openset.mjs")).default;
    const doc = { openset: await openset(lib, loaded, argv) };
    if (jsonOut) writeFileSync(jsonOut, JSON.stringify(doc, null, 2) + "\n");
    return doc;
  }

  const all = [];
  const qualityOnly = argv.includes("--quality-only");
  const doc = {
    default: lib.DEFAULT_DETECTOR,
    datasets: {},
    published_on_cmu: Object.fromEntries(PUBLISHED),
  };
  for (const d of qualityOnly ? [] : loaded) {
    const t0 = performance.now();
    const runs = lib.evaluateVerificationSuite(d.samples, {
      enrolSizes: sizes,
      onRun: (p, e) => process.stderr.write(`  ${d.name}: ${p} protocol, enrol ${e}\n`),
    });
    const s = (performance.now() - t0) / 1000;
    doc.datasets[d.name] = runs;
    for (const r of runs) all.push({ dataset: d.name, ...r });
    const cells = runs.filter((r) => r.detectors);
    const detectors = Object.keys(cells[0]?.detectors ?? {});
    printTable(
      `Mean per-user EER on ${d.name} (${s.toFixed(0)} s; P = published protocol, D = disjoint population; enrol = samples per template)`,
      ["detector", ...cells.map((r) => `${r.protocol === "published" ? "P" : "D"} ${r.enrol}`)],
      detectors.map((name) => [
        name + (name === lib.DEFAULT_DETECTOR ? " (default)" : ""),
        ...cells.map((r) => pct(r.detectors[name]?.eer)),
      ]),
    );
    printTable(
      `FRR at FAR 1% / 0.1% on ${d.name} (per user, averaged; see the notes for the resolution)`,
      ["detector", ...cells.map((r) => `${r.protocol === "published" ? "P" : "D"} ${r.enrol}`)],
      detectors.map((name) => [
        name,
        ...cells.map(
          (r) => `${pct(r.detectors[name]?.frr_at_far_1pct)} / ${pct(r.detectors[name]?.frr_at_far_0_1pct)}`,
        ),
      ]),
    );
    for (const r of runs.filter((x) => x.skipped))
      console.log(`  ${d.name} ${r.protocol} enrol ${r.enrol}: not run (${r.skipped})`);
  }
  for (const r of all.filter((x) => x.notes && x.enrol === "half" && x.dataset === loaded[0].name))
    console.log(`notes (${r.protocol}): ${r.notes.join("; ")}`);

  if (qualityOnly) {
    await quality(lib, loaded, doc);
    return doc;
  }
  const ranks = lib.meanRanks(all);
  doc.mean_ranks = ranks;
  printTable(
    `Mean rank over every dataset × protocol × enrolment size with figures (${all.filter((r) => r.detectors).length} cells); the default is chosen by this`,
    ["detector", "mean rank", "cells", "mean EER over cells"],
    ranks.map((r) => [
      r.detector + (r.detector === lib.DEFAULT_DETECTOR ? " (default)" : ""),
      r.meanRank,
      r.cells,
      pct(r.meanEer),
    ]),
  );
  if (ranks[0] && ranks[0].detector !== lib.DEFAULT_DETECTOR)
    console.log(`NOTE: the best mean rank is ${ranks[0].detector}, not the default ${lib.DEFAULT_DETECTOR}`);

  // the issue's target: on IIITBh (published protocol, first half), default ≤ half of scaled Manhattan
  const target = [];
  for (const name of ["iiitbh-big", "iiitbh-small"]) {
    const cell = doc.datasets[name]?.find((r) => r.protocol === "published" && r.enrol === "half");
    if (!cell?.detectors) continue;
    const def = cell.detectors[lib.DEFAULT_DETECTOR].eer;
    const sm = cell.detectors["manhattan-scaled"].eer;
    target.push([name, pct(def), pct(sm), (def / sm).toFixed(2), def <= sm / 2 ? "met" : "NOT met"]);
  }
  doc.target = target;
  printTable(
    "Target: default detector's mean EER ≤ half of scaled Manhattan in the same run (published protocol, first half)",
    ["dataset", "default", "scaled Manhattan", "ratio", "target"],
    target,
  );
  printTable(
    "Published figures on the CMU benchmark (51 users, 400 samples each) — NOT measured here, for reference only",
    ["method (paper)", "mean EER on CMU"],
    PUBLISHED.map(([n, v]) => [n, pct(v)]),
  );

  // cross-check: the discriminative detector's L2 pull tuned on one IIITBh file, measured on the other
  const big = loaded.find((d) => d.name === "iiitbh-big");
  const small = loaded.find((d) => d.name === "iiitbh-small");
  if (big && small) {
    const grid = [0.1, 0.5, 2];
    const saved = lib.DISCRIMINATIVE_SETTINGS.l2;
    const eer = {};
    for (const l2 of grid) {
      lib.DISCRIMINATIVE_SETTINGS.l2 = l2;
      for (const d of [big, small])
        eer[`${d.name}:${l2}`] = lib.evaluateVerification(d.samples, {
          detectors: ["discriminative"],
        }).detectors.discriminative.eer.mean;
    }
    lib.DISCRIMINATIVE_SETTINGS.l2 = saved;
    const rows = [];
    for (const [tuneOn, testOn] of [
      [big, small],
      [small, big],
    ]) {
      const bestTune = grid.reduce((a, b) =>
        eer[`${tuneOn.name}:${b}`] < eer[`${tuneOn.name}:${a}`] ? b : a,
      );
      const bestTest = grid.reduce((a, b) =>
        eer[`${testOn.name}:${b}`] < eer[`${testOn.name}:${a}`] ? b : a,
      );
      rows.push([
        `${tuneOn.name} → ${testOn.name}`,
        bestTune,
        pct(eer[`${tuneOn.name}:${bestTune}`]),
        pct(eer[`${testOn.name}:${bestTune}`]),
        `${pct(eer[`${testOn.name}:${bestTest}`])} (l2 ${bestTest})`,
        pct(eer[`${testOn.name}:${saved}`]),
      ]);
    }
    doc.cross_check = rows;
    printTable(
      `Cross-check: discriminative's l2 tuned (grid ${grid.join(", ")}) on one dataset, measured on the other (published protocol, first half); shipped l2 = ${saved}`,
      [
        "tuned → measured",
        "l2 chosen",
        "EER where tuned",
        "EER on the other",
        "other's own best",
        "shipped l2 there",
      ],
      rows,
    );
  }

  await quality(lib, loaded, doc);
  const extra = [];
  for (const d of loaded) {
    if (lib.openSetIdentification) extra.push(["open-set", d.name, lib.openSetIdentification(d.samples)]);
    if (lib.adaptationExperiment) extra.push(["adaptation", d.name, lib.adaptationExperiment(d.samples)]);
  }
  return finish(lib, loaded, doc, extra, quick, jsonOut);
}

async function quality(lib, loaded, doc) {
  // enrolment quality: each user alone (should pass) and two users mixed half-and-half (should be refused),
  // the population built from the other users only
  const qualityRows = [];
  for (const d of loaded) {
    const by = new Map();
    for (const s of d.samples) {
      const k = String(s.label);
      if (!by.has(k)) by.set(k, []);
      by.get(k).push(lib.extractTimings(s));
    }
    const users = [...by.keys()];
    const n = d.name === "threatfabric" ? 6 : 10;
    let alone = 0;
    let mixed = 0;
    const qs = [];
    for (let i = 0; i < users.length; i++) {
      const u = users[i];
      const o = users[(i + 1) % users.length];
      const popU = lib.buildPopulation(
        users.filter((x) => x !== u).map((x) => ({ user: x, vectors: by.get(x) })),
      );
      const r = lib.assessEnrolment(by.get(u).slice(0, n), popU);
      if (r.problems.length) alone++;
      qs.push(r.quality);
      const popUO = lib.buildPopulation(
        users.filter((x) => x !== u && x !== o).map((x) => ({ user: x, vectors: by.get(x) })),
      );
      const m = lib.assessEnrolment([...by.get(u).slice(0, n / 2), ...by.get(o).slice(0, n / 2)], popUO);
      if (m.problems.some((p) => p.code === "two_people")) mixed++;
    }
    qualityRows.push([d.name, n, `${alone}/${users.length}`, `${mixed}/${users.length}`, median(qs)]);
  }
  doc.quality = qualityRows;
  printTable(
    "Enrolment quality: one user alone refused (false refusals) vs two users mixed refused (population = the other users)",
    ["dataset", "samples", "alone refused", "mixed refused", "median quality alone"],
    qualityRows,
  );
}

async function finish(lib, loaded, doc, extra, quick, jsonOut) {
  for (const [kind, name, r] of extra) {
    if (!r) continue;
    doc[`${kind}:${name}`] = r;
    if (kind === "open-set") {
      printTable(
        `Open-set identification on ${name}: ${r.knownUsers} known users (templates from the first half), ${r.strangers} strangers never enrolled; threshold for a ${pct(r.targetFalseIdentification)} false-identification target (${r.thresholdSource})`,
        [
          "strangers rejected",
          "known accepted & right",
          "known rejected",
          "known accepted but wrong",
          "closed-set accuracy",
        ],
        [
          [
            pct(r.strangersRejected),
            pct(r.knownCorrect),
            pct(r.knownRejected),
            pct(r.knownWrong),
            pct(r.closedSetAccuracy),
          ],
        ],
      );
    } else {
      printTable(
        `Template adaptation on ${name} (session order; template from the first ${r.enrol} samples; EER on the later ones)`,
        ["without adaptation", "with --adapt", "accepted updates", "notes"],
        [[pct(r.without), pct(r.with), r.updates, r.note]],
      );
    }
  }

  if (!quick) await speed(lib, loaded[0].samples);
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify(doc, null, 2) + "\n");
  return doc;
}

async function speed(lib, samples) {
  const vectors = samples.map((s) => lib.extractTimings(s));
  const rows = [];
  for (const detector of ["manhattan-scaled", lib.DEFAULT_DETECTOR]) {
    const { templates, population } = lib.enrollSamples(samples, { detector });
    const store = new lib.TemplateStore(
      "(memory)",
      { detector, keys: samples[0].press.length, nFeatures: vectors[0].length, featureNames: [], population },
      templates,
    );
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
            const t = templates[(i * 7) % templates.length];
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
    rows.push([
      detector,
      median(rates.core),
      median(cpuRates.core),
      median(rates.store),
      median(cpuRates.store),
    ]);
  }
  printTable(
    `In-process verification, claims/s, medians of ${REPEATS} runs of ${SECONDS} s (target ≥ 20,000; store.verify adds replay memory and counters)`,
    ["detector", "verifySample /s wall", "/s CPU", "store.verify /s wall", "/s CPU"],
    rows,
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await verifyBench();
