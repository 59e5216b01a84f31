import { Command } from "commander";
import { KeystrokeError } from "../errors.js";
import type { DetectorName } from "../verify/index.js";
import { SkippedRows, invalidRowPolicy } from "./invalid-rows.js";
import {
  addOptions,
  choiceCheck,
  helpEpilog,
  JSON_ALIAS,
  MODELS_DIR,
  ON_INVALID,
  outputOption,
  QUIET,
  resolveOutput,
  SKIP_INVALID,
  STORE,
  TARGET_FAR,
  type OptionSpec,
} from "./options.js";

/** The streams a command talks through; tests pass their own. */
interface CommandIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

interface EnrollFlags {
  user?: string;
  modelsDir: string;
  store?: string;
  mode: string;
  detector?: string;
  filterOutliers?: boolean;
  output?: string;
  json?: boolean;
  force?: boolean;
  targetFar?: string;
  onInvalid?: string;
  skipInvalid?: boolean;
  quiet?: boolean;
}

/** The flags of `enroll`, as data. */
export const ENROLL_OPTIONS: readonly OptionSpec[] = [
  {
    key: "user",
    flags: "--user <id>",
    description: "enrol only this user's samples; unlabelled samples are taken as this user's",
    config: false,
  },
  STORE,
  {
    key: "mode",
    flags: "--mode <mode>",
    description:
      "replace: learn each user from these samples alone; append: add them to the user's stored samples",
    default: "replace",
    check: choiceCheck(["replace", "append"]),
  },
  {
    ...MODELS_DIR,
    description:
      "models directory whose old verification/ templates are imported into the store on first use",
  },
  {
    key: "detector",
    flags: "--detector <name>",
    description:
      "verification detector (default: the store's; for a new store fusion, or manhattan-robust when fewer than 3 users give the population its models)",
  },
  {
    key: "filterOutliers",
    flags: "--filter-outliers",
    description: "drop enrolment samples far from the user's others (with 6 or more samples)",
  },
  {
    key: "force",
    flags: "--force",
    description:
      "enrol even when the samples look inconsistent (two people, different texts); recorded in the template",
    config: false,
  },
  TARGET_FAR,
  ON_INVALID,
  SKIP_INVALID,
  outputOption(["table", "json"]),
  JSON_ALIAS,
  QUIET,
];

export const ENROLL_EXAMPLES = [
  "keystroke-id enroll fixtures/wide-train.csv --store enrolled.db",
  "keystroke-id enroll fixtures/wide-train.csv --user 101 --store enrolled.db --output json",
];

