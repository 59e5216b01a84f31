import { mkdtemp, readFile, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";

const FIXTURE = "fixtures/wide-train.csv";

describe("keystroke-id train (end to end)", () => {
  it("trains, prints one JSON document, and writes model files with a manifest", async () => {
    const out = await mkdtemp(join(tmpdir(), "kid-train-"));
    const r = await runCli([
      "train",
      FIXTURE,
      "--model",
      "rf,svm",
      "--models-dir",
      out,
      "--json",
      "--no-verification",
      "--quiet",
    ]);
    // --quiet: nothing on stderr; stdout is one JSON document in the wire vocabulary
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.data).toMatchObject({ rows: 300, users: 30, layout: "wide" });
    expect(
      report.models.map((m: { Model: string; features: string }) => `${m.Model}/${m.features}`).sort(),
    ).toEqual(["RF/summary", "RF/timings", "SVM/summary", "SVM/timings"]);
    for (const m of report.models) {
      expect(m.accuracy).toBeGreaterThanOrEqual(0);
      expect(m.accuracy).toBeLessThanOrEqual(1);
    }
    // timings models identify people far better than the 8 summary numbers
    const acc = (model: string, f: string) =>
      report.models.find((m: { Model: string; features: string }) => m.Model === model && m.features === f)
        .accuracy;
    expect(acc("RF", "timings")).toBeGreaterThan(0.8);
    expect(acc("RF", "timings")).toBeGreaterThan(acc("RF", "summary"));
    const files = (await readdir(out)).filter((f) => f !== "versions").sort();
    // model files are content-addressed: <model>-<features>.<first 12 hex of their sha256>.json
    expect(files.map((f) => f.replace(/\.[0-9a-f]{12}\.json$/, ".<hash>.json"))).toEqual([
      "manifest.json",
      "rf-summary.<hash>.json",
      "rf-timings.<hash>.json",
      "svm-summary.<hash>.json",
      "svm-timings.<hash>.json",
    ]);
    const manifest = JSON.parse(await readFile(join(out, "manifest.json"), "utf8"));
    expect(manifest.data.rows).toBe(300);
    expect(manifest.data.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(manifest.models[0].sha256).toMatch(/^[0-9a-f]{64}$/);
    // the true shares: 20% of 300 rows held out for the scores, then the models refitted on all of them
    expect(report.holdout).toEqual({ fraction: 0.2, rows: 60, share: 0.2 });
    expect(report.fitted).toEqual({ rows: 300, share: 1, refit_on_all: true });
    expect(manifest.training).toEqual({
      rows: 300,
      holdoutRows: 60,
      holdoutShare: 0.2,
      refitOnAll: true,
      fittedRows: 300,
    });
    expect(report.model_version).toBe("v1");
    expect(manifest.versionId).toBe("v1");
    // one vocabulary: snake_case for added fields, Model for the algorithm, model_version for a model's version
    expect(report.models_dir).toBe(out);
    expect(typeof report.wall_seconds).toBe("number");
    expect(report.models[0]).toHaveProperty("model_version");
    expect(JSON.stringify(report)).not.toMatch(/"[a-z]+[A-Z][A-Za-z]*":/);
  }, 180_000);

  it("writes byte-identical model files for the same data and seed, however many worker threads share the trees (RF and XGB)", async () => {
    const [a, b] = [await mkdtemp(join(tmpdir(), "kid-det-")), await mkdtemp(join(tmpdir(), "kid-det-"))];
    for (const [out, workers] of [
      [a, "1"],
      [b, "3"],
    ] as const) {
      const r = await runCli([
        "train",
        FIXTURE,
        "--model",
        "rf,xgb",
        "--models-dir",
        out,
        "--seed",
        "9",
        "--workers",
        workers,
        "--json",
        "--no-verification",
      ]);
      expect(r.code).toBe(0);
    }
    const names = async (d: string) =>
      (await readdir(d)).filter((f) => f !== "manifest.json" && f !== "versions").sort();
    expect(await names(a)).toEqual(await names(b));
    expect(await names(a)).toHaveLength(4);
    for (const f of await names(a)) {
      expect(await readFile(join(a, f), "utf8")).toBe(await readFile(join(b, f), "utf8"));
    }
  }, 180_000);

  it("reports a missing file and a bad flag with a non-zero exit", async () => {
    const missing = await runCli(["train", "no/such.csv", "--models-dir", join(tmpdir(), "never")]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/no\/such\.csv: no such file/);
    const bad = await runCli(["train", FIXTURE, "--holdout", "2"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--holdout/);
  });

  it("refuses an unlabelled file for training, naming it", async () => {
    const r = await runCli([
      "train",
      "fixtures/wide-unlabelled.csv",
      "--models-dir",
      join(tmpdir(), "never2"),
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/wide-unlabelled\.csv.*label/i);
  });
});
