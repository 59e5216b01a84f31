import { Command } from "commander";
import { KeystrokeError } from "../errors.js";
import type { FeatureSetName } from "../features/index.js";
import type { FeatureFormat, SkippedRow } from "../data/index.js";
import { invalidRowPolicy, onInvalidOption, skipInvalidAlias } from "./invalid-rows.js";

/** The streams a command talks through; tests pass their own. */
export interface CommandIO {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

interface FeaturesFlags {
  set: string;
  format: string;
  output?: string;
  skipInvalid?: boolean;
  onInvalid?: string;
}

const SETS: readonly FeatureSetName[] = ["summary", "timings"];
const FORMATS: readonly FeatureFormat[] = ["csv", "json", "ndjson"];
// Enough skipped lines to find the pattern; the count says how many more there were.
const SHOW_SKIPPED = 10;

function choice<T extends string>(value: string, allowed: readonly T[], flag: string): T {
  const v = value.trim().toLowerCase() as T;
  if (!allowed.includes(v)) throw new KeystrokeError("BAD_FLAG", `"${value}" is not one of ${allowed.join(", ")}`, { flag });
  return v;
}

/** `keystroke-id features [file|-]`: the feature table of a keystroke CSV, streamed to stdout or a file. */
export function featuresCommand(io: CommandIO = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }): Command {
  return new Command("features")
    .description("extract features from a keystroke CSV (wide, derived or events layout), streaming")
    .argument("[file]", "CSV file, or - for stdin (stdin is read when omitted and piped)")
    .option("--set <name>", "feature set: summary (8 numbers) or timings (per key)", "summary")
    .option("--format <fmt>", "output format: csv, json or ndjson", "csv")
    .option("-o, --output <file>", "write to this file (atomically) instead of stdout")
    .addOption(onInvalidOption())
    .addOption(skipInvalidAlias())
    .action(async (file: string | undefined, opts: FeaturesFlags) => {
      const set = choice(opts.set, SETS, "--set");
      const format = choice(opts.format, FORMATS, "--format");
      if (file === undefined && io.stdin.isTTY) {
        throw new KeystrokeError("BAD_FLAG", "no input: give a CSV file, or pipe one into stdin (or pass -)", {}, { suggestion: "keystroke-id features data.csv" });
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
      if (!opts.output) io.stdout.on("error", onStdoutError);
      const target = opts.output !== undefined ? await createAtomicFile(opts.output, { flag: "--output" }) : undefined;
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
      if (target) io.stderr.write(`wrote ${result.rows} row(s) of ${set} features to ${target.path}\n`);
    });
}

/** The stderr report of --skip-invalid: how many, and the first few lines with their reasons. */
export function describeSkipped(name: string, count: number, shown: readonly SkippedRow[]): string {
  const lines = shown.map((s) => `  line ${s.line}${s.column !== undefined ? `, column ${s.column}` : ""}: ${s.reason}\n`);
  const more = count > shown.length ? `  … and ${count - shown.length} more\n` : "";
  return `skipped ${count} invalid row(s) of ${name}: line ${shown.map((s) => s.line).join(", ")}${count > shown.length ? ", …" : ""}\n${lines.join("")}${more}`;
}
