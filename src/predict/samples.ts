import type { Sample } from "../data/types.js";
import { ALGORITHMS, type Algorithm } from "../models/types.js";
import { errorAnswer, type RequestInput } from "./answer.js";

/** What a request needs of a model: the summary numbers, or a raw sample of this many keys. */
export type RequestShape = "summary" | number;

/** One answered sample of a file: its line, its label when the file has one, then the answer's fields or the error. */
export interface SampleAnswer {
  row: Record<string, unknown>;
  failed: boolean;
}

const PREDICT_COLUMNS = ["UserID", "Model", "features", "confidence", "model_version"];
const VERIFY_COLUMNS = [
  "UserID",
  "accepted",
  "anomaly_score",
  "confidence_score",
  "threshold",
  "detector",
  "features",
  "replay",
  "scripted",
  "reason",
];

/**
 * The columns of a table of answers: `keys` index a SampleAnswer row, `head` names them. The file's own
 * label column is `label` (the same name as in JSON), so it never collides with the answer's `UserID`.
 */
export function answerColumns(verifying: boolean, labelColumn?: string): { keys: string[]; head: string[] } {
  const middle = verifying ? VERIFY_COLUMNS : PREDICT_COLUMNS;
  const keys = ["line", ...(labelColumn !== undefined ? ["label"] : []), ...middle, "warnings", "error"];
  return { keys, head: keys };
}

/**
 * Answers every sample read from a file, in order, one row each; a sample that cannot be answered gets
 * an error row naming its line instead of stopping the others. `withLabel` says (once the header is
 * read) whether the file has a label column to carry along.
 */
export async function* answerSamples(
  samples: AsyncIterable<Sample>,
  answer: (value: unknown) => object | Promise<object>,
  withLabel: () => boolean,
): AsyncGenerator<SampleAnswer> {
  for await (const s of samples) {
    const line = s.source?.line;
    let a: object;
    let failed = false;
    try {
      a = await answer({ press: s.press, release: s.release });
    } catch (e) {
      failed = true;
      a = errorAnswer(e, line === undefined ? {} : { line });
    }
    yield { row: { line, ...(withLabel() ? { label: s.label } : {}), ...a }, failed };
  }
}

function requestValues(input: RequestInput): unknown[] {
  return input.form === "single"
    ? [input.value]
    : input.form === "batch"
      ? input.values
      : input.lines.map((l) => l.value);
}

/** The request shapes (summary, or a raw sample's key count) of a set of requests, so only their models are read; undefined when one is malformed. */
export function requestShapes(input: RequestInput): RequestShape[] | undefined {
  const shapes = new Set<RequestShape>();
  for (const v of requestValues(input)) {
    if (v === null || typeof v !== "object" || Array.isArray(v)) continue;
    const r = v as { press?: unknown; keystrokes?: unknown; HT?: unknown };
    if (Array.isArray(r.press)) shapes.add(r.press.length);
    else if (Array.isArray(r.keystrokes)) shapes.add(r.keystrokes.length);
    else if (r.HT !== undefined) shapes.add("summary");
    else return undefined; // malformed: load everything and let validation name the problem
  }
  return [...shapes];
}

/** The algorithms a set of requests will ask for, so only those models are read ("best" when one names none). */
export function requestAlgorithms(input: RequestInput): Array<Algorithm | "best"> {
  const wanted = new Set<Algorithm | "best">();
  for (const v of requestValues(input)) {
    if (v === null || typeof v !== "object" || Array.isArray(v)) continue;
    const m = (v as { Model?: unknown }).Model;
    if (m === undefined) wanted.add("best");
    else if (typeof m === "string" && (ALGORITHMS as readonly string[]).includes(m.toUpperCase()))
      wanted.add(m.toUpperCase() as Algorithm);
  }
  return [...wanted];
}
