import pg from "pg";
import { KeystrokeError } from "../errors.js";
import type { Db, Row } from "./db.js";
import { migrations, newerSchema, SCHEMA_KEY, SCHEMA_VERSION } from "./schema.js";
import { SqlAuditStore, SqlIdentityStore, SqlPolicyStore, SqlReplayStore } from "./sql-store.js";
import type { Store } from "./types.js";

/** Options of the PostgreSQL store. */
export interface PostgresOptions {
  /** Most connections this process opens (pg.Pool max). */
  maxConnections?: number;
  /** How long to wait for a connection before STORE_UNAVAILABLE (ms). */
  connectTimeoutMs?: number;
  /** Longest a statement may run before STORE_UNAVAILABLE (ms). */
  statementTimeoutMs?: number;
}

/** The URL without its password, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "postgres://…";
  }
}

// BIGINT (int8) as numbers: ours (ms, versions) stay below 2^53
pg.types.setTypeParser(20, (v) => Number(v));

/**
 * Opens a PostgreSQL identity store (a pool) and migrates its schema, under an advisory lock so several
 * instances starting at once migrate it once. Unreachable is STORE_UNAVAILABLE; a newer schema BAD_STORE.
 */
export async function openPostgresStore(url: string, options: PostgresOptions = {}): Promise<Store> {
  const location = redactUrl(url);
  const pool = new pg.Pool({
    connectionString: url,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 3000,
    statement_timeout: options.statementTimeoutMs ?? 10_000,
    idleTimeoutMillis: 30_000,
    // a verification's replay hash commits without waiting for the WAL flush (a crash of PostgreSQL itself may
    // forget the last few ms of hashes); every transaction (enrolment, delete, import, audit) sets it back on
    options: "-c synchronous_commit=off",
  });
  // an idle connection whose server went away must not crash the process; the next query reports it
  pool.on("error", () => undefined);
  const db = new PgDb(pool, location);
  try {
    await migrate(db, location);
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw e;
  }
  return {
    kind: "postgres",
    location,
    identities: new SqlIdentityStore(db),
    replay: new SqlReplayStore(db),
    audit: new SqlAuditStore(db),
    policy: new SqlPolicyStore(db),
    ping: async () => {
      await db.all("SELECT 1");
    },
    bulk: (fn) => fn(),
    close: async () => {
      await pool.end().catch(() => undefined);
    },
  };
}

