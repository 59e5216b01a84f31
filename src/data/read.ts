import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Readable } from "node:stream";
import { KeystrokeError } from "../errors.js";
import { csvRecords } from "./csv-records.js";
import {
  LABEL_COLUMNS,
  detectHeader,
  type ColumnPlan,
  type DatasetHeader,
  type DerivedPlan,
  type EventsPlan,
  type WidePlan,
} from "./header.js";
import type { Label, Sample } from "./types.js";
import { findSampleProblem, MAX_TIME } from "./validate.js";
import { readError } from "../util/fs.js";

export interface ReadOptions {
  /** name used in messages (default: the path, or "<stdin>") */
  name?: string;
  /**
   * What an invalid row (or events sample) does: "error" (default) throws BAD_ROW naming file, line and column;
   * "skip" drops it, reporting it through onSkip and in Dataset.skipped.
   */
  onInvalid?: InvalidRowPolicy;
  /** @deprecated the same as `onInvalid: "skip"` */
  skipInvalid?: boolean;
  onSkip?: (s: SkippedRow) => void;
  /** require all samples to have the same number of keys (timings set) — error/skip naming file:line otherwise */
  equalLength?: boolean;
  /** require a label column (training/evaluation): clear error if missing */
  requireLabel?: boolean;
}

/** What the reader does with an invalid row. */
export type InvalidRowPolicy = "error" | "skip";
/** The policies, for parsing a flag or an option. */
export const INVALID_ROW_POLICIES: readonly InvalidRowPolicy[] = ["error", "skip"];

/** A row (or, for events, a sample) that `onInvalid: "skip"` dropped, and why. */
export interface SkippedRow {
  line: number;
  column?: string;
  reason: string;
}

/** A whole file in memory, with what the header said and what was skipped. */
export interface Dataset extends DatasetHeader {
  name: string;
  samples: Sample[];
  skipped: SkippedRow[];
  labelled: boolean;
}

/** A problem with one row, before it becomes an error or a skip. */
interface RowProblem {
  line: number;
  column?: string;
  reason: string;
}

class RowFault extends Error {
  constructor(readonly problem: RowProblem) {
    super(problem.reason);
  }
}

const fault = (line: number, reason: string, column?: string): RowFault =>
  new RowFault({ line, reason, ...(column !== undefined ? { column } : {}) });

/** A label keeps the form it has: `73` becomes 73, `s002` and `073` stay strings (round-trip safe). */
export function parseLabel(cell: string): Label {
  const s = cell.trim();
  if (s === "") return s;
  const n = Number(s);
  return Number.isFinite(n) && String(n) === s ? n : s;
}

function parseTime(
  record: readonly string[],
  index: number,
  line: number,
  columns: readonly string[],
): number {
  const cell = record[index];
  const column = columns[index];
  if (cell === undefined || cell.trim() === "") throw fault(line, "missing time", column);
  const v = Number(cell);
  if (!Number.isFinite(v)) throw fault(line, `"${cell.trim()}" is not a number`, column);
  return v;
}

function readLabel(
  record: readonly string[],
  index: number | undefined,
  line: number,
  columns: readonly string[],
): Label | undefined {
  if (index === undefined) return undefined;
  const cell = record[index];
  if (cell === undefined || cell.trim() === "") throw fault(line, "missing label", columns[index]);
  return parseLabel(cell);
}

// Milliseconds kept to the microsecond, so seconds × 1000 does not leave binary noise (149.10000000000002).
const ms = (v: number): number => Math.round(v * 1000) / 1000;

