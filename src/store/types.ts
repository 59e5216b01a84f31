import type { PopulationStats, Template } from "../verify/types.js";

// One interface per kind of record (identities, replay hashes, audit log, population policy), the SQL
// behind them in sqlite.ts and postgres.ts. Keys are user ids as strings (String(label)): any text of
// 1..256 characters, `__proto__` included, since nothing here is a plain object keyed by id.

/** One enrolled user as stored: the template (without its enrolment samples) and its bookkeeping. */
export interface StoredIdentity {
  id: string;
  template: Template;
  /** Changes at every write of this user's template; caches compare it per request. */
  version: number;
  /** The population the template was enrolled against (null: none). */
  populationId: number | null;
  enrolledAt: number;
  updatedAt: number;
}

/** What `list` and `show` give: everything about a user but the timings. */
export interface IdentityInfo {
  id: string;
  user: Template["user"];
  detector: string;
  threshold: number;
  samples: number;
  nFeatures: number;
  version: number;
  enrolledAt: number;
  updatedAt: number;
}

/**
 * A template already serialised by the writer (import: the export's own text, checked): the columns the
 * store keeps beside it, and its JSON without `samples`.
 */
export interface SerializedTemplate {
  detector: string;
  threshold: number;
  n: number;
  nFeatures: number;
  json: string;
}

/** One user's enrolment, written in one transaction with its samples, their replay hashes and an audit entry. */
export interface IdentityWrite {
  id: string;
  template: Template | SerializedTemplate;
  populationId: number | null;
  /** The raw timing vectors enrolled (kept for `append` and export), or their JSON texts (import). */
  samples: ReadonlyArray<number[] | string>;
  /** Replay hashes of `samples` (enrolled samples are replays for as long as the user is enrolled). */
  sampleHashes: string[];
  /** Optimistic check: write only if the stored version is still this (null: only if not enrolled). */
  expectVersion?: number | null;
  /** Refuse (return null) instead of replacing an enrolled user (train). */
  onlyIfNew?: boolean;
  audit: AuditEntry;
  now: number;
  /** Kept from an export (import); default `now`. */
  enrolledAt?: number;
  updatedAt?: number;
}

/** The identity records: templates and their enrolment samples. */
export interface IdentityStore {
  /** The user's template version, or null when not enrolled (the cheap per-request cache check). */
  version(id: string): Promise<number | null>;
  get(id: string): Promise<StoredIdentity | null>;
  info(id: string): Promise<IdentityInfo | null>;
  /** The user's enrolment samples, in enrolment order. */
  samples(id: string): Promise<number[][]>;
  /** Writes one user (see IdentityWrite); null when `expectVersion` or `onlyIfNew` refused it. */
  put(w: IdentityWrite): Promise<{ version: number; created: boolean } | null>;
  /** Writes many users in one transaction (import); each as `put` would. */
  putMany(ws: readonly IdentityWrite[]): Promise<Array<{ version: number; created: boolean } | null>>;
  /** Adds one sample to a user's enrolment samples without a template yet (POST /auto collecting), with its audit entry. */
  addSample(id: string, vector: number[], audit: AuditEntry): Promise<void>;
  /** Erases the user's template, samples and replay hashes (audit entry in the same transaction); false when unknown. */
  delete(id: string, audit: AuditEntry): Promise<boolean>;
  /** A page of users in id order, after `after`, with their templates and enrolment samples (export: two queries a page). */
  dump(options: { after?: string; limit: number }): Promise<Array<StoredIdentity & { samples: number[][] }>>;
  /** A page of users in id order, after `after`. */
  list(options: { after?: string; limit: number }): Promise<IdentityInfo[]>;
  count(): Promise<number>;
}

/** Replay memory: hashes of verified and enrolled samples per user, shared by every instance on the store. */
export interface ReplayStore {
  /**
   * Remembers a verified sample's hash and says whether it was seen before (within `windowMs` for
   * verified samples; always for enrolled ones), with the user's template version in the same round trip
   * (null: not enrolled, and nothing is remembered). Atomic: of two instances seeing one sample at once,
   * one sees a replay.
   */
  check(
    id: string,
    hash: string,
    now: number,
    windowMs: number,
  ): Promise<{ version: number | null; replay: boolean }>;
  /** Forgets verified-sample hashes older than `before` (ms); returns how many. */
  prune(before: number): Promise<number>;
}

/** One audit record: who, when, what, with what outcome; never timings. */
export interface AuditEntry {
  id: string;
  at: number;
  action: "enrol" | "replace" | "append" | "delete" | "verify" | "import" | "adapt";
  outcome: string;
  score?: number | null;
  instance: string;
  detail?: string | null;
}

/** The audit log. */
export interface AuditStore {
  append(entries: readonly AuditEntry[]): Promise<void>;
  /** The user's entries, newest first. */
  list(id: string, limit: number): Promise<AuditEntry[]>;
  /** Removes entries older than `before` (ms); returns how many. */
  prune(before: number): Promise<number>;
}

/** Population statistics (bounded: POPULATION_LIMITS) per feature count, and small settings. */
export interface PolicyStore {
  /** The current population for samples of `nFeatures` timing features, with its id. */
  current(nFeatures: number): Promise<{ id: number; stats: PopulationStats } | null>;
  /** A population by id (templates name the one they were enrolled against). */
  population(id: number): Promise<PopulationStats | null>;
  /** Stores a population and makes it the current one for its feature count (unless `current` is false); returns its id. */
  addPopulation(stats: PopulationStats, now: number, current?: boolean): Promise<number>;
  /** Every stored population with its id and whether it is current (export; bounded: one per train or import). */
  populations(): Promise<Array<{ id: number; stats: PopulationStats; current: boolean }>>;
  getSetting(key: string): Promise<string | null>;
  setSetting(key: string, value: string): Promise<void>;
}

/** Which database a store is. */
export type StoreKind = "sqlite" | "postgres";

/** An opened identity store. */
export interface Store {
  readonly kind: StoreKind;
  /** Where it is, for messages (a path, or a URL without its password). */
  readonly location: string;
  readonly identities: IdentityStore;
  readonly replay: ReplayStore;
  readonly audit: AuditStore;
  readonly policy: PolicyStore;
  /** Resolves when the store answers a trivial query; throws STORE_UNAVAILABLE otherwise. */
  ping(): Promise<void>;
  /**
   * Runs a bulk load (import) of many transactions: SQLite checkpoints its WAL every 64 MB rather than every
   * 4 MB meanwhile (each checkpoint is two fsyncs), and once at the end; PostgreSQL runs it as it is.
   */
  bulk<T>(fn: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
