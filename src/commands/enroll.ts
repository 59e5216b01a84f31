import { Command } from "commander";
import { KeystrokeError } from "../errors.js";
import type { DetectorName } from "../verify/index.js";
import { addOptions, helpEpilog, JSON_ALIAS, MODELS_DIR, outputOption, QUIET, resolveOutput, type OptionSpec } from "./options.js";

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
  output?: string;
  json?: boolean;
  quiet?: boolean;
}

/** The flags of `enroll`, as data. */
export const ENROLL_OPTIONS: readonly OptionSpec[] = [
  { key: "user", flags: "--user <id>", description: "enrol only this user's samples; unlabelled samples are taken as this user's", config: false },
  { ...MODELS_DIR, description: "models directory holding verification/" },
  { key: "detector", flags: "--detector <name>", description: "verification detector (default: the store's; for a new store manhattan-robust-cohort, or manhattan-robust with 10 users or fewer)" },
  { key: "filterOutliers", flags: "--filter-outliers", description: "drop enrolment samples far from the user's others (with 6 or more samples)" },
  outputOption(["table", "json"]),
  JSON_ALIAS,
  QUIET,
];

export const ENROLL_EXAMPLES = ["keystroke-id enroll fixtures/wide-train.csv --models-dir models", "keystroke-id enroll fixtures/wide-unlabelled.csv --user alice --models-dir models --output json"];

/** `keystroke-id enroll <file>`: adds or updates users' verification templates, leaving every other user's untouched. */
export function enrollCommand(io: CommandIO = { stdout: process.stdout, stderr: process.stderr }): Command {
  const cmd = new Command("enroll")
    .description("enrol users for verification (predict --claim, POST /verify) without retraining anyone else")
    .argument("<file>", "keystroke CSV with at least 3 samples per user (any layout)");
  return addOptions(cmd, ENROLL_OPTIONS)
    .addHelpText("after", helpEpilog(ENROLL_EXAMPLES))
    .action(async (file: string, opts: EnrollFlags) => {
      const output = resolveOutput(opts, ["table", "json"]);
      const verify = await import("../verify/index.js");
      if (opts.detector !== undefined && !verify.isDetectorName(opts.detector)) {
        throw new KeystrokeError("BAD_FLAG", `unknown detector "${opts.detector}" (detectors: ${verify.DETECTORS.join(", ")})`, { flag: "--detector" });
      }
      if (opts.user !== undefined && opts.user.trim() === "") throw new KeystrokeError("BAD_FLAG", "empty user id", { flag: "--user" });
      const { readDataset, parseLabel } = await import("../data/index.js");
      const { timingsNames } = await import("../features/index.js");
      const ds = await readDataset(file);
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
      }));
      const summary = { store: dir, created: index === null, users: Object.keys(after.users).length, enrolled };
      if (output === "json") {
        const { wireJson } = await import("../ui/json.js");
        io.stdout.write(JSON.stringify(wireJson(summary), null, 2) + "\n");
      } else {
        for (const e of enrolled) {
          io.stdout.write(`${e.replaced ? "updated" : "enrolled"} ${String(e.UserID)}: ${e.samples} samples, threshold ${e.threshold.toFixed(3)} (${e.detector})\n`);
        }
      }
      if (!opts.quiet) io.stderr.write(`${index === null ? "created" : "updated"} verification store ${dir}: ${summary.users} user(s)\n`);
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
