import { csvCell } from "../data/feature-table.js";
import type { OutputFormat } from "../commands/options.js";
import { renderTable } from "./table.js";

/** One column of a record list: the record's key, and its header for people (default: the key). */
export interface RecordColumn {
  key: string;
  header?: string;
}

export interface RecordOptions {
  /** What `--output json` prints (the command's whole answer, e.g. `{ users, next }`); default: the rows. */
  json?: unknown;
  /** Columns for table and csv, in order (default: the first row's keys). */
  columns?: readonly RecordColumn[];
  /** One record shown as a two-column key/value table (for `show`). */
  vertical?: boolean;
}

/**
 * Writes records in the chosen output format: json (one document), ndjson (a line per record), csv (a header,
 * then a line per record) or a table fitted to the terminal for people. Nested values are JSON in a cell.
 */
export function writeRecords(
  out: NodeJS.WritableStream,
  format: OutputFormat,
  rows: ReadonlyArray<Record<string, unknown>>,
  options: RecordOptions = {},
): void {
  if (format === "json") {
    out.write(JSON.stringify(options.json ?? rows, null, 2) + "\n");
    return;
  }
  if (format === "ndjson") {
    for (const r of rows) out.write(JSON.stringify(r) + "\n");
    return;
  }
  const columns: readonly RecordColumn[] =
    options.columns ?? Object.keys(rows[0] ?? {}).map((key) => ({ key }));
  if (format === "csv") {
    out.write(columns.map((c) => csvCell(c.key)).join(",") + "\n");
    for (const r of rows)
      out.write(
        columns
          .map((c) => csvCell(r[c.key] === undefined || r[c.key] === null ? "" : text(r[c.key])))
          .join(",") + "\n",
      );
    return;
  }
  const stream = out as NodeJS.WriteStream;
  if (options.vertical) {
    const table = rows.flatMap((r) =>
      Object.entries(r).map(([k, v]): Array<string | number> => [k, typeof v === "number" ? v : text(v)]),
    );
    out.write(renderTable(["field", "value"], table, stream) + "\n");
    return;
  }
  const table = rows.map((r) =>
    columns.map((c): string | number => {
      const v = r[c.key];
      return typeof v === "number" ? v : text(v);
    }),
  );
  out.write(
    renderTable(
      columns.map((c) => c.header ?? c.key),
      table,
      stream,
      { dropOrder: columns.map((_, i) => columns.length - 1 - i).slice(0, -1) },
    ) + "\n",
  );
}

function text(v: unknown): string {
  if (v === undefined || v === null) return "-";
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint") return String(v);
  return JSON.stringify(v);
}
