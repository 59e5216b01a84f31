// bench:reliability — `keystroke-id serve` under load (issue 7, item 2). A benchmark, not a CI test:
//   1. sustained: wrk for --duration seconds (default 60) per model on a fresh server, server RSS sampled
//      every second from /proc; api.py (the Python reference) under the same wrk command for the ratio;
//   2. SIGTERM under load: a Node client (keep-alive, 16 loops) records every request; the server is
//      signalled midway; every request started before the signal must get a 200 and the exit code be 0;
//   4. hostile bodies: the POST /predict cases of the server fuzz test (test/fuzz/server-fuzz.test.ts,
//      its CI seed), replayed over HTTP against `serve` and api.py alike; 5xx and unanswered counted;
//   3. SIGHUP under load: wrk for 20 s while the server gets SIGHUP every second and, once, a retrained
//      models dir (another seed) copied in over the served one, so --watch reloads too; no request may fail.
// `npm run bench:reliability -- --duration 10` shortens part 1 while developing (BENCH_RELIABILITY_SECONDS too);
// `-- --only sustained --servers RF --duration 300` is a five-minute memory soak of one server.
import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { loadavg, tmpdir } from "node:os";
import { join, relative } from "node:path";
import { performance } from "node:perf_hooks";
import { ANCHORS, ensurePython, fmt, printTable, ROOT, sharedData } from "./lib.mjs";
import { PY, sleep, startOurs, startPython, stop, trainSummaryModels, writeBodies } from "./servers.mjs";

const TARGET_RPS = 10_000;
const CONNECTIONS = 16;
const MODELS = ["RF", "XGB", "SVM"];
const DURATION = seconds("--duration", process.env.BENCH_RELIABILITY_SECONDS, 60);
const SIGTERM_LOOPS = 16;
const SIGTERM_AFTER_S = 3;
const SIGHUP_SECONDS = 20;
// `--only sustained|sigterm|sighup|hostile` runs one part while developing
const ONLY = process.argv.find((a, i, all) => all[i - 1] === "--only");
// `--servers RF` (comma list of RF, XGB, SVM, api.py) limits the sustained part, e.g. for a long RF-only soak
const SERVERS = (
  process.argv.find((a, i, all) => all[i - 1] === "--servers") ?? [...MODELS, "api.py"].join(",")
)
  .split(",")
  .map((x) => x.trim());

