import { Command } from "commander";
import { readInputBytes } from "../util/fs.js";
import type { Label } from "../data/types.js";
import { ExitCodes, KeystrokeError } from "../errors.js";
import type { Algorithm } from "../models/types.js";
import type { PredictOptions } from "../predict/index.js";
import { say } from "../ui/terminal.js";
import { parseNumber } from "./options.js";

// Kept light on purpose: the predict core, the models and the CSV reader load inside the action, and
// nothing here pulls in fastify or ink, so a one-shot `predict` starts fast.

interface PredictFlags {
  model?: string;
  json?: string;
  csv?: string;
  format: string;
  modelsDir: string;
  top: string;
  claim?: string;
  skipInvalid?: boolean;
  store?: string;
}

const FORMATS = ["csv", "json", "ndjson"] as const;
type Format = (typeof FORMATS)[number];

/** `keystroke-id predict`: identifies who typed a sample (or verifies a claim) from JSON, NDJSON or CSV input. */
export function predictCommand(): Command {
  return new Command("predict")
    .description("identify who typed a sample, or verify a claimed user (--claim), with trained models")
    .option("--model <name>", "SVM, RF or XGB, any case (default: the request's Model, else the manifest's best)")
    .option("--json <file>", "a JSON request, an array of them, or NDJSON (default: stdin)")
    .option("--csv <file>", "a CSV of samples in any layout `features` reads (- for stdin)")
    .option("--format <fmt>", "output for --csv: csv, json or ndjson", "csv")
    .option("--models-dir <dir>", "the directory `train` wrote", "models")
    .option("--top <k>", "candidate users listed per answer", "3")
    .option("--claim <UserID>", "verify the sample(s) as this user instead of identifying (raw timings only)")
    .option("--store <path|url>", "with --claim: the identity store, a SQLite file, sqlite:PATH or postgres://… (default: KEYSTROKE_ID_STORE, else ./keystroke-id.db)")
    .option("--skip-invalid", "with --csv: drop invalid rows (reported on stderr) instead of stopping")
    .addHelpText(
      "after",
      `
Inputs (JSON): the original contract {"Model":"RF","HT":{"Mean":..,"STD":..},"PPT":..,"RRT":..,"RPT":..},
raw timings {"press":[..],"release":[..]} or {"keystrokes":[{"key":"a","press":0,"release":95},..]},
an array of these, or NDJSON (one per line; one answer per line). In a batch a bad request gets
{"error":..,"field":..} in its place, the others are answered, and the exit code is 3.`,
    )
    .action(async (flags: PredictFlags) => {
      const core = await import("../predict/index.js");
      const model = flags.model === undefined ? undefined : core.parseAlgorithm(flags.model, { flag: "--model" });
      const top = parseNumber(flags.top, "--top", { integer: true, min: 1, max: 1000 });
      const format = parseFormat(flags.format);
      const claim = flags.claim === undefined ? undefined : core.parseClaim(flags.claim, { flag: "--claim" });
      if (flags.json !== undefined && flags.csv !== undefined) throw new KeystrokeError("BAD_FLAG", "give --json or --csv, not both", { flag: "--csv" });
      const popts: PredictOptions = { top, ...(model ? { model } : {}) };

      if (flags.csv !== undefined) {
        await predictCsv(flags.csv, { ...flags, format, claim, popts, model, store: flags.store });
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
        const opened = await core.openVerifier({ store: flags.store, modelsDir: flags.modelsDir });
        close = opened.close;
        answer = (v) => core.answerVerify(opened.verifier, v, claim);
      } else {
        if (input.form === "single") core.parseRequest(input.value);
        const predictor = await core.loadPredictor(flags.modelsDir, { algorithms: model ? [model] : core.requestAlgorithms(input), shapes: core.requestShapes(input) });
        answer = (v) => core.answerRequest(predictor, v, popts);
      }

      try {
        await answerInput(input, answer);
      } finally {
        await close();
      }
    });
}

