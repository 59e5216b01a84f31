import { Command } from "commander";
import { KeystrokeError } from "../errors.js";

/** `keystroke-id serve` (placeholder until its issue lands). */
export function serveCommand(): Command {
  return new Command("serve").description("(not yet implemented)").action(() => {
    throw new KeystrokeError("BAD_FLAG", "serve is not implemented yet");
  });
}
