import { Command } from "commander";
import { KeystrokeError } from "../errors.js";

/** `keystroke-id predict` (placeholder until its issue lands). */
export function predictCommand(): Command {
  return new Command("predict").description("(not yet implemented)").action(() => {
    throw new KeystrokeError("BAD_FLAG", "predict is not implemented yet");
  });
}
