import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Label } from "../data/types.js";
import { KeystrokeError } from "../errors.js";
import {
  collectGarbage,
  isVanishedFile,
  LEGACY_INDEX_FILE,
  LOCK_FILE,
  makeDir,
  markVanished,
  readManifestIfAny,
  writeManifest,
  type Manifest,
  type ManifestVerification,
  uncommittedOnFailure,
} from "../models/store.js";
import { sha256, syncDir, withFileLock, writeFileAtomic } from "../util/fs.js";
import { RecentSampleCache } from "./replay.js";
import { isDetectorName, verifySample } from "./template.js";
import type { DetectorName, PopulationStats, Template, VerificationResult } from "./types.js";

/** Format tag of a verification index. */
export const STORE_FORMAT = "keystroke-id/verification";

/** What a verification index (`verification/index.<12 hex>.json`, or the legacy `index.json`) holds. */
export interface VerificationIndex {
  format: typeof STORE_FORMAT;
  version: 1;
  /** Default detector of the store (each template names its own). */
  detector: DetectorName;
  featureSet: "timings";
  keys: number;
  nFeatures: number;
  featureNames: string[];
  population: PopulationStats | null;
  /** User id (as a string) → template file (relative to verification/) and its SHA-256. */
  users: Record<string, { user: Label; file: string; sha256: string }>;
}

/** What `saveTemplates` records beside the templates. */
export interface SaveTemplatesMeta {
  detector: DetectorName;
  keys: number;
  featureNames?: string[];
  /** Replaces the stored population; kept as it is when omitted. */
  population?: PopulationStats;
  /** Remove users that are not among `templates` (a fresh `train`); default false (enrol: add or replace only). */
  replaceAll?: boolean;
}

/** Counts of verification outcomes since the store was loaded (for the server's metrics). */
export interface VerifyCounters {
  claims: number;
  accepted: number;
  rejected: number;
  replays: number;
  scripted: number;
}

/** The verification directory inside a models directory. */
export function verificationDir(modelsDir: string): string {
  return join(modelsDir, "verification");
}

/**
 * A template's file name: the user id in safe characters (a hash of the id when anything had to
 * change), then 8 hex of the content's SHA-256, so a new template never replaces one an older
 * manifest names: `templates/n-42.<8 hex>.json`.
 */
export function templateFileName(user: Label, contentSha256: string): string {
  const id = String(user);
  const safe = id.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 64);
  const changed = safe !== id || safe.startsWith(".") || safe === "";
  const prefix = typeof user === "number" ? "n-" : "s-";
  const suffix = changed ? `-${createHash("sha256").update(id).digest("hex").slice(0, 8)}` : "";
  return `templates/${prefix}${safe}${suffix}.${contentSha256.slice(0, 8)}.json`;
}

/** The index file of a store as the manifest names it: `index.<12 hex>.json`. */
export function indexFileName(contentSha256: string): string {
  return `index.${contentSha256.slice(0, 12)}.json`;
}

/**
 * Adds or replaces these users' templates (or, with `replaceAll`, replaces the whole store) so that a
 * crash at any moment leaves the previous store whole: new templates and a new content-addressed index
 * first, then the manifest that names the index (the commit point), then removal of what it no longer
 * names. A directory without a manifest (a store made by `enroll` alone) commits by its `index.json`.
 * Holds `<modelsDir>/.lock`, which `train` holds too, so concurrent writers take turns and lose nothing.
 */
export async function saveTemplates(
  modelsDir: string,
  templates: Template[],
  meta: SaveTemplatesMeta,
): Promise<VerificationIndex> {
  await makeDir(modelsDir);
  return withFileLock(join(modelsDir, LOCK_FILE), async () => {
    const manifest = await readManifestIfAny(modelsDir);
    const existing = meta.replaceAll ? null : await readIndexIfAny(modelsDir, manifest);
    const vdir = verificationDir(modelsDir);
    const { staged, next } = await uncommittedOnFailure(modelsDir, manifest, async () => {
      const staged = await writeTemplateFiles(modelsDir, templates, meta, existing);
      if (!manifest) {
        await writeFileAtomic(join(vdir, LEGACY_INDEX_FILE), staged.text);
        await syncDir(vdir);
        return { staged, next: null };
      }
      const next: Manifest = { ...manifest, verification: await writeStagedIndex(modelsDir, staged) };
      await writeManifest(modelsDir, next);
      return { staged, next };
    });
    await collectGarbage(modelsDir, next);
    return staged.index;
  });
}

/**
 * For `train`: writes the templates and their content-addressed index without committing them, and
 * returns the manifest entry that will. The caller holds the models-dir lock (writeModelDir's `stage`).
 */
export async function stageTemplates(
  modelsDir: string,
  templates: Template[],
  meta: SaveTemplatesMeta,
): Promise<ManifestVerification> {
  const staged = await writeTemplateFiles(modelsDir, templates, { ...meta, replaceAll: true }, null);
  return writeStagedIndex(modelsDir, staged);
}

