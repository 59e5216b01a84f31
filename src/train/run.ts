import type { OperatingPolicy } from "../verify/types.js";
import { Readable } from "node:stream";
import { readDataset, type Dataset } from "../data/index.js";
import { KeystrokeError } from "../errors.js";
import type { FeatureSetName } from "../features/index.js";
import type { IdentityService } from "../identity/service.js";
import { writeModelDir } from "../models/store.js";
import type { Algorithm } from "../models/types.js";
import { checkWritableDir, readInputBytes, sha256 } from "../util/fs.js";
import { fingerprintRows } from "./fingerprint.js";
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
  /** Versions the models directory keeps, the new one included (default DEFAULT_KEEP_VERSIONS). */
  keep?: number;
  /** Write the models fitted on the training share (scored exactly) instead of refitting them on every row. */
  keepHoldout?: boolean;
  /** The false-identification rate the open-set threshold is calibrated for (default DEFAULT_TARGET_FIR). */
  targetFir?: number;
  /** Also enrol the training users in the identity store (those not enrolled yet) and refresh its population. */
  verification?: boolean;
  /** The identity store (--store; default KEYSTROKE_ID_STORE, else ./keystroke-id.db). */
  store?: string;
  /** Sets the store-wide operating policy before enrolling the training users (default: the store's). */
  policy?: OperatingPolicy;
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
  /** The requested fraction, the rows actually held out and their true share of the rows. */
  holdout: { fraction: number; rows: number; share: number };
  /** Rows the written models were fitted on, and whether they are every row (refitted after scoring). */
  fitted: { rows: number; share: number; refitOnAll: boolean };
  /** The model version this run added, and the versions the directory keeps. */
  version: string;
  versions: string[];
  models: TrainedModelReport[];
  best: Algorithm;
  /** The open-set rule per feature set (predict --reject-unknown), or null when it could not be calibrated. */
  openSet: Array<{
    features: FeatureSetName;
    targetFir: number;
    threshold: number;
    strangersRejected: number;
    knownRejected: number;
  }> | null;
  verification: { users: number; detector: string; enrolled: number; kept: number; store: string } | null;
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
  if (skipped.length > 0)
    options.onNote?.(`skipped ${skipped.length} invalid row(s) of ${name}: line ${summariseLines(skipped)}`);
  if (dataset.samples.length === 0)
    throw new KeystrokeError("TOO_FEW_SAMPLES", "has no valid samples to train on", { file: name });

  // a models dir that cannot be written fails now, not after the training it would have thrown away
  await checkWritableDir(options.out, { option: "out" });
  const run = await trainModels(dataset, { ...options, refit: !options.keepHoldout });
  if (run.openSetSkipped !== undefined)
    options.onNote?.(`no open-set threshold (predict --reject-unknown): ${run.openSetSkipped}`);
  const data = {
    name,
    sha256: sha256(bytes),
    rows: dataset.samples.length,
    users: run.users,
    layout: dataset.layout,
  };
  const rows = dataset.samples.length;
  const training = {
    rows,
    holdoutRows: run.holdoutRows,
    holdoutShare: shareOf(run.holdoutRows, rows),
    refitOnAll: run.refitOnAll,
    fittedRows: run.fittedRows.length,
  };
  // the store opens before the models dir is rewritten, so that its old verification/ is imported first
  const identities = options.verification !== false ? await openStoreFor(options) : undefined;
  let verification: TrainReport["verification"] = null;
  let manifest: Awaited<ReturnType<typeof writeModelDir>>;
  try {
    manifest = await writeModelDir(options.out, run.models, {
      data,
      seed: options.seed,
      holdout: options.holdout,
      training,
      trainingRows: fingerprintRows(run.fittedRows.map((i) => dataset.samples[i]!)),
      ...(options.keep !== undefined ? { keep: options.keep } : {}),
    });
    if (identities)
      verification = await enrolTrainingUsers(identities.service, dataset, options.onNote, options.policy);
  } finally {
    await identities?.close();
  }

  return {
    data: { ...data, skipped: skipped.length },
    out: options.out,
    seed: options.seed,
    holdout: { fraction: options.holdout, rows: run.holdoutRows, share: training.holdoutShare },
    fitted: {
      rows: training.fittedRows,
      share: shareOf(training.fittedRows, rows),
      refitOnAll: training.refitOnAll,
    },
    version: manifest.versionId!,
    versions: (manifest.versions ?? []).map((v) => v.id),
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
    openSet: openSetReport(run),
    verification,
    wallSeconds: Math.round(performance.now() - t0) / 1000,
  };
}

