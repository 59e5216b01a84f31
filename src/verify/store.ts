import { createHash } from "node:crypto";
import { mkdir, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { Label } from "../data/types.js";
import { KeystrokeError } from "../errors.js";
import { sha256, withFileLock, writeFileAtomic } from "../util/fs.js";
import { RecentSampleCache } from "./replay.js";
import { isDetectorName, verifySample } from "./template.js";
import type { DetectorName, PopulationStats, Template, VerificationResult } from "./types.js";

/** Format tag of verification/index.json. */
export const STORE_FORMAT = "keystroke-id/verification";

/** What verification/index.json holds. */
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

/** A file name for a user id: safe characters only, a hash suffix when anything had to change. */
export function templateFileName(user: Label): string {
  const id = String(user);
  const safe = id.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 64);
  const changed = safe !== id || safe.startsWith(".") || safe === "";
  const prefix = typeof user === "number" ? "n-" : "s-";
  const suffix = changed ? `-${createHash("sha256").update(id).digest("hex").slice(0, 8)}` : "";
  return `templates/${prefix}${safe}${suffix}.json`;
}

/** Writes templates to <modelsDir>/verification/, adding or replacing only these users' files (atomic writes). */
export async function saveTemplates(modelsDir: string, templates: Template[], meta: SaveTemplatesMeta): Promise<void> {
  const dir = verificationDir(modelsDir);
  await mkdir(join(dir, "templates"), { recursive: true });
  // index.json is read, changed and rewritten: concurrent enrolments take turns so none is lost
  await withFileLock(join(dir, ".lock"), () => writeTemplates(dir, templates, meta));
}

async function writeTemplates(dir: string, templates: Template[], meta: SaveTemplatesMeta): Promise<void> {
  const existing = meta.replaceAll ? null : await readIndexIfAny(dir);
  const nFeatures = templates[0]?.nFeatures ?? existing?.nFeatures ?? 4 * meta.keys - 3;
  if (existing && existing.nFeatures !== nFeatures) {
    throw new KeystrokeError("BAD_REQUEST", `the verification store in ${dir} holds ${existing.keys}-key templates; these samples have ${(nFeatures + 3) / 4} keys`);
  }
  for (const t of templates) {
    if (t.nFeatures !== nFeatures) throw new KeystrokeError("BAD_REQUEST", `template of user ${String(t.user)} has ${t.nFeatures} features, expected ${nFeatures}`);
  }
  const users: VerificationIndex["users"] = { ...(existing?.users ?? {}) };
  for (const t of templates) {
    const file = templateFileName(t.user);
    const text = JSON.stringify(t) + "\n";
    await writeFileAtomic(join(dir, file), text);
    users[String(t.user)] = { user: t.user, file, sha256: sha256(text) };
  }
  if (meta.replaceAll) {
    const previous = await readIndexIfAny(dir);
    for (const [id, entry] of Object.entries(previous?.users ?? {})) {
      if (!(id in users)) await unlink(join(dir, entry.file)).catch(() => undefined);
    }
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
  await writeFileAtomic(join(dir, "index.json"), JSON.stringify(index) + "\n");
}

/** Reads the store's index only (no templates); null when there is no store yet. */
export async function readVerificationIndex(modelsDir: string): Promise<VerificationIndex | null> {
  return readIndexIfAny(verificationDir(modelsDir));
}

/** Loads every template of a store, checking each file's SHA-256; throws NO_MODELS or BAD_MODEL_FILE. */
export async function loadTemplates(modelsDir: string): Promise<TemplateStore> {
  const dir = verificationDir(modelsDir);
  const index = await readIndexIfAny(dir);
  if (!index) {
    throw new KeystrokeError("NO_MODELS", `no verification templates in ${modelsDir}`, { file: join(dir, "index.json") }, {
      suggestion: "run `keystroke-id train` (without --no-verification) or `keystroke-id enroll` first",
    });
  }
  const templates: Template[] = [];
  for (const entry of Object.values(index.users)) {
    const path = join(dir, entry.file);
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (e) {
      throw new KeystrokeError("BAD_MODEL_FILE", `template of user ${String(entry.user)} is missing`, { file: path }, { cause: e });
    }
    if (sha256(text) !== entry.sha256) {
      throw new KeystrokeError("BAD_MODEL_FILE", "checksum mismatch: the template was changed or damaged after it was written", { file: path }, {
        suggestion: "enrol the user again",
      });
    }
    const t = parseJson(text, path) as Template;
    if (!t || typeof t !== "object" || !isDetectorName(String(t.detector)) || t.nFeatures !== index.nFeatures || typeof t.threshold !== "number") {
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

  constructor(readonly dir: string, index: Pick<VerificationIndex, "detector" | "keys" | "nFeatures" | "featureNames" | "population">, templates: Template[], recentPerUser = 100) {
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
      throw new KeystrokeError("UNKNOWN_USER", `user ${String(user)} is not enrolled for verification`, { field: "UserID" }, {
        suggestion: "enrol the user with `keystroke-id enroll`",
      });
    }
    const r = verifySample(t, vector, { population: this.population ?? undefined, recent: this.recent, replayTolerance: options.replayTolerance });
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

async function readIndexIfAny(dir: string): Promise<VerificationIndex | null> {
  const path = join(dir, "index.json");
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new KeystrokeError("IO", `cannot read ${path}: ${(e as Error).message}`, { file: path }, { cause: e });
  }
  const index = parseJson(text, path) as VerificationIndex;
  if (!index || index.format !== STORE_FORMAT || typeof index.users !== "object" || typeof index.nFeatures !== "number") {
    throw new KeystrokeError("BAD_MODEL_FILE", "not a keystroke-id verification index", { file: path });
  }
  return index;
}

function parseJson(text: string, path: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new KeystrokeError("BAD_MODEL_FILE", `invalid JSON: ${(e as Error).message}`, { file: path }, { cause: e });
  }
}

