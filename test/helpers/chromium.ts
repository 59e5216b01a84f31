// The system Chromium for browser tests: installed when missing (scripts/ensure-chromium.sh), launched
// headless with a throw-away profile. In CI a missing Chromium is an error, elsewhere the tests skip.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium, type BrowserContext } from "playwright-core";
import { ROOT } from "./cli.js";

export const CHROMIUM = "/usr/bin/chromium";

const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-quic",
  "--no-first-run",
  "--disable-sync",
];

/**
 * Installs Debian's chromium when missing; false when that is impossible here (no root, no network).
 * Throws in CI, where the browser tests must run.
 */
export function chromiumAvailable(): boolean {
  try {
    execFileSync("bash", [resolve(ROOT, "scripts/ensure-chromium.sh")], {
      stdio: ["ignore", "ignore", "pipe"],
      timeout: 900_000,
    });
  } catch (e) {
    process.stderr.write(`ensure-chromium failed: ${String((e as { stderr?: Buffer }).stderr ?? e)}\n`);
  }
  const available = existsSync(CHROMIUM);
  if (!available && process.env.CI)
    throw new Error(`${CHROMIUM} is missing in CI: run scripts/ensure-chromium.sh first`);
  return available;
}

/** A headless Chromium with a fresh profile directory; `close` ends it and removes the profile. */
export async function launchChromium(): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), "kid-chromium-"));
  try {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
    });
    return {
      context,
      close: async () => {
        await context.close();
        rmSync(profile, { recursive: true, force: true });
      },
    };
  } catch (e) {
    rmSync(profile, { recursive: true, force: true });
    throw e;
  }
}
