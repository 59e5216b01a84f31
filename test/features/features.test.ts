import { describe, expect, it } from "vitest";
import { resolve } from "node:path";
import { readDataset } from "../../src/data/index.js";
import {
  extractSummary,
  extractTimings,
  intervals,
  meanStd,
  SUMMARY_NAMES,
  timingsNames,
} from "../../src/features/index.js";
import { ROOT } from "../helpers/cli.js";

const FIRST_ROW = resolve(ROOT, "test/data/fixtures/first-row-user73.csv");

describe("feature math by hand", () => {
  // press 0, 100, 250; release 80, 220, 300
  const sample = { press: [0, 100, 250], release: [80, 220, 300] };

  it("computes the four interval series of consecutive keys", () => {
    expect(intervals(sample)).toEqual({
      HT: [80, 120, 50],
      PPT: [100, 150],
      RRT: [140, 80],
      RPT: [20, 30],
    });
  });

  it("uses the population standard deviation", () => {
    // values 2, 4, 4, 4, 5, 5, 7, 9: mean 5, population std exactly 2 (sample std would be 2.138)
    expect(meanStd([2, 4, 4, 4, 5, 5, 7, 9])).toEqual([5, 2]);
  });

  it("summarises as mean and std of HT, PPT, RRT, RPT in contract order", () => {
    const [htM, htS, ppM, ppS, rrM, rrS, rpM, rpS] = extractSummary(sample);
    expect(htM).toBeCloseTo(250 / 3, 12);
    expect(htS).toBeCloseTo(
      Math.sqrt(((80 - 250 / 3) ** 2 + (120 - 250 / 3) ** 2 + (50 - 250 / 3) ** 2) / 3),
      12,
    );
    expect([ppM, ppS, rrM, rrS, rpM, rpS]).toEqual([125, 25, 110, 30, 25, 5]);
    expect(SUMMARY_NAMES).toEqual([
      "HT.Mean",
      "HT.STD",
      "PPT.Mean",
      "PPT.STD",
      "RRT.Mean",
      "RRT.STD",
      "RPT.Mean",
      "RPT.STD",
    ]);
  });

  it("lays the timings vector out as HT per key, then PPT, RRT, RPT per pair", () => {
    expect(extractTimings(sample)).toEqual([80, 120, 50, 100, 150, 140, 80, 20, 30]);
    expect(timingsNames(3, ["a", "b", "c"])).toEqual([
      "HT.0.a",
      "HT.1.b",
      "HT.2.c",
      "PPT.0.a.b",
      "PPT.1.b.c",
      "RRT.0.a.b",
      "RRT.1.b.c",
      "RPT.0.a.b",
      "RPT.1.b.c",
    ]);
  });
});

describe("reference values of the shared file's first row (UserID 73)", () => {
  it("reads the row and reproduces the published features", async () => {
    const data = await readDataset(FIRST_ROW);
    expect(data.samples).toHaveLength(1);
    const s = data.samples[0]!;
    expect(s.label).toBe(73);
    const summary = extractSummary(s);
    const expected = [148.230769, 42.863206, 152.583333, 62.335729, 155.75, 71.092809, 9.0, 87.541419];
    summary.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 5));
    const iv = intervals(s);
    expect(iv.HT).toEqual([166, 185, 96, 149, 88, 114, 119, 100, 133, 156, 229, 188, 204]);
    expect(iv.RPT).toEqual([-80, -71, 68, 151, 160, 71, -12, 64, -28, -27, -95, -93]);
  });
});
