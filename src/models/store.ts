import { createRequire } from "node:module";
import { mkdir, readdir, readFile, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Label } from "../data/types.js";
import { KeystrokeError } from "../errors.js";
import { FEATURE_SETS, type FeatureSetName } from "../features/index.js";
import {
  removeStaleTempFiles,
  sha256,
  syncDir,
  withFileLock,
  writeError,
  writeFileAtomic,
} from "../util/fs.js";
import { loadClassifier } from "./index.js";
import { checkOpenSet, type OpenSetModel } from "./open-set.js";
import { ALGORITHMS, type Algorithm, type Classifier, type SerializedModel } from "./types.js";

/** The model-directory format this version writes and reads. */
export const MODEL_FORMAT_VERSION = 1;
export const MANIFEST_FILE = "manifest.json";
/** The lock `train` and `enroll` hold while they write into a models directory. */
export const LOCK_FILE = ".lock";

/** Held-out scores of a model, measured by `train` on the rows it kept back. */
export interface HoldoutMetrics {
  accuracy: number;
  macroF1: number;
  holdoutRows: number;
}

/** One model file as the manifest describes it. */
export interface ManifestModel {
  algorithm: Algorithm;
  featureSet: FeatureSetName;
  file: string;
  sha256: string;
  /** `<algorithm>-<featureSet>-<first 12 hex of sha256>`: changes whenever the file does. */
  version: string;
  featureNames: string[];
  /** Timings models: the number of keys a sample must have. Summary models: null (any length). */
  keys: number | null;
  keyNames?: string[];
  classes: Label[];
  params: Record<string, unknown>;
  metrics?: HoldoutMetrics;
  fitSeconds: number;
  bytes: number;
}

/** What the training data was, so a model can be traced back to it. */
export interface ManifestData {
  name: string;
  sha256: string;
  rows: number;
  users: number;
  layout: string;
}

/** `manifest.json`: everything about a models directory, checksums included. */
export interface Manifest {
  formatVersion: number;
  packageVersion: string;
  createdAt: string;
  data: ManifestData;
  seed: number;
  holdout: number;
  models: ManifestModel[];
  /** The algorithm with the best held-out accuracy (timings first), used when a request names none. */
  best: Algorithm;
  verification?: ManifestVerification;
  /** The id of the version this manifest makes active (`v3`); absent in directories written before versions. */
  versionId?: string;
  /** Every version the directory keeps, oldest first, the active one included; absent before versions. */
  versions?: ManifestVersionEntry[];
  /** The highest version number ever issued here, so a removed version's id is never reused. */
  lastVersionNumber?: number;
  /** How the active version's models were fitted: the split that scored them, and whether they were refitted on all rows. */
  training?: TrainingSplit;
}

/** The split `train` scored a version on, and which rows the written models saw. */
export interface TrainingSplit {
  /** Rows read (after skipped ones). */
  rows: number;
  /** Rows the held-out scores were measured on (0: nothing was held out). */
  holdoutRows: number;
  /** holdoutRows / rows: the true held-out share (the requested fraction is `holdout`). */
  holdoutShare: number;
  /** True: the written models were refitted on every row after scoring (the default); false: fitted on the training share only. */
  refitOnAll: boolean;
  /** Rows the written models were fitted on. */
  fittedRows: number;
}

/** One kept version as manifest.json lists it: enough to list, roll back to and garbage-collect it. */
export interface ManifestVersionEntry {
  id: string;
  createdAt: string;
  /** The version record, relative to the models directory: `versions/v3.<12 hex>.json`; null for a pre-versions manifest not yet recorded. */
  file: string | null;
  sha256: string | null;
  data: { name: string; rows: number; sha256: string };
  best: Algorithm;
  /** The model files of the version (garbage collection keeps them while the version is kept) and their held-out scores. */
  models: Array<{
    algorithm: Algorithm;
    featureSet: FeatureSetName;
    file: string;
    accuracy: number | null;
    macroF1: number | null;
  }>;
  /** Rows of the training data the version's models were fitted on, when recorded (see TrainingRows). */
  fittedRows: number | null;
}

