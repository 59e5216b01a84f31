import { KeystrokeError } from "../errors.js";
import type { PopulationStats, Template } from "../verify/types.js";
import type { Db, Row } from "./db.js";
import type {
  AuditEntry,
  AuditStore,
  IdentityInfo,
  IdentityStore,
  IdentityWrite,
  PolicyStore,
  ReplayStore,
  SerializedTemplate,
  StoredIdentity,
} from "./types.js";

// One implementation of the record stores over both dialects, in hand-written SQL (see README, "Identity
// store", for why not a query builder on the verify path). Numbers come back as strings from pg's BIGINT.

const num = (v: unknown): number => (typeof v === "number" ? v : Number(v));
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : num(v));

const INFO_COLUMNS =
  "id, detector, threshold, n_samples, n_features, template, version, enrolled_at, updated_at";

function toInfo(r: Row): IdentityInfo {
  const t = parseTemplate(r);
  return {
    id: String(r.id),
    user: t.user,
    detector: String(r.detector),
    threshold: num(r.threshold),
    samples: num(r.n_samples),
    nFeatures: num(r.n_features),
    version: num(r.version),
    enrolledAt: num(r.enrolled_at),
    updatedAt: num(r.updated_at),
  };
}

function parseTemplate(r: Row): Template {
  try {
    return JSON.parse(String(r.template)) as Template;
  } catch (e) {
    throw new KeystrokeError(
      "BAD_STORE",
      `the stored template of user ${String(r.id)} is not valid JSON`,
      {},
      { cause: e, suggestion: "enrol the user again" },
    );
  }
}

/** A new template version: above the previous one, and unlike any a deleted-then-re-enrolled user had. */
function nextVersion(previous: number | null, now: number): number {
  const fresh = now * 1000 + Math.floor(Math.random() * 1000);
  return previous === null ? fresh : Math.max(previous + 1, fresh);
}

/** Identity records over SQL. */
export class SqlIdentityStore implements IdentityStore {
  constructor(private readonly db: Db) {}

  async version(id: string): Promise<number | null> {
    const rows = await this.db.all("SELECT version FROM identities WHERE id = ?", [id]);
    return rows.length ? num(rows[0]!.version) : null;
  }

  async get(id: string): Promise<StoredIdentity | null> {
    const rows = await this.db.all(
      "SELECT id, template, version, population_id, enrolled_at, updated_at FROM identities WHERE id = ?",
      [id],
      { prepare: true },
    );
    const r = rows[0];
    if (!r) return null;
    return {
      id,
      template: parseTemplate(r),
      version: num(r.version),
      populationId: numOrNull(r.population_id),
      enrolledAt: num(r.enrolled_at),
      updatedAt: num(r.updated_at),
    };
  }

  async info(id: string): Promise<IdentityInfo | null> {
    const rows = await this.db.all(`SELECT ${INFO_COLUMNS} FROM identities WHERE id = ?`, [id]);
    return rows[0] ? toInfo(rows[0]) : null;
  }

  async samples(id: string): Promise<number[][]> {
    const rows = await this.db.all("SELECT vector FROM enrol_samples WHERE id = ? ORDER BY seq", [id]);
    return rows.map((r) => JSON.parse(String(r.vector)) as number[]);
  }

  async put(w: IdentityWrite): Promise<{ version: number; created: boolean } | null> {
    return this.db.tx((db) => writeIdentity(db, w));
  }

