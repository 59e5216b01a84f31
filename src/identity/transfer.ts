import { KeystrokeError } from "../errors.js";
import type { IdentityWrite, Store } from "../store/index.js";
import type { PopulationStats, Template } from "../verify/types.js";
import { sampleHash, userKey } from "./service.js";

/** The first line of an export. */
export const EXPORT_FORMAT = "keystroke-id/identities";

/** One line of an export (NDJSON): the header, a population, or a user with their template and samples. */
export type ExportLine =
  | { format: typeof EXPORT_FORMAT; version: 1; exported_at: string }
  | { kind: "population"; pid: number; current: boolean; stats: PopulationStats }
  | {
      kind: "user";
      id: string;
      template: Template;
      samples: number[][];
      population: number | null;
      enrolled_at: number;
      updated_at: number;
    };

/**
 * Exports a store (or one user) as NDJSON lines, page by page (never every user in memory): the header,
 * the populations (bounded), then each user. Replay hashes and the audit log stay behind.
 */
export async function* exportStore(store: Store, options: { user?: string } = {}): AsyncGenerator<string> {
  yield JSON.stringify({ format: EXPORT_FORMAT, version: 1, exported_at: new Date().toISOString() }) + "\n";
  const wanted = options.user !== undefined ? await store.identities.get(options.user) : null;
  for (const p of await store.policy.populations()) {
    if (options.user !== undefined && wanted?.populationId !== p.id) continue;
    yield JSON.stringify({ kind: "population", pid: p.id, current: p.current, stats: p.stats }) + "\n";
  }
  const one = async (id: string) => {
    const u = await store.identities.get(id);
    if (!u) return null;
    return (
      JSON.stringify({
        kind: "user",
        id,
        template: u.template,
        samples: await store.identities.samples(id),
        population: u.populationId,
        enrolled_at: u.enrolledAt,
        updated_at: u.updatedAt,
      }) + "\n"
    );
  };
  if (options.user !== undefined) {
    const line = await one(options.user);
    if (!line) throw new KeystrokeError("UNKNOWN_USER", `user ${options.user} is not enrolled`);
    yield line;
    return;
  }
  let after: string | undefined;
  for (;;) {
    // a page of 500 users in two queries (templates, then their samples), not two queries per user
    const page = await store.identities.dump({ ...(after !== undefined ? { after } : {}), limit: 500 });
    if (page.length === 0) break;
    for (const u of page)
      yield (
        JSON.stringify({
          kind: "user",
          id: u.id,
          template: u.template,
          samples: u.samples,
          population: u.populationId,
          enrolled_at: u.enrolledAt,
          updated_at: u.updatedAt,
        }) + "\n"
      );
    after = page.at(-1)!.id;
  }
}

/** What an import did. */
export interface ImportReport {
  users: number;
  populations: number;
  /** Users the store had already, replaced by the import's. */
  replaced: number;
}

/** Users written per transaction by an import. */
export const IMPORT_BATCH = 2000;

/**
 * Imports NDJSON lines of an export into a store (SQLite or PostgreSQL alike), IMPORT_BATCH users per
 * transaction (a handful of multi-row statements each, see putMany), inside `store.bulk`. A user already in
 * the store is replaced (the export is the truth being restored), so importing a file again is safe.
 * Every line of a batch is checked before the batch is written, and a batch is written whole or not at
 * all: an import that stops (a bad line is BAD_ROW naming the file and line; a store error keeps its
 * code) wrote every user before the batch it stopped in and nothing after, and its error says how many
 * users and up to which line. The populations are written with the first batch.
 */
