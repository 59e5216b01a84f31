// Shared helpers of the benchmark parts: where the shared data is, running the Python reference,
// measuring whole processes (wall time, peak RSS of the child) and printing tables.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import os from "node:os";
import Table from "cli-table3";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const SHARED = resolve(ROOT, "..", "shared");
export const SHARED_DATA = join(SHARED, "data", "threatfabric-train.csv");
export const ANCHORS = join(SHARED, "anchors");
export const BIN = join(ROOT, "bin", "keystroke-id.js");

/** The shared real data file, or null (with a message) when it is absent. */
export function sharedData() {
  if (existsSync(SHARED_DATA)) return SHARED_DATA;
  console.log(`(skipped: ${SHARED_DATA} is absent)`);
  return null;
}

/** Makes sure the Python reference stack is installed (Debian packages, via the anchors' setup.sh). */
export function ensurePython() {
  const ok = spawnSync("/usr/bin/python3", ["-c", "import sklearn, xgboost, flask, pandas"], {
    stdio: "ignore",
  });
  if (ok.status === 0) return true;
  if (!existsSync(join(ANCHORS, "setup.sh"))) return false;
  const r = spawnSync("bash", [join(ANCHORS, "setup.sh")], { stdio: ["ignore", "ignore", "inherit"] });
  return r.status === 0;
}

/**
 * Runs a command to completion and returns { wallS, maxRssMB, status, stdout, stderr }; peak RSS is the
 * child's own (getrusage of children, read through python3, which every machine here has).
 */
export function measure(cmd, args, options = {}) {
  const probe = `
import json, resource, subprocess, sys, time
t = time.perf_counter()
p = subprocess.run(sys.argv[1:], capture_output=True, input=None)
w = time.perf_counter() - t
r = resource.getrusage(resource.RUSAGE_CHILDREN)
sys.stdout.write(json.dumps({"wall": w, "rss_kb": r.ru_maxrss, "status": p.returncode, "out": p.stdout.decode(errors="replace"), "err": p.stderr.decode(errors="replace")}))
`;
  const r = spawnSync("python3", ["-c", probe, cmd, ...args], {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, ...options.env },
    maxBuffer: 1 << 30,
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`measure failed: ${r.stderr}`);
  const j = JSON.parse(r.stdout);
  return { wallS: j.wall, maxRssMB: j.rss_kb / 1024, status: j.status, stdout: j.out, stderr: j.err };
}

/** Median of numbers. */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Prints a titled table to stdout. */
export function printTable(title, head, rows) {
  const t = new Table({ head, style: { head: [], border: [] } });
  for (const r of rows) t.push(r.map((v) => (typeof v === "number" ? fmt(v) : String(v ?? "—"))));
  console.log(`\n${title}\n${t.toString()}`);
}

/** A number for a benchmark table. */
export function fmt(v) {
  if (!Number.isFinite(v)) return String(v);
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(3);
}

/** One line naming the machine, for the README quotes. */
export function machine() {
  const cpu = os.cpus()[0]?.model ?? "unknown CPU";
  return `${os.cpus().length} × ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;
}

/**
 * CPU seconds (user + system) used so far by the bench's PostgreSQL server: its postmaster (the PID in
 * `postmaster.pid` of its data directory) and that process's children (background processes and the
 * connections' backends) alive now. Read before and after the import, while its connections are open;
 * other PostgreSQL servers on the machine are not counted.
 */
export function postgresCpuSeconds(dataDir) {
  const tick = 100; // USER_HZ on Linux
  const postmaster = readFileSync(join(dataDir, "postmaster.pid"), "utf8").split("\n")[0].trim();
  let ticks = 0;
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      continue;
    }
    // fields after "(comm)": state, ppid, …; utime and stime are the 12th and 13th
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (pid !== postmaster && f[1] !== postmaster) continue;
    ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks / tick;
}
