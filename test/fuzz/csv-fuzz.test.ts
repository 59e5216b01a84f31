import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { parseDatasetText } from "../../src/data/index.js";
import { isKeystrokeError } from "../../src/errors.js";
import { extractSummary, extractTimings } from "../../src/features/index.js";
import { syntheticCsv } from "../server/trained.js";

// Randomly corrupted CSV files through the reader every command uses: it either reads samples whose
// times and features are all finite, or throws a KeystrokeError naming the file (and line) — never
// another kind of error, which the CLI would show as an unexplained failure.

const RUNS = Math.max(50, Math.round(Number(process.env.FUZZ_RUNS ?? 10_000) / 10));
const SEED = Number(process.env.FUZZ_SEED ?? 7_2024);

const BASES = [
  syntheticCsv(3, 3, 17),
  "subject,sessionIndex,rep,H.a,DD.a.b,UD.a.b,H.b,DD.b.c,UD.b.c,H.c\n" +
    "s002,1,1,0.1,0.25,0.15,0.08,0.2,0.12,0.09\n" +
    "s002,1,2,0.11,0.24,0.13,0.07,0.21,0.14,0.1\n" +
    "s003,1,1,0.09,0.3,0.21,0.1,0.22,0.12,0.08\n",
  "user,session,key,press,release\n" +
    "ann,1,h,1000,1090\n" +
    "ann,1,i,1150,1200\n" +
    "ann,1,Space,1100,1180\n" +
    "bob,1,h,50,120\n" +
    "bob,1,i,160,230\n",
];

const TOKENS = [
  ",",
  '"',
  '""',
  "\n",
  "\r",
  "\r\n",
  "\u0000",
  "\ud800",
  "\ufeff",
  "1e999",
  "1e300",
  "-1e300",
  "9007199254740993",
  "-",
  "NaN",
  "Infinity",
  "0x10",
  "1_000",
  "__proto__",
  "constructor",
  ";",
  "\t",
  " ",
  "",
  "UserID",
  "press-0",
  "H.a",
  "DD.a.b",
  "\u202e",
  "😀",
];

type Damage =
  | { op: "cell"; line: number; col: number; token: string }
  | { op: "insert"; at: number; token: string }
  | { op: "truncate"; at: number }
  | { op: "drop-line"; line: number }
  | { op: "dup-line"; line: number }
  | { op: "swap-lines"; a: number; b: number }
  | { op: "bytes"; at: number; bytes: Uint8Array };

const damage: fc.Arbitrary<Damage> = fc.oneof(
  {
    arbitrary: fc.record({
      op: fc.constant("cell" as const),
      line: fc.nat(),
      col: fc.nat(),
      token: fc.oneof(fc.constantFrom(...TOKENS), fc.string({ unit: "binary", maxLength: 6 })),
    }),
    weight: 5,
  },
  {
    arbitrary: fc.record({
      op: fc.constant("insert" as const),
      at: fc.nat(),
      token: fc.constantFrom(...TOKENS),
    }),
    weight: 3,
  },
  { arbitrary: fc.record({ op: fc.constant("truncate" as const), at: fc.nat() }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant("drop-line" as const), line: fc.nat() }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant("dup-line" as const), line: fc.nat() }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant("swap-lines" as const), a: fc.nat(), b: fc.nat() }), weight: 1 },
  {
    arbitrary: fc.record({
      op: fc.constant("bytes" as const),
      at: fc.nat(),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
    }),
    weight: 1,
  },
);

function apply(text: string, ds: readonly Damage[]): string {
  let t = text;
  for (const d of ds) {
    const lines = t.split("\n");
    const L = (i: number) => i % Math.max(1, lines.length);
    switch (d.op) {
      case "cell": {
        const cells = (lines[L(d.line)] ?? "").split(",");
        cells[d.col % Math.max(1, cells.length)] = d.token;
        lines[L(d.line)] = cells.join(",");
        t = lines.join("\n");
        break;
      }
      case "insert":
        t = t.slice(0, d.at % (t.length + 1)) + d.token + t.slice(d.at % (t.length + 1));
        break;
      case "truncate":
        t = t.slice(0, d.at % (t.length + 1));
        break;
      case "drop-line":
        lines.splice(L(d.line), 1);
        t = lines.join("\n");
        break;
      case "dup-line":
        lines.splice(L(d.line), 0, lines[L(d.line)] ?? "");
        t = lines.join("\n");
        break;
      case "swap-lines": {
        const [a, b] = [L(d.a), L(d.b)];
        [lines[a], lines[b]] = [lines[b] ?? "", lines[a] ?? ""];
        t = lines.join("\n");
        break;
      }
      case "bytes": {
        // bytes that are not UTF-8 arrive as U+FFFD, as they would from a file
        const at = d.at % (t.length + 1);
        t = t.slice(0, at) + Buffer.from(d.bytes).toString("utf8") + t.slice(at);
        break;
      }
    }
  }
  return t;
}

const tally = { cases: 0, read: 0, refused: 0 };

describe(`CSV fuzz (${RUNS} cases per property, seed ${SEED})`, () => {
  it("reads a corrupted CSV into finite samples or refuses it with a KeystrokeError naming the file", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...BASES.keys()),
        fc.array(damage, { minLength: 1, maxLength: 4 }),
        fc.record({ requireLabel: fc.boolean(), equalLength: fc.boolean(), skipInvalid: fc.boolean() }),
        async (b, ds, options) => {
          const text = apply(BASES[b]!, ds);
          tally.cases++;
          let d;
          try {
            d = await parseDatasetText(text, options);
          } catch (e) {
            tally.refused++;
            expect(isKeystrokeError(e), `not a KeystrokeError: ${String(e)}`).toBe(true);
            expect((e as Error).message).toMatch(/^<text>/);
            return;
          }
          tally.read++;
          for (const s of d.samples) {
            for (const v of [...s.press, ...s.release, ...extractSummary(s), ...extractTimings(s)])
              expect(Number.isFinite(v), `sample at line ${s.source?.line}: ${v}`).toBe(true);
            expect(s.source?.line).toBeGreaterThan(1);
          }
          for (const k of d.skipped) expect(k.line).toBeGreaterThan(0);
        },
      ),
      { numRuns: RUNS, seed: SEED },
    );
    console.log(`csv fuzz: ${tally.cases} corrupted files, ${tally.read} read, ${tally.refused} refused`);
  });
});
