import { describe, expect, it } from "vitest";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { featuresCommand } from "../../src/commands/features.js";
import { KeystrokeError } from "../../src/errors.js";
import { SUMMARY_NAMES } from "../../src/features/index.js";
import { ROOT } from "../helpers/cli.js";

const FIRST_ROW = resolve(ROOT, "test/data/fixtures/first-row-user73.csv");

/** Drives `features` in-process with its own stdin/stdout/stderr. */
async function run(args: string[], stdinText?: string, stdinIsTTY = false) {
  const stdin = Object.assign(Readable.from(stdinText === undefined ? [] : [stdinText]), {
    isTTY: stdinIsTTY,
  });
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (d) => (out += d));
  stderr.on("data", (d) => (err += d));
  const cmd = featuresCommand({ stdin, stdout, stderr }).exitOverride();
  let error: unknown;
  try {
    await cmd.parseAsync(args, { from: "user" });
  } catch (e) {
    error = e;
  }
  return { out, err, error };
}

describe("features command (in-process)", () => {
  it("writes csv summary features by default", async () => {
    const r = await run([FIRST_ROW]);
    expect(r.error).toBeUndefined();
    expect(r.out.split("\n")[0]).toBe(["UserID", ...SUMMARY_NAMES].join(","));
    expect(r.out.split("\n")[1]!.startsWith("73,148.230769")).toBe(true);
    expect(r.err).toBe("");
  });

  it("reads stdin for `-` and when the file is omitted with stdin piped", async () => {
    const text = readFileSync(FIRST_ROW, "utf8");
    const dash = await run(["-", "--output", "ndjson"], text);
    const omitted = await run(["--output", "ndjson"], text);
    expect(JSON.parse(dash.out)).toMatchObject({ UserID: 73, "RRT.Mean": 155.75 });
    expect(omitted.out).toBe(dash.out);
  });

  it("asks for input rather than waiting on a terminal", async () => {
    const r = await run([], undefined, true);
    expect(r.error).toBeInstanceOf(KeystrokeError);
    expect((r.error as KeystrokeError).code).toBe("BAD_FLAG");
  });

  it.each([
    [["--set", "both"], "--set"],
    [["--output", "xml"], "--output"],
  ])("rejects %j naming the flag", async (flags, flag) => {
    const r = await run([FIRST_ROW, ...flags]);
    expect(r.error).toBeInstanceOf(KeystrokeError);
    expect((r.error as KeystrokeError).place.flag).toBe(flag);
  });

  it("reports skipped rows on stderr with how many and which lines", async () => {
    const text =
      "press-0,release-0,press-1,release-1,user\n0,90,150,260,1\n0,90,150,x,2\n0,90,150,260,3\n100,190,50,60,4\n";
    const r = await run(["-", "--skip-invalid", "--output", "json"], text);
    expect(r.error).toBeUndefined();
    expect((JSON.parse(r.out) as Array<{ user: number }>).map((o) => o.user)).toEqual([1, 3]);
    expect(r.err).toContain("skipped 2 invalid row(s) of <stdin>: line 3, 5");
    expect(r.err).toContain('line 3, column release-1: "x" is not a number');
  });

  it("writes -o atomically: the file when all went well, nothing at all on failure", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kid-features-"));
    try {
      const good = await run([FIRST_ROW, "-o", join(dir, "ok.csv"), "--set", "timings"]);
      expect(good.error).toBeUndefined();
      expect(good.out).toBe("");
      expect(good.err).toContain("wrote 1 row(s) of timings features");
      expect(readFileSync(join(dir, "ok.csv"), "utf8").split("\n")[0]!.startsWith("UserID,HT.0,HT.1")).toBe(
        true,
      );

      // many good rows first, so some output was already written when the bad row stops the run
      const rows = Array.from({ length: 5000 }, (_, i) => `0,90,150,260,${i}`).join("\n");
      const bad = await run(
        ["-", "-o", join(dir, "bad.csv")],
        `press-0,release-0,press-1,release-1,user\n${rows}\n0,90,oops,260,9\n`,
      );
      expect(bad.error).toBeInstanceOf(KeystrokeError);
      expect((bad.error as KeystrokeError).message).toMatch(/^<stdin>:5002, column press-1/);
      expect(readdirSync(dir)).toEqual(["ok.csv"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
