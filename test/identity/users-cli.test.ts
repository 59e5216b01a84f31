import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT, runCli } from "../helpers/cli.js";

const TRAIN = resolve(ROOT, "fixtures", "wide-train.csv");
const dir = mkdtempSync(join(tmpdir(), "kid-users-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const store = join(dir, "a.db");
const users = (args: string[], stdin?: string) =>
  runCli(["users", ...args, "--store", store], stdin === undefined ? {} : { stdin });

describe("keystroke-id users (built binary)", () => {
  it("lists, shows, audits, exports, imports into another store and deletes, each with --json", async () => {
    expect((await runCli(["enroll", TRAIN, "--store", store, "--json"])).code).toBe(0);
    const list = JSON.parse((await users(["list", "--json", "--limit", "5"])).stdout);
    expect(list.users).toHaveLength(5);
    expect(list.next).toBe(String(list.users[4].UserID));
    const first = list.users[0].UserID;
    const show = await users(["show", String(first), "--json"]);
    expect(show.code, show.stderr).toBe(0);
    expect(JSON.parse(show.stdout)).toMatchObject({ UserID: first, samples: 10, keys: expect.any(Number) });
    const text = await users(["show", String(first), "--output", "table"]);
    expect(text.stdout).toMatch(/enrolled_at\s*│\s*20/);
    // piped, a list is JSON; csv and ndjson on request
    expect(JSON.parse((await users(["list", "--limit", "2"])).stdout).users).toHaveLength(2);
    const csv = (await users(["list", "--limit", "2", "--output", "csv"])).stdout.trim().split("\n");
    expect(csv[0]).toBe("UserID,samples,detector,threshold,updated_at");
    expect(csv).toHaveLength(3);
    const nd = (await users(["audit", String(first), "--output", "ndjson"])).stdout.trim().split("\n");
    expect(JSON.parse(nd[0]!)).toMatchObject({ action: "enrol", outcome: expect.any(String) });

    const exported = await runCli(["users", "export", "--store", store]);
    expect(exported.code, exported.stderr).toBe(0);
    const lines = exported.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ format: "keystroke-id/identities", version: 1 });
    expect(lines.filter((l) => l.kind === "user")).toHaveLength(30);
    const file = join(dir, "export.ndjson");
    writeFileSync(file, exported.stdout);
    const other = join(dir, "b.db");
    const imp = await runCli(["users", "import", file, "--store", other, "--json"]);
    expect(imp.code, imp.stderr).toBe(0);
    expect(JSON.parse(imp.stdout)).toMatchObject({ users: 30, replaced: 0 });
    const again = await runCli(["users", "export", "--store", other]);
    // the same users, templates and samples (the header's time aside)
    expect(
      again.stdout
        .split("\n")
        .slice(1)
        .map((l) => l.replace(/"pid":\d+|"population":\d+/g, "")),
    ).toEqual(
      exported.stdout
        .split("\n")
        .slice(1)
        .map((l) => l.replace(/"pid":\d+|"population":\d+/g, "")),
    );

    const del = await users(["delete", String(first), "--json"]);
    expect(JSON.parse(del.stdout)).toEqual({ UserID: first, deleted: true });
    const gone = await users(["show", String(first)]);
    expect(gone.code).toBe(3);
    expect(gone.stderr).toMatch(/not enrolled/);
    const audit = JSON.parse((await users(["audit", String(first), "--json"])).stdout);
    expect(audit.entries.map((e: { action: string }) => e.action)).toEqual(["delete", "enrol"]);
    expect(JSON.parse((await users(["list", "--json"])).stdout).users).toHaveLength(29);
    // several processes each enrol 30 users with the default fusion detector: time on a shared 2-core machine
  }, 180_000);

  it("refuses an empty or too long id, a bad import file and an unknown user, naming them", async () => {
    const long = await users(["show", "u".repeat(257)]);
    expect(long.code).toBe(2);
    expect(long.stderr).toMatch(/at most 256/);
    const bad = join(dir, "bad.ndjson");
    writeFileSync(bad, '{"format":"keystroke-id/identities","version":1}\n{"kind":"user","id":"x"}\n');
    const r = await runCli(["users", "import", bad, "--store", join(dir, "c.db")]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/bad\.ndjson:2/);
    expect((await users(["delete", "nobody"])).code).toBe(3);
    // a missing id is a usage error (exit 2), not a crash; a missing import file is named
    const noId = await users(["show"]);
    expect(noId.code).toBe(2);
    expect(noId.stderr).toMatch(/missing required argument 'id'/);
    const missing = await runCli(["users", "import", join(dir, "nope.ndjson"), "--store", join(dir, "d.db")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/nope\.ndjson: no such file/);
    expect(missing.stderr).not.toMatch(/ENOENT|at .*\.js/);
    expect(existsSync(join(dir, "d.db"))).toBe(false);
    expect(readFileSync(bad, "utf8")).toContain("keystroke-id");
  });
});
