import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, runCli } from "../helpers/cli.js";
import { runBin, STACK_LINE } from "./helpers.js";

// A truncated, corrupted (one byte flipped) or tampered (valid JSON, one number changed) model file,
// template or verification index is refused by its checksum, by `predict` and by `serve`, naming the file.
const REQUEST = join(ROOT, "fixtures", "request-timings.json");
let root: string;
let base: string;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "kid-damage-"));
  base = join(root, "base");
  const r = await runCli([
    "train",
    join(ROOT, "fixtures", "wide-train.csv"),
    "--model",
    "rf",
    "--models-dir",
    base,
    "--holdout",
    "0",
    "--workers",
    "0",
    "--json",
  ]);
  expect(r.code, r.stderr).toBe(0);
}, 60_000);

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

type Target = "model" | "template" | "index";
type Damage = "truncated" | "corrupted" | "tampered";

/** The file of a target, relative to the models dir, as the manifest (and index) name it. */
function targetFile(dir: string, target: Target): string {
  const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
  if (target === "model")
    return manifest.models.find((m: { featureSet: string }) => m.featureSet === "timings").file;
  if (target === "index") return `verification/${manifest.verification.index}`;
  const index = JSON.parse(readFileSync(join(dir, "verification", manifest.verification.index), "utf8"));
  return `verification/${index.users["101"].file}`;
}

/** Adds 1 to the first number found in a JSON value (depth first): valid JSON, one value changed. */
function bumpFirstNumber(v: unknown): boolean {
  if (Array.isArray(v) || (v && typeof v === "object")) {
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (typeof o[k] === "number") {
        o[k] = o[k] + 1;
        return true;
      }
      if (bumpFirstNumber(o[k])) return true;
    }
  }
  return false;
}

function damage(path: string, kind: Damage): void {
  const bytes = readFileSync(path);
  if (kind === "truncated") writeFileSync(path, bytes.subarray(0, Math.floor(bytes.length / 2)));
  else if (kind === "corrupted") {
    const i = Math.floor(bytes.length / 2);
    bytes[i] = bytes[i]! ^ 0x04;
    writeFileSync(path, bytes);
  } else {
    const text = bytes.toString("utf8");
    const value = JSON.parse(text);
    expect(bumpFirstNumber(value)).toBe(true);
    // the same layout the writer uses (compact, or indented for the index), so only the number differs
    writeFileSync(path, JSON.stringify(value) + "\n");
  }
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

describe("damaged files are refused by their checksum", () => {
  // enrolled users no longer live in the models dir (train writes no template or index files): a damaged
  // identity store is refused as BAD_STORE, naming the file (test/store)
  for (const target of ["model"] as const) {
    for (const kind of ["truncated", "corrupted", "tampered"] as const) {
      it(`${kind} ${target} file: predict and serve refuse, naming the file`, async () => {
        const dir = join(root, `${target}-${kind}`);
        cpSync(base, dir, { recursive: true });
        const file = targetFile(dir, target);
        damage(join(dir, file), kind);
        const names = new RegExp(`${escape(file)}: checksum (does not match|mismatch)`);

        // identification loads the model files; a claim loads the verification store
        const args = target === "model" ? [] : ["--claim", "101"];
        const p = await runCli(["predict", "--json", REQUEST, "--models-dir", dir, ...args]);
        expect(p.code).toBe(4);
        expect(p.stderr).toMatch(names);
        expect(p.stderr).not.toMatch(STACK_LINE);
        expect(p.stdout).toBe("");

        const s = await runBin(["serve", "--port", "0", "--models-dir", dir], { timeoutMs: 20_000 });
        expect(s.timedOut, "serve started on a damaged dir").toBe(false);
        expect(s.code).toBe(4);
        expect(s.stderr).toMatch(names);
        expect(s.stderr).not.toMatch(STACK_LINE);
      });
    }
  }

  it("a missing models dir: predict and serve exit non-zero with a message", async () => {
    const missing = join(root, "no-such-models");
    for (const args of [
      ["predict", "--json", REQUEST, "--models-dir", missing],
      ["serve", "--port", "0", "--models-dir", missing],
    ]) {
      const r = await runBin(args, { timeoutMs: 20_000 });
      expect(r.timedOut).toBe(false);
      expect(r.code).toBe(4);
      expect(r.stderr).toMatch(new RegExp(`no models in ${escape(missing)}`));
      expect(r.stderr).not.toMatch(STACK_LINE);
    }
  });
});

describe("a damaged identity store is refused, naming the file", () => {
  it("a file that is not a database, and a SQLite database of another program", async () => {
    const garbage = join(root, "garbage.db");
    writeFileSync(garbage, "not a database: ".repeat(40));
    const r = await runCli(["users", "list", "--store", garbage, "--json"]);
    expect(r.code).toBe(4);
    expect(r.stderr).toContain(`${garbage} is not a usable keystroke-id identity store`);
    expect(r.stderr).toContain("[BAD_STORE]");
    expect(r.stderr).not.toMatch(STACK_LINE);
    // the file is left as it was: nothing is written over what may still be recoverable
    expect(readFileSync(garbage, "utf8")).toBe("not a database: ".repeat(40));

    const { default: Database } = await import("better-sqlite3");
    const other = join(root, "other.db");
    const db = new Database(other);
    db.exec("CREATE TABLE notes (body TEXT)");
    db.close();
    const o = await runCli(["predict", "--claim", "101", "--json", REQUEST, "--store", other]);
    expect(o.code).toBe(4);
    expect(o.stderr).toContain(`${other} is a SQLite database but not a keystroke-id identity store`);
  });
});
