import { Command } from "commander";
import { KeystrokeError } from "../errors.js";

/** `keystroke-id enroll` (placeholder until its issue lands). */
export function enrollCommand(): Command {
  return new Command("enroll").description("(not yet implemented)").action(() => {
    throw new KeystrokeError("BAD_FLAG", "enroll is not implemented yet");
  });
}
