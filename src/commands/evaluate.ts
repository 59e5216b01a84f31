import { Command } from "commander";
import { KeystrokeError } from "../errors.js";
import type { FeatureSetName } from "../features/index.js";
import type { CrossValidationProgress, ModelEvaluation } from "../metrics/index.js";
import type { OpenSetEvaluation } from "../models/open-set.js";
import type { Algorithm } from "../models/types.js";
import type { DetectorName, EnrolSize, SuiteRun, VerificationEvaluation } from "../verify/index.js";
import { renderTable } from "../ui/table.js";
import { emit, emitJson, isInteractive, say } from "../ui/terminal.js";
import {
  addOptions,
  FEATURES,
  helpEpilog,
  JSON_ALIAS,
  MODEL_VERSION,
  numberCheck,
  ON_INVALID,
  outputOption,
  parseAlgorithms,
  parseFeatureSets,
  parseNumber,
  QUIET,
  resolveOutput,
  SEED,
  SKIP_INVALID,
  type OptionSpec,
} from "./options.js";
import { SkippedRows, invalidRowPolicy } from "./invalid-rows.js";

interface EvaluateFlags {
  modelsDir?: string;
  model: string;
  features: string;
  cv?: string;
  seed: string;
  rejectBelow?: string;
  report?: string;
  verification?: boolean;
  enrolSizes?: string;
  detectors?: string;
  json?: boolean;
  modelVersion?: string;
  onInvalid?: string;
  skipInvalid?: boolean;
  output?: string;
  quiet?: boolean;
}

/** The flags of `evaluate`, as data. */
export const EVALUATE_OPTIONS: readonly OptionSpec[] = [
  // no default here: --verification alone needs no models; otherwise the plan defaults to ./models
  {
    key: "modelsDir",
    flags: "--models-dir <dir>",
    description: "trained models to evaluate (default: models)",
  },
  {
    key: "model",
    flags: "--model <list>",
    description: "models to evaluate, comma-separated: svm,rf,xgb",
    default: "svm,rf,xgb",
    check: (v, f) => void parseAlgorithms(v, f),
    option: "algorithms",
  },
  FEATURES,
  {
    key: "cv",
    flags: "--cv <k>",
    description: "stratified k-fold cross-validation of the training recipe instead of trained models",
    check: numberCheck({ integer: true, min: 2 }),
    option: "k",
  },
  { ...SEED, description: "seed of the cross-validation folds and fits" },
  {
    key: "rejectBelow",
    flags: "--reject-below <p>",
    description: "also report accuracy when samples whose top probability is below p are rejected",
    check: numberCheck({ min: 0, max: 1 }),
  },
  {
    key: "report",
    flags: "--report <file.html>",
    description: "write a self-contained HTML report with charts",
    config: false,
  },
  MODEL_VERSION,
  {
    key: "verification",
    flags: "--verification",
    description: "also evaluate verification (EER per detector); alone it needs no models",
  },
  {
    key: "enrolSizes",
    flags: "--enrol-sizes <list>",
    description:
      "with --verification: enrolment sizes to measure, e.g. 5,10,20,50,half (half: each user's first half)",
    default: "half",
  },
  {
    key: "detectors",
    flags: "--detectors <list>",
    description: "with --verification: the detectors to measure, comma-separated (default: every detector)",
  },
  ON_INVALID,
  SKIP_INVALID,
  outputOption(["table", "json"]),
  JSON_ALIAS,
  QUIET,
];

export const EVALUATE_EXAMPLES = [
  "keystroke-id evaluate fixtures/wide-test.csv --models-dir models",
  "keystroke-id evaluate fixtures/wide-train.csv --cv 3 --model rf --features summary --output json",
  "keystroke-id evaluate fixtures/wide-test.csv --reject-below 0.5 --report report.html",
  "keystroke-id evaluate fixtures/wide-train.csv --verification",
];

