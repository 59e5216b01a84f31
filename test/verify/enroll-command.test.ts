import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, runCli } from "../helpers/cli.js";
import { openStore } from "../../src/store/index.js";

const TRAIN = resolve(ROOT, "fixtures", "wide-train.csv");
const UNLABELLED = resolve(ROOT, "fixtures", "wide-unlabelled.csv");
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "kid-enroll-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Each user's template version in a store (a re-enrolment changes it). */
async function versions(store: string): Promise<Map<string, number>> {
  const s = await openStore(store);
  try {
    return new Map((await s.identities.list({ limit: 1000 })).map((u) => [u.id, u.version]));
  } finally {
    await s.close();
  }
}

describe("keystroke-id enroll (built binary)", () => {
  it("creates a store for every user of a labelled file, JSON on stdout and a note on stderr", async () => {
    const store = join(dir, "a.db");
    const r = await runCli(["enroll", TRAIN, "--store", store, "--models-dir", join(dir, "none"), "--json"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ store, users: 30 });
    expect(out.enrolled).toHaveLength(30);
    expect(out.enrolled[0]).toMatchObject({ samples: 10, detector: "fusion", replaced: false });
    expect(out.enrolled[0].quality).toBeGreaterThan(0);
    expect(r.stderr).toMatch(/identity store .*a\.db: 30 user/);
    expect((await versions(store)).size).toBe(30);
    // 30 users, each fitted by the three parts of the default fusion detector: give a shared 2-core machine time
  }, 180_000);

  it("adds an unlabelled file as a new user without touching the others", async () => {
    const store = join(dir, "a.db");
    const before = await versions(store);
    // the fixture holds one spare sample of each of 6 different typists: refused as inconsistent, enrolled with --force
    const refused = await runCli(["enroll", UNLABELLED, "--user", "newcomer", "--store", store, "--json"]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/enrolment of user newcomer refused: .*two people/);
    const r = await runCli([
      "enroll",
      UNLABELLED,
      "--user",
      "newcomer",
      "--store",
      store,
      "--json",
      "--force",
    ]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      users: 31,
      enrolled: [{ UserID: "newcomer", replaced: false, forced: ["two_people"] }],
    });
    const after = await versions(store);
    expect(after.size).toBe(31);
    for (const [id, v] of before) expect(after.get(id)).toBe(v);
  });

  it("refuses an unlabelled file without --user (usage) and too few samples (input)", async () => {
    const models = join(dir, "b");
    const r = await runCli(["enroll", UNLABELLED, "--store", join(dir, "b.db")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--user/);
    const small = join(dir, "two.csv");
    const lines = (await readFile(UNLABELLED, "utf8")).trim().split("\n");
    await writeFile(small, lines.slice(0, 3).join("\n") + "\n");
    const r2 = await runCli([
      "enroll",
      small,
      "--user",
      "x",
      "--store",
      join(models, "b.db"),
      "--detector",
      "manhattan-scaled",
    ]);
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
