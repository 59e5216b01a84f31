import { describe, expect, it } from "vitest";
import { parseDatasetText, validateSample, type SkippedRow } from "../../src/data/index.js";
import type { KeystrokeError } from "../../src/errors.js";
import { keystrokeFailure } from "../helpers/errors.js";

const WIDE = "press-0,release-0,press-1,release-1,press-2,release-2,UserID\n";
const GOOD = "0,90,150,260,300,380,1\n";

async function rowError(text: string, options = {}): Promise<KeystrokeError> {
  const e = await keystrokeFailure(parseDatasetText(text, { name: "data.csv", ...options }));
  expect(e.code).toBe("BAD_ROW");
  return e;
}

describe("row validation names file, line and column", () => {
  it.each([
    ["a missing time", "0,90,150,,300,380,2\n", "release-1", /missing time/],
    ["a non-numeric time", "0,90,15O,260,300,380,2\n", "press-1", /"15O" is not a number/],
    [
      "a release before its press",
      "0,90,150,140,300,380,2\n",
      "release-1",
      /released \(140\) before it is pressed \(150\)/,
    ],
    [
      "a press earlier than the previous key's press",
      "0,90,150,260,120,380,2\n",
      "press-2",
      /pressed \(120\) before the previous key \(150\)/,
    ],
    ["a missing label", "0,90,150,260,300,380,\n", "UserID", /missing label/],
  ])("%s", async (_what, bad, column, message) => {
    const e = await rowError(WIDE + GOOD + GOOD + bad + GOOD);
    expect(e.place).toEqual({ file: "data.csv", line: 4, column });
    expect(e.message).toMatch(/^data\.csv:4, column \S+: /);
    expect(e.message).toMatch(message);
    expect(e.exitCode).toBe(3);
  });

  it("a row with the wrong number of fields", async () => {
    const e = await rowError(WIDE + GOOD + "0,90,150,260,300,1\n");
    expect(e.place).toMatchObject({ line: 3 });
    expect(e.message).toContain("row has 6 field(s) but the header has 7");
  });

  it("a sample with fewer than 2 keys (events), at the line of its first event", async () => {
    const e = await rowError(
      "user,sample,key,press,release\nann,1,a,0,50\nann,1,b,100,150\nann,2,a,0,50\nbob,1,a,0,40\nbob,1,b,90,130\n",
    );
    expect(e.place).toMatchObject({ line: 4 });
    expect(e.message).toContain("a sample needs at least 2");
  });

  it("samples of different lengths where a fixed-length feature set needs equal ones", async () => {
    const text =
      "user,sample,key,press,release\nann,1,a,0,50\nann,1,b,100,150\nann,2,a,0,50\nann,2,b,90,130\nann,2,c,190,230\n";
    expect((await parseDatasetText(text)).samples).toHaveLength(2);
    const e = await rowError(text, { equalLength: true });
    expect(e.place).toMatchObject({ line: 4 });
    expect(e.message).toContain("sample has 3 keys but the first sample (line 2) has 2");
  });

  it("an event row with a bad time, at its own line and column", async () => {
    const e = await rowError("user,sample,key,press,release\nann,1,a,0,50\nann,1,b,100,x\n");
    expect(e.place).toEqual({ file: "data.csv", line: 3, column: "release" });
  });

  it("events of one sample that are not consecutive", async () => {
    const e = await rowError(
      "user,sample,key,press,release\nann,1,a,0,50\nann,1,b,100,150\nbob,1,a,0,50\nbob,1,b,90,130\nann,1,c,200,250\n",
    );
    expect(e.place).toMatchObject({ line: 6 });
    expect(e.message).toContain("resume here after line 3");
  });

  it("negative hold and press–press times in the derived layout", async () => {
    const head = "subject,H.a,DD.a.b,UD.a.b,H.b\n";
    expect((await rowError(head + "s1,-0.1,0.2,0.3,0.1\n")).place).toMatchObject({ line: 2, column: "H.a" });
    expect((await rowError(head + "s1,0.1,-0.2,-0.3,0.1\n")).place).toMatchObject({
      line: 2,
      column: "DD.a.b",
    });
  });

  it("broken CSV quoting, with the line", async () => {
    const e = await rowError(WIDE + GOOD + '0,90,"150,260,300,380,1\n');
    expect(e.message).toMatch(/not valid CSV/);
    expect(e.place.line).toBeGreaterThanOrEqual(3);
  });
});

describe("--skip-invalid", () => {
  it("drops invalid rows, keeps the rest, and reports each dropped line with its reason", async () => {
    const reported: SkippedRow[] = [];
    const d = await parseDatasetText(
      WIDE + GOOD + "0,90,150,,300,380,2\n" + GOOD + "0,90,150,140,300,380,4\n" + GOOD,
      {
        skipInvalid: true,
        onSkip: (s) => reported.push(s),
      },
    );
    expect(d.samples.map((s) => s.source!.line)).toEqual([2, 4, 6]);
    expect(d.skipped).toEqual([
      { line: 3, column: "release-1", reason: "missing time" },
      { line: 5, column: "release-1", reason: "key 1 is released (140) before it is pressed (150)" },
    ]);
    expect(reported).toEqual(d.skipped);
  });

  it("drops a whole events sample when one of its events is bad", async () => {
    const d = await parseDatasetText(
      "user,sample,key,press,release\nann,1,a,0,50\nann,1,b,100,x\nann,1,c,200,250\nbob,1,a,0,50\nbob,1,b,90,130\nbob,2,a,0,40\n",
      { skipInvalid: true },
    );
    expect(d.samples.map((s) => s.label)).toEqual(["bob"]);
    expect(d.skipped.map((s) => s.line)).toEqual([3, 7]);
  });

  it("drops samples whose length differs from the first when equal lengths are required", async () => {
    const d = await parseDatasetText(
      "user,sample,key,press,release\nann,1,a,0,50\nann,1,b,100,150\nann,2,a,0,50\nann,2,b,90,130\nann,2,c,190,230\nann,3,a,0,50\nann,3,b,90,130\n",
      { skipInvalid: true, equalLength: true },
    );
    expect(d.samples.map((s) => s.session)).toEqual([1, 3]);
    expect(d.skipped).toHaveLength(1);
    expect(d.skipped[0]!.line).toBe(4);
    expect(d.keys).toBe(2);
  });
});

describe("validateSample", () => {
  it("accepts a usable sample, including overlapping keys and equal press times", () => {
    expect(validateSample([0, 100, 100], [150, 120, 180])).toBeUndefined();
  });

  it.each([
    [[0], [10], /at least 2/],
    [[0, 10], [5], /2 press times but 1 release times/],
    [[0, NaN], [5, 20], /press time of key 1 is missing/],
    [[0, 10], [5, 8], /key 1 is released \(8\) before it is pressed \(10\)/],
    [[10, 5], [20, 30], /key 1 is pressed \(5\) before the previous key \(10\)/],
  ])("rejects %j / %j", (press, release, message) => {
    expect(validateSample(press, release)).toMatch(message);
  });
});
