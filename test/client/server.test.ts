import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openIdentities, type OpenedIdentities } from "../../src/identity/open.js";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, KeystrokeApiError } from "../../src/client/client.js";
import { createServer, type KeystrokeServer } from "../../src/server/app.js";
import { trainedDir } from "../server/trained.js";

/** The first row of the training CSV of user `user` as a keystrokes sample (what the recorder sends). */
function sampleOf(csv: string, user: number, nth = 0) {
  const rows = readFileSync(csv, "utf8")
    .trim()
    .split("\n")
    .slice(1)
    .map((r) => r.split(",").map(Number));
  const row = rows.filter((r) => r[r.length - 1] === user)[nth]!;
  const keys = (row.length - 1) / 2;
  return {
    keystrokes: Array.from({ length: keys }, (_, i) => ({
      key: `k${i}`,
      press: row[2 * i]!,
      release: row[2 * i + 1]!,
    })),
  };
}

const quiet = new Writable({ write: (_c, _e, cb) => cb() });

describe("keystroke-id/client against keystroke-id serve", () => {
  let server: KeystrokeServer;
  let url: string;
  let csv: string;
  let ids: OpenedIdentities;
  let storeDir: string;

  beforeAll(async () => {
    const t = await trainedDir("rf");
    csv = t.csv;
    // a tight rate limit, so that the client's retries meet real 429s with a real Retry-After
    storeDir = mkdtempSync(join(tmpdir(), "kid-client-store-"));
    ids = await openIdentities({ store: join(storeDir, "ids.db") });
    server = await createServer({
      modelsDir: t.dir,
      logStream: quiet,
      processMetrics: false,
      rateLimit: { max: 3, windowMs: 1000 },
      identities: ids.service,
    });
    url = (await server.listen("127.0.0.1", 0)).url;
  }, 180_000);
  afterAll(async () => {
    await server?.close();
    await ids?.close();
    if (storeDir) rmSync(storeDir, { recursive: true, force: true });
  });

  it("identifies, verifies and reads health, getting through the rate limit by honouring Retry-After", async () => {
    const client = createClient({ baseUrl: url, retry: { retries: 5, maxDelayMs: 2000 } });
    expect(await client.health()).toEqual({ status: "ok", ready: true, store: "ok" });
    const status = await client.status();
    expect(status.models.map((m) => m.Model)).toContain("RF");
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await client.predict(sampleOf(csv, 2, i)));
    expect(answers.every((a) => a.Model === "RF")).toBe(true);
    const enrolled = await client.enroll({
      UserID: 2,
      samples: [0, 1, 2, 3, 4, 5].map((i) => sampleOf(csv, 2, i)),
    });
    expect(enrolled).toMatchObject({ UserID: 2, samples: 6 });
    expect(await client.user(2)).toMatchObject({ UserID: 2, samples: 6 });
    const v = await client.verify({ UserID: 2, ...sampleOf(csv, 2, 7) });
    expect(typeof v.accepted).toBe("boolean");
    expect(v.UserID).toBe(2);
  });

  it("without retries, the 429 surfaces with its Retry-After", async () => {
    await new Promise((r) => setTimeout(r, 1100)); // a fresh window
    const client = createClient({ baseUrl: url, retry: { retries: 0 } });
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, () => client.predict(sampleOf(csv, 1))),
    );
    const refused = results.filter((r) => r.status === "rejected").map((r) => r.reason as KeystrokeApiError);
    expect(refused.length).toBeGreaterThanOrEqual(2);
    expect(refused[0]).toBeInstanceOf(KeystrokeApiError);
    expect(refused[0]!.status).toBe(429);
    expect(refused[0]!.retryAfterMs).toBeGreaterThanOrEqual(0);
  });

  it("a bad sample is a 400 naming the field", async () => {
    await new Promise((r) => setTimeout(r, 1100));
    const client = createClient({ baseUrl: url });
    const bad = {
      UserID: 1,
      keystrokes: [
        { press: 10, release: 5 },
        { press: 20, release: 30 },
      ],
    };
    await expect(client.verify(bad)).rejects.toMatchObject({
      status: 400,
      body: { code: "BAD_REQUEST", field: "keystrokes[0].release" },
    });
  });
});
