import { Command, CommanderError } from "commander";
import { createRequire } from "node:module";
import { ExitCodes, isKeystrokeError, withPlace } from "./errors.js";
import { color, disableColor, say } from "./ui/terminal.js";
import { featuresCommand } from "./commands/features.js";
import { trainCommand } from "./commands/train.js";
import { evaluateCommand } from "./commands/evaluate.js";
import { predictCommand } from "./commands/predict.js";
import { serveCommand } from "./commands/serve.js";
import { enrollCommand } from "./commands/enroll.js";
import { usersCommand } from "./commands/users.js";
import { modelsCommand } from "./commands/models.js";
import { flagForOption, helpEpilog, loadConfig, setConfig } from "./commands/options.js";

const pkg = createRequire(import.meta.url)("../package.json") as { version: string };

/** The commander program: one thin command per file, all of them calling the core. */
export function buildProgram(): Command {
  const program = new Command("keystroke-id")
    .description("Tell who is typing from how they type (keystroke dynamics).")
    .version(pkg.version, "-V, --version", "print the version")
    .option("--no-color", "no colour in output (NO_COLOR is honoured too)")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .hook("preAction", (cmd) => {
      if (cmd.opts().color === false) disableColor();
    })
    .addHelpText(
      "after",
      helpEpilog(
        [
          "keystroke-id train fixtures/wide-train.csv",
          "keystroke-id predict --model RF --json fixtures/request-rf.json",
        ],
        'Defaults for any flag can come from keystroke-id.config.json (or the "keystroke-id" key of package.json),\ne.g. {"modelsDir": "models", "predict": {"top": 5}}; a flag beats the file.',
      ),
    );
  for (const make of [
    featuresCommand,
    trainCommand,
    evaluateCommand,
    predictCommand,
    serveCommand,
    enrollCommand,
    usersCommand,
    modelsCommand,
  ]) {
    program.addCommand(exitOverrideAll(make()));
  }
  return program;
}

/** Commander errors are thrown, not exited on, down to every subcommand (`users show` without an id too). */
function exitOverrideAll(cmd: Command): Command {
  cmd.exitOverride();
  for (const sub of cmd.commands) exitOverrideAll(sub);
  return cmd;
}

let running: string | undefined;

/** Runs the CLI and returns the exit code; the only place that turns errors into messages. */
export async function main(argv: string[]): Promise<number> {
  quietOnClosedStdout();
  try {
    // building the program registers every command's options, against which the config file is checked;
    // then it is built again with the config's defaults in place
    setConfig(null);
    buildProgram();
    setConfig(await loadConfig());
    const program = buildProgram();
    program.hook("preAction", (_root, action) => {
      running = action.name();
    });
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : ExitCodes.OK;
  } catch (e) {
    return reportError(e);
  }
}

/**
 * A reader that goes away (`predict --csv big.csv | head -1`) has taken what it wanted: stop quietly with
 * exit 0 instead of an EPIPE stack trace. Only the bin does this; the core never exits.
 */
function quietOnClosedStdout(): void {
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE" || e.code === "ERR_STREAM_DESTROYED") process.exit(ExitCodes.OK);
    throw e;
  });
}

/** Prints an error for a person on stderr and returns its exit code. */
export function reportError(e: unknown): number {
  if (e instanceof CommanderError) {
    if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help")
      return ExitCodes.OK;
    // commander already printed its message on stderr
    return e.exitCode === 0 ? ExitCodes.OK : ExitCodes.USAGE;
  }
  const c = color();
  if (isKeystrokeError(e)) {
    // the core names its options (modelsDir); a person typed flags (--models-dir)
    const flag =
      e.place.option !== undefined && e.place.flag === undefined
        ? flagForOption(e.place.option, running)
        : undefined;
    const message =
      flag !== undefined ? withPlace(e.detail, { ...e.place, option: undefined, flag }) : e.message;
    say(`${c.red("error:")} ${message} ${c.dim(`[${e.code}]`)}`);
    if (e.suggestion) say(`${c.dim("hint:")} ${e.suggestion}`);
    return e.exitCode;
  }
  const err = e instanceof Error ? e : new Error(String(e));
  say(`${c.red("error:")} ${err.message}`);
  if (process.env.KEYSTROKE_ID_DEBUG) say(err.stack ?? "");
  return ExitCodes.FAILURE;
}
