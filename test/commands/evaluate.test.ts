import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { evaluateCommand } from "../../src/commands/evaluate.js";
import { extractFeatures, featureNames } from "../../src/features/index.js";
import { fitClassifier } from "../../src/models/index.js";
import { writeModelDir } from "../../src/models/store.js";
import type { Label } from "../../src/data/types.js";

const KEYS = 4;
// Users told apart by hold time; "late" only appears in the evaluation file, never in training.
const HOLD: Record<string, number> = { a: 40, b: 90, c: 150, late: 220 };

function rows(
  users: string[],
  perUser: number,
): Array<{ label: string; press: number[]; release: number[] }> {
  const out = [];
  for (const u of users) {
    for (let r = 0; r < perUser; r++) {
      const press = Array.from({ length: KEYS }, (_, k) => k * 300 + ((r * 7) % 5));
      out.push({ label: u, press, release: press.map((p, k) => p + HOLD[u]! + ((r + k) % 3)) });
    }
  }
  return out;
}

function csv(samples: ReturnType<typeof rows>): string {
  const head = [
    ...Array.from({ length: KEYS }, (_, k) => [`press-${k}`, `release-${k}`]).flat(),
    "UserID",
  ].join(",");
  return (
    [head, ...samples.map((s) => [...s.press.flatMap((p, k) => [p, s.release[k]]), s.label].join(","))].join(
      "\n",
    ) + "\n"
  );
}

let dir: string;
let evalFile: string;
let modelsDir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "kid-evaluate-"));
  evalFile = join(dir, "eval.csv");
  await writeFile(evalFile, csv([...rows(["a", "b", "c"], 6), ...rows(["late"], 2)]));
  modelsDir = join(dir, "models");
  const train = rows(["a", "b", "c"], 8);
  const y: Label[] = train.map((s) => s.label);
  const models = [];
  for (const featureSet of ["timings", "summary"] as const) {
    const clf = await fitClassifier(
      "RF",
      train.map((s) => extractFeatures(s, featureSet)),
      y,
      { seed: 1 },
    );
    models.push({
      serialized: clf.toJSON(),
      featureSet,
      featureNames: featureNames(featureSet, KEYS),
      keys: featureSet === "timings" ? KEYS : null,
      fitSeconds: 0,
    });
  }
  await writeModelDir(modelsDir, models, {
    data: { name: "train.csv", sha256: "0", rows: train.length, users: 3, layout: "wide" },
    seed: 1,
    holdout: 0,
  });
}, 120_000);

/** Runs the command in-process and returns what it wrote to stdout and stderr. */
async function run(args: string[]): Promise<{ stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  vi.spyOn(process.stdout, "write").mockImplementation((s) => ((stdout += String(s)), true));
  vi.spyOn(process.stderr, "write").mockImplementation((s) => ((stderr += String(s)), true));
  try {
    await evaluateCommand().exitOverride().parseAsync(args, { from: "user" });
  } finally {
    vi.restoreAllMocks();
  }
  return { stdout, stderr };
}

afterEach(() => vi.restoreAllMocks());

describe("evaluate with a models directory", () => {
  it("prints one JSON document with the documented shape, counting an unseen user as errors", async () => {
    const { stdout, stderr } = await run([evalFile, "--models-dir", modelsDir, "--json"]);
    const doc = JSON.parse(stdout);
    expect(doc.dataset).toEqual({ file: evalFile, rows: 20, users: 4 });
    expect(Object.keys(doc.models)).toEqual(["RF"]);
    const t = doc.models.RF.timings;
    for (const k of ["accuracy", "top3", "balanced_accuracy", "macro_f1", "macro_precision", "macro_recall"])
      expect(typeof t[k]).toBe("number");
    expect(t.unseen_users).toEqual([{ UserID: "late", samples: 2 }]);
    expect(t.unseen_samples).toBe(2);
    // the two unseen samples can never be right
    expect(t.accuracy).toBeLessThanOrEqual(18 / 20);
    expect(t.per_user.find((u: { UserID: string }) => u.UserID === "late")).toMatchObject({
      support: 2,
      correct: 0,
    });
    expect(t.confusion.labels).toContain("late");
    expect(t.model_version).toMatch(/^rf-timings-/);
    expect(stderr).toMatch(
      /2 sample\(s\) of 1 user\(s\) the RF timings model never saw count as errors: late/,
    );
  });

  it("filters by feature set and reports the reject option", async () => {
    const { stdout } = await run([
      evalFile,
      "--models-dir",
      modelsDir,
      "--features",
      "summary",
      "--reject-below",
      "0.5",
      "--json",
    ]);
    const doc = JSON.parse(stdout);
    expect(Object.keys(doc.models.RF)).toEqual(["summary"]);
    const r = doc.models.RF.summary.reject;
    expect(r.threshold).toBe(0.5);
    expect(r.accepted + r.rejected).toBe(20);
  });

  it("prints a table with the confusion matrix for a few users", async () => {
    const { stdout } = await run([
      evalFile,
      "--models-dir",
      modelsDir,
      "--model",
      "rf",
      "--features",
      "timings",
      "--output",
      "table",
    ]);
    expect(stdout).toMatch(/model.*features.*accuracy.*top-3/);
    expect(stdout).toMatch(/RF.*timings/);
    expect(stdout).toMatch(/confusion RF timings \(rows true, columns predicted\)/);
    expect(stdout).toContain("late");
  });

  it("fails with NO_MODELS when the directory holds no model of the kind asked for", async () => {
    await expect(run([evalFile, "--models-dir", modelsDir, "--model", "xgb"])).rejects.toMatchObject({
      code: "NO_MODELS",
    });
  });
});

describe("evaluate --cv", () => {
  it("cross-validates with no models, reporting mean ± sd per model and progress on stderr", async () => {
    const trainFile = join(dir, "train.csv");
    await writeFile(trainFile, csv(rows(["a", "b", "c"], 6)));
    const { stdout, stderr } = await run([trainFile, "--cv", "3", "--model", "rf", "--seed", "3", "--json"]);
    const doc = JSON.parse(stdout);
    expect(Object.keys(doc.models.RF).sort()).toEqual(["summary", "timings"]);
    const t = doc.models.RF.timings;
    expect(t.cv.k).toBe(3);
    expect(t.cv.seed).toBe(3);
    expect(t.cv.folds).toHaveLength(3);
    const mean = t.cv.folds.reduce((s: number, f: { accuracy: number }) => s + f.accuracy, 0) / 3;
    expect(t.accuracy).toBeCloseTo(mean, 12);
    expect(typeof t.cv.sd.accuracy).toBe("number");
    expect(stderr).toMatch(/cross-validating RF timings: fold 3\/3 \(3\/6 fits(, ETA \d+ s)?\)/);
  });
});

describe("evaluate flags", () => {
  it.each([
    [["--cv", "1"], "--cv"],
    [["--cv", "two"], "--cv"],
    [["--reject-below", "1.5"], "--reject-below"],
    [["--model", "knn"], "--model"],
    [["--features", "all"], "--features"],
    [["--seed", "-1"], "--seed"],
    [["--cv", "3", "--models-dir", "m"], "--cv"],
  ])("rejects %j naming %s", async (flags, flag) => {
    await expect(run([evalFile, ...flags])).rejects.toMatchObject({
      code: "BAD_FLAG",
      message: expect.stringContaining(flag),
    });
  });
});