  async putMany(ws: readonly IdentityWrite[]): Promise<Array<{ version: number; created: boolean } | null>> {
    // a handful of statements per batch rather than seven per user: what makes an import of 100k users take
    // seconds on PostgreSQL, where every statement is a round trip (see Db.insert)
    return this.db.tx(async (db) => {
      const ids = [...new Set(ws.map((w) => w.id))];
      if (ids.length !== ws.length) {
        const out = [];
        for (const w of ws) out.push(await writeIdentity(db, w));
        return out;
      }
      const prev = new Map<string, number>();
      for (let i = 0; i < ids.length; i += 500) {
        const part = ids.slice(i, i + 500);
        for (const r of await db.all(
          `SELECT id, version FROM identities WHERE id IN (${part.map(() => "?").join(", ")})`,
          part,
        ))
          prev.set(String(r.id), num(r.version));
      }
      const out: Array<{ version: number; created: boolean } | null> = [];
      const rows: unknown[][] = [];
      const kept: IdentityWrite[] = [];
      for (const w of ws) {
        const p = prev.get(w.id) ?? null;
        if ((w.onlyIfNew && p !== null) || (w.expectVersion !== undefined && w.expectVersion !== p)) {
          out.push(null);
          continue;
        }
        const version = nextVersion(p, w.now);
        rows.push(identityRow(w, version));
        kept.push(w);
        out.push({ version, created: p === null });
      }
      await db.insert(IDENTITY_INTO, IDENTITY_WIDTH, rows, UPSERT_IDENTITY);
      const keptIds = kept.map((w) => w.id);
      for (let i = 0; i < keptIds.length; i += 500) {
        const part = keptIds.slice(i, i + 500);
        const list = part.map(() => "?").join(", ");
        await db.run(`DELETE FROM enrol_samples WHERE id IN (${list})`, part);
        await db.run(`DELETE FROM replay WHERE kind = 'enrol' AND id IN (${list})`, part);
      }
      await db.insert(SAMPLES_INTO, 3, kept.flatMap(sampleRows));
      await db.insert(REPLAY_INTO, 4, kept.flatMap(enrolReplayRows), UPSERT_ENROL_REPLAY);
      await appendAudit(
        db,
        kept.map((w) => w.audit),
      );
      return out;
    });
  }

  async addSample(id: string, vector: number[], audit: AuditEntry): Promise<void> {
    await this.db.tx(async (db) => {
      const next = num(
        (await db.all("SELECT coalesce(max(seq) + 1, 0) AS n FROM enrol_samples WHERE id = ?", [id]))[0]!.n,
      );
      await db.run("INSERT INTO enrol_samples (id, seq, vector) VALUES (?, ?, ?)", [
        id,
        next,
        JSON.stringify(vector),
      ]);
      await appendAudit(db, [audit]);
    });
  }

  async delete(id: string, audit: AuditEntry): Promise<boolean> {
    return this.db.tx(async (db) => {
      const n = await db.run("DELETE FROM identities WHERE id = ?", [id]);
      // samples collected by POST /auto before any template count as the user too
      const pending = await db.run("DELETE FROM enrol_samples WHERE id = ?", [id]);
      if (n === 0 && pending === 0) return false;
      await db.run("DELETE FROM replay WHERE id = ?", [id]);
      await appendAudit(db, [audit]);
      return true;
    });
  }

  async list(options: { after?: string; limit: number }): Promise<IdentityInfo[]> {
    const rows =
      options.after === undefined
        ? await this.db.all(`SELECT ${INFO_COLUMNS} FROM identities ORDER BY id LIMIT ?`, [options.limit])
        : await this.db.all(`SELECT ${INFO_COLUMNS} FROM identities WHERE id > ? ORDER BY id LIMIT ?`, [
            options.after,
            options.limit,
          ]);
    return rows.map(toInfo);
  }

  async dump(options: {
    after?: string;
    limit: number;
  }): Promise<Array<StoredIdentity & { samples: number[][] }>> {
    const cols = "id, template, version, population_id, enrolled_at, updated_at";
    const rows =
      options.after === undefined
        ? await this.db.all(`SELECT ${cols} FROM identities ORDER BY id LIMIT ?`, [options.limit])
        : await this.db.all(`SELECT ${cols} FROM identities WHERE id > ? ORDER BY id LIMIT ?`, [
            options.after,
            options.limit,
          ]);
    const samples = new Map<string, number[][]>();
    const ids = rows.map((r) => String(r.id));
    for (let i = 0; i < ids.length; i += 500) {
      const part = ids.slice(i, i + 500);
      for (const r of await this.db.all(
        `SELECT id, vector FROM enrol_samples WHERE id IN (${part.map(() => "?").join(", ")}) ORDER BY id, seq`,
        part,
      )) {
        const id = String(r.id);
        let list = samples.get(id);
        if (!list) samples.set(id, (list = []));
        list.push(JSON.parse(String(r.vector)) as number[]);
      }
    }
    return rows.map((r) => ({
      id: String(r.id),
      template: parseTemplate(r),
      version: num(r.version),
      populationId: numOrNull(r.population_id),
      enrolledAt: num(r.enrolled_at),
      updatedAt: num(r.updated_at),
      samples: samples.get(String(r.id)) ?? [],
    }));
  }

