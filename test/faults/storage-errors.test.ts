import { execFileSync, spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statfsSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, runCli } from "../helpers/cli.js";
import { runBin, sameFiles, snapshot, STACK_LINE } from "./helpers.js";

const TRAIN = join(ROOT, "fixtures", "wide-train.csv");
const TEST = join(ROOT, "fixtures", "wide-test.csv");
const RF = ["--model", "rf", "--holdout", "0", "--workers", "0", "--json"];
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const isRoot = process.getuid?.() === 0;

let root: string;
let trained: string;
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "kid-storage-"));
  chmodSync(root, 0o755); // another user must reach the directories inside
  trained = join(root, "trained");
  const r = await runCli(["train", TRAIN, "--models-dir", trained, ...RF]);
  expect(r.code, r.stderr).toBe(0);
}, 60_000);

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

/** The previous content of an output dir: a trained models dir, a features file and a report. */
function fillPrevious(dir: string): void {
  cpSync(trained, join(dir, "models"), { recursive: true });
  writeFileSync(join(dir, "features.csv"), "previous features\n");
  writeFileSync(join(dir, "report.html"), "<p>previous report</p>\n");
}

/** The writes under test: each must fail, name its file and leave the directory as it was. */
const writes = (dir: string) => [
  {
    name: "train --out",
    args: ["train", TRAIN, "--models-dir", join(dir, "models"), "--seed", "2", ...RF],
    file: join(dir, "models"),
  },
  {
    name: "features -o",
    args: ["features", TRAIN, "--set", "timings", "-o", join(dir, "features.csv")],
    file: join(dir, "features.csv"),
  },
  {
    name: "evaluate --report",
    args: ["evaluate", TEST, "--models-dir", trained, "--model", "rf", "--report", join(dir, "report.html")],
    file: join(dir, "report.html"),
  },
  // enroll writes to the identity store (SQLite/PostgreSQL), no longer into the models dir: its faults are
  // in test/store/faults.test.ts
];

describe("a full disk", () => {
  let mnt: string;
  let mounted = false;
  beforeAll(() => {
    mnt = join(root, "full");
    mkdirSync(mnt);
    mounted = isRoot && spawnSync("mount", ["-t", "tmpfs", "-o", "size=16m", "tmpfs", mnt]).status === 0;
    console.log(
      mounted
        ? `full disk: a 16 MiB tmpfs at ${mnt}`
        : "full disk: mount not permitted here; the tmpfs test is skipped",
    );
  });
  afterAll(() => {
    if (mounted) spawnSync("umount", [mnt]);
  });

  /** Fills the file system so that only `bytes` stay free. */
  function leaveFree(bytes: number): void {
    const filler = join(mnt, "filler");
    rmSync(filler, { force: true });
    const s = statfsSync(mnt);
    writeFileSync(filler, Buffer.alloc(Math.max(0, s.bavail * s.bsize - bytes)));
  }

  it("train, features and evaluate --report fail with ENOSPC named, leaving no temp file and the previous content intact", async (ctx) => {
    if (!mounted) ctx.skip();
    fillPrevious(mnt);
    for (const w of writes(mnt)) {
      // a page or two left: enough for the lock file, never for the output
      leaveFree(8192);
      const before = snapshot(mnt);
      // a hang guard, not a speed test: train takes 20 s and more on a loaded 2-core machine
      const r = await runBin(w.args, { timeoutMs: 120_000 });
      expect(r.timedOut, w.name).toBe(false);
      expect(r.code, `${w.name}: ${r.stderr}`).not.toBe(0);
      expect(r.stderr).toMatch(
        new RegExp(
          `${escape(w.file)}[^\\n]*: cannot be (written|created): no space left on device \\(ENOSPC\\)`,
        ),
      );
      expect(r.stderr).not.toMatch(STACK_LINE);
      expect(sameFiles(snapshot(mnt), before), `${w.name} changed the disk`).toBe(true);
    }
    rmSync(join(mnt, "filler"));
    // the previous models still load
    const p = await runCli([
      "predict",
      "--json",
      join(ROOT, "fixtures", "request-timings.json"),
      "--models-dir",
      join(mnt, "models"),
    ]);
    expect(p.code, p.stderr).toBe(0);
  }, 300_000);
});

