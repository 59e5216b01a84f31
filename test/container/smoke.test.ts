import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../helpers/cli.js";

// No container engine runs here: scripts/container-smoke.mjs checks the Dockerfile against the repository
// and runs the image's ENTRYPOINT + CMD from only the files the runtime stage copies.
function smoke(env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [join(ROOT, "scripts/container-smoke.mjs")], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, ...env },
    timeout: 120_000,
  });
}

describe("the container, as far as it runs without an engine", () => {
  it("the Dockerfile's files exist and its entry command serves, passes its HEALTHCHECK and stops on SIGTERM", () => {
    const r = smoke();
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { ok: boolean; checked: string[] };
    expect(out.ok).toBe(true);
    expect(out.checked.join("\n")).toMatch(/non-root USER node/);
    expect(out.checked.join("\n")).toMatch(/HEALTHCHECK passes/);
    expect(out.checked.join("\n")).toMatch(/SIGTERM: clean exit 0/);
  }, 150_000);

  it("fails, naming the problem, for a root image or a COPY of a file that does not exist", () => {
    const dir = mkdtempSync(join(tmpdir(), "kid-dockerfile-"));
    const good = readFileSync(join(ROOT, "Dockerfile"), "utf8");
    const root = join(dir, "Dockerfile.root");
    writeFileSync(root, good.replace(/^USER node$/m, "USER root"));
    const a = smoke({ CONTAINER_SMOKE_DOCKERFILE: root });
    expect(a.status).toBe(1);
    expect(a.stderr).toMatch(/non-root USER \(got root\)/);
    const missing = join(dir, "Dockerfile.missing");
    writeFileSync(missing, good.replace("COPY bin ./bin", "COPY binaries ./bin"));
    const b = smoke({ CONTAINER_SMOKE_DOCKERFILE: missing });
    expect(b.status).toBe(1);
    expect(b.stderr).toMatch(/COPY binaries: not in the repository/);
  });
});