  async count(): Promise<number> {
    return num((await this.db.all("SELECT count(*) AS n FROM identities"))[0]!.n);
  }
}

const IDENTITY_INTO =
  "identities (id, detector, threshold, n_samples, n_features, template, population_id, version, enrolled_at, updated_at)";
const IDENTITY_WIDTH = 10;
const UPSERT_IDENTITY = `ON CONFLICT (id) DO UPDATE SET detector = excluded.detector, threshold = excluded.threshold, n_samples = excluded.n_samples,
  n_features = excluded.n_features, template = excluded.template, population_id = excluded.population_id,
  version = excluded.version, updated_at = excluded.updated_at`;
const SAMPLES_INTO = "enrol_samples (id, seq, vector)";
const REPLAY_INTO = "replay (id, hash, kind, seen_at)";
const UPSERT_ENROL_REPLAY = "ON CONFLICT (id, hash) DO UPDATE SET kind = 'enrol', seen_at = excluded.seen_at";

/** A write's identities row (IDENTITY_INTO's columns) at `version`: built here for the single and the batch write alike. */
function identityRow(w: IdentityWrite, version: number): unknown[] {
  const t = w.template;
  return [
    w.id,
    t.detector,
    t.threshold,
    t.n,
    t.nFeatures,
    templateText(w),
    w.populationId,
    version,
    w.enrolledAt ?? w.now,
    w.updatedAt ?? w.now,
  ];
}

/** The template as stored: JSON without its enrolment samples (rows of their own); the writer's text when it has it. */
function templateText(w: IdentityWrite): string {
  if (isSerialized(w.template)) return w.template.json;
  const { samples: _omitted, ...template } = w.template;
  return JSON.stringify(template);
}

function isSerialized(t: Template | SerializedTemplate): t is SerializedTemplate {
  return typeof (t as Partial<SerializedTemplate>).json === "string";
}

/** A write's enrol_samples rows, in enrolment order. */
function sampleRows(w: IdentityWrite): unknown[][] {
  return w.samples.map((v, i) => [w.id, i, typeof v === "string" ? v : JSON.stringify(v)]);
}

/** A write's replay rows: its enrolled samples' hashes (replays for as long as the user is enrolled). */
function enrolReplayRows(w: IdentityWrite): unknown[][] {
  return [...new Set(w.sampleHashes)].map((h) => [w.id, h, "enrol", w.now]);
}

/** One user's rows: template, samples, enrolled-sample hashes, audit entry (inside the caller's transaction). */
async function writeIdentity(
  db: Db,
  w: IdentityWrite,
): Promise<{ version: number; created: boolean } | null> {
  const prev = (await db.all("SELECT version FROM identities WHERE id = ?", [w.id]))[0];
  const prevVersion = prev ? num(prev.version) : null;
  if (w.onlyIfNew && prevVersion !== null) return null;
  if (w.expectVersion !== undefined && w.expectVersion !== prevVersion) return null;
  const version = nextVersion(prevVersion, w.now);
  await db.insert(IDENTITY_INTO, IDENTITY_WIDTH, [identityRow(w, version)], UPSERT_IDENTITY);
  await db.run("DELETE FROM enrol_samples WHERE id = ?", [w.id]);
  await db.insert(SAMPLES_INTO, 3, sampleRows(w));
  await db.run("DELETE FROM replay WHERE id = ? AND kind = 'enrol'", [w.id]);
  await db.insert(REPLAY_INTO, 4, enrolReplayRows(w), UPSERT_ENROL_REPLAY);
  await appendAudit(db, [w.audit]);
  return { version, created: prevVersion === null };
}

