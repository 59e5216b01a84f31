import Table from "cli-table3";
import { color } from "./terminal.js";

/** How a table may be fitted to the terminal. */
export interface TableFit {
  /** Widest the table may be, in characters (default: the stream's columns when it is a terminal, else COLUMNS, else no limit). */
  maxWidth?: number;
  /** Column indexes in the order they are given up when the table is too wide (the first ones go first). */
  dropOrder?: readonly number[];
}

/** Renders rows as a boxed table for a person (the only place cli-table3 is used), dropping columns that do not fit. */
export function renderTable(
  head: string[],
  rows: Array<Array<string | number>>,
  stream: NodeJS.WriteStream = process.stdout,
  fit: TableFit = {},
): string {
  const c = color(stream);
  const cells = rows.map((row) => row.map((v) => (typeof v === "number" ? formatNumber(v) : v)));
  const maxWidth = fit.maxWidth ?? terminalWidth(stream);
  const keep = fitColumns(head, cells, maxWidth, fit.dropOrder ?? []);
  const table = new Table({
    head: keep.map((i) => c.bold(head[i]!)),
    style: { head: [], border: [] },
  });
  for (const row of cells) table.push(keep.map((i) => row[i] ?? ""));
  const dropped = head.filter((_, i) => !keep.includes(i));
  return (
    table.toString() +
    (dropped.length ? `\n${c.dim(`(not shown: ${dropped.join(", ")}; --output json has everything)`)}` : "")
  );
}

/** The width a table may take on this stream. */
export function terminalWidth(stream: { isTTY?: boolean; columns?: number } = process.stdout): number {
  if (stream.isTTY && stream.columns) return stream.columns;
  const env = Number(process.env.COLUMNS);
  return Number.isFinite(env) && env > 0 ? env : Infinity;
}

/** The indexes of the columns to show: all of them, minus columns in `dropOrder` until the table fits. */
export function fitColumns(
  head: readonly string[],
  rows: ReadonlyArray<ReadonlyArray<string>>,
  maxWidth: number,
  dropOrder: readonly number[],
): number[] {
  const width = (i: number) =>
    Math.max(visibleLength(head[i] ?? ""), ...rows.map((r) => visibleLength(r[i] ?? ""))) + 3; // padding and a border
  const keep = head.map((_, i) => i);
  const total = () => keep.reduce((s, i) => s + width(i), 1);
  for (const i of dropOrder) {
    if (total() <= maxWidth) break;
    const at = keep.indexOf(i);
    if (at >= 0) keep.splice(at, 1);
  }
  return keep;
}

function visibleLength(s: string): number {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\x1b\[[0-9;]*m/g, "").length;
}

/** A number as a person reads it in a table: 3 decimals for fractions, integers as they are. */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) < 1 ? v.toFixed(3) : v.toFixed(2);
}
