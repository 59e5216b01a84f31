import { spawn } from "node:child_process";
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IdentityService } from "../../src/identity/service.js";
import type { ModelDir } from "../../src/models/store.js";
import { openStore } from "../../src/store/index.js";
import { ROOT } from "../helpers/cli.js";
import { fakeModel } from "../predict/fakes.js";
import { fakeModelDir, serverHarness } from "../server/harness.js";
import { rawSample, tempStorePath, userVectors } from "./helpers.js";
import { startPostgres, type TestPostgres } from "./pg.js";

describe("kill -9 during enrolment (real processes, SQLite)", () => {
  it("leaves each user fully enrolled or unchanged", async () => {
    const path = tempStorePath();
    const script = join(dirname(path), "enrol-loop.mjs");
    // a process that keeps re-enrolling users with 3..12 samples until it is killed
    writeFileSync(
      script,
      `import { openStore } from ${JSON.stringify(join(ROOT, "dist", "store", "index.js"))};
import { IdentityService } from ${JSON.stringify(join(ROOT, "dist", "identity", "service.js"))};
const store = await openStore(${JSON.stringify(path)});
const ids = new IdentityService(store);
const vectors = JSON.parse(process.argv[2]);
process.stdout.write("ready\\n");
for (let i = 0; ; i++) await ids.enroll("u" + (i % 4), vectors.slice(0, 3 + (i % 10)));
`,
    );
    const vectors = userVectors(1, 12);
    for (let round = 0; round < 6; round++) {
      const child = spawn(process.execPath, [script, JSON.stringify(vectors)], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      await once(child.stdout, "data");
      await new Promise((r) => setTimeout(r, 150 + 97 * round));
      child.kill("SIGKILL");
      await once(child, "exit");
      const store = await openStore(path);
      try {
        const users = await store.identities.list({ limit: 10 });
        if (round === 5) expect(users.length).toBeGreaterThan(0);
        for (const u of users) {
          const samples = await store.identities.samples(u.id);
          // the template, its samples and the samples' replay hashes were written together
          expect(samples.length, u.id).toBe(u.samples);
          expect(samples).toEqual(vectors.slice(0, u.samples));
        }
      } finally {
        await store.close();
      }
    }
  }, 120_000);
});

describe("PostgreSQL unreachable", () => {
  let pg: TestPostgres;
  beforeAll(async () => {
    pg = await startPostgres();
  }, 120_000);
  afterAll(async () => {
    await pg?.stop();
  });

  it("/health says not ready and /verify answers 503, never 500 and never an accept; both recover", async () => {
    const store = await openStore(await pg.database(), { connectTimeoutMs: 1000 });
    const ids = new IdentityService(store);
    const harness = serverHarness({
      loadModels: async (): Promise<ModelDir> => fakeModelDir([fakeModel("RF", "summary", null, [1])]),
    });
    try {
      await ids.enroll("alice", userVectors(1, 6));
      const s = await harness.make({ identities: ids });
      const verify = () =>
        s.app.inject({
          method: "POST",
          url: "/verify",
          payload: JSON.stringify({ ...rawSample(1, Math.random() * 1e6), UserID: "alice" }),
          headers: { "content-type": "application/json" },
        });
      expect((await verify()).statusCode).toBe(200);
      await pg.pause();
      const health = await s.app.inject({ method: "GET", url: "/health" });
      expect(health.statusCode).toBe(503);
      expect(health.json()).toMatchObject({ ready: false, store: "unavailable" });
      for (let i = 0; i < 3; i++) {
        const r = await verify();
        expect(r.statusCode).toBe(503);
        expect(r.json()).toMatchObject({ code: "STORE_UNAVAILABLE" });
        expect(r.body).not.toMatch(/accepted/);
      }
      const enrol = await s.app.inject({
        method: "POST",
        url: "/enroll",
        payload: JSON.stringify({
          UserID: "bob",
          samples: [rawSample(2, 1), rawSample(2, 2), rawSample(2, 3)],
        }),
        headers: { "content-type": "application/json" },
      });
      expect(enrol.statusCode).toBe(503);
      await pg.start();
      let ok = 0;
      for (let i = 0; i < 50 && ok === 0; i++) {
        if ((await s.app.inject({ method: "GET", url: "/health" })).statusCode === 200) ok++;
        else await new Promise((r) => setTimeout(r, 200));
      }
      expect(ok).toBe(1);
      expect((await verify()).statusCode).toBe(200);
    } finally {
      await harness.closeAll();
      await ids.close();
      await store.close();
    }
  }, 120_000);
});
