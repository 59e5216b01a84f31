import { readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { IdentityService } from "../../src/identity/service.js";
import { exportStore, importStore } from "../../src/identity/transfer.js";
import { openStore, type Store } from "../../src/store/index.js";
import { tempStorePath, userVectors } from "./helpers.js";

// The import on SQLite, row by row: what it stores is what the exporting store held (the export's own text,
// not a re-serialisation of it), and the compiled import (dist/, built by the test setup), whose lines are
// parsed by a worker thread, lands the same rows and stops the same way as the in-thread one run here.

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
type Transfer = typeof import("../../src/identity/transfer.js");
type Stores = typeof import("../../src/store/index.js");
const dist = async <T>(path: string) => (await import(pathToFileURL(join(ROOT, "dist", path)).href)) as T;

async function* feed(lines: string[]) {
  yield* lines;
}

/** A store of 7 enrolled users, and its export with each user copied `copies` times under new ids. */
async function exported(copies: number): Promise<{ store: Store; lines: string[] }> {
  const store = await openStore(tempStorePath());
  const svc = new IdentityService(store);
  await svc.enroll("a", userVectors(1, 6));
  await svc.enrollSamples(
    [2, 3, 4, 5, 6, 7, 8].flatMap((u) =>
      userVectors(u, 6).map((v) => {
        const k = (v.length + 3) / 4;
        const press = [0];
        for (let i = 1; i < k; i++) press.push(press[i - 1]! + v[k + i - 1]!);
        return { press, release: press.map((p, i) => p + v[i]!), label: `u${u}` };
      }),
    ),
  );
  await svc.close();
  const lines: string[] = [];
  for await (const line of exportStore(store)) lines.push(line.trimEnd());
  const out = lines.slice(0, 2);
  for (const line of lines.slice(2)) {
    out.push(line);
    for (let c = 1; c < copies; c++) {
      const record = JSON.parse(line) as { id: string };
      record.id = `${record.id}-${c}`;
      out.push(JSON.stringify(record));
    }
  }
  return { store, lines: out };
}

/** The rows an import writes as the exporting store had them (not versions, population ids or times). */
function rows(file: string) {
  const db = new Database(file, { readonly: true });
  try {
    return {
      identities: db
        .prepare(
          "SELECT id, detector, threshold, n_samples, n_features, template, enrolled_at, updated_at FROM identities ORDER BY id",
        )
        .all(),
      samples: db.prepare("SELECT id, seq, vector FROM enrol_samples ORDER BY id, seq").all(),
      replay: db.prepare("SELECT id, hash, kind FROM replay ORDER BY id, hash").all(),
      audit: db.prepare("SELECT id, action, outcome, score FROM audit ORDER BY id").all(),
    };
  } finally {
    db.close();
  }
}

describe("users import on SQLite", () => {
  it("stores the exporting store's template and sample texts, byte for byte", async () => {
    const { store, lines } = await exported(1);
    const copy = await openStore(tempStorePath());
    try {
      expect(await importStore(copy, feed(lines))).toMatchObject({ users: 8 });
      const a = rows(store.location);
      const b = rows(copy.location);
      expect(b.identities).toEqual(a.identities);
      expect(b.identities).toHaveLength(8);
      expect(b.samples).toEqual(a.samples);
      expect(b.replay).toEqual(a.replay);
      expect(b.audit.filter((r) => (r as { action: string }).action === "import")).toHaveLength(8);
    } finally {
      await store.close();
      await copy.close();
    }
  });

  it("the compiled import parses in a worker thread and lands, or stops, as the in-thread one does", async () => {
    const { store, lines } = await exported(60);
    await store.close();
    const { importStore: importCompiled } = await dist<Transfer>("identity/transfer.js");
    const { openStore: openCompiled } = await dist<Stores>("store/index.js");
    const threads = () => readdirSync("/proc/self/task").length;
    const run = async (input: string[], parallel: boolean) => {
      const s = await openCompiled(tempStorePath());
      const before = threads();
      let most = before;
      const poll = setInterval(() => (most = Math.max(most, threads())), 1);
      const result = await importCompiled(s, feed(input), { file: "x.ndjson", batch: 100, parallel }).catch(
        (e: unknown) => e,
      );
      clearInterval(poll);
      await s.close();
      return { result, rows: rows(s.location), extraThreads: most - before };
    };
    const inThread = await run(lines, false);
    const worker = await run(lines, true);
    expect(inThread.result).toEqual({ users: 480, populations: 1, replaced: 0 });
    expect(worker.result).toEqual(inThread.result);
    expect(worker.extraThreads).toBeGreaterThan(0);
    expect(inThread.extraThreads).toBe(0);
    expect(worker.rows.identities).toEqual(inThread.rows.identities);
    expect(worker.rows.samples).toEqual(inThread.rows.samples);
    expect(worker.rows.replay).toEqual(inThread.rows.replay);

    // a bad line in the third batch (line 250): the two batches before it landed whole, nothing after
    const bad = [...lines];
    bad[249] = bad[249]!.replace('"samples":[[', '"samples":[["x",');
    const stopped = [await run(bad, false), await run(bad, true)];
    for (const r of stopped) {
      expect(r.result).toMatchObject({ code: "BAD_ROW", place: { file: "x.ndjson", line: 250 } });
      expect(String((r.result as Error).message)).toMatch(
        /the 200 user\(s\) and 1 population\(s\) on lines 1–202 of x\.ndjson were imported/,
      );
      expect(r.rows.identities).toHaveLength(200);
    }
    expect(stopped[1]!.rows.identities).toEqual(stopped[0]!.rows.identities);
  }, 120_000);
});
