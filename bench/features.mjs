// bench:features: whole-process time of `keystroke-id features` on the shared 750-row file next to the
// Python reference (pandas via the anchors' common.load, features written to csv), and peak RSS + time
// on a generated 1,000,000-sample wide file (written to the OS temp dir and deleted afterwards).
import { createWriteStream, mkdtempSync, rmSync, statSync } from "node:fs";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { createRng as rng } from "../dist/util/random.js";
import { ANCHORS, BIN, ROOT, ensurePython, measure, median, printTable, sharedData } from "./lib.mjs";

const RUNS = 5;
const BIG_SAMPLES = Number(process.env.BENCH_FEATURES_SAMPLES ?? 1_000_000);

const PYTHON_FEATURES = `
import sys
sys.path.insert(0, sys.argv[1])
import pandas as pd
from common import load
S, T, y = load(sys.argv[2])
X = S if sys.argv[4] == "summary" else T
n = (T.shape[1] + 3) // 4
names = ["HT.Mean","HT.STD","PPT.Mean","PPT.STD","RRT.Mean","RRT.STD","RPT.Mean","RPT.STD"] if sys.argv[4] == "summary" else \\
  [f"HT.{i}" for i in range(n)] + [f"{k}.{i}" for k in ("PPT","RRT","RPT") for i in range(n - 1)]
df = pd.DataFrame(X, columns=names)
if y is not None: df.insert(0, "UserID", y)
df.to_csv(sys.argv[3], index=False)
`;

// CPU seconds (user + system) of one child: on a shared 2-core machine wall time mostly measures the
// neighbours, CPU time much less so.
function cpuSeconds(cmd, args) {
  const probe =
    "import resource, subprocess, sys\nsubprocess.run(sys.argv[1:], capture_output=True)\nr = resource.getrusage(resource.RUSAGE_CHILDREN)\nprint(r.ru_utime + r.ru_stime)";
  const r = spawnSync("python3", ["-c", probe, cmd, ...args], { cwd: ROOT, encoding: "utf8" });
  return Number(r.stdout.trim());
}

function repeat(cmd, args) {
  const runs = [];
  const cpu = [];
  for (let i = 0; i < RUNS; i++) {
    const r = measure(cmd, args);
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${r.stderr}`);
    runs.push(r);
    cpu.push(cpuSeconds(cmd, args));
  }
  return {
    wallS: median(runs.map((r) => r.wallS)),
    cpuS: median(cpu),
    maxRssMB: Math.max(...runs.map((r) => r.maxRssMB)),
  };
}

async function writeBigFile(path, samples) {
  const out = createWriteStream(path);
  const r = rng(7);
  out.write(Array.from({ length: 13 }, (_, i) => `press-${i},release-${i}`).join(",") + ",UserID\n");
  let buf = "";
  for (let s = 0; s < samples; s++) {
    let t = 0;
    const cells = [];
    for (let k = 0; k < 13; k++) {
      if (k) t += 40 + Math.floor(r() * 220);
      cells.push(t, t + 50 + Math.floor(r() * 150));
    }
    buf += cells.join(",") + "," + (1 + Math.floor(r() * 110)) + "\n";
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await once(out, "drain");
      buf = "";
    }
  }
  out.end(buf);
  await once(out, "finish");
}

export default async function bench() {
  const data = sharedData();
  const tmp = mkdtempSync(join(tmpdir(), "kid-bench-features-"));
  try {
    if (data) {
      const rows = [];
      const python = ensurePython();
      for (const set of ["summary", "timings"]) {
        const node = repeat(process.execPath, [
          BIN,
          "features",
          data,
          "--set",
          set,
          "-o",
          join(tmp, `node-${set}.csv`),
        ]);
        const py = python
          ? repeat("/usr/bin/python3", [
              "-c",
              PYTHON_FEATURES,
              ANCHORS,
              data,
              join(tmp, `py-${set}.csv`),
              set,
            ])
          : null;
        rows.push([
          set,
          node.wallS,
          node.cpuS,
          node.maxRssMB,
          py?.wallS ?? NaN,
          py?.cpuS ?? NaN,
          py?.maxRssMB ?? NaN,
          py ? py.wallS / node.wallS : NaN,
        ]);
      }
      printTable(
        `features on the shared 750-row file, whole process incl. start-up (median of ${RUNS}; target < 0.3 s)`,
        [
          "set",
          "keystroke-id s",
          "CPU s",
          "RSS MB",
          "python+pandas s",
          "CPU s",
          "RSS MB",
          "python / keystroke-id (wall)",
        ],
        rows,
      );
    }

    const big = join(tmp, "big-wide.csv");
    await writeBigFile(big, BIG_SAMPLES);
    const mb = statSync(big).size / 2 ** 20;
    const rows = [];
    for (const [set, format] of [
      ["summary", "csv"],
      ["timings", "ndjson"],
    ]) {
      const out = join(tmp, `big-${set}.${format}`);
      const r = measure(process.execPath, [
        BIN,
        "features",
        big,
        "--set",
        set,
        "--format",
        format,
        "-o",
        out,
      ]);
      if (r.status !== 0) throw new Error(`features on the big file failed: ${r.stderr}`);
      rows.push([`${set} → ${format}`, r.wallS, BIG_SAMPLES / r.wallS / 1000, r.maxRssMB]);
      rmSync(out, { force: true });
    }
    printTable(
      `features on ${BIG_SAMPLES.toLocaleString("en")} generated samples (${mb.toFixed(0)} MiB wide csv; one run each; target RSS < 200 MB)`,
      ["set → format", "seconds", "k samples/s", "peak RSS MB"],
      rows,
    );
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
