// Data of the training scale series: generated CMU-benchmark-shaped timings with a fixed seed, and the
// IIITBh files of ../shared/data read by position (their header names `H.a` twice). Both become one
// plain CSV, `user,session,t0…t30` in milliseconds, that our fit child and bench/scale_ref.py read alike.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT } from "./lib.mjs";

// the project's own seeded PRNG (mulberry32) and normal draw, so the series is the one src/ would generate
const { createRng, normal } = await import(pathToFileURL(join(ROOT, "dist", "util", "random.js")).href);

/** The sizes of the series: rows and users (100k rows only with --scale-large). */
export const GENERATED = [
  { rows: 10_000, users: 50 },
  { rows: 50_000, users: 200 },
  { rows: 100_000, users: 1_000, large: true },
];

/** Test rows scored at most (every k-th of the later sessions); scale_ref.py takes the same rows. */
export const MAX_TEST = 5000;
const KEYS = 11; // a 10-character password and Return, as in the CMU benchmark
const SESSIONS = 8;

/**
 * `rows` samples of `users` typists, CMU layout (H.k, DD.k.k+1, UD.k.k+1, …, H.last: 31 timings).
 * The population: digraphs that are slow for everyone (a shared factor per key pair), each user's own
 * tempo and hold style (log-normal around 90 ms holds and 220 ms press-to-press), a per-user spread
 * (coefficient of variation 8–25 % for holds, 15–45 % for intervals), and session drift: the user's
 * tempo and each of their timings wander a little from one session to the next.
 */
export function generateRows(rows, users, seed = 17) {
  const rng = createRng(seed);
  const pairDifficulty = Array.from({ length: KEYS - 1 }, () => Math.exp(0.4 * normal(rng)));
  const keyHold = Array.from({ length: KEYS }, () => Math.exp(0.15 * normal(rng)));
  const out = [];
  const perUser = Math.floor(rows / users);
  for (let u = 0; u < users; u++) {
    const tempo = Math.exp(0.35 * normal(rng));
    const holdStyle = Math.exp(0.25 * normal(rng));
    const hMean = keyHold.map((k) => 90 * holdStyle * k * Math.exp(0.2 * normal(rng)));
    const ddMean = pairDifficulty.map((g) => 220 * tempo * g * Math.exp(0.3 * normal(rng)));
    const hCv = 0.08 + 0.17 * rng();
    const ddCv = 0.15 + 0.3 * rng();
    let sessionTempo = 1;
    let drift = new Array(2 * KEYS - 1).fill(1);
    const n = u < rows % users ? perUser + 1 : perUser;
    for (let r = 0; r < n; r++) {
      const session = Math.floor((r * SESSIONS) / n);
      if (r === 0 || session !== Math.floor(((r - 1) * SESSIONS) / n)) {
        sessionTempo *= Math.exp(0.06 * normal(rng));
        drift = drift.map((d) => d * Math.exp(0.05 * normal(rng)));
      }
      const t = [];
      for (let k = 0; k < KEYS; k++) {
        const h = hMean[k] * drift[k] * Math.exp(hCv * normal(rng));
        t.push(h);
        if (k + 1 < KEYS) {
          const dd = ddMean[k] * sessionTempo * drift[KEYS + k] * Math.exp(ddCv * normal(rng));
          t.push(dd, dd - h);
        }
      }
      out.push({ user: u, session, t });
    }
  }
  return out;
}

/** IIITBh (benchmark layout, seconds) by position: subject, sessionIndex, rep, then 31 timings → ms. */
export function readIiitbh(path) {
  const [head, ...lines] = readFileSync(path, "utf8").trim().split(/\r?\n/);
  const width = head.split(",").length;
  return lines.map((line, i) => {
    const cells = line.split(",");
    if (cells.length !== width)
      throw new Error(`${path}:${i + 2}: ${cells.length} cells, header has ${width}`);
    return { user: cells[0], session: Number(cells[1]), t: cells.slice(3).map((v) => Number(v) * 1000) };
  });
}

/** Writes rows as `user,session,t0,…` (2 decimals: 10 µs, finer than any keyboard reports). */
export function writeScaleCsv(path, rows) {
  const width = rows[0].t.length;
  const lines = [["user", "session", ...Array.from({ length: width }, (_, i) => `t${i}`)].join(",")];
  for (const r of rows) lines.push(`${r.user},${r.session},${r.t.map((v) => v.toFixed(2)).join(",")}`);
  writeFileSync(path, lines.join("\n") + "\n");
}

/**
 * Reads a scale CSV and splits it by session: each user's earlier sessions train, the later ones test
 * (sessions up to the median session index of the file train).
 */
export function readScaleCsv(path) {
  const [, ...lines] = readFileSync(path, "utf8").trim().split("\n");
  const rows = lines.map((line) => {
    const cells = line.split(",");
    const user = cells[0];
    return {
      user: /^\d+$/.test(user) ? Number(user) : user,
      session: Number(cells[1]),
      x: cells.slice(2).map(Number),
    };
  });
  const sessions = [...new Set(rows.map((r) => r.session))].sort((a, b) => a - b);
  const cut = sessions[Math.floor((sessions.length - 1) / 2)];
  const train = rows.filter((r) => r.session <= cut);
  const later = rows.filter((r) => r.session > cut);
  const step = Math.ceil(later.length / MAX_TEST);
  const test = later.filter((_, i) => i % step === 0);
  return {
    Xtr: train.map((r) => r.x),
    ytr: train.map((r) => r.user),
    Xte: test.map((r) => r.x),
    yte: test.map((r) => r.user),
  };
}