/**
 * The fingerprint of the rows a version was fitted on: the sorted, distinct 64-bit row hashes (the
 * first 8 bytes of SHA-256 of the sample's timings, see src/train/fingerprint.ts), base64. Exact
 * membership, 8 bytes a row; two distinct rows collide with probability about n²/2⁶⁵.
 */
export interface TrainingRows {
  hash: "sha256-64";
  count: number;
  /** Distinct rows (count minus exact duplicates). */
  distinct: number;
  hashes: string;
}

/** `versions/<id>.<12 hex>.json`: one version, immutable, written before the manifest that lists it. */
export interface VersionRecord {
  formatVersion: number;
  id: string;
  /** The version's manifest as it was active (without the versions list and the verification entry). */
  manifest: Manifest;
  trainingRows?: TrainingRows;
}

/** Where the verification store of a models directory is: its content-addressed index, named by the manifest. */
export interface ManifestVerification {
  /** Relative to the models directory: always "verification". */
  dir: string;
  users: number;
  detector: string;
  /** The index file inside `dir` (`index.<12 hex>.json`); absent in stores written before it existed (then `index.json`). */
  index?: string;
  /** SHA-256 of the index file. */
  sha256?: string;
}

/** A classifier loaded from a models directory, with what is needed to feed it. */
export interface LoadedModel {
  algorithm: Algorithm;
  featureSet: FeatureSetName;
  classifier: Classifier;
  featureNames: string[];
  keys: number | null;
  version: string;
  metrics?: HoldoutMetrics;
  /** The open-set rule calibrated at train time; absent in model files written before it existed. */
  openSet?: OpenSetModel;
}

/** A loaded models directory. */
export interface ModelDir {
  dir: string;
  manifest: Manifest;
  models: LoadedModel[];
  find(algorithm: Algorithm, featureSet: FeatureSetName): LoadedModel | undefined;
}

/** A trained model about to be written. */
export interface ModelToWrite {
  serialized: SerializedModel;
  featureSet: FeatureSetName;
  featureNames: string[];
  keys: number | null;
  keyNames?: string[];
  metrics?: HoldoutMetrics;
  fitSeconds: number;
  /** The open-set rule, written into the model file (`open_set`). */
  openSet?: OpenSetModel;
}

/** The file name of a model, `rf-timings.<12 hex of its sha256>.json`: a new file never replaces one an older manifest names. */
export function modelFileName(
  algorithm: Algorithm,
  featureSet: FeatureSetName,
  contentSha256: string,
): string {
  return `${algorithm.toLowerCase()}-${featureSet}.${contentSha256.slice(0, 12)}.json`;
}

/** Serialises a model deterministically: same model → same bytes. */
export function modelFileText(
  serialized: SerializedModel,
  featureSet: FeatureSetName,
  featureNames: string[],
  openSet?: OpenSetModel,
): string {
  return (
    JSON.stringify({
      formatVersion: MODEL_FORMAT_VERSION,
      featureSet,
      featureNames,
      model: serialized,
      ...(openSet ? { open_set: openSet } : {}),
    }) + "\n"
  );
}

/** What `writeModelDir` records beside the models. */
export interface WriteModelDirInfo {
  data: ManifestData;
  seed: number;
  holdout: number;
  /** The verification entry to record; when omitted, `stage` decides, else the previous manifest's is kept. */
  verification?: Manifest["verification"];
  /**
   * Writes more files (verification templates) while the directory is locked, before the manifest that
   * will name them; returns their manifest entry (undefined: keep the previous one).
   */
  stage?: (dir: string, previous: Manifest | null) => Promise<Manifest["verification"] | undefined>;
  createdAt?: Date;
  /** How many versions to keep, the new one included (default DEFAULT_KEEP_VERSIONS); older ones are removed. */
  keep?: number;
  /** The split and refit, recorded in the manifest. */
  training?: TrainingSplit;
  /** The fingerprint of the rows the models were fitted on, recorded in the version record. */
  trainingRows?: TrainingRows;
}