export async function importStore(
  store: Store,
  lines: AsyncIterable<string>,
  options: { file?: string; instance?: string; batch?: number } = {},
): Promise<ImportReport> {
  const file = options.file ?? "<stdin>";
  const batchSize = options.batch ?? IMPORT_BATCH;
  const pids = new Map<number, number>();
  const pendingPopulations: Array<Extract<ExportLine, { kind: "population" }>> = [];
  const report: ImportReport = { users: 0, populations: 0, replaced: 0 };
  let batch: IdentityWrite[] = [];
  let lastWrittenLine = 0;
  let n = 0;
  const flush = async () => {
    if (!batch.length && !pendingPopulations.length) return;
    // populations (bounded: a few lines at the top) land with the first batch, not before it is checked
    for (const p of pendingPopulations.splice(0)) {
      pids.set(p.pid, await store.policy.addPopulation(p.stats, Date.now(), Boolean(p.current)));
      report.populations++;
    }
    for (const w of batch) w.populationId = w.populationId === null ? null : pids.get(w.populationId)!;
    const written = batch.length ? await store.identities.putMany(batch) : [];
    report.users += written.length;
    report.replaced += written.filter((w) => w && !w.created).length;
    lastWrittenLine = n;
    batch = [];
  };
  const seen = new Set<number>();
  try {
    await store.bulk(async () => {
      let headerSeen = false;
      for await (const raw of lines) {
        n++;
        if (raw.trim() === "") continue;
        let line: ExportLine;
        try {
          line = JSON.parse(raw) as ExportLine;
        } catch (e) {
          throw new KeystrokeError(
            "BAD_ROW",
            `not JSON (${(e as Error).message})`,
            { file, line: n },
            { cause: e },
          );
        }
        if (!headerSeen) {
          if (!line || (line as { format?: unknown }).format !== EXPORT_FORMAT)
            throw new KeystrokeError(
              "BAD_ROW",
              `not a keystroke-id export (the first line must be {"format":"${EXPORT_FORMAT}",…})`,
              { file, line: n },
            );
          if ((line as { version?: unknown }).version !== 1)
            throw new KeystrokeError(
              "BAD_ROW",
              `export version ${String((line as { version?: unknown }).version)} is newer than this keystroke-id reads (1)`,
              { file, line: n },
            );
          headerSeen = true;
          continue;
        }
        const kind = (line as { kind?: unknown } | null)?.kind;
        if (kind === "population") {
          const p = line as Extract<ExportLine, { kind: "population" }>;
          if (!p.stats || typeof p.stats.nFeatures !== "number" || typeof p.pid !== "number")
            throw new KeystrokeError("BAD_ROW", "population without pid or stats", { file, line: n });
          if (report.users > 0 || batch.length > 0)
            throw new KeystrokeError("BAD_ROW", "a population after users: populations come first", {
              file,
              line: n,
            });
          pendingPopulations.push(p);
          seen.add(p.pid);
        } else if (kind === "user") {
          const u = line as Extract<ExportLine, { kind: "user" }>;
          const t = u.template;
          if (
            typeof u.id !== "string" ||
            !isTemplate(t) ||
            !Array.isArray(u.samples) ||
            !u.samples.every(
              (v) => Array.isArray(v) && v.length === t.nFeatures && v.every((x) => Number.isFinite(x)),
            )
          ) {
            throw new KeystrokeError(
              "BAD_ROW",
              "user line needs id, template (detector, n, nFeatures, threshold) and samples (each of the template's nFeatures timings)",
              { file, line: n },
            );
          }
          const id = userKey(u.id, { field: `line ${n}: id` });
          const texts = storedTexts(raw, u);
          if (texts === null || MAY_OVERFLOW.test(texts.template)) {
            const bad = nonFinite(t, "template");
            if (bad !== null)
              throw new KeystrokeError("BAD_ROW", `${bad} is not a finite number`, { file, line: n });
          }
          if (u.population !== null && !seen.has(u.population))
            throw new KeystrokeError(
              "BAD_ROW",
              `names population ${u.population}, which no earlier line gives`,
              { file, line: n },
            );
          const now = Date.now();
          batch.push({
            id,
            template: t,
            // the export's population id, mapped to the store's at flush
            populationId: u.population,
            samples: u.samples,
            ...(texts ? { templateText: texts.template, sampleTexts: texts.samples } : {}),
            sampleHashes: u.samples.map(sampleHash),
            audit: {
              id,
              at: now,
              action: "import",
              outcome: "ok",
              score: t.threshold,
              instance: options.instance ?? "import",
              detail: file,
            },
            now,
            enrolledAt: Number(u.enrolled_at) || now,
            updatedAt: Number(u.updated_at) || now,
          });
          if (batch.length >= batchSize) await flush();
        } else {
          throw new KeystrokeError("BAD_ROW", `unknown line kind ${JSON.stringify(kind)}`, { file, line: n });
        }
      }
      if (!headerSeen) throw new KeystrokeError("BAD_ROW", "is empty: not a keystroke-id export", { file });
      await flush();
    });
  } catch (e) {
    throw stopped(e, report, lastWrittenLine, file);
  }
  return report;
}

/** The fields a stored template needs, of the right types (finite numbers, whole counts). */
function isTemplate(t: unknown): t is Template {
  if (typeof t !== "object" || t === null || Array.isArray(t)) return false;
  const x = t as Partial<Template>;
  return (
    typeof x.detector === "string" &&
    Number.isInteger(x.n) &&
    x.n! >= 0 &&
    Number.isInteger(x.nFeatures) &&
    x.nFeatures! > 0 &&
    Number.isFinite(x.threshold)
  );
}

/** The path of the first number in `x` that is not finite (JSON's 1e999 parses to Infinity), or null. */
function nonFinite(x: unknown, path: string): string | null {
  if (typeof x === "number") return Number.isFinite(x) ? null : path;
  if (Array.isArray(x)) {
    for (let i = 0; i < x.length; i++) {
      const bad = nonFinite(x[i], `${path}[${i}]`);
      if (bad !== null) return bad;
    }
  } else if (typeof x === "object" && x !== null) {
    for (const [k, v] of Object.entries(x)) {
      const bad = nonFinite(v, `${path}.${k}`);
      if (bad !== null) return bad;
    }
  }
  return null;
}

