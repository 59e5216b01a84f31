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
    const page = await store.identities.list({ ...(after !== undefined ? { after } : {}), limit: 500 });
    if (page.length === 0) break;
    for (const u of page) {
      const line = await one(u.id);
      if (line) yield line;
    }
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

/**
 * Imports NDJSON lines of an export into a store (SQLite or PostgreSQL alike), 500 users per transaction.
 * A user already in the store is replaced (the export is the truth being restored). Every line is checked
 * first as far as it goes: a bad line is BAD_ROW naming the file and line, and the batch it is in is not written.
 */
export async function importStore(
  store: Store,
  lines: AsyncIterable<string>,
  options: { file?: string; instance?: string } = {},
): Promise<ImportReport> {
  const file = options.file ?? "<stdin>";
  const pids = new Map<number, number>();
  const report: ImportReport = { users: 0, populations: 0, replaced: 0 };
  let batch: IdentityWrite[] = [];
  const flush = async () => {
    if (!batch.length) return;
    const written = await store.identities.putMany(batch);
    report.users += written.length;
    report.replaced += written.filter((w) => w && !w.created).length;
    batch = [];
  };
  let n = 0;
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
    const kind = (line as { kind?: unknown }).kind;
    if (kind === "population") {
      const p = line as Extract<ExportLine, { kind: "population" }>;
      if (!p.stats || typeof p.stats.nFeatures !== "number")
        throw new KeystrokeError("BAD_ROW", "population without stats", { file, line: n });
      pids.set(p.pid, await store.policy.addPopulation(p.stats, Date.now(), Boolean(p.current)));
      report.populations++;
    } else if (kind === "user") {
      const u = line as Extract<ExportLine, { kind: "user" }>;
      const t = u.template;
      if (
        typeof u.id !== "string" ||
        !t ||
        typeof t.threshold !== "number" ||
        typeof t.nFeatures !== "number" ||
        !Array.isArray(u.samples)
      ) {
        throw new KeystrokeError("BAD_ROW", "user line needs id, template and samples", { file, line: n });
      }
      const id = userKey(u.id, { field: `line ${n}: id` });
      if (u.population !== null && !pids.has(u.population))
        throw new KeystrokeError("BAD_ROW", `names population ${u.population}, which no earlier line gives`, {
          file,
          line: n,
        });
      const now = Date.now();
      batch.push({
        id,
        template: t,
        populationId: u.population === null ? null : pids.get(u.population)!,
        samples: u.samples,
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
      if (batch.length >= 500) await flush();
    } else {
      throw new KeystrokeError("BAD_ROW", `unknown line kind ${JSON.stringify(kind)}`, { file, line: n });
    }
  }
  if (!headerSeen) throw new KeystrokeError("BAD_ROW", "is empty: not a keystroke-id export", { file });
  await flush();
  return report;
}
