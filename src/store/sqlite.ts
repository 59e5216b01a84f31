import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import { Worker } from "node:worker_threads";
import Database from "better-sqlite3";
import { KeystrokeError } from "../errors.js";
import type { Db, Row } from "./db.js";
import { migrations, newerSchema, SCHEMA_KEY, SCHEMA_VERSION } from "./schema.js";
import { SqlAuditStore, SqlIdentityStore, SqlPolicyStore, SqlReplayStore } from "./sql-store.js";
import type { Store } from "./types.js";

/** Options of the SQLite store. */
export interface SqliteOptions {
  /** How long a write waits for another process's lock before STORE_BUSY (ms). */
  busyTimeoutMs?: number;
  /**
   * Checkpoints the WAL from a background thread every this many ms (0: never, the default). For a
   * long-running writer such as `serve`: see startCheckpointer.
   */
  checkpointEveryMs?: number;
  /**
   * With the background thread: the WAL pages at which the writing connection checkpoints the WAL itself,
   * which then starts again from its beginning (BACKGROUND_AUTOCHECKPOINT_PAGES by default).
   */
  writerCheckpointPages?: number;
}

export const DEFAULT_BUSY_TIMEOUT_MS = 5000;

// WAL pages between automatic checkpoints during a bulk load (16384 pages of 4 KB: 64 MB; SQLite's default is 1000)
const BULK_CHECKPOINT_PAGES = 16384;
/**
 * WAL pages between the writing connection's own checkpoints when a background thread checkpoints too
 * (32,768 pages of 4 KB: the WAL file grows to about 128 MB under sustained writes, and is removed at close).
 * Each time the mark is crossed the serving thread syncs the WAL and the database file (its checkpoint finds
 * the last few milliseconds of frames not yet copied by the thread) and then the WAL's new header when it
 * starts the WAL again: three fsyncs that stall every request in flight. `/verify` under `wrk -c16` crossed
 * 4,096 pages several times a second; the mark was raised for its p99 (README, "Where `/verify`'s p99 came
 * from": `npm run bench:serve -- --only verify-tail` with BENCH_TAIL_TRACE=1 counts the serving thread's fsyncs).
 */
const BACKGROUND_AUTOCHECKPOINT_PAGES = 32768;

/**
 * Opens (creating when absent) a SQLite identity store and migrates its schema. WAL journal: readers never
 * wait for the writer, and a killed process leaves the last committed transaction whole. A file that is
 * not a database, or not ours, or of a newer schema, is BAD_STORE naming the file.
 */
export function openSqliteStore(path: string, options: SqliteOptions = {}): Store {
  const file = resolve(path);
  const busyMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
  const writerPages = options.writerCheckpointPages ?? BACKGROUND_AUTOCHECKPOINT_PAGES;
  // interpolated into a pragma below: a whole number of pages, checked before the file is touched
  if (!Number.isInteger(writerPages) || writerPages < 1)
    throw new KeystrokeError("BAD_FLAG", `must be a whole number of WAL pages ≥ 1, got ${writerPages}`, {
      option: "writerCheckpointPages",
    });
  let conn: Database.Database;
  try {
    mkdirSync(dirname(file), { recursive: true });
    conn = new Database(file, { timeout: busyMs });
  } catch (e) {
    throw sqliteError(e, file, busyMs);
  }
  const db = new SqliteDb(conn, file, busyMs);
  try {
    conn.pragma("journal_mode = WAL");
    conn.pragma("synchronous = NORMAL");
    migrate(conn, file);
  } catch (e) {
    conn.close();
    throw sqliteError(e, file, busyMs);
  }
  const checkpointer =
    options.checkpointEveryMs && options.checkpointEveryMs > 0
      ? startCheckpointer(file, options.checkpointEveryMs)
      : null;
  // the writer's own checkpoint less often (128 MB of WAL): the thread does the copying and syncing between
  if (checkpointer) db.guard(() => conn.pragma(`wal_autocheckpoint = ${writerPages}`));
  const replay = new SqlReplayStore(db);
  return {
    kind: "sqlite",
    location: file,
    identities: new SqlIdentityStore(db),
    replay,
    audit: new SqlAuditStore(db),
    policy: new SqlPolicyStore(db),
    ping: () =>
      new Promise<void>((done) => {
        db.guard(() => conn.prepare("SELECT 1").get());
        done();
      }),
    bulk: async <T>(fn: () => Promise<T>): Promise<T> => {
      db.guard(() => conn.pragma(`wal_autocheckpoint = ${BULK_CHECKPOINT_PAGES}`));
      try {
        return await fn();
      } finally {
        await db.idle();
        if (conn.open) {
          conn.pragma(`wal_autocheckpoint = ${checkpointer ? writerPages : 1000}`);
          // the WAL back to its usual size; busy (a reader) is no error: the next checkpoint does it
          try {
            conn.pragma("wal_checkpoint(TRUNCATE)");
          } catch {
            // left to the next automatic checkpoint
          }
        }
      }
    },
    close: async () => {
      await replay.drain();
      await checkpointer?.stop();
      await db.idle();
      if (conn.open) conn.close();
    },
  };
}

