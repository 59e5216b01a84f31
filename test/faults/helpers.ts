import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BIN, ROOT, type RunResult } from "../helpers/cli.js";

/** Every file under dir, by relative path, with its bytes (dot files included). */
export function snapshot(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const d of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!d.isFile()) continue;
    const p = join(d.parentPath, d.name);
    out.set(p.slice(dir.length + 1), readFileSync(p));
  }
  return out;
}

/** True when both snapshots hold the same files with the same bytes. */
export function sameFiles(a: Map<string, Buffer>, b: Map<string, Buffer>): boolean {
  return a.size === b.size && [...a].every(([f, bytes]) => b.get(f)?.equals(bytes) === true);
}

/**
 * Spawns the built binary (optionally through a wrapper such as setpriv) and collects its output; a
 * run longer than timeoutMs is killed and reported with code null, so a server that should have refused
 * to start cannot hang the test.
 */
export function runBin(
  args: string[],
  options: { wrap?: string[]; timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<RunResult & { timedOut: boolean }> {
  const [cmd, ...pre] = options.wrap ?? [];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd ?? process.execPath, [...pre, ...(cmd ? [process.execPath] : []), BIN, ...args], {
      cwd: ROOT,
      env: { ...process.env, FORCE_COLOR: "0", NO_COLOR: "1", CI: "1", ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, options.timeoutMs ?? 20_000);
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}

/** A stack trace line in output ("    at fn (file:1:2)"): must never reach a person. */
export const STACK_LINE = /^\s+at\s/m;
