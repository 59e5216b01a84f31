import { createRequire } from "node:module";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Label } from "../data/types.js";
import { KeystrokeError } from "../errors.js";
import type { FeatureSetName } from "../features/index.js";
import { sha256, writeFileAtomic } from "../util/fs.js";
import { loadClassifier } from "./index.js";
import { ALGORITHMS, type Algorithm, type Classifier, type SerializedModel } from "./types.js";

/** The model-directory format this version writes and reads. */
export const MODEL_FORMAT_VERSION = 1;
export const MANIFEST_FILE = "manifest.json";

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
  verification?: { dir: string; users: number; detector: string };
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
}

/** The file name of a model: `rf-timings.json`. */
export function modelFileName(algorithm: Algorithm, featureSet: FeatureSetName): string {
  return `${algorithm.toLowerCase()}-${featureSet}.json`;
}

/** Serialises a model deterministically: same model → same bytes. */
export function modelFileText(serialized: SerializedModel, featureSet: FeatureSetName, featureNames: string[]): string {
  return JSON.stringify({ formatVersion: MODEL_FORMAT_VERSION, featureSet, featureNames, model: serialized }) + "\n";
}

/**
 * Writes model files and then the manifest, each atomically. Model files hold no timestamps, so the
 * same data and seed give byte-identical files; only the manifest records when.
 */
export async function writeModelDir(
  dir: string,
  models: ModelToWrite[],
  info: { data: ManifestData; seed: number; holdout: number; verification?: Manifest["verification"]; createdAt?: Date },
): Promise<Manifest> {
  const entries: ManifestModel[] = [];
  for (const m of models) {
    const { algorithm } = m.serialized;
    const file = modelFileName(algorithm, m.featureSet);
    const text = modelFileText(m.serialized, m.featureSet, m.featureNames);
    const hash = sha256(text);
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
  const manifest: Manifest = {
    formatVersion: MODEL_FORMAT_VERSION,
    packageVersion: packageVersion(),
    createdAt: (info.createdAt ?? new Date()).toISOString(),
    data: info.data,
    seed: info.seed,
    holdout: info.holdout,
    models: entries,
    best: pickBest(entries),
    ...(info.verification ? { verification: info.verification } : {}),
  };
  await writeManifest(dir, manifest);
  return manifest;
}

/** Writes manifest.json atomically. */
export async function writeManifest(dir: string, manifest: Manifest): Promise<void> {
  await writeFileAtomic(join(dir, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + "\n");
}

/** Reads and checks manifest.json alone (no model files). */
export async function readManifest(dir: string): Promise<Manifest> {
  const path = join(dir, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    throw new KeystrokeError("NO_MODELS", `no models in ${resolve(dir)} (${MANIFEST_FILE} not found)`, {}, {
      suggestion: "train some first: keystroke-id train <data.csv> --out " + dir,
    });
  }
  let manifest: Manifest;
  try {
    manifest = JSON.parse(text) as Manifest;
  } catch (e) {
    throw new KeystrokeError("BAD_MODEL_FILE", `is not valid JSON (${(e as Error).message})`, { file: path });
  }
  if (manifest === null || typeof manifest !== "object" || typeof manifest.formatVersion !== "number") {
    throw new KeystrokeError("BAD_MODEL_FILE", "is not a keystroke-id manifest (no formatVersion)", { file: path });
  }
  if (manifest.formatVersion !== MODEL_FORMAT_VERSION) {
    throw new KeystrokeError("BAD_MODEL_FILE", `has format version ${manifest.formatVersion}; this keystroke-id ${packageVersion()} reads version ${MODEL_FORMAT_VERSION}`, { file: path }, {
      suggestion: "retrain with this version, or use the keystroke-id version that wrote it",
    });
  }
  if (!Array.isArray(manifest.models)) {
    throw new KeystrokeError("BAD_MODEL_FILE", "has no models list", { file: path, field: "models" });
  }
  return manifest;
}

/** Loads the models of a directory (all, or those chosen), refusing any file whose checksum or format does not match. */
export async function loadModelDir(
  dir: string,
  options: { algorithms?: readonly Algorithm[]; only?: (entry: ManifestModel, manifest: Manifest) => boolean } = {},
): Promise<ModelDir> {
  const manifest = await readManifest(dir);
  const wanted = options.algorithms;
  const models: LoadedModel[] = [];
  for (const entry of manifest.models) {
    if (wanted && !wanted.includes(entry.algorithm)) continue;
    if (options.only && !options.only(entry, manifest)) continue;
    models.push(await loadModelFile(dir, entry));
  }
  return {
    dir,
    manifest,
    models,
    find: (algorithm, featureSet) => models.find((m) => m.algorithm === algorithm && m.featureSet === featureSet),
  };
}

async function loadModelFile(dir: string, entry: ManifestModel): Promise<LoadedModel> {
  const path = join(dir, entry.file);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    throw new KeystrokeError("BAD_MODEL_FILE", "is listed in the manifest but missing", { file: path });
  }
  if (sha256(text) !== entry.sha256) {
    throw new KeystrokeError("BAD_MODEL_FILE", "checksum does not match the manifest: the file was changed or corrupted", { file: path }, {
      suggestion: "retrain, or restore the file the manifest was written with",
    });
  }
  let parsed: { formatVersion?: unknown; featureSet?: unknown; featureNames?: unknown; model?: SerializedModel };
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new KeystrokeError("BAD_MODEL_FILE", `is not valid JSON (${(e as Error).message})`, { file: path });
  }
  if (parsed.formatVersion !== MODEL_FORMAT_VERSION) {
    throw new KeystrokeError("BAD_MODEL_FILE", `has unknown format version ${String(parsed.formatVersion)} (expected ${MODEL_FORMAT_VERSION})`, { file: path });
  }
  if (!parsed.model || !ALGORITHMS.includes(parsed.model.algorithm)) {
    throw new KeystrokeError("BAD_MODEL_FILE", "holds no model of a known algorithm", { file: path, field: "model.algorithm" });
  }
  let classifier: Classifier;
  try {
    classifier = await loadClassifier(parsed.model);
  } catch (e) {
    if (e instanceof KeystrokeError) throw new KeystrokeError("BAD_MODEL_FILE", e.message, { file: path }, { cause: e });
    throw new KeystrokeError("BAD_MODEL_FILE", `cannot be loaded: ${(e as Error).message}`, { file: path }, { cause: e });
  }
  return {
    algorithm: entry.algorithm,
    featureSet: entry.featureSet,
    classifier,
    featureNames: entry.featureNames,
    keys: entry.keys,
    version: entry.version,
    ...(entry.metrics ? { metrics: entry.metrics } : {}),
  };
}

/** The algorithm with the best held-out accuracy, timings models first; RF when nothing was held out. */
export function pickBest(models: ManifestModel[]): Algorithm {
  const scored = models.filter((m) => m.metrics);
  if (scored.length === 0) return models.some((m) => m.algorithm === "RF") || models.length === 0 ? "RF" : models[0]!.algorithm;
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