/** Versions a models directory keeps unless `--keep` says otherwise. */
export const DEFAULT_KEEP_VERSIONS = 5;
/** Where version records live, relative to the models directory. */
export const VERSIONS_DIR = "versions";

/**
 * Writes a models directory so that a crash at any moment leaves either the previous directory or the
 * new one, whole: model files under content-addressed names first (each fsynced, then renamed into
 * place), then manifest.json, the single commit point, then removal of the files it no longer names.
 * Holds `<dir>/.lock` throughout, so `train` and `enroll` cannot lose each other's writes. Model files
 * hold no timestamps: the same data and seed give byte-identical files; only the manifest records when.
 */
export async function writeModelDir(
  dir: string,
  models: ModelToWrite[],
  info: WriteModelDirInfo,
): Promise<Manifest> {
  await makeDir(dir);
  return withFileLock(join(dir, LOCK_FILE), async () => {
    let previous: Manifest | null = null;
    let previousReadable = true;
    try {
      previous = await readManifestIfAny(dir);
    } catch {
      // a damaged previous manifest must not stop a retrain that replaces it
      previousReadable = false;
    }
    const entries: ManifestModel[] = [];
    const manifest = await uncommittedOnFailure(
      dir,
      previousReadable ? (previous ?? NO_MODELS_MANIFEST) : undefined,
      async () => {
        for (const m of models) {
          const { algorithm } = m.serialized;
          const text = modelFileText(m.serialized, m.featureSet, m.featureNames, m.openSet);
          const hash = sha256(text);
          const file = modelFileName(algorithm, m.featureSet, hash);
          await writeFileAtomic(join(dir, file), text);
          entries.push({
            algorithm,
            featureSet: m.featureSet,
            file,
            sha256: hash,
            version: `${algorithm.toLowerCase()}-${m.featureSet}-${hash.slice(0, 12)}`,
            featureNames: m.featureNames,
            keys: m.keys,
            ...(m.keyNames ? { keyNames: m.keyNames } : {}),
            classes: m.serialized.classes,
            params: m.serialized.params,
            ...(m.metrics ? { metrics: m.metrics } : {}),
            fitSeconds: round(m.fitSeconds, 3),
            bytes: Buffer.byteLength(text),
          });
        }
        // enrolled users live in the identity store (src/store), not here: a new manifest names no verification files
        const verification = info.verification ?? (info.stage ? await info.stage(dir, previous) : undefined);
        const kept = previous ? await recordedVersions(dir, previous) : [];
        const number =
          Math.max(previous ? lastVersionNumber(previous) : 0, ...kept.map((v) => versionNumber(v.id))) + 1;
        const own: Manifest = {
          formatVersion: MODEL_FORMAT_VERSION,
          packageVersion: packageVersion(),
          createdAt: (info.createdAt ?? new Date()).toISOString(),
          data: info.data,
          seed: info.seed,
          holdout: info.holdout,
          models: entries,
          best: pickBest(entries),
          versionId: `v${number}`,
          ...(info.training ? { training: info.training } : {}),
        };
        const entry = await writeVersionRecord(dir, own, info.trainingRows);
        const keep = Math.max(1, info.keep ?? DEFAULT_KEEP_VERSIONS);
        const versions = [...kept, entry].slice(-keep);
        const manifest: Manifest = {
          ...own,
          versions,
          lastVersionNumber: number,
          ...(verification ? { verification } : {}),
        };
        await writeManifest(dir, manifest);
        return manifest;
      },
    );
    await collectGarbage(dir, manifest);
    return manifest;
  });
}

/**
 * Runs the writes of an update up to and including its commit; when they fail before the commit, the
 * files they had added are removed again (collectGarbage against the previous manifest, or null for a
 * store without one), so a failed write (a full disk) leaves the directory as it was. `previous`
 * undefined: the previous state could not be read, so nothing is removed.
 */
export async function uncommittedOnFailure<T>(
  dir: string,
  previous: Manifest | null | undefined,
  writes: () => Promise<T>,
): Promise<T> {
  try {
    return await writes();
  } catch (e) {
    if (previous !== undefined) await collectGarbage(dir, previous).catch(() => undefined);
    throw e;
  }
}