async function appendAudit(db: Db, entries: readonly AuditEntry[]): Promise<void> {
  await db.insert(
    "audit (id, at, action, outcome, score, instance, detail)",
    7,
    entries.map((e) => [e.id, e.at, e.action, e.outcome, e.score ?? null, e.instance, e.detail ?? null]),
  );
}

/** One replay check waiting for its group's transaction (SQLite). */
interface QueuedCheck {
  id: string;
  hash: string;
  now: number;
  cutoff: number;
  resolve(r: { version: number | null; replay: boolean }): void;
  reject(e: unknown): void;
}

/**
 * Replay hashes over SQL; the check is one statement on PostgreSQL (one round trip). On SQLite (in
 * process) the checks that arrive in one turn of the event loop share one write transaction (group
 * commit): each still reads its user's version and upserts its hash in arrival order, inside the
 * transaction, and is answered only once the transaction has committed, so a replay is caught exactly as
 * with one transaction per check, here and on every process writing the same file (SQLite lets one
 * writer in at a time). A served verification's commit was about half its CPU time (README, "Where a
 * request's time goes"); a failed transaction fails every check of its group, as it would have failed each.
 */
export class SqlReplayStore implements ReplayStore {
  private queued: QueuedCheck[] = [];
  private flushing: Promise<void> | null = null;

  constructor(private readonly db: Db) {}

  async check(
    id: string,
    hash: string,
    now: number,
    windowMs: number,
  ): Promise<{ version: number | null; replay: boolean }> {
    const cutoff = now - windowMs;
    if (this.db.kind === "postgres") {
      const r = (
        await this.db.all(
          `WITH u AS (SELECT version FROM identities WHERE id = ?),
           ins AS (INSERT INTO replay (id, hash, kind, seen_at) SELECT CAST(? AS TEXT), CAST(? AS TEXT), 'verify', CAST(? AS BIGINT) WHERE EXISTS (SELECT 1 FROM u)
             ON CONFLICT (id, hash) DO UPDATE SET seen_at = excluded.seen_at WHERE replay.kind = 'verify' AND replay.seen_at < CAST(? AS BIGINT) RETURNING 1)
           SELECT (SELECT version FROM u) AS version, (SELECT count(*) FROM ins) AS fresh`,
          [id, id, hash, now, cutoff],
          { prepare: true },
        )
      )[0]!;
      const version = numOrNull(r.version);
      return { version, replay: version !== null && num(r.fresh) === 0 };
    }
    return new Promise((resolve, reject) => {
      this.queued.push({ id, hash, now, cutoff, resolve, reject });
      this.flushing ??= this.schedule();
    });
  }

  /** The next group's transaction, after this turn's I/O callbacks: every request read in this turn joins it. */
  private schedule(): Promise<void> {
    return new Promise<void>((done) =>
      setImmediate(
        () =>
          void this.flush().finally(() => {
            // checks that arrived while this group was being written form the next group
            this.flushing = this.queued.length > 0 ? this.schedule() : null;
            done();
          }),
      ),
    );
  }

