import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { predictCommand } from "../../src/commands/predict.js";
import { KeystrokeError } from "../../src/errors.js";
import { createRng } from "../../src/util/random.js";
import { syntheticSample, trainedDir } from "../server/trained.js";

// The command driven in-process (commander's parseAsync), stdout captured: the layer between the core
// unit tests and the spawned binary.
let dir = "";
let root = "";
const rng = createRng(3);

beforeAll(async () => {
  ({ dir, root } = await trainedDir("rf"));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
});

async function run(args: string[]): Promise<string> {
  let out = "";
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, "write").mockImplementation(() => true);
  await predictCommand().exitOverride().parseAsync(args, { from: "user" });
  return out;
}

describe("predictCommand in-process", () => {
  it("writes one JSON answer on stdout for one request", async () => {
    const file = join(root, "one.json");
    writeFileSync(file, JSON.stringify(syntheticSample(4, rng)));
    const a = JSON.parse(await run(["--models-dir", dir, "--json", file]));
    expect(a).toMatchObject({ UserID: 4, Model: "RF", features: "timings" });
    expect(process.exitCode).toBeUndefined();
  });

  it("sets exit code 3 when a batch holds a bad request, answering the rest", async () => {
    const file = join(root, "batch.json");
    writeFileSync(file, JSON.stringify([syntheticSample(1, rng), { press: [5, 1], release: [6, 2] }]));
    const out = JSON.parse(await run(["--models-dir", dir, "--json", file]));
    expect(out[0]).toMatchObject({ UserID: 1 });
    expect(out[1]).toMatchObject({ field: "press[1]", index: 1 });
    expect(process.exitCode).toBe(3);
  });

  it("throws a KeystrokeError naming the flag for --json together with --csv", async () => {
    await expect(run(["--models-dir", dir, "--json", "a.json", "--csv", "b.csv"])).rejects.toMatchObject({
      code: "BAD_FLAG",
      place: { flag: "--csv" },
    });
    await expect(run(["--models-dir", dir, "--model", "nope", "--json", "a.json"])).rejects.toBeInstanceOf(
      KeystrokeError,
    );
  });
});