/** The flags, checked once: every bad value is reported naming its flag. */
interface EvaluatePlan {
  file: string;
  modelsDir?: string;
  algorithms: Algorithm[];
  featureSets: FeatureSetName[];
  cv?: number;
  seed: number;
  rejectBelow?: number;
  report?: string;
  verification: boolean;
  json: boolean;
  modelVersion?: string;
}

function plan(file: string, o: EvaluateFlags): EvaluatePlan {
  const p: EvaluatePlan = {
    file,
    algorithms: parseAlgorithms(o.model, "--model"),
    featureSets: parseFeatureSets(o.features, "--features"),
    seed: parseNumber(o.seed, "--seed", { integer: true, min: 0, max: 2 ** 32 - 1 }),
    verification: Boolean(o.verification),
    json: resolveOutput(o, ["table", "json"]) === "json",
  };
  if (o.cv !== undefined) p.cv = parseNumber(o.cv, "--cv", { integer: true, min: 2 });
  if (o.rejectBelow !== undefined)
    p.rejectBelow = parseNumber(o.rejectBelow, "--reject-below", { min: 0, max: 1 });
  if (o.report !== undefined) p.report = o.report;
  if (o.modelVersion !== undefined) p.modelVersion = o.modelVersion;
  if (p.cv !== undefined && o.modelsDir !== undefined) {
    throw new KeystrokeError(
      "BAD_FLAG",
      "--cv evaluates the training recipe and needs no models; drop --models-dir or --cv",
      { flag: "--cv" },
    );
  }
  // --verification on its own needs no trained models; otherwise the models directory defaults to ./models
  if (p.cv === undefined && (o.modelsDir !== undefined || !p.verification))
    p.modelsDir = o.modelsDir ?? "models";
  return p;
}

