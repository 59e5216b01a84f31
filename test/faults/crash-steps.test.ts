import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { fitClassifier } from "../../src/models/index.js";
import {
  activateVersion,
  loadModelDir,
  MANIFEST_FILE,
  writeModelDir,
  type ModelToWrite,
} from "../../src/models/store.js";
import { createRng } from "../../src/util/random.js";
import {
  enrollSamples,
  loadTemplates,
  saveTemplates,
  stageTemplates,
  type Template,
} from "../../src/verify/index.js";
import { syntheticSamples } from "../verify/helpers.js";

/**
 * A simulated kill -9: every mutating file-system call (mkdir, open for writing, write, fsync, rename,
 * rm) is a step; at step n the call fails and so does every later one, as if the process had died there.
 * No cleanup can run after the crash, so whatever it leaves (temp files, the lock) stays, as it would.
 */
const crash = { at: Infinity, steps: 0, dead: false };
class Died extends Error {}
function step(): void {
  if (crash.dead) throw new Died("process died");
  crash.steps++;
  if (crash.steps >= crash.at) {
    crash.dead = true;
    throw new Died("process died");
  }
}
/** Asserts the write failed because of the simulated crash (possibly wrapped in a KeystrokeError). */
async function expectDied(write: Promise<unknown>): Promise<void> {
  const e = await write.then(
    () => undefined,
    (err: unknown) => err,
  );
  let c: unknown = e;
  while (c instanceof Error && !(c instanceof Died)) c = c.cause;
  expect(c, `expected the crash, got ${String(e)}`).toBeInstanceOf(Died);
}
function arm(at: number): void {
  Object.assign(crash, { at, steps: 0, dead: false });
}

vi.mock("node:fs/promises", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:fs/promises")>();
  const guard =
    <A extends unknown[], R>(fn: (...a: A) => Promise<R>) =>
    async (...a: A): Promise<R> => {
      step();
      return fn(...a);
    };
  const open = async (path: Parameters<typeof real.open>[0], flags?: string | number, mode?: number) => {
    const writing = typeof flags === "string" && /[wa+]/.test(flags);
    if (writing) step();
    const handle = await real.open(path, flags, mode);
    if (writing) {
      handle.writeFile = guard<Parameters<typeof handle.writeFile>, void>(handle.writeFile.bind(handle));
      handle.sync = guard(handle.sync.bind(handle));
    }
    return handle;
  };
  const mocked = {
    ...real,
    open,
    mkdir: guard(real.mkdir),
    writeFile: guard(real.writeFile),
    rename: guard(real.rename),
    rm: guard(real.rm),
    unlink: guard(real.unlink),
  };
  return { ...mocked, default: mocked };
});

const DEAD_PID = "999999999";
const samples = syntheticSamples(6, 8);
let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "kid-crash-"));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

function blobs(seed: number) {
  const rng = createRng(seed);
  const X: number[][] = [];
  const y: number[] = [];
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < 10; i++) {
      X.push([c * 10 + rng(), -c * 5 + rng(), rng()]);
      y.push(c + 1);
    }
  }
  return { X, y };
}

async function models(seed: number): Promise<ModelToWrite[]> {
  const { X, y } = blobs(seed);
  const out: ModelToWrite[] = [];
  for (const featureSet of ["summary", "timings"] as const) {
    const rf = await fitClassifier("RF", X, y, { seed });
    out.push({
      serialized: rf.toJSON(),
      featureSet,
      featureNames: ["a", "b", "c"],
      keys: null,
      fitSeconds: 0.1,
    });
  }
  return out;
}

const info = (seed: number) => ({
  data: { name: `blobs-${seed}`, sha256: "0".repeat(64), rows: 30, users: 3, layout: "wide" },
  seed,
  holdout: 0,
  createdAt: new Date(seed * 1000),
});

function templatesOf(
  users: number[],
  perUser = 8,
): { templates: Template[]; population: ReturnType<typeof enrollSamples>["population"] } {
  const picked = samples
    .filter((s) => users.includes(s.label as number))
    .filter((s, i, all) => all.slice(0, i).filter((o) => o.label === s.label).length < perUser);
  const r = enrollSamples(picked, {});
  return { templates: r.templates, population: r.population };
}

/** Version `n` of the models, with `t`'s templates staged in the same commit (as `train` writes them). */
async function writeVersionWithTemplates(dir: string, n: number, t: ReturnType<typeof templatesOf>) {
  return writeModelDir(dir, await models(n), {
    ...info(n),
    stage: (d) =>
      stageTemplates(d, t.templates, {
        detector: t.templates[0]!.detector,
        keys: 6,
        population: t.population,
      }),
  });
}

