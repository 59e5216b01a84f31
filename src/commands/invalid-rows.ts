import { Option } from "commander";
import { KeystrokeError } from "../errors.js";
import { INVALID_ROW_POLICIES, type InvalidRowPolicy, type SkippedRow } from "../data/read.js";

// `--on-invalid error|skip` on every command that reads data, with the older `--skip-invalid` kept as a
// hidden alias of `--on-invalid skip`. Skipped rows are always reported on stderr: count, first lines, why.

/** The flags this module adds. */
export interface InvalidRowFlags {
  onInvalid?: string;
  skipInvalid?: boolean;
}

/** Enough skipped lines to find the pattern; the count says how many more there were. */
const SHOW_SKIPPED = 10;

/** `--on-invalid <policy>` (default error). */
export function onInvalidOption(what = "invalid rows"): Option {
  return new Option(
    "--on-invalid <policy>",
    `${what}: error (stop, naming file, line and column) or skip (drop them, reported on stderr)`,
  ).choices([...INVALID_ROW_POLICIES]);
}

/** The hidden, deprecated `--skip-invalid`: the same as `--on-invalid skip`. */
export function skipInvalidAlias(): Option {
  return new Option("--skip-invalid", "deprecated: the same as --on-invalid skip").hideHelp();
}

/** The policy the flags ask for (default "error"); `--skip-invalid` with `--on-invalid error` is a contradiction. */
export function invalidRowPolicy(flags: InvalidRowFlags): InvalidRowPolicy {
  const v = flags.onInvalid?.trim().toLowerCase();
  if (v !== undefined && !(INVALID_ROW_POLICIES as readonly string[]).includes(v)) {
    throw new KeystrokeError(
      "BAD_FLAG",
      `"${flags.onInvalid}" is not one of ${INVALID_ROW_POLICIES.join(", ")}`,
      { flag: "--on-invalid" },
    );
  }
  if (flags.skipInvalid && v === "error")
    throw new KeystrokeError("BAD_FLAG", "--skip-invalid contradicts --on-invalid error", {
      flag: "--skip-invalid",
    });
  return flags.skipInvalid ? "skip" : ((v as InvalidRowPolicy | undefined) ?? "error");
}

/** Collects skipped rows of one input; `report()` is the stderr text (empty when nothing was skipped). */
export class SkippedRows {
  count = 0;
  readonly shown: SkippedRow[] = [];
  constructor(readonly name: string) {}
  /** Pass as the reader's onSkip. */
  readonly add = (s: SkippedRow): void => {
    this.count++;
    if (this.shown.length < SHOW_SKIPPED) this.shown.push(s);
  };
  /** The report: how many, which lines and why. */
  report(): string {
    return this.count === 0 ? "" : describeSkipped(this.name, this.count, this.shown);
  }
}

/** The stderr report of skipped rows: how many, and the first few lines with their reasons. */
export function describeSkipped(name: string, count: number, shown: readonly SkippedRow[]): string {
  const lines = shown.map(
    (s) => `  line ${s.line}${s.column !== undefined ? `, column ${s.column}` : ""}: ${s.reason}\n`,
  );
  const more = count > shown.length ? `  … and ${count - shown.length} more\n` : "";
  return `skipped ${count} invalid row(s) of ${name}: line ${shown.map((s) => s.line).join(", ")}${count > shown.length ? ", …" : ""}\n${lines.join("")}${more}`;
}
