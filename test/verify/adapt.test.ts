import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openIdentities, type OpenedIdentities } from "../../src/identity/open.js";
import { extractTimings } from "../../src/features/index.js";
import { syntheticSamples } from "./helpers.js";

// Template adaptation (issue 14 item 7) over a real SQLite store: only accepted samples with a margin adapt,
// within the window; replays, scripted input and rejections never do; each adaptation is audited.

const samples = syntheticSamples(8, 16, 6, 33);
const enrolment = samples.filter((_, i) => i < 8 * 6);
const later = (u: number) =>
  samples.filter((s, i) => i >= 8 * 6 && s.label === u).map((s) => extractTimings(s));
let dir: string;
let ids: OpenedIdentities;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "kid-adapt-"));
  ids = await openIdentities({
    store: join(dir, "ids.db"),
    modelsDir: join(dir, "none"),
    adapt: { window: 3, margin: 0 },
  });
  await ids.service.enrollSamples(enrolment);
});
afterAll(async () => {
  await ids?.close();
  rmSync(dir, { recursive: true, force: true });
});

const template = async (u: number) => (await ids.store.identities.get(String(u)))!.template;

describe("--adapt", () => {
  it("re-fits the template with accepted samples, keeping the last `window` of them, and audits it", async () => {
    const before = await template(2);
    expect(before.adapted).toBeUndefined();
    let adaptedNow = 0;
    for (const v of later(2)) {
      const r = await ids.service.verify(2, v);
      if (r.accepted) adaptedNow++;
    }
    expect(adaptedNow).toBeGreaterThan(3);
    const after = await template(2);
    expect(after.adapted).toHaveLength(3);
    expect(after.n).toBe(6 + 3);
    expect(after.state).not.toEqual(before.state);
    const audit = await ids.service.audit(2, 100);
    expect(audit.filter((a) => a.action === "adapt")).toHaveLength(adaptedNow);
    // the enrolment samples are unchanged: adaptation never grows them
    expect(await ids.store.identities.samples("2")).toHaveLength(6);
  });

  it("never adapts on a replay, scripted input or a rejection", async () => {
    const version = async () => ids.store.identities.version("3");
    const v0 = await version();
    // a replay of an enrolled sample
    const enrolled = (await ids.store.identities.samples("3"))[0]!;
    expect((await ids.service.verify(3, enrolled)).replay).toBe(true);
    // scripted: every hold and every gap the same
    const k = 6;
    const scripted = [
      ...new Array<number>(k).fill(80),
      ...new Array<number>(k - 1).fill(150),
      ...new Array<number>(k - 1).fill(150),
      ...new Array<number>(k - 1).fill(70),
    ];
    expect((await ids.service.verify(3, scripted)).scripted).toBe(true);
    expect(await version()).toBe(v0);
    // other users' samples: each one rejected leaves the template as it was
    let rejections = 0;
    for (const v of later(7)) {
      const before = await version();
      const r = await ids.service.verify(3, v);
      if (!r.accepted) {
        rejections++;
        expect(await version()).toBe(before);
      }
    }
    expect(rejections).toBeGreaterThan(0);
  });
});
