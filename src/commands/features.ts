import { Command } from "commander";
import { KeystrokeError } from "../errors.js";

/** `keystroke-id features` (placeholder until its issue lands). */
export function featuresCommand(): Command {
  return new Command("features").description("(not yet implemented)").action(() => {
    throw new KeystrokeError("BAD_FLAG", "features is not implemented yet");
  });
}
