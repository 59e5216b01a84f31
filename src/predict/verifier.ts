import type { OpenIdentitiesOptions } from "../identity/open.js";
import type { Verifier } from "./answer.js";

/** A verifier over the identity store, and how to let go of it. */
export interface OpenVerifier {
  verifier: Verifier;
  close(): Promise<void>;
}

/**
 * Opens the identity store (`store`: --store, else KEYSTROKE_ID_STORE, else ./keystroke-id.db) as a Verifier,
 * importing `modelsDir`'s old verification/ directory on first use. The store and its drivers load lazily,
 * so that identification alone never pays for them.
 */
export async function openVerifier(options: OpenIdentitiesOptions = {}): Promise<OpenVerifier> {
  const { openIdentities } = await import("../identity/open.js");
  const opened = await openIdentities(options);
  return { verifier: opened.service, close: () => opened.close() };
}