  /** Resolves when no check is waiting for its transaction (the store waits for it before closing). */
  async drain(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  private async flush(): Promise<void> {
    const group = this.queued;
    this.queued = [];
    try {
      const results = await this.db.tx(async (db) => {
        const out: Array<{ version: number | null; replay: boolean }> = [];
        for (const q of group) {
          const u = (await db.all("SELECT version FROM identities WHERE id = ?", [q.id]))[0];
          if (!u) {
            out.push({ version: null, replay: false });
            continue;
          }
          const fresh = await db.run(
            `INSERT INTO replay (id, hash, kind, seen_at) VALUES (?, ?, 'verify', ?)
             ON CONFLICT (id, hash) DO UPDATE SET seen_at = excluded.seen_at WHERE replay.kind = 'verify' AND replay.seen_at < ?`,
            [q.id, q.hash, q.now, q.cutoff],
          );
          out.push({ version: num(u.version), replay: fresh === 0 });
        }
        return out;
      });
      group.forEach((q, i) => q.resolve(results[i]!));
    } catch (e) {
      for (const q of group) q.reject(e);
    }
  }

  async prune(before: number): Promise<number> {
    return this.db.run("DELETE FROM replay WHERE kind = 'verify' AND seen_at < ?", [before]);
  }
}

/** The audit log over SQL. */
export class SqlAuditStore implements AuditStore {
  constructor(private readonly db: Db) {}

  async append(entries: readonly AuditEntry[]): Promise<void> {
    if (entries.length) await this.db.tx((db) => appendAudit(db, entries));
  }

  async list(id: string, limit: number): Promise<AuditEntry[]> {
    const rows = await this.db.all(
      "SELECT id, at, action, outcome, score, instance, detail FROM audit WHERE id = ? ORDER BY at DESC, seq DESC LIMIT ?",
      [id, limit],
    );
    return rows.map((r) => ({
      id: String(r.id),
      at: num(r.at),
      action: String(r.action) as AuditEntry["action"],
      outcome: String(r.outcome),
      score: numOrNull(r.score),
      instance: String(r.instance),
      detail: r.detail === null || r.detail === undefined ? null : String(r.detail as string),
    }));
  }

  async prune(before: number): Promise<number> {
    return this.db.run("DELETE FROM audit WHERE at < ?", [before]);
  }
}

/** Populations and settings over SQL. */
export class SqlPolicyStore implements PolicyStore {
  constructor(private readonly db: Db) {}

  async current(nFeatures: number): Promise<{ id: number; stats: PopulationStats } | null> {
    const r = (
      await this.db.all(
        "SELECT p.pid, p.stats FROM current_population c JOIN populations p ON p.pid = c.pid WHERE c.n_features = ?",
        [nFeatures],
      )
    )[0];
    return r ? { id: num(r.pid), stats: JSON.parse(String(r.stats)) as PopulationStats } : null;
  }

  async population(id: number): Promise<PopulationStats | null> {
    const r = (await this.db.all("SELECT stats FROM populations WHERE pid = ?", [id]))[0];
    return r ? (JSON.parse(String(r.stats)) as PopulationStats) : null;
  }

  async populations(): Promise<Array<{ id: number; stats: PopulationStats; current: boolean }>> {
    const rows = await this.db.all(
      "SELECT p.pid, p.stats, c.pid AS cur FROM populations p LEFT JOIN current_population c ON c.pid = p.pid ORDER BY p.pid",
    );
    return rows.map((r) => ({
      id: num(r.pid),
      stats: JSON.parse(String(r.stats)) as PopulationStats,
      current: r.cur !== null && r.cur !== undefined,
    }));
  }

  async addPopulation(stats: PopulationStats, now: number, current = true): Promise<number> {
    return this.db.tx(async (db) => {
      const r = (
        await db.all(
          "INSERT INTO populations (n_features, stats, created_at) VALUES (?, ?, ?) RETURNING pid",
          [stats.nFeatures, JSON.stringify(stats), now],
        )
      )[0]!;
      const pid = num(r.pid);
      if (current)
        await db.run(
          "INSERT INTO current_population (n_features, pid) VALUES (?, ?) ON CONFLICT (n_features) DO UPDATE SET pid = excluded.pid",
          [stats.nFeatures, pid],
        );
      return pid;
    });
  }

  async getSetting(key: string): Promise<string | null> {
    const r = (await this.db.all("SELECT value FROM meta WHERE key = ?", [`setting:${key}`]))[0];
    return r ? String(r.value) : null;
  }

  async setSetting(key: string, value: string): Promise<void> {
    await this.db.run(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      [`setting:${key}`, value],
    );
  }
}
