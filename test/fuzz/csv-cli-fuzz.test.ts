import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CommanderError } from "commander";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { buildProgram, reportError } from "../../src/cli.js";
import { isKeystrokeError } from "../../src/errors.js";
import { runBin, STACK_LINE } from "../faults/helpers.js";
import { syntheticCsv } from "../server/trained.js";

// Randomly corrupted CSV files through the commands themselves (features, train, evaluate), in-process:
// each either succeeds, or fails with a KeystrokeError whose message names the file (and line where
// there is one) and no stack trace. Any other error is a bug in the reader or a command.

const RUNS = Number(process.env.CSV_FUZZ_RUNS ?? 300);
const SEED = Number(process.env.CSV_FUZZ_SEED ?? 4242);
const BASE = syntheticCsv(3, 6, 11);

type Corruption =
  | { op: "delete"; at: number; n: number }
  | { op: "duplicate"; at: number; n: number }
  | { op: "swap"; a: number; b: number }
  | { op: "cut-line"; line: number; at: number }
  | { op: "insert"; at: number; text: string }
  | { op: "cell"; line: number; col: number; text: string }
  | { op: "extra-column"; line: number }
  | { op: "missing-column"; line: number }
  | { op: "bom" }
  | { op: "crlf"; line: number }
  | { op: "empty" }
  | { op: "header-only" };

const NASTY = [
  '"',
  '""',
  '"a,b"',
  "\u0000",
  "1e309",
  "-1e309",
  "1e300",
  "9".repeat(400),
  "NaN",
  "Infinity",
  "abc",
  "",
  " ",
  "-5",
  "0x1F",
  "\ufeff",
  "\r",
  "\n",
  ",,",
  "😀",
  "__proto__",
];

const corruption: fc.Arbitrary<Corruption> = fc.oneof(
  fc.record({ op: fc.constant("delete" as const), at: fc.nat(), n: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ op: fc.constant("duplicate" as const), at: fc.nat(), n: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ op: fc.constant("swap" as const), a: fc.nat(), b: fc.nat() }),
  fc.record({ op: fc.constant("cut-line" as const), line: fc.nat(), at: fc.nat() }),
  fc.record({
    op: fc.constant("insert" as const),
    at: fc.nat(),
    text: fc.oneof(fc.constantFrom(...NASTY), fc.string({ maxLength: 4 })),
  }),
  fc.record({
    op: fc.constant("cell" as const),
    line: fc.nat(),
    col: fc.nat(),
    text: fc.constantFrom(...NASTY),
  }),
  fc.record({ op: fc.constant("extra-column" as const), line: fc.nat() }),
  fc.record({ op: fc.constant("missing-column" as const), line: fc.nat() }),
  fc.constant({ op: "bom" as const }),
  fc.record({ op: fc.constant("crlf" as const), line: fc.nat() }),
  fc.constant({ op: "empty" as const }),
  fc.constant({ op: "header-only" as const }),
);

function corrupt(text: string, cs: readonly Corruption[]): Buffer {
  let b = Buffer.from(text);
  const at = (i: number) => i % (b.length + 1);
  for (const c of cs) {
    const lines = b.toString("latin1").split("\n");
    const L = (i: number) => i % Math.max(1, lines.length);
    const fromLines = () => Buffer.from(lines.join("\n"), "latin1");
    switch (c.op) {
      case "delete":
        b = Buffer.concat([b.subarray(0, at(c.at)), b.subarray(at(c.at) + c.n)]);
        break;
      case "duplicate":
        b = Buffer.concat([b.subarray(0, at(c.at) + c.n), b.subarray(at(c.at))]);
        break;
      case "swap": {
        if (b.length === 0) break;
        const [i, j] = [c.a % b.length, c.b % b.length];
        [b[i], b[j]] = [b[j]!, b[i]!];
        break;
      }
      case "cut-line": {
        const line = lines[L(c.line)] ?? "";
        lines[L(c.line)] = line.slice(0, c.at % (line.length + 1));
        b = fromLines();
        break;
      }
      case "insert":
        b = Buffer.concat([b.subarray(0, at(c.at)), Buffer.from(c.text), b.subarray(at(c.at))]);
        break;
      case "cell": {
        const cells = (lines[L(c.line)] ?? "").split(",");
        cells[c.col % cells.length] = Buffer.from(c.text).toString("latin1");
        lines[L(c.line)] = cells.join(",");
        b = fromLines();
        break;
      }
      case "extra-column":
        lines[L(c.line)] += ",7";
        b = fromLines();
        break;
      case "missing-column":
        lines[L(c.line)] = (lines[L(c.line)] ?? "").replace(/,[^,]*$/, "");
        b = fromLines();
        break;
      case "bom":
        b = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), b]);
        break;
      case "crlf":
        lines[L(c.line)] += "\r";
        b = fromLines();
        break;
      case "empty":
        b = Buffer.alloc(0);
        break;
      case "header-only":
        b = Buffer.from((lines[0] ?? "") + "\n", "latin1");
        break;
    }
  }
  return b;
}