function wideSample(
  plan: WidePlan,
  record: readonly string[],
  line: number,
  columns: readonly string[],
  file: string,
): Sample {
  const n = plan.press.length;
  const press = new Array<number>(n);
  const release = new Array<number>(n);
  for (let k = 0; k < n; k++) {
    press[k] = parseTime(record, plan.press[k]!, line, columns);
    release[k] = parseTime(record, plan.release[k]!, line, columns);
  }
  const problem = findSampleProblem(press, release);
  if (problem) {
    const col =
      problem.which === "press"
        ? columns[plan.press[problem.index]!]
        : problem.which === "release"
          ? columns[plan.release[problem.index]!]
          : undefined;
    throw fault(line, problem.message, col);
  }
  const label = readLabel(record, plan.label, line, columns);
  return { ...(label !== undefined ? { label } : {}), press, release, source: { file, line } };
}

// UD is redundant (DD − H); a disagreement beyond rounding means the columns are shifted or corrupt.
const UD_TOLERANCE_S = 0.001;

function derivedSample(
  plan: DerivedPlan,
  record: readonly string[],
  line: number,
  columns: readonly string[],
  file: string,
): Sample {
  const n = plan.keyNames.length;
  const press = new Array<number>(n);
  const release = new Array<number>(n);
  let at = 0;
  for (let k = 0; k < n; k++) {
    const h = parseTime(record, plan.hold[k]!, line, columns);
    if (h < 0)
      throw fault(
        line,
        `negative hold time ${h} s: the key is released before it is pressed`,
        columns[plan.hold[k]!],
      );
    press[k] = at;
    release[k] = ms(at + h * 1000);
    if (!(release[k]! <= MAX_TIME))
      throw fault(line, `hold time ${h} s puts the release beyond ${MAX_TIME} ms`, columns[plan.hold[k]!]);
    if (k + 1 < n) {
      const dd = parseTime(record, plan.dd[k]!, line, columns);
      if (dd < 0)
        throw fault(
          line,
          `negative press–press time ${dd} s: key ${k + 1} is pressed before the previous key`,
          columns[plan.dd[k]!],
        );
      if (plan.ud[k]! >= 0) {
        const ud = parseTime(record, plan.ud[k]!, line, columns);
        if (Math.abs(ud - (dd - h)) > UD_TOLERANCE_S) {
          throw fault(
            line,
            `UD ${ud} s disagrees with DD − H = ${+(dd - h).toFixed(6)} s`,
            columns[plan.ud[k]!],
          );
        }
      }
      at = ms(at + dd * 1000);
      if (!(at <= MAX_TIME))
        throw fault(
          line,
          `press–press time ${dd} s puts the next press beyond ${MAX_TIME} ms`,
          columns[plan.dd[k]!],
        );
    }
  }
  const label = readLabel(record, plan.label, line, columns);
  const sample: Sample = {
    ...(label !== undefined ? { label } : {}),
    press,
    release,
    keys: plan.keyNames.slice(),
    source: { file, line },
  };
  if (plan.session !== undefined && record[plan.session] !== undefined)
    sample.session = parseLabel(record[plan.session]!);
  if (plan.rep !== undefined) {
    const rep = Number(record[plan.rep]);
    if (record[plan.rep]?.trim() && Number.isFinite(rep)) sample.rep = rep;
  }
  return sample;
}

interface PendingEvent {
  key: string;
  press: number;
  release: number;
  line: number;
}

/** The events of one (user, sample) while they are being read. */
interface EventGroup {
  id: string;
  firstLine: number;
  label?: Label;
  session: Label;
  events: PendingEvent[];
  problem?: RowProblem;
}

function eventsSample(group: EventGroup, file: string): Sample {
  // A bad event spoils its whole sample: dropping just that key would leave a plausible-looking wrong sample.
  if (group.problem) throw new RowFault(group.problem);
  // Loggers often write a row when the key is released, so overlapping keys arrive out of press order.
  const events = group.events.slice().sort((a, b) => a.press - b.press);
  const press = events.map((e) => e.press);
  const release = events.map((e) => e.release);
  const problem = findSampleProblem(press, release);
  if (problem) {
    const ev = problem.index >= 0 ? events[problem.index]! : undefined;
    throw fault(ev?.line ?? group.firstLine, problem.message, ev ? problem.which : undefined);
  }
  return {
    ...(group.label !== undefined ? { label: group.label } : {}),
    press,
    release,
    keys: events.map((e) => e.key),
    session: group.session,
    source: { file, line: group.firstLine },
  };
}

