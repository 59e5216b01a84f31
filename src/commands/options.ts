import { Command, Option } from "commander";
import { EXIT_CODE_HELP, isKeystrokeError, KeystrokeError } from "../errors.js";
import type { FeatureSetName } from "../features/index.js";
import { ALGORITHMS, type Algorithm } from "../models/types.js";
import { parsePolicy } from "../verify/policy.js";

// Options as data: every flag of every command is one entry of a typed list. The same list builds the
// commander options (and so the help), gives the config file its keys and checks its values with the very
// messages a bad flag gets, and maps the core's option names back to flags for error messages.

/** What a command can print on stdout. */
export type OutputFormat = "table" | "json" | "ndjson" | "csv";

/** One flag of one command. */
export interface OptionSpec {
  /** The option's name: commander's attribute, the config key, and (unless `option` says otherwise) the library option. */
  key: string;
  /** Commander's flag syntax, e.g. `--models-dir <dir>`, `-q, --quiet`, `--no-verification`. */
  flags: string;
  description: string;
  /** The default when neither a flag nor the config file gives a value. */
  default?: string | boolean;
  /** Checks a value (from a flag or the config file); throws BAD_FLAG naming `flag`. */
  check?: (value: string, flag: string) => void;
  /** A deprecated spelling kept working: its value goes to this key, with a note on stderr. */
  aliasOf?: string;
  hidden?: boolean;
  /** The name the core uses for this option in its errors, when it differs from `key` (e.g. `k` for `--cv`). */
  option?: string;
  /** False for options a config file may not set (the input file, a one-off claim). */
  config?: boolean;
}

/** The long flag of a spec: `-o, --out <dir>` → `--out`. */
export function longFlag(spec: Pick<OptionSpec, "flags">): string {
  const m = /--[a-z0-9-]+/i.exec(spec.flags);
  return m ? m[0] : spec.flags;
}

