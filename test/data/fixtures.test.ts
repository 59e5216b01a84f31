import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { readDataset } from "../../src/data/index.js";
import { extractSummary } from "../../src/features/index.js";
import { ROOT } from "../helpers/cli.js";

const FIXTURES = resolve(ROOT, "fixtures");
const GENERATED = [
  "cmu-small.csv",
  "events.csv",
  "request-keystrokes.json",
  "request-rf.json",
  "request-svm.json",
  "request-timings.json",
  "request-xgb.json",
  "requests.ndjson",
  "wide-test.csv",
  "wide-train.csv",
  "wide-unlabelled.csv",
];

describe("scripts/make-fixtures.mjs", () => {
  it("regenerates byte-identical files (into a temp dir given as argument and through the env var)", () => {
    for (const how of ["arg", "env"] as const) {
      const dir = mkdtempSync(join(tmpdir(), "kid-fixtures-"));
      try {
        const r = spawnSync(
          process.execPath,
          [resolve(ROOT, "scripts/make-fixtures.mjs"), ...(how === "arg" ? [dir] : [])],
          {
            env: { ...process.env, ...(how === "env" ? { KEYSTROKE_FIXTURES_DIR: dir } : {}) },
            encoding: "utf8",
          },
        );
        expect(r.status, r.stderr).toBe(0);
        expect(readdirSync(dir).sort()).toEqual(GENERATED);
        for (const name of GENERATED)
          expect(readFileSync(join(dir, name)), name).toEqual(readFileSync(join(FIXTURES, name)));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  it("makes 30 users × 10 training samples with key overlaps (negative RPT)", async () => {
    const d = await readDataset(join(FIXTURES, "wide-train.csv"));
    expect(d.labelColumn).toBe("UserID");
    expect(d.samples).toHaveLength(300);
    const perUser = new Map<unknown, number>();
    for (const s of d.samples) perUser.set(s.label, (perUser.get(s.label) ?? 0) + 1);
    expect(perUser.size).toBe(30);
    expect([...perUser.values()].every((n) => n === 10)).toBe(true);
    const overlaps = d.samples.filter((s) => s.press.some((p, i) => i > 0 && p < s.release[i - 1]!)).length;
    expect(overlaps).toBeGreaterThan(10);
    expect(overlaps).toBeLessThan(300);
  });

  it("writes requests whose summary matches the features of the timings they came from", () => {
    const timings = JSON.parse(readFileSync(join(FIXTURES, "request-timings.json"), "utf8")) as {
      press: number[];
      release: number[];
    };
    const keystrokes = JSON.parse(readFileSync(join(FIXTURES, "request-keystrokes.json"), "utf8")) as {
      keystrokes: Array<{ key: string; press: number; release: number }>;
    };
    expect(keystrokes.keystrokes.map((k) => k.press)).toEqual(timings.press);
    expect(timings.press).toHaveLength(13);
    const summary = extractSummary(timings);
    for (const model of ["rf", "svm", "xgb"]) {
      const req = JSON.parse(readFileSync(join(FIXTURES, `request-${model}.json`), "utf8")) as Record<
        string,
        { Mean: number; STD: number }
      > & { Model: string };
      expect(req.Model).toBe(model.toUpperCase());
      ["HT", "PPT", "RRT", "RPT"].forEach((k, i) => {
        expect(req[k]!.Mean).toBeCloseTo(summary[2 * i]!, 5);
        expect(req[k]!.STD).toBeCloseTo(summary[2 * i + 1]!, 5);
      });
    }
    const lines = readFileSync(join(FIXTURES, "requests.ndjson"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.some((l) => "HT" in l)).toBe(true);
    expect(lines.some((l) => "press" in l)).toBe(true);
    expect(lines.some((l) => "keystrokes" in l)).toBe(true);
  });
});
