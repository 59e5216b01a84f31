#!/usr/bin/env node
// Checks what can be checked of the container without a container engine (none runs on these machines):
//  1. the Dockerfile: every COPY source exists (and is not excluded by .dockerignore), the build stage's
//     outputs the runtime copies exist after `npm run build`, the runtime is non-root with a HEALTHCHECK,
//     a volume for the store, an ENTRYPOINT and CMD;
//  2. the image's entry command: ENTRYPOINT + CMD run, as written, from a directory holding only what the
//     runtime stage copies (package.json, node_modules, dist, bin, the healthcheck script), with /models
//     and /data mapped to temporary directories and port 8000 to a free port; the HEALTHCHECK command
//     must pass, /recorder.js must be served, and SIGTERM must stop it cleanly.
// Usage: node scripts/container-smoke.mjs [MODELS_DIR]   (default: trains fixtures/wide-train.csv, RF only)
// Prints one JSON line of what it checked on stdout; exits 1 naming the first failure.
import { spawn, spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const checked = [];
const fail = (msg) => {
  process.stderr.write(`container-smoke: ${msg}\n`);
  process.exit(1);
};
const ok = (what) => checked.push(what);

// ---- 1. the Dockerfile ----------------------------------------------------------------------------------
// CONTAINER_SMOKE_DOCKERFILE: check another Dockerfile against this repository (the test's broken variants)
const dockerfile = readFileSync(process.env.CONTAINER_SMOKE_DOCKERFILE ?? join(ROOT, "Dockerfile"), "utf8");
const lines = dockerfile
  .replace(/\\\n/g, " ")
  .split("\n")
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith("#"));
const stages = [];
for (const l of lines) {
  const [ins, ...rest] = l.split(/\s+/);
  const args = rest.join(" ");
  if (ins.toUpperCase() === "FROM") {
    const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
    stages.push({ base: m[1], name: m[2] ?? String(stages.length), steps: [] });
  } else stages.at(-1)?.steps.push({ ins: ins.toUpperCase(), args });
}
const stage = (name) => stages.find((s) => s.name === name) ?? fail(`no stage "${name}" in the Dockerfile`);
const build = stage("build");
const runtime = stage("runtime");
if (!/^node:20(-|\.|$)/.test(build.base) || !/^node:20-slim$/.test(runtime.base))
  fail(`stages must be on node:20-slim (build: ${build.base}, runtime: ${runtime.base})`);
ok("node:20-slim multi-stage");

const ignored = existsSync(join(ROOT, ".dockerignore"))
  ? readFileSync(join(ROOT, ".dockerignore"), "utf8")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith("#"))
  : [];
const isIgnored = (p) =>
  ignored.some(
    (pat) => p === pat || p.startsWith(pat + "/") || (pat.startsWith("*") && p.endsWith(pat.slice(1))),
  );

const copies = (s) =>
  s.steps
    .filter((st) => st.ins === "COPY")
    .map((st) => {
      const words = st.args.split(/\s+/);
      const from = words.find((w) => w.startsWith("--from="))?.slice(7);
      const paths = words.filter((w) => !w.startsWith("--"));
      return { from, sources: paths.slice(0, -1), dest: paths.at(-1) };
    });
for (const s of [build, runtime]) {
  for (const c of copies(s)) {
    for (const src of c.sources) {
      if (c.from === "build") {
        const rel = src.replace(/^\/app\//, "");
        if (rel !== "node_modules" && !existsSync(join(ROOT, rel)))
          fail(`COPY --from=build ${src}: ${rel} does not exist after npm run build`);
      } else {
        if (!existsSync(join(ROOT, src))) fail(`COPY ${src}: not in the repository`);
        if (isIgnored(src)) fail(`COPY ${src}: excluded by .dockerignore`);
      }
    }
  }
}
for (const f of ["dist/cli.js", "dist/recorder/keystroke-recorder.js", "dist/client/client.js"])
  if (!existsSync(join(ROOT, f))) fail(`${f} is missing: run npm run build first`);
ok("every COPY source exists and is not ignored");

const last = (s, ins) => s.steps.filter((st) => st.ins === ins).at(-1)?.args;
const user = last(runtime, "USER");
if (!user || user === "root" || user === "0")
  fail(`the runtime stage must switch to a non-root USER (got ${user ?? "none"})`);
const volume = last(runtime, "VOLUME");
if (!volume || !volume.includes("/data")) fail("the runtime stage must declare VOLUME /data for the store");
const env = Object.fromEntries(
  runtime.steps
    .filter((s) => s.ins === "ENV")
    .flatMap((s) => [...s.args.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1], m[2]])),
);
if (!env.KEYSTROKE_ID_STORE?.startsWith("/data/"))
  fail("KEYSTROKE_ID_STORE must point into the /data volume");
