import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  enrollSamples,
  loadTemplates,
  readVerificationIndex,
  saveTemplates,
  templateFileName,
  verifySample,
} from "../../src/verify/index.js";
import { syntheticSamples, vectorsOf } from "./helpers.js";

const samples = syntheticSamples(6, 8);
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "kid-verify-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function snapshot(root: string): Promise<Map<string, Buffer>> {
  const files = await readdir(join(root, "verification", "templates"));
  return new Map(
    await Promise.all(
      files.map(async (f) => [f, await readFile(join(root, "verification", "templates", f))] as const),
    ),
  );
}

describe("template store", () => {
  it("round-trips: loaded templates answer exactly as the fresh ones", async () => {
    const first = samples.filter((s) => (s.label as number) <= 5);
    const { templates, population } = enrollSamples(first, {});
    await saveTemplates(dir, templates, { detector: "manhattan-robust-cohort", keys: 6, population });
    const store = await loadTemplates(dir);
    expect(store.users().sort()).toEqual([1, 2, 3, 4, 5]);
    const x = vectorsOf(samples, 2).at(-1)!;
    const fresh = verifySample(
      templates.find((t) => t.user === 2)!,
      x,
      { population },
    );
    expect(store.verify(2, x)).toEqual(fresh);
    // ids from a command line are strings; the store finds the numeric id all the same
    expect(store.get("2")?.user).toBe(2);
    expect(() => store.verify(99, x)).toThrow(expect.objectContaining({ code: "UNKNOWN_USER" }));
  });

  it("concurrent enrolments take turns, so neither loses the other's users", async () => {
    const base = enrollSamples(
      samples.filter((s) => (s.label as number) <= 4),
      {},
    );
    await saveTemplates(dir, base.templates, {
      detector: "manhattan-robust-cohort",
      keys: 6,
      population: base.population,
    });
    const five = enrollSamples(
      samples.filter((s) => s.label === 5),
      { population: base.population },
    );
    const six = enrollSamples(
      samples.filter((s) => s.label === 6),
      { population: base.population },
    );
    await Promise.all([
      saveTemplates(dir, five.templates, { detector: "manhattan-robust-cohort", keys: 6 }),
      saveTemplates(dir, six.templates, { detector: "manhattan-robust-cohort", keys: 6 }),
    ]);
    expect((await loadTemplates(dir)).users().sort()).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it("takes over a lock left by a process that no longer runs, and waits for a live one", async () => {
    const { templates, population } = enrollSamples(samples, {});
    await saveTemplates(dir, templates.slice(0, 2), {
      detector: "manhattan-robust-cohort",
      keys: 6,
      population,
    });
    const lock = join(dir, ".lock");
    await writeFile(lock, "999999999");
    await saveTemplates(dir, templates.slice(2, 3), { detector: "manhattan-robust-cohort", keys: 6 });
    expect((await loadTemplates(dir)).users()).toHaveLength(3);
    await writeFile(lock, String(process.pid));
    const { withFileLock } = await import("../../src/util/fs.js");
    await expect(withFileLock(lock, async () => 1, { timeoutMs: 100 })).rejects.toThrow(
      /\.lock: is held by process \d+/,
    );
    await rm(lock);
  });

  it("enrols a new user without retraining: the other templates stay byte-identical", async () => {
    const first = samples.filter((s) => (s.label as number) <= 5);
    const built = enrollSamples(first, {});
    await saveTemplates(dir, built.templates, {
      detector: "manhattan-robust-cohort",
      keys: 6,
      population: built.population,
    });
    const before = await snapshot(dir);

    const store0 = await loadTemplates(dir);
    const added = enrollSamples(
      samples.filter((s) => s.label === 6),
      { population: store0.population! },
    );
    await saveTemplates(dir, added.templates, { detector: "manhattan-robust-cohort", keys: 6 });
    const after = await snapshot(dir);
    expect(after.size).toBe(before.size + 1);
    for (const [f, bytes] of before) expect(after.get(f)!.equals(bytes)).toBe(true);
    const store = await loadTemplates(dir);
    expect(store.has(6)).toBe(true);
    const r = store.verify(
      6,
      vectorsOf(samples, 6)
        .at(-1)!
        .map((v) => v + 0),
    );
    expect(r.replay).toBe(true); // the 8th sample was enrolled too
    expect(store.counters()).toMatchObject({ claims: 1, replays: 1, rejected: 1 });
  });

  it("replaces one user's template in place and leaves the rest alone", async () => {
    const built = enrollSamples(samples, {});
    await saveTemplates(dir, built.templates, {
      detector: "manhattan-robust-cohort",
      keys: 6,
      population: built.population,
    });
    const before = await snapshot(dir);
    const redo = enrollSamples(samples.filter((s) => s.label === 3).slice(0, 5), {
      population: built.population,
    });
    await saveTemplates(dir, redo.templates, { detector: "manhattan-robust-cohort", keys: 6 });
    const after = await snapshot(dir);
    // content-addressed: user 3's new template has a new name and the old one is collected; the rest stay byte for byte
    const gone = [...before.keys()].filter((f) => !after.has(f));
    const added = [...after.keys()].filter((f) => !before.has(f));
    expect(gone).toHaveLength(1);
    expect(gone[0]).toMatch(/^n-3\.[0-9a-f]{8}\.json$/);
    expect(added).toHaveLength(1);
    expect(added[0]).toMatch(/^n-3\.[0-9a-f]{8}\.json$/);
    for (const [f, b] of after) if (f !== added[0]) expect(before.get(f)!.equals(b)).toBe(true);
    expect((await loadTemplates(dir)).get(3)!.n).toBe(5);
  });

  it("refuses a template changed on disk (checksum) and a missing store", async () => {
    await expect(loadTemplates(dir)).rejects.toMatchObject({ code: "NO_MODELS" });
    const built = enrollSamples(samples, {});
    await saveTemplates(dir, built.templates, {
      detector: "manhattan-robust-cohort",
      keys: 6,
      population: built.population,
    });
    const file = join(dir, "verification", (await readVerificationIndex(dir))!.users["4"]!.file);
    const text = await readFile(file, "utf8");
    await writeFile(file, text.replace('"threshold":', '"threshold": '));
    await expect(loadTemplates(dir)).rejects.toMatchObject({
      code: "BAD_MODEL_FILE",
      message: expect.stringMatching(/checksum/),
    });
  });

  it("gives number and string ids distinct, safe file names", () => {
    const hash = "ab".repeat(32);
    expect(templateFileName(7, hash)).toBe("templates/n-7.abababab.json");
    expect(templateFileName("7", hash)).toBe("templates/s-7.abababab.json");
    expect(templateFileName("../evil", hash)).toMatch(/^templates\/s-\.\._evil-[0-9a-f]{8}\.abababab\.json$/);
  });
});
