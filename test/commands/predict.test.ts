import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createRng } from "../../src/util/random.js";
import { extractSummary } from "../../src/features/index.js";
import { ROOT, runCli } from "../helpers/cli.js";
import { syntheticSample, trainedDir } from "../server/trained.js";

// End-to-end: the built binary on models trained from seeded synthetic data (4 users, 6 keys each),
// so that the true user of a fresh sample is known.
let dir = "";
let root = "";
let csv = "";
const rng = createRng(99);
const sampleOf = (user: number) => syntheticSample(user, rng);
function contractOf(user: number, model?: string) {
  const s = extractSummary(sampleOf(user));
  const part = (i: number) => ({ Mean: s[2 * i]!, STD: s[2 * i + 1]! });
  return { ...(model ? { Model: model } : {}), HT: part(0), PPT: part(1), RRT: part(2), RPT: part(3) };
}
const predict = (args: string[], stdin?: string) =>
  runCli(["predict", "--models-dir", dir, ...args], stdin === undefined ? {} : { stdin });

beforeAll(async () => {
  ({ dir, root, csv } = await trainedDir());
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("keystroke-id predict: input forms", () => {
  it("answers the original contract on stdin with UserID first and the answer fields", async () => {
    const r = await predict([], JSON.stringify(contractOf(3, "RF")));
    expect(r.code, r.stderr).toBe(0);
    const a = JSON.parse(r.stdout);
    expect(Object.keys(a)[0]).toBe("UserID");
    expect(a).toMatchObject({ Model: "RF", features: "summary" });
    expect(a.model_version).toMatch(/^rf-summary-[0-9a-f]{12}$/);
    expect(a.top).toHaveLength(3);
    expect(a.confidence).toBe(a.top[0].probability);
    expect(a.UserID).toBe(a.top[0].UserID);
    expect(a.inference_time_ms).toBeGreaterThan(0);
  });

  it("identifies raw timings with the timings model, from a file, in either form", async () => {
    const s = sampleOf(2);
    const file = join(root, "timings.json");
    writeFileSync(file, JSON.stringify(s));
    const a = JSON.parse((await predict(["--json", file, "--model", "rf"])).stdout);
    expect(a).toMatchObject({ UserID: 2, Model: "RF", features: "timings" });
    const ks = { keystrokes: s.press.map((p, i) => ({ key: "qwerty"[i], press: p, release: s.release[i] })) };
    const b = JSON.parse((await predict(["--model", "Rf"], JSON.stringify(ks))).stdout);
    expect(b).toMatchObject({ UserID: 2, features: "timings" });
  });

  it("refuses a sample of another key count (SAMPLE_MISMATCH), and answers it with the summary model under --allow-summary", async () => {
    const s = syntheticSample(4, rng, 9);
    const refused = await predict(["--model", "RF"], JSON.stringify(s));
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(
      /field press: has \d+ keys but the RF timings model was trained on samples of \d+ keys.*\[SAMPLE_MISMATCH\]/,
    );
    const a = JSON.parse((await predict(["--model", "RF", "--allow-summary"], JSON.stringify(s))).stdout);
    expect(a).toMatchObject({ features: "summary", Model: "RF" });
  });

  it("uses --model over the request's Model, and the manifest's best when neither names one", async () => {
    expect(
      JSON.parse((await predict(["--model", "svm"], JSON.stringify(contractOf(1, "RF")))).stdout).Model,
    ).toBe("SVM");
    const best = JSON.parse(
      (await runCli(["predict", "--models-dir", dir], { stdin: JSON.stringify(contractOf(1)) })).stdout,
    );
    const manifest = readFileSync(join(dir, "manifest.json"), "utf8");
    expect(best.Model).toBe(JSON.parse(manifest).best);
  });

  it("answers an array with an error object in place of a bad request, exit 3", async () => {
    const r = await predict(
      ["--top", "1"],
      JSON.stringify([contractOf(1, "RF"), { ...contractOf(1, "RF"), HT: { Mean: 3 } }, sampleOf(4)]),
    );
    expect(r.code).toBe(3);
    const out = JSON.parse(r.stdout);
    expect(out).toHaveLength(3);
    expect(out[0].top).toHaveLength(1);
    expect(out[1]).toMatchObject({ field: "HT.STD", index: 1, code: "BAD_REQUEST" });
    expect(out[2]).toMatchObject({ UserID: 4, features: "timings" });
    expect(r.stderr).toMatch(/1 of 3 requests/);
  });

  it("answers NDJSON one line per request, a bad line in its place", async () => {
    const text = [JSON.stringify(sampleOf(1)), "{oops", JSON.stringify(sampleOf(3))].join("\n") + "\n";
    const r = await predict(["--model", "RF"], text);
    expect(r.code).toBe(3);
    const lines = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatchObject({ UserID: 1 });
    expect(lines[1]).toMatchObject({ code: "BAD_JSON", line: 2 });
    expect(lines[2]).toMatchObject({ UserID: 3 });
  });

  it("answers a CSV as CSV (default) or JSON, with the line and the file's label", async () => {
    const r = await predict(["--csv", csv, "--model", "rf"]);
    expect(r.code, r.stderr).toBe(0);
    const rows = r.stdout
      .trim()
      .split("\n")
      .map((l) => l.split(","));
    // the file's label column is `label`, never a second UserID
    expect(rows[0]).toEqual([
      "line",
      "label",
      "UserID",
      "Model",
      "features",
      "confidence",
      "model_version",
      "warnings",
      "error",
    ]);
    expect(rows).toHaveLength(1 + 4 * 14);
    expect(rows[1]![0]).toBe("2");
    // trained on these very rows: the RF should get nearly all of them right
    const right = rows.slice(1).filter((c) => c[1] === c[2]).length;
    expect(right).toBeGreaterThan(50);
    const j = JSON.parse((await predict(["--csv", csv, "--output", "json"])).stdout);
    expect(j).toHaveLength(56);
    expect(j[0]).toMatchObject({ line: 2, label: 1 });
  });
});

describe("keystroke-id predict: errors", () => {
  it("reports invalid JSON with its line and column, nothing on stdout", async () => {
    const r = await predict([], '{\n  "Model": "RF",\n  "HT": {"Mean": 1 "STD": 2}\n}');
    expect(r.code).toBe(3);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/<stdin>:3: invalid JSON at column 20/);
  });

  it("names a missing or non-numeric field and a negative time", async () => {
    const missing = await predict([], JSON.stringify({ ...contractOf(1, "RF"), HT: { Mean: 40 } }));
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/field HT\.STD/);
    const nonNumeric = await predict(
      [],
      JSON.stringify({ ...contractOf(1, "RF"), RPT: { Mean: "fast", STD: 1 } }),
    );
    expect(nonNumeric.stderr).toMatch(/field RPT\.Mean: must be a number/);
    const negative = await predict([], JSON.stringify({ press: [0, -4], release: [10, 20] }));
    expect(negative.code).toBe(3);
    expect(negative.stderr).toMatch(/field press\[1\]: a time cannot be negative/);
  });

  it("refuses an unknown model: a bad flag (2), a bad Model (3), a model not trained (4)", async () => {
    const flag = await predict(["--model", "knn"], JSON.stringify(contractOf(1)));
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/flag --model: unknown model "knn"/);
    expect((await predict([], JSON.stringify(contractOf(1, "tree")))).code).toBe(3);
    const untrained = await predict([], JSON.stringify(contractOf(1, "XGB")));
    expect(untrained.code).toBe(4);
    expect(untrained.stderr).toMatch(/no XGB summary model is loaded/);
  });

  it("reports a missing models dir with a hint", async () => {
    const r = await runCli(["predict", "--models-dir", join(root, "nowhere")], {
      stdin: JSON.stringify(contractOf(1, "RF")),
    });
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/no models in .*nowhere/);
    expect(r.stderr).toMatch(/hint: .*train/);
  });

  it("reports a missing input file and a bad flag value", async () => {
    expect((await predict(["--json", join(root, "nope.json")])).stderr).toMatch(/nope\.json: no such file/);
    expect((await predict(["--top", "0"], "{}")).code).toBe(2);
    expect((await predict(["--csv", csv, "--output", "xml"])).stderr).toMatch(/flag --output/);
  });
});

