// bench:train's scale series: our SVM, RF and XGB against scikit-learn SVC, RandomForest, ExtraTrees(500)
// and xgboost (hist) on the same data in the same run, each fit in its own process (wall time of the fit,
// peak RSS of the process), trained on earlier sessions and scored on later ones. Data: generated
// CMU-shaped timings (bench/scale-data.mjs, fixed seed) at 10k/50 users and 50k/200 users (100k/1,000
// users with --scale-large), and the two IIITBh files of ../shared/data.
// Flags: --scale-large, --scale-only (skip the rest of bench:train), --scale-rows 10000 (one size only;
// a list such as iiitbh,10000 runs those),
// --scale-models RF,XGB (only those of ours, each against its Python counterparts; default all three),
// --scale-timeout SECONDS (per fit; default 1800), --scale-mem-gb GB (a fit past this RSS is killed; default 6). Accuracy is scored on at most 5,000 of the later
// sessions' rows (every k-th), the same rows on both sides: one-vs-one SVM prediction costs
// support vectors × classes per row, hours for 50k rows of 1,000 users on either side.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, SHARED, ensurePython, printTable } from "./lib.mjs";
import { GENERATED, generateRows, readIiitbh, writeScaleCsv } from "./scale-data.mjs";

const arg = (name) => {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : process.argv[i + 1];
};
export const SCALE_ONLY = process.argv.includes("--scale-only");
const LARGE = process.argv.includes("--scale-large");
/** `--scale-rows 10000` or a list, `iiitbh` naming the two IIITBh files: only those data sets. */
const ONLY = arg("--scale-rows")?.split(",");
const TIMEOUT_S = Number(arg("--scale-timeout") ?? 1800);
const MODELS = (arg("--scale-models") ?? "SVM,RF,XGB").toUpperCase().split(",");
for (const m of MODELS)
  if (!["SVM", "RF", "XGB"].includes(m)) throw new Error(`--scale-models: unknown model ${m} (SVM, RF, XGB)`);
const MEM_GB = Number(arg("--scale-mem-gb") ?? 6);
const PY = "/usr/bin/python3";

/** Ours and the Python estimator each is measured against. */
const PAIRS = [
  ["SVM", "SVC"],
  ["SVM", "SVC-grid"],
  ["RF", "RandomForest"],
  ["RF", "ExtraTrees"],
  ["XGB", "xgboost-hist"],
].filter(([ours]) => MODELS.includes(ours));

/**
 * Wall time, CPU time and peak RSS of a child process, with a timeout and a memory cap (the child is
 * polled and killed past MEM_GB of RSS: scikit-learn's trees keep a node × class table, about 32 GB for
 * ExtraTrees(500) at 50k rows of 200 users, which must not take a shared machine down).
 */
export function run(cmd, args) {
  const probe = `
import json, resource, subprocess, sys, time
timeout, cap = float(sys.argv[1]), float(sys.argv[2]) * 2**30
t = time.perf_counter()
p = subprocess.Popen(sys.argv[3:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
status, peak = None, 0
out, err = b"", b""
import threading
chunks = {"out": [], "err": []}
def drain(stream, key):
    for block in iter(lambda: stream.read(65536), b""):
        chunks[key].append(block)
readers = [threading.Thread(target=drain, args=(p.stdout, "out")), threading.Thread(target=drain, args=(p.stderr, "err"))]
for r in readers: r.start()
while p.poll() is None:
    try:
        with open(f"/proc/{p.pid}/status") as f:
            rss = next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmRSS:"))
        peak = max(peak, rss)
    except (OSError, StopIteration):
        rss = 0
    if rss > cap:
        p.kill(); status = "memory"
    elif time.perf_counter() - t > timeout:
        p.kill(); status = "timeout"
    time.sleep(0.1)
for r in readers: r.join()
w = time.perf_counter() - t
if status is None: status = p.returncode
r = resource.getrusage(resource.RUSAGE_CHILDREN)
sys.stdout.write(json.dumps({"wall": w, "cpu": r.ru_utime + r.ru_stime, "rss_kb": max(r.ru_maxrss, peak // 1024), "status": status, "out": b"".join(chunks["out"]).decode(errors="replace"), "err": b"".join(chunks["err"]).decode(errors="replace")}))
`;
  const r = spawnSync("python3", ["-c", probe, String(TIMEOUT_S), String(MEM_GB), cmd, ...args], {
    cwd: ROOT,
    encoding: "utf8",
    maxBuffer: 1 << 28,
  });
  const j = JSON.parse(r.stdout);
  const rssMB = j.rss_kb / 1024;
  if (j.status !== 0)
    return {
      error:
        j.status === "timeout"
          ? `timeout ${TIMEOUT_S}s`
          : j.status === "memory"
            ? `killed past ${MEM_GB} GB RSS`
            : j.err.trim().split("\n").at(-1),
      cpuS: j.cpu,
      rssMB,
    };
  const res = JSON.parse(j.out.trim().split("\n").at(-1));
  return { fitS: res.fit_s, cpuS: j.cpu, accuracy: res.accuracy, rssMB, train: res.train, test: res.test };
}

