import { Command } from "commander";
import {
  addOptions,
  FEATURES,
  helpEpilog,
  JSON_ALIAS,
  MODELS_DIR,
  numberCheck,
  outputOption,
  parseAlgorithms,
  parseFeatureSets,
  parseNumber,
  ON_INVALID,
  QUIET,
  resolveOutput,
  SEED,
  SKIP_INVALID,
  STORE,
  TARGET_FAR,
  type OptionSpec,
} from "./options.js";
import { isInteractive, say } from "../ui/terminal.js";
import { invalidRowPolicy } from "./invalid-rows.js";
import { parsePolicy } from "../verify/policy.js";

/** The flags of `train`, as data: they build the command, its help and the config file's keys. */
export const TRAIN_OPTIONS: readonly OptionSpec[] = [
  {
    key: "model",
    flags: "--model <list>",
    description: "models to train, comma-separated: svm,rf,xgb",
    default: "svm,rf,xgb",
    check: (v, f) => void parseAlgorithms(v, f),
    option: "algorithms",
  },
  FEATURES,
  MODELS_DIR,
  { key: "out", flags: "-o, --out <dir>", description: "", aliasOf: "modelsDir" },
  SEED,
  {
    key: "holdout",
    flags: "--holdout <fraction>",
    description: "share of the rows held out for scoring, stratified by user (0: no scores)",
    default: "0.2",
    check: numberCheck({ min: 0, max: 0.9 }),
  },
  {
    key: "keepHoldout",
    flags: "--keep-holdout",
    description:
      "write the models fitted without the held-out rows (default: refit on all rows after scoring)",
  },
  {
    key: "keep",
    flags: "--keep <n>",
    description: "model versions the directory keeps, this one included (default 5)",
    check: numberCheck({ integer: true, min: 1, max: 1000 }),
  },
  {
    key: "workers",
    flags: "--workers <n>",
    description: "worker threads (0: fit in-process); default one per core",
    check: numberCheck({ integer: true, min: 0, max: 64 }),
  },
  {
    key: "targetFir",
    flags: "--target-fir <rate>",
    description:
      "false-identification rate the open-set threshold (predict --reject-unknown) is calibrated for: the share of strangers still named",
    default: "0.05",
    check: numberCheck({ min: 0.001, max: 0.5 }),
  },
  ON_INVALID,
  SKIP_INVALID,
  {
    key: "verification",
    flags: "--no-verification",
    description: "do not enrol the training users for verification",
    default: true,
  },
  {
    ...STORE,
    description:
      "identity store the training users are enrolled in (never replacing an enrolled user): a SQLite file, sqlite:PATH or postgres://… (default: KEYSTROKE_ID_STORE, else ./keystroke-id.db)",
  },
  TARGET_FAR,
  outputOption(["table", "json"]),
  JSON_ALIAS,
  QUIET,
];

export const TRAIN_EXAMPLES = [
  "keystroke-id train fixtures/wide-train.csv",
  "keystroke-id train fixtures/wide-train.csv --model rf --features timings --holdout 0 --models-dir models-rf",
  "keystroke-id train fixtures/wide-train.csv --model rf --models-dir models-rf --output json --quiet",
];

/** `keystroke-id train <file>`: fits SVM, RF and XGB on summary and timings features and writes a models dir. */
export function trainCommand(): Command {
  const cmd = new Command("train")
    .description("train identification models (SVM, RF, XGB) and verification templates on a labelled file")
    .argument("<file>", "labelled keystroke CSV (wide, derived or events layout), or - for stdin");
  return addOptions(cmd, TRAIN_OPTIONS)
    .addHelpText("after", helpEpilog(TRAIN_EXAMPLES))
    .action(async (file: string, opts: TrainFlags) => {
      const output = resolveOutput(opts, ["table", "json"]);
      const options = {
        algorithms: parseAlgorithms(opts.model),
        featureSets: parseFeatureSets(opts.features),
        seed: parseNumber(opts.seed, "--seed", { integer: true, min: 0, max: 2 ** 32 - 1 }),
        holdout: parseNumber(opts.holdout, "--holdout", { min: 0, max: 0.9 }),
        ...(opts.keep !== undefined
          ? { keep: parseNumber(opts.keep, "--keep", { integer: true, min: 1, max: 1000 }) }
          : {}),
        keepHoldout: Boolean(opts.keepHoldout),
        targetFir: parseNumber(opts.targetFir, "--target-fir", { min: 0.001, max: 0.5 }),
        ...(opts.workers !== undefined
          ? { workers: parseNumber(opts.workers, "--workers", { integer: true, min: 0, max: 64 }) }
          : {}),
      };
      const { runTraining } = await import("../train/run.js");
      const view = await startProgress(`training on ${file}`, Boolean(opts.quiet));
      try {
        const report = await runTraining({
          input: file,
          out: opts.modelsDir,
          skipInvalid: invalidRowPolicy(opts) === "skip",
          verification: opts.verification !== false,
          ...(opts.store !== undefined ? { store: opts.store } : {}),
          ...(opts.targetFar !== undefined
            ? { policy: parsePolicy(opts.targetFar, { flag: "--target-far" }) }
            : {}),
          ...options,
          onProgress: view.update,
          onNote: opts.quiet ? () => {} : say,
        });
        view.stop();
        const { formatTrainReport } = await import("../ui/train-report.js");
        const { wireJson } = await import("../ui/json.js");
        process.stdout.write(
          output === "json" ? JSON.stringify(wireJson(report), null, 2) + "\n" : formatTrainReport(report),
        );
      } catch (e) {
        view.stop();
        throw e;
      }
    });
}

/** Live bars at a terminal, plain throttled lines in a log, nothing with --quiet (all on stderr). */
async function startProgress(
  title: string,
  quiet: boolean,
): Promise<import("../ui/progress.js").ProgressSink> {
  const progress = await import("../ui/progress.js");
  if (quiet) return progress.silentProgress;
  if (isInteractive(process.stderr)) return (await import("../ui/train-live.js")).startTrainView(title);
  say(title);
  return progress.plainProgress(say);
}

interface TrainFlags {
  model: string;
  features: string;
  modelsDir: string;
  seed: string;
  holdout: string;
  workers?: string;
  keep?: string;
  keepHoldout?: boolean;
  targetFir: string;
  skipInvalid?: boolean;
  onInvalid?: string;
  verification?: boolean;
  store?: string;
  output?: string;
  json?: boolean;
  quiet?: boolean;
  targetFar?: string;
}
