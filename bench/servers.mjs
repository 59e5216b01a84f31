// Shared by bench:serve and bench:reliability: training the served models, the request bodies, and
// starting and stopping `keystroke-id serve` and the Python reference (anchors/api.py).
import { spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { ANCHORS, BIN } from "./lib.mjs";

export const MODELS = ["RF", "SVM", "XGB"];
// the Debian python that anchors/setup.sh equips (a python3 earlier on PATH may lack sklearn)
export const PY = "/usr/bin/python3";

/** Trains summary models (the original contract carries summary features) into `out`; returns the algorithms that trained. */
export function trainSummaryModels(data, out, seed = 42, only = undefined) {
  const args = (models) => [
    BIN,
    "train",
    data,
    "--features",
    "summary",
    "--model",
    models,
    "--holdout",
    "0",
    "--seed",
    String(seed),
    "--models-dir",
    out,
    "--json",
  ];
  if (!only || only.length === 3) {
    const r = spawnSync(process.execPath, args("rf,svm,xgb"), { encoding: "utf8", maxBuffer: 1 << 26 });
    if (r.status === 0) return MODELS;
    console.log(
      `(training all three failed, trying RF and SVM alone: ${r.stderr.trim().split("\n").at(-1)})`,
    );
  }
  const r = spawnSync(process.execPath, args("rf,svm"), { encoding: "utf8", maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`keystroke-id train failed: ${r.stderr}`);
  return ["RF", "SVM"];
}

/** One original-contract body per model, from the summary of the data's first sample (a temp file, not the repo). */
export function writeBodies(data, dir) {
  const [head, first] = readFileSync(data, "utf8").split("\n");
  const cols = head.split(",");
  const cells = first.split(",").map(Number);
  const press = cols.flatMap((c, i) => (c.startsWith("press-") ? [cells[i]] : []));
  const release = cols.flatMap((c, i) => (c.startsWith("release-") ? [cells[i]] : []));
  const iv = { HT: [], PPT: [], RRT: [], RPT: [] };
  for (let i = 0; i < press.length; i++) {
    iv.HT.push(release[i] - press[i]);
    if (i + 1 < press.length) {
      iv.PPT.push(press[i + 1] - press[i]);
      iv.RRT.push(release[i + 1] - release[i]);
      iv.RPT.push(press[i + 1] - release[i]);
    }
  }
  const stat = (v) => {
    const m = v.reduce((a, b) => a + b, 0) / v.length;
    return { Mean: m, STD: Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / v.length) };
  };
  const bodies = {};
  for (const model of MODELS) {
    bodies[model] = join(dir, `body-${model}.json`);
    writeFileSync(
      bodies[model],
      JSON.stringify({
        Model: model,
        HT: stat(iv.HT),
        PPT: stat(iv.PPT),
        RRT: stat(iv.RRT),
        RPT: stat(iv.RPT),
      }),
    );
  }
  return bodies;
}

/** Starts `keystroke-id serve` on a free port; resolves once it listens. */
export function startOurs(modelsDir, flags = ["--no-watch", "--log-level", "warn"]) {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [BIN, "serve", "--models-dir", modelsDir, "--port", "0", ...flags],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let err = "";
    child.stderr.on("data", (d) => {
      err += d;
      const m = /listening on (http:\/\/\S+)/.exec(err);
      if (m) resolve({ child, url: m[1], stderr: () => err });
    });
    child.on("exit", (code) => reject(new Error(`keystroke-id serve exited (${code}): ${err}`)));
  });
}

/** Starts anchors/api.py on a free port; resolves once it answers. */
export async function startPython(modelsDir) {
  const port = await freePort();
  const child = spawn(PY, [join(ANCHORS, "api.py"), "--models-dir", modelsDir, "--port", String(port)], {
    stdio: ["ignore", "ignore", "pipe"],
    cwd: ANCHORS,
  });
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`api.py exited: ${err}`);
    try {
      await fetch(`${url}/predict`, {
        method: "POST",
        body: "{}",
        headers: { "content-type": "application/json" },
      });
      return { child, url };
    } catch {
      await sleep(100);
    }
  }
  child.kill("SIGTERM");
  throw new Error(`api.py did not start: ${err}`);
}

/** A TCP port free on loopback right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** SIGTERM, then SIGKILL after 5 s; resolves when the process has gone. */
export function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.on("exit", () => resolve());
    child.kill("SIGTERM");
    setTimeout(() => child.kill("SIGKILL"), 5000).unref();
  });
}

/** Resolves after `ms` (at once when negative). */
export function sleep(ms) {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)));
}
