import { Readable } from "node:stream";
import { readDataset, type Dataset } from "../data/index.js";
import { KeystrokeError } from "../errors.js";
import { featureNames, type FeatureSetName } from "../features/index.js";
import { writeModelDir, type ManifestVerification } from "../models/store.js";
import type { Algorithm } from "../models/types.js";
import { checkWritableDir, readInputBytes, sha256 } from "../util/fs.js";
import { trainModels, type TrainEvent } from "./train-models.js";

/** A whole `train` run: where the data is, what to fit, where to write. */
export interface TrainRunOptions {
  /** A file path, or "-" for stdin. */
  input: string;
  out: string;
  algorithms: readonly Algorithm[];
  featureSets: readonly FeatureSetName[];
  seed: number;
  holdout: number;
  workers?: number;
  skipInvalid?: boolean;
  /** Also store a verification template per user. */
  verification?: boolean;
  onProgress?: (e: TrainEvent) => void;
  /** Messages for a person (skipped rows, …); the caller decides where they go. */
  onNote?: (message: string) => void;
}

/** One row of the training report. */
export interface TrainedModelReport {
  model: Algorithm;
  features: FeatureSetName;
  accuracy: number | null;
  macroF1: number | null;
  seconds: number;
  bytes: number;
  file: string;
  version: string;
}

/** What `train` reports: the data, each model's held-out scores, and what was written. */
export interface TrainReport {
  data: { name: string; rows: number; users: number; layout: string; sha256: string; skipped: number };
  out: string;
  seed: number;
  holdout: { fraction: number; rows: number };
  models: TrainedModelReport[];
  best: Algorithm;
  verification: { users: number; detector: string } | null;
  wallSeconds: number;
}

/** Reads a labelled file, trains the requested models, writes the models directory, and reports. */
export async function runTraining(options: TrainRunOptions): Promise<TrainReport> {
  const t0 = performance.now();
  const name = options.input === "-" ? "<stdin>" : options.input;
  const bytes = await readInputBytes(options.input);
  const skipped: number[] = [];
  const dataset = await readDataset(Readable.from([bytes]), {
    name,
    requireLabel: true,
    equalLength: options.featureSets.includes("timings"),
    skipInvalid: Boolean(options.skipInvalid),
    onSkip: (s) => skipped.push(s.line),
  });
  if (skipped.length > 0) options.onNote?.(`skipped ${skipped.length} invalid row(s) of ${name}: line ${summariseLines(skipped)}`);
  if (dataset.samples.length === 0) throw new KeystrokeError("TOO_FEW_SAMPLES", "has no valid samples to train on", { file: name });

  // a models dir that cannot be written fails now, not after the training it would have thrown away
  await checkWritableDir(options.out, { option: "out" });
  const run = await trainModels(dataset, options);
  const data = { name, sha256: sha256(bytes), rows: dataset.samples.length, users: run.users, layout: dataset.layout };
  const templates = options.verification !== false ? await buildTemplates(dataset, options.onNote) : undefined;
  const manifest = await writeModelDir(options.out, run.models, {
    data,
    seed: options.seed,
    holdout: options.holdout,
    ...(templates ? { stage: (dir: string) => templates.stage(dir) } : {}),
  });
  const verification = templates ? manifest.verification : undefined;

  return {
    data: { ...data, skipped: skipped.length },
    out: options.out,
    seed: options.seed,
    holdout: { fraction: options.holdout, rows: run.holdoutRows },
    models: manifest.models.map((m) => ({
      model: m.algorithm,
      features: m.featureSet,
      accuracy: m.metrics?.accuracy ?? null,
      macroF1: m.metrics?.macroF1 ?? null,
      seconds: m.fitSeconds,
      bytes: m.bytes,
      file: m.file,
      version: m.version,
    })),
    best: manifest.best,
    verification: verification ? { users: verification.users, detector: verification.detector } : null,
    wallSeconds: Math.round((performance.now() - t0)) / 1000,
  };
}

// Verification templates are stored beside the models, one file per user (see src/verify); users with
// fewer samples than enrolment needs are left out and named. They are computed before the models dir is
// locked, and written while it is, as part of the same commit as the models.
async function buildTemplates(dataset: Dataset, onNote?: (m: string) => void): Promise<{ stage: (dir: string) => Promise<ManifestVerification> } | undefined> {
  const keys = dataset.samples[0]!.press.length;
  if (dataset.samples.some((s) => s.press.length !== keys)) {
    onNote?.("verification templates skipped: they need samples of equal length");
    return undefined;
  }
  const { enrollSamples, stageTemplates } = await import("../verify/index.js");
  const enrolled = enrollSamples(dataset.samples, { skipTooFew: true });
  if (enrolled.skipped.length > 0) {
    onNote?.(`no verification template for ${enrolled.skipped.length} user(s) with too few samples: ${enrolled.skipped.map((s) => String(s.user)).slice(0, 10).join(", ")}`);
  }
  if (enrolled.templates.length === 0) return undefined;
  const meta = {
    detector: enrolled.templates[0]!.detector,
    keys: enrolled.keys,
    featureNames: featureNames("timings", keys, dataset.keyNames),
    population: enrolled.population,
  };
  return { stage: (dir) => stageTemplates(dir, enrolled.templates, meta) };
}

/** `3, 7, 9 … (+12 more)`: line numbers for a message. */
export function summariseLines(lines: readonly number[], max = 10): string {
  const shown = lines.slice(0, max).join(", ");
  return lines.length > max ? `${shown} … (+${lines.length - max} more)` : shown;
}
