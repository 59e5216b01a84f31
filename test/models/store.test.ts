import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fitClassifier } from "../../src/models/index.js";
import {
  loadModelDir,
  MANIFEST_FILE,
  pickBest,
  writeModelDir,
  type ManifestModel,
} from "../../src/models/store.js";
import { createRng } from "../../src/util/random.js";

function blobs(seed: number) {
  const rng = createRng(seed);
  const X: number[][] = [];
  const y: number[] = [];
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < 12; i++) {
      X.push([c * 10 + rng(), -c * 5 + rng(), rng()]);
      y.push(c + 1);
    }
  }
  return { X, y };
}

async function writeSample(dir: string) {
  const { X, y } = blobs(1);
  const rf = await fitClassifier("RF", X, y, { seed: 3 });
  return writeModelDir(
    dir,
    [
      {
        serialized: rf.toJSON(),
        featureSet: "summary",
        featureNames: ["a", "b", "c"],
        keys: null,
        fitSeconds: 0.1,
        metrics: { accuracy: 1, macroF1: 1, holdoutRows: 3 },
      },
    ],
    {
      data: { name: "blobs", sha256: "0".repeat(64), rows: X.length, users: 3, layout: "wide" },
      seed: 3,
      holdout: 0.2,
    },
  );
}

describe("model directory", () => {
  it("writes a manifest with checksums and loads models that predict as before", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kid-store-"));
    const manifest = await writeSample(dir);
    expect(manifest.models).toHaveLength(1);
    const entry = manifest.models[0]!;
    expect(entry.file).toBe(`rf-summary.${entry.sha256.slice(0, 12)}.json`);
    expect(entry.version).toBe(`rf-summary-${entry.sha256.slice(0, 12)}`);
    expect(entry.classes).toEqual([1, 2, 3]);
    const loaded = await loadModelDir(dir);
    const model = loaded.find("RF", "summary");
    expect(model).toBeDefined();
    expect(model!.classifier.classes[model!.classifier.predictIndex([20.5, -9.5, 0.5])]).toBe(3);
  });

  it("refuses a model file whose checksum does not match", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kid-store-"));
    const manifest = await writeSample(dir);
    const path = join(dir, manifest.models[0]!.file);
    const text = await readFile(path, "utf8");
    await writeFile(path, text.replace(/"params":\{/, '"params":{"x":1,'));
    await expect(loadModelDir(dir)).rejects.toThrow(
      /rf-summary\.[0-9a-f]{12}\.json: checksum does not match/,
    );
  });

  it("refuses an unknown format version", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kid-store-"));
    await writeSample(dir);
    const path = join(dir, MANIFEST_FILE);
    const m = JSON.parse(await readFile(path, "utf8"));
    m.formatVersion = 99;
    await writeFile(path, JSON.stringify(m));
    await expect(loadModelDir(dir)).rejects.toMatchObject({
      code: "BAD_MODEL_FILE",
      message: expect.stringMatching(/format version 99/),
    });
  });

  it("says there are no models when the directory has no manifest", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kid-store-"));
    await expect(loadModelDir(dir)).rejects.toMatchObject({ code: "NO_MODELS" });
  });

  it("picks the best algorithm by held-out accuracy, timings first", () => {
    const m = (algorithm: "RF" | "SVM" | "XGB", featureSet: "timings" | "summary", accuracy: number) =>
      ({ algorithm, featureSet, metrics: { accuracy, macroF1: 0, holdoutRows: 1 } }) as ManifestModel;
    expect(pickBest([m("RF", "timings", 0.8), m("SVM", "timings", 0.9), m("XGB", "summary", 0.95)])).toBe(
      "SVM",
    );
    expect(pickBest([m("RF", "summary", 0.2), m("XGB", "summary", 0.3)])).toBe("XGB");
  });
});
