import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { BIN, ROOT, runCli } from "./helpers/cli.js";

// End to end through the built binary: a closed pipe, the config file, deprecated flags, one vocabulary.

/** A quick, quiet RF training on the wide fixture: no holdout, no verification templates, no worker threads. */
const QUICK_RF = [
  "train",
  "fixtures/wide-train.csv",
  "--model",
  "rf",
  "--holdout",
  "0",
  "--no-verification",
  "--quiet",
  "--workers",
  "0",
];

let dir: string;
let models: string;
let big: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kid-vocab-"));
  models = join(dir, "models");
  const t = await runCli([...QUICK_RF, "--features", "summary", "--models-dir", models]);
  if (t.code !== 0) throw new Error(`train failed: ${t.stderr}`);
  // far more output than a pipe buffer holds, so the writer is still writing when `head` goes away
  const lines = readFileSync(resolve(ROOT, "fixtures/wide-test.csv"), "utf8").trim().split("\n");
  big = join(dir, "big.csv");
  writeFileSync(
    big,
    [lines[0], ...Array.from({ length: 300 }, () => lines.slice(1)).flat()].join("\n") + "\n",
  );
}, 180_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs a shell pipeline; the exit status is the first failing command's (pipefail). */
function pipeline(
  command: string,
  cwd = ROOT,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn("bash", ["-o", "pipefail", "-c", command], {
      cwd,
      env: { ...process.env, NO_COLOR: "1", CI: "1" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => done({ code, stdout, stderr }));
  });
}

describe("a closed stdout", () => {
  it("ends `predict --csv … | head -1` quietly with exit 0 (a real pipe)", async () => {
    const r = await pipeline(
      `"${process.execPath}" "${BIN}" predict --models-dir "${models}" --csv "${big}" | head -1`,
    );
    expect(r.stdout.trim()).toBe("line,label,UserID,Model,features,confidence,model_version,warnings,error");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  it("does the same for NDJSON output", async () => {
    for (const output of ["ndjson"]) {
      const r = await pipeline(
        `"${process.execPath}" "${BIN}" predict --models-dir "${models}" --csv "${big}" --output ${output} | head -c 10`,
      );
      expect(r.stderr, output).toBe("");
      expect(r.code, output).toBe(0);
    }
  });
});

describe("the config file", () => {
  const request = resolve(ROOT, "fixtures/request-rf.json");

  it("gives defaults for any flag, per command or for all, and a flag beats it", async () => {
    const cwd = mkdtempSync(join(dir, "cfg-"));
    writeFileSync(
      join(cwd, "keystroke-id.config.json"),
      JSON.stringify({ modelsDir: models, predict: { top: 1 } }),
    );
    const a = await runCli(["predict", "--json", request], { cwd });
    expect(a.code, a.stderr).toBe(0);
    expect(JSON.parse(a.stdout).top).toHaveLength(1);
    const b = await runCli(["predict", "--json", request, "--top", "2"], { cwd });
    expect(JSON.parse(b.stdout).top).toHaveLength(2);
  });

  it("is read from the keystroke-id key of package.json too", async () => {
    const cwd = mkdtempSync(join(dir, "pkg-"));
    writeFileSync(
      join(cwd, "package.json"),
      JSON.stringify({ name: "x", "keystroke-id": { modelsDir: models, top: 2 } }),
    );
    const a = await runCli(["predict", "--json", request], { cwd });
    expect(a.code, a.stderr).toBe(0);
    expect(JSON.parse(a.stdout).top).toHaveLength(2);
  });

  it("refuses a bad value with the flag's message, naming the file and key; and an unknown key", async () => {
    const cwd = mkdtempSync(join(dir, "bad-"));
    const file = join(cwd, "keystroke-id.config.json");
    const flag = await runCli(["predict", "--json", request, "--top", "0"], { cwd });
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain(`flag --top: "0" is not an integer from 1 to 1000`);
    writeFileSync(file, JSON.stringify({ predict: { top: 0 } }));
    const bad = await runCli(["predict", "--json", request], { cwd });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`${file}, field predict.top: "0" is not an integer from 1 to 1000`);
    writeFileSync(file, JSON.stringify({ modelDir: "m" }));
    const unknown = await runCli(["predict", "--json", request], { cwd });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/field modelDir: unknown option \(options: .*modelsDir/);
    writeFileSync(file, JSON.stringify({ quiet: "yes" }));
    expect((await runCli(["predict", "--json", request], { cwd })).stderr).toMatch(
      /field quiet: must be true or false/,
    );
    writeFileSync(file, "{ not json");
    const broken = await runCli(["predict", "--json", request], { cwd });
    expect(broken.code).toBe(2);
    expect(broken.stderr).toContain(`${file}: is not valid JSON`);
  });
});

describe("one vocabulary", () => {
  it("keeps train --out working as a hidden, deprecated alias of --models-dir", async () => {
    const out = join(dir, "via-out");
    const r = await runCli([...QUICK_RF, "--features", "summary", "--out", out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("warning: --out is deprecated; use --models-dir\n");
    expect(JSON.parse(r.stdout).models_dir).toBe(out);
    expect((await runCli(["train", "--help"])).stdout).not.toContain("--out ");
  });

  it("keeps the design card's `predict --model XGB --json input.json` shape, and --format as an alias of --output", async () => {
    const r = await runCli([
      "predict",
      "--model",
      "rf",
      "--json",
      resolve(ROOT, "fixtures/request-rf.json"),
      "--models-dir",
      models,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ Model: "RF", features: "summary" });
    const f = await runCli([
      "predict",
      "--csv",
      "fixtures/wide-unlabelled.csv",
      "--format",
      "ndjson",
      "--models-dir",
      models,
    ]);
    expect(f.stderr).toContain("warning: --format is deprecated; use --output");
    expect(
      f.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l).Model),
    ).toEqual(Array(6).fill("RF"));
  });

  it("prints tables when asked, rounded and fitted to the width", async () => {
    const r = await runCli(
      ["predict", "--csv", "fixtures/wide-unlabelled.csv", "--output", "table", "--models-dir", models],
      { env: { COLUMNS: "60" } },
    );
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(60);
    expect(r.stdout).toMatch(/\d+\.\d%/);
    expect(r.stdout).not.toMatch(/0\.\d{5,}/);
    expect(r.stdout).toContain("--output json has everything");
  });

  it("says the sample does not fit the timings model instead of answering with the summary model", async () => {
    const t = await runCli([...QUICK_RF, "--models-dir", join(dir, "both")]);
    expect(t.code, t.stderr).toBe(0);
    const short = JSON.stringify({ press: [0, 100, 250], release: [80, 190, 300] });
    const r = await runCli(["predict", "--models-dir", join(dir, "both")], { stdin: short });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(
      /field press: has 3 keys but the RF timings model was trained on samples of 13 keys.*--allow-summary.* \[SAMPLE_MISMATCH\]/,
    );
    const ok = await runCli(["predict", "--models-dir", join(dir, "both"), "--allow-summary"], {
      stdin: short,
    });
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout).features).toBe("summary");
    // seconds where milliseconds belong: answered, with a warning and the fix
    const secs = JSON.stringify({ press: [0, 0.1, 0.25], release: [0.08, 0.19, 0.3], allow_summary: true });
    const w = await runCli(["predict", "--models-dir", join(dir, "both")], { stdin: secs });
    expect(w.code, w.stderr).toBe(0);
    expect(w.stderr).toMatch(/warning: the times look like seconds .*multiply them by 1000/);
    expect(JSON.parse(w.stdout).warnings).toHaveLength(1);
  });
});
