import { describe, expect, it } from "vitest";
import { mkdtempSync, readdirSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { csvCell, formatValue, writeFeatureTable, type FeatureTableOptions } from "../../src/data/index.js";
import { createAtomicFile } from "../../src/util/fs.js";
import { extractTimings, timingsNames } from "../../src/features/index.js";
import { ROOT } from "../helpers/cli.js";

const FIRST_ROW = resolve(ROOT, "test/data/fixtures/first-row-user73.csv");

async function table(input: string | NodeJS.ReadableStream, options: FeatureTableOptions) {
  const out = new PassThrough();
  let text = "";
  out.on("data", (d) => (text += d));
  const result = await writeFeatureTable(input, out, options);
  return { text, result };
}

describe("writeFeatureTable", () => {
  it("writes summary features as csv with the label column first, named as in the input", async () => {
    const { text, result } = await table(FIRST_ROW, { set: "summary", format: "csv" });
    const [head, row, rest] = text.split("\n");
    expect(head).toBe("UserID,HT.Mean,HT.STD,PPT.Mean,PPT.STD,RRT.Mean,RRT.STD,RPT.Mean,RPT.STD");
    const v = row!.split(",").map(Number);
    expect(v[0]).toBe(73);
    [148.230769, 42.863206, 152.583333, 62.335729, 155.75, 71.092809, 9.0, 87.541419].forEach((x, i) =>
      expect(v[i + 1]).toBeCloseTo(x, 5),
    );
    expect(rest).toBe("");
    expect(result).toMatchObject({ rows: 1, skipped: 0 });
  });

  it("writes timings as one JSON array document and as NDJSON, one object per line", async () => {
    const json = await table(FIRST_ROW, { set: "timings", format: "json" });
    const doc = JSON.parse(json.text) as Array<Record<string, number>>;
    expect(doc).toHaveLength(1);
    expect(Object.keys(doc[0]!)).toEqual(["UserID", ...timingsNames(13)]);
    expect(doc[0]!["HT.0"]).toBe(166);
    expect(doc[0]!["RPT.11"]).toBe(-93);

    const nd = await table(FIRST_ROW, { set: "timings", format: "ndjson" });
    const lines = nd.text.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toEqual(doc[0]);
  });

  it("names timings columns by key when the layout has key names", async () => {
    const input = Readable.from(["subject,H.a,DD.a.b,UD.a.b,H.b\ns1,0.1,0.25,0.15,0.08\n"]);
    const { text } = await table(input, { set: "timings", format: "csv" });
    expect(text).toBe("subject,HT.0.a,HT.1.b,PPT.0.a.b,RRT.0.a.b,RPT.0.a.b\ns1,100,80,250,230,150\n");
  });

  it("fixes the timings length by the first sample and names the line of one that differs", async () => {
    const ev =
      "user,sample,key,press,release\nann,1,a,0,50\nann,1,b,100,150\nann,2,a,0,50\nann,2,b,90,130\nann,2,c,190,230\n";
    await expect(
      table(Readable.from([ev]), { set: "timings", format: "csv", name: "ev.csv" }),
    ).rejects.toThrow(/ev\.csv:4: sample has 3 keys/);
    const skipped = await table(Readable.from([ev]), { set: "timings", format: "csv", skipInvalid: true });
    expect(skipped.result).toMatchObject({ rows: 1, skipped: 1 });
    // summary does not need equal lengths
    expect((await table(Readable.from([ev]), { set: "summary", format: "csv" })).result.rows).toBe(2);
  });

  it("writes well-formed empty output for a header with no rows", async () => {
    const json = await table(Readable.from(["press-0,release-0,press-1,release-1,user\n"]), {
      set: "summary",
      format: "json",
    });
    expect(JSON.parse(json.text)).toEqual([]);
    const csv = await table(Readable.from(["press-0,release-0,press-1,release-1\n"]), {
      set: "timings",
      format: "csv",
    });
    expect(csv.text).toBe("HT.0,HT.1,PPT.0,RRT.0,RPT.0\n");
  });

  it("matches extractTimings on every row of a fixture, label by label", async () => {
    const { text } = await table(resolve(ROOT, "fixtures/wide-test.csv"), {
      set: "timings",
      format: "ndjson",
    });
    const rows = text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, number>);
    expect(rows).toHaveLength(90);
    const cells = readFileSync(resolve(ROOT, "fixtures/wide-test.csv"), "utf8")
      .trim()
      .split("\n")[1]!
      .split(",")
      .map(Number);
    const press = cells.slice(1).filter((_, i) => i % 2 === 0);
    const release = cells.slice(1).filter((_, i) => i % 2 === 1);
    expect(rows[0]!.user).toBe(cells[0]);
    expect(Object.values(rows[0]!).slice(1)).toEqual(extractTimings({ press, release }));
  });
});

describe("formatting", () => {
  it("strips binary noise of decimal inputs but keeps real digits", () => {
    expect(formatValue(94.30000000000001)).toBe("94.3");
    expect(formatValue(-0.100000000000023)).toBe("-0.1");
    expect(formatValue(148.23076923076923)).toBe("148.230769231");
    expect(formatValue(9)).toBe("9");
  });

  it("quotes csv cells only when needed", () => {
    expect(csvCell("s002")).toBe("s002");
    expect(csvCell('a,"b"')).toBe('"a,""b"""');
    expect(csvCell(73)).toBe("73");
  });
});

describe("createAtomicFile", () => {
  it("shows the file only on commit, and leaves nothing behind on abort", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kid-atomic-"));
    try {
      const ok = await createAtomicFile(join(dir, "out.csv"));
      ok.stream.write("a,b\n");
      expect(existsSync(join(dir, "out.csv"))).toBe(false);
      await ok.commit();
      expect(readFileSync(join(dir, "out.csv"), "utf8")).toBe("a,b\n");

      const failed = await createAtomicFile(join(dir, "other.csv"));
      failed.stream.write("half");
      await failed.abort();
      expect(readdirSync(dir)).toEqual(["out.csv"]);

      await expect(createAtomicFile(join(dir, "missing-dir", "x.csv"))).rejects.toThrow(
        /directory does not exist/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
