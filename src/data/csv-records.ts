import { Readable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import { KeystrokeError } from "../errors.js";

/** One CSV record and the 1-based physical line it ends on. */
export interface CsvRecord {
  record: string[];
  line: number;
}

/**
 * Streams the records of a CSV input, skipping empty lines. Keystroke files are plain numbers, so lines
 * are split on commas directly (about ten times faster than a general parser); from the first quote
 * character on, the rest of the input goes through csv-parse, which handles quoting and embedded newlines.
 */
export async function* csvRecords(source: Readable, file: string): AsyncGenerator<CsvRecord> {
  const it = source[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  const decoder = new StringDecoder("utf8");
  const decode = (chunk: Buffer | string): string =>
    typeof chunk === "string" ? chunk : decoder.write(chunk);
  let rest = "";
  let line = 0;
  let first = true;
  for (;;) {
    const next = await it.next();
    let text = next.done ? rest + decoder.end() : rest + decode(next.value);
    if (first && text.length > 0) {
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      first = false;
    }
    if (text.includes('"')) {
      // a quoted field: the rest goes through csv-parse
      rest = text;
      break;
    }
    let start = 0;
    let nl: number;
    while ((nl = text.indexOf("\n", start)) >= 0) {
      line++;
      const end = nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      if (end > start) yield { record: text.slice(start, end).split(","), line };
      start = nl + 1;
    }
    rest = text.slice(start);
    if (next.done) {
      if (rest.length > 0) {
        line++;
        const end = rest.charCodeAt(rest.length - 1) === 13 ? rest.length - 1 : rest.length;
        if (end > 0) yield { record: rest.slice(0, end).split(","), line };
      }
      return;
    }
  }

  // csv-parse counts lines from where it starts; `line` lines were already read above.
  const offset = line;
  const tail = Readable.from(
    (async function* () {
      yield rest;
      for (;;) {
        const next = await it.next();
        if (next.done) break;
        yield decode(next.value);
      }
      const end = decoder.end();
      if (end) yield end;
    })(),
  );
  // Loaded only when needed: plain numeric files, the common case, start faster without it.
  const { parse, CsvError } = await import("csv-parse");
  const parser = parse({ info: true, skip_empty_lines: true, relax_column_count: true });
  tail.on("error", (e) => parser.destroy(e));
  tail.pipe(parser);
  try {
    for await (const item of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      yield { record: item.record, line: offset + item.info.lines };
    }
  } catch (e) {
    if (e instanceof CsvError) {
      const at = (e as { lines?: number }).lines;
      throw new KeystrokeError(
        "BAD_ROW",
        `not valid CSV: ${e.message.replace(/ at line \d+/, "")}`,
        { file, ...(at !== undefined ? { line: offset + at } : {}) },
        { cause: e },
      );
    }
    throw e;
  } finally {
    tail.destroy();
    parser.destroy();
  }
}
