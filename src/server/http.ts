import { KeystrokeError } from "../errors.js";
import {
  errorAnswer,
  isErrorAnswer,
  parseJson,
  type ErrorAnswer,
  type OpenSetAnswer,
  type PredictAnswer,
} from "../predict/index.js";
import type { VerificationResult } from "../verify/types.js";
import type { ServerMetrics } from "./metrics.js";

/** Marks a body that came as NDJSON (one request per line) rather than JSON. */
export class NdjsonBody {
  constructor(readonly text: string) {}
}

/** The non-blank lines of an NDJSON body with their 1-based line numbers. */
export function ndjsonRows(text: string): Array<{ line: number; text: string }> {
  const rows: Array<{ line: number; text: string }> = [];
  text.split("\n").forEach((row, i) => {
    if (row.trim() !== "") rows.push({ line: i + 1, text: row });
  });
  return rows;
}

/** Answers NDJSON rows one by one (in order); a bad line gets an error object on its line. */
export async function ndjson(
  rows: ReadonlyArray<{ line: number; text: string }>,
  answer: (value: unknown) => unknown,
): Promise<string> {
  let out = "";
  for (const { line, text } of rows) {
    let a: unknown;
    try {
      a = await answer(parseJson(text, { line }));
    } catch (e) {
      a = errorAnswer(e, { line });
    }
    out += JSON.stringify(a) + "\n";
  }
  return out;
}

/** Throws BAD_REQUEST when a batch holds more requests than allowed; a batch is refused whole, never half answered. */
export function checkBatch(n: number, max: number): void {
  if (n > max)
    throw new KeystrokeError(
      "BAD_REQUEST",
      `a batch holds at most ${max} requests (serve --max-batch); this one has ${n}`,
      { field: "body" },
    );
}

/** Counts an identification answer (or the error in its place) in the metrics. */
export function count<A extends PredictAnswer | OpenSetAnswer | ErrorAnswer>(
  metrics: ServerMetrics,
  a: A,
): A {
  if (isErrorAnswer(a)) countError(metrics, a);
  else metrics.predictions.inc({ model: a.Model, features: a.features });
  return a;
}

/** Counts a refused request of a batch in the metrics. */
export function countError(metrics: ServerMetrics, a: ErrorAnswer): ErrorAnswer {
  metrics.rejected.inc({ reason: a.code });
  return a;
}

/** Counts a verification decision (and its replay/scripted flags) in the metrics. */
export function countVerify(metrics: ServerMetrics, r: VerificationResult): VerificationResult {
  metrics.verifications.inc({ accepted: String(r.accepted) });
  if (r.replay) metrics.flagged.inc({ kind: "replay" });
  if (r.scripted) metrics.flagged.inc({ kind: "scripted" });
  return r;
}

/** `?explain=true` (or 1): add explanations to verification answers; BAD_REQUEST naming `explain` for another value. */
export function explainQuery(query: unknown): boolean {
  const v = (query as Record<string, unknown> | undefined)?.explain;
  if (v === undefined || v === "false" || v === "0") return false;
  if (v === "true" || v === "1" || v === "") return true;
  throw new KeystrokeError("BAD_REQUEST", `must be true or false, got ${JSON.stringify(v)}`, {
    field: "explain",
  });
}
