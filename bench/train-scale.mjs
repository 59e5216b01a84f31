// bench:train's scale series: our SVM, RF and XGB against scikit-learn SVC, RandomForest, ExtraTrees(500)
// and xgboost (hist) on the same data in the same run, each fit in its own process (wall time of the fit,
// peak RSS of the process), trained on earlier sessions and scored on later ones. Data: generated
// CMU-shaped timings (bench/scale-data.mjs, fixed seed) at 10k/50 users and 50k/200 users (100k/1,000
// users with --scale-large), and the two IIITBh files of ../shared/data.
// Flags: --scale-large, --scale-only (skip the rest of bench:train), --scale-rows 10000 (one size only),
// --scale-timeout SECONDS (per fit; default 1800). Accuracy is scored on at most 5,000 of the later
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
const ONLY_ROWS = arg("--scale-rows") ? Number(arg("--scale-rows")) : undefined;
const TIMEOUT_S = Number(arg("--scale-timeout") ?? 1800);
const PY = "/usr/bin/python3";

/** Ours and the Python estimator each is measured against. */
const PAIRS = [
  ["SVM", "SVC"],
  ["RF", "RandomForest"],
  ["RF", "ExtraTrees"],
  ["XGB", "xgboost-hist"],
];

/** Wall time and peak RSS of a child process, with a timeout (getrusage of children, through python3). */
function run(cmd, args) {
  const probe = `
import json, resource, subprocess, sys, time
t = time.perf_counter()
try:
    p = subprocess.run(sys.argv[2:], capture_output=True, timeout=float(sys.argv[1])); status, out, err = p.returncode, p.stdout, p.stderr
except subprocess.TimeoutExpired as e:
    status, out, err = "timeout", b"", b"timed out"
w = time.perf_counter() - t
r = resource.getrusage(resource.RUSAGE_CHILDREN)
sys.stdout.write(json.dumps({"wall": w, "cpu": r.ru_utime + r.ru_stime, "rss_kb": r.ru_maxrss, "status": status, "out": out.decode(errors="replace"), "err": err.decode(errors="replace")}))
`;
  const r = spawnSync("python3", ["-c", probe, String(TIMEOUT_S), cmd, ...args], {
    cwd: ROOT,
    encoding: "utf8",
    maxBuffer: 1 << 28,
  });
  const j = JSON.parse(r.stdout);
  const rssMB = j.rss_kb / 1024;
  if (j.status !== 0)
    return {
      error: j.status === "timeout" ? `timeout ${TIMEOUT_S}s` : j.err.trim().split("\n").at(-1),
      rssMB,
    };
  const res = JSON.parse(j.out.trim().split("\n").at(-1));
  return { fitS: res.fit_s, cpuS: j.cpu, accuracy: res.accuracy, rssMB, train: res.train, test: res.test };
}

function datasets(tmp) {
  const out = [];
  if (ONLY_ROWS === undefined) {
    for (const f of ["iiitbh-big.csv", "iiitbh-small.csv"]) {
      const path = join(SHARED, "data", f);
      if (!existsSync(path)) continue;
      const file = join(tmp, f);
      writeScaleCsv(file, readIiitbh(path));
      out.push({ name: `IIITBh ${f.replace("iiitbh-", "").replace(".csv", "")}`, file });
    }
  }
  for (const g of GENERATED) {
    if (ONLY_ROWS !== undefined ? g.rows !== ONLY_ROWS : g.large && !LARGE) continue;
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
      for (const algorithm of ["SVM", "RF", "XGB"])
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
      const et = py.ExtraTrees;
      accuracy.push([
        d.name,
        `${ours.SVM.train ?? ""} / ${ours.SVM.test ?? ""}`,
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
