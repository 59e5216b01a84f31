#!/usr/bin/env node
// Writes the synthetic fixtures under fixtures/ (or the directory given as the first argument, or in
// KEYSTROKE_FIXTURES_DIR): a realistic keystroke dataset in every layout the reader knows, plus request
// bodies of the REST contract. Plain Node, fixed seed: a rerun gives byte-identical files.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
// the package's own seeded generator (npm install builds dist/)
import { createRng, normal, shuffle } from "../dist/util/random.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const OUT = resolve(process.argv[2] ?? process.env.KEYSTROKE_FIXTURES_DIR ?? join(ROOT, "fixtures"));
const SEED = 20240613;

const logNormal = (rng, median, sigma) => median * Math.exp(sigma * normal(rng));
// The wide and events fixtures type a 13-key text; the derived one CMU's `.tie5Roanl` + Return.
const TEXT_KEYS = ["t", "h", "e", "Space", "q", "u", "i", "c", "k", "Space", "f", "o", "x"];
const CMU_KEYS = ["period", "t", "i", "e", "five", "Shift.r", "o", "a", "n", "l", "Return"];

/**
 * A typist: a typical hold and flight (press–press) time, and per-key / per-pair habits on top of the
 * difficulty every typist shares. Samples vary by a whole-sample tempo and per-keystroke noise, so users
 * overlap: separable, but not trivially.
 */
function makeTypist(rng, keys, shared) {
  const hold = logNormal(rng, 105, 0.22);
  const flight = logNormal(rng, 165, 0.3);
  return {
    holds: keys.map((_, i) => hold * shared.holds[i] * Math.exp(0.18 * normal(rng))),
    flights: keys.slice(1).map((_, i) => flight * shared.flights[i] * Math.exp(0.22 * normal(rng))),
    holdNoise: 0.15 + 0.05 * rng(),
    flightNoise: 0.22 + 0.06 * rng(),
  };
}
function sharedDifficulty(rng, keys) {
  return {
    holds: keys.map(() => Math.exp(0.15 * normal(rng))),
    flights: keys.slice(1).map(() => Math.exp(0.3 * normal(rng))),
  };
}

/** One typed sample in integer milliseconds; press times never go backwards, releases may overlap the next press. */
function typeSample(rng, typist, start = 0) {
  const tempo = Math.exp(0.1 * normal(rng));
  const press = [];
  const release = [];
  let t = start;
  for (let i = 0; i < typist.holds.length; i++) {
    if (i > 0)
      t += Math.max(8, Math.round(logNormal(rng, typist.flights[i - 1] * tempo, typist.flightNoise)));
    press.push(t);
    release.push(t + Math.max(20, Math.round(logNormal(rng, typist.holds[i] * tempo, typist.holdNoise))));
  }
  return { press, release };
}

const meanStd = (xs) => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return [m, Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length)];
};
function summary(s) {
  const n = s.press.length;
  const HT = s.press.map((p, i) => s.release[i] - p);
  const PPT = [],
    RRT = [],
    RPT = [];
  for (let i = 0; i + 1 < n; i++) {
    PPT.push(s.press[i + 1] - s.press[i]);
    RRT.push(s.release[i + 1] - s.release[i]);
    RPT.push(s.press[i + 1] - s.release[i]);
  }
  const out = {};
  for (const [k, v] of Object.entries({ HT, PPT, RRT, RPT })) {
    const [mean, std] = meanStd(v);
    out[k] = { Mean: round(mean, 6), STD: round(std, 6) };
  }
  return out;
}
const round = (v, d) => Number(v.toFixed(d));

const wideHeader = (n) => Array.from({ length: n }, (_, i) => `press-${i},release-${i}`).join(",");
const wideCells = (s) => s.press.map((p, i) => `${p},${s.release[i]}`).join(",");

const files = {};
const rng = createRng(SEED);

// --- wide layout: 30 users × (10 train + 3 test + 1 spare) samples -------------------------------
const shared = sharedDifficulty(rng, TEXT_KEYS);
const users = Array.from({ length: 30 }, (_, i) => ({
  id: 101 + i * 3,
  typist: makeTypist(rng, TEXT_KEYS, shared),
}));
const train = [];
const test = [];
const spare = [];
for (const u of users) {
  for (let r = 0; r < 10; r++) train.push({ id: u.id, ...typeSample(rng, u.typist) });
  for (let r = 0; r < 3; r++) test.push({ id: u.id, ...typeSample(rng, u.typist) });
  spare.push({ id: u.id, ...typeSample(rng, u.typist) });
}
shuffle(rng, train);
files["wide-train.csv"] =
  [`${wideHeader(13)},UserID`, ...train.map((s) => `${wideCells(s)},${s.id}`)].join("\n") + "\n";