/** `keystroke-id evaluate <file>`: how well models identify the users of a labelled file. */
export function evaluateCommand(): Command {
  const cmd = new Command("evaluate")
    .description("measure identification (and verification) on a labelled file: table, JSON or HTML report")
    .argument("<file>", "labelled keystroke CSV (a UserID column)");
  return addOptions(cmd, EVALUATE_OPTIONS)
    .addHelpText("after", helpEpilog(EVALUATE_EXAMPLES))
    .action(async (file: string, flags: EvaluateFlags, self: Command) => {
      // a models dir from the config file is only a default: --cv, which needs none, does not use it
      const fromConfig = self.getOptionValueSource("modelsDir") !== "cli";
      const p = plan(file, fromConfig && flags.cv !== undefined ? { ...flags, modelsDir: undefined } : flags);
      // the verification flags are checked before any work, not after the models were evaluated
      const enrolSizes = parseEnrolSizes(flags.enrolSizes ?? "half");
      const detectors = flags.detectors === undefined ? undefined : await parseDetectors(flags.detectors);
      if (detectors && !p.verification)
        throw new KeystrokeError("BAD_FLAG", "chooses detectors for --verification, which is not given", {
          flag: "--detectors",
        });
      const { readDataset } = await import("../data/index.js");
      const metrics = await import("../metrics/index.js");
      const skippedRows = new SkippedRows(p.file);
      const dataset = await readDataset(p.file, {
        requireLabel: true,
        onInvalid: invalidRowPolicy(flags),
        onSkip: skippedRows.add,
      });
      if (skippedRows.count > 0) say(skippedRows.report().trimEnd());
      // an empty table of dashes with exit 0 would read as "evaluated fine"
      if (dataset.samples.length === 0)
        throw new KeystrokeError("TOO_FEW_SAMPLES", "has no samples to evaluate", { file: p.file });
      const summary = { file: p.file, ...metrics.datasetSummary(dataset.samples) };

      let models: ModelEvaluation[] = [];
      // the open-set rule of each model (predict --reject-unknown) on the scored rows
      let openSet: OpenSetEvaluation[] = [];
      let trainingModels: ModelEvaluation[] | undefined;
      let rowsInfo: RowsInfo | undefined;
      let scoredOn: ScoredOn | undefined;
      if (p.cv !== undefined) {
        models = await metrics.crossValidateModels(dataset.samples, {
          k: p.cv,
          seed: p.seed,
          algorithms: p.algorithms,
          featureSets: p.featureSets,
          rejectBelow: p.rejectBelow,
          onProgress: flags.quiet ? () => {} : progressReporter(),
        });
        const smallest = metrics.smallestClass(dataset.samples.map((s) => s.label!));
        if (smallest < p.cv)
          say(
            `warning: a user has only ${smallest} sample(s), fewer than ${p.cv} folds; some folds test users they were not trained on (counted as errors)`,
          );
      } else if (p.modelsDir !== undefined) {
        const { loadModelDir, readVersionRecord, activeVersionId } = await import("../models/store.js");
        const dir = await loadModelDir(p.modelsDir, {
          algorithms: p.algorithms,
          ...(p.modelVersion !== undefined ? { version: p.modelVersion } : {}),
        });
        const chosen = dir.models.filter((m) => p.featureSets.includes(m.featureSet));
        if (chosen.length === 0) {
          throw new KeystrokeError(
            "NO_MODELS",
            `no ${p.algorithms.join("/")} model for ${p.featureSets.join("/")} features`,
            { file: p.modelsDir, flag: "--model" },
          );
        }
        // which evaluated rows the models were fitted on: those are never reported as held-out
        const versionId = activeVersionId(dir.manifest);
        const record = await readVersionRecord(p.modelsDir, dir.manifest, versionId);
        const { splitByTraining } = await import("../train/fingerprint.js");
        const split = splitByTraining(dataset.samples, record.trainingRows);
        rowsInfo = { version: versionId, ...split.counts };
        const scored =
          split.heldOut.length > 0
            ? split.heldOut
            : split.training.length > 0
              ? split.training
              : dataset.samples;
        scoredOn =
          split.heldOut.length > 0 ? "held_out_rows" : split.training.length > 0 ? "training_rows" : "rows";
        models = metrics.evaluateModels(scored, chosen, { rejectBelow: p.rejectBelow });
        const { evaluateOpenSet } = await import("../models/open-set.js");
        openSet = chosen.flatMap((m) => evaluateOpenSet(scored, m) ?? []);
        if (split.heldOut.length > 0 && split.training.length > 0)
          trainingModels = metrics.evaluateModels(split.training, chosen, { rejectBelow: p.rejectBelow });
        if (split.training.length > 0) {
          say(
            `note: ${split.training.length} of ${dataset.samples.length} rows were used to train model version ${versionId}: they are reported as training rows, not held-out`,
          );
        } else if (!record.trainingRows) {
          say(
            `note: model version ${versionId} records no fingerprint of its training rows (written before they existed): held-out status of these rows is unknown`,
          );
        }
      }

      let verification: VerificationEvaluation | undefined;
      let suite: SuiteRun[] | undefined;
      let defaultDetector: string | undefined;
      let ranks: unknown;
      if (p.verification) {
        const verify = await import("../verify/index.js");
        const { evaluateVerification } = verify;
        defaultDetector = verify.DEFAULT_DETECTOR;
        verification = evaluateVerification(dataset.samples, detectors ? { detectors } : {});
        suite = verify.evaluateVerificationSuite(dataset.samples, {
          enrolSizes,
          ...(detectors ? { detectors } : {}),
          published: verification,
          onRun: (protocol, enrol) => say(`verification: ${protocol} protocol, enrolment ${enrol}`),
        });
        ranks = verify.meanRanks(suite);
      }

      for (const m of models) {
        const e = m.evaluation;
        if (e.unseenSamples > 0) {
          say(
            `warning: ${e.unseenSamples} sample(s) of ${e.unseenUsers.length} user(s) the ${m.algorithm} ${m.featureSet} model never saw count as errors: ${e.unseenUsers.map((u) => u.user).join(", ")}`,
          );
        }
      }
      if (p.report !== undefined) {
        const { writeReport } = await import("../report/index.js");
        await writeReport(p.report, {
          source: p.file,
          dataset: summary,
          ...(p.cv !== undefined ? { cvFolds: p.cv } : {}),
          ...(p.rejectBelow !== undefined ? { rejectBelow: p.rejectBelow } : {}),
          models,
          ...(verification ? { verification } : {}),
          mode: reportMode(p, models.length, rowsInfo, scoredOn),
          generatedAt: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
        });
        if (!flags.quiet) say(`wrote the report to ${p.report}`);
      }

      if (p.json) {
        const v = verification
          ? {
              default: defaultDetector,
              detectors: verification.detectors,
              best: verification.best,
              protocol: verification.protocol,
              runs: suite,
              mean_ranks: ranks,
            }
          : undefined;
        const doc = metrics.evaluationJson(summary, models, v);
        if (openSet.length > 0) doc.open_set = openSet;
        if (rowsInfo && scoredOn) {
          doc.rows = rowsInfo;
          doc.scored_on = scoredOn;
          if (trainingModels)
            doc.training_rows = {
              models: (metrics.evaluationJson(summary, trainingModels) as { models: unknown }).models,
            };
        }
        const { wireJson } = await import("../ui/json.js");
        emitJson(wireJson(doc));
        return;
      }
      const { formatEvaluation } = await import("../ui/evaluate-report.js");
      const lines = [
        formatEvaluation(
          summary,
          models,
          verification,
          metrics.topConfusions,
          process.stdout,
          rowsInfo && scoredOn ? rowsLine(rowsInfo, scoredOn) : undefined,
        ),
      ];
      if (trainingModels) {
        const rows = trainingModels.map((m) => [
          m.algorithm,
          m.featureSet,
          pct(m.evaluation.accuracy),
          pct(m.evaluation.macroF1),
        ]);
        lines.push(
          `training rows (${rowsInfo!.training}, seen in training: not a measure of accuracy on new typing)`,
        );
        lines.push(renderTable(["model", "features", "accuracy", "macro F1"], rows));
      }
      if (openSet.length > 0) lines.push(formatOpenSet(openSet));
      emit(lines.join("\n"));
    });
}