/**
 * A thread with its own connection that runs `PRAGMA wal_checkpoint(PASSIVE)` every `everyMs` while the WAL
 * grows (backing off to 250 ms while it does not): it copies the committed pages into the database file and
 * makes both durable (a checkpoint's two fsyncs) off the writing thread. SQLite's automatic checkpoint on
 * the writing connection stays on, at 32,768 pages instead of 1,000: it is what restarts the WAL from its
 * start (the thread's checkpoints copy the whole WAL, but a WAL starts again only when the writer begins a
 * transaction on a fully copied one, which a stream of writes seldom allows), so the file stays bounded,
 * and it finds most pages already copied and synced. In process (`verify` in a loop on a
 * copy of an enrolled store), a verification took 97–106 µs of wall time for 73–79 µs of CPU with the
 * automatic checkpoint alone, one call in a thousand 10–11 ms; with this thread every 20 ms, 76–81 µs and
 * 2.0–2.5 ms (README, "Where a request's time goes").
 *
 * PASSIVE never waits for readers or writers: a busy database is skipped until the next tick. If the
 * thread fails (its connection cannot open, say), the automatic checkpoint alone carries on, as without it.
 */
function startCheckpointer(file: string, everyMs: number): { stop(): Promise<void> } {
  const state = { stop: async () => undefined as void };
  let worker: Worker;
  try {
    worker = new Worker(CHECKPOINTER, {
      eval: true,
      workerData: { file, everyMs, driver: createRequire(import.meta.url).resolve("better-sqlite3") },
    });
  } catch {
    return state;
  }
  worker.unref();
  // a failed thread (its connection could not open) leaves the automatic checkpoint alone: no crash
  worker.on("error", () => undefined);
  const exited = new Promise<void>((res) => worker.once("exit", () => res()));
  state.stop = async () => {
    // referenced again while it stops: else a process with nothing else to do exits here, mid-close
    worker.ref();
    worker.postMessage("stop");
    await exited;
  };
  return state;
}

