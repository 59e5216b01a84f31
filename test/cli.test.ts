import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { ROOT, runCli } from "./helpers/cli.js";

describe("keystroke-id binary", () => {
  it("prints the package version", async () => {
    const pkg = JSON.parse(readFileSync(resolve(ROOT, "package.json"), "utf8"));
    const r = await runCli(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it("lists every subcommand with a description", async () => {
    const r = await runCli(["--help"]);
    expect(r.code).toBe(0);
    for (const name of ["features", "train", "evaluate", "predict", "serve", "enroll"]) {
      expect(r.stdout).toMatch(new RegExp(`^\\s+${name}\\b.*\\S`, "m"));
    }
  });

  it("rejects an unknown command with a usage exit code", async () => {
    const r = await runCli(["frobnicate"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown command");
  });
});
