import { existsSync, readdirSync } from "node:fs";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fitClassifier } from "../../src/models/index.js";
import {
  activateVersion,
  activeVersionId,
  listVersions,
  loadModelDir,
  MANIFEST_FILE,
  readManifest,
  readVersionRecord,
  removeVersion,
  writeModelDir,
  type Manifest,
} from "../../src/models/store.js";
import { createRng } from "../../src/util/random.js";

function blobs(seed: number) {
  const rng = createRng(seed);
  const X: number[][] = [];
  const y: number[] = [];
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < 10; i++) {
      X.push([c * 10 + rng(), -c * 5 + rng(), rng()]);
      y.push(c + 1);
    }
  }
  return { X, y };
}

/** Writes one version fitted with `seed` (so each version's model file differs). */
async function train(dir: string, seed: number, keep?: number): Promise<Manifest> {
  const { X, y } = blobs(seed);
  const rf = await fitClassifier("RF", X, y, { seed, params: { nTrees: 10 } });
  return writeModelDir(
    dir,
    [
      {
        serialized: rf.toJSON(),
        featureSet: "summary",
        featureNames: ["a", "b", "c"],
        keys: null,
        fitSeconds: 0.1,
        metrics: { accuracy: seed / 10, macroF1: 0.5, holdoutRows: 6 },
      },
    ],
    {
      data: { name: `blobs-${seed}`, sha256: "0".repeat(64), rows: X.length, users: 3, layout: "wide" },
      seed,
      holdout: 0.2,
      createdAt: new Date(Date.UTC(2026, 0, seed)),
      ...(keep !== undefined ? { keep } : {}),
    },
  );
}

const versionFiles = (dir: string) =>
  existsSync(join(dir, "versions")) ? readdirSync(join(dir, "versions")).sort() : [];
const modelFiles = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.startsWith("rf-"))
    .sort();

describe("model versions", () => {
  it("adds a version per train, keeps the last N with their metrics, and removes what no kept version names", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kid-versions-"));
    const first = await train(dir, 1, 2);
    expect(first.versionId).toBe("v1");
    await train(dir, 2, 2);
    const third = await train(dir, 3, 2);
    expect(third.versionId).toBe("v3");
    expect(listVersions(third).map((v) => v.id)).toEqual(["v2", "v3"]);
    expect(listVersions(third).map((v) => v.models[0]!.accuracy)).toEqual([0.2, 0.3]);
    expect(listVersions(third).map((v) => v.data.name)).toEqual(["blobs-2", "blobs-3"]);
    // v1's record and model file are gone; v2's and v3's stay
    expect(versionFiles(dir).map((f) => f.split(".")[0])).toEqual(["v2", "v3"]);
    expect(modelFiles(dir)).toEqual([...new Set(listVersions(third).map((v) => v.models[0]!.file))].sort());
    // the record of each version is its manifest, checksum-checked
    const v2 = await readVersionRecord(dir, third, "v2");
    expect(v2.manifest.data.name).toBe("blobs-2");
    expect(v2.manifest.versions).toBeUndefined();
  });

  it("rolls back with use, loads any kept version by id, and never reuses a removed id", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kid-versions-"));
    await train(dir, 1);
    await train(dir, 2);
    const probe = [20.5, -9.5, 0.5];
    const v2 = (await loadModelDir(dir)).models[0]!;
    const v1 = (await loadModelDir(dir, { version: "v1" })).models[0]!;
    expect(v1.version).not.toBe(v2.version);

    const rolled = await activateVersion(dir, "1");
    expect(activeVersionId(rolled)).toBe("v1");
    expect(JSON.parse(await readFile(join(dir, MANIFEST_FILE), "utf8")).data.name).toBe("blobs-1");
    const active = (await loadModelDir(dir)).models[0]!;
    expect(active.version).toBe(v1.version);
    expect(active.classifier.predictProba(probe)).toEqual(v1.classifier.predictProba(probe));
    // the versions list is untouched by a rollback
    expect(listVersions(rolled).map((v) => v.id)).toEqual(["v1", "v2"]);

    await expect(removeVersion(dir, "v1")).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: expect.stringMatching(/v1 is the active model version/),
    });
    await expect(removeVersion(dir, "v9")).rejects.toMatchObject({
      code: "UNKNOWN_MODEL",
      message: expect.stringMatching(/no model version "v9".*kept: v1, v2/),
    });
    await expect(activateVersion(dir, "v9")).rejects.toMatchObject({ code: "UNKNOWN_MODEL" });
    await expect(loadModelDir(dir, { version: "v7" })).rejects.toMatchObject({ code: "UNKNOWN_MODEL" });

    const after = await removeVersion(dir, "v2");
    expect(listVersions(after).map((v) => v.id)).toEqual(["v1"]);
    expect(modelFiles(dir)).toEqual([v1.version.replace("rf-summary-", "rf-summary.") + ".json"]);
    const next = await train(dir, 3);
    expect(next.versionId).toBe("v3");
  });

  it("refuses a version record that was changed", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kid-versions-"));
    await train(dir, 1);
    await train(dir, 2);
    const file = versionFiles(dir).find((f) => f.startsWith("v1."))!;
    const path = join(dir, "versions", file);
    await writeFile(path, (await readFile(path, "utf8")).replace("blobs-1", "blobs-X"));
    await expect(activateVersion(dir, "v1")).rejects.toMatchObject({
      code: "BAD_MODEL_FILE",
      message: expect.stringMatching(/checksum does not match/),
    });
    expect(activeVersionId(await readManifest(dir))).toBe("v2");
  });

  it("reads a directory written before versions as version v1, and keeps it as v1 at the next train", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kid-versions-"));
    const m = await train(dir, 1);
    // what an older keystroke-id wrote: the same manifest without any version field, and no versions/
    const { versionId: _a, versions: _b, lastVersionNumber: _c, ...legacy } = m;
    await writeFile(join(dir, MANIFEST_FILE), JSON.stringify(legacy, null, 2));
    for (const f of versionFiles(dir))
      await import("node:fs/promises").then((fs) => fs.rm(join(dir, "versions", f)));
    const old = await readManifest(dir);
    expect(activeVersionId(old)).toBe("v1");
    expect(listVersions(old).map((v) => v.id)).toEqual(["v1"]);
    const before = (await loadModelDir(dir)).models[0]!;

    const upgraded = await train(dir, 2);
    expect(upgraded.versionId).toBe("v2");
    expect(listVersions(upgraded).map((v) => v.id)).toEqual(["v1", "v2"]);
    expect(listVersions(upgraded)[0]!.file).toMatch(/^versions\/v1\.[0-9a-f]{12}\.json$/);
    await activateVersion(dir, "v1");
    const back = (await loadModelDir(dir)).models[0]!;
    expect(back.version).toBe(before.version);
    expect(back.classifier.predictProba([1, 2, 3])).toEqual(before.classifier.predictProba([1, 2, 3]));
  });
});
