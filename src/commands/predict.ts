import { Command } from "commander";
import { readInputBytes } from "../util/fs.js";
import type { Label } from "../data/types.js";
import { ExitCodes, KeystrokeError } from "../errors.js";
import type { Algorithm } from "../models/types.js";
import type { PredictOptions } from "../predict/index.js";
import { say } from "../ui/terminal.js";
import {
  addOptions,
  helpEpilog,
  MODELS_DIR,
  MODEL_VERSION,
  numberCheck,
  ON_INVALID,
  parseNumber,
  QUIET,
  resolveOutput,
  SKIP_INVALID,
  STORE,
  type OptionSpec,
  type OutputFormat,
  ADAPT_OPTIONS,
  adaptationFrom,
} from "./options.js";
import { invalidRowPolicy } from "./invalid-rows.js";

// Kept light on purpose: the predict core, the models and the CSV reader load inside the action, and
// nothing here pulls in fastify or ink, so a one-shot `predict` starts fast.

interface PredictFlags {
  model?: string;
  json?: string;
  csv?: string;
  output?: string;
  format?: string;
  modelsDir: string;
  top: string;
  claim?: string;
  explain?: boolean;
  adapt?: boolean;
  adaptMargin?: string;
  adaptWindow?: string;
  skipInvalid?: boolean;
  store?: string;
  modelVersion?: string;
  onInvalid?: string;
  allowSummary?: boolean;
  rejectUnknown?: boolean;
  quiet?: boolean;
}

const FORMATS: readonly OutputFormat[] = ["table", "json", "ndjson", "csv"];

/** The flags of `predict`, as data. `--json <file>` is the design card's input flag, so here it is not `--output json`. */
export const PREDICT_OPTIONS: readonly OptionSpec[] = [
  {
    key: "model",
    flags: "--model <name>",
    description: "SVM, RF or XGB, any case (default: the request's Model, else the manifest's best)",
  },
  {
    key: "json",
    flags: "--json <file>",
    description: "a JSON request, an array of them, or NDJSON (default: stdin)",
    config: false,
  },
  {
    key: "csv",
    flags: "--csv <file>",
    description: "a CSV of samples in any layout `features` reads (- for stdin)",
    config: false,
  },
  {
    key: "output",
    flags: "--output <format>",
    description:
      "what stdout gets: table, json, ndjson or csv (default: table at a terminal; when piped, json, or csv for --csv)",
    check: (v, f) => void parseOutput(v, f),
  },
  { key: "format", flags: "--format <fmt>", description: "", aliasOf: "output" },
  MODELS_DIR,
  {
    key: "top",
    flags: "--top <k>",
    description: "candidate users listed per answer",
    default: "3",
    check: numberCheck({ integer: true, min: 1, max: 1000 }),
  },
  {
    key: "claim",
    flags: "--claim <UserID>",
    description: "verify the sample(s) as this user instead of identifying (raw timings only)",
    config: false,
  },
  ...ADAPT_OPTIONS,
  {
    key: "explain",
    flags: "--explain",
    description:
      "with --claim: add the intervals that deviated most from the user's template (explanation, in spreads)",
  },
  {
    key: "allowSummary",
    flags: "--allow-summary",
    description:
      "let the summary model answer a sample the timings model cannot take (other length or keys) instead of an error",
  },
  {
    key: "rejectUnknown",
    flags: "--reject-unknown",
    description:
      'open-set identification: answer "UserID": null, "unknown": true for a sample too far from every known user (threshold set by train --target-fir)',
  },
  {
    ...ON_INVALID,
    description:
      "with --csv, invalid rows: error (stop, naming file, line and column) or skip (drop them, reported on stderr)",
  },
  SKIP_INVALID,
  MODEL_VERSION,
  {
    ...STORE,
    description:
      "with --claim: the identity store, a SQLite file, sqlite:PATH or postgres://… (default: KEYSTROKE_ID_STORE, else ./keystroke-id.db)",
  },
  QUIET,
];

