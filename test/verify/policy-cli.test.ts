import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, runCli } from "../helpers/cli.js";

// The built binary: `enroll --target-far` stores the policy, `predict --claim` names it, `--explain` explains.
const TRAIN = resolve(ROOT, "fixtures", "wide-train.csv");
const SAMPLE = resolve(ROOT, "fixtures", "request-timings.json");
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "kid-policy-cli-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("keystroke-id enroll --target-far and predict --claim --explain (built binary)", () => {
  it("sets the store's policy, and every verification answer names it", async () => {
    const store = join(dir, "a.db");
    const bad = await runCli(["enroll", TRAIN, "--store", store, "--target-far", "2", "--json"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--target-far/);
    const r = await runCli(["enroll", TRAIN, "--store", store, "--target-far", "0.01", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.enrolled[0].policy).toEqual({ kind: "target_far", target_far: 0.01 });
    const v = await runCli([
      "predict",
      "--claim",
      String(out.enrolled[0].UserID),
      "--store",
      store,
      "--json",
      SAMPLE,
    ]);
    expect(v.code, v.stderr).toBe(0);
    const a = JSON.parse(v.stdout);
    expect(a.policy).toEqual({ kind: "target_far", target_far: 0.01 });
    expect(a).not.toHaveProperty("explanation");
    expect(a.anomaly_score).toBeGreaterThanOrEqual(0);
    expect(a.anomaly_score).toBeLessThanOrEqual(1);
    expect(a.accepted).toBe(a.anomaly_score <= a.threshold && !a.replay && !a.scripted);
  });

  it("--explain adds the most deviating intervals; without --claim it is a flag error", async () => {
    const store = join(dir, "a.db");
    const v = await runCli(["predict", "--claim", "101", "--store", store, "--explain", "--json", SAMPLE]);
    expect(v.code, v.stderr).toBe(0);
    const ex = JSON.parse(v.stdout).explanation;
    expect(ex.length).toBeGreaterThan(0);
    expect(ex[0]).toMatchObject({ key_pair: expect.stringMatching(/^\d+(→\d+)?$/) });
    expect(["HT", "PPT", "RRT", "RPT"]).toContain(ex[0].kind);
    const bad = await runCli(["predict", "--explain", "--json", SAMPLE]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--explain/);
  });
});
