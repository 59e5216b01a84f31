import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { rmSync } from "node:fs";
import { runCli, type RunResult } from "../helpers/cli.js";
import { syntheticCsv, trainedDir } from "../server/trained.js";
import { damage, mutate, mutation, render, textDamage, validRequest, validVerify } from "./hostile.js";

// The built binary fed hostile input: it exits 0 with JSON on stdout, or non-zero with a message on
// stderr, never a stack trace and never exit 1 (an unexpected failure). Few cases, since each spawns a process.

const RUNS = Math.max(4, Math.round(Number(process.env.FUZZ_RUNS ?? 10_000) / 1000));
const SEED = Number(process.env.FUZZ_SEED ?? 7_2024);
const STACK = /\n\s+at |node:internal|\.[cm]?[jt]s:\d+:\d+/;
let dir = "";
let root = "";
let spawned = 0;

beforeAll(async () => {
  ({ dir, root } = await trainedDir("rf"));
});
afterAll(() => {
  console.log(`cli fuzz: ${spawned} runs of the built binary`);
  if (root) rmSync(root, { recursive: true, force: true });
});

/** One JSON document, or NDJSON (one per line). */
function parseOutput(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l));
  }
}

function checkRun(r: RunResult, what: string): void {
  spawned++;
  const where = `${what} → exit ${r.code}: ${r.stderr.slice(0, 300)}`;
  expect([0, 2, 3, 4], where).toContain(r.code);
  expect(STACK.test(r.stderr), where).toBe(false);
  if (r.code === 0) {
    expect(r.stdout.length, where).toBeGreaterThan(0);
  } else {
    expect(r.stderr, where).toMatch(/error:|could not be answered/);
  }
}

describe(`CLI fuzz (${RUNS} spawns per property, seed ${SEED})`, () => {
  it("predict: hostile JSON, batches and NDJSON on stdin", async () => {
    const body = fc.oneof(
      fc
        .tuple(fc.oneof(validRequest, validVerify), fc.array(mutation, { minLength: 1, maxLength: 4 }))
        .map(([r, ms]) => render(mutate(r, ms))),
      fc
        .tuple(validRequest, fc.array(textDamage, { minLength: 1, maxLength: 3 }))
        .map(([r, ds]) => damage(render(r), ds)),
      fc
        .array(
          fc
            .tuple(validRequest, fc.array(mutation, { maxLength: 2 }))
            .map(([r, ms]) => render(mutate(r, ms))),
          { minLength: 1, maxLength: 5 },
        )
        .map((xs) => `[${xs.join(",")}]`),
      fc
        .array(
          fc
            .tuple(validRequest, fc.array(mutation, { maxLength: 2 }))
            .map(([r, ms]) => render(mutate(r, ms))),
          { minLength: 2, maxLength: 5 },
        )
        .map((xs) => xs.join("\n")),
    );
    await fc.assert(
      fc.asyncProperty(
        body,
        fc.constantFrom<string[]>([], ["--claim", "1"], ["--model", "rf"]),
        async (text, extra) => {
          const r = await runCli(["predict", "--models-dir", dir, ...extra], { stdin: text });
          checkRun(r, `predict ${extra.join(" ")} <<< ${text.slice(0, 120)}`);
          if (r.code === 0) expect(() => parseOutput(r.stdout)).not.toThrow();
        },
      ),
      { numRuns: RUNS * 2, seed: SEED },
    );
  });

  it("features and predict --csv: randomly corrupted CSV files", async () => {
    const base = syntheticCsv(2, 2, 3);
    const csv = fc.array(textDamage, { minLength: 1, maxLength: 3 }).map((ds) => damage(base, ds));
    await fc.assert(
      fc.asyncProperty(
        csv,
        fc.constantFrom<string[]>(
          ["features", "-"],
          ["features", "-", "--set", "timings", "--format", "json"],
          ["predict", "--csv", "-"],
          ["predict", "--csv", "-", "--skip-invalid"],
        ),
        async (text, args) => {
          const r = await runCli(args[0] === "predict" ? [...args, "--models-dir", dir] : args, {
            stdin: text,
          });
          checkRun(r, `${args.join(" ")} <<< ${JSON.stringify(text.slice(0, 200))}`);
        },
      ),
      { numRuns: RUNS * 2, seed: SEED + 1 },
    );
  });

  it("refuses the same hostile numbers as the server, naming the field", async () => {
    const r = await runCli(["predict", "--models-dir", dir], {
      stdin: '{"press":[0,1e300],"release":[1,2e300]}',
    });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/error: field press\[1\]: is too large/);
    const csv = await runCli(["features", "-"], {
      stdin: "press-0,release-0,press-1,release-1\n-1e300,0,1,2\n",
    });
    expect(csv.code).toBe(3);
    expect(csv.stderr).toMatch(/error: <stdin>:2, column press-0: press time of key 0 is beyond/);
    spawned += 2;
  });
});