export const PREDICT_EXAMPLES = [
  "keystroke-id predict --model XGB --json fixtures/request-xgb.json",
  "cat fixtures/request-rf.json | keystroke-id predict",
  "keystroke-id predict --json fixtures/requests.ndjson --output ndjson",
  "keystroke-id predict --csv fixtures/wide-unlabelled.csv --output json",
  "keystroke-id predict --csv fixtures/wide-test.csv | head -3",
  "keystroke-id predict --claim 101 --json fixtures/request-timings.json",
];

function parseOutput(value: string, flag = "--output"): OutputFormat {
  const f = value.trim().toLowerCase();
  if ((FORMATS as readonly string[]).includes(f)) return f as OutputFormat;
  throw new KeystrokeError("BAD_FLAG", `"${value}" is not an output format (${FORMATS.join(", ")})`, {
    flag,
  });
}

/** `keystroke-id predict`: identifies who typed a sample (or verifies a claim) from JSON, NDJSON or CSV input. */
export function predictCommand(): Command {
  const cmd = new Command("predict").description(
    "identify who typed a sample, or verify a claimed user (--claim), with trained models",
  );
  return addOptions(cmd, PREDICT_OPTIONS)
    .addHelpText(
      "after",
      helpEpilog(
        PREDICT_EXAMPLES,
        `Inputs (JSON): the original contract {"Model":"RF","HT":{"Mean":..,"STD":..},"PPT":..,"RRT":..,"RPT":..},
raw timings {"press":[..],"release":[..]} or {"keystrokes":[{"key":"a","press":0,"release":95},..]},
an array of these, or NDJSON (one per line; one answer per line). In a batch a bad request gets
{"error":..,"code":..,"field":..} in its place, the others are answered, and the exit code is 3.
A raw sample the timings model cannot take (another key count, other keys) is an error (SAMPLE_MISMATCH)
unless --allow-summary (or "allow_summary": true in the request); every answer names its "features".`,
      ),
    )
    .action(async (flags: PredictFlags) => {
      const core = await import("../predict/index.js");
      const model =
        flags.model === undefined ? undefined : core.parseAlgorithm(flags.model, { flag: "--model" });
      const top = parseNumber(flags.top, "--top", { integer: true, min: 1, max: 1000 });
      if (flags.output !== undefined) parseOutput(flags.output);
      const output = resolveOutput(
        { ...(flags.output !== undefined ? { output: flags.output } : {}) },
        FORMATS,
        flags.csv !== undefined ? "csv" : "json",
      );
      const claim = flags.claim === undefined ? undefined : core.parseClaim(flags.claim, { flag: "--claim" });
      if (flags.adapt && claim === undefined)
        throw new KeystrokeError("BAD_FLAG", "adapts a verified user's template: give --claim ID too", {
          flag: "--adapt",
        });
      if (flags.explain && claim === undefined)
        throw new KeystrokeError("BAD_FLAG", "explains a verification: give --claim ID too", {
          flag: "--explain",
        });
      if (flags.json !== undefined && flags.csv !== undefined)
        throw new KeystrokeError("BAD_FLAG", "give --json or --csv, not both", { flag: "--csv" });
      const popts: PredictOptions = {
        top,
        ...(model ? { model } : {}),
        ...(flags.allowSummary ? { allowSummary: true } : {}),
        ...(flags.rejectUnknown ? { rejectUnknown: true } : {}),
      };
      const warn = warner(Boolean(flags.quiet));

      if (flags.csv !== undefined) {
        await predictCsv(flags.csv, { ...flags, output, claim, popts, model, warn, store: flags.store });
        return;
      }
      const name = flags.json === undefined || flags.json === "-" ? "<stdin>" : flags.json;
      const text = await readInput(flags.json);
      const input = core.readRequests(text, name);

      let answer: (value: unknown) => object | Promise<object>;
      let close = async () => undefined as void;
      if (claim !== undefined) {
        // validate before opening anything, so a bad request is reported as such even without a store
        if (input.form === "single") core.parseVerifyRequest(input.value, claim);
        const opened = await core.openVerifier({
          store: flags.store,
          modelsDir: flags.modelsDir,
          adapt: adaptationFrom(flags),
        });
        close = () => opened.close();
        answer = (v) => core.answerVerify(opened.verifier, v, claim, {}, { explain: Boolean(flags.explain) });
      } else {
        if (input.form === "single") core.parseRequest(input.value);
        const predictor = await core.loadPredictor(flags.modelsDir, {
          algorithms: model ? [model] : core.requestAlgorithms(input),
          shapes: core.requestShapes(input),
          ...(flags.modelVersion !== undefined ? { version: flags.modelVersion } : {}),
        });
        answer = (v) => core.answerRequest(predictor, v, popts);
      }
      const verifying = claim !== undefined;
      try {
        if (input.form === "single") {
          const a = await answer(input.value);
          warn(a, "");
          await writeAnswers([a], output, verifying, "single");
          return;
        }
        let failed = 0;
        const guarded = async (
          value: unknown,
          at: { index?: number; line?: number },
          pre?: KeystrokeError,
        ): Promise<object> => {
          try {
            if (pre) throw pre;
            const a = await answer(value);
            warn(a, at.index !== undefined ? `request ${at.index}: ` : `line ${at.line}: `);
            return a;
          } catch (e) {
            failed++;
            return core.errorAnswer(e, at);
          }
        };
        // one at a time: answers keep their order, and a store is asked one request after another
        const answers: object[] = [];
        if (input.form === "batch")
          for (const [index, v] of input.values.entries()) answers.push(await guarded(v, { index }));
        else for (const l of input.lines) answers.push(await guarded(l.value, { line: l.line }, l.error));
        // NDJSON in, NDJSON out (one answer per line) unless another format was asked for
        await writeAnswers(
          answers,
          input.form === "ndjson" && output === "json" && flags.output === undefined ? "ndjson" : output,
          verifying,
          input.form,
        );
        if (failed > 0) {
          say(`${failed} of ${answers.length} requests could not be answered (see their error objects)`);
          process.exitCode = ExitCodes.INPUT;
        }
      } finally {
        await close();
      }
    });
}

