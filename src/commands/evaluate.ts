import { Command } from "commander";
import { KeystrokeError } from "../errors.js";
import type { FeatureSetName } from "../features/index.js";
import type * as Metrics from "../metrics/index.js";
import type { CrossValidationProgress, ModelEvaluation } from "../metrics/index.js";
import type { Algorithm } from "../models/types.js";
import type { EnrolSize, SuiteRun, VerificationEvaluation } from "../verify/index.js";
import { formatNumber, renderTable } from "../ui/table.js";
import { color, emit, emitJson, isInteractive, say } from "../ui/terminal.js";
import { parseAlgorithms, parseFeatureSets, parseNumber } from "./options.js";
import { SkippedRows, invalidRowPolicy, onInvalidOption, skipInvalidAlias } from "./invalid-rows.js";

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
  json?: boolean;
  modelVersion?: string;
  onInvalid?: string;
  skipInvalid?: boolean;
}

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
    json: Boolean(o.json),
  };
  if (o.cv !== undefined) p.cv = parseNumber(o.cv, "--cv", { integer: true, min: 2 });
  if (o.rejectBelow !== undefined) p.rejectBelow = parseNumber(o.rejectBelow, "--reject-below", { min: 0, max: 1 });
  if (o.report !== undefined) p.report = o.report;
  if (o.modelVersion !== undefined) p.modelVersion = o.modelVersion;
  if (p.cv !== undefined && o.modelsDir !== undefined) {
    throw new KeystrokeError("BAD_FLAG", "--cv evaluates the training recipe and needs no models; drop --models-dir or --cv", { flag: "--cv" });
  }
  // --verification on its own needs no trained models; otherwise the models directory defaults to ./models
  if (p.cv === undefined && (o.modelsDir !== undefined || !p.verification)) p.modelsDir = o.modelsDir ?? "models";
  return p;
}

