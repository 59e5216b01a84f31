import { describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ROOT, SHARED_DATA, runCli } from "../helpers/cli.js";

const FIRST_ROW = resolve(ROOT, "test/data/fixtures/first-row-user73.csv");

describe("keystroke-id features (built binary)", () => {
  it("reads piped stdin and prints one parseable JSON document", async () => {
    const r = await runCli(["features", "--output", "json"], { stdin: readFileSync(FIRST_ROW, "utf8") });
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as Array<Record<string, number>>;
    expect(doc).toHaveLength(1);
    expect(doc[0]!.UserID).toBe(73);
    expect(doc[0]!["HT.Mean"]).toBeCloseTo(148.230769, 5);
    expect(doc[0]!["RPT.STD"]).toBeCloseTo(87.541419, 5);
    expect(r.stderr).toBe("");
  });

  it("reads each fixture layout", async () => {
    for (const [name, label, rows] of [
      ["wide-train.csv", "UserID", 300],
      ["wide-test.csv", "user", 90],
      ["cmu-small.csv", "subject", 32],
      ["events.csv", "user", 12],
    ] as const) {
      const r = await runCli(["features", `fixtures/${name}`, "--set", "timings", "--output", "ndjson"]);
      expect(r.code, r.stderr).toBe(0);
      const lines = r.stdout.trim().split("\n");
      expect(lines).toHaveLength(rows);
      expect(Object.keys(JSON.parse(lines[0]!) as object)[0]).toBe(label);
    }
  });

  it("stops on a bad row with the input exit code and file:line, column", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kid-e2e-"));
    try {
      const file = join(dir, "bad.csv");
      const out = join(dir, "out.csv");
      writeFileSync(file, "press-0,release-0,press-1,release-1,UserID\n0,90,150,260,1\n0,90,150,100,2\n");
      const r = await runCli(["features", file, "-o", out]);
      expect(r.code).toBe(3);
      expect(r.stderr).toContain(
        `error: ${file}:3, column release-1: key 1 is released (100) before it is pressed (150)`,
      );
      expect(r.stdout).toBe("");
      expect(existsSync(out)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("names the layouts on an unrecognised header, and reports a missing file", async () => {
    const header = await runCli(["features"], { stdin: "a,b\n1,2\n" });
    expect(header.code).toBe(3);
    expect(header.stderr).toContain("<stdin>:1: unrecognised header");
    expect(header.stderr).toMatch(/expected one of: wide .*derived.*events/);

    const missing = await runCli(["features", "nope.csv"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("nope.csv: no such file");
  });

  it.skipIf(!existsSync(SHARED_DATA))("extracts all 750 rows of the shared file", async () => {
    const r = await runCli(["features", SHARED_DATA, "--set", "timings"]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines).toHaveLength(751);
    expect(lines[0]!.split(",")).toHaveLength(1 + 13 + 3 * 12);
    expect(lines[1]!.startsWith("73,166,185,96,149,")).toBe(true);
  });
});
