import { Command } from "commander";
import { KeystrokeError } from "../errors.js";
import type { FeatureSetName } from "../features/index.js";
import type { CrossValidationProgress, ModelEvaluation } from "../metrics/index.js";
import type { Algorithm } from "../models/types.js";
import type { VerificationEvaluation } from "../verify/index.js";
import { emit, emitJson, isInteractive, say } from "../ui/terminal.js";
import { addOptions, FEATURES, helpEpilog, JSON_ALIAS, numberCheck, outputOption, parseAlgorithms, parseFeatureSets, parseNumber, QUIET, resolveOutput, SEED, type OptionSpec } from "./options.js";

interface EvaluateFlags {
  modelsDir?: string;
  model: string;
  features: string;
  cv?: string;
  seed: string;
  rejectBelow?: string;
  report?: string;
  verification?: boolean;
  output?: string;
  json?: boolean;
  quiet?: boolean;
}

/** The flags of `evaluate`, as data. */
export const EVALUATE_OPTIONS: readonly OptionSpec[] = [
  // no default here: --verification alone needs no models; otherwise the plan defaults to ./models
  { key: "modelsDir", flags: "--models-dir <dir>", description: "trained models to evaluate (default: models)" },
  { key: "model", flags: "--model <list>", description: "models to evaluate, comma-separated: svm,rf,xgb", default: "svm,rf,xgb", check: (v, f) => void parseAlgorithms(v, f), option: "algorithms" },
  FEATURES,
  { key: "cv", flags: "--cv <k>", description: "stratified k-fold cross-validation of the training recipe instead of trained models", check: numberCheck({ integer: true, min: 2 }), option: "k" },
  { ...SEED, description: "seed of the cross-validation folds and fits" },
  { key: "rejectBelow", flags: "--reject-below <p>", description: "also report accuracy when samples whose top probability is below p are rejected", check: numberCheck({ min: 0, max: 1 }) },
  { key: "report", flags: "--report <file.html>", description: "write a self-contained HTML report with charts", config: false },
  { key: "verification", flags: "--verification", description: "also evaluate verification (EER per detector); alone it needs no models" },
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
  if (o.rejectBelow !== undefined) p.rejectBelow = parseNumber(o.rejectBelow, "--reject-below", { min: 0, max: 1 });
  if (o.report !== undefined) p.report = o.report;
  if (p.cv !== undefined && o.modelsDir !== undefined) {
    throw new KeystrokeError("BAD_FLAG", "--cv evaluates the training recipe and needs no models; drop --models-dir or --cv", { flag: "--cv" });
  }
  // --verification on its own needs no trained models; otherwise the models directory defaults to ./models
  if (p.cv === undefined && (o.modelsDir !== undefined || !p.verification)) p.modelsDir = o.modelsDir ?? "models";
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
      const { readDataset } = await import("../data/index.js");
      const metrics = await import("../metrics/index.js");
      const dataset = await readDataset(p.file, { requireLabel: true });
      // an empty table of dashes with exit 0 would read as "evaluated fine"
      if (dataset.samples.length === 0) throw new KeystrokeError("TOO_FEW_SAMPLES", "has no samples to evaluate", { file: p.file });
      const summary = { file: p.file, ...metrics.datasetSummary(dataset.samples) };

      let models: ModelEvaluation[] = [];
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
        if (smallest < p.cv) say(`warning: a user has only ${smallest} sample(s), fewer than ${p.cv} folds; some folds test users they were not trained on (counted as errors)`);
      } else if (p.modelsDir !== undefined) {
        const { loadModelDir } = await import("../models/store.js");
        const dir = await loadModelDir(p.modelsDir, { algorithms: p.algorithms });
        const chosen = dir.models.filter((m) => p.featureSets.includes(m.featureSet));
        if (chosen.length === 0) {
          throw new KeystrokeError("NO_MODELS", `no ${p.algorithms.join("/")} model for ${p.featureSets.join("/")} features`, { file: p.modelsDir, flag: "--model" });
        }
        models = metrics.evaluateModels(dataset.samples, chosen, { rejectBelow: p.rejectBelow });
      }

      let verification: VerificationEvaluation | undefined;
      if (p.verification) {
        const { evaluateVerification } = await import("../verify/index.js");
        verification = evaluateVerification(dataset.samples);
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
          generatedAt: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
        });
        if (!flags.quiet) say(`wrote the report to ${p.report}`);
      }

      if (p.json) {
        const v = verification ? { detectors: verification.detectors, best: verification.best, protocol: verification.protocol } : undefined;
        const { wireJson } = await import("../ui/json.js");
        emitJson(wireJson(metrics.evaluationJson(summary, models, v)));
        return;
      }
      const { formatEvaluation } = await import("../ui/evaluate-report.js");
      emit(formatEvaluation(summary, models, verification, metrics.topConfusions));
    });
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

function formatEta(s: number): string {
  return s < 60 ? `${Math.round(s)} s` : `${Math.floor(s / 60)} m ${Math.round(s % 60)} s`;
}