/** Prints each distinct warning of the answers once on stderr (they stay in the JSON answers too). */
function warner(quiet: boolean): (answer: object, where: string) => void {
  const seen = new Set<string>();
  return (answer, where) => {
    const warnings = (answer as { warnings?: string[] }).warnings;
    if (quiet || !warnings) return;
    for (const w of warnings) {
      if (seen.has(w)) continue;
      seen.add(w);
      say(`warning: ${where}${w}`);
    }
  };
}

/** Writes answers of JSON input in the chosen format. */
async function writeAnswers(
  answers: object[],
  output: OutputFormat,
  verifying: boolean,
  form: "single" | "batch" | "ndjson",
): Promise<void> {
  if (output === "json") return writeJson(form === "single" ? answers[0] : answers);
  if (output === "ndjson") {
    for (const a of answers) process.stdout.write(JSON.stringify(a) + "\n");
    return;
  }
  const core = await import("../predict/index.js");
  const { keys } = core.answerColumns(verifying);
  const columns = keys.filter((k) => k !== "line");
  const rows = answers as Array<Record<string, unknown>>;
  if (output === "csv") {
    const { csvCell } = await import("../data/index.js");
    process.stdout.write(columns.join(",") + "\n");
    for (const r of rows) process.stdout.write(columns.map((k) => csvCell(cell(r[k]))).join(",") + "\n");
    return;
  }
  const { formatAnswerTable } = await import("../ui/answer-table.js");
  process.stdout.write(formatAnswerTable(rows, verifying) + "\n");
}

