import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";

const TRAIN = "fixtures/wide-train.csv";
const TEST = "fixtures/wide-test.csv";
const FAST = ["--model", "rf", "--features", "timings", "--no-verification", "--json"];

let out: string;
let v1: {
  model_version: string;
  holdout: { rows: number; share: number };
  fitted: { rows: number; refit_on_all: boolean };
};
let v2: typeof v1;

beforeAll(async () => {
  out = join(await mkdtemp(join(tmpdir(), "kid-models-")), "models");
  const a = await runCli(["train", TRAIN, "--models-dir", out, ...FAST]);
  expect(a.code, a.stderr).toBe(0);
  v1 = JSON.parse(a.stdout);
  const b = await runCli(["train", TRAIN, "--models-dir", out, "--seed", "7", "--keep-holdout", ...FAST]);
  expect(b.code, b.stderr).toBe(0);
  v2 = JSON.parse(b.stdout);
}, 240_000);

describe("model versions on the command line", () => {
  it("train adds a version per run and reports the true shares", () => {
    expect(v1.model_version).toBe("v1");
    expect(v1.holdout).toMatchObject({ rows: 60, share: 0.2 });
    expect(v1.fitted).toMatchObject({ rows: 300, refit_on_all: true });
    expect(v2.model_version).toBe("v2");
    expect(v2.fitted).toMatchObject({ rows: 240, refit_on_all: false });
  });

  it("evaluate never calls training rows held-out", async () => {
    // v2 was fitted on 240 of the 300 rows: those are training rows, the other 60 held out
    const r = await runCli([
      "evaluate",
      TRAIN,
      "--models-dir",
      out,
      "--model",
      "rf",
      "--features",
      "timings",
      "--json",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.rows).toEqual({
      model_version: "v2",
      total: 300,
      training: 240,
      held_out: 60,
      fingerprint: true,
    });
    expect(doc.scored_on).toBe("held_out_rows");
    expect(doc.models.RF.timings.confusion.matrix.flat().reduce((a: number, b: number) => a + b, 0)).toBe(60);
    expect(doc.training_rows.models.RF.timings.accuracy).toBeGreaterThanOrEqual(
      doc.models.RF.timings.accuracy,
    );
    expect(r.stderr).toMatch(/240 of 300 rows were used to train model version v2/);

    // v1 was refitted on every row: evaluating its training file scores training rows only, and says so
    const report = join(out, "..", "report.html");
    const t = await runCli([
      "evaluate",
      TRAIN,
      "--models-dir",
      out,
      "--model-version",
      "v1",
      "--model",
      "rf",
      "--features",
      "timings",
      "--report",
      report,
      "--output",
      "table",
    ]);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout).toMatch(
      /scores on 300 training rows: model version v1 was fitted on every one of them, so this is NOT a held-out accuracy/,
    );
    expect(t.stdout).not.toMatch(/held-out rows/);
    // the report's subtitle says the same, never "held-out evaluation"
    const html = await (await import("node:fs/promises")).readFile(report, "utf8");
    expect(html).toMatch(/trained models \(version v1\) on 300 TRAINING rows: not a held-out score/);
    expect(html).not.toMatch(/held-out evaluation/);

    const h = await runCli([
      "evaluate",
      TEST,
      "--models-dir",
      out,
      "--model",
      "rf",
      "--features",
      "timings",
      "--json",
    ]);
    expect(JSON.parse(h.stdout).rows).toMatchObject({ training: 0, held_out: 90 });
    expect(JSON.parse(h.stdout).scored_on).toBe("held_out_rows");
  }, 120_000);

  it("lists, rolls back, answers with a chosen version, and refuses to remove the active one", async () => {
    const list = await runCli(["models", "list", "--models-dir", out, "--json"]);
    expect(list.code, list.stderr).toBe(0);
    const doc = JSON.parse(list.stdout);
    expect(doc.active).toBe("v2");
    expect(
      doc.versions.map((v: { id: string; active: boolean; fitted_rows: number }) => [
        v.id,
        v.active,
        v.fitted_rows,
      ]),
    ).toEqual([
      ["v1", false, 300],
      ["v2", true, 240],
    ]);
    expect(doc.versions[0].models[0]).toMatchObject({ model: "RF", features: "timings" });
    expect(doc.versions[0].models[0].accuracy).toBeGreaterThan(0.5);
    const table = await runCli(["models", "list", "--models-dir", out, "--output", "table"]);
    expect(table.stdout).toMatch(/v2 \(active\)/);
    // piped without a flag: JSON, as every command
    expect(JSON.parse((await runCli(["models", "list", "--models-dir", out])).stdout).active).toBe("v2");

    const refused = await runCli(["models", "remove", "v2", "--models-dir", out]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/v2 is the active model version .* cannot be removed/);
    expect(refused.stderr).toMatch(/models use v1/);
    const unknown = await runCli(["models", "use", "v9", "--models-dir", out]);
    expect(unknown.code).toBe(4);
    expect(unknown.stderr).toMatch(/no model version "v9".*kept: v1, v2/);

    const input = join(out, "..", "rows.csv");
    const { readFile, writeFile } = await import("node:fs/promises");
    const lines = (await readFile(TEST, "utf8")).split("\n");
    await writeFile(input, lines.slice(0, 6).join("\n") + "\n");
    const answer = async (extra: string[]) => {
      const r = await runCli([
        "predict",
        "--csv",
        input,
        "--models-dir",
        out,
        "--model",
        "rf",
        "--format",
        "json",
        ...extra,
      ]);
      expect(r.code, r.stderr).toBe(0);
      // everything but the measured time
      return JSON.parse(r.stdout, (k, v) => (k === "inference_time_ms" ? undefined : v));
    };
    const byV1 = await answer(["--model-version", "v1"]);
    const byActive = await answer([]);
    expect(JSON.stringify(byV1)).not.toBe(JSON.stringify(byActive));

    const use = await runCli(["models", "use", "v1", "--models-dir", out, "--json"]);
    expect(use.code, use.stderr).toBe(0);
    expect(JSON.parse(use.stdout)).toMatchObject({ previous: "v2", active: "v1" });
    expect(use.stderr).toMatch(/active version: v1 \(was v2\)/);
    expect(await answer([])).toEqual(byV1);

    const removed = await runCli(["models", "remove", "2", "--models-dir", out, "--json"]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(JSON.parse(removed.stdout).versions.map((v: { id: string }) => v.id)).toEqual(["v1"]);
    const gone = await runCli(["predict", "--csv", input, "--models-dir", out, "--model-version", "v2"]);
    expect(gone.code).toBe(4);
  }, 120_000);
});