function takesValue(spec: OptionSpec): boolean {
  return /[<[]/.test(spec.flags);
}

// ---------------------------------------------------------------------------------------------------
// value checks shared by the commands: each reports a bad value once, naming the flag

/** `svm,rf` → ["SVM","RF"] (any case, de-duplicated, in the canonical order). */
export function parseAlgorithms(value: string, flag = "--model"): Algorithm[] {
  const wanted = value
    .split(",")
    .map((s) => s.trim().toUpperCase())
    .filter(Boolean);
  for (const w of wanted) {
    if (!ALGORITHMS.includes(w as Algorithm))
      throw new KeystrokeError(
        "BAD_FLAG",
        `unknown model "${w}" (choose from ${ALGORITHMS.join(", ")}, comma-separated)`,
        { flag },
      );
  }
  if (wanted.length === 0) throw new KeystrokeError("BAD_FLAG", "names no model", { flag });
  return ALGORITHMS.filter((a) => wanted.includes(a));
}

/** `timings|summary|both` → the feature sets to use. */
export function parseFeatureSets(value: string, flag = "--features"): FeatureSetName[] {
  switch (value.trim().toLowerCase()) {
    case "both":
      return ["timings", "summary"];
    case "timings":
      return ["timings"];
    case "summary":
      return ["summary"];
    default:
      throw new KeystrokeError("BAD_FLAG", `"${value}" is not a feature set (timings, summary or both)`, {
        flag,
      });
  }
}

/** A number in [min, max], with the flag named when it is not one. */
export function parseNumber(
  value: string,
  flag: string,
  range: { min?: number; max?: number; integer?: boolean } = {},
): number {
  const n = Number(value);
  const { min = -Infinity, max = Infinity, integer = false } = range;
  if (value.trim() === "" || !Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min || n > max) {
    const kind = integer ? "an integer" : "a number";
    const bounds =
      min > -Infinity && max < Infinity ? ` from ${min} to ${max}` : min > -Infinity ? ` ≥ ${min}` : "";
    throw new KeystrokeError("BAD_FLAG", `"${value}" is not ${kind}${bounds}`, { flag });
  }
  return n;
}

const DURATION_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `90m`, `12h`, `30d`, `500ms` (a bare number is ms) → ms; BAD_FLAG naming the flag otherwise. */
export function parseDuration(value: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(value.trim());
  const ms = m ? Number(m[1]) * DURATION_MS[(m[2] ?? "ms") as keyof typeof DURATION_MS] : NaN;
  if (!m || !(ms >= 1) || ms > 100 * 365 * DURATION_MS.d)
    throw new KeystrokeError("BAD_FLAG", `"${value}" is not a duration (e.g. 30d, 12h, 90m, 45s, 500ms)`, {
      flag,
    });
  return Math.round(ms);
}

/** One of a fixed list of words (any case). */
export function parseChoice<T extends string>(
  value: string,
  allowed: readonly T[],
  flag: string,
  what = "one of",
): T {
  const v = value.trim().toLowerCase() as T;
  if (!allowed.includes(v))
    throw new KeystrokeError("BAD_FLAG", `"${value}" is not ${what} ${allowed.join(", ")}`, { flag });
  return v;
}

/** A check built from a range, for the specs. */
export const numberCheck =
  (range: { min?: number; max?: number; integer?: boolean }) =>
  (value: string, flag: string): void =>
    void parseNumber(value, flag, range);

/** A check built from a list of words, for the specs. */
export const choiceCheck =
  (allowed: readonly string[]) =>
  (value: string, flag: string): void =>
    void parseChoice(value, allowed, flag);

// ---------------------------------------------------------------------------------------------------
// the options several commands share: one name per concept

/** The models directory: written by train, read by every other command. One flag everywhere. */
export const MODELS_DIR: OptionSpec = {
  key: "modelsDir",
  flags: "--models-dir <dir>",
  description: "the models directory (train writes it; the other commands read it)",
  default: "models",
};
export const QUIET: OptionSpec = {
  key: "quiet",
  flags: "-q, --quiet",
  description: "no progress or notes on stderr (warnings and errors still)",
};
/** `--on-invalid error|skip` on every command that reads data; `--skip-invalid` is its hidden, older spelling (src/commands/invalid-rows.ts). */
export const ON_INVALID: OptionSpec = {
  key: "onInvalid",
  flags: "--on-invalid <policy>",
  description:
    "invalid rows: error (stop, naming file, line and column) or skip (drop them, reported on stderr)",
  check: choiceCheck(["error", "skip"]),
};
export const SKIP_INVALID: OptionSpec = {
  key: "skipInvalid",
  flags: "--skip-invalid",
  description: "deprecated: the same as --on-invalid skip",
  hidden: true,
};
/** The identity store: one flag on every command that touches enrolled users. */
export const STORE: OptionSpec = {
  key: "store",
  flags: "--store <path|url>",
  description:
    "identity store: a SQLite file, sqlite:PATH or postgres://… shared by several instances (default: KEYSTROKE_ID_STORE, else ./keystroke-id.db)",
};
/** The store-wide operating point of verification (enroll, train, serve). */
export const TARGET_FAR: OptionSpec = {
  key: "targetFar",
  flags: "--target-far <rate>",
  description:
    "store-wide operating point: each user's threshold accepts at most this share of background impostors (e.g. 0.01); eer: each user's equal-error point (the default until set)",
  check: (v, f) => void parsePolicy(v, { flag: f }),
  option: "policy",
};
/** Template adaptation (serve, predict --claim): opt-in, with its margin and window. */
export const ADAPT_OPTIONS: readonly OptionSpec[] = [
  {
    key: "adapt",
    flags: "--adapt",
    description:
      "template adaptation: an accepted sample scoring at least --adapt-margin under the threshold updates the user's template (never a replay or scripted input); audited",
  },
  {
    key: "adaptMargin",
    flags: "--adapt-margin <m>",
    description: "with --adapt: how far under the threshold (anomaly scale) a sample must score to adapt",
    default: "0.1",
    check: numberCheck({ min: 0, max: 1 }),
  },
  {
    key: "adaptWindow",
    flags: "--adapt-window <n>",
    description: "with --adapt: accepted samples kept beside the enrolment samples (the last n)",
    default: "10",
    check: numberCheck({ integer: true, min: 1, max: 1000 }),
  },
];

/** The adaptation settings of `--adapt` (false without it), from the flags. */
export function adaptationFrom(o: {
  adapt?: boolean;
  adaptMargin?: string;
  adaptWindow?: string;
}): { window: number; margin: number } | false {
  if (!o.adapt) return false;
  return {
    margin: parseNumber(o.adaptMargin ?? "0.1", "--adapt-margin", { min: 0, max: 1 }),
    window: parseNumber(o.adaptWindow ?? "10", "--adapt-window", { integer: true, min: 1, max: 1000 }),
  };
}

/** A kept model version instead of the active one. */
export const MODEL_VERSION: OptionSpec = {
  key: "modelVersion",
  flags: "--model-version <id>",
  description: "a kept model version (keystroke-id models list) instead of the active one",
  config: false,
};
export const SEED: OptionSpec = {
  key: "seed",
  flags: "--seed <n>",
  description: "seed for every random choice (same data + seed → identical results)",
  default: "42",
  check: numberCheck({ integer: true, min: 0, max: 2 ** 32 - 1 }),
};
export const FEATURES: OptionSpec = {
  key: "features",
  flags: "--features <set>",
  description: "feature sets: timings, summary or both",
  default: "both",
  check: (v, f) => void parseFeatureSets(v, f),
  option: "featureSets",
};
export const JSON_ALIAS: OptionSpec = {
  key: "json",
  flags: "--json",
  description: "same as --output json",
  config: false,
};

/** `--output <format>` for a command that can print these formats. */
export function outputOption(
  formats: readonly OutputFormat[],
  note = "default: table at a terminal, json when piped",
): OptionSpec {
  return {
    key: "output",
    flags: "--output <format>",
    description: `what stdout gets: ${formats.join(", ")} (${note})`,
    check: choiceCheck(formats),
  };
}

/** The output format: the flag (or config), else `--json`, else a table for a person and `piped` for a program. */
export function resolveOutput(
  o: { output?: string; json?: boolean },
  formats: readonly OutputFormat[],
  piped: OutputFormat = "json",
  stdout: { isTTY?: boolean } = process.stdout,
): OutputFormat {
  if (o.output !== undefined) return parseChoice<OutputFormat>(o.output, formats, "--output");
  if (o.json === true) return "json";
  return stdout.isTTY && formats.includes("table") ? "table" : piped;
}

// ---------------------------------------------------------------------------------------------------
// the config file

/** The config file, once loaded: where it was found and its values (checked). */
export interface LoadedConfig {
  file: string;
  values: Record<string, unknown>;
}

let config: LoadedConfig | null = null;
const registry = new Map<string, readonly OptionSpec[]>();

/** Records a command's options, so the config file can be checked against every command. */
export function registerOptions(command: string, specs: readonly OptionSpec[]): void {
  registry.set(command, specs);
}

/** The config values in effect (for tests: set null to forget them). */
export function setConfig(c: LoadedConfig | null): void {
  config = c;
}

/** The config value for one option of one command: the command's section wins over the top level. */
function configValue(command: string, key: string): unknown {
  if (!config) return undefined;
  const section = config.values[command];
  if (section !== null && typeof section === "object" && !Array.isArray(section) && key in section)
    return (section as Record<string, unknown>)[key];
  return config.values[key];
}

/**
 * Checks a config object against every registered command's options: unknown keys, wrong types and bad
 * values are BAD_FLAG errors naming the file and the key, with the message the flag would get.
 */
export function checkConfig(file: string, values: unknown): LoadedConfig {
  if (values === null || typeof values !== "object" || Array.isArray(values))
    throw new KeystrokeError("BAD_FLAG", "the config must be a JSON object of option names and values", {
      file,
    });
  const allKeys = new Map<string, OptionSpec>();
  for (const specs of registry.values())
    for (const s of specs) if (s.config !== false && !s.aliasOf) allKeys.set(s.key, s);
  const checkOne = (spec: OptionSpec | undefined, field: string, value: unknown): void => {
    if (!spec)
      throw new KeystrokeError(
        "BAD_FLAG",
        `unknown option (options: ${[...allKeys.keys()].sort().join(", ")})`,
        { file, field },
      );
    if (!takesValue(spec)) {
      if (typeof value !== "boolean")
        throw new KeystrokeError("BAD_FLAG", `must be true or false (like the flag ${longFlag(spec)})`, {
          file,
          field,
        });
      return;
    }
    if (typeof value !== "string" && typeof value !== "number")
      throw new KeystrokeError("BAD_FLAG", `must be a string or a number (the value of ${longFlag(spec)})`, {
        file,
        field,
      });
    try {
      spec.check?.(String(value), longFlag(spec));
    } catch (e) {
      if (isKeystrokeError(e)) throw new KeystrokeError(e.code, e.detail, { file, field }, { cause: e });
      throw e;
    }
  };
  for (const [k, v] of Object.entries(values as Record<string, unknown>)) {
    const commandSpecs = registry.get(k);
    if (commandSpecs && v !== null && typeof v === "object" && !Array.isArray(v)) {
      for (const [ck, cv] of Object.entries(v as Record<string, unknown>)) {
        checkOne(
          commandSpecs.find((s) => s.key === ck && s.config !== false && !s.aliasOf),
          `${k}.${ck}`,
          cv,
        );
      }
    } else checkOne(allKeys.get(k), k, v);
  }
  return { file, values: values as Record<string, unknown> };
}

/** Finds and checks `keystroke-id.config.json` (or the `keystroke-id` key of package.json) from `cwd` up; null when there is none. */
export async function loadConfig(cwd = process.cwd()): Promise<LoadedConfig | null> {
  const { lilconfig } = await import("lilconfig");
  let found: { filepath: string; config: unknown; isEmpty?: boolean } | null;
  try {
    found = await lilconfig("keystroke-id", {
      searchPlaces: ["keystroke-id.config.json", "package.json"],
    }).search(cwd);
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
    // lilconfig passes on JSON.parse's message without the file; find it again to name it
    const file = await firstConfigFile(cwd);
    throw new KeystrokeError("BAD_FLAG", `is not valid JSON: ${e.message}`, file ? { file } : {}, {
      cause: e,
    });
  }
  if (!found || found.isEmpty) return null;
  return checkConfig(found.filepath, found.config);
}

/** The nearest keystroke-id.config.json or package.json from `cwd` up (the file lilconfig would read first). */
async function firstConfigFile(cwd: string): Promise<string | undefined> {
  const fs = await import("node:fs");
  const path = await import("node:path");
  for (let dir = cwd; ; dir = path.dirname(dir)) {
    for (const name of ["keystroke-id.config.json", "package.json"])
      if (fs.existsSync(path.join(dir, name))) return path.join(dir, name);
    if (path.dirname(dir) === dir) return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------
// building commands from the specs

/** Adds every spec to a commander command, with defaults from the config file, and registers them. */
export function addOptions(cmd: Command, specs: readonly OptionSpec[]): Command {
  registerOptions(cmd.name(), specs);
  for (const spec of specs) {
    const opt = new Option(
      spec.flags,
      spec.aliasOf
        ? `deprecated: use ${longFlag(specs.find((s) => s.key === spec.aliasOf) ?? spec)}`
        : spec.description,
    );
    const fromConfig = spec.config === false || spec.aliasOf ? undefined : configValue(cmd.name(), spec.key);
    const def =
      fromConfig !== undefined
        ? typeof fromConfig === "boolean" || typeof fromConfig === "string"
          ? fromConfig
          : JSON.stringify(fromConfig)
        : spec.default;
    if (def !== undefined && !(spec.flags.includes("--no-") && def === true)) opt.default(def);
    if (spec.hidden || spec.aliasOf) opt.hideHelp();
    cmd.addOption(opt);
  }
  cmd.hook("preAction", (_root, action) => resolveAliases(action, specs));
  return cmd;
}

/** Copies deprecated spellings to their option, with a note on stderr; an explicit new flag wins. */
function resolveAliases(cmd: Command, specs: readonly OptionSpec[]): void {
  for (const spec of specs) {
    if (!spec.aliasOf) continue;
    const v = cmd.getOptionValue(spec.key) as unknown;
    if (v === undefined) continue;
    const target = specs.find((s) => s.key === spec.aliasOf)!;
    process.stderr.write(`warning: ${longFlag(spec)} is deprecated; use ${longFlag(target)}\n`);
    if (cmd.getOptionValueSource(target.key) !== "cli") cmd.setOptionValueWithSource(target.key, v, "cli");
  }
}

/** The flag of a core option name (`modelsDir` → `--models-dir`), over every registered command. */
export function flagForOption(option: string, command?: string): string | undefined {
  const lists =
    command && registry.has(command)
      ? [registry.get(command)!, ...registry.values()]
      : [...registry.values()];
  for (const specs of lists) {
    const s = specs.find((x) => (x.option ?? x.key) === option);
    if (!s) continue;
    // a core option that kept an old name (train's `out`) is reported under today's flag
    const target = s.aliasOf ? specs.find((x) => x.key === s.aliasOf) : s;
    return longFlag(target ?? s);
  }
  return undefined;
}

/** The end of every command's help: examples (each run by test/docs-examples.test.ts) and the exit codes. */
export function helpEpilog(examples: readonly string[], notes = ""): string {
  const codes = EXIT_CODE_HELP.map(([c, what]) => `  ${String(c).padEnd(4)}${what}`).join("\n");
  return `${notes ? `\n${notes}\n` : ""}
Examples:
${examples.map((e) => `  $ ${e}`).join("\n")}

Exit codes:
${codes}`;
}
