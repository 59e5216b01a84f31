import Table from "cli-table3";
import { color } from "./terminal.js";

/** Renders rows as a boxed table for a person (the only place cli-table3 is used). */
export function renderTable(head: string[], rows: Array<Array<string | number>>, stream: NodeJS.WriteStream = process.stdout): string {
  const c = color(stream);
  const table = new Table({
    head: head.map((h) => c.bold(h)),
    style: { head: [], border: [] },
  });
  for (const row of rows) table.push(row.map((v) => (typeof v === "number" ? formatNumber(v) : v)));
  return table.toString();
}

/** A number as a person reads it in a table: 3 decimals for fractions, integers as they are. */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) < 1 ? v.toFixed(3) : v.toFixed(2);
}
