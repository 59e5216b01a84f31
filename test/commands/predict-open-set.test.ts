import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readDataset } from "../../src/data/index.js";
import { writeModelDir } from "../../src/models/store.js";
import { trainModels } from "../../src/train/train-models.js";
import { createRng } from "../../src/util/random.js";
import { runCli } from "../helpers/cli.js";
import { syntheticSample, trainedDir } from "../server/trained.js";

// users 1–4 are trained on; user 9 types nothing like any of them (a stranger the generator makes)
describe("predict --reject-unknown (built binary)", () => {
  let dir: string;
  let root: string;
  const rng = createRng(11);
  const known = syntheticSample(2, rng);
  const stranger = syntheticSample(9, rng);

  beforeAll(async () => {
    ({ dir, root } = await trainedDir("rf"));
  }, 180_000);
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const predict = async (request: unknown, ...flags: string[]) => {
    const file = join(root, `req-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify(request));
    return runCli(["predict", "--models-dir", dir, "--json", file, "--output", "json", ...flags]);
  };

  it("names a known user and answers UserID null, unknown true for a stranger", async () => {
    const k = await predict(known, "--reject-unknown");
    expect(k.code, k.stderr).toBe(0);
    const ka = JSON.parse(k.stdout);
    expect(ka).toMatchObject({ UserID: 2, unknown: false, Model: "RF", features: "timings" });
    expect(ka.open_set.distance).toBeLessThan(ka.open_set.threshold);
    expect(ka.open_set.target_fir).toBe(0.05);

    const s = await predict(stranger, "--reject-unknown");
    expect(s.code, s.stderr).toBe(0);
    const sa = JSON.parse(s.stdout);
    expect(sa).toMatchObject({ UserID: null, unknown: true });
    expect(sa.open_set.distance).toBeGreaterThanOrEqual(sa.open_set.threshold);
    // the candidates are still listed, for a person to look at
    expect(sa.top.length).toBeGreaterThan(0);
  }, 60_000);

  it("without the flag the answer is the original one: the same keys, a user always named", async () => {
    const r = await predict(stranger);
    expect(r.code, r.stderr).toBe(0);
    const a = JSON.parse(r.stdout);
    expect(Object.keys(a)).toEqual([
      "UserID",
      "Model",
      "features",
      "confidence",
      "top",
      "model_version",
      "inference_time_ms",
    ]);
    expect(a.UserID).not.toBeNull();
    // "reject_unknown": true in the request does the same as the flag
    const b = JSON.parse((await predict({ ...stranger, reject_unknown: true })).stdout);
    expect(b).toMatchObject({ UserID: null, unknown: true });
    const bad = await predict({ ...stranger, reject_unknown: "yes" });
    expect(bad.code).toBe(3);
    expect(bad.stderr).toMatch(/reject_unknown/);
  }, 60_000);

  it("a table shows unknown in the UserID column", async () => {
    const file = join(root, "stranger.json");
    writeFileSync(file, JSON.stringify([known, stranger]));
    const r = await runCli([
      "predict",
      "--models-dir",
      dir,
      "--json",
      file,
      "--output",
      "table",
      "--reject-unknown",
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/│ unknown /);
  }, 60_000);

  it("models without a stored threshold (written before open-set existed) are a clear error, exit 4", async () => {
    const old = mkdtempSync(join(tmpdir(), "kid-openset-old-"));
    try {
      const csv = join(root, "train.csv");
      const data = await readDataset(csv, { requireLabel: true });
      const run = await trainModels(data, {
        algorithms: ["RF"],
        featureSets: ["timings"],
        seed: 1,
        holdout: 0,
        workers: 0,
      });
      const models = run.models.map(({ openSet: _drop, ...m }) => m);
      await writeModelDir(old, models, {
        data: { name: "train.csv", sha256: "-", rows: data.samples.length, users: 4, layout: "wide" },
        seed: 1,
        holdout: 0,
      });
      const file = join(root, "old.json");
      writeFileSync(file, JSON.stringify(known));
      const plain = await runCli(["predict", "--models-dir", old, "--json", file, "--output", "json"]);
      expect(plain.code, plain.stderr).toBe(0);
      const r = await runCli(["predict", "--models-dir", old, "--json", file, "--reject-unknown"]);
      expect(r.code).toBe(4);
      expect(r.stderr).toMatch(/no open-set threshold/);
      expect(r.stderr).toMatch(/retrain/);
    } finally {
      rmSync(old, { recursive: true, force: true });
    }
  }, 120_000);

  it("evaluate reports the threshold, the strangers rejected and the accuracy kept on known users", async () => {
    const r2 = createRng(21);
    const head = [
      ...Array.from({ length: 6 }, (_, i) => [`press-${i}`, `release-${i}`]).flat(),
      "UserID",
    ].join(",");
    const rows = [head];
    for (const user of [1, 2, 3, 4, 8, 9])
      for (let i = 0; i < 5; i++) {
        const s = syntheticSample(user, r2);
        rows.push([...s.press.flatMap((p, j) => [p, s.release[j]]), user].join(","));
      }
    const file = join(root, "with-strangers.csv");
    writeFileSync(file, rows.join("\n") + "\n");
    const r = await runCli([
      "evaluate",
      file,
      "--models-dir",
      dir,
      "--model",
      "rf",
      "--features",
      "timings",
      "--output",
      "json",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const [o] = JSON.parse(r.stdout).open_set;
    expect(o).toMatchObject({
      Model: "RF",
      features: "timings",
      target_fir: 0.05,
      known: 20,
      strangers: 10,
      stranger_users: 2,
    });
    expect(o.threshold).toBeGreaterThan(0);
    // users 8 and 9 type far slower than anyone trained on; the known users are answered as before
    expect(o.strangers_rejected).toBe(1);
    expect(o.known_accuracy_kept).toBeGreaterThanOrEqual(0.9);
    const t = await runCli([
      "evaluate",
      file,
      "--models-dir",
      dir,
      "--model",
      "rf",
      "--features",
      "timings",
      "--output",
      "table",
    ]);
    expect(t.stdout).toMatch(/strangers rejected/);
    expect(t.stdout).toMatch(/100\.0% of 10 \(2 users\)/);
  }, 60_000);

  it("train --target-fir is checked and recorded", async () => {
    const bad = await runCli([
      "train",
      join(root, "train.csv"),
      "--target-fir",
      "2",
      "--models-dir",
      join(root, "x"),
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--target-fir/);
    const out = join(root, "fir");
    const r = await runCli([
      "train",
      join(root, "train.csv"),
      "--model",
      "rf",
      "--features",
      "timings",
      "--holdout",
      "0",
      "--workers",
      "0",
      "--target-fir",
      "0.2",
      "--no-verification",
      "--models-dir",
      out,
      "--output",
      "json",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.open_set).toEqual([expect.objectContaining({ features: "timings", target_fir: 0.2 })]);
    const p = await runCli([
      "predict",
      "--models-dir",
      out,
      "--json",
      join(root, "old.json"),
      "--reject-unknown",
      "--output",
      "json",
    ]);
    expect(JSON.parse(p.stdout).open_set.target_fir).toBe(0.2);
  }, 120_000);
});