async function migrate(db: PgDb, location: string): Promise<void> {
  const steps = migrations("postgres");
  await db.tx(async (t) => {
    await t.all("SELECT pg_advisory_xact_lock(7305871203)");
    await t.run("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
    const row = (await t.all("SELECT value FROM meta WHERE key = ?", [SCHEMA_KEY]))[0];
    const current = row ? Number(row.value) : 0;
    if (!Number.isInteger(current) || current < 0)
      throw new KeystrokeError("BAD_STORE", `${location}: unreadable schema version "${String(row?.value)}"`);
    if (current > SCHEMA_VERSION) throw newerSchema(location, current);
    for (let v = current; v < SCHEMA_VERSION; v++) for (const sql of steps[v]!) await t.run(sql);
    await storeTemplatesUncompressed(t);
    await t.run(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      [SCHEMA_KEY, String(SCHEMA_VERSION)],
    );
  });
}

/**
 * Templates (several KB of JSON numbers each) are kept out of line uncompressed (STORAGE EXTERNAL): pglz,
 * PostgreSQL's default, spent two thirds of an import's server time trying to compress them and left the
 * table the same size (bench:store). A storage setting, not a schema change: the rows, and older
 * keystroke-id versions reading and writing them, are as before; values written earlier stay as they are.
 * Set once, by a role that owns the table (another role leaves it as it is).
 */
async function storeTemplatesUncompressed(t: Db): Promise<void> {
  const r = (
    await t.all(
      `SELECT a.attstorage AS storage, pg_has_role(c.relowner, 'USAGE') AS owner
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
       WHERE a.attrelid = 'identities'::regclass AND a.attname = 'template'`,
    )
  )[0];
  if (r && r.storage !== "e" && r.owner === true)
    await t.run("ALTER TABLE identities ALTER COLUMN template SET STORAGE EXTERNAL");
}

const numbered = new Map<string, string>();
/** `?` placeholders → `$1, $2, …` (our SQL has no `?` anywhere else). */
function number(sql: string): string {
  let out = numbered.get(sql);
  if (out === undefined) {
    let i = 0;
    out = sql.replace(/\?/g, () => `$${++i}`);
    numbered.set(sql, out);
  }
  return out;
}

const names = new Map<string, string>();
/** A stable name for a prepared statement (one per distinct SQL text; only fixed hot-path statements are named). */
function statementName(text: string): string {
  let name = names.get(text);
  if (name === undefined) names.set(text, (name = `kid_${names.size + 1}`));
  return name;
}

class PgDb implements Db {
  readonly kind = "postgres" as const;
  constructor(
    private readonly pool: pg.Pool | pg.PoolClient,
    private readonly location: string,
  ) {}

  async all(sql: string, params: readonly unknown[] = [], options?: { prepare?: boolean }): Promise<Row[]> {
    try {
      const text = number(sql);
      // a named statement is parsed and planned once per connection, then only bound and executed
      const query = options?.prepare
        ? this.pool.query({ name: statementName(text), text, values: params as unknown[] })
        : this.pool.query(text, params as unknown[]);
      return (await query).rows as Row[];
    } catch (e) {
      throw pgError(e, this.location);
    }
  }

  async run(sql: string, params: readonly unknown[] = []): Promise<number> {
    try {
      return (await this.pool.query(number(sql), params as unknown[])).rowCount ?? 0;
    } catch (e) {
      throw pgError(e, this.location);
    }
  }

  async insert(into: string, width: number, rows: readonly (readonly unknown[])[], tail = ""): Promise<void> {
    // multi-row statements of up to 8,000 values (PostgreSQL takes 65,535 parameters): one round trip each
    const chunk = Math.floor(8000 / width);
    for (let i = 0; i < rows.length; i += chunk) {
      const part = rows.slice(i, i + chunk);
      const values = part.map((_, r) => {
        const base = r * width;
        return `(${Array.from({ length: width }, (_, c) => `$${base + c + 1}`).join(", ")})`;
      });
      try {
        await this.pool.query(`INSERT INTO ${into} VALUES ${values.join(", ")} ${tail}`, part.flat());
      } catch (e) {
        throw pgError(e, this.location);
      }
    }
  }

  async tx<T>(fn: (db: Db) => Promise<T>): Promise<T> {
    if (!(this.pool instanceof pg.Pool)) return fn(this);
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (e) {
      throw pgError(e, this.location);
    }
    let broken = false;
    try {
      const inner = new PgDb(client, this.location);
      await inner.run("BEGIN");
      await inner.run("SET LOCAL synchronous_commit = on");
      try {
        const out = await fn(inner);
        await inner.run("COMMIT");
        return out;
      } catch (e) {
        await client.query("ROLLBACK").catch(() => {
          broken = true;
        });
        throw e;
      }
    } finally {
      client.release(broken);
    }
  }
}

// SQLSTATE classes of a server that cannot answer now (connection, resources, shutdown, timeouts)
const UNAVAILABLE = /^(08|53|57|58)/;

/** A pg error as a KeystrokeError: unreachable or shutting down is STORE_UNAVAILABLE; anything else is kept (a bug). */
export function pgError(e: unknown, location: string): unknown {
  if (e instanceof KeystrokeError) return e;
  const code = (e as { code?: string }).code ?? "";
  const message = (e as Error).message ?? String(e);
  const network = /^E[A-Z]+$/.test(code) || /timeout|terminat|Connection|connect/i.test(message);
  if (UNAVAILABLE.test(code) || network) {
    return new KeystrokeError(
      "STORE_UNAVAILABLE",
      `the identity store ${location} cannot be reached (${code || message})`,
      {},
      { cause: e, suggestion: "check that PostgreSQL is running and the --store URL is right" },
    );
  }
  return e;
}
