import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { KeystrokeError } from "../errors.js";
import type { IdentityWrite, Store } from "../store/index.js";
import type { PopulationStats, Template } from "../verify/types.js";
import { prepareLine, type PreparedLine } from "./import-lines.js";

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
 *
 * Lines are parsed and checked by a worker thread (import-lines.ts, the same code as in this thread)
 * while this one writes the batches before them: on two cores an import takes about the longer of the two
 * rather than their sum. `parallel: false`, or running from the TypeScript sources (no compiled worker),
 * does it all in this thread.
 */
export async function importStore(
  store: Store,
  lines: AsyncIterable<string>,
  options: { file?: string; instance?: string; batch?: number; parallel?: boolean } = {},
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
      for await (const [at, prepared] of prepareLines(lines, file, options.parallel ?? true)) {
        n = at;
        if (prepared.t === "blank") continue;
        if (prepared.t === "error" && (!prepared.json || headerSeen))
          throw new KeystrokeError(prepared.code, prepared.detail, prepared.place);
        if (!headerSeen) {
          const line = prepared.t === "value" ? prepared.value : null;
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
        if (prepared.t === "user") {
          const u = prepared.user;
          if (u.population !== null && !seen.has(u.population))
            throw new KeystrokeError(
              "BAD_ROW",
              `names population ${u.population}, which no earlier line gives`,
              { file, line: n },
            );
          const now = Date.now();
          batch.push({
            id: u.id,
            template: u.template,
            // the export's population id, mapped to the store's at flush
            populationId: u.population,
            samples: u.samples,
            sampleHashes: u.sampleHashes,
            audit: {
              id: u.id,
              at: now,
              action: "import",
              outcome: "ok",
              score: u.template.threshold,
              instance: options.instance ?? "import",
              detail: file,
            },
            now,
            enrolledAt: u.enrolledAt || now,
            updatedAt: u.updatedAt || now,
          });
          if (batch.length >= batchSize) await flush();
          continue;
        }
        const line = (prepared as { value: unknown }).value;
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

// lines sent to the worker at a time, and at most this many sent and not yet taken back: more than a batch,
// so the worker has the next batch's lines while this thread writes
const CHUNK_LINES = 250;
const AHEAD_LINES = IMPORT_BATCH + 4 * CHUNK_LINES;
const WORKER = new URL("./import-worker.js", import.meta.url);

/** The lines prepared (with their 1-based numbers), in order: by a worker thread when there is one, else here. */
async function* prepareLines(
  lines: AsyncIterable<string>,
  file: string,
  parallel: boolean,
): AsyncGenerator<[number, PreparedLine]> {
  let n = 0;
  if (!parallel || !existsSync(fileURLToPath(WORKER))) {
    for await (const raw of lines) {
      n++;
      yield [n, prepareLine(raw, n, file)];
    }
    return;
  }
  const worker = new Worker(WORKER);
  const waiting: Array<{ resolve: (out: PreparedLine[]) => void; reject: (e: unknown) => void }> = [];
  const fail = (e: unknown) => {
    for (const w of waiting.splice(0)) w.reject(e);
  };
  worker.on("message", (out: PreparedLine[]) => waiting[0]?.resolve(out));
  worker.on("error", fail);
  worker.on("exit", (code) => fail(new Error(`the import's worker thread stopped (exit ${code})`)));
  const input = lines[Symbol.asyncIterator]();
  const sent: Array<{ first: number; out: Promise<PreparedLine[]> }> = [];
  let ahead = 0;
  let ended = false;
  const send = (chunk: string[]) => {
    const first = n + 1;
    n += chunk.length;
    ahead += chunk.length;
    const out = new Promise<PreparedLine[]>((resolve, reject) => {
      waiting.push({
        resolve: (o) => {
          waiting.shift();
          resolve(o);
        },
        reject,
      });
    });
    // taken by whoever awaits it; a failure of a chunk never awaited (an import that stopped) is no crash
    out.catch(() => undefined);
    sent.push({ first, out });
    worker.postMessage({ first, lines: chunk, file });
  };
  try {
    for (;;) {
      while (!ended && ahead < AHEAD_LINES) {
        const chunk: string[] = [];
        while (chunk.length < CHUNK_LINES) {
          const r = await input.next();
          if (r.done) {
            ended = true;
            break;
          }
          chunk.push(r.value);
        }
        if (chunk.length) send(chunk);
      }
      const next = sent.shift();
      if (!next) return;
      const out = await next.out;
      ahead -= out.length;
      for (let k = 0; k < out.length; k++) yield [next.first + k, out[k]!];
    }
  } finally {
    worker.removeAllListeners("exit");
    await worker.terminate();
    if (!ended) await input.return?.();
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