describe("keystroke-id predict --claim", () => {
  it("verifies a sample against the claimed user", async () => {
    const r = await predict(["--claim", "2"], JSON.stringify(sampleOf(2)));
    expect(r.code, r.stderr).toBe(0);
    const a = JSON.parse(r.stdout);
    expect(a).toMatchObject({ UserID: 2, replay: false, scripted: false });
    expect(typeof a.accepted).toBe("boolean");
    for (const k of ["anomaly_score", "confidence_score", "threshold"]) expect(typeof a[k]).toBe("number");
    expect(typeof a.detector).toBe("string");
  });

  it("scores an impostor as more anomalous than the genuine user", async () => {
    const own = JSON.parse((await predict(["--claim", "1"], JSON.stringify(sampleOf(1)))).stdout);
    const other = JSON.parse((await predict(["--claim", "1"], JSON.stringify(sampleOf(4)))).stdout);
    expect(other.anomaly_score).toBeGreaterThan(own.anomaly_score);
    expect(other.accepted).toBe(false);
  });

  it("refuses a summary-only request and an unknown user clearly", async () => {
    const summary = await predict(["--claim", "2"], JSON.stringify(contractOf(2)));
    expect(summary.code).toBe(3);
    expect(summary.stderr).toMatch(/verification needs raw timings/);
    const unknown = await predict(["--claim", "77"], JSON.stringify(sampleOf(2)));
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toMatch(/user 77 is not enrolled/);
  });
});

describe.skipIf(!existsSync(join(ROOT, "fixtures", "wide-train.csv")))(
  "keystroke-id predict on the fixtures",
  () => {
    it("answers fixtures/requests.ndjson and fixtures/wide-test.csv with RF trained on fixtures/wide-train.csv", async () => {
      const models = join(root, "fixture-models");
      const t = await runCli([
        "train",
        "fixtures/wide-train.csv",
        "--model",
        "rf",
        "--models-dir",
        models,
        "--workers",
        "0",
        "--no-verification",
        "--json",
      ]);
      expect(t.code, t.stderr).toBe(0);
      const nd = await runCli([
        "predict",
        "--models-dir",
        models,
        "--model",
        "rf",
        "--json",
        "fixtures/requests.ndjson",
      ]);
      expect(nd.code, nd.stderr).toBe(0);
      const lines = nd.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      expect(lines).toHaveLength(
        readFileSync(join(ROOT, "fixtures", "requests.ndjson"), "utf8")
          .trim()
          .split("\n").length,
      );
      for (const a of lines) expect(a).toMatchObject({ Model: "RF", UserID: a.top[0].UserID });
      const csvOut = await runCli([
        "predict",
        "--models-dir",
        models,
        "--csv",
        "fixtures/wide-test.csv",
        "--output",
        "json",
      ]);
      expect(csvOut.code, csvOut.stderr).toBe(0);
      const rows = JSON.parse(csvOut.stdout) as Array<{ label: unknown; UserID: unknown; features: string }>;
      expect(rows.length).toBeGreaterThan(10);
      expect(rows.every((r) => r.features === "timings")).toBe(true);
    });
  },
);