// label first and named `user`, as the other public copy of the challenge data has it
files["wide-test.csv"] =
  [`user,${wideHeader(13)}`, ...test.map((s) => `${s.id},${wideCells(s)}`)].join("\n") + "\n";
files["wide-unlabelled.csv"] = [wideHeader(13), ...spare.slice(0, 6).map(wideCells)].join("\n") + "\n";

// --- derived layout (CMU benchmark): 4 subjects × 8 reps, seconds with 4 decimals ---------------
const cmuShared = sharedDifficulty(rng, CMU_KEYS);
const cmuHeader = ["subject", "sessionIndex", "rep"];
CMU_KEYS.forEach((k, i) => {
  cmuHeader.push(`H.${k}`);
  if (i + 1 < CMU_KEYS.length) cmuHeader.push(`DD.${k}.${CMU_KEYS[i + 1]}`, `UD.${k}.${CMU_KEYS[i + 1]}`);
});
const cmuRows = [cmuHeader.join(",")];
const tenths = (ms) => Math.round(ms * 10); // whole 0.1 ms, so UD = DD − H holds exactly in the file
const sec = (t) => (t / 10000).toFixed(4);
for (const subject of ["s002", "s003", "s004", "s005"]) {
  const typist = makeTypist(rng, CMU_KEYS, cmuShared);
  for (let rep = 1; rep <= 8; rep++) {
    const s = typeSample(rng, typist);
    const cells = [subject, "1", String(rep)];
    for (let i = 0; i < CMU_KEYS.length; i++) {
      const h = tenths(s.release[i] - s.press[i] + rng());
      cells.push(sec(h));
      if (i + 1 < CMU_KEYS.length) {
        const dd = tenths(s.press[i + 1] - s.press[i] + rng());
        cells.push(sec(dd), sec(dd - h));
      }
    }
    cmuRows.push(cells.join(","));
  }
}
files["cmu-small.csv"] = cmuRows.join("\n") + "\n";

// --- events layout: one row per key, written at key-up as a browser logger would -----------------
const eventRows = ["user,sample,key,press,release"];
for (const name of ["alice", "bob", "carol"]) {
  const typist = makeTypist(rng, TEXT_KEYS, shared);
  for (let sample = 1; sample <= 4; sample++) {
    const s = typeSample(rng, typist, 1000 + Math.floor(rng() * 9000));
    const events = s.press.map((p, i) => ({ key: TEXT_KEYS[i], press: p, release: s.release[i] }));
    events.sort((a, b) => a.release - b.release);
    for (const e of events) eventRows.push(`${name},${sample},${e.key},${e.press},${e.release}`);
  }
}
files["events.csv"] = eventRows.join("\n") + "\n";

// --- request bodies of the REST contract, from spare samples nobody trained on --------------------
const json = (v) => JSON.stringify(v, null, 2) + "\n";
const [a, b, c] = spare;
files["request-rf.json"] = json({ Model: "RF", ...summary(a) });
files["request-svm.json"] = json({ Model: "SVM", ...summary(a) });
files["request-xgb.json"] = json({ Model: "XGB", ...summary(a) });
files["request-timings.json"] = json({ press: a.press, release: a.release });
files["request-keystrokes.json"] = json({
  keystrokes: a.press.map((p, i) => ({ key: TEXT_KEYS[i], press: p, release: a.release[i] })),
});
files["requests.ndjson"] =
  [
    { Model: "RF", ...summary(a) },
    { press: b.press, release: b.release },
    {
      Model: "XGB",
      keystrokes: c.press.map((p, i) => ({ key: TEXT_KEYS[i], press: p, release: c.release[i] })),
    },
    { Model: "SVM", ...summary(c) },
  ]
    .map((o) => JSON.stringify(o))
    .join("\n") + "\n";

mkdirSync(OUT, { recursive: true });
for (const [name, text] of Object.entries(files)) writeFileSync(join(OUT, name), text);
process.stderr.write(`wrote ${Object.keys(files).length} fixture files to ${OUT}\n`);
