import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, runCli } from "../helpers/cli.js";

const TRAIN = resolve(ROOT, "fixtures", "wide-train.csv");
const UNLABELLED = resolve(ROOT, "fixtures", "wide-unlabelled.csv");
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "kid-enroll-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function templates(models: string): Promise<Map<string, string>> {
  const t = join(models, "verification", "templates");
  const files = await readdir(t);
  return new Map(await Promise.all(files.map(async (f) => [f, await readFile(join(t, f), "utf8")] as const)));
}

describe("keystroke-id enroll (built binary)", () => {
  it("creates a store for every user of a labelled file, JSON on stdout and a note on stderr", async () => {
    const models = join(dir, "a");
    const r = await runCli(["enroll", TRAIN, "--models-dir", models, "--json"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ created: true, users: 30 });
    expect(out.enrolled).toHaveLength(30);
    expect(out.enrolled[0]).toMatchObject({ samples: 10, detector: "discriminative" });
    expect(out.enrolled[0].quality).toBeGreaterThan(0);
    expect(r.stderr).toMatch(/created verification store/);
    expect((await templates(models)).size).toBe(30);
  });

  it("adds an unlabelled file as a new user without touching the others", async () => {
    const models = join(dir, "a");
    const before = await templates(models);
    // the fixture holds one spare sample of each of 6 different typists: refused as inconsistent, enrolled with --force
    const refused = await runCli(["enroll", UNLABELLED, "--user", "newcomer", "--models-dir", models, "--json"]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/enrolment of user newcomer refused: .*two people/);
    const r = await runCli(["enroll", UNLABELLED, "--user", "newcomer", "--models-dir", models, "--json", "--force"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ created: false, users: 31, enrolled: [{ UserID: "newcomer", replaced: false, forced: ["two_people"] }] });
    const after = await templates(models);
    expect(after.size).toBe(31);
    for (const [f, text] of before) expect(after.get(f)).toBe(text);
  });

  it("refuses an unlabelled file without --user (usage) and too few samples (input)", async () => {
    const models = join(dir, "b");
    const r = await runCli(["enroll", UNLABELLED, "--models-dir", models]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--user/);
    const small = join(dir, "two.csv");
    const lines = (await readFile(UNLABELLED, "utf8")).trim().split("\n");
    await writeFile(small, lines.slice(0, 3).join("\n") + "\n");
    const r2 = await runCli(["enroll", small, "--user", "x", "--models-dir", models, "--detector", "manhattan-scaled"]);
    expect(r2.code).toBe(3);
    expect(r2.stderr).toMatch(/2 samples; enrolling needs at least 3/);
    expect(r2.stdout).toBe("");
  });

  it("names a bad detector flag", async () => {
    const r = await runCli(["enroll", TRAIN, "--models-dir", join(dir, "c"), "--detector", "nope"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--detector/);
  });
});
