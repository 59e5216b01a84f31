// bench:serve --only verify-store: what a verification costs in process on the SQLite store that `serve`
// opens, with the WAL checkpointed by SQLite's automatic checkpoint alone (the writing thread, every 1,000
// pages) and with serve's background checkpoint thread (every 20 ms; src/store/sqlite.ts). `verify` is
// called in a loop, one call awaited at a time, on a copy of a store with every user of the shared file
// enrolled; each call gets a fresh sample (the body's timings shifted by a few ms, as bench/wrk-verify.lua
// does), so every call writes its replay hash. Wall time counts the thread blocked in the checkpoint's
// fsyncs, CPU time does not: the difference is what the event loop of a server waits for. The last row
// starts 16 calls at a time, which share one write transaction (the store's group commit); its wall
// µs/call is the total time over the calls, its latencies each call's from start to answer.
import { copyFileSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { printTable, ROOT } from "./lib.mjs";

const CALLS = Number(process.env.BENCH_VERIFY_CALLS ?? 20000);
const ROUNDS = Number(process.env.BENCH_VERIFY_ROUNDS ?? 3);
// [WAL checkpoint, background thread every ms (0: none), verifications in flight at once]
const CONFIGS = [
  ["automatic checkpoint alone (1,000 pages)", 0, 1],
  ["+ background thread every 20 ms (serve)", 20, 1],
  ["+ background thread, 16 in flight (as wrk -c16)", 20, 16],
];

/** A fresh sample near the body's (so its replay hash is new): jittered press and release times, as the project extracts them. */
function freshSample(press, release, rng) {
  const p = press.map((x) => x + Math.floor(rng() * 7));
  const r = release.map((x, i) => x + (p[i] - press[i]) + Math.floor(rng() * 5) - 2);
  return { press: p, release: r };
}

/** Prints wall and CPU µs per verification and the slow calls, per checkpoint setting (rounds alternate). */
export async function benchVerifyStore(storeFile, bodyFile, dir) {
  const { openStore } = await import(pathToFileURL(join(ROOT, "dist", "store", "index.js")).href);
  const { IdentityService } = await import(pathToFileURL(join(ROOT, "dist", "identity", "index.js")).href);
  const { createRng } = await import(pathToFileURL(join(ROOT, "dist", "util", "random.js")).href);
  const { extractTimings } = await import(pathToFileURL(join(ROOT, "dist", "features", "index.js")).href);
  const freshVector = (press, release, rng) => extractTimings(freshSample(press, release, rng));
  const body = JSON.parse(readFileSync(bodyFile, "utf8"));
  const rows = [];
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [name, everyMs, inFlight] of CONFIGS) {
      const db = join(dir, `verify-store-${round}-${everyMs}.db`);
      copyFileSync(storeFile, db);
      const store = await openStore(db, { checkpointEveryMs: everyMs });
      const service = new IdentityService(store, {});
      const rng = createRng(round);
      try {
        for (let i = 0; i < 2000; i++)
          await service.verify(body.UserID, freshVector(body.press, body.release, rng));
        const lat = new Float64Array(CALLS);
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        // `inFlight` calls started together, as many connections' requests read in one turn of the loop
        for (let i = 0; i < CALLS; i += inFlight) {
          const calls = [];
          for (let j = i; j < Math.min(CALLS, i + inFlight); j++) {
            const v = freshVector(body.press, body.release, rng);
            const a = performance.now();
            calls.push(service.verify(body.UserID, v).then(() => (lat[j] = performance.now() - a)));
          }
          await Promise.all(calls);
        }
        const wall = performance.now() - t0;
        const cpu = process.cpuUsage(c0);
        lat.sort();
        const q = (x) => lat[Math.min(CALLS - 1, Math.floor(x * CALLS))];
        rows.push([
          name,
          String(round),
          ((wall * 1000) / CALLS).toFixed(1),
          ((cpu.user + cpu.system) / CALLS).toFixed(1),
          q(0.99).toFixed(2),
          q(0.999).toFixed(2),
          lat[CALLS - 1].toFixed(1),
          String(lat.filter((x) => x > 1).length),
        ]);
      } finally {
        await service.close();
        await store.close();
        for (const s of ["", "-wal", "-shm"]) rmSync(db + s, { force: true });
      }
    }
  }
  // the parts of one verification, by the same loop, with the background checkpoint thread
  const { sampleHash } = await import(pathToFileURL(join(ROOT, "dist", "identity", "service.js")).href);
  const db = join(dir, "verify-store-parts.db");
  copyFileSync(storeFile, db);
  const store = await openStore(db, { checkpointEveryMs: 20 });
  const parts = [];
  try {
    const id = String(body.UserID);
    const vector = freshVector(body.press, body.release, createRng(9));
    let k = 0;
    const time = async (name, f) => {
      for (let i = 0; i < 2000; i++) await f();
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      for (let i = 0; i < CALLS; i++) await f();
      const cpu = process.cpuUsage(c0);
      parts.push([
        name,
        ((1000 * (performance.now() - t0)) / CALLS).toFixed(1),
        ((cpu.user + cpu.system) / CALLS).toFixed(1),
      ]);
    };
    await time("replay memory: store.replay.check (one write transaction)", () =>
      store.replay.check(id, `bench-${k++}`, 1e12 + k, 1e9),
    );
    await time("template version: store.identities.version", () => store.identities.version(id));
    await time("replay hash: sampleHash (SHA-256)", () => sampleHash(vector));
  } finally {
    await store.close();
    for (const s of ["", "-wal", "-shm"]) rmSync(db + s, { force: true });
  }
  printTable(
    `the parts of a verification, ${CALLS} calls each, SQLite store with the background checkpoint thread`,
    ["part", "wall µs/call", "CPU µs/call"],
    parts,
  );
  printTable(
    `verify in process on the SQLite store, ${CALLS} calls per row (wall and CPU include generating each sample; CPU is the whole process's, the checkpoint thread's too)`,
    [
      "WAL checkpoint",
      "round",
      "wall µs/call",
      "CPU µs/call",
      "p99 ms",
      "p99.9 ms",
      "max ms",
      "calls > 1 ms",
    ],
    rows,
  );
  return rows;
}