// What a directory without a manifest holds in models: none (so a failed first train leaves none behind).
const NO_MODELS_MANIFEST = { models: [] } as unknown as Manifest;

/** Creates a directory (and its parents), or throws an IO KeystrokeError naming it and saying why. */
export async function makeDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (e) {
    throw writeError(dir, e);
  }
}

/** Writes manifest.json atomically and flushes the directory entry: the commit point of a models dir. */
export async function writeManifest(dir: string, manifest: Manifest): Promise<void> {
  await writeFileAtomic(join(dir, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + "\n");
  await syncDir(dir);
}

// Our names, and only ours, are ever removed: anything else a person keeps in the directory stays.
const MODEL_FILE = new RegExp(
  `^(${ALGORITHMS.map((a) => a.toLowerCase()).join("|")})-(${FEATURE_SETS.join("|")})(\\.[0-9a-f]{12})?\\.json$`,
);
const HASHED_INDEX = /^index\.[0-9a-f]{12}\.json$/;
const TEMPLATE_FILE = /^[ns]-.+\.json$/;
const VERSION_FILE = /^v\d+\.[0-9a-f]{12}\.json$/;
/** The index file of a verification store that no manifest points into (stores written by `enroll` alone, or older versions). */
export const LEGACY_INDEX_FILE = "index.json";

/**
 * Removes what the manifest (or, with none, the legacy verification index) no longer names: model
 * files, verification indexes and templates of our own naming patterns, and temporary files left by
 * dead processes. Call it holding the directory's lock, after the commit. Returns the removed paths.
 */
export async function collectGarbage(dir: string, manifest: Manifest | null): Promise<string[]> {
  const removed: string[] = [];
  const remove = async (path: string) => {
    await rm(path, { force: true }).catch(() => undefined);
    removed.push(path);
  };
  const vdir = join(dir, "verification");
  const versionsDir = join(dir, VERSIONS_DIR);
  for (const d of [dir, vdir, join(vdir, "templates"), versionsDir]) {
    for (const name of await removeStaleTempFiles(d)) removed.push(join(d, name));
  }
  if (manifest) {
    // every kept version's model files stay, so a rollback finds them
    const keep = new Set(manifest.models.map((m) => m.file));
    for (const v of manifest.versions ?? []) for (const m of v.models) keep.add(m.file);
    for (const name of await listDir(dir))
      if (MODEL_FILE.test(name) && !keep.has(name)) await remove(join(dir, name));
    const records = new Set(
      (manifest.versions ?? []).flatMap((v) => (v.file ? [v.file.slice(VERSIONS_DIR.length + 1)] : [])),
    );
    for (const name of await listDir(versionsDir))
      if (VERSION_FILE.test(name) && !records.has(name)) await remove(join(versionsDir, name));
  }
  // a manifest that names no verification store leaves verification/ alone: an older keystroke-id's
  // templates stay on disk until the identity store has imported them (src/identity/legacy.ts)
  if (manifest && !manifest.verification) return removed;
  const indexName = manifest?.verification?.index ?? LEGACY_INDEX_FILE;
  let templates: Set<string>;
  try {
    const index = JSON.parse(await readFile(join(vdir, indexName), "utf8")) as {
      users?: Record<string, { file?: unknown }>;
    };
    templates = new Set(Object.values(index.users ?? {}).map((u) => String(u.file)));
  } catch (e) {
    // no index at all: no template is live; an unreadable one: nothing tells which are, so none is touched
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") return removed;
    templates = new Set();
  }
  for (const name of await listDir(vdir)) {
    if ((HASHED_INDEX.test(name) || name === LEGACY_INDEX_FILE) && name !== indexName)
      await remove(join(vdir, name));
  }
  for (const name of await listDir(join(vdir, "templates"))) {
    if (TEMPLATE_FILE.test(name) && !templates.has(`templates/${name}`))
      await remove(join(vdir, "templates", name));
  }
  return removed;
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}

/** The number of a version id: 3 for `v3`. */
function versionNumber(id: string): number {
  const m = /^v(\d+)$/.exec(id);
  return m ? Number(m[1]) : 0;
}

/** The id a manifest written before versions existed stands for: it becomes version v1. */
const LEGACY_VERSION_ID = "v1";

/** The id of the version a manifest makes active (`v1` for a manifest written before versions). */
export function activeVersionId(manifest: Manifest): string {
  return manifest.versionId ?? LEGACY_VERSION_ID;
}

function lastVersionNumber(manifest: Manifest): number {
  return Math.max(manifest.lastVersionNumber ?? 0, versionNumber(activeVersionId(manifest)));
}

/** The list entry of a version, from its manifest. */
function versionEntry(
  m: Manifest,
  id: string,
  file: string | null,
  hash: string | null,
): ManifestVersionEntry {
  return {
    id,
    createdAt: m.createdAt,
    file,
    sha256: hash,
    data: { name: m.data?.name, rows: m.data?.rows, sha256: m.data?.sha256 },
    best: m.best,
    models: m.models.map((x) => ({
      algorithm: x.algorithm,
      featureSet: x.featureSet,
      file: x.file,
      accuracy: x.metrics?.accuracy ?? null,
      macroF1: x.metrics?.macroF1 ?? null,
    })),
    fittedRows: m.training?.fittedRows ?? null,
  };
}

/** The versions a manifest keeps, oldest first; a manifest written before versions is one version, `v1`. */
export function listVersions(manifest: Manifest): ManifestVersionEntry[] {
  return manifest.versions ?? [versionEntry(manifest, LEGACY_VERSION_ID, null, null)];
}

/** A version's own manifest, without what belongs to the directory (the versions list, the verification store). */
function ownManifest(m: Manifest): Manifest {
  const { versions: _v, lastVersionNumber: _l, verification: _ver, ...own } = m;
  return own;
}

/** Writes a version record (immutable, content-addressed) and returns its list entry. */
async function writeVersionRecord(
  dir: string,
  manifest: Manifest,
  trainingRows?: TrainingRows,
): Promise<ManifestVersionEntry> {
  const id = activeVersionId(manifest);
  const record: VersionRecord = {
    formatVersion: MODEL_FORMAT_VERSION,
    id,
    manifest: ownManifest(manifest),
    ...(trainingRows ? { trainingRows } : {}),
  };
  const text = JSON.stringify(record) + "\n";
  const hash = sha256(text);
  const file = `${VERSIONS_DIR}/${id}.${hash.slice(0, 12)}.json`;
  await writeFileAtomic(join(dir, file), text);
  await syncDir(join(dir, VERSIONS_DIR));
  return versionEntry(record.manifest, id, file, hash);
}

/**
 * The versions of the previous manifest as the next one will list them. A manifest written before
 * versions existed gets its record written now (as v1), so the upgrade keeps it as a version.
 */
async function recordedVersions(dir: string, previous: Manifest): Promise<ManifestVersionEntry[]> {
  if (previous.versions) return previous.versions;
  if (!Array.isArray(previous.models) || previous.models.length === 0) return [];
  return [await writeVersionRecord(dir, { ...previous, versionId: LEGACY_VERSION_ID })];
}

/** `3` and `v3` both name version v3. */
export function normaliseVersionId(id: string): string {
  return /^\d+$/.test(id.trim()) ? `v${Number(id.trim())}` : id.trim();
}

function findVersion(dir: string, manifest: Manifest, id: string): ManifestVersionEntry {
  const wanted = normaliseVersionId(id);
  const entry = listVersions(manifest).find((v) => v.id === wanted);
  if (!entry) {
    throw new KeystrokeError(
      "UNKNOWN_MODEL",
      `no model version ${JSON.stringify(id.slice(0, 40))} in ${resolve(dir)} (kept: ${listVersions(manifest)
        .map((v) => v.id)
        .join(", ")})`,
      {},
      {
        suggestion: "list them: keystroke-id models list",
      },
    );
  }
  return entry;
}

/** A version's record: its manifest and (when recorded) the fingerprint of its training rows. */
export async function readVersionRecord(
  dir: string,
  manifest: Manifest,
  id: string = activeVersionId(manifest),
): Promise<VersionRecord> {
  const entry = findVersion(dir, manifest, id);
  if (entry.file === null || entry.sha256 === null)
    return { formatVersion: MODEL_FORMAT_VERSION, id: entry.id, manifest: ownManifest(manifest) };
  const path = join(dir, entry.file);
  const bytes = await readListedFile(path, entry.sha256, "the version record was changed or corrupted");
  let record: VersionRecord;
  try {
    record = JSON.parse(bytes.toString("utf8")) as VersionRecord;
  } catch (e) {
    throw new KeystrokeError("BAD_MODEL_FILE", `is not valid JSON (${(e as Error).message})`, { file: path });
  }
  if (
    record.formatVersion !== MODEL_FORMAT_VERSION ||
    !record.manifest ||
    !Array.isArray(record.manifest.models)
  ) {
    throw new KeystrokeError("BAD_MODEL_FILE", "is not a keystroke-id version record of this format", {
      file: path,
    });
  }
  return record;
}

/**
 * Runs `change` under the directory's lock with the manifest as it is then and the named version's entry
 * (a clear error if the directory has no manifest or no such version; the first read fails before locking).
 */
async function withVersion(
  dir: string,
  id: string,
  change: (manifest: Manifest, entry: ReturnType<typeof findVersion>) => Promise<Manifest>,
): Promise<Manifest> {
  await readManifest(dir);
  return withFileLock(join(dir, LOCK_FILE), async () => {
    const manifest = await readManifest(dir);
    return change(manifest, findVersion(dir, manifest, id));
  });
}

/**
 * Makes a kept version the active one (a rollback, or forward again): manifest.json, the commit point,
 * is rewritten to that version's models; the versions list and the verification store stay as they are.
 * A running `serve` that watches the manifest follows.
 */
export async function activateVersion(dir: string, id: string): Promise<Manifest> {
  return withVersion(dir, id, async (manifest, entry) => {
    if (entry.id === activeVersionId(manifest)) return manifest;
    const record = await readVersionRecord(dir, manifest, entry.id);
    // every model file must be there and whole before the manifest points at them
    for (const m of record.manifest.models) await loadModelFile(dir, m);
    const next: Manifest = {
      ...ownManifest(record.manifest),
      versionId: entry.id,
      versions: manifest.versions ?? listVersions(manifest),
      lastVersionNumber: lastVersionNumber(manifest),
      ...(manifest.verification ? { verification: manifest.verification } : {}),
    };
    await writeManifest(dir, next);
    await collectGarbage(dir, next);
    return next;
  });
}

/** Removes a kept version that is not the active one (its record, and model files no other version names). */
export async function removeVersion(dir: string, id: string): Promise<Manifest> {
  return withVersion(dir, id, async (manifest, entry) => {
    if (entry.id === activeVersionId(manifest)) {
      const others = listVersions(manifest)
        .filter((v) => v.id !== entry.id)
        .map((v) => v.id);
      throw new KeystrokeError(
        "BAD_REQUEST",
        `${entry.id} is the active model version of ${resolve(dir)} and cannot be removed`,
        {},
        {
          suggestion: others.length
            ? `make another one active first: keystroke-id models use ${others[others.length - 1]}`
            : "train a new version first",
        },
      );
    }
    const next: Manifest = {
      ...manifest,
      versions: listVersions(manifest).filter((v) => v.id !== entry.id),
      lastVersionNumber: lastVersionNumber(manifest),
    };
    await writeManifest(dir, next);
    await collectGarbage(dir, next);
    return next;
  });
}

function noModels(dir: string): KeystrokeError {
  return new KeystrokeError(
    "NO_MODELS",
    `no models in ${resolve(dir)} (${MANIFEST_FILE} not found)`,
    {},
    {
      suggestion: "train some first: keystroke-id train <data.csv> --out " + dir,
    },
  );
}

/** Reads and checks manifest.json alone (no model files); NO_MODELS when there is none. */
export async function readManifest(dir: string): Promise<Manifest> {
  const m = await readManifestIfAny(dir);
  if (!m) throw noModels(dir);
  return m;
}

/** Like readManifest, but null when the directory has no manifest.json. */
export async function readManifestIfAny(dir: string): Promise<Manifest | null> {
  const text = await readManifestText(dir);
  return text === null ? null : parseManifest(text, join(dir, MANIFEST_FILE));
}

async function readManifestText(dir: string): Promise<string | null> {
  const path = join(dir, MANIFEST_FILE);
  try {
    return await readFile(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return null;
    throw new KeystrokeError(
      "IO",
      `cannot be read (${code ?? (e as Error).message})`,
      { file: path },
      { cause: e },
    );
  }
}

function parseManifest(text: string, path: string): Manifest {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(text) as Manifest;
  } catch (e) {
    throw new KeystrokeError("BAD_MODEL_FILE", `is not valid JSON (${(e as Error).message})`, { file: path });
  }
  if (manifest === null || typeof manifest !== "object" || typeof manifest.formatVersion !== "number") {
    throw new KeystrokeError("BAD_MODEL_FILE", "is not a keystroke-id manifest (no formatVersion)", {
      file: path,
    });
  }
  if (manifest.formatVersion !== MODEL_FORMAT_VERSION) {
    throw new KeystrokeError(
      "BAD_MODEL_FILE",
      `has format version ${manifest.formatVersion}; this keystroke-id ${packageVersion()} reads version ${MODEL_FORMAT_VERSION}`,
      { file: path },
      {
        suggestion: "retrain with this version, or use the keystroke-id version that wrote it",
      },
    );
  }
  if (!Array.isArray(manifest.models)) {
    throw new KeystrokeError("BAD_MODEL_FILE", "has no models list", { file: path, field: "models" });
  }
  return manifest;
}

// Errors for a file the manifest names but that is gone: a concurrent commit may have collected it
// between our reading the manifest and the file, so the load is retried against the new manifest.
const vanished = new WeakSet<Error>();

/** Marks an error as "a file the manifest names is missing", which a fresh read of the manifest may cure. */
export function markVanished(e: Error): void {
  vanished.add(e);
}

/** True when the error says a file named by the manifest was missing (a reload may succeed). */
export function isVanishedFile(e: unknown): boolean {
  return e instanceof Error && vanished.has(e);
}

/** Loads the models of a directory (all, or those chosen), refusing any file whose checksum or format does not match. */
export async function loadModelDir(
  dir: string,
  options: {
    algorithms?: readonly Algorithm[];
    only?: (entry: ManifestModel, manifest: Manifest) => boolean;
    version?: string;
  } = {},
): Promise<ModelDir> {
  for (let attempt = 1; ; attempt++) {
    const text = await readManifestText(dir);
    if (text === null) throw noModels(dir);
    const active = parseManifest(text, join(dir, MANIFEST_FILE));
    try {
      // another kept version than the active one: its record names its models
      const manifest =
        options.version === undefined || normaliseVersionId(options.version) === activeVersionId(active)
          ? active
          : {
              ...(await readVersionRecord(dir, active, options.version)).manifest,
              versions: listVersions(active),
            };
      const models: LoadedModel[] = [];
      for (const entry of manifest.models) {
        if (options.algorithms && !options.algorithms.includes(entry.algorithm)) continue;
        if (options.only && !options.only(entry, manifest)) continue;
        models.push(await loadModelFile(dir, entry));
      }
      return {
        dir,
        manifest,
        models,
        find: (algorithm, featureSet) =>
          models.find((m) => m.algorithm === algorithm && m.featureSet === featureSet),
      };
    } catch (e) {
      if (attempt < 3 && isVanishedFile(e) && (await readManifestText(dir).catch(() => null)) !== text)
        continue;
      throw e;
    }
  }
}

/**
 * A file the manifest lists, checked against its recorded checksum: a missing file (remembered as vanished,
 * so a reader racing a writer's clean-up can retry) or a changed one is a BAD_MODEL_FILE naming it.
 */
async function readListedFile(
  path: string,
  expected: string,
  changed: string,
  suggestion?: string,
): Promise<Buffer> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    const err = new KeystrokeError(
      "BAD_MODEL_FILE",
      "is listed in the manifest but missing",
      { file: path },
      { cause: e },
    );
    if ((e as NodeJS.ErrnoException).code === "ENOENT") vanished.add(err);
    throw err;
  }
  if (sha256(bytes) !== expected)
    throw new KeystrokeError(
      "BAD_MODEL_FILE",
      `checksum does not match the manifest: ${changed}`,
      { file: path },
      suggestion ? { suggestion } : {},
    );
  return bytes;
}