function datasets(tmp) {
  const out = [];
  if (ONLY === undefined || ONLY.includes("iiitbh")) {
    for (const f of ["iiitbh-big.csv", "iiitbh-small.csv"]) {
      const path = join(SHARED, "data", f);
      if (!existsSync(path)) continue;
      const file = join(tmp, f);
      writeScaleCsv(file, readIiitbh(path));
      out.push({ name: `IIITBh ${f.replace("iiitbh-", "").replace(".csv", "")}`, file });
    }
  }
  for (const g of GENERATED) {
    if (ONLY !== undefined ? !ONLY.includes(String(g.rows)) : g.large && !LARGE) continue;
    const file = join(tmp, `gen-${g.rows}.csv`);
    writeScaleCsv(file, generateRows(g.rows, g.users));
    out.push({ name: `generated ${g.rows / 1000}k rows, ${g.users} users`, file });
  }
  return out;
}

/** Runs the series and prints its tables. */
export default async function trainScale() {
  const pyOk = ensurePython();
  const tmp = mkdtempSync(join(tmpdir(), "kid-bench-scale-"));
  try {
    const rows = [];
    const accuracy = [];
    for (const d of datasets(tmp)) {
      const ours = {};
      for (const algorithm of MODELS)
        ours[algorithm] = run(process.execPath, [join(ROOT, "bench", "scale-fit.mjs"), d.file, algorithm]);
      const py = {};
      for (const [, est] of PAIRS)
        py[est] = pyOk
          ? run(PY, [join(ROOT, "bench", "scale_ref.py"), d.file, est])
          : { error: "python reference not installed" };
      for (const [algorithm, est] of PAIRS) {
        const o = ours[algorithm];
        const p = py[est];
        rows.push([
          d.name,
          algorithm,
          o.fitS ?? o.error,
          o.cpuS,
          o.rssMB,
          o.accuracy ?? "",
          est,
          p.fitS ?? p.error,
          p.cpuS,
          p.rssMB,
          p.accuracy ?? "",
          o.fitS && p.fitS ? o.fitS / p.fitS : "",
        ]);
      }
      const best = Object.entries(ours)
        .filter(([, o]) => o.accuracy !== undefined)
        .sort((a, b) => b[1].accuracy - a[1].accuracy)[0];
      const et = py.ExtraTrees ?? { error: "not run (--scale-models)" };
      accuracy.push([
        d.name,
        `${ours[MODELS[0]].train ?? ""} / ${ours[MODELS[0]].test ?? ""}`,
        best ? `${best[0]} ${best[1].accuracy.toFixed(3)}` : "—",
        et.accuracy ?? et.error,
        best && et.accuracy ? best[1].accuracy - et.accuracy : "",
      ]);
      // each data set's rows as soon as they are measured (the large ones take long)
      console.error(`[scale] ${d.name}: ${JSON.stringify(rows.slice(-PAIRS.length))}`);
    }
    printTable(
      "Training scale series: fit on earlier sessions, each fit a separate process (ours on every core through worker threads; scikit-learn n_jobs=-1)",
      [
        "data",
        "ours",
        "fit s",
        "process CPU s",
        "peak RSS MB",
        "accuracy",
        "Python",
        "fit s",
        "process CPU s",
        "peak RSS MB",
        "accuracy",
        "fit time ratio (ours / Python)",
      ],
      rows,
    );
    printTable(
      "Accuracy across sessions: our best model against scikit-learn ExtraTrees(500) on the same split",
      ["data", "train / test rows", "our best", "ExtraTrees(500)", "difference"],
      accuracy,
    );
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
