import { Command } from "commander";
import { KeystrokeError } from "../errors.js";
import type { FeatureSetName } from "../features/index.js";
import type { FeatureFormat, SkippedRow } from "../data/index.js";
import { invalidRowPolicy } from "./invalid-rows.js";
import {
  addOptions,
  choiceCheck,
  helpEpilog,
  parseChoice,
  ON_INVALID,
  QUIET,
  SKIP_INVALID,
  type OptionSpec,
} from "./options.js";

/** The streams a command talks through; tests pass their own. */
export interface CommandIO {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

interface FeaturesFlags {
  set: string;
  output: string;
  format?: string;
  outFile?: string;
  o?: string;
  skipInvalid?: boolean;
  onInvalid?: string;
  quiet?: boolean;
}

const SETS: readonly FeatureSetName[] = ["summary", "timings"];
const FORMATS: readonly FeatureFormat[] = ["csv", "json", "ndjson"];
// Enough skipped lines to find the pattern; the count says how many more there were.
const SHOW_SKIPPED = 10;

/** The flags of `features`, as data. */
export const FEATURES_OPTIONS: readonly OptionSpec[] = [
  {
    key: "set",
    flags: "--set <name>",
    description: "feature set: summary (8 numbers) or timings (per key)",
    default: "summary",
    check: choiceCheck(SETS),
  },
  // a feature table is rows for another program: CSV whether or not stdout is a terminal
  {
    key: "output",
    flags: "--output <format>",
    description: "what stdout (or --out-file) gets: csv, json or ndjson",
    default: "csv",
    option: "format",
    check: choiceCheck(FORMATS),
  },
  { key: "format", flags: "--format <fmt>", description: "", aliasOf: "output" },
  {
    key: "outFile",
    flags: "--out-file <file>",
    description: "write to this file (atomically) instead of stdout",
    config: false,
  },
  { key: "o", flags: "-o <file>", description: "", aliasOf: "outFile" },
  ON_INVALID,
  SKIP_INVALID,
  QUIET,
];

export const FEATURES_EXAMPLES = [
  "keystroke-id features fixtures/wide-train.csv",
  "keystroke-id features fixtures/wide-train.csv --set timings --output ndjson",
  "cat fixtures/events.csv | keystroke-id features --output json",
  "keystroke-id features fixtures/cmu-small.csv --set timings --out-file features.csv",
];

/** `keystroke-id features [file|-]`: the feature table of a keystroke CSV, streamed to stdout or a file. */
export function featuresCommand(
  io: CommandIO = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr },
): Command {
  const cmd = new Command("features")
    .description("extract features from a keystroke CSV (wide, derived or events layout), streaming")
    .argument("[file]", "CSV file, or - for stdin (stdin is read when omitted and piped)");
  return addOptions(cmd, FEATURES_OPTIONS)
    .addHelpText("after", helpEpilog(FEATURES_EXAMPLES))
    .action(async (file: string | undefined, opts: FeaturesFlags) => {
      const set = parseChoice(opts.set, SETS, "--set");
      // before --out-file existed, --output named the file: a value that is no format still means a file
      let outFile = opts.outFile;
      let output = opts.output;
      if (
        !(FORMATS as readonly string[]).includes(output.trim().toLowerCase()) &&
        outFile === undefined &&
        /[./\\]/.test(output)
      ) {
        io.stderr.write(
          `warning: --output <file> is deprecated; use --out-file ${output} (--output now names the format)\n`,
        );
        outFile = output;
        output = "csv";
      }
      const format = parseChoice(output, FORMATS, "--output");
      if (file === undefined && io.stdin.isTTY) {
        throw new KeystrokeError(
          "BAD_FLAG",
          "no input: give a CSV file, or pipe one into stdin (or pass -)",
          {},
          { suggestion: "keystroke-id features data.csv" },
        );
      }
      const input = file === undefined || file === "-" ? io.stdin : file;
      const name = typeof input === "string" ? input : "<stdin>";
      const { writeFeatureTable } = await import("../data/index.js");
      const { createAtomicFile } = await import("../util/fs.js");

      const skipped: SkippedRow[] = [];
      // A closed pipe (`features big.csv | head`) is the reader's choice, not a failure worth a message.
      let pipeClosed = false;
      const onStdoutError = (e: NodeJS.ErrnoException): void => {
        if (e.code === "EPIPE") pipeClosed = true;
      };
      if (!outFile) io.stdout.on("error", onStdoutError);
      const target =
        outFile !== undefined ? await createAtomicFile(outFile, { flag: "--out-file" }) : undefined;
      let result;
      try {
        result = await writeFeatureTable(input, target?.stream ?? io.stdout, {
          name,
          set,
          format,
          onInvalid: invalidRowPolicy(opts),
          onSkip: (s) => {
            if (skipped.length < SHOW_SKIPPED) skipped.push(s);
          },
        });
        await target?.commit();
      } catch (e) {
        // a failed write to the output file (a full disk) is reported naming that file, not as a bare errno
        const writeFailure = await target?.abort();
        if (writeFailure) throw writeFailure;
        if (pipeClosed || (e as NodeJS.ErrnoException).code === "EPIPE") return;
        throw e;
      } finally {
        io.stdout.removeListener("error", onStdoutError);
      }
      if (result.skipped > 0) io.stderr.write(describeSkipped(name, result.skipped, skipped));
      if (target && !opts.quiet)
        io.stderr.write(`wrote ${result.rows} row(s) of ${set} features to ${target.path}\n`);
    });
}

/** The stderr report of --skip-invalid: how many, and the first few lines with their reasons. */
export function describeSkipped(name: string, count: number, shown: readonly SkippedRow[]): string {
  const lines = shown.map(
    (s) => `  line ${s.line}${s.column !== undefined ? `, column ${s.column}` : ""}: ${s.reason}\n`,
  );
  const more = count > shown.length ? `  … and ${count - shown.length} more\n` : "";
  return `skipped ${count} invalid row(s) of ${name}: line ${shown.map((s) => s.line).join(", ")}${count > shown.length ? ", …" : ""}\n${lines.join("")}${more}`;
}