/** Writes the answers of a JSON request, array or NDJSON stream; a bad request of a batch gets an error object and exit code 3. */
async function answerInput(input: import("../predict/index.js").RequestInput, answer: (value: unknown) => object | Promise<object>): Promise<void> {
  const core = await import("../predict/index.js");
  {
      if (input.form === "single") {
        writeJson(await answer(input.value));
        return;
      }
      let failed = 0;
      const guarded = async (value: unknown, at: { index?: number; line?: number }, pre?: KeystrokeError): Promise<object> => {
        try {
          if (pre) throw pre;
          return await answer(value);
        } catch (e) {
          failed++;
          return core.errorAnswer(e, at);
        }
      };
      if (input.form === "batch") {
        const out: object[] = [];
        for (const [index, v] of input.values.entries()) out.push(await guarded(v, { index }));
        writeJson(out);
      } else for (const l of input.lines) process.stdout.write(JSON.stringify(await guarded(l.value, { line: l.line }, l.error)) + "\n");
      if (failed > 0) {
        say(`${failed} of ${input.form === "batch" ? input.values.length : input.lines.length} requests could not be answered (see their error objects)`);
        process.exitCode = ExitCodes.INPUT;
      }
  }
}

/** Answers every sample of a CSV; each answer carries the sample's line (and label, when the file has one). */
async function predictCsv(file: string, o: { format: Format; modelsDir: string; skipInvalid?: boolean; claim?: Label; popts: PredictOptions; model?: Algorithm; store?: string }): Promise<void> {
  const core = await import("../predict/index.js");
  let answer: (v: unknown) => object | Promise<object>;
  if (o.claim !== undefined) {
    const opened = await core.openVerifier({ store: o.store, modelsDir: o.modelsDir });
    const claim = o.claim;
    answer = (v) => core.answerVerify(opened.verifier, v, claim);
    try {
      await answerCsv(file, o, answer);
    } finally {
      await opened.close();
    }
    return;
  }
  const predictor = await core.loadPredictor(o.modelsDir, { algorithms: [o.model ?? "best"] });
  answer = (v) => core.answerRequest(predictor, v, o.popts);
  await answerCsv(file, o, answer);
}

async function answerCsv(file: string, o: { format: Format; skipInvalid?: boolean; claim?: Label }, answer: (v: unknown) => object | Promise<object>): Promise<void> {
  const core = await import("../predict/index.js");
  const data = await import("../data/index.js");
  const name = file === "-" ? "<stdin>" : file;
  let labelColumn: string | undefined;
  const samples = data.readSamples(file === "-" ? process.stdin : file, {
    name,
    skipInvalid: Boolean(o.skipInvalid),
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
  const out: object[] = [];
  let headerWritten = false;
  const writeHeader = () => {
    if (headerWritten) return;
    process.stdout.write(table().head.map(data.csvCell).join(",") + "\n");
    headerWritten = true;
  };
  for await (const { row, failed: bad } of core.answerSamples(samples, answer, () => labelColumn !== undefined)) {
    rows++;
    if (bad) failed++;
    if (o.format === "json") out.push(row);
    else if (o.format === "ndjson") process.stdout.write(JSON.stringify(row) + "\n");
    else {
      writeHeader();
      process.stdout.write(table().keys.map((k) => data.csvCell(cell(row[k]))).join(",") + "\n");
    }
  }
  if (o.format === "json") writeJson(out);
  // a file with no samples still gives a well-formed (empty) table
  else if (o.format === "csv") writeHeader();
  if (rows === 0) say(`${name} holds no samples`);
  if (failed > 0) {
    say(`${failed} of ${rows} samples could not be answered (see their error column)`);
    process.exitCode = ExitCodes.INPUT;
  }
}

function parseFormat(value: string): Format {
  const f = value.toLowerCase();
  if ((FORMATS as readonly string[]).includes(f)) return f as Format;
  throw new KeystrokeError("BAD_FLAG", `"${value}" is not an output format (${FORMATS.join(", ")})`, { flag: "--format" });
}

async function readInput(file: string | undefined): Promise<string> {
  if ((file === undefined || file === "-") && process.stdin.isTTY) {
    throw new KeystrokeError("BAD_FLAG", "no input: pass --json <file> or --csv <file>, or pipe a request on stdin", { flag: "--json" });
  }
  return (await readInputBytes(file ?? "-")).toString("utf8");
}

function cell(v: unknown): string | number {
  if (v === undefined || v === null) return "";
  return typeof v === "number" ? v : String(v);
}

function writeJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + "\n");
}
