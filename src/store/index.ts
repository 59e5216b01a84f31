/** The identity store: templates, enrolment samples, replay hashes, audit log and populations, on SQLite or PostgreSQL. */
export type {
  AuditEntry,
  AuditStore,
  IdentityInfo,
  IdentityStore,
  IdentityWrite,
  PolicyStore,
  ReplayStore,
  SerializedTemplate,
  Store,
  StoreKind,
  StoredIdentity,
} from "./types.js";
export {
  DEFAULT_STORE,
  STORE_ENV,
  openStore,
  parseStoreLocation,
  resolveStoreLocation,
  type OpenStoreOptions,
  type StoreLocation,
} from "./open.js";
export { SCHEMA_VERSION } from "./schema.js";
