import { Command } from "commander";
import { KeystrokeError } from "../errors.js";

/** `keystroke-id evaluate` (placeholder until its issue lands). */
export function evaluateCommand(): Command {
  return new Command("evaluate").description("(not yet implemented)").action(() => {
    throw new KeystrokeError("BAD_FLAG", "evaluate is not implemented yet");
  });
}