// In compact JSON a number can only exceed 1.8e308 (and parse to Infinity) with an exponent of three digits
// or a run of hundreds of digits: text without either needs no walk through its numbers.
const MAY_OVERFLOW = /[eE][+-]?\d{3}|[,:[]-?\d{200}/;

/**
 * The texts to store for a user line that JSON.parse has read and the caller has checked: its template and
 * its samples, cut out of the line itself when the line is compact JSON as an export writes it (serialising
 * them again gives the same text, and took a quarter of an import's time). Null for any other line (spaces
 * between tokens, escaped keys, a template carrying its own `samples`): the store serialises those.
 */
function storedTexts(
  raw: string,
  u: { template: Template; samples: number[][] },
): { template: string; samples: string[] } | null {
  if (Object.hasOwn(u.template, "samples")) return null;
  const spans = compactSpans(raw, ["template", "samples"]);
  const t = spans?.get("template");
  const s = spans?.get("samples");
  if (!t || !s) return null;
  // samples were checked to be arrays of numbers: in compact text their elements are split by "],["
  const inner = raw.slice(s[0] + 1, s[1] - 1);
  const samples = inner === "" ? [] : inner.split("],[");
  if (samples.length !== u.samples.length) return null;
  const last = samples.length - 1;
  for (let i = 0; i <= last; i++) samples[i] = `${i === 0 ? "" : "["}${samples[i]}${i === last ? "" : "]"}`;
  return { template: raw.slice(t[0], t[1]), samples };
}

// everything but strings' quotes, brackets and whitespace: numbers, literals, commas and colons
const PLAIN = /[^"{}[\]\s]*/y;
// where a number or literal ends
const SCALAR_END = /[,}\]\s]|$/g;

/** The index after the string that starts (with its quote) at `i`. */
function endOfString(text: string, i: number): number {
  for (let j = i + 1; ;) {
    const q = text.indexOf('"', j);
    if (q < 0) return -1;
    let b = q - 1;
    while (text.charCodeAt(b) === 92) b--;
    // an even number of backslashes before the quote: it ends the string
    if ((q - 1 - b) % 2 === 0) return q + 1;
    j = q + 1;
  }
}

/** The index after the value that starts at `i` in valid JSON text; -1 on whitespace between its tokens. */
function endOfValue(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === 34) return endOfString(text, i);
  if (c !== 123 && c !== 91) {
    SCALAR_END.lastIndex = i;
    const m = SCALAR_END.exec(text)!;
    return /\s/.test(m[0]) ? -1 : m.index;
  }
  let depth = 0;
  let j = i;
  while (j < text.length) {
    const ch = text.charCodeAt(j);
    if (ch === 34) {
      j = endOfString(text, j);
      if (j < 0) return -1;
    } else if (ch === 123 || ch === 91) {
      depth++;
      j++;
    } else if (ch === 125 || ch === 93) {
      if (--depth === 0) return j + 1;
      j++;
    } else return -1; // whitespace: PLAIN stops only at brackets, quotes and whitespace
    PLAIN.lastIndex = j;
    PLAIN.test(text);
    j = PLAIN.lastIndex;
  }
  return -1;
}

/**
 * Where the values of `keys` start and end in the text of a JSON object that JSON.parse has read, when it is
 * compact (no whitespace between tokens, no escaped keys); the last of a repeated key, as JSON.parse takes.
 * Null for any other text.
 */
export function compactSpans(text: string, keys: readonly string[]): Map<string, [number, number]> | null {
  const spans = new Map<string, [number, number]>();
  if (text.charCodeAt(0) !== 123) return null;
  if (text === "{}") return spans;
  for (let i = 1; ;) {
    if (text.charCodeAt(i) !== 34) return null;
    const keyEnd = endOfString(text, i);
    if (keyEnd < 0 || text.charCodeAt(keyEnd) !== 58) return null;
    const key = text.slice(i + 1, keyEnd - 1);
    if (key.includes("\\")) return null;
    const valueEnd = endOfValue(text, keyEnd + 1);
    if (valueEnd < 0) return null;
    if (keys.includes(key)) spans.set(key, [keyEnd + 1, valueEnd]);
    const next = text.charCodeAt(valueEnd);
    if (next === 125) return valueEnd + 1 === text.length ? spans : null;
    if (next !== 44) return null;
    i = valueEnd + 1;
  }
}

/** The error of an import that stopped, saying what landed (the same code, so the same exit status). */
function stopped(e: unknown, report: ImportReport, lastLine: number, file: string): unknown {
  const landed =
    report.users === 0 && report.populations === 0
      ? "nothing was imported"
      : `the ${report.users} user(s) and ${report.populations} population(s) on lines 1–${lastLine} of ${file} were imported (each user whole), nothing after`;
  if (e instanceof KeystrokeError)
    return new KeystrokeError(e.code, `${e.detail}; ${landed}`, e.place, {
      cause: e,
      suggestion:
        report.users > 0
          ? "fix the input and import the file again: users already imported are replaced, so a re-run is safe"
          : (e.suggestion ?? "fix the input and import it again"),
    });
  return e;
}