/** Runs the reliability benchmark and prints its tables. */
export default async function benchReliability() {
  const data = sharedData();
  if (!data) return;
  if (spawnSync("wrk", ["--version"]).error) {
    console.log("(skipped: wrk is not installed; bash /work/shared/anchors/setup.sh installs it)");
    return;
  }
  const tmp = mkdtempSync(join(tmpdir(), "kid-bench-reliability-"));
  try {
    await run(data, tmp);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function run(data, tmp) {
  const models = join(tmp, "models");
  const trained = trainSummaryModels(data, models, 42);
  const bodies = writeBodies(data, tmp);

  if (!ONLY || ONLY === "sustained") await sustainedParts(data, tmp, models, trained, bodies);
  if (!ONLY || ONLY === "sigterm") await sigtermPart(models, bodies);
  if (!ONLY || ONLY === "sighup") await sighupPart(data, tmp, models, trained, bodies);
  if (!ONLY || ONLY === "hostile") await hostilePart(data, tmp, models, bodies);
  console.log(
    `load average at the end: ${loadavg()
      .map((v) => v.toFixed(1))
      .join(" ")} (2 cores; above ~2, req/s understates the server)`,
  );
}

async function sustainedParts(data, tmp, models, trained, bodies) {
  // one fresh server per model, so each RSS figure is its own
  const rows = [];
  const rssRows = [];
  for (const model of MODELS.filter((m) => SERVERS.includes(m))) {
    if (!trained.includes(model)) {
      rows.push([model, "not trained"]);
      continue;
    }
    const server = await startOurs(models, ["--no-watch", "--log-level", "warn"]);
    let r;
    try {
      r = await sustained(
        `${server.url}/predict`,
        bodies[model],
        server.child.pid,
        DURATION,
        `${server.url}/metrics`,
      );
    } finally {
      await stop(server.child);
    }
    rows.push(sustainedRow(`${model} (keystroke-id)`, r));
    rssRows.push([`${model} (keystroke-id)`, ...r.marks]);
  }
  let py = null;
  if (!SERVERS.includes("api.py")) {
    // not asked for
  } else if (ensurePython()) {
    const server = await startPython(pythonModels(data, tmp));
    try {
      py = await sustained(`${server.url}/predict`, bodies.RF, server.child.pid, DURATION);
    } finally {
      await stop(server.child);
    }
    rows.push(sustainedRow("RF (api.py, Flask)", py));
    rssRows.push(["RF (api.py, Flask)", ...py.marks]);
  } else {
    console.log("(Python reference unavailable: run /work/shared/anchors/setup.sh; measuring ours alone)");
  }
  printTable(
    `Sustained load: POST /predict, original-contract body, ${wrkCommand(DURATION)} (target ${TARGET_RPS} req/s)`,
    [
      "server",
      "req/s",
      "≥ target",
      "p50 ms",
      "p99 ms",
      "requests",
      "non-2xx",
      "socket errors",
      "RSS before MB",
      "peak MB",
      "after MB",
      "after − before",
      "trend MB/min",
      "heap used MB",
    ],
    rows,
  );
  const failed = rows.filter((r) => r.length > 2 && (r[6] !== "0" || r[7] !== "0")).map((r) => r[0]);
  console.log(
    failed.length === 0
      ? "sustained: PASS (no non-2xx, no socket error)"
      : `sustained: FAIL (failed requests on ${failed.join(", ")})`,
  );
  const rf = rows.find((r) => r[0] === "RF (keystroke-id)");
  if (rf && typeof rf[1] === "number")
    console.log(
      `RF holds ${fmt(rf[1])} req/s for ${DURATION} s: the ${TARGET_RPS} req/s target is ${rf[1] >= TARGET_RPS ? "met" : "not met"} on this machine`,
    );
  if (py && rf && typeof rf[1] === "number")
    console.log(`RF: keystroke-id / api.py = ${(rf[1] / py.rps).toFixed(1)}× the requests per second`);
  printTable(
    `Server RSS (MB) at 10 s intervals during the sustained load (0 s = load starts)`,
    ["server", ...marks(DURATION).map((t) => `${t} s`)],
    rssRows,
  );
}

async function sigtermPart(models, bodies) {
  const term = await sigtermUnderLoad(models, readFileSync(bodies.RF, "utf8"));
  printTable(
    `SIGTERM under load: ${SIGTERM_LOOPS} keep-alive loops (Node http.Agent), RF body, signal after ${SIGTERM_AFTER_S} s`,
    ["requests", "count", "200", "503", "refused", "reset", "other"],
    [
      ["started before SIGTERM", ...outcomeColumns(term.before)],
      ["started after SIGTERM", ...outcomeColumns(term.after)],
    ],
  );
  console.log(
    `exit code ${term.exitCode}, ${fmt(term.exitMs)} ms from SIGTERM to exit; server said: ${term.said || "(nothing)"}`,
  );
  const lost = term.before.length - term.before.filter((r) => r.outcome === 200).length;
  console.log(
    lost === 0 && term.exitCode === 0
      ? "SIGTERM: PASS (every request sent before the signal answered 200, exit 0)"
      : `SIGTERM: FAIL (${lost} requests sent before the signal not answered 200; exit ${term.exitCode})`,
  );
}

async function sighupPart(data, tmp, models, trained, bodies) {
  if (!trained.includes("RF")) return;
  const other = join(tmp, "models-seed-7");
  trainSummaryModels(data, other, 7, trained);
  const hup = await sighupUnderLoad(models, other, join(tmp, "live"), bodies.RF);
  printTable(
    `SIGHUP under load: ${wrkCommand(SIGHUP_SECONDS)}, RF body, SIGHUP every second, models dir swapped once (seed 42 → 7, --watch on)`,
    [
      "req/s",
      "requests",
      "p99 ms",
      "max ms",
      "non-2xx",
      "socket errors",
      "SIGHUP sent",
      "reloads ok",
      "reloads failed",
      "serving seed after",
    ],
    [
      [
        hup.rps,
        hup.total,
        hup.p99,
        hup.max,
        ...[hup.non2xx, hup.socketErrors, hup.hups, hup.reloadsOk, hup.reloadsFailed, hup.seedAfter].map(
          String,
        ),
      ],
    ],
  );
  const failed = hup.non2xx + hup.socketErrors;
  console.log(
    failed === 0 && hup.reloadsFailed === 0 && hup.seedAfter === 7
      ? "SIGHUP: PASS (no failed request, every reload ok, the swapped models served)"
      : `SIGHUP: FAIL (${failed} failed requests, ${hup.reloadsFailed} failed reloads, seed after ${hup.seedAfter})`,
  );
}

/** `--name N`, `--name=N`, then the environment, then the default; a positive number. */
function seconds(name, env, fallback) {
  const args = process.argv;
  const i = args.indexOf(name);
  const raw =
    i >= 0 ? args[i + 1] : (args.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1) ?? env);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0)
    throw new Error(`${name} must be a positive number of seconds, not "${raw}"`);
  return n;
}