/** The open-set rule's figures per model: its threshold, and on a file with strangers what it rejects and keeps. */
function formatOpenSet(rows: readonly OpenSetEvaluation[]): string {
  const strangers = rows.some((r) => r.strangers > 0);
  const head = strangers
    ? [
        "model",
        "features",
        "threshold",
        "target FIR",
        "strangers rejected",
        "known accuracy kept",
        "known rejected",
      ]
    : ["model", "features", "threshold", "target FIR", "known accuracy kept", "known rejected"];
  const body = rows.map((r) => [
    r.algorithm,
    r.featureSet,
    r.threshold.toFixed(3),
    pct(r.target_fir),
    ...(strangers ? [`${pct(r.strangers_rejected)} of ${r.strangers} (${r.stranger_users} users)`] : []),
    pct(r.known_accuracy_kept),
    pct(r.known_rejected),
  ]);
  const title = strangers
    ? "open set (predict --reject-unknown): users of this file the models never saw are strangers"
    : "open set (predict --reject-unknown): every user of this file is known to the models";
  return `${title}\n${renderTable(head, body)}`;
}

/** Progress of a cross-validation on stderr: rewritten in place for a person, one line per fit otherwise; with an ETA. */
function progressReporter(): (e: CrossValidationProgress) => void {
  const live = isInteractive(process.stderr);
  const t0 = performance.now();
  return (e) => {
    const s = (performance.now() - t0) / 1000;
    const eta = e.done > 0 && e.done < e.total ? `, ETA ${formatEta((s / e.done) * (e.total - e.done))}` : "";
    const line = `cross-validating ${e.algorithm} ${e.featureSet}: fold ${e.fold}/${e.folds} (${e.done}/${e.total} fits${eta})`;
    if (live) process.stderr.write(`\r${line}\x1b[K${e.done === e.total ? "\n" : ""}`);
    else say(line);
  };
}