async function openInput(input: string | NodeJS.ReadableStream, name: string): Promise<Readable> {
  if (typeof input !== "string") return input instanceof Readable ? input : new Readable().wrap(input);
  try {
    const s = await stat(input);
    if (s.isDirectory()) throw new KeystrokeError("IO", "is a directory, not a CSV file", { file: name });
  } catch (e) {
    if (e instanceof KeystrokeError) throw e;
    throw readError(name, e);
  }
  return createReadStream(input, { highWaterMark: 1 << 16 });
}

/** streaming: yields samples as they are parsed; header info available via the callback before the first sample */
export async function* readSamples(
  input: string | NodeJS.ReadableStream,
  options: ReadOptions & { onHeader?: (h: DatasetHeader) => void } = {},
): AsyncGenerator<Sample> {
  const file = options.name ?? (typeof input === "string" ? input : "<stdin>");
  const source = await openInput(input, file);

  let plan: ColumnPlan | undefined;
  let columns: string[] = [];
  let firstLength: { keys: number; line: number } | undefined;
  let group: EventGroup | undefined;
  const finished = new Map<string, number>();

  const skipInvalid =
    options.onInvalid === "skip" || (options.onInvalid === undefined && options.skipInvalid === true);
  const reject = (p: RowProblem): void => {
    if (!skipInvalid)
      throw new KeystrokeError("BAD_ROW", p.reason, {
        file,
        line: p.line,
        ...(p.column !== undefined ? { column: p.column } : {}),
      });
    const s: SkippedRow = {
      line: p.line,
      ...(p.column !== undefined ? { column: p.column } : {}),
      reason: p.reason,
    };
    options.onSkip?.(s);
  };
  // Applies the checks common to every layout; returns the sample or undefined when it was skipped.
  const accept = (sample: Sample): Sample | undefined => {
    if (options.equalLength) {
      const n = sample.press.length;
      if (!firstLength) firstLength = { keys: n, line: sample.source!.line };
      else if (n !== firstLength.keys) {
        reject({
          line: sample.source!.line,
          reason: `sample has ${n} keys but the first sample (line ${firstLength.line}) has ${firstLength.keys}; the timings feature set needs samples of equal length`,
        });
        return undefined;
      }
    }
    return sample;
  };
  const closeGroup = (): Sample | undefined => {
    const g = group;
    if (!g) return undefined;
    group = undefined;
    finished.set(g.id, g.events.length ? g.events[g.events.length - 1]!.line : g.firstLine);
    try {
      return accept(eventsSample(g, file));
    } catch (e) {
      if (!(e instanceof RowFault)) throw e;
      reject(e.problem);
      return undefined;
    }
  };

  try {
    for await (const { record, line } of csvRecords(source, file)) {
      if (!plan) {
        const detected = detectHeader(record, file);
        if (options.requireLabel && detected.header.labelColumn === undefined) {
          throw new KeystrokeError(
            "BAD_HEADER",
            `has no label column (${LABEL_COLUMNS.join(", ")}; any case)`,
            { file, line },
            {
              suggestion: "training and evaluation need to know who typed each sample",
            },
          );
        }
        plan = detected.plan;
        columns = detected.columns;
        options.onHeader?.(detected.header);
        continue;
      }
      if (plan.layout === "events") {
        const s = addEvent(plan, record, line);
        if (s) yield s;
        continue;
      }
      try {
        if (record.length !== columns.length)
          throw fault(line, `row has ${record.length} field(s) but the header has ${columns.length}`);
        if (plan.layout === "wide") {
          const s = accept(wideSample(plan, record, line, columns, file));
          if (s) yield s;
        } else {
          const s = accept(derivedSample(plan, record, line, columns, file));
          if (s) yield s;
        }
      } catch (e) {
        if (!(e instanceof RowFault)) throw e;
        reject(e.problem);
      }
    }
    if (!plan) throw new KeystrokeError("BAD_HEADER", "is empty: no header line", { file });
    const last = closeGroup();
    if (last) yield last;
  } catch (e) {
    if (e instanceof KeystrokeError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code) throw new KeystrokeError("IO", `cannot be read (${code})`, { file }, { cause: e });
    throw e;
  } finally {
    source.destroy();
  }

  // Events of one sample arrive together; a group id that comes back means a mixed-up file. Every problem
  // of an event row is charged to its sample, so nothing here throws a RowFault.
  function addEvent(p: EventsPlan, record: readonly string[], line: number): Sample | undefined {
    const labelCell = p.label !== undefined ? (record[p.label] ?? "").trim() : "";
    const sampleCell = (record[p.sample] ?? "").trim();
    const id = `${labelCell}\u0000${sampleCell}`;
    let out: Sample | undefined;
    if (!group || group.id !== id) {
      out = closeGroup();
      const g: EventGroup = { id, firstLine: line, session: parseLabel(sampleCell), events: [] };
      group = g;
      const earlier = finished.get(id);
      if (earlier !== undefined) {
        g.problem = {
          line,
          reason: `events of sample ${sampleCell}${labelCell ? ` of user ${labelCell}` : ""} resume here after line ${earlier}; a sample's events must be consecutive rows`,
        };
      }
      charge(g, () => {
        const label = readLabel(record, p.label, line, columns);
        if (label !== undefined) g.label = label;
        if (sampleCell === "") throw fault(line, "missing sample id", columns[p.sample]);
      });
    }
    const g = group;
    charge(g, () => {
      if (record.length !== columns.length)
        throw fault(line, `row has ${record.length} field(s) but the header has ${columns.length}`);
      g.events.push({
        key: (record[p.key] ?? "").trim(),
        press: parseTime(record, p.press, line, columns),
        release: parseTime(record, p.release, line, columns),
        line,
      });
    });
    return out;
  }
}