let root: string;
let models: string;
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "kid-csvfuzz-"));
  const clean = join(root, "clean.csv");
  writeFileSync(clean, BASE);
  models = join(root, "models");
  const r = await runCli([
    "train",
    clean,
    "--model",
    "rf",
    "--models-dir",
    models,
    "--holdout",
    "0",
    "--workers",
    "0",
    "--json",
  ]);
  expect(r.code, r.stderr).toBe(0);
}, 60_000);
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

/** Runs the CLI in-process (as main does) and returns the exit code, stderr and any unexpected error. */
async function runCli(argv: string[]): Promise<{ code: number; stderr: string; unexpected?: unknown }> {
  let stderr = "";
  const out = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
  const err = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  let code: number;
  let unexpected: unknown;
  try {
    await buildProgram().parseAsync(["node", "keystroke-id", ...argv]);
    code = typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (e) {
    if (!isKeystrokeError(e) && !(e instanceof CommanderError)) unexpected = e;
    code = reportError(e);
  } finally {
    out.mockRestore();
    err.mockRestore();
    process.exitCode = undefined;
  }
  return { code, stderr, unexpected };
}

const COMMANDS = {
  features: (file: string) => ["features", file, "--set", "timings"],
  train: (file: string) => [
    "train",
    file,
    "--model",
    "rf",
    "--models-dir",
    join(root, "fuzz-models"),
    "--holdout",
    "0",
    "--workers",
    "0",
    "--json",
  ],
  evaluate: (file: string) => ["evaluate", file, "--models-dir", models, "--model", "rf", "--json"],
  enroll: (file: string) => ["enroll", file, "--models-dir", join(root, "enroll-models"), "--json"],
} as const;

describe(`corrupted CSV through the CLI (${RUNS} cases, seed ${SEED})`, () => {
  it("every command either succeeds or exits non-zero with a message naming the file and no stack trace", async () => {
    const tally = {
      cases: 0,
      ok: 0,
      refused: 0,
      byCommand: { features: 0, train: 0, evaluate: 0, enroll: 0 },
    };
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(corruption, { minLength: 1, maxLength: 3 }),
        fc.constantFrom(...(Object.keys(COMMANDS) as Array<keyof typeof COMMANDS>)),
        async (cs, command) => {
          const file = join(root, `case-${n++}.csv`);
          writeFileSync(file, corrupt(BASE, cs));
          const r = await runCli(COMMANDS[command](file));
          tally.cases++;
          tally.byCommand[command]++;
          expect(
            r.unexpected,
            `not a KeystrokeError: ${String((r.unexpected as Error | undefined)?.stack)}`,
          ).toBeUndefined();
          expect(r.stderr).not.toMatch(STACK_LINE);
          if (r.code === 0) {
            tally.ok++;
            return;
          }
          tally.refused++;
          expect(r.stderr).toMatch(/^error: /m);
          expect(r.stderr, r.stderr).toContain(file);
        },
      ),
      { numRuns: RUNS, seed: SEED },
    );
    console.log(
      `csv cli fuzz: ${tally.cases} corrupted files (features ${tally.byCommand.features}, train ${tally.byCommand.train}, evaluate ${tally.byCommand.evaluate}, enroll ${tally.byCommand.enroll}): ${tally.ok} accepted, ${tally.refused} refused with a message naming the file`,
    );
    expect(tally.refused).toBeGreaterThan(0);
    expect(tally.ok).toBeGreaterThan(0);
  }, 240_000);

  it("the real binary prints no stack trace for a handful of them", async () => {
    const samples = fc.sample(fc.array(corruption, { minLength: 1, maxLength: 3 }), {
      numRuns: 6,
      seed: SEED + 1,
    });
    const cmds = Object.values(COMMANDS);
    let refused = 0;
    for (const [i, cs] of samples.entries()) {
      const file = join(root, `spawned-${i}.csv`);
      writeFileSync(file, corrupt(BASE, cs));
      const r = await runBin(cmds[i % cmds.length]!(file));
      expect(r.stderr).not.toMatch(STACK_LINE);
      if (r.code !== 0) {
        refused++;
        expect(r.stderr).toContain(file);
      }
    }
    // a header-only file: features writes an empty table; train and enroll refuse it, naming the file
    const headerOnly = join(root, "header-only.csv");
    writeFileSync(headerOnly, BASE.split("\n")[0] + "\n");
    for (const cmd of [COMMANDS.train, COMMANDS.enroll]) {
      const r = await runBin(cmd(headerOnly));
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain(headerOnly);
      expect(r.stderr).not.toMatch(STACK_LINE);
    }
    console.log(
      `csv cli fuzz (spawned): ${samples.length} corrupted files, ${refused} refused, plus a header-only file for train and enroll`,
    );
  }, 120_000);
});
