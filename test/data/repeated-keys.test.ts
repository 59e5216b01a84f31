import { describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { parseDatasetText, readDataset } from "../../src/data/index.js";
import { extractTimings } from "../../src/features/index.js";
import { KeystrokeError } from "../../src/errors.js";
import { featuresCommand } from "../../src/commands/features.js";
import { invalidRowPolicy } from "../../src/commands/invalid-rows.js";
import { ROOT } from "../helpers/cli.js";
import { keystrokeFailure } from "../helpers/errors.js";

const IIITBH_SMALL = resolve(ROOT, "..", "shared", "data", "iiitbh-small.csv");
const IIITBH_BIG = resolve(ROOT, "..", "shared", "data", "iiitbh-big.csv");

// "abab": the key a and the pair a.b both repeat, so H.a, H.b, DD.a.b and UD.a.b each appear twice.
const HEADER = "subject,sessionIndex,rep,H.a,DD.a.b,UD.a.b,H.b,DD.b.a,UD.b.a,H.a,DD.a.b,UD.a.b,H.b";
// holds 0.1, 0.2, 0.3, 0.4 s; press–press 0.5, 0.6, 0.7 s (UD = DD − H)
const ROW = "s1,1,1,0.1,0.5,0.4,0.2,0.6,0.4,0.3,0.7,0.4,0.4";

const failure = keystrokeFailure;

describe("derived layout with a repeated key", () => {
  it("reads the columns by position: each occurrence of a key or pair is its own interval", async () => {
    const d = await parseDatasetText(`${HEADER}\n${ROW}\n`);
    expect(d).toMatchObject({ layout: "derived", keys: 4, keyNames: ["a", "b", "a", "b"] });
    const s = d.samples[0]!;
    expect(s.press).toEqual([0, 500, 1100, 1800]);
    expect(s.release).toEqual([100, 700, 1400, 2200]);
    // holds come back in order, not the last H.a twice
    expect(extractTimings(s).slice(0, 4)).toEqual([100, 200, 300, 400]);
  });

  it("checks UD against DD − H of the right occurrence", async () => {
    // the second UD.a.b (0.4) is right only for the second a (hold 0.3, DD 0.7); change the first one
    const bad = ROW.replace("0.1,0.5,0.4", "0.1,0.5,0.3");
    const e = await failure(parseDatasetText(`${HEADER}\n${bad}\n`));
    expect(e.code).toBe("BAD_ROW");
    expect(e.place).toMatchObject({ line: 2, column: "UD.a.b" });
  });

  it("still refuses a repeated column outside the timing columns, and a pair column the text does not make twice", async () => {
    expect((await failure(parseDatasetText("subject,subject,H.a,DD.a.b,H.b\n"))).message).toMatch(
      /"subject" appears twice/,
    );
    const e = await failure(parseDatasetText("subject,H.a,DD.a.b,UD.a.b,H.b,DD.a.b\n"));
    expect(e.message).toMatch(/DD\.a\.b.*appears 2 times/);
  });

  it("skips a row whose UD disagrees with DD − H only when asked, and reports it", async () => {
    const text = `${HEADER}\n${ROW}\n${ROW.replace("0.1,0.5,0.4", "0.1,0.5,0.3")}\n${ROW.replace("s1", "s2")}\n`;
    expect((await failure(parseDatasetText(text))).place.line).toBe(3);
    expect((await failure(parseDatasetText(text, { onInvalid: "error" }))).place.line).toBe(3);
    const skipped: number[] = [];
    const d = await parseDatasetText(text, { onInvalid: "skip", onSkip: (s) => skipped.push(s.line) });
    expect(d.samples.map((s) => s.label)).toEqual(["s1", "s2"]);
    expect(skipped).toEqual([3]);
    expect(d.skipped[0]).toMatchObject({ line: 3, column: "UD.a.b" });
    expect(d.skipped[0]!.reason).toMatch(/UD .* disagrees with DD − H/);
  });
});

describe("--on-invalid", () => {
  it("parses error|skip, takes --skip-invalid as skip, and refuses a contradiction naming the flag", () => {
    expect(invalidRowPolicy({})).toBe("error");
    expect(invalidRowPolicy({ onInvalid: "skip" })).toBe("skip");
    expect(invalidRowPolicy({ skipInvalid: true })).toBe("skip");
    expect(() => invalidRowPolicy({ onInvalid: "drop" })).toThrow(/not one of error, skip/);
    try {
      invalidRowPolicy({ onInvalid: "error", skipInvalid: true });
      expect.unreachable();
    } catch (e) {
      expect((e as KeystrokeError).place.flag).toBe("--skip-invalid");
    }
  });

  it("features --on-invalid skip drops the bad row and reports count, line and why on stderr", async () => {
    const text = `${HEADER}\n${ROW}\n${ROW.replace("0.1,0.5,0.4", "0.1,0.5,0.3")}\n`;
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = "";
    let err = "";
    stdout.on("data", (d) => (out += d));
    stderr.on("data", (d) => (err += d));
    const stdin = Object.assign(Readable.from([text]), { isTTY: false });
    await featuresCommand({ stdin, stdout, stderr })
      .exitOverride()
      .parseAsync(["-", "--on-invalid", "skip", "--format", "json", "--set", "timings"], { from: "user" });
    expect(JSON.parse(out)).toHaveLength(1);
    expect(err).toContain("skipped 1 invalid row(s) of <stdin>: line 3");
    expect(err).toMatch(/line 3, column UD\.a\.b: UD .* disagrees/);
  });
});

describe.skipIf(!existsSync(IIITBH_SMALL) || !existsSync(IIITBH_BIG))("IIITBh (shared data)", () => {
  it("reads iiitbh-big whole, with two a's in the password", async () => {
    const d = await readDataset(IIITBH_BIG, { requireLabel: true });
    expect(d.samples).toHaveLength(1800);
    expect(d.keyNames!.filter((k) => k === "a")).toHaveLength(2);
    expect(new Set(d.samples.map((s) => s.label)).size).toBe(12);
  });

  it("refuses iiitbh-small at line 433 by default, and skips only that row with onInvalid skip", async () => {
    const e = await failure(readDataset(IIITBH_SMALL, { requireLabel: true }));
    expect(e.place.line).toBe(433);
    const d = await readDataset(IIITBH_SMALL, { requireLabel: true, onInvalid: "skip" });
    expect(d.skipped.map((s) => s.line)).toEqual([433]);
    expect(d.samples).toHaveLength(1249);
  });
});