interface StagedIndex {
  index: VerificationIndex;
  text: string;
}

async function writeStagedIndex(modelsDir: string, staged: StagedIndex): Promise<ManifestVerification> {
  const hash = sha256(staged.text);
  const file = indexFileName(hash);
  await writeFileAtomic(join(verificationDir(modelsDir), file), staged.text);
  return {
    dir: "verification",
    users: Object.keys(staged.index.users).length,
    detector: staged.index.detector,
    index: file,
    sha256: hash,
  };
}

async function writeTemplateFiles(
  modelsDir: string,
  templates: Template[],
  meta: SaveTemplatesMeta,
  existing: VerificationIndex | null,
): Promise<StagedIndex> {
  const dir = verificationDir(modelsDir);
  const nFeatures = templates[0]?.nFeatures ?? existing?.nFeatures ?? 4 * meta.keys - 3;
  if (existing && existing.nFeatures !== nFeatures) {
    throw new KeystrokeError(
      "BAD_REQUEST",
      `the verification store in ${dir} holds ${existing.keys}-key templates; these samples have ${(nFeatures + 3) / 4} keys`,
    );
  }
  for (const t of templates) {
    if (t.nFeatures !== nFeatures)
      throw new KeystrokeError(
        "BAD_REQUEST",
        `template of user ${String(t.user)} has ${t.nFeatures} features, expected ${nFeatures}`,
      );
  }
  const users: VerificationIndex["users"] = { ...(existing?.users ?? {}) };
  for (const t of templates) {
    const text = JSON.stringify(t) + "\n";
    const hash = sha256(text);
    const file = templateFileName(t.user, hash);
    await writeFileAtomic(join(dir, file), text);
    users[String(t.user)] = { user: t.user, file, sha256: hash };
  }
  const index: VerificationIndex = {
    format: STORE_FORMAT,
    version: 1,
    detector: meta.detector,
    featureSet: "timings",
    keys: (nFeatures + 3) / 4,
    nFeatures,
    featureNames: meta.featureNames ?? existing?.featureNames ?? [],
    population: meta.population ?? existing?.population ?? null,
    users: Object.fromEntries(Object.entries(users).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
  };
  return { index, text: JSON.stringify(index) + "\n" };
}

/**
 * Reads the store's index only (no templates); null when there is no store yet. The index is the one
 * the manifest names (checksum-checked), or `verification/index.json` when it names none.
 */
export async function readVerificationIndex(
  modelsDir: string,
  options: { manifest?: Manifest | null } = {},
): Promise<VerificationIndex | null> {
  const manifest = options.manifest !== undefined ? options.manifest : await readManifestIfAny(modelsDir);
  return readIndexIfAny(modelsDir, manifest);
}

/** Loads every template of a store, checking each file's SHA-256; throws NO_MODELS or BAD_MODEL_FILE. */
export async function loadTemplates(
  modelsDir: string,
  options: { manifest?: Manifest | null } = {},
): Promise<TemplateStore> {
  for (let attempt = 1; ; attempt++) {
    const manifest =
      options.manifest !== undefined && attempt === 1 ? options.manifest : await readManifestIfAny(modelsDir);
    try {
      return await loadTemplatesOnce(modelsDir, manifest);
    } catch (e) {
      // a commit between reading the manifest and a template may have collected it: retry on the new manifest
      if (
        attempt < 3 &&
        isVanishedFile(e) &&
        JSON.stringify(await readManifestIfAny(modelsDir).catch(() => null)) !== JSON.stringify(manifest)
      )
        continue;
      throw e;
    }
  }
}

async function loadTemplatesOnce(modelsDir: string, manifest: Manifest | null): Promise<TemplateStore> {
  const dir = verificationDir(modelsDir);
  const index = await readIndexIfAny(modelsDir, manifest);
  if (!index) {
    throw new KeystrokeError(
      "NO_MODELS",
      `no verification templates in ${modelsDir}`,
      { file: join(dir, LEGACY_INDEX_FILE) },
      {
        suggestion: "run `keystroke-id train` (without --no-verification) or `keystroke-id enroll` first",
      },
    );
  }
  const templates: Template[] = [];
  for (const entry of Object.values(index.users)) {
    const path = join(dir, entry.file);
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (e) {
      throw missingFile(
        new KeystrokeError(
          "BAD_MODEL_FILE",
          `template of user ${String(entry.user)} is missing`,
          { file: path },
          { cause: e },
        ),
        e,
      );
    }
    if (sha256(bytes) !== entry.sha256) {
      throw new KeystrokeError(
        "BAD_MODEL_FILE",
        "checksum mismatch: the template was changed or damaged after it was written",
        { file: path },
        {
          suggestion: "enrol the user again",
        },
      );
    }
    const t = parseJson(bytes.toString("utf8"), path) as Template;
    if (
      !t ||
      typeof t !== "object" ||
      !isDetectorName(String(t.detector)) ||
      t.nFeatures !== index.nFeatures ||
      typeof t.threshold !== "number"
    ) {
      throw new KeystrokeError("BAD_MODEL_FILE", "not a verification template of this store", { file: path });
    }
    templates.push(t);
  }
  return new TemplateStore(dir, index, templates);
}

/** The loaded templates of a store: look-up by user id (number or string alike) and verification with replay memory. */
export class TemplateStore {
  readonly detector: DetectorName;
  readonly keys: number;
  readonly nFeatures: number;
  readonly featureNames: readonly string[];
  readonly population: PopulationStats | null;
  /** Recently verified samples; every verified sample is remembered, so a resubmission is a replay. */
  readonly recent: RecentSampleCache;
  private readonly byId = new Map<string, Template>();
  private readonly tally: VerifyCounters = { claims: 0, accepted: 0, rejected: 0, replays: 0, scripted: 0 };

  constructor(
    readonly dir: string,
    index: Pick<VerificationIndex, "detector" | "keys" | "nFeatures" | "featureNames" | "population">,
    templates: Template[],
    recentPerUser = 100,
  ) {
    this.detector = index.detector;
    this.keys = index.keys;
    this.nFeatures = index.nFeatures;
    this.featureNames = index.featureNames;
    this.population = index.population;
    this.recent = new RecentSampleCache(recentPerUser);
    for (const t of templates) this.byId.set(String(t.user), t);
  }

  /** The enrolled user ids. */
  users(): Label[] {
    return [...this.byId.values()].map((t) => t.user);
  }

  /** True when the user is enrolled. */
  has(user: Label): boolean {
    return this.byId.has(String(user));
  }

  /** The user's template, if enrolled. */
  get(user: Label): Template | undefined {
    return this.byId.get(String(user));
  }

  /** Verifies a claim against the user's template and counts the outcome; throws UNKNOWN_USER. */
  verify(user: Label, vector: number[], options: { replayTolerance?: number } = {}): VerificationResult {
    const t = this.byId.get(String(user));
    if (!t) {
      throw new KeystrokeError(
        "UNKNOWN_USER",
        `user ${String(user)} is not enrolled for verification`,
        { field: "UserID" },
        {
          suggestion: "enrol the user with `keystroke-id enroll`",
        },
      );
    }
    const r = verifySample(t, vector, {
      population: this.population ?? undefined,
      recent: this.recent,
      replayTolerance: options.replayTolerance,
    });
    this.tally.claims++;
    if (r.accepted) this.tally.accepted++;
    else this.tally.rejected++;
    if (r.replay) this.tally.replays++;
    if (r.scripted) this.tally.scripted++;
    return r;
  }

  /** A copy of the outcome counters. */
  counters(): VerifyCounters {
    return { ...this.tally };
  }
}

// The index a manifest names is checked against the manifest's checksum; the legacy index.json has none.
async function readIndexIfAny(
  modelsDir: string,
  manifest: Manifest | null,
): Promise<VerificationIndex | null> {
  const named = manifest?.verification?.index;
  const path = join(verificationDir(modelsDir), named ?? LEGACY_INDEX_FILE);
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT" && !named) return null;
    if ((e as NodeJS.ErrnoException).code === "ENOENT") {
      throw missingFile(
        new KeystrokeError(
          "BAD_MODEL_FILE",
          "is named in the manifest but missing",
          { file: path },
          { cause: e },
        ),
        e,
      );
    }
    throw new KeystrokeError(
      "IO",
      `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      { file: path },
      { cause: e },
    );
  }
  const expected = manifest?.verification?.sha256;
  if (named && expected !== undefined && sha256(bytes) !== expected) {
    throw new KeystrokeError(
      "BAD_MODEL_FILE",
      "checksum does not match the manifest: the verification index was changed or corrupted",
      { file: path },
      {
        suggestion: "retrain, or enrol the users again",
      },
    );
  }
  const index = parseJson(bytes.toString("utf8"), path) as VerificationIndex;
  if (
    !index ||
    index.format !== STORE_FORMAT ||
    typeof index.users !== "object" ||
    index.users === null ||
    typeof index.nFeatures !== "number"
  ) {
    throw new KeystrokeError("BAD_MODEL_FILE", "not a keystroke-id verification index", { file: path });
  }
  return index;
}

function missingFile(err: KeystrokeError, cause: unknown): KeystrokeError {
  if ((cause as NodeJS.ErrnoException).code === "ENOENT") markVanished(err);
  return err;
}

function parseJson(text: string, path: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new KeystrokeError(
      "BAD_MODEL_FILE",
      `invalid JSON: ${(e as Error).message}`,
      { file: path },
      { cause: e },
    );
  }
}
