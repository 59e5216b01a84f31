import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openIdentities } from "../../src/identity/open.js";
import { openStore } from "../../src/store/index.js";
import { enrollSamples, saveTemplates } from "../../src/verify/index.js";
import { ROOT, runCli } from "../helpers/cli.js";
import { syntheticSamples } from "../verify/helpers.js";

const dir = mkdtempSync(join(tmpdir(), "kid-upgrade-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("upgrading from templates in models/verification/", () => {
  it("imports them into the store on first use, once, and verifies the imported users", async () => {
    const models = join(dir, "old-models");
    // the file store an older keystroke-id wrote (src/verify/store.ts, kept as the legacy reader/writer)
    const samples = syntheticSamples(5, 8, 6, 3);
    const r = enrollSamples(samples);
    await saveTemplates(models, r.templates, {
      detector: r.templates[0]!.detector,
      keys: r.keys,
      population: r.population,
    });
    const store = join(dir, "upgrade.db");
    const first = await openIdentities({ store, modelsDir: models });
    try {
      expect(first.legacy).toMatchObject({ imported: 5, kept: 0 });
      expect(await first.store.identities.count()).toBe(5);
      const id = r.templates[0]!.user;
      const own = samples.filter((s) => String(s.label) === String(id))[0]!;
      // an enrolled (imported) sample is a replay: the enrolment samples came along
      const { extractTimings } = await import("../../src/features/index.js");
      expect((await first.service.verify(id, extractTimings(own))).replay).toBe(true);
      expect((await first.service.audit(id)).map((e) => e.action)).toContain("import");
    } finally {
      await first.close();
    }
    const second = await openIdentities({ store, modelsDir: models });
    try {
      expect(second.legacy).toBeNull();
    } finally {
      await second.close();
    }
  });
});

describe("train and enrolled users", () => {
  it("train enrols only users not yet enrolled and never replaces one: alice, enrolled first, still verifies after a retrain", async () => {
    const store = join(dir, "train.db");
    const env = { KEYSTROKE_ID_STORE: store };
    const unlabelled = resolve(ROOT, "fixtures", "wide-unlabelled.csv");
    const rows = readFileSync(unlabelled, "utf8").trim().split("\n");
    // alice: the unlabelled file's samples but the last; the last one is her fresh attempt
    const enrolFile = join(dir, "alice.csv");
    writeFileSync(enrolFile, rows.slice(0, -1).join("\n") + "\n");
    const e = await runCli(["enroll", enrolFile, "--user", "alice", "--json"], { env });
    expect(e.code, e.stderr).toBe(0);
    const versionOf = async (id: string) => {
      const s = await openStore(store);
      try {
        return await s.identities.version(id);
      } finally {
        await s.close();
      }
    };
    const before = await versionOf("alice");
    const models = join(dir, "models");
    for (let i = 0; i < 2; i++) {
      const t = await runCli(
        [
          "train",
          "fixtures/wide-train.csv",
          "--model",
          "rf",
          "--features",
          "timings",
          "--models-dir",
          models,
          "--workers",
          "0",
          "--holdout",
          "0",
          "--json",
        ],
        { env },
      );
      expect(t.code, t.stderr).toBe(0);
      const report = JSON.parse(t.stdout);
      expect(report.verification).toMatchObject({
        users: 31,
        enrolled: i === 0 ? 30 : 0,
        kept: i === 0 ? 0 : 30,
      });
    }
    expect(await versionOf("alice")).toBe(before);
    const header = rows[0]!.split(",");
    const last = rows.at(-1)!.split(",").map(Number);
    const press = header.flatMap((h, i) => (h.startsWith("press") ? [last[i]!] : []));
    const release = header.flatMap((h, i) => (h.startsWith("release") ? [last[i]!] : []));
    const v = await runCli(["predict", "--claim", "alice", "--models-dir", models], {
      env,
      stdin: JSON.stringify({ press, release }),
    });
    expect(v.code, v.stderr).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({ UserID: "alice", replay: false });
    // the models dir holds no verification files any more
    const manifest = JSON.parse(readFileSync(join(models, "manifest.json"), "utf8"));
    expect(manifest.verification).toBeUndefined();
    // several processes each enrol 30 users with the default fusion detector: time on a shared 2-core machine
  }, 300_000);
});