/** Answers every sample of a CSV; each answer carries the sample's line (and label, when the file has one). */
async function predictCsv(
  file: string,
  o: {
    output: OutputFormat;
    modelsDir: string;
    skipInvalid?: boolean;
    onInvalid?: string;
    claim?: Label;
    explain?: boolean;
    adapt?: boolean;
    adaptMargin?: string;
    adaptWindow?: string;
    popts: PredictOptions;
    model?: Algorithm;
    store?: string;
    modelVersion?: string;
    warn: (a: object, where: string) => void;
  },
): Promise<void> {
  const core = await import("../predict/index.js");
  let answer: (v: unknown) => object | Promise<object>;
  if (o.claim !== undefined) {
    const opened = await core.openVerifier({
      store: o.store,
      modelsDir: o.modelsDir,
      adapt: adaptationFrom(o),
    });
    const claim = o.claim;
    answer = (v) => core.answerVerify(opened.verifier, v, claim, {}, { explain: Boolean(o.explain) });
    try {
      await answerCsv(file, o, answer);
    } finally {
      await opened.close();
    }
    return;
  }
  const predictor = await core.loadPredictor(o.modelsDir, {
    algorithms: [o.model ?? "best"],
    ...(o.modelVersion !== undefined ? { version: o.modelVersion } : {}),
  });
  answer = (v) => core.answerRequest(predictor, v, o.popts);
  await answerCsv(file, o, answer);
}

async function answerCsv(
  file: string,
  o: {
    output: OutputFormat;
    skipInvalid?: boolean;
    onInvalid?: string;
    claim?: Label;
    warn: (a: object, where: string) => void;
  },
  answer: (v: unknown) => object | Promise<object>,
): Promise<void> {
  const core = await import("../predict/index.js");
  const data = await import("../data/index.js");
  const name = file === "-" ? "<stdin>" : file;
  let labelColumn: string | undefined;
  const samples = data.readSamples(file === "-" ? process.stdin : file, {
    name,
    onInvalid: invalidRowPolicy(o),
    onSkip: (s) => say(`skipped ${name}:${s.line}${s.column ? `, column ${s.column}` : ""}: ${s.reason}`),
    onHeader: (h) => {
      labelColumn = h.labelColumn;
    },
  });
  let columns: { keys: string[]; head: string[] } | undefined;
  // the header waits for the first sample (the file's header names the label column); an empty file still gets one
  const table = () => (columns ??= core.answerColumns(o.claim !== undefined, labelColumn));
  let rows = 0;
  let failed = 0;
  const out: Array<Record<string, unknown>> = [];
  let headerWritten = false;
  const writeHeader = () => {
    if (headerWritten) return;
    process.stdout.write(table().head.map(data.csvCell).join(",") + "\n");
    headerWritten = true;
  };
  for await (const { row, failed: bad } of core.answerSamples(
    samples,
    answer,
    () => labelColumn !== undefined,
  )) {
    rows++;
    if (bad) failed++;
    else o.warn(row, `${name}:${String(row.line)}: `);
    if (o.output === "json" || o.output === "table") out.push(row);
    else if (o.output === "ndjson") process.stdout.write(JSON.stringify(row) + "\n");
    else {
      writeHeader();
      process.stdout.write(
        table()
          .keys.map((k) => data.csvCell(cell(row[k])))
          .join(",") + "\n",
      );
    }
  }
  if (o.output === "json") writeJson(out);
  else if (o.output === "table") {
    const { formatAnswerTable } = await import("../ui/answer-table.js");
    process.stdout.write(formatAnswerTable(out, o.claim !== undefined) + "\n");
  }
  // a file with no samples still gives a well-formed (empty) table
  else if (o.output === "csv") writeHeader();
  if (rows === 0) say(`${name} holds no samples`);
  if (failed > 0) {
    say(`${failed} of ${rows} samples could not be answered (see their error column)`);
    process.exitCode = ExitCodes.INPUT;
  }
}

async function readInput(file: string | undefined): Promise<string> {
  if ((file === undefined || file === "-") && process.stdin.isTTY) {
    throw new KeystrokeError(
      "BAD_FLAG",
      "no input: pass --json <file> or --csv <file>, or pipe a request on stdin",
      { flag: "--json" },
    );
  }
  return (await readInputBytes(file ?? "-")).toString("utf8");
}

function cell(v: unknown): string | number {
  if (v === undefined || v === null) return "";
  if (Array.isArray(v))
    return v.map((x) => (typeof x === "object" ? JSON.stringify(x) : String(x))).join("; ");
  return typeof v === "number" ? v : typeof v === "string" ? v : JSON.stringify(v);
}

function writeJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + "\n");
}
