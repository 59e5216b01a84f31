// The import alone, for A/B runs of two builds on one export: wall and CPU seconds of this process (every
// thread) and, with PG_DATA_DIR, of that PostgreSQL server's processes.
//   node bench/store-import.mjs EXPORT.ndjson [STORE]   (STORE: a new SQLite file by default, or postgres://…)
//   KID_DIST=/path/to/another/dist node bench/store-import.mjs …   (the build to time; default ./dist)
// An export to time: `keystroke-id users export --store STORE -o FILE` of any store.
import { createReadStream, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
import { ROOT, postgresCpuSeconds } from "./lib.mjs";

const [file, location] = process.argv.slice(2);
if (!file) {
  console.error("usage: node bench/store-import.mjs EXPORT.ndjson [STORE]");
  process.exit(2);
}
const dist = resolve(process.env.KID_DIST ?? join(ROOT, "dist"));
const { openStore } = await import(pathToFileURL(join(dist, "store/index.js")).href);
const { importStore } = await import(pathToFileURL(join(dist, "identity/transfer.js")).href);

const work = location ? null : mkdtempSync(join(tmpdir(), "kid-import-"));
const store = await openStore(location ?? join(work, "import.db"));
const pgData = process.env.PG_DATA_DIR;
const server0 = pgData ? postgresCpuSeconds(pgData) : null;
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const report = await importStore(
  store,
  createInterface({ input: createReadStream(file), crlfDelay: Infinity }),
  {
    file,
  },
);
const wall = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
const server = server0 === null ? null : postgresCpuSeconds(pgData) - server0;
await store.close();
if (work) rmSync(work, { recursive: true, force: true });
const s = (x) => Number(x.toFixed(2));
console.log(
  JSON.stringify({
    dist,
    store: store.location,
    users: report.users,
    wall_s: s(wall),
    per_100k_s: s((wall * 100_000) / report.users),
    cpu_s: s((cpu.user + cpu.system) / 1e6),
    ...(server === null ? {} : { server_cpu_s: s(server) }),
  }),
);
