import { spawnSync } from "node:child_process";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Builds dist/ once before the run, so the end-to-end tests spawn the code under test. Type errors do not
 * stop the build (tsc still emits); `npm test` type-checks first with `npm run lint`.
 */
export default function setup(): void {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
  const r = spawnSync(
    process.execPath,
    [resolve(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"],
    {
      cwd: root,
      encoding: "utf8",
    },
  );
  if (r.status !== 0)
    process.stderr.write(
      `tsc reported errors (dist/ was still emitted):\n${r.stdout.split("\n").slice(0, 10).join("\n")}\n`,
    );
}