function charge(group: EventGroup, step: () => void): void {
  try {
    step();
  } catch (e) {
    if (!(e instanceof RowFault)) throw e;
    group.problem ??= e.problem;
  }
}

/** whole file into memory (training, evaluation) */
export async function readDataset(
  input: string | NodeJS.ReadableStream,
  options: ReadOptions = {},
): Promise<Dataset> {
  const name = options.name ?? (typeof input === "string" ? input : "<stdin>");
  let header: DatasetHeader | undefined;
  const skipped: SkippedRow[] = [];
  const samples: Sample[] = [];
  const it = readSamples(input, {
    ...options,
    name,
    onHeader: (h) => (header = h),
    onSkip: (s) => {
      skipped.push(s);
      options.onSkip?.(s);
    },
  });
  for await (const s of it) samples.push(s);
  const h = header!;
  let keys = h.keys;
  let keyNames = h.keyNames;
  if (h.layout === "events" && samples.length > 0) {
    // Events fix no length in the header; when every sample agrees, later steps may rely on it.
    const n = samples[0]!.press.length;
    if (samples.every((s) => s.press.length === n)) {
      keys = n;
      const names = samples[0]!.keys!;
      if (samples.every((s) => s.keys!.every((k, i) => k === names[i]))) keyNames = names.slice();
    }
  }
  return {
    name,
    layout: h.layout,
    ...(h.labelColumn !== undefined ? { labelColumn: h.labelColumn } : {}),
    keys,
    ...(keyNames ? { keyNames } : {}),
    samples,
    skipped,
    labelled: h.labelColumn !== undefined,
  };
}

/** parse an in-memory CSV string (tests, HTTP bodies) */
export function parseDatasetText(text: string, options: ReadOptions = {}): Promise<Dataset> {
  return readDataset(Readable.from([text]), { name: "<text>", ...options });
}
