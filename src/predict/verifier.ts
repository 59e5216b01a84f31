import type { Manifest } from "../models/store.js";
import type { Verifier } from "./answer.js";

/**
 * Loads the verification templates of a models dir, or null when it has none. The verify module loads
 * lazily so that identification alone never pays for it.
 */
export async function loadVerifier(modelsDir: string, manifest?: Manifest | null): Promise<Verifier | null> {
  const verify = await import("../verify/index.js");
  // with the manifest the models came from, templates come from the same commit even if another one lands meanwhile
  const options = manifest === undefined ? {} : { manifest };
  if (!(await verify.readVerificationIndex(modelsDir, options))) return null;
  return verify.loadTemplates(modelsDir, options);
}

/** Like loadVerifier, but a models dir without templates is an error (NO_MODELS) naming what to run. */
export async function requireVerifier(modelsDir: string): Promise<Verifier> {
  const verify = await import("../verify/index.js");
  return verify.loadTemplates(modelsDir);
}
