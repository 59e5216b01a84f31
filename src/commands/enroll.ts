import { Command } from "commander";
import { KeystrokeError } from "../errors.js";
import type { DetectorName } from "../verify/index.js";
import { SkippedRows, invalidRowPolicy, onInvalidOption, skipInvalidAlias } from "./invalid-rows.js";

/** The streams a command talks through; tests pass their own. */
interface CommandIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

interface EnrollFlags {
  user?: string;
  modelsDir: string;
  detector?: string;
  filterOutliers?: boolean;
  json?: boolean;
  force?: boolean;
  onInvalid?: string;
  skipInvalid?: boolean;
}

/** `keystroke-id enroll <file>`: adds or updates users' verification templates, leaving every other user's untouched. */
export function enrollCommand(io: CommandIO = { stdout: process.stdout, stderr: process.stderr }): Command {
  return new Command("enroll")
    .description("enrol users for verification (predict --claim, POST /verify) without retraining anyone else")
    .argument("<file>", "keystroke CSV with at least 3 samples per user (any layout)")
    .option("--user <id>", "enrol only this user's samples; unlabelled samples are taken as this user's")
    .option("--models-dir <dir>", "models directory holding verification/", "models")
    .option("--detector <name>", "verification detector (default: the store's; for a new store manhattan-robust-cohort, or manhattan-robust with 10 users or fewer)")
    .option("--filter-outliers", "drop enrolment samples far from the user's others (with 6 or more samples)")
    .option("--force", "enrol even when the samples look inconsistent (two people, different texts); recorded in the template")
    .addOption(onInvalidOption())
    .addOption(skipInvalidAlias())
    .option("--json", "one JSON document on stdout")
    .action(async (file: string, opts: EnrollFlags) => {
      const verify = await import("../verify/index.js");
      if (opts.detector !== undefined && !verify.isDetectorName(opts.detector)) {
        throw new KeystrokeError("BAD_FLAG", `unknown detector "${opts.detector}" (detectors: ${verify.DETECTORS.join(", ")})`, { flag: "--detector" });
      }
      if (opts.user !== undefined && opts.user.trim() === "") throw new KeystrokeError("BAD_FLAG", "empty user id", { flag: "--user" });
      const { readDataset, parseLabel } = await import("../data/index.js");
      const { timingsNames } = await import("../features/index.js");
      const skippedRows = new SkippedRows(file);
      const ds = await readDataset(file, { onInvalid: invalidRowPolicy(opts), onSkip: skippedRows.add });
      if (skippedRows.count > 0) io.stderr.write(skippedRows.report());
      const user = opts.user === undefined ? undefined : parseLabel(opts.user);
      if (!ds.labelled && user === undefined) {
        throw new KeystrokeError("BAD_FLAG", `${file} has no UserID column: say whose samples these are`, { flag: "--user" }, { suggestion: `keystroke-id enroll ${file} --user <id>` });
      }
      const index = await verify.readVerificationIndex(opts.modelsDir);
      const result = inFile(file, () =>
        verify.enrollSamples(ds.samples, {
          detector: (opts.detector as DetectorName | undefined) ?? index?.detector,
          population: index?.population ?? undefined,
          user,
          filterOutliers: Boolean(opts.filterOutliers),
          onInconsistent: "refuse",
          force: Boolean(opts.force),
        }),
      );
      // saveTemplates re-reads the store under the lock, so a concurrent enrol or train is not lost
      const after = await verify.saveTemplates(opts.modelsDir, result.templates, {
        detector: index?.detector ?? result.templates[0]!.detector,
        keys: result.keys,
        featureNames: timingsNames(result.keys, ds.keyNames),
        population: result.populationBuilt ? result.population : undefined,
      });
      const dir = verify.verificationDir(opts.modelsDir);
      const enrolled = result.templates.map((t) => ({
        UserID: t.user,
        samples: t.n,
        threshold: t.threshold,
        detector: t.detector,
        file: after.users[String(t.user)]!.file,
        replaced: index !== null && String(t.user) in index.users,
        quality: t.quality,
        outliers: t.outliers ?? [],
        ...(t.forced ? { forced: t.forced.problems } : {}),
      }));
      const summary = { store: dir, created: index === null, users: Object.keys(after.users).length, enrolled };
      if (opts.json) {
        io.stdout.write(JSON.stringify(summary, null, 2) + "\n");
      } else {
        for (const e of enrolled) {
          io.stdout.write(`${e.replaced ? "updated" : "enrolled"} ${String(e.UserID)}: ${e.samples} samples, threshold ${e.threshold.toFixed(3)} (${e.detector}), quality ${e.quality ?? "—"}${e.outliers.length ? `, ${e.outliers.length} outlier sample(s)` : ""}${e.forced ? ` (forced despite: ${e.forced.join(", ")})` : ""}\n`);
        }
      }
      io.stderr.write(`${index === null ? "created" : "updated"} verification store ${dir}: ${summary.users} user(s)\n`);
    });
}

// "no samples to enrol" and the like are about the input file as a whole: say which file
function inFile<T>(file: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof KeystrokeError && Object.keys(e.place).length === 0) {
      throw new KeystrokeError(e.code, e.message, { file }, { cause: e, ...(e.suggestion !== undefined ? { suggestion: e.suggestion } : {}) });
    }
    throw e;
  }
}
