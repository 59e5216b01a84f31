import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { BIN, ROOT } from "../helpers/cli.js";
import { helpExamples, readmeExamples, stripComment, type Example } from "./examples.js";

// Documentation cannot drift from behaviour: every command line of the README's ```sh blocks and every
// example at the end of a `--help` runs here against the built binary, in a temp dir holding the
// fixtures under the names the examples use, and must exit 0. Examples are discovered, not listed, so
// an example added anywhere is run without touching this file. What is changed before running, and why:
//   - `npx keystroke-id` runs the built binary (a `keystroke-id` on PATH) rather than asking npx;
//   - `serve` examples run until they print that they listen, then get SIGTERM (and must exit 0), with
//     `--port N` replaced by `--port 0` so parallel test files cannot collide on a port.
// The few that cannot run here, and why:
const NOT_RUN: ReadonlyArray<{ pattern: RegExp; why: string }> = [
  { pattern: /^npm test$/, why: "it is the suite this test is part of (CI runs it: .ci/run)" },
  {
    pattern: /^npm (install|ci)\b(?!.*&&)/,
    why: "installing is CI's first step; the test runs in the installed tree",
  },
  {
    pattern: /^npm run bench/,
    why: "benchmarks take minutes and need the shared data and the Python reference",
  },
];

/** Files the examples name, made from the fixtures. */
const FILES: Record<string, string> = {
  "data.csv": "fixtures/wide-train.csv",
  "test.csv": "fixtures/wide-test.csv",
  "unlabelled.csv": "fixtures/wide-unlabelled.csv",
  "input.json": "fixtures/request-xgb.json",
  "sample.json": "fixtures/request-timings.json",
  "requests.ndjson": "fixtures/requests.ndjson",
};

let work: string;
let pathDir: string;

function shell(
  command: string,
  timeoutMs = 240_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn("bash", ["-o", "pipefail", "-c", command], {
      cwd: work,
      env: {
        ...process.env,
        PATH: `${pathDir}:${process.env.PATH}`,
        FORCE_COLOR: "0",
        NO_COLOR: "1",
        CI: "1",
        KEYSTROKE_ID_TOKEN: "",
      },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

/** Runs a `serve` example until it listens, then stops it with SIGTERM; resolves with its exit code and stderr. */
function serveExample(command: string): Promise<{ code: number | null; stderr: string; listened: boolean }> {
  return new Promise((done) => {
    const child = spawn("bash", ["-c", command.replace(/--port\s+\d+/, "--port 0")], {
      cwd: work,
      env: {
        ...process.env,
        PATH: `${pathDir}:${process.env.PATH}`,
        FORCE_COLOR: "0",
        NO_COLOR: "1",
        CI: "1",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    let listened = false;
    child.stderr.on("data", (d) => {
      stderr += d;
      // our own line comes after the signal handlers are in place (fastify's "Server listening" before them)
      if (!listened && /keystroke-id listening on http/.test(stderr)) {
        listened = true;
        // the handlers go in right after that line; on a loaded machine give the process a moment to get there
        setTimeout(() => child.kill("SIGTERM"), 500);
      }
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      done({ code, stderr, listened });
    });
  });
}

function helpTexts(): Example[] {
  const out: Example[] = [];
  for (const args of [
    [],
    ["features"],
    ["train"],
    ["evaluate"],
    ["predict"],
    ["serve"],
    ["enroll"],
    ["users"],
  ]) {
    const r = spawnSync(process.execPath, [BIN, ...args, "--help"], {
      encoding: "utf8",
      env: { ...process.env, NO_COLOR: "1" },
    });
    out.push(...helpExamples(r.stdout, `keystroke-id ${[...args, "--help"].join(" ")}`));
  }
  return out;
}

const examples = [...readmeExamples(), ...helpTexts()];
const skipped = (e: Example) => NOT_RUN.find((n) => n.pattern.test(e.command));
// `train` examples first: the rest read the models they write
// the same command documented twice (README and --help) runs once
const normal = (c: string) => c.replace(/^npm install && /, "").replace(/^npx /, "");
const runnable = examples
  .filter((e, i) => !skipped(e) && examples.findIndex((x) => normal(x.command) === normal(e.command)) === i)
  .sort(
    (a, b) =>
      Number(!/keystroke-id train\b/.test(a.command)) - Number(!/keystroke-id train\b/.test(b.command)),
  );

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "kid-docs-"));
  pathDir = join(work, ".bin");
  mkdirSync(pathDir);
  const shim = join(pathDir, "keystroke-id");
  writeFileSync(shim, `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`);
  chmodSync(shim, 0o755);
  // `npx keystroke-id` → the same built binary
  writeFileSync(
    join(pathDir, "npx"),
    `#!/bin/sh\nif [ "$1" = keystroke-id ]; then shift; exec "${shim}" "$@"; fi\necho "docs test: unexpected npx $*" >&2; exit 127\n`,
  );
  chmodSync(join(pathDir, "npx"), 0o755);
  cpSync(resolve(ROOT, "fixtures"), join(work, "fixtures"), { recursive: true });
  for (const [name, from] of Object.entries(FILES)) copyFileSync(resolve(ROOT, from), join(work, name));
  // a new user's own samples: one typist of the training fixture, without the label column
  const [head, ...rows] = readFileSync(resolve(ROOT, "fixtures/wide-train.csv"), "utf8").trim().split("\n");
  const label = head!.split(",").indexOf("UserID");
  const drop = (line: string) =>
    line
      .split(",")
      .filter((_, i) => i !== label)
      .join(",");
  writeFileSync(
    join(work, "new-user.csv"),
    [drop(head!), ...rows.filter((r) => r.split(",")[label] === "101").map(drop)].join("\n") + "\n",
  );
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("documented examples", () => {
  it("finds the README's sh blocks and every command's help examples", () => {
    expect(
      examples.some(
        (e) =>
          e.source.startsWith("README.md") && e.command.startsWith("npm install && npx keystroke-id train"),
      ),
    ).toBe(true);
    for (const cmd of ["features", "train", "evaluate", "predict", "serve", "enroll"]) {
      expect(examples.filter((e) => e.source === `keystroke-id ${cmd} --help`).length, cmd).toBeGreaterThan(
        0,
      );
    }
    // the allow-list stays small: everything else runs
    expect(examples.filter(skipped).map((e) => e.command)).toEqual(expect.arrayContaining(["npm test"]));
    expect(examples.filter(skipped).length).toBeLessThanOrEqual(3);
  });

  it("strips comments but not a # inside quotes", () => {
    expect(stripComment("keystroke-id train data.csv   # all models")).toBe("keystroke-id train data.csv   ");
    expect(stripComment(`echo '{"a":"#"}' | keystroke-id predict`)).toBe(
      `echo '{"a":"#"}' | keystroke-id predict`,
    );
  });

  for (const e of runnable) {
    it(`${e.source}: ${e.command}`, { timeout: 300_000 }, async () => {
      // the README's first line installs and trains; the install is CI's (npm ci), the rest runs here
      const command = e.command.replace(/^npm install && /, "");
      if (/(^|\s)keystroke-id serve\b/.test(command)) {
        const r = await serveExample(command);
        expect(r.listened, r.stderr).toBe(true);
        expect(r.code, r.stderr).toBe(0);
        return;
      }
      const r = await shell(command);
      expect(r.code, `${command}\n${r.stderr}`).toBe(0);
      expect(r.stderr).not.toMatch(/EPIPE|\n\s+at /);
    });
  }
});
