import { Command, CommanderError } from "commander";
import { createRequire } from "node:module";
import { ExitCodes, isKeystrokeError } from "./errors.js";
import { color, disableColor, say } from "./ui/terminal.js";
import { featuresCommand } from "./commands/features.js";
import { trainCommand } from "./commands/train.js";
import { evaluateCommand } from "./commands/evaluate.js";
import { predictCommand } from "./commands/predict.js";
import { serveCommand } from "./commands/serve.js";
import { enrollCommand } from "./commands/enroll.js";
import { usersCommand } from "./commands/users.js";
import { modelsCommand } from "./commands/models.js";

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
    });
  for (const make of [featuresCommand, trainCommand, evaluateCommand, predictCommand, serveCommand, enrollCommand, usersCommand, modelsCommand]) {
    program.addCommand(make().exitOverride());
  }
  return program;
}

/** Runs the CLI and returns the exit code; the only place that turns errors into messages. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : ExitCodes.OK;
  } catch (e) {
    return reportError(e);
  }
}

/** Prints an error for a person on stderr and returns its exit code. */
export function reportError(e: unknown): number {
  if (e instanceof CommanderError) {
    if (e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help") return ExitCodes.OK;
    // commander already printed its message on stderr
    return e.exitCode === 0 ? ExitCodes.OK : ExitCodes.USAGE;
  }
  const c = color();
  if (isKeystrokeError(e)) {
    say(`${c.red("error:")} ${e.message}`);
    if (e.suggestion) say(`${c.dim("hint:")} ${e.suggestion}`);
    return e.exitCode;
  }
  const err = e instanceof Error ? e : new Error(String(e));
  say(`${c.red("error:")} ${err.message}`);
  if (process.env.KEYSTROKE_ID_DEBUG) say(err.stack ?? "");
  return ExitCodes.FAILURE;
}
