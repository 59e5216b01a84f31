import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { createRng } from "../../src/util/random.js";
import { BIN, ROOT, runCli } from "../helpers/cli.js";
import { syntheticSample, trainedDir } from "./trained.js";

// End-to-end: the limit flags of `serve` are documented, checked, and reach the running server.

let dir = "";
let root = "";
beforeAll(async () => {
  ({ dir, root } = await trainedDir("rf"));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("serve limit flags", () => {
  it("are documented in serve --help, with their defaults", async () => {
    const r = await runCli(["serve", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--host <host>.*\(default:\s+"127\.0\.0\.1"\)/s);
    expect(r.stdout).toMatch(/--body-limit <bytes>[\s\S]*?\(default:\s+"65536"\)/);
    expect(r.stdout).toMatch(/--max-batch <n>[\s\S]*?NDJSON[\s\S]*?\(default:\s+"1000"\)/);
    expect(r.stdout).toMatch(/--max-keys <n>[\s\S]*?\(default:\s+"4096"\)/);
    expect(r.stdout).toMatch(/--rate-limit <n\[\/window\]>[\s\S]*?429[\s\S]*?\/health exempt/);
  });

  it("refuse a bad value with exit 2 and a message naming the flag", async () => {
    for (const [flag, value] of [
      ["--max-batch", "0"],
      ["--max-keys", "1"],
      ["--max-keys", "lots"],
      ["--rate-limit", "100/1d"],
      ["--rate-limit", "fast"],
    ] as const) {
      const r = await runCli(["serve", "--models-dir", dir, "--port", "0", flag, value]);
      expect(r.code, `${flag} ${value}`).toBe(2);
      expect(r.stderr).toContain(`flag ${flag}`);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it("reach the running server: batch and key limits, and 429 with Retry-After over the rate", async () => {
    const child = spawn(
      process.execPath,
      [
        BIN,
        "serve",
        "--port",
        "0",
        "--models-dir",
        dir,
        "--max-batch",
        "2",
        "--max-keys",
        "8",
        "--rate-limit",
        "5/1m",
      ],
      {
        cwd: ROOT,
        env: { ...process.env, FORCE_COLOR: "0", NO_COLOR: "1", CI: "1" },
      },
    );
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let err = "";
        child.stderr.on("data", (d) => {
          err += d;
          const m = /listening on (http:\/\/\S+) .*at most 5 requests per 1m per client/.exec(err);
          if (m) resolve(m[1]!);
        });
        child.on("close", (code) => reject(new Error(`serve exited ${code}: ${err}`)));
      });
      const post = (body: unknown) =>
        fetch(`${url}/predict`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(body),
        });
      const s = syntheticSample(1, createRng(3));
      expect((await post([s, s])).status).toBe(200);
      const batch = await post([s, s, s]);
      expect(batch.status).toBe(400);
      expect(((await batch.json()) as { error: string }).error).toMatch(/at most 2 requests/);
      const nine = { press: [...s.press, 5000, 5100, 5200], release: [...s.release, 5050, 5150, 5250] };
      const keys = await post(nine);
      expect(keys.status).toBe(400);
      expect(await keys.json()).toMatchObject({ field: "press" });
      expect((await post(s)).status).toBe(200);
      expect((await post(s)).status).toBe(200);
      const limited = await post(s);
      expect(limited.status).toBe(429);
      expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(((await limited.json()) as { error: string }).error).toMatch(/too many requests/);
      expect((await fetch(`${url}/health`)).status).toBe(200);
    } finally {
      child.kill("SIGTERM");
    }
  });
});