// CommonJS, run by `new Worker(…, { eval: true })`: the same code from src (tests) and dist
const CHECKPOINTER = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const db = new Database(workerData.file, { timeout: 0 });
let timer = null;
let delay = workerData.everyMs;
let last = -1;
const tick = () => {
  try {
    // log: the WAL's frames; it grows with every commit and starts again at 0 when the WAL restarts
    const [r] = db.pragma("wal_checkpoint(PASSIVE)");
    delay = r && r.log !== last ? workerData.everyMs : Math.min(2 * delay, 250);
    last = r ? r.log : -1;
  } catch (e) {
    if (!/BUSY|LOCKED/.test(String(e && e.code))) throw e;
  }
  timer = setTimeout(tick, delay);
};
parentPort.on("message", (m) => {
  if (m !== "stop") return;
  clearTimeout(timer);
  db.close();
  parentPort.close();
});
tick();
`;

function migrate(conn: Database.Database, file: string): void {
  const tables = conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{
    name: string;
  }>;
  if (tables.length > 0 && !tables.some((t) => t.name === "meta")) {
    throw new KeystrokeError(
      "BAD_STORE",
      `${file} is a SQLite database but not a keystroke-id identity store`,
      {},
      { suggestion: "point --store at another file" },
    );
  }
  const steps = migrations("sqlite");
  // IMMEDIATE: two processes opening a new store at once migrate it once, one after the other
  conn.prepare("BEGIN IMMEDIATE").run();
  try {
    conn.exec("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
    const row = conn.prepare("SELECT value FROM meta WHERE key = ?").get(SCHEMA_KEY) as
      { value: string } | undefined;
    const current = row ? Number(row.value) : 0;
    if (!Number.isInteger(current) || current < 0)
      throw new KeystrokeError("BAD_STORE", `${file}: unreadable schema version "${row?.value}"`);
    if (current > SCHEMA_VERSION) throw newerSchema(file, current);
    for (let v = current; v < SCHEMA_VERSION; v++) for (const sql of steps[v]!) conn.exec(sql);
    conn
      .prepare(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      )
      .run(SCHEMA_KEY, String(SCHEMA_VERSION));
    conn.prepare("COMMIT").run();
  } catch (e) {
    if (conn.inTransaction) conn.prepare("ROLLBACK").run();
    throw e;
  }
}

/**
 * better-sqlite3 is synchronous; the store's interface is not (PostgreSQL). A transaction spans awaits,
 * so other callers on this connection wait for it (a promise chain), never run inside it.
 */
class SqliteDb implements Db {
  readonly kind = "sqlite" as const;
  private readonly statements = new Map<string, Database.Statement>();
  private lock: Promise<unknown> = Promise.resolve();
  private locked = false;

  constructor(
    private readonly conn: Database.Database,
    private readonly file: string,
    private readonly busyMs: number,
    private readonly inTx = false,
  ) {}

  guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      throw sqliteError(e, this.file, this.busyMs);
    }
  }

  private prepare(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) this.statements.set(sql, (s = this.conn.prepare(sql)));
    return s;
  }

  async all(sql: string, params: readonly unknown[] = []): Promise<Row[]> {
    if (!this.inTx) while (this.locked) await this.lock.catch(() => undefined);
    return this.guard(() => {
      const s = this.prepare(sql);
      return s.reader ? (s.all(...params) as Row[]) : (s.run(...params), []);
    });
  }

  async run(sql: string, params: readonly unknown[] = []): Promise<number> {
    if (!this.inTx) while (this.locked) await this.lock.catch(() => undefined);
    return this.guard(() => this.prepare(sql).run(...params).changes);
  }

  async insert(into: string, width: number, rows: readonly (readonly unknown[])[], tail = ""): Promise<void> {
    if (!this.inTx) while (this.locked) await this.lock.catch(() => undefined);
    if (rows.length === 0) return;
    // one statement, prepared once per connection and run per row: in process, a row costs no round trip
    this.guard(() => {
      const s = this.prepare(`INSERT INTO ${into} VALUES (${"?, ".repeat(width - 1)}?) ${tail}`);
      for (const r of rows) s.run(r);
    });
  }

  /** Resolves when no transaction is running on this connection. */
  async idle(): Promise<void> {
    while (this.locked) await this.lock.catch(() => undefined);
  }

  async tx<T>(fn: (db: Db) => Promise<T>): Promise<T> {
    // checked and taken in one synchronous step, so two callers never both hold it
    while (this.locked) await this.lock.catch(() => undefined);
    this.locked = true;
    const inner = new SqliteDb(this.conn, this.file, this.busyMs, true);
    (inner as unknown as { statements: Map<string, Database.Statement> }).statements = this.statements;
    const work = (async () => {
      this.guard(() => this.prepare("BEGIN IMMEDIATE").run());
      try {
        const out = await fn(inner);
        this.guard(() => this.prepare("COMMIT").run());
        return out;
      } catch (e) {
        if (this.conn.inTransaction) this.prepare("ROLLBACK").run();
        throw e;
      }
    })();
    this.lock = work;
    try {
      return await work;
    } finally {
      this.locked = false;
    }
  }
}

/** Turns a SQLite error into a KeystrokeError naming the file: busy, corrupt, not a database, cannot open. */
export function sqliteError(e: unknown, file: string, busyMs: number): unknown {
  if (e instanceof KeystrokeError) return e;
  const code = (e as { code?: string }).code ?? "";
  const message = (e as Error).message ?? String(e);
  if (code === "SQLITE_BUSY" || code.startsWith("SQLITE_BUSY_") || code === "SQLITE_LOCKED") {
    return new KeystrokeError(
      "STORE_BUSY",
      `the identity store ${file} stayed locked by another process for more than ${busyMs} ms`,
      {},
      { cause: e, suggestion: "try again; a long import or enrolment may be running" },
    );
  }
  if (code === "SQLITE_NOTADB" || code === "SQLITE_CORRUPT" || code.startsWith("SQLITE_CORRUPT")) {
    return new KeystrokeError(
      "BAD_STORE",
      `${file} is not a usable keystroke-id identity store (${message})`,
      {},
      {
        cause: e,
        suggestion: "restore it from an export (keystroke-id users import), or point --store at another file",
      },
    );
  }
  if (code === "SQLITE_FULL") {
    return new KeystrokeError(
      "IO",
      `the identity store ${file} cannot be written: no space left on device (ENOSPC)`,
      {},
      { cause: e },
    );
  }
  if (
    code.startsWith("SQLITE_CANTOPEN") ||
    code.startsWith("SQLITE_READONLY") ||
    code.startsWith("SQLITE_IOERR") ||
    code === "SQLITE_FULL" ||
    code === "SQLITE_PERM" ||
    (e as NodeJS.ErrnoException).syscall !== undefined
  ) {
    return new KeystrokeError(
      "IO",
      `the identity store ${file} cannot be opened or written (${code || message})`,
      {},
      { cause: e },
    );
  }
  return e;
}
