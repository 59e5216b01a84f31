import { expect } from "vitest";
import { KeystrokeError } from "../../src/errors.js";

/**
 * The KeystrokeError that `work` throws or rejects with (a promise, or a function called here, sync or
 * async); fails the test if it succeeds or throws anything else.
 */
export async function keystrokeFailure(work: Promise<unknown> | (() => unknown)): Promise<KeystrokeError> {
  try {
    await (typeof work === "function" ? work() : work);
  } catch (e) {
    expect(e).toBeInstanceOf(KeystrokeError);
    return e as KeystrokeError;
  }
  throw new Error("expected a KeystrokeError");
}
