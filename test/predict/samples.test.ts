import { describe, expect, it } from "vitest";
import type { Sample } from "../../src/data/types.js";
import { KeystrokeError } from "../../src/errors.js";
import { answerColumns, answerSamples, requestAlgorithms, requestShapes } from "../../src/predict/samples.js";

async function* from(samples: Sample[]): AsyncGenerator<Sample> {
  yield* samples;
}

const sample = (line: number, label?: number): Sample => ({
  press: [0, 100],
  release: [50, 160],
  source: { file: "x.csv", line },
  ...(label !== undefined ? { label } : {}),
});

describe("answerSamples", () => {
  it("answers in order with the line and label first, and gives a failing sample an error row instead of stopping", async () => {
    const answer = (v: unknown) => {
      const press = (v as { press: number[] }).press;
      if (press[1] === 999)
        throw new KeystrokeError("BAD_REQUEST", "a time cannot be that", { field: "press[1]" });
      return { UserID: 7 };
    };
    const bad: Sample = { ...sample(3, 2), press: [0, 999] };
    const rows = [];
    for await (const r of answerSamples(from([sample(2, 1), bad, sample(4, 3)]), answer, () => true))
      rows.push(r);
    expect(rows.map((r) => r.failed)).toEqual([false, true, false]);
    expect(Object.keys(rows[0]!.row)).toEqual(["line", "label", "UserID"]);
    expect(rows[0]!.row).toEqual({ line: 2, label: 1, UserID: 7 });
    expect(rows[1]!.row).toMatchObject({ line: 3, label: 2, field: "press[1]" });
    expect(String(rows[1]!.row.error)).toMatch(/cannot be that/);
    expect(rows[2]!.row).toEqual({ line: 4, label: 3, UserID: 7 });
  });

  it("leaves the label out when the file has none", async () => {
    const rows = [];
    for await (const r of answerSamples(
      from([sample(2)]),
      () => ({ UserID: 1 }),
      () => false,
    ))
      rows.push(r.row);
    expect(rows).toEqual([{ line: 2, UserID: 1 }]);
  });
});

describe("answerColumns", () => {
  it("names the file's label column `label` (never a second UserID) and keeps error last", () => {
    const c = answerColumns(false, "UserID");
    expect(c.head[1]).toBe("label");
    expect(c.keys[1]).toBe("label");
    expect(new Set(c.head).size).toBe(c.head.length);
    expect(c.head.at(-1)).toBe("error");
    expect(answerColumns(true).head).toContain("anomaly_score");
    expect(answerColumns(false).head).not.toContain("label");
  });
});

describe("requestShapes / requestAlgorithms", () => {
  it("read what a set of requests needs, so only those models are loaded", () => {
    const input = {
      form: "batch" as const,
      values: [
        { press: [0, 1, 2], release: [1, 2, 3] },
        { HT: {}, Model: "xgb" },
        { keystrokes: [{}, {}] },
        42,
      ],
    };
    expect(requestShapes(input)?.sort()).toEqual([2, 3, "summary"].sort());
    expect(requestAlgorithms(input).sort()).toEqual(["XGB", "best"].sort());
    // a request of no known shape: everything is loaded and validation names the problem
    expect(requestShapes({ form: "single", value: { nothing: true } })).toBeUndefined();
    expect(requestAlgorithms({ form: "single", value: { Model: "GPT" } })).toEqual([]);
  });
});