async function openStoreFor(options: TrainRunOptions) {
  const { openIdentities } = await import("../identity/open.js");
  const opened = await openIdentities({ store: options.store, modelsDir: options.out });
  if (opened.legacy?.imported)
    options.onNote?.(
      `imported ${opened.legacy.imported} enrolled user(s) from ${opened.legacy.dir} into the identity store ${opened.store.location}`,
    );
  return opened;
}

// The training users are enrolled for verification in the identity store, separate from the models: a
// user already enrolled there (by `enroll`, the HTTP API or an earlier train) is never replaced. The
// store's population statistics for this sample length are refreshed from this data set.
async function enrolTrainingUsers(
  service: IdentityService,
  dataset: Dataset,
  onNote?: (m: string) => void,
  policy?: OperatingPolicy,
): Promise<TrainReport["verification"]> {
  const keys = dataset.samples[0]!.press.length;
  if (dataset.samples.some((s) => s.press.length !== keys)) {
    onNote?.("verification enrolment skipped: it needs samples of equal length");
    return null;
  }
  let outcome: Awaited<ReturnType<IdentityService["enrollSamples"]>>;
  try {
    outcome = await service.enrollSamples(dataset.samples, {
      onlyNew: true,
      refreshPopulation: true,
      skipTooFew: true,
      ...(policy ? { policy } : {}),
    });
  } catch (e) {
    if (!(e instanceof KeystrokeError) || e.code !== "TOO_FEW_SAMPLES") throw e;
    onNote?.(`no user was enrolled for verification: ${e.message}`);
    return null;
  }
  const { result, enrolled, kept, users } = outcome;
  if (result.skipped.length > 0) {
    onNote?.(
      `not enrolled for verification: ${result.skipped.length} user(s) with too few samples: ${result.skipped
        .map((s) => String(s.user))
        .slice(0, 10)
        .join(", ")}`,
    );
  }
  if (kept.length > 0)
    onNote?.(
      `${kept.length} user(s) already enrolled in the identity store were kept as they are (keystroke-id enroll replaces a user)`,
    );
  return {
    users,
    detector: result.templates[0]!.detector,
    enrolled: enrolled.length,
    kept: kept.length,
    store: service.store.location,
  };
}

function openSetReport(run: Awaited<ReturnType<typeof trainModels>>): TrainReport["openSet"] {
  const seen = new Map<FeatureSetName, NonNullable<TrainReport["openSet"]>[number]>();
  for (const m of run.models) {
    if (!m.openSet || seen.has(m.featureSet)) continue;
    const o = m.openSet;
    seen.set(m.featureSet, {
      features: m.featureSet,
      targetFir: o.target_fir,
      threshold: o.threshold,
      strangersRejected: o.calibration.strangers_rejected,
      knownRejected: o.calibration.known_rejected,
    });
  }
  return seen.size ? [...seen.values()] : null;
}

function shareOf(part: number, whole: number): number {
  return whole === 0 ? 0 : Math.round((part / whole) * 1e4) / 1e4;
}

/** `3, 7, 9 … (+12 more)`: line numbers for a message. */
export function summariseLines(lines: readonly number[], max = 10): string {
  const shown = lines.slice(0, max).join(", ");
  return lines.length > max ? `${shown} … (+${lines.length - max} more)` : shown;
}
