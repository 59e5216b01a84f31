import { spawn } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  watch,
  writeFileSync,
  type FSWatcher,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, ROOT, runCli } from "../helpers/cli.js";

// kill -9 during `train` into a dir that already holds a trained set: afterwards `predict` must work and
// the manifest must be the old one byte for byte, or a complete new one (the one an uninterrupted run writes).
const TRAIN = join(ROOT, "fixtures", "wide-train.csv");
const REQUEST = join(ROOT, "fixtures", "request-timings.json");
const ARGS = ["--model", "rf", "--holdout", "0", "--workers", "0", "--json"];

let root: string;
let base: string;
let retrainCsv: string;
let oldManifest: Buffer;
let newModelFiles: string[];

/** Every file under dir (relative paths). */
function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name).slice(dir.length + 1))
    .sort();
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "kid-kill-"));
  // the retrain reads different rows, so its models and most templates differ from the previous set's
  const lines = readFileSync(TRAIN, "utf8").trimEnd().split("\n");
  retrainCsv = join(root, "retrain.csv");
  writeFileSync(retrainCsv, [lines[0], ...lines.slice(1).filter((_, i) => i % 2 === 0)].join("\n") + "\n");
  base = join(root, "base");
  const a = await runCli(["train", TRAIN, "--models-dir", base, "--seed", "1", ...ARGS]);
  expect(a.code, a.stderr).toBe(0);
  oldManifest = readFileSync(join(base, "manifest.json"));
  const ref = join(root, "reference");
  cpSync(base, ref, { recursive: true });
  const b = await runCli(["train", retrainCsv, "--models-dir", ref, "--seed", "2", ...ARGS]);
  expect(b.code, b.stderr).toBe(0);
  const refManifest = JSON.parse(readFileSync(join(ref, "manifest.json"), "utf8"));
  newModelFiles = refManifest.models.map((m: { file: string }) => m.file).sort();
  // an uninterrupted retrain leaves exactly what its manifest names: the models of the kept versions (the
  // previous one is kept for a rollback) and their records
  const kept = refManifest.versions as Array<{ id: string; file: string; models: Array<{ file: string }> }>;
  expect(kept.map((v) => v.id)).toEqual(["v1", "v2"]);
  expect(files(ref).filter((f) => /^rf-/.test(f))).toEqual(
    [...new Set(kept.flatMap((v) => v.models.map((m) => m.file)))].sort(),
  );
  expect(files(ref).filter((f) => f.startsWith("versions/"))).toEqual(kept.map((v) => v.file).sort());
  // with --keep 1 the previous set's files are collected
  const one = join(root, "keep-one");
  cpSync(base, one, { recursive: true });
  const c = await runCli(["train", retrainCsv, "--models-dir", one, "--seed", "2", "--keep", "1", ...ARGS]);
  expect(c.code, c.stderr).toBe(0);
  expect(files(one).filter((f) => /^rf-/.test(f))).toEqual(newModelFiles);
}, 60_000);

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

type Moment = { kind: "delay"; ms: number } | { kind: "write"; event: number };

/** Runs `train` into dir and SIGKILLs it at the moment given; resolves with what was seen before the kill. */
function trainAndKill(dir: string, moment: Moment): Promise<{ killedBy: string; events: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [BIN, "train", retrainCsv, "--models-dir", dir, "--seed", "2", ...ARGS],
      {
        cwd: ROOT,
        env: { ...process.env, FORCE_COLOR: "0", CI: "1" },
        stdio: "ignore",
      },
    );
    let events = 0;
    let killedBy = "exited before the kill";
    const watchers: FSWatcher[] = [];
    const kill = (why: string) => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGKILL");
        killedBy = why;
      }
    };
    if (moment.kind === "delay") setTimeout(() => kill(`${moment.ms} ms after start`), moment.ms);
    else {
      // inotify tells us as soon as train creates a temp file or renames one into place
      // train writes models only (enrolled users live in the identity store); a legacy verification/ may exist
      for (const d of [dir, join(dir, "verification"), join(dir, "verification", "templates")].filter((p) =>
        existsSync(p),
      )) {
        watchers.push(
          watch(d, () => {
            events++;
            if (events === moment.event) kill(`at file event ${events}`);
          }),
        );
      }
    }
    child.on("error", reject);
    child.on("exit", () => {
      for (const w of watchers) w.close();
      resolve({ killedBy, events });
    });
  });
}

const moments: Moment[] = [
  { kind: "delay", ms: 150 },
  { kind: "delay", ms: 900 },
  { kind: "write", event: 1 },
  { kind: "write", event: 4 },
  { kind: "write", event: 12 },
  { kind: "write", event: 40 },
  { kind: "write", event: 110 },
];

describe("kill -9 during train", () => {
  it("leaves a models dir that loads: the previous manifest byte for byte, or a complete new one", async () => {
    const outcomes: string[] = [];
    let midWrite = 0;
    for (const [i, moment] of moments.entries()) {
      const dir = join(root, `kill-${i}`);
      cpSync(base, dir, { recursive: true });
      const before = new Set(files(dir));
      const { killedBy } = await trainAndKill(dir, moment);
      const left = files(dir);
      // files the killed run had started: temp files or new model/template files not yet committed
      const started = left.filter((f) => !before.has(f));
      const manifest = readFileSync(join(dir, "manifest.json"));
      const old = manifest.equals(oldManifest);
      if (!old) {
        const models = JSON.parse(manifest.toString("utf8"))
          .models.map((m: { file: string }) => m.file)
          .sort();
        expect(models).toEqual(newModelFiles);
      }
      const p = await runCli(["predict", "--json", REQUEST, "--models-dir", dir]);
      expect(p.code, p.stderr).toBe(0);
      expect(JSON.parse(p.stdout).UserID).toBeDefined();
      // verification templates load as well (a claim is answered, accepted or not)
      const v = await runCli(["predict", "--json", REQUEST, "--models-dir", dir, "--claim", "101"]);
      expect(v.stderr).not.toMatch(/checksum|missing/);
      expect(JSON.parse(v.stdout)).toHaveProperty("accepted");
      if (old && started.length > 0) midWrite++;
      outcomes.push(
        `${killedBy}: ${old ? "previous" : "new"} manifest, ${started.length} uncommitted file(s) left`,
      );
    }
    // at least one kill landed while train was writing files but before its commit
    expect(midWrite).toBeGreaterThan(0);

    // the next writer of the models dir (train: enrol writes the identity store, not this dir) takes over the
    // dead run's lock and collects its leftovers
    const dir = join(root, "kill-2");
    const e = await runCli(["train", TRAIN, "--models-dir", dir, "--seed", "3", ...ARGS]);
    expect(e.code, e.stderr).toBe(0);
    expect(files(dir).filter((f) => f.endsWith(".tmp") || f === ".lock")).toEqual([]);
    expect(existsSync(join(dir, "manifest.json"))).toBe(true);
    const after = await runCli(["predict", "--json", REQUEST, "--models-dir", dir]);
    expect(after.code, after.stderr).toBe(0);
    console.log(`kill -9 during train:\n  ${outcomes.join("\n  ")}`);
  }, 180_000);
});