/** `keystroke-id enroll <file>`: enrols (or re-enrols) users in the identity store, one transaction per user, touching nobody else. */
export function enrollCommand(io: CommandIO = { stdout: process.stdout, stderr: process.stderr }): Command {
  const cmd = new Command("enroll")
    .description(
      "enrol users for verification (predict --claim, POST /verify) in the identity store, without retraining anyone",
    )
    .argument("<file>", "keystroke CSV with at least 3 samples per user (any layout)");
  return addOptions(cmd, ENROLL_OPTIONS)
    .addHelpText("after", helpEpilog(ENROLL_EXAMPLES))
    .action(async (file: string, opts: EnrollFlags) => {
      const output = resolveOutput(opts, ["table", "json"]);
      const verify = await import("../verify/index.js");
      if (opts.detector !== undefined && !verify.isDetectorName(opts.detector)) {
        throw new KeystrokeError(
          "BAD_FLAG",
          `unknown detector "${opts.detector}" (detectors: ${verify.DETECTORS.join(", ")})`,
          { flag: "--detector" },
        );
      }
      if (opts.mode !== "replace" && opts.mode !== "append")
        throw new KeystrokeError("BAD_FLAG", `"${opts.mode}" is not a mode (replace or append)`, {
          flag: "--mode",
        });
      const policy =
        opts.targetFar === undefined
          ? undefined
          : verify.parsePolicy(opts.targetFar, { flag: "--target-far" });
      if (opts.user !== undefined && opts.user.trim() === "")
        throw new KeystrokeError("BAD_FLAG", "empty user id", { flag: "--user" });
      const { readDataset, parseLabel } = await import("../data/index.js");
      const { userKey } = await import("../identity/service.js");
      const skippedRows = new SkippedRows(file);
      const user = opts.user === undefined ? undefined : parseLabel(opts.user);
      if (user !== undefined) userKey(user, { flag: "--user" });
      const ds = await readDataset(file, { onInvalid: invalidRowPolicy(opts), onSkip: skippedRows.add });
      if (skippedRows.count > 0) io.stderr.write(skippedRows.report());
      if (!ds.labelled && user === undefined) {
        throw new KeystrokeError(
          "BAD_FLAG",
          `${file} has no UserID column: say whose samples these are`,
          { flag: "--user" },
          { suggestion: `keystroke-id enroll ${file} --user <id>` },
        );
      }
      const { openIdentities } = await import("../identity/open.js");
      const opened = await openIdentities({ store: opts.store, modelsDir: opts.modelsDir });
      try {
        if (opened.legacy?.imported)
          io.stderr.write(`imported ${opened.legacy.imported} user(s) from ${opened.legacy.dir}\n`);
        const detector = opts.detector;
        const enrolled =
          opts.mode === "append"
            ? await appendEach(opened.service, ds.samples, user, detector, policy)
            : (
                await inFile(file, () =>
                  opened.service.enrollSamples(ds.samples, {
                    ...(user !== undefined ? { user } : {}),
                    ...(detector ? { detector } : {}),
                    filterOutliers: Boolean(opts.filterOutliers),
                    onInconsistent: "refuse",
                    force: Boolean(opts.force),
                    ...(policy ? { policy } : {}),
                  }),
                )
              ).enrolled;
        const users = await opened.store.identities.count();
        const summary = { store: opened.store.location, users, enrolled };
        if (output === "json") {
          const { wireJson } = await import("../ui/json.js");
          io.stdout.write(JSON.stringify(wireJson(summary), null, 2) + "\n");
        } else {
          for (const e of enrolled) {
            io.stdout.write(
              `${e.replaced ? "updated" : "enrolled"} ${String(e.UserID)}: ${e.samples} samples, threshold ${e.threshold.toFixed(3)} (${e.detector}, ${e.policy.kind === "eer" ? "eer" : `target FAR ${e.policy.target_far}`})\n`,
            );
          }
        }
        if (!opts.quiet) io.stderr.write(`identity store ${opened.store.location}: ${users} user(s)\n`);
      } finally {
        await opened.close();
      }
    });
}

// --mode append: each user's samples are added to what the store holds, one transaction per user
async function appendEach(
  service: import("../identity/service.js").IdentityService,
  samples: import("../data/types.js").Sample[],
  user: import("../data/types.js").Label | undefined,
  detector: DetectorName | undefined,
  policy: import("../verify/types.js").OperatingPolicy | undefined,
) {
  const { extractTimings } = await import("../features/index.js");
  const groups = new Map<string, { user: import("../data/types.js").Label; vectors: number[][] }>();
  for (const s of samples) {
    const label = user ?? s.label;
    if (
      label === undefined ||
      (user !== undefined && s.label !== undefined && String(s.label) !== String(user))
    )
      continue;
    let g = groups.get(String(label));
    if (!g) groups.set(String(label), (g = { user: label, vectors: [] }));
    g.vectors.push(extractTimings(s));
  }
  if (groups.size === 0)
    throw new KeystrokeError(
      user === undefined ? "TOO_FEW_SAMPLES" : "UNKNOWN_USER",
      user === undefined ? "no samples to enrol" : `no samples of user ${String(user)}`,
      user === undefined ? {} : { flag: "--user" },
    );
  const out = [];
  for (const g of groups.values())
    out.push(
      await service.enroll(g.user, g.vectors, {
        mode: "append",
        ...(detector ? { detector } : {}),
        ...(policy ? { policy } : {}),
      }),
    );
  return out;
}

// "no samples to enrol" and the like are about the input file as a whole: say which file
async function inFile<T>(file: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof KeystrokeError && Object.keys(e.place).length === 0) {
      throw new KeystrokeError(
        e.code,
        e.message,
        { file },
        { cause: e, ...(e.suggestion !== undefined ? { suggestion: e.suggestion } : {}) },
      );
    }
    throw e;
  }
}