describe("an unwritable directory", () => {
  it("every write fails naming the path with EACCES and writes nothing", async () => {
    const dir = join(root, "readonly");
    mkdirSync(dir, { mode: 0o755 });
    fillPrevious(dir);
    // root ignores file modes, so as root the CLI runs as nobody; otherwise the directories lose their write bit
    const wrap = isRoot ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : undefined;
    if (!isRoot) for (const d of [dir, join(dir, "models")]) chmodSync(d, 0o555);
    console.log(
      isRoot ? "unwritable dir: the CLI runs as uid 65534 (setpriv)" : "unwritable dir: chmod 0555",
    );
    try {
      const before = snapshot(dir);
      const cases = [
        ...writes(dir),
        {
          name: "train --out <new dir>",
          args: ["train", TRAIN, "--models-dir", join(dir, "new", "models"), ...RF],
          file: dir,
        },
      ];
      for (const w of cases) {
        const r = await runBin(w.args, { wrap });
        expect(r.code, `${w.name}: ${r.stderr}`).not.toBe(0);
        expect(r.stderr).toMatch(
          new RegExp(`${escape(w.file)}[^\\n]*: cannot be (written|created): permission denied \\(EACCES\\)`),
        );
        expect(r.stderr).not.toMatch(STACK_LINE);
        // train refuses before it trains, not after: no model was fitted (no progress line of a fit)
        if (w.name.startsWith("train")) expect(r.stderr).not.toMatch(/\d+\/\d+ trees|done in/);
      }
      expect(sameFiles(snapshot(dir), before)).toBe(true);
      expect(existsSync(join(dir, "new"))).toBe(false);
    } finally {
      if (!isRoot) for (const d of [dir, join(dir, "models")]) chmodSync(d, 0o755);
    }
  });
});

describe("output to a FIFO", () => {
  /** Runs the CLI writing into a FIFO while `cat` reads it; returns the CLI's result and what was read. */
  async function throughFifo(fifo: string, args: string[]) {
    const reader = spawn("cat", [fifo], { stdio: ["ignore", "pipe", "inherit"] });
    let read = "";
    reader.stdout.on("data", (d) => (read += d));
    const done = new Promise<void>((resolve) => reader.on("close", () => resolve()));
    const r = await runBin(args);
    if (r.code !== 0) reader.kill();
    await done;
    return { ...r, read };
  }

  it("features -o and evaluate --report stream into the FIFO, which stays a FIFO (never renamed over)", async () => {
    const dir = mkdtempSync(join(root, "fifo-"));
    const fifo = join(dir, "out.fifo");
    execFileSync("mkfifo", [fifo]);

    const expected = await runCli(["features", TRAIN, "--set", "timings"]);
    const f = await throughFifo(fifo, ["features", TRAIN, "--set", "timings", "-o", fifo]);
    expect(f.code, f.stderr).toBe(0);
    expect(f.read).toBe(expected.stdout);
    expect(lstatSync(fifo).isFIFO()).toBe(true);

    const e = await throughFifo(fifo, [
      "evaluate",
      TEST,
      "--models-dir",
      trained,
      "--model",
      "rf",
      "--report",
      fifo,
    ]);
    expect(e.code, e.stderr).toBe(0);
    expect(e.read).toMatch(/^<!doctype html>/i);
    expect(lstatSync(fifo).isFIFO()).toBe(true);
    // nothing else appeared beside it (no temp file renamed or left)
    expect([...snapshot(dir).keys()]).toEqual([]);
  });
});