/** `keystroke-id evaluate <file>`: how well models identify the users of a labelled file. */
export function evaluateCommand(): Command {
  return new Command("evaluate")
    .description("measure identification (and verification) on a labelled file: table, JSON or HTML report")
    .argument("<file>", "labelled keystroke CSV (a UserID column)")
    .option("--models-dir <dir>", "trained models to evaluate (default: models)")
    .option("--model-version <id>", "a kept model version (keystroke-id models list) instead of the active one")
    .option("--model <list>", "models to evaluate, comma-separated: svm,rf,xgb", "svm,rf,xgb")
    .option("--features <set>", "feature sets: timings, summary or both", "both")
    .option("--cv <k>", "stratified k-fold cross-validation of the training recipe instead of trained models")
    .option("--seed <n>", "seed of the cross-validation folds and fits", "42")
    .option("--reject-below <p>", "also report accuracy when samples whose top probability is below p are rejected")
    .option("--report <file.html>", "write a self-contained HTML report with charts")
    .option("--verification", "also evaluate verification (EER per detector); alone it needs no models")
    .option("--enrol-sizes <list>", "with --verification: enrolment sizes to measure, e.g. 5,10,20,50,half (half: each user's first half)", "half")
    .option("--json", "print one JSON document on stdout instead of tables")
    .addOption(onInvalidOption())
    .addOption(skipInvalidAlias())
    .addHelpText(
      "after",
      `
Examples:
  keystroke-id evaluate test.csv --models-dir models
  keystroke-id evaluate train.csv --cv 5 --model rf --json
  keystroke-id evaluate test.csv --reject-below 0.5 --report report.html
  keystroke-id evaluate train.csv --verification`,
    )
    .action(async (file: string, flags: EvaluateFlags) => {
      const p = plan(file, flags);
      const { readDataset } = await import("../data/index.js");
      const metrics = await import("../metrics/index.js");
      const skippedRows = new SkippedRows(p.file);
      const dataset = await readDataset(p.file, { requireLabel: true, onInvalid: invalidRowPolicy(flags), onSkip: skippedRows.add });
      if (skippedRows.count > 0) say(skippedRows.report().trimEnd());
      // an empty table of dashes with exit 0 would read as "evaluated fine"
      if (dataset.samples.length === 0) throw new KeystrokeError("TOO_FEW_SAMPLES", "has no samples to evaluate", { file: p.file });
      const summary = { file: p.file, ...metrics.datasetSummary(dataset.samples) };

      let models: ModelEvaluation[] = [];
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
          onProgress: progressReporter(),
        });
        const smallest = metrics.smallestClass(dataset.samples.map((s) => s.label!));
        if (smallest < p.cv) say(`warning: a user has only ${smallest} sample(s), fewer than ${p.cv} folds; some folds test users they were not trained on (counted as errors)`);
      } else if (p.modelsDir !== undefined) {
        const { loadModelDir, readVersionRecord, activeVersionId } = await import("../models/store.js");
        const dir = await loadModelDir(p.modelsDir, { algorithms: p.algorithms, ...(p.modelVersion !== undefined ? { version: p.modelVersion } : {}) });
        const chosen = dir.models.filter((m) => p.featureSets.includes(m.featureSet));
        if (chosen.length === 0) {
          throw new KeystrokeError("NO_MODELS", `no ${p.algorithms.join("/")} model for ${p.featureSets.join("/")} features`, { file: p.modelsDir, flag: "--model" });
        }
        // which evaluated rows the models were fitted on: those are never reported as held-out
        const versionId = activeVersionId(dir.manifest);
        const record = await readVersionRecord(p.modelsDir, dir.manifest, versionId);
        const { splitByTraining } = await import("../train/fingerprint.js");
        const split = splitByTraining(dataset.samples, record.trainingRows);
        rowsInfo = { version: versionId, ...split.counts };
        const scored = split.heldOut.length > 0 ? split.heldOut : split.training.length > 0 ? split.training : dataset.samples;
        scoredOn = split.heldOut.length > 0 ? "held_out_rows" : split.training.length > 0 ? "training_rows" : "rows";
        models = metrics.evaluateModels(scored, chosen, { rejectBelow: p.rejectBelow });
        if (split.heldOut.length > 0 && split.training.length > 0) trainingModels = metrics.evaluateModels(split.training, chosen, { rejectBelow: p.rejectBelow });
        if (split.training.length > 0) {
          say(`note: ${split.training.length} of ${dataset.samples.length} rows were used to train model version ${versionId}: they are reported as training rows, not held-out`);
        } else if (!record.trainingRows) {
          say(`note: model version ${versionId} records no fingerprint of its training rows (written before they existed): held-out status of these rows is unknown`);
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
        verification = evaluateVerification(dataset.samples);
        suite = verify.evaluateVerificationSuite(dataset.samples, {
          enrolSizes: parseEnrolSizes(flags.enrolSizes ?? "half"),
          onRun: (protocol, enrol) => say(`verification: ${protocol} protocol, enrolment ${enrol}`),
        });
        ranks = verify.meanRanks(suite);
      }

      for (const m of models) {
        const e = m.evaluation;
        if (e.unseenSamples > 0) {
          say(`warning: ${e.unseenSamples} sample(s) of ${e.unseenUsers.length} user(s) the ${m.algorithm} ${m.featureSet} model never saw count as errors: ${e.unseenUsers.map((u) => u.user).join(", ")}`);
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
        say(`wrote the report to ${p.report}`);
      }

      if (p.json) {
        const v = verification
          ? { default: defaultDetector, detectors: verification.detectors, best: verification.best, protocol: verification.protocol, runs: suite, mean_ranks: ranks }
          : undefined;
        const doc = metrics.evaluationJson(summary, models, v);
        if (rowsInfo && scoredOn) {
          doc.rows = rowsInfo;
          doc.scored_on = scoredOn;
          if (trainingModels) doc.training_rows = { models: (metrics.evaluationJson(summary, trainingModels) as { models: unknown }).models };
        }
        emitJson(doc);
        return;
      }
      const lines = [formatTables(summary, models, verification, metrics.topConfusions, rowsInfo && scoredOn ? rowsLine(rowsInfo, scoredOn) : undefined)];
      if (trainingModels) {
        const rows = trainingModels.map((m) => [m.algorithm, m.featureSet, pct(m.evaluation.accuracy), pct(m.evaluation.macroF1)]);
        lines.push(`training rows (${rowsInfo!.training}, seen in training: not a measure of accuracy on new typing)`);
        lines.push(renderTable(["model", "features", "accuracy", "macro F1"], rows));
      }
      emit(lines.join("\n"));
    });
}

/** Progress of a cross-validation on stderr: rewritten in place for a person, one line per fit otherwise. */
function progressReporter(): (e: CrossValidationProgress) => void {
  const live = isInteractive(process.stderr);
  return (e) => {
    const line = `cross-validating ${e.algorithm} ${e.featureSet}: fold ${e.fold}/${e.folds} (${e.done}/${e.total} fits)`;
    if (live) process.stderr.write(`\r${line}\x1b[K${e.done === e.total ? "\n" : ""}`);
    else say(line);
  };
}

const pct = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? "—" : `${(v * 100).toFixed(1)}%`);

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
  if (!r.fingerprint) return `scores on all ${r.total} rows; model version ${r.version} records no training fingerprint, so whether they are held out is unknown`;
  if (on === "held_out_rows") return `scores on ${r.held_out} held-out rows (never seen by model version ${r.version})` + (r.training ? `; ${r.training} training rows reported apart below` : "");
  return `scores on ${r.training} training rows: model version ${r.version} was fitted on every one of them, so this is NOT a held-out accuracy`;
}