async function loadModelFile(dir: string, entry: ManifestModel): Promise<LoadedModel> {
  const path = join(dir, entry.file);
  const bytes = await readListedFile(
    path,
    entry.sha256,
    "the file was changed or corrupted",
    "retrain, or restore the file the manifest was written with",
  );
  const text = bytes.toString("utf8");
  let parsed: {
    formatVersion?: unknown;
    featureSet?: unknown;
    featureNames?: unknown;
    model?: SerializedModel;
    open_set?: unknown;
  };
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch (e) {
    throw new KeystrokeError("BAD_MODEL_FILE", `is not valid JSON (${(e as Error).message})`, { file: path });
  }
  if (parsed.formatVersion !== MODEL_FORMAT_VERSION) {
    throw new KeystrokeError(
      "BAD_MODEL_FILE",
      `has unknown format version ${String(parsed.formatVersion)} (expected ${MODEL_FORMAT_VERSION})`,
      { file: path },
    );
  }
  if (!parsed.model || !ALGORITHMS.includes(parsed.model.algorithm)) {
    throw new KeystrokeError("BAD_MODEL_FILE", "holds no model of a known algorithm", {
      file: path,
      field: "model.algorithm",
    });
  }
  let classifier: Classifier;
  try {
    classifier = await loadClassifier(parsed.model);
  } catch (e) {
    if (e instanceof KeystrokeError)
      throw new KeystrokeError("BAD_MODEL_FILE", e.message, { file: path }, { cause: e });
    throw new KeystrokeError(
      "BAD_MODEL_FILE",
      `cannot be loaded: ${(e as Error).message}`,
      { file: path },
      { cause: e },
    );
  }
  let openSet: OpenSetModel | undefined;
  try {
    openSet =
      parsed.open_set === undefined ? undefined : checkOpenSet(parsed.open_set, entry.featureNames.length);
  } catch (e) {
    if (e instanceof KeystrokeError)
      throw new KeystrokeError(
        "BAD_MODEL_FILE",
        e.detail,
        { file: path, ...(e.place.field ? { field: e.place.field } : {}) },
        { cause: e },
      );
    throw e;
  }
  return {
    algorithm: entry.algorithm,
    featureSet: entry.featureSet,
    classifier,
    featureNames: entry.featureNames,
    keys: entry.keys,
    version: entry.version,
    ...(entry.metrics ? { metrics: entry.metrics } : {}),
    ...(openSet ? { openSet } : {}),
  };
}

/** The algorithm with the best held-out accuracy, timings models first; RF when nothing was held out. */
export function pickBest(models: ManifestModel[]): Algorithm {
  const scored = models.filter((m) => m.metrics);
  if (scored.length === 0)
    return models.some((m) => m.algorithm === "RF") || models.length === 0 ? "RF" : models[0]!.algorithm;
  const rank = (m: ManifestModel) => (m.featureSet === "timings" ? 1 : 0) * 10 + m.metrics!.accuracy;
  return scored.reduce((a, b) => (rank(b) > rank(a) ? b : a)).algorithm;
}

function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

let cachedVersion: string | undefined;
/** The package's version, read once. */
export function packageVersion(): string {
  cachedVersion ??= (createRequire(import.meta.url)("../../package.json") as { version: string }).version;
  return cachedVersion;
}