/** Every file under a directory, by relative path, with its bytes. */
function snapshot(dir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(relative(dir, p), readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

/** What the crash left as a dead process would: the lock and temp files carry a pid that no longer runs. */
function asIfDead(dir: string): void {
  const lock = join(dir, ".lock");
  if (existsSync(lock)) writeFileSync(lock, DEAD_PID);
  for (const [rel] of snapshot(dir)) {
    const m = /^(.*\/)?(\..+)\.(\d+)\.([0-9a-f]{8})\.tmp$/.exec(rel);
    if (m && m[3] === String(process.pid))
      renameSync(join(dir, rel), join(dir, `${m[1] ?? ""}${m[2]}.${DEAD_PID}.${m[4]}.tmp`));
  }
}

/** What a loaded dir answers: model versions, a prediction per model, and the templates' users and thresholds. */
async function describeDir(dir: string) {
  const loaded = await loadModelDir(dir);
  // a models dir that never held templates (model versions only) answers with no users
  const store = await loadTemplates(dir).catch((e: unknown) => {
    // NO_MODELS: no index named; ENOENT: an empty verification/ left by an older layout
    if (["NO_MODELS", "ENOENT"].includes((e as { code?: string }).code ?? "")) return null;
    throw e;
  });
  return {
    versions: loaded.models.map((m) => m.version),
    predictions: loaded.models.map((m) => m.classifier.predictIndex([20.5, -9.5, 0.5])),
    users: store ? store.users().map(String).sort() : [],
    thresholds: store ? store.users().map((u) => store.get(u)!.threshold) : [],
  };
}

/** The files a loaded dir is made of: the manifest and what it names (models and records of every kept version, index, templates). */
function liveFiles(dir: string): string[] {
  const manifest = JSON.parse(readFileSync(join(dir, MANIFEST_FILE), "utf8"));
  const versions = (manifest.versions ?? []) as Array<{
    file: string | null;
    models: Array<{ file: string }>;
  }>;
  const files = [
    ...new Set([
      MANIFEST_FILE,
      ...manifest.models.map((m: { file: string }) => m.file),
      ...versions.flatMap((v) => [...(v.file ? [v.file] : []), ...v.models.map((m) => m.file)]),
    ]),
  ];
  const indexName = manifest.verification?.index ?? "index.json";
  // a models-only dir (model versions; enrolled users live in the identity store) names no index
  if (!existsSync(join(dir, "verification", indexName))) return files.sort();
  const index = JSON.parse(readFileSync(join(dir, "verification", indexName), "utf8"));
  files.push(
    `verification/${indexName}`,
    ...Object.values(index.users as Record<string, { file: string }>).map((u) => `verification/${u.file}`),
  );
  return files.sort();
}

interface CrashCase {
  name: string;
  /** Builds the previous, committed directory. */
  setup: (dir: string) => Promise<void>;
  /** The write that crashes. */
  write: (dir: string) => Promise<unknown>;
  /** Fewest write steps the whole write must take (a sanity check of the probe); default 9. */
  minSteps?: number;
}

const cases: CrashCase[] = [
  {
    name: "train (writeModelDir with templates staged in the same commit)",
    setup: async (dir) => {
      const t = templatesOf([1, 2, 3, 4, 5]);
      await writeVersionWithTemplates(dir, 1, t);
    },
    write: async (dir) => {
      const t = templatesOf([1, 2, 3, 4, 5, 6], 7);
      return writeVersionWithTemplates(dir, 2, t);
    },
  },
  {
    name: "enroll into a trained dir (new templates + index, manifest rewritten)",
    setup: async (dir) => {
      const t = templatesOf([1, 2, 3, 4, 5]);
      await writeVersionWithTemplates(dir, 1, t);
    },
    write: async (dir) => {
      const base = templatesOf([1, 2, 3, 4, 5]);
      // user 6 is new, user 2 is re-enrolled on fewer samples (a replaced template)
      const six = enrollSamples(
        samples.filter((s) => s.label === 6),
        { population: base.population },
      );
      const two = enrollSamples(samples.filter((s) => s.label === 2).slice(0, 5), {
        population: base.population,
      });
      return saveTemplates(dir, [...six.templates, ...two.templates], {
        detector: six.templates[0]!.detector,
        keys: 6,
      });
    },
  },
  {
    name: "models use (a rollback to the previous version, a new commit of manifest.json)",
    // model versions hold models only: enrolled users live in the identity store, which a rollback never touches
    setup: async (dir) => {
      await writeModelDir(dir, await models(1), info(1));
      await writeModelDir(dir, await models(2), info(2));
    },
    write: (dir) => activateVersion(dir, "v1"),
    // lock, manifest (open, write, sync, rename), garbage collection, unlock
    minSteps: 6,
  },
];

describe("a crash at every write step leaves the previous models dir loadable", () => {
  for (const c of cases) {
    it(
      c.name,
      async () => {
        const base = join(root, `base-${cases.indexOf(c)}`);
        arm(Infinity);
        await c.setup(base);
        const before = snapshot(base);
        const beforeManifest = before.get(MANIFEST_FILE)!;
        const beforeAnswers = await describeDir(base);

        // how many steps a whole write takes, on a copy
        const probe = join(root, `probe-${cases.indexOf(c)}`);
        cpSync(base, probe, { recursive: true });
        arm(Infinity);
        await c.write(probe);
        const total = crash.steps;
        const afterAnswers = await describeDir(probe);
        expect(afterAnswers).not.toEqual(beforeAnswers);
        expect(total).toBeGreaterThanOrEqual(c.minSteps ?? 9);

        let oldSeen = 0;
        let newSeen = 0;
        for (let n = 1; n <= total; n++) {
          const dir = join(root, `crash-${cases.indexOf(c)}-${n}`);
          cpSync(base, dir, { recursive: true });
          arm(n);
          await expectDied(c.write(dir));
          arm(Infinity);
          const manifest = readFileSync(join(dir, MANIFEST_FILE));
          if (manifest.equals(beforeManifest)) {
            oldSeen++;
            // not committed: the previous manifest, and every file it names, byte for byte
            for (const f of liveFiles(dir))
              expect(
                readFileSync(join(dir, f)).equals(before.get(f)!),
                `${f} after a crash at step ${n}`,
              ).toBe(true);
            expect(await describeDir(dir)).toEqual(beforeAnswers);
          } else {
            newSeen++;
            // committed: the new manifest is whole and everything it names loads
            expect(await describeDir(dir)).toEqual(afterAnswers);
          }
          // the next run (after the crashed one's process is gone) commits and cleans up what the crash left
          asIfDead(dir);
          await c.write(dir);
          expect(await describeDir(dir)).toEqual(afterAnswers);
          expect([...snapshot(dir).keys()].sort()).toEqual(liveFiles(dir));
        }
        // the crash points fall both before and after the commit
        expect(oldSeen).toBeGreaterThan(0);
        expect(newSeen).toBeGreaterThan(0);
        console.log(
          `${c.name}: crashed at each of ${total} write steps (${oldSeen} left the previous dir, ${newSeen} the new one)`,
        );
      },
      240_000,
    ); // 65 crash points, each a copy, a crash and a recovery: minutes on a loaded 2-core machine
  }

  it("enroll into a dir without a manifest (a store made by enroll alone) commits by its index.json", async () => {
    const base = join(root, "legacy-base");
    arm(Infinity);
    const t = templatesOf([1, 2, 3, 4]);
    await saveTemplates(base, t.templates, {
      detector: t.templates[0]!.detector,
      keys: 6,
      population: t.population,
    });
    expect(existsSync(join(base, MANIFEST_FILE))).toBe(false);
    const before = snapshot(base);
    const users = async (d: string) => (await loadTemplates(d)).users().map(String).sort();
    expect(await users(base)).toEqual(["1", "2", "3", "4"]);
    const write = (dir: string) => {
      const five = enrollSamples(
        samples.filter((s) => s.label === 5),
        { population: t.population },
      );
      return saveTemplates(dir, five.templates, { detector: five.templates[0]!.detector, keys: 6 });
    };
    const probe = join(root, "legacy-probe");
    cpSync(base, probe, { recursive: true });
    arm(Infinity);
    await write(probe);
    const total = crash.steps;
    for (let n = 1; n <= total; n++) {
      const dir = join(root, `legacy-crash-${n}`);
      cpSync(base, dir, { recursive: true });
      arm(n);
      await expectDied(write(dir));
      arm(Infinity);
      const got = await users(dir);
      if (got.length === 4)
        expect(
          readFileSync(join(dir, "verification", "index.json")).equals(
            before.get("verification/index.json")!,
          ),
        ).toBe(true);
      else expect(got).toEqual(["1", "2", "3", "4", "5"]);
      asIfDead(dir);
      await write(dir);
      expect(await users(dir)).toEqual(["1", "2", "3", "4", "5"]);
    }
    console.log(`enroll without a manifest: crashed at each of ${total} write steps`);
  });
});