/** The report's subtitle: what was run, on which rows. */
function reportMode(p: EvaluatePlan, models: number, r: RowsInfo | undefined, on: ScoredOn | undefined): string {
  if (p.cv !== undefined) return `${p.cv}-fold stratified cross-validation of the training recipe`;
  if (models === 0) return "verification: Killourhy & Maxion protocol (no trained models)";
  if (!r || !on) return "evaluation of trained models";
  if (!r.fingerprint) return `trained models (version ${r.version}) on all rows; held-out status unknown`;
  return on === "held_out_rows"
    ? `trained models (version ${r.version}) on ${r.held_out} held-out rows` + (r.training ? ` (${r.training} training rows left out)` : "")
    : `trained models (version ${r.version}) on ${r.training} TRAINING rows: not a held-out score`;
}

function formatTables(
  dataset: { file: string; rows: number; users: number },
  models: readonly ModelEvaluation[],
  verification: VerificationEvaluation | undefined,
  topConfusions: typeof Metrics.topConfusions,
  rowsNote?: string,
): string {
  const c = color(process.stdout);
  const out: string[] = [c.bold(`${dataset.file}: ${dataset.rows} samples, ${dataset.users} users`)];
  if (rowsNote) out.push(rowsNote);
  if (models.length) {
    const cv = models.some((m) => m.cv);
    const reject = models.some((m) => m.evaluation.reject);
    const head = ["model", "features", "accuracy", "top-3", "balanced", "macro P", "macro R", "macro F1", "unseen", "most wrong users"];
    if (reject) head.splice(8, 0, `acc. p≥${models.find((m) => m.evaluation.reject)!.evaluation.reject!.threshold}`, "rejected");
    const score = (m: ModelEvaluation, k: "accuracy" | "top3" | "balancedAccuracy" | "macroF1") =>
      m.cv ? `${pct(m.cv.mean[k])} ± ${pct(m.cv.sd[k])}` : pct(m.evaluation[k]);
    const rows = models.map((m) => {
      const e = m.evaluation;
      const row: Array<string | number> = [
        m.algorithm,
        m.featureSet,
        score(m, "accuracy"),
        score(m, "top3"),
        score(m, "balancedAccuracy"),
        pct(e.macroPrecision),
        pct(e.macroRecall),
        score(m, "macroF1"),
        e.unseenSamples,
        e.mostWrong.slice(0, 3).map((u) => `${u.user} (${pct(u.accuracy)})`).join(", ") || "—",
      ];
      if (reject) row.splice(8, 0, pct(e.reject?.accuracy), pct(e.reject?.rejectedShare));
      return row;
    });
    out.push(renderTable(head, rows));
    if (cv) out.push(c.dim(`mean ± sd over ${models[0]!.cv!.k} folds; macro P/R and most-wrong users from pooled out-of-fold predictions`));
    for (const m of models) out.push(confusionText(m, topConfusions));
  }
  if (verification) {
    const rows = Object.entries(verification.detectors).map(([name, d]) => [
      name === verification.best ? `${name} (best)` : name,
      `${pct(d.eer.mean)} ± ${pct(d.eer.sd)}`,
      pct(d.zeroMissFar),
    ]);
    out.push(c.bold(`verification (${verification.protocol.users} users)`));
    out.push(renderTable(["detector", "EER (mean ± sd)", "zero-miss FAR"], rows));
  }
  return out.join("\n");
}

/** The confusion matrix itself for a few users; the most confused pairs when it is too wide for a terminal. */
function confusionText(m: ModelEvaluation, topConfusions: typeof Metrics.topConfusions): string {
  const { labels, matrix } = m.evaluation.confusion;
  const title = `confusion ${m.algorithm} ${m.featureSet}`;
  if (labels.length <= 12) {
    return `${title} (rows true, columns predicted)\n${renderTable(["", ...labels.map(String)], matrix.map((row, i) => [String(labels[i]), ...row]))}`;
  }
  const pairs = topConfusions(m.evaluation, 5);
  if (pairs.length === 0) return `${title}: no confusions`;
  return `${title}, most confused: ${pairs.map((p) => `${p.actual}→${p.predicted} ×${formatNumber(p.count)}`).join(", ")}`;
}

/** `5,10,20,50,half` → enrolment sizes (integers ≥ 3, or half), naming the flag when one is not. */
export function parseEnrolSizes(value: string): EnrolSize[] {
  const out: EnrolSize[] = [];
  for (const part of value.split(",").map((x) => x.trim().toLowerCase()).filter(Boolean)) {
    if (part === "half") out.push("half");
    else out.push(parseNumber(part, "--enrol-sizes", { integer: true, min: 3 }));
  }
  if (out.length === 0) throw new KeystrokeError("BAD_FLAG", "names no enrolment size (e.g. 5,10,20,50,half)", { flag: "--enrol-sizes" });
  return [...new Set(out)];
}
