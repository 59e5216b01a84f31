import { KeystrokeError } from "../errors.js";
import type { Store, StoreKind } from "./types.js";

/** The store used when neither --store nor KEYSTROKE_ID_STORE says otherwise: a SQLite file in the current directory. */
export const DEFAULT_STORE = "keystroke-id.db";
/** The environment variable that gives --store its default. */
export const STORE_ENV = "KEYSTROKE_ID_STORE";

/** Where a store is: a SQLite file or a PostgreSQL URL. */
export type StoreLocation = { kind: "sqlite"; path: string } | { kind: "postgres"; url: string };

/** Options of openStore, per backend. */
export interface OpenStoreOptions {
  busyTimeoutMs?: number;
  /** SQLite: checkpoint the WAL from a background thread this often (ms), for a long-running writer (`serve`). */
  checkpointEveryMs?: number;
  /** SQLite, with checkpointEveryMs: the WAL pages at which the writing connection checkpoints itself. */
  writerCheckpointPages?: number;
  maxConnections?: number;
  connectTimeoutMs?: number;
}

/** `PATH`, `sqlite:PATH` or `postgres://…` (`postgresql://…`); empty is BAD_FLAG naming `flag`. */
export function parseStoreLocation(text: string, flag = "--store"): StoreLocation {
  const t = text.trim();
  if (t === "")
    throw new KeystrokeError("BAD_FLAG", "is empty: give a file path, sqlite:PATH or postgres://…", { flag });
  if (/^postgres(ql)?:\/\//i.test(t)) return { kind: "postgres", url: t };
  if (/^sqlite:/i.test(t)) {
    const path = t.slice("sqlite:".length).replace(/^\/\/(?=\/)/, "");
    if (path === "")
      throw new KeystrokeError("BAD_FLAG", "sqlite: needs a file path (sqlite:PATH)", { flag });
    return { kind: "sqlite", path };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(t))
    throw new KeystrokeError(
      "BAD_FLAG",
      `"${t.split(":")[0]}" stores are not supported (a path, sqlite:PATH or postgres://…)`,
      { flag },
    );
  return { kind: "sqlite", path: t };
}

/** The store location from a flag value, else KEYSTROKE_ID_STORE, else ./keystroke-id.db. */
export function resolveStoreLocation(
  flag: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): StoreLocation {
  if (flag !== undefined) return parseStoreLocation(flag, "--store");
  const fromEnv = env[STORE_ENV];
  if (fromEnv !== undefined && fromEnv !== "") return parseStoreLocation(fromEnv, STORE_ENV);
  return { kind: "sqlite", path: DEFAULT_STORE };
}

/** Opens (and migrates) the store at a location; the drivers load only here. */
export async function openStore(
  location: StoreLocation | string,
  options: OpenStoreOptions = {},
): Promise<Store> {
  const where = typeof location === "string" ? parseStoreLocation(location) : location;
  if (where.kind === "postgres") {
    const { openPostgresStore } = await import("./postgres.js");
    return openPostgresStore(where.url, options);
  }
  const { openSqliteStore } = await import("./sqlite.js");
  return openSqliteStore(where.path, options);
}

/** The kind of store a location names. */
export function storeKind(location: StoreLocation): StoreKind {
  return location.kind;
}