const healthcheck = last(runtime, "HEALTHCHECK");
const hcCmd = healthcheck && /CMD\s+(\[.*\])\s*$/.exec(healthcheck);
if (!hcCmd) fail("the runtime stage needs a HEALTHCHECK with an exec-form CMD");
const entry = JSON.parse(last(runtime, "ENTRYPOINT") ?? "null");
const cmd = JSON.parse(last(runtime, "CMD") ?? "null");
if (!Array.isArray(entry) || !Array.isArray(cmd))
  fail("the runtime stage needs exec-form ENTRYPOINT and CMD");
ok(`non-root USER ${user}, VOLUME ${volume}, HEALTHCHECK, ENTRYPOINT + CMD`);

// ---- 2. the entry command, from only what the runtime copies ----------------------------------------------
const work = mkdtempSync(join(tmpdir(), "kid-container-"));
let child;
const cleanup = () => {
  if (child && child.exitCode === null) child.kill("SIGKILL");
  rmSync(work, { recursive: true, force: true });
};
process.on("exit", cleanup);

const app = join(work, "app");
mkdirSync(app);
for (const c of copies(runtime)) {
  for (const src of c.sources) {
    const rel = c.from === "build" ? src.replace(/^\/app\//, "") : src;
    const dest = c.dest.startsWith("/") ? join(work, c.dest) : join(app, c.dest);
    mkdirSync(dirname(dest), { recursive: true });
    if (rel === "node_modules") symlinkSync(join(ROOT, "node_modules"), dest);
    else cpSync(join(ROOT, rel), dest, { recursive: true });
  }
}
const data = join(work, "data");
mkdirSync(data);
let models = process.argv[2] ? resolve(process.argv[2]) : join(work, "models");
if (!process.argv[2]) {
  const r = spawnSync(
    process.execPath,
    [
      join(ROOT, "bin/keystroke-id.js"),
      "train",
      join(ROOT, "fixtures/wide-train.csv"),
      "--model",
      "rf",
      "--models-dir",
      models,
      "--holdout",
      "0",
      "--json",
    ],
    { encoding: "utf8", env: { ...process.env, CI: "1" } },
  );
  if (r.status !== 0) fail(`could not train models for the smoke test: ${r.stderr}`);
}

const port = await new Promise((res) => {
  const s = createServer().listen(0, "127.0.0.1", () => {
    const p = s.address().port;
    s.close(() => res(p));
  });
});
const map = (arg) =>
  arg
    .replace(/^\/models/, models)
    .replace(/^\/data/, data)
    .replace(/^8000$/, String(port))
    .replace(/^0\.0\.0\.0$/, "127.0.0.1");
const argv = [...entry, ...cmd].map(map);
if (argv[0] !== "node") fail(`ENTRYPOINT must start with node (got ${argv[0]})`);
const childEnv = {
  ...process.env,
  ...Object.fromEntries(Object.entries(env).map(([k, v]) => [k, map(v.replace(/^\/data/, data))])),
  PORT: String(port),
  CI: "1",
};
let stderr = "";
child = spawn(process.execPath, argv.slice(1), {
  cwd: app,
  env: childEnv,
  stdio: ["ignore", "pipe", "pipe"],
});
child.stderr.on("data", (d) => (stderr += d));
const exited = new Promise((res) => child.on("exit", (code, signal) => res({ code, signal })));

const hc = JSON.parse(hcCmd[1]).map(map);
const deadline = Date.now() + 30_000;
for (;;) {
  const r = spawnSync(process.execPath, hc.slice(1), { cwd: app, env: childEnv, encoding: "utf8" });
  if (r.status === 0) break;
  if (child.exitCode !== null) fail(`the entry command exited with ${child.exitCode}: ${stderr}`);
  if (Date.now() > deadline) fail(`the HEALTHCHECK command never passed in 30 s: ${r.stderr}${stderr}`);
  await new Promise((r2) => setTimeout(r2, 300));
}
ok(`entry command ${[...entry, ...cmd].join(" ")} starts; HEALTHCHECK passes`);

const base = `http://127.0.0.1:${port}`;
const script = await fetch(`${base}/recorder.js`);
const body = await script.text();
if (!script.ok || !body.includes("globalThis.KeystrokeRecorder")) fail(`/recorder.js: HTTP ${script.status}`);
ok("/recorder.js served");

child.kill("SIGTERM");
const end = await Promise.race([exited, new Promise((r) => setTimeout(() => r(null), 15_000))]);
if (!end || end.code !== 0) fail(`SIGTERM did not stop the server cleanly: ${JSON.stringify(end)} ${stderr}`);
ok("SIGTERM: clean exit 0");
writeFileSync(1, JSON.stringify({ ok: true, checked }) + "\n");