function wrkCommand(s) {
  return `wrk -t1 -c${CONNECTIONS} -d${s}s -s anchors/wrk-post.lua on loopback`;
}

function sustainedRow(label, r) {
  const socketErrors = r.socketErrors;
  const heap = Number.isFinite(r.heapBefore) ? `${fmt(r.heapBefore)} → ${fmt(r.heapAfter)}` : "—";
  return [
    label,
    r.rps,
    r.rps >= TARGET_RPS ? "yes" : "no",
    r.p50,
    r.p99,
    String(r.total),
    String(r.non2xx),
    String(socketErrors),
    r.before,
    r.peak,
    r.after,
    r.after - r.before,
    r.trend,
    heap,
  ];
}

/** Trains summary models (all three, or RF and SVM when XGB cannot train here); returns the algorithms trained. */
/** Resident set size of a process in MB (VmRSS from /proc), NaN when it is gone. */
function rssMB(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** wrk without blocking this process, so RSS can be sampled meanwhile; resolves to its parsed output. */
function wrk(url, bodyFile, s) {
  return new Promise((resolve, reject) => {
    const child = spawn(
      "wrk",
      ["-t1", `-c${CONNECTIONS}`, `-d${s}s`, "--latency", "-s", join(ANCHORS, "wrk-post.lua"), url],
      { env: { ...process.env, BODY_FILE: bodyFile }, cwd: ANCHORS },
    );
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("close", () => resolve(parseWrk(out)));
  });
}

function parseWrk(out) {
  const ms = (value, unit) => Number(value) * { us: 0.001, ms: 1, s: 1000, m: 60_000 }[unit];
  const pct = (p) => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)`, "m").exec(out);
    return m ? ms(m[1], m[2]) : NaN;
  };
  const lat = /Latency\s+[\d.]+\w+\s+[\d.]+\w+\s+([\d.]+)(us|ms|s|m)/.exec(out);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    total: Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN),
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN),
    p50: pct(50),
    p99: pct(99),
    max: lat ? ms(lat[1], lat[2]) : NaN,
    non2xx: Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0),
    socketErrors: sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
    raw: out,
  };
}

function marks(s) {
  return Array.from({ length: Math.floor(s / 10) + 1 }, (_, i) => i * 10);
}

/**
 * wrk for `s` seconds after a 2 s warm-up, with the server's RSS before, every second during, and 2 s after;
 * and the V8 heap in use before and after from /metrics when the server has one (RSS alone also grows with
 * the heap V8 reserves and later gives back).
 */
async function sustained(url, bodyFile, pid, s, metricsUrl) {
  await wrk(url, bodyFile, 2);
  await sleep(1000);
  const heapBefore = await heapUsedMB(metricsUrl);
  const before = rssMB(pid);
  const samples = [[0, before]];
  const t0 = performance.now();
  const timer = setInterval(() => samples.push([(performance.now() - t0) / 1000, rssMB(pid)]), 1000);
  const r = await wrk(url, bodyFile, s);
  clearInterval(timer);
  await sleep(2000);
  const after = rssMB(pid);
  const heapAfter = await heapUsedMB(metricsUrl);
  const at = (t) => samples.reduce((best, x) => (Math.abs(x[0] - t) < Math.abs(best[0] - t) ? x : best))[1];
  // growth after the first 10 s (heap and JIT warm-up over), by least squares; MB per minute
  const late = samples.filter(([t]) => t >= Math.min(10, s / 2));
  return {
    ...r,
    before,
    peak: Math.max(...samples.map((x) => x[1])),
    after,
    trend: slope(late) * 60,
    marks: marks(s).map(at),
    heapBefore,
    heapAfter,
  };
}

/** nodejs_heap_size_used_bytes from the server's Prometheus metrics, in MB; NaN without them. */
async function heapUsedMB(metricsUrl) {
  if (!metricsUrl) return NaN;
  const text = await (await fetch(metricsUrl)).text();
  return Number(/^keystroke_id_nodejs_heap_size_used_bytes (\S+)/m.exec(text)?.[1] ?? NaN) / 2 ** 20;
}

function slope(points) {
  if (points.length < 2) return NaN;
  const n = points.length;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  const sxy = points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0);
  const sxx = points.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  return sxy / sxx;
}

/** One POST over the agent; resolves to the status once the whole answer is read, rejects with the socket error. */
function post(url, body, agent) {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        agent,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
        timeout: 10_000,
      },
      (res) => {
        res.on("data", () => {});
        res.on("end", () => resolve(res.statusCode));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(Object.assign(new Error("timed out"), { code: "ETIMEDOUT" })));
    req.on("error", reject);
    req.end(body);
  });
}

/** Runs the keep-alive loops, signals the server midway, and records every request until the server is gone. */
async function sigtermUnderLoad(modelsDir, body) {
  const server = await startOurs(modelsDir, ["--no-watch", "--log-level", "warn"]);
  const url = `${server.url}/predict`;
  const agent = new Agent({ keepAlive: true, maxSockets: SIGTERM_LOOPS });
  const records = [];
  let signalAt = null;
  let exitAt = null;
  let exitCode = null;
  const exited = new Promise((resolve) =>
    server.child.on("exit", (code, signal) => {
      exitAt = performance.now();
      exitCode = code ?? signal;
      resolve();
    }),
  );
  const loop = async () => {
    while (exitAt === null) {
      const r = { start: performance.now(), end: 0, outcome: null };
      records.push(r);
      try {
        r.outcome = await post(url, body, agent);
      } catch (e) {
        r.outcome = e.code ?? e.message;
      }
      r.end = performance.now();
      // a refused connection comes back at once: do not spin on it
      if (typeof r.outcome !== "number") await sleep(20);
    }
  };
  const loops = Array.from({ length: SIGTERM_LOOPS }, loop);
  await sleep(SIGTERM_AFTER_S * 1000);
  signalAt = performance.now();
  server.child.kill("SIGTERM");
  const hung = setTimeout(() => server.child.kill("SIGKILL"), 30_000);
  await exited;
  clearTimeout(hung);
  await Promise.all(loops);
  agent.destroy();
  const said = server
    .stderr()
    .split("\n")
    .filter((l) => /SIGTERM|in flight|answered/.test(l))
    .join(" / ");
  return {
    before: records.filter((r) => r.start < signalAt),
    after: records.filter((r) => r.start >= signalAt),
    exitCode,
    exitMs: exitAt - signalAt,
    said,
  };
}

function outcomeColumns(records) {
  const n = (f) => records.filter(f).length;
  const known = (o) => o === 200 || o === 503 || o === "ECONNREFUSED" || o === "ECONNRESET";
  const other = records.filter((r) => !known(r.outcome));
  const kinds = [...new Set(other.map((r) => String(r.outcome)))].map(
    (k) => `${k}×${other.filter((r) => String(r.outcome) === k).length}`,
  );
  // counts as strings: the table's number format would give them decimals
  return [
    records.length,
    n((r) => r.outcome === 200),
    n((r) => r.outcome === 503),
    n((r) => r.outcome === "ECONNREFUSED"),
    n((r) => r.outcome === "ECONNRESET"),
    kinds.join(" ") || "0",
  ].map(String);
}

/** wrk on a served copy of `from` while SIGHUP comes every second; halfway, the files of `swapIn` replace it. */
async function sighupUnderLoad(from, swapIn, live, bodyFile) {
  cpSync(from, live, { recursive: true });
  const server = await startOurs(live, ["--log-level", "warn"]);
  let hups = 0;
  try {
    await wrk(`${server.url}/predict`, bodyFile, 2);
    const t0 = performance.now();
    const load = wrk(`${server.url}/predict`, bodyFile, SIGHUP_SECONDS);
    for (let tick = 1; tick < SIGHUP_SECONDS; tick++) {
      await sleep(t0 + tick * 1000 - performance.now());
      if (tick === Math.floor(SIGHUP_SECONDS / 2)) swapFiles(swapIn, live);
      else {
        server.child.kill("SIGHUP");
        hups++;
      }
    }
    const r = await load;
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    const reloads = (outcome) =>
      Number(
        new RegExp(`keystroke_id_model_reloads_total\\{outcome="${outcome}"\\} (\\d+)`).exec(metrics)?.[1] ??
          0,
      );
    const manifest = await (await fetch(`${server.url}/models`)).json();
    return {
      ...r,
      hups,
      reloadsOk: reloads("ok"),
      reloadsFailed: reloads("failed"),
      seedAfter: manifest.seed,
    };
  } finally {
    await stop(server.child);
  }
}

/** Copies every file of `src` into `dst`, each through a temp name and a rename (never half a file), manifest.json last. */
function swapFiles(src, dst) {
  const files = readdirSync(src, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(src, join(e.parentPath ?? e.path, e.name)))
    .sort((a, b) => (a === "manifest.json") - (b === "manifest.json"));
  for (const f of files) {
    const tmp = join(dst, `${f}.swap-tmp`);
    cpSync(join(src, f), tmp);
    renameSync(tmp, join(dst, f));
  }
}

/** Python reference models trained once per run (summary features, as the original contract). */
function pythonModels(data, tmp) {
  const theirs = join(tmp, "py");
  if (!existsSync(theirs)) {
    const t = spawnSync(PY, [join(ANCHORS, "train.py"), data, "--features", "summary", "--save", theirs], {
      cwd: ANCHORS,
      encoding: "utf8",
    });
    if (t.status !== 0) throw new Error(`anchors/train.py failed: ${t.stderr}`);
  }
  return theirs;
}

async function hostilePart(data, tmp, models, bodies) {
  const file = join(tmp, "hostile.ndjson");
  // the fuzz test writes the cases it sends in-process; one generator for CI and for this replay
  const g = spawnSync(
    process.execPath,
    [join(ROOT, "node_modules", "vitest", "vitest.mjs"), "run", "test/fuzz/server-fuzz.test.ts"],
    {
      cwd: ROOT,
      env: { ...process.env, FUZZ_CORPUS: file, FORCE_COLOR: "0" },
      encoding: "utf8",
      maxBuffer: 1 << 26,
    },
  );
  if (g.status !== 0 || !existsSync(file))
    throw new Error(`the fuzz test failed, so there is no corpus: ${(g.stdout + g.stderr).slice(-2000)}`);
  const cases = readFileSync(file, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  const rows = [];
  const ours = await startOurs(models, ["--no-watch", "--log-level", "warn"]);
  try {
    rows.push(["keystroke-id serve", ...hostileColumns(await replay(ours.url, cases, bodies.RF))]);
  } finally {
    await stop(ours.child);
  }
  if (ensurePython()) {
    const py = await startPython(pythonModels(data, tmp));
    try {
      rows.push(["api.py (Flask)", ...hostileColumns(await replay(py.url, cases, bodies.RF))]);
    } finally {
      await stop(py.child);
    }
  }
  printTable(
    `Hostile bodies: the ${cases.length} POST /predict cases of test/fuzz/server-fuzz.test.ts (CI seed) replayed over HTTP, 8 at a time`,
    ["server", "sent", "2xx", "4xx", "5xx", "no answer", "could not be sent", "valid request after"],
    rows,
  );
  const ourRow = rows[0];
  console.log(
    ourRow[4] === "0" && ourRow[5] === "0" && ourRow[7] === "200"
      ? "hostile: PASS (no 5xx, every case answered, still serving)"
      : "hostile: FAIL",
  );
}

/** Sends every case (8 in flight), then one valid request; tallies statuses. */
async function replay(url, cases, validBodyFile) {
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  const out = { sent: 0, s2: 0, s4: 0, s5: 0, none: 0, unsendable: 0, after: 0 };
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const c = cases[next++];
      const headers = c.contentType === null ? {} : { "content-type": c.contentType };
      let status;
      try {
        status = await rawPost(url + c.url, Buffer.from(c.payload, "base64"), headers, agent);
      } catch (e) {
        // a header or URL that Node's HTTP client refuses to put on the wire
        if (String(e.code).startsWith("ERR_")) {
          out.unsendable++;
          continue;
        }
        status = null;
      }
      out.sent++;
      if (status === null) out.none++;
      else if (status >= 500) out.s5++;
      else if (status >= 400) out.s4++;
      else out.s2++;
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  out.after = await rawPost(
    `${url}/predict`,
    readFileSync(validBodyFile),
    { "content-type": "application/json" },
    agent,
  ).catch((e) => e.code);
  agent.destroy();
  return out;
}

// counts as text: the table formats numbers under 1 with decimals
function hostileColumns(r) {
  return [r.sent, r.s2, r.s4, r.s5, r.none, r.unsendable, r.after].map(String);
}

function rawPost(url, body, headers, agent) {
  return new Promise((resolve, reject) => {
    let req;
    try {
      req = request(
        url,
        { method: "POST", agent, headers: { ...headers, "content-length": body.length }, timeout: 10_000 },
        (res) => {
          res.on("data", () => {});
          res.on("end", () => resolve(res.statusCode));
          res.on("error", reject);
        },
      );
    } catch (e) {
      return reject(e);
    }
    req.on("timeout", () => req.destroy(Object.assign(new Error("timed out"), { code: "ETIMEDOUT" })));
    req.on("error", reject);
    req.end(body);
  });
}
