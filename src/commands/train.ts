import { Command } from "commander";
import { KeystrokeError } from "../errors.js";

/** `keystroke-id train` (placeholder until its issue lands). */
export function trainCommand(): Command {
  return new Command("train").description("(not yet implemented)").action(() => {
    throw new KeystrokeError("BAD_FLAG", "train is not implemented yet");
  });
}