const pct = (v: number | null | undefined) =>
  v === null || v === undefined || !Number.isFinite(v) ? "—" : `${(v * 100).toFixed(1)}%`;

/** How many evaluated rows the model version was fitted on (by its fingerprint), and how many it never saw. */
interface RowsInfo {
  version: string;
  total: number;
  training: number;
  held_out: number;
  /** False when the version records no fingerprint: training and held_out are then unknown (0). */
  fingerprint: boolean;
}
type ScoredOn = "held_out_rows" | "training_rows" | "rows";

function rowsLine(r: RowsInfo, on: ScoredOn): string {
  if (!r.fingerprint)
    return `scores on all ${r.total} rows; model version ${r.version} records no training fingerprint, so whether they are held out is unknown`;
  if (on === "held_out_rows")
    return (
      `scores on ${r.held_out} held-out rows (never seen by model version ${r.version})` +
      (r.training ? `; ${r.training} training rows reported apart below` : "")
    );
  return `scores on ${r.training} training rows: model version ${r.version} was fitted on every one of them, so this is NOT a held-out accuracy`;
}

/** The report's subtitle: what was run, on which rows. */
function reportMode(
  p: EvaluatePlan,
  models: number,
  r: RowsInfo | undefined,
  on: ScoredOn | undefined,
): string {
  if (p.cv !== undefined) return `${p.cv}-fold stratified cross-validation of the training recipe`;
  if (models === 0) return "verification: Killourhy & Maxion protocol (no trained models)";
  if (!r || !on) return "evaluation of trained models";
  if (!r.fingerprint) return `trained models (version ${r.version}) on all rows; held-out status unknown`;
  return on === "held_out_rows"
    ? `trained models (version ${r.version}) on ${r.held_out} held-out rows` +
        (r.training ? ` (${r.training} training rows left out)` : "")
    : `trained models (version ${r.version}) on ${r.training} TRAINING rows: not a held-out score`;
}

function formatEta(s: number): string {
  return s < 60 ? `${Math.round(s)} s` : `${Math.floor(s / 60)} m ${Math.round(s % 60)} s`;
}

/** `5,10,20,50,half` → enrolment sizes (integers ≥ 3, or half), naming the flag when one is not. */
/** `--detectors`: known detector names, comma-separated, each once. */
async function parseDetectors(value: string): Promise<DetectorName[]> {
  const { DETECTORS, isDetectorName } = await import("../verify/index.js");
  const names = value
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);
  if (names.length === 0)
    throw new KeystrokeError("BAD_FLAG", `names no detector (detectors: ${DETECTORS.join(", ")})`, {
      flag: "--detectors",
    });
  for (const n of names)
    if (!isDetectorName(n))
      throw new KeystrokeError("BAD_FLAG", `unknown detector "${n}" (detectors: ${DETECTORS.join(", ")})`, {
        flag: "--detectors",
      });
  return [...new Set(names as DetectorName[])];
}

export function parseEnrolSizes(value: string): EnrolSize[] {
  const out: EnrolSize[] = [];
  for (const part of value
    .split(",")
    .map((x) => x.trim().toLowerCase())
    .filter(Boolean)) {
    if (part === "half") out.push("half");
    else out.push(parseNumber(part, "--enrol-sizes", { integer: true, min: 3 }));
  }
  if (out.length === 0)
    throw new KeystrokeError("BAD_FLAG", "names no enrolment size (e.g. 5,10,20,50,half)", {
      flag: "--enrol-sizes",
    });
  return [...new Set(out)];
}
