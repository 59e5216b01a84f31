import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { buildProgram, reportError } from "../../src/cli.js";
import { syntheticCsv } from "../server/trained.js";
import { sameFiles, snapshot, STACK_LINE } from "./helpers.js";

// The full-disk test without a tmpfs (no root, no mount): writes of data under `full.dir` fail with
// ENOSPC, as a full file system's do, while creating files still works. storage-errors.test.ts runs the
// same scenario on a real full tmpfs where it may mount one.
const full = { dir: "", on: false };
const enospc = () =>
  Object.assign(new Error("ENOSPC: no space left on device, write"), {
    code: "ENOSPC",
    errno: -28,
    syscall: "write",
  });

vi.mock("node:fs/promises", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:fs/promises")>();
  const onFullDisk = (path: unknown) => full.on && typeof path === "string" && path.startsWith(full.dir);
  const open = async (path: Parameters<typeof real.open>[0], flags?: string | number, mode?: number) => {
    const handle = await real.open(path, flags, mode);
    if (onFullDisk(path) && typeof flags === "string" && /[wa+]/.test(flags)) {
      const fail = async () => {
        throw enospc();
      };
      Object.assign(handle, { writeFile: fail, write: fail, writev: fail, appendFile: fail });
    }
    return handle;
  };
  const writeFile = async (path: Parameters<typeof real.writeFile>[0], ...rest: unknown[]) => {
    if (onFullDisk(path)) throw enospc();
    return (real.writeFile as (...a: unknown[]) => Promise<void>)(path, ...rest);
  };
  const mocked = { ...real, open, writeFile };
  return { ...mocked, default: mocked };
});

let root: string;
let csv: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "kid-enospc-"));
  csv = join(root, "train.csv");
  writeFileSync(csv, syntheticCsv(4, 10, 3));
  full.dir = join(root, "full");
  mkdirSync(full.dir);
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

async function run(argv: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = "";
  const out = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
  const err = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  try {
    await buildProgram().parseAsync(["node", "keystroke-id", ...argv]);
    return { code: typeof process.exitCode === "number" ? process.exitCode : 0, stderr };
  } catch (e) {
    return { code: reportError(e), stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
    process.exitCode = undefined;
  }
}

describe("a full disk (simulated ENOSPC, in-process)", () => {
  it("train, features and evaluate --report name the file and the full disk, and change nothing", async () => {
    console.log(
      "full disk: simulated with a mocked node:fs/promises (ENOSPC on every data write under the dir)",
    );
    const models = join(full.dir, "models");
    const ok = await run([
      "train",
      csv,
      "--model",
      "rf",
      "--models-dir",
      models,
      "--holdout",
      "0",
      "--workers",
      "0",
      "--json",
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    writeFileSync(join(full.dir, "features.csv"), "previous\n");
    const cases = [
      {
        args: [
          "train",
          csv,
          "--model",
          "rf",
          "--models-dir",
          models,
          "--seed",
          "5",
          "--holdout",
          "0",
          "--workers",
          "0",
          "--json",
        ],
        file: models,
      },
      { args: ["features", csv, "-o", join(full.dir, "features.csv")], file: join(full.dir, "features.csv") },
      {
        args: [
          "evaluate",
          csv,
          "--models-dir",
          models,
          "--model",
          "rf",
          "--report",
          join(full.dir, "report.html"),
        ],
        file: join(full.dir, "report.html"),
      },
      // enroll writes to the identity store (SQLite does not write through node:fs, so it cannot be simulated here)
    ];
    full.on = true;
    try {
      for (const c of cases) {
        const before = snapshot(full.dir);
        const r = await run(c.args);
        expect(r.code, `${c.args[0]}: ${r.stderr}`).not.toBe(0);
        expect(r.stderr).toContain(c.file);
        expect(r.stderr).toMatch(/cannot be (written|created): no space left on device \(ENOSPC\)/);
        expect(r.stderr).not.toMatch(STACK_LINE);
        expect(sameFiles(snapshot(full.dir), before), `${c.args[0]} changed the directory`).toBe(true);
      }
    } finally {
      full.on = false;
    }
  });
});
