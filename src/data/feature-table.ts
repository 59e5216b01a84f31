import { KeystrokeError } from "../errors.js";
import { extractFeatures, featureNames, type FeatureSetName } from "../features/index.js";
import type { DatasetHeader } from "./header.js";
import { readSamples, type ReadOptions } from "./read.js";
import type { Label, Sample } from "./types.js";

/** Output formats of a feature table. */
export type FeatureFormat = "csv" | "json" | "ndjson";
export const FEATURE_FORMATS: readonly FeatureFormat[] = ["csv", "json", "ndjson"];

export interface FeatureTableOptions extends ReadOptions {
  set: FeatureSetName;
  format: FeatureFormat;
}

/** What writing a feature table produced. */
export interface FeatureTableResult {
  header: DatasetHeader;
  /** Output column names, the label column first when there is one. */
  columns: string[];
  rows: number;
  skipped: number;
}

/** A CSV cell: quoted only when it has to be. */
export function csvCell(value: string | number): string {
  const s = String(value);
  return /[",\r\n]/.test(s) || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * A feature value as text, rounded to 1e-9 ms: finer digits are only the binary noise of decimal inputs
 * (seconds × 1000 gives 94.30000000000001), far below any clock's resolution. Short values take the fast path.
 */
export function formatValue(v: number): string {
  return Number.isInteger(v) || !Number.isFinite(v) ? String(v) : String(Math.round(v * 1e9) / 1e9);
}

/** Column names of a feature table: the label column (named as in the input) first, then the features. */
export function featureColumns(
  set: FeatureSetName,
  keys: number,
  header: Pick<DatasetHeader, "labelColumn" | "keyNames">,
): string[] {
  const names = featureNames(set, keys, header.keyNames);
  return header.labelColumn !== undefined ? [header.labelColumn, ...names] : names;
}

/** Turns samples into text lines of one format; holds nothing but the column names. */
class RowFormatter {
  private readonly quotedNames: string[];
  private first = true;

  constructor(
    private readonly format: FeatureFormat,
    readonly columns: string[],
    private readonly labelled: boolean,
  ) {
    this.quotedNames = columns.map((c) => JSON.stringify(c) + ":");
  }

  /** Text before the first row. */
  start(): string {
    if (this.format === "csv") return this.columns.map(csvCell).join(",") + "\n";
    return this.format === "json" ? "[" : "";
  }

  row(label: Label | undefined, values: readonly number[]): string {
    if (this.format === "csv") {
      const cells = values.map(formatValue).join(",");
      return (this.labelled ? csvCell(label ?? "") + "," + cells : cells) + "\n";
    }
    let o = "{";
    let c = 0;
    if (this.labelled) o += this.quotedNames[c++] + JSON.stringify(label ?? null) + ",";
    for (let i = 0; i < values.length; i++)
      o +=
        (i ? "," : "") +
        this.quotedNames[c++] +
        (Number.isFinite(values[i]) ? formatValue(values[i]!) : "null");
    o += "}";
    if (this.format === "ndjson") return o + "\n";
    const sep = this.first ? "\n" : ",\n";
    this.first = false;
    return sep + o;
  }

  end(): string {
    return this.format === "json" ? (this.first ? "]\n" : "\n]\n") : "";
  }
}

// Output goes out in chunks of about this many characters: one write per row costs more than the features.
const CHUNK = 1 << 16;

async function writeChunk(out: NodeJS.WritableStream, text: string): Promise<void> {
  // A reader that went away (`| head`) destroys the stream; stop reading input rather than write into nothing.
  if ((out as { destroyed?: boolean }).destroyed)
    throw new KeystrokeError("IO", "output closed before all rows were written");
  if (out.write(text)) return;
  await new Promise<void>((resolve, reject) => {
    const done = (e?: Error): void => {
      out.removeListener("drain", onDrain);
      out.removeListener("error", onError);
      out.removeListener("close", onClose);
      if (e) reject(e);
      else resolve();
    };
    const onDrain = (): void => done();
    const onError = (e: Error): void => done(e);
    const onClose = (): void => done(new KeystrokeError("IO", "output closed before all rows were written"));
    out.on("drain", onDrain);
    out.on("error", onError);
    out.on("close", onClose);
  });
}

/**
 * Streams the feature table of a keystroke CSV to `out` in bounded memory: reads samples one by one,
 * extracts the chosen set and writes csv, one JSON array, or NDJSON. The timings set requires equal
 * sample lengths (the first sample fixes it). Does not end `out`.
 */
export async function writeFeatureTable(
  input: string | NodeJS.ReadableStream,
  out: NodeJS.WritableStream,
  options: FeatureTableOptions,
): Promise<FeatureTableResult> {
  if (!FEATURE_FORMATS.includes(options.format))
    throw new KeystrokeError(
      "BAD_FLAG",
      `"${options.format}" is not a format (${FEATURE_FORMATS.join(", ")})`,
      { option: "format" },
    );
  let header: DatasetHeader | undefined;
  let skipped = 0;
  let formatter: RowFormatter | undefined;
  let buf = "";
  let rows = 0;
  const open = (keys: number): RowFormatter => {
    const h = header!;
    // Key names of events differ from sample to sample, so only indices name their columns.
    const f = new RowFormatter(
      options.format,
      featureColumns(
        options.set,
        keys,
        h.layout === "events"
          ? { ...(h.labelColumn !== undefined ? { labelColumn: h.labelColumn } : {}) }
          : h,
      ),
      h.labelColumn !== undefined,
    );
    buf += f.start();
    return f;
  };
  const samples = readSamples(input, {
    ...options,
    equalLength: options.equalLength ?? options.set === "timings",
    onHeader: (h) => (header = h),
    onSkip: (s) => {
      skipped++;
      options.onSkip?.(s);
    },
  });
  for await (const s of samples as AsyncIterable<Sample>) {
    formatter ??= open(s.press.length);
    buf += formatter.row(s.label, extractFeatures(s, options.set));
    rows++;
    if (buf.length >= CHUNK) {
      await writeChunk(out, buf);
      buf = "";
    }
  }
  // With no sample at all, the header alone still says what the columns would be (when it can know).
  formatter ??= header!.keys !== undefined || options.set === "summary" ? open(header!.keys ?? 0) : undefined;
  if (formatter) buf += formatter.end();
  else if (options.format === "json") buf += "[]\n";
  if (buf) await writeChunk(out, buf);
  return { header: header!, columns: formatter?.columns ?? [], rows, skipped };
}
