// `keystroke-id serve` as a real child process on a free port, for end-to-end tests.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { BIN, ROOT } from "./cli.js";

export interface Running {
  child: ChildProcessWithoutNullStreams;
  /** The address it printed (`listening on http://…`). */
  url: string;
  /** Everything it has written to stderr so far. */
  stderr: () => string;
  /** Its exit code once it has exited. */
  exit: Promise<number | null>;
}

/**
 * Spawns the built binary's `serve --port 0 …args` and resolves once it says where it listens; rejects with
 * its stderr if it exits first or does not listen within `timeoutMs`.
 */
export function startServe(
  args: string[],
  options: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<Running> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, "serve", "--port", "0", ...args], {
      cwd: ROOT,
      env: { ...process.env, FORCE_COLOR: "0", NO_COLOR: "1", CI: "1", ...options.env },
    });
    let err = "";
    const exit = new Promise<number | null>((r) => child.on("close", (code) => r(code)));
    const timer = setTimeout(
      () => reject(new Error(`serve did not start: ${err}`)),
      options.timeoutMs ?? 60_000,
    );
    child.stderr.on("data", (d) => {
      err += d;
      const m = /listening on (http:\/\/[^\s]+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]!, stderr: () => err, exit });
      }
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}: ${err}`));
    });
  });
}
