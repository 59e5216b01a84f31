import type { StoreKind } from "./types.js";

/** A row as the driver gives it. */
export type Row = Record<string, unknown>;

/**
 * The little a store needs of a database connection: queries with `?` placeholders (the PostgreSQL
 * side numbers them), a count of changed rows, and transactions. sqlite.ts and postgres.ts implement it.
 */
export interface Db {
  readonly kind: StoreKind;
  /** `prepare`: a statement of the hot path, prepared once per connection (PostgreSQL; SQLite prepares every one). */
  all(sql: string, params?: readonly unknown[], options?: { prepare?: boolean }): Promise<Row[]>;
  /** Runs a statement; resolves to the number of rows it changed. */
  run(sql: string, params?: readonly unknown[]): Promise<number>;
  /**
   * Inserts rows of `width` values each into `into` (`table (col, …)`), `tail` after the values (an
   * `ON CONFLICT` clause): SQLite runs one prepared statement per row, PostgreSQL multi-row statements
   * (each statement is a round trip there).
   */
  insert(into: string, width: number, rows: readonly (readonly unknown[])[], tail?: string): Promise<void>;
  /** Runs `fn` in one transaction (committed when it resolves, rolled back when it throws). */
  tx<T>(fn: (db: Db) => Promise<T>): Promise<T>;
}
