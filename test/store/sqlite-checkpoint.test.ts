import { copyFileSync, existsSync, statSync } from "node:fs";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { openStore } from "../../src/store/index.js";
import { storeContract } from "./contract.js";
import { tempStorePath } from "./helpers.js";

// serve's SQLite store: a background thread checkpoints the WAL (src/store/sqlite.ts, startCheckpointer)
storeContract("SQLite with its background checkpointer", {
  fresh: () => openStore(tempStorePath(), { checkpointEveryMs: 5 }),
  reopen: (s) => openStore(s.location, { checkpointEveryMs: 5 }),
});

/** The settings the database file itself holds, without its WAL: what a checkpoint has copied there. */
let copies = 0;
function settingsInTheFileAlone(path: string): string[] {
  const copy = `${path}.copy${++copies}`;
  copyFileSync(path, copy);
  expect(existsSync(`${copy}-wal`)).toBe(false);
  const db = new Database(copy, { readonly: true });
  try {
    // not even the schema checkpointed yet: nothing of ours in the file
    if (!db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'meta'").get()) return [];
    const rows = db.prepare("SELECT key FROM meta WHERE key LIKE 'setting:%' ORDER BY key").all() as Array<{
      key: string;
    }>;
    return rows.map((r) => r.key);
  } finally {
    db.close();
  }
}

async function until(ok: () => boolean, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (ok()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return ok();
}

describe("the SQLite store's background checkpointer", () => {
  it("copies committed writes into the database file soon, where the writer's own checkpoint waits for 1,000 pages", async () => {
    const keys = ["setting:a", "setting:b", "setting:c"];
    const withThread = tempStorePath();
    const without = tempStorePath();
    const a = await openStore(withThread, { checkpointEveryMs: 5 });
    const b = await openStore(without);
    try {
      for (const s of [a, b]) for (const k of keys) await s.policy.setSetting(k.slice(8), "x");
      // three small commits: far below the automatic checkpoint's 1,000 pages, so only the thread copies them
      expect(await until(() => settingsInTheFileAlone(withThread).length === 3, 5000)).toBe(true);
      expect(settingsInTheFileAlone(withThread)).toEqual(keys);
      expect(settingsInTheFileAlone(without)).toEqual([]);
      // and the store reads them as ever
      expect(await a.policy.getSetting("b")).toBe("x");
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("keeps the WAL bounded under a stream of commits, and close() stops the thread", async () => {
    const path = tempStorePath();
    // the writer's own mark at 4,096 pages (serve's is 32,768: 65,536 one-row commits to cross it)
    const s = await openStore(path, { checkpointEveryMs: 5, writerCheckpointPages: 4096 });
    let peak = 0;
    try {
      // 6,000 one-row transactions: more WAL frames than the writer's own checkpoint mark (4,096 pages)
      for (let i = 0; i < 6000; i++) {
        await s.policy.setSetting(`k${i}`, "x");
        if (i % 500 === 0 && existsSync(`${path}-wal`)) peak = Math.max(peak, statSync(`${path}-wal`).size);
      }
    } finally {
      await s.close();
    }
    // the WAL restarted instead of growing with every commit (two pages each, 12,000 frames, 49 MB): it
    // stays under twice the writer's 4,096-page mark (it overshoots by what commits while the thread
    // holds the checkpoint lock, which makes the writer's own checkpoint skip)
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThan(2 * 4096 * (4096 + 24));
    // closed: the last connection's close checkpointed and removed the WAL, so no thread holds the file
    expect(existsSync(`${path}-wal`)).toBe(false);
  });
});

describe("openStore's writerCheckpointPages", () => {
  it("refuses a mark that is not a whole number of pages, naming the option, before touching the file", async () => {
    const path = tempStorePath();
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      await expect(
        openStore(path, { checkpointEveryMs: 5, writerCheckpointPages: bad }),
      ).rejects.toMatchObject({
        code: "BAD_FLAG",
        place: { option: "writerCheckpointPages" },
      });
    }
    expect(existsSync(path)).toBe(false);
  });
});
