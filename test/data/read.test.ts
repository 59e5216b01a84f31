import { describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { Readable } from "node:stream";
import {
  parseDatasetText,
  parseLabel,
  readDataset,
  readSamples,
  type DatasetHeader,
} from "../../src/data/index.js";
import { intervals } from "../../src/features/index.js";
import { ROOT, SHARED_DATA } from "../helpers/cli.js";
import { keystrokeFailure } from "../helpers/errors.js";

const fixture = (name: string) => resolve(ROOT, "fixtures", name);

const failure = keystrokeFailure;

describe("wide layout", () => {
  it("reads a label column anywhere, named UserID, user or subject in any case", async () => {
    const last = await parseDatasetText("press-0,release-0,press-1,release-1,UserID\n0,90,150,260,7\n");
    expect(last.layout).toBe("wide");
    expect(last.labelColumn).toBe("UserID");
    expect(last.samples[0]).toMatchObject({
      label: 7,
      press: [0, 150],
      release: [90, 260],
      source: { file: "<text>", line: 2 },
    });

    const middle = await parseDatasetText("press-0,release-0,SUBJECT,press-1,release-1\n0,90,ann,150,260\n");
    expect(middle.labelColumn).toBe("SUBJECT");
    expect(middle.samples[0]).toMatchObject({ label: "ann", press: [0, 150], release: [90, 260] });
  });

  it("takes press-i/release-i by number, not by position", async () => {
    const d = await parseDatasetText("release-1,press-1,release-0,press-0\n260,150,90,0\n");
    expect(d.samples[0]).toMatchObject({ press: [0, 150], release: [90, 260] });
    expect(d.labelled).toBe(false);
  });

  it("reads the label-first `user` fixture", async () => {
    const d = await readDataset(fixture("wide-test.csv"));
    expect(d).toMatchObject({ layout: "wide", labelColumn: "user", keys: 13, labelled: true });
    expect(d.samples).toHaveLength(90);
    expect(new Set(d.samples.map((s) => s.label)).size).toBe(30);
    expect(d.samples.every((s) => typeof s.label === "number")).toBe(true);
    expect(d.samples[4]!.source).toEqual({ file: fixture("wide-test.csv"), line: 6 });
  });

  it("reads unlabelled files (for prediction) but refuses them where a label is required", async () => {
    const d = await readDataset(fixture("wide-unlabelled.csv"));
    expect(d.labelled).toBe(false);
    expect(d.labelColumn).toBeUndefined();
    expect(d.samples.length).toBeGreaterThan(0);
    expect(d.samples.every((s) => s.label === undefined && s.press.length === 13)).toBe(true);

    const e = await failure(readDataset(fixture("wide-unlabelled.csv"), { requireLabel: true }));
    expect(e.code).toBe("BAD_HEADER");
    expect(e.message).toContain("wide-unlabelled.csv:1");
    expect(e.message).toMatch(/no label column \(UserID, user, subject/);
  });

  it("names the columns a wide header lacks", async () => {
    const e = await failure(parseDatasetText("press-0,release-0,press-1,press-2,release-2\n"));
    expect(e.code).toBe("BAD_HEADER");
    expect(e.message).toContain("release-1");
  });

  it.skipIf(!existsSync(SHARED_DATA))("reads the shared challenge file (label last, UserID)", async () => {
    const d = await readDataset(SHARED_DATA);
    expect(d).toMatchObject({ layout: "wide", labelColumn: "UserID", keys: 13 });
    expect(d.samples).toHaveLength(750);
    expect(new Set(d.samples.map((s) => s.label)).size).toBe(110);
    expect(d.samples[0]!.label).toBe(73);
    expect(d.samples[749]!.source!.line).toBe(751);
  });
});

describe("derived layout (CMU benchmark)", () => {
  // H.a 0.1 s, DD.a.b 0.25, H.b 0.08, DD.b.Shift.r 0.2, H.Shift.r 0.09 (a key name holding a dot)
  const text =
    "subject,sessionIndex,rep,H.a,DD.a.b,UD.a.b,H.b,DD.b.Shift.r,UD.b.Shift.r,H.Shift.r\n" +
    "s002,1,3,0.1000,0.2500,0.1500,0.0800,0.2000,0.1200,0.0900\n";

  it("converts seconds of H, DD, UD into press/release milliseconds with key names", async () => {
    const d = await parseDatasetText(text);
    expect(d).toMatchObject({
      layout: "derived",
      labelColumn: "subject",
      keys: 3,
      keyNames: ["a", "b", "Shift.r"],
    });
    const s = d.samples[0]!;
    expect(s).toMatchObject({ label: "s002", session: 1, rep: 3, keys: ["a", "b", "Shift.r"] });
    expect(s.press).toEqual([0, 250, 450]);
    expect(s.release).toEqual([100, 330, 540]);
    // RR = DD + H_next − H_this: 0.25 + 0.08 − 0.1 = 0.23 s
    expect(intervals(s).RRT[0]).toBeCloseTo(230, 9);
    expect(intervals(s).RPT).toEqual([150, 120]);
  });

  it("reads the CMU-style fixture with its eleven keys", async () => {
    const d = await readDataset(fixture("cmu-small.csv"));
    expect(d.keyNames).toEqual(["period", "t", "i", "e", "five", "Shift.r", "o", "a", "n", "l", "Return"]);
    expect(d.samples).toHaveLength(32);
    expect(new Set(d.samples.map((s) => s.label))).toEqual(new Set(["s002", "s003", "s004", "s005"]));
  });

  it("rejects UD that disagrees with DD − H, naming the column", async () => {
    const bad = text.replace("0.1500", "0.1900");
    const e = await failure(parseDatasetText(bad));
    expect(e.code).toBe("BAD_ROW");
    expect(e.place).toMatchObject({ file: "<text>", line: 2, column: "UD.a.b" });
  });

  it("names a missing DD column", async () => {
    const e = await failure(parseDatasetText("H.a,H.b,UD.a.b\n0.1,0.1,0.1\n"));
    expect(e.code).toBe("BAD_HEADER");
    expect(e.message).toContain("DD.a.b");
  });
});

describe("events layout", () => {
  it("groups rows by (user, sample), orders them by press, and keeps the first event's line", async () => {
    const d = await parseDatasetText(
      "user,session,key,press,release\n" +
        "ann,1,h,1000,1090\n" +
        "ann,1,i,1150,1200\n" +
        "ann,1,Space,1100,1180\n" +
        "bob,1,h,50,120\n" +
        "bob,1,i,160,230\n",
      { name: "ev.csv" },
    );
    expect(d.layout).toBe("events");
    expect(d.samples).toHaveLength(2);
    expect(d.samples[0]).toMatchObject({
      label: "ann",
      session: 1,
      keys: ["h", "Space", "i"],
      press: [1000, 1100, 1150],
      release: [1090, 1180, 1200],
    });
    expect(d.samples[0]!.source).toEqual({ file: "ev.csv", line: 2 });
    expect(d.samples[1]!.source!.line).toBe(5);
    expect(d.keys).toBeUndefined();
  });

  it("reads the events fixture: 3 users × 4 samples of 13 keys, rows written at key-up", async () => {
    const d = await readDataset(fixture("events.csv"));
    expect(d.samples).toHaveLength(12);
    expect(d.keys).toBe(13);
    expect(d.keyNames).toEqual(["t", "h", "e", "Space", "q", "u", "i", "c", "k", "Space", "f", "o", "x"]);
    for (const s of d.samples) expect(s.press.every((p, i) => i === 0 || p >= s.press[i - 1]!)).toBe(true);
  });
});

describe("headers and input", () => {
  it("names the layouts and their columns when the header is not recognised", async () => {
    const e = await failure(parseDatasetText("a,b,c\n1,2,3\n", { name: "odd.csv" }));
    expect(e.code).toBe("BAD_HEADER");
    expect(e.exitCode).toBe(3);
    expect(e.message).toContain("odd.csv:1");
    expect(e.message).toMatch(/wide \(press-0,release-0/);
    expect(e.message).toMatch(/derived.*H\.<key>,DD\.<key>\.<next>/);
    expect(e.message).toMatch(/events \(user,sample,key,press,release/);
  });

  it("reports an empty input and a missing file", async () => {
    expect((await failure(parseDatasetText(""))).code).toBe("BAD_HEADER");
    const e = await failure(readDataset(resolve(ROOT, "no-such-file.csv")));
    expect(e.code).toBe("IO");
    expect(e.message).toContain("no such file");
  });

  it("streams: the header arrives before the first sample, and samples come one at a time", async () => {
    const seen: string[] = [];
    let header: DatasetHeader | undefined;
    const input = Readable.from([
      "press-0,release-0,press-1,release-1,user\n0,1",
      "0,20,30,1\n0,10,20,30,2\n",
      "0,10,20,30,3\n",
    ]);
    for await (const s of readSamples(input, { onHeader: (h) => ((header = h), seen.push("header")) })) {
      seen.push(`sample ${s.label}`);
      if (s.label === 2) break;
    }
    expect(seen).toEqual(["header", "sample 1", "sample 2"]);
    expect(header).toEqual({ layout: "wide", keys: 2, labelColumn: "user" });
    expect(input.destroyed).toBe(true);
  });

  it("skips blank lines while keeping physical line numbers, and accepts a BOM and CRLF", async () => {
    const d = await parseDatasetText("\uFEFFpress-0,release-0,press-1,release-1\r\n\r\n0,10,20,30\r\n");
    expect(d.samples[0]!.source!.line).toBe(3);
    expect(d.samples[0]!.release).toEqual([10, 30]);
  });

  it("switches to full CSV parsing at the first quote, keeping physical line numbers", async () => {
    const chunks = [
      "press-0,release-0,press-1,release-1,user\n0,10,20,30,1\n\n",
      '0,10,20,30,"Doe, ""J""\nr"\n0,10,20,30,3\n0,10,20,x,4\n',
    ];
    const seen: Array<[unknown, number]> = [];
    const e = await failure(
      (async () => {
        for await (const s of readSamples(Readable.from(chunks), { name: "q.csv" }))
          seen.push([s.label, s.source!.line]);
      })(),
    );
    expect(seen).toEqual([
      [1, 2],
      ['Doe, "J"\nr', 5],
      [3, 6],
    ]);
    expect(e.place).toMatchObject({ file: "q.csv", line: 7, column: "release-1" });
  });

  it("keeps labels in their own form: plain numbers become numbers, other text stays text", () => {
    expect(parseLabel("73")).toBe(73);
    expect(parseLabel(" 2.5 ")).toBe(2.5);
    expect(parseLabel("073")).toBe("073");
    expect(parseLabel("s002")).toBe("s002");
  });
});
