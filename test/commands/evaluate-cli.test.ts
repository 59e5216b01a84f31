import { existsSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SHARED_DATA, runCli } from "../helpers/cli.js";

const hasData = existsSync(SHARED_DATA);

describe("keystroke-id evaluate (built binary)", () => {
  it("exits with the model code and a message on stderr when there are no models", async () => {
    const empty = await mkdtemp(join(tmpdir(), "kid-nomodels-"));
    const csv = join(empty, "x.csv");
    await writeFile(csv, "press-0,release-0,press-1,release-1,UserID\n0,50,200,260,1\n");
    const r = await runCli(["evaluate", csv, "--models-dir", join(empty, "models"), "--json"]);
    expect(r.code).toBe(4);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^error: .*models/m);
  });

  it("refuses a file with a header and no samples instead of printing an empty table", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kid-empty-"));
    const csv = join(dir, "header-only.csv");
    await writeFile(csv, "press-0,release-0,press-1,release-1,UserID\n");
    const r = await runCli(["evaluate", csv, "--models-dir", join(dir, "models")]);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(`${csv}: has no samples to evaluate`);
  });

  it("exits with the usage code naming a bad flag", async () => {
    const r = await runCli(["evaluate", "whatever.csv", "--cv", "0"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/flag --cv/);
  });

  it.skipIf(!hasData)(
    "cross-validates RF on the real data: one JSON document on stdout, progress on stderr",
    async () => {
      const r = await runCli([
        "evaluate",
        SHARED_DATA,
        "--cv",
        "3",
        "--model",
        "rf",
        "--features",
        "timings",
        "--reject-below",
        "0.3",
        "--json",
      ]);
      expect(r.code, r.stderr).toBe(0);
      const doc = JSON.parse(r.stdout);
      expect(doc.dataset).toMatchObject({ rows: 750, users: 110 });
      const t = doc.models.RF.timings;
      expect(t.samples).toBe(750);
      expect(t.top3).toBeGreaterThanOrEqual(t.accuracy);
      // the recipe is far better than chance (1/110) on per-key timings
      expect(t.accuracy).toBeGreaterThan(0.5);
      expect(t.cv.folds).toHaveLength(3);
      expect(t.confusion.matrix).toHaveLength(110);
      expect(t.reject.accepted + t.reject.rejected).toBe(750);
      expect(r.stderr).toMatch(/fold 3\/3/);
    },
    180_000,
  );

  it.skipIf(!hasData)(
    "evaluates verification alone, with no models directory",
    async () => {
      const cwd = await mkdtemp(join(tmpdir(), "kid-verif-"));
      const r = await runCli(["evaluate", SHARED_DATA, "--verification", "--json"], { cwd });
      expect(r.code, r.stderr).toBe(0);
      const doc = JSON.parse(r.stdout);
      expect(doc.models).toEqual({});
      const names = Object.keys(doc.verification.detectors);
      expect(names).toContain(doc.verification.best);
      for (const n of names) {
        const d = doc.verification.detectors[n];
        expect(d.eer.mean).toBeGreaterThanOrEqual(0);
        expect(d.eer.mean).toBeLessThanOrEqual(1);
        expect(d.roc.length).toBeGreaterThan(1);
      }
      // the suite's published, first-half cell has the figures of the evaluation above (the suite takes it)
      const cell = doc.verification.runs.find(
        (r: { protocol: string; enrol: string }) => r.protocol === "published" && r.enrol === "half",
      );
      for (const n of names) expect(cell.detectors[n].eer).toBe(doc.verification.detectors[n].eer.mean);
      // the table, for two detectors only: their two rows, the one with the lower mean EER marked best
      const two = [
        "manhattan-scaled",
        doc.verification.best === "manhattan-scaled" ? "fusion" : doc.verification.best,
      ];
      const table = await runCli(
        ["evaluate", SHARED_DATA, "--verification", "--detectors", two.join(","), "--output", "table"],
        { cwd },
      );
      expect(table.code, table.stderr).toBe(0);
      expect(table.stdout).toMatch(/EER \(mean ± sd\)/);
      const best = two.reduce((a, b) =>
        doc.verification.detectors[a].eer.mean <= doc.verification.detectors[b].eer.mean ? a : b,
      );
      expect(table.stdout).toContain(`${best} (best)`);
      const rows = table.stdout
        .split("\n")
        .filter((l) => l.startsWith("│ "))
        .map((l) => l.split("│")[1]!.trim().replace(" (best)", ""))
        .filter((n) => n !== "detector");
      expect(rows.sort()).toEqual([...two].sort());
      const bad = await runCli(["evaluate", SHARED_DATA, "--verification", "--detectors", "fusion,nope"], {
        cwd,
      });
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/flag --detectors.*unknown detector "nope"/);
      const alone = await runCli(["evaluate", SHARED_DATA, "--detectors", "fusion"], { cwd });
      expect(alone.code).toBe(2);
      expect(alone.stderr).toMatch(/flag --detectors.*--verification/);
    },
    // one run over 110 users with every detector, the population ones included (about 60 s on a quiet 2-core machine), one with two
    480_000,
  );
});
