import { KeystrokeError } from "../errors.js";
import type { StoreKind } from "./types.js";

/** The schema version this keystroke-id writes; a store with a higher one is refused (BAD_STORE). */
export const SCHEMA_VERSION = 1;

/** Where the schema version is kept (`meta`, key `schema_version`). */
export const SCHEMA_KEY = "schema_version";

// Migrations, in order: MIGRATIONS[n - 1] takes a store from version n - 1 to n. Each runs in one
// transaction with the version bump, so a store is never half migrated. The dialects differ only in
// types (the SQL is otherwise the same text, run by sqlite.ts and postgres.ts).
const TYPES: Record<StoreKind, { real: string; big: string; serial: string }> = {
  sqlite: { real: "REAL", big: "INTEGER", serial: "INTEGER PRIMARY KEY AUTOINCREMENT" },
  postgres: { real: "DOUBLE PRECISION", big: "BIGINT", serial: "BIGSERIAL PRIMARY KEY" },
};

/** The statements of each migration for a dialect. */
export function migrations(kind: StoreKind): string[][] {
  const t = TYPES[kind];
  return [
    [
      `CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
      `CREATE TABLE identities (
        id TEXT PRIMARY KEY,
        detector TEXT NOT NULL,
        threshold ${t.real} NOT NULL,
        n_samples INTEGER NOT NULL,
        n_features INTEGER NOT NULL,
        template TEXT NOT NULL,
        population_id ${t.big},
        version ${t.big} NOT NULL,
        enrolled_at ${t.big} NOT NULL,
        updated_at ${t.big} NOT NULL)`,
      `CREATE TABLE enrol_samples (id TEXT NOT NULL, seq INTEGER NOT NULL, vector TEXT NOT NULL, PRIMARY KEY (id, seq))`,
      // kind 'enrol': a sample of the enrolment (a replay while the user is enrolled); 'verify': seen at seen_at
      `CREATE TABLE replay (id TEXT NOT NULL, hash TEXT NOT NULL, kind TEXT NOT NULL, seen_at ${t.big} NOT NULL, PRIMARY KEY (id, hash))`,
      `CREATE INDEX replay_seen ON replay (seen_at)`,
      `CREATE TABLE audit (seq ${t.serial}, id TEXT NOT NULL, at ${t.big} NOT NULL, action TEXT NOT NULL, outcome TEXT NOT NULL, score ${t.real}, instance TEXT NOT NULL, detail TEXT)`,
      `CREATE INDEX audit_user ON audit (id, at)`,
      `CREATE INDEX audit_at ON audit (at)`,
      `CREATE TABLE populations (pid ${t.serial}, n_features INTEGER NOT NULL, stats TEXT NOT NULL, created_at ${t.big} NOT NULL)`,
      `CREATE TABLE current_population (n_features INTEGER PRIMARY KEY, pid ${t.big} NOT NULL)`,
    ],
  ];
}

/** BAD_STORE for a store written by a newer keystroke-id. */
export function newerSchema(location: string, found: number): KeystrokeError {
  return new KeystrokeError(
    "BAD_STORE",
    `the identity store ${location} has schema version ${found}; this keystroke-id reads up to ${SCHEMA_VERSION}`,
    {},
    {
      suggestion: "upgrade keystroke-id, or point --store at another store",
    },
  );
}
