import { Command } from "commander";
import { parseAlgorithms, parseFeatureSets, parseNumber } from "./options.js";
import { isInteractive, say } from "../ui/terminal.js";

/** `keystroke-id train <file>`: fits SVM, RF and XGB on summary and timings features and writes a models dir. */
export function trainCommand(): Command {
  return new Command("train")
    .description("train identification models (SVM, RF, XGB) and verification templates on a labelled file")
    .argument("<file>", "labelled keystroke CSV (wide, derived or events layout), or - for stdin")
    .option("--model <list>", "models to train, comma-separated: svm,rf,xgb", "svm,rf,xgb")
    .option("--features <set>", "feature sets: timings, summary or both", "both")
    .option("-o, --out <dir>", "directory to write the models to", "models")
    .option("--seed <n>", "seed for every random choice (same data + seed → identical files)", "42")
    .option("--holdout <fraction>", "share of each user's rows held out for scoring (0: train on all)", "0.2")
    .option("--workers <n>", "worker threads (0: fit in-process); default one per core")
    .option("--skip-invalid", "drop invalid rows (reported on stderr) instead of stopping")
    .option("--no-verification", "do not enrol the training users for verification")
    .option("--store <path|url>", "identity store the training users are enrolled in (never replacing an enrolled user): a SQLite file, sqlite:PATH or postgres://… (default: KEYSTROKE_ID_STORE, else ./keystroke-id.db)")
    .option("--json", "print one JSON document on stdout instead of a table")
    .action(async (file: string, opts: TrainFlags) => {
      const options = {
        algorithms: parseAlgorithms(opts.model),
        featureSets: parseFeatureSets(opts.features),
        seed: parseNumber(opts.seed, "--seed", { integer: true, min: 0, max: 2 ** 32 - 1 }),
        holdout: parseNumber(opts.holdout, "--holdout", { min: 0, max: 0.9 }),
        ...(opts.workers !== undefined ? { workers: parseNumber(opts.workers, "--workers", { integer: true, min: 0, max: 64 }) } : {}),
      };
      const { runTraining } = await import("../train/run.js");
      const live = !opts.json && isInteractive() ? await import("../ui/train-live.js") : undefined;
      const view = live?.startTrainView(`training on ${file}`);
      try {
        const report = await runTraining({
          input: file,
          out: opts.out,
          skipInvalid: Boolean(opts.skipInvalid),
          verification: opts.verification !== false,
          ...(opts.store !== undefined ? { store: opts.store } : {}),
          ...options,
          onProgress: view?.update,
          onNote: say,
        });
        view?.stop();
        const { formatTrainReport } = await import("../ui/train-report.js");
        process.stdout.write(opts.json ? JSON.stringify(report, null, 2) + "\n" : formatTrainReport(report));
      } catch (e) {
        view?.stop();
        throw e;
      }
    });
}

interface TrainFlags {
  model: string;
  features: string;
  out: string;
  seed: string;
  holdout: string;
  workers?: string;
  skipInvalid?: boolean;
  verification?: boolean;
  store?: string;
  json?: boolean;
}
