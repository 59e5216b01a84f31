import { describe, expect, it } from "vitest";
import { plainProgress, formatSeconds } from "../../src/ui/progress.js";
import { applyTrainEvent } from "../../src/ui/train-progress.js";
import { fitColumns, renderTable } from "../../src/ui/table.js";
import { snakeCase, wireJson } from "../../src/ui/json.js";

describe("progress for a log", () => {
  it("prints one line per model at most every interval, plus its last, with an ETA", () => {
    let t = 0;
    const lines: string[] = [];
    const p = plainProgress((l) => lines.push(l), { everyMs: 2000, now: () => t });
    for (let done = 1; done <= 100; done++) {
      t = done * 100; // a tree every 100 ms
      p.update({ algorithm: "RF", featureSet: "timings", phase: "trees", done, total: 100 });
    }
    // first event, then every 2 s (20 trees), then the finish
    expect(lines.length).toBeGreaterThanOrEqual(5);
    expect(lines.length).toBeLessThanOrEqual(7);
    expect(lines[0]).toBe("RF timings: 1/100 trees, 0.0 s");
    // at tree 21: 2.0 s for 20 trees since the first → 79 trees left ≈ 7.9 s
    expect(lines[1]).toBe("RF timings: 21/100 trees, 2.0 s, ETA 7.9 s");
    expect(lines.at(-1)).toBe("RF timings: 100/100 trees, done in 9.9 s");
  });

  it("keeps each model's own clock", () => {
    let list = applyTrainEvent(
      [],
      { algorithm: "RF", featureSet: "timings", phase: "trees", done: 1, total: 4 },
      0,
    );
    list = applyTrainEvent(
      list,
      { algorithm: "XGB", featureSet: "timings", phase: "rounds", done: 1, total: 2 },
      1000,
    );
    list = applyTrainEvent(
      list,
      { algorithm: "RF", featureSet: "timings", phase: "trees", done: 2, total: 4 },
      1000,
    );
    // 1 tree in the 1 s since the first event, 2 to go
    expect(list.find((m) => m.key === "RF/timings")).toMatchObject({ elapsedS: 1, etaS: 2 });
    expect(list.find((m) => m.key === "XGB/timings")).toMatchObject({ elapsedS: 0, etaS: null });
    expect(formatSeconds(75)).toBe("1 m 15 s");
  });
});

describe("tables fit the terminal", () => {
  it("drops columns in the given order until the table fits, and says which", () => {
    const head = ["model", "accuracy", "most wrong users"];
    const rows = [["RF", "85.1%", "a (10.0%), b (20.0%), c (30.0%)"]];
    expect(fitColumns(head, rows, 200, [2])).toEqual([0, 1, 2]);
    expect(fitColumns(head, rows, 30, [2])).toEqual([0, 1]);
    const text = renderTable(head, rows, { isTTY: false } as NodeJS.WriteStream, {
      maxWidth: 30,
      dropOrder: [2],
    });
    for (const line of text.split("\n").slice(0, -1)) expect(line.length).toBeLessThanOrEqual(30);
    expect(text).toContain("not shown: most wrong users");
  });

  it("rounds numbers for people", () => {
    expect(renderTable(["x"], [[0.123456789], [12.3456]], { isTTY: false } as NodeJS.WriteStream)).toMatch(
      /0\.123[\s\S]*12\.35/,
    );
  });
});

describe("wire names", () => {
  it("snake_cases added names, keeps the contract's, renames the agreed concepts, leaves data keys alone", () => {
    expect(snakeCase("balancedAccuracy")).toBe("balanced_accuracy");
    expect(snakeCase("UserID")).toBe("UserID");
    const doc = wireJson({
      algorithm: "RF",
      featureSet: "timings",
      version: "rf-1",
      macroF1: 0.5,
      perUser: [{ user: "aliceSmith", accuracy: Infinity }],
      users: { aliceSmith: { sampleCount: 3 } },
      detectors: { "manhattan-robust": { zeroMissFar: 0.4 } },
      HT: { Mean: 1, STD: 2 },
    });
    expect(doc).toEqual({
      Model: "RF",
      features: "timings",
      model_version: "rf-1",
      macro_f1: 0.5,
      per_user: [{ UserID: "aliceSmith", accuracy: null }],
      users: { aliceSmith: { sample_count: 3 } },
      detectors: { "manhattan-robust": { zero_miss_far: 0.4 } },
      HT: { Mean: 1, STD: 2 },
    });
  });
});
