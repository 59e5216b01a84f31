import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createClient, KeystrokeApiError, parseRetryAfter } from "../../src/client/client.js";

type Reply = { status: number; headers?: Record<string, string>; body?: unknown };

/** A real HTTP server that answers with the scripted replies in turn, recording what it was sent. */
async function scripted(replies: Reply[]) {
  const seen: Array<{ method: string; url: string; auth?: string; body: string; at: number }> = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      seen.push({
        method: req.method!,
        url: req.url!,
        ...(req.headers.authorization ? { auth: req.headers.authorization } : {}),
        body,
        at: Date.now(),
      });
      const r = replies[Math.min(seen.length - 1, replies.length - 1)]!;
      res.writeHead(r.status, { "content-type": "application/json", ...r.headers });
      res.end(typeof r.body === "string" ? r.body : JSON.stringify(r.body ?? {}));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  servers.push(server);
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/`, seen };
}

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

const verification = {
  UserID: "ann",
  accepted: true,
  anomaly_score: 0.1,
  confidence_score: 80,
  threshold: 0.5,
  detector: "manhattan-robust-cohort",
  replay: false,
  scripted: false,
};
const sample = {
  UserID: "ann",
  keystrokes: [
    { key: "a", press: 0, release: 80 },
    { key: "b", press: 150, release: 230 },
  ],
};

describe("keystroke-id/client against a real HTTP server", () => {
  it("sends JSON with the bearer token and returns the parsed answer", async () => {
    const srv = await scripted([{ status: 200, body: verification }]);
    const client = createClient({ baseUrl: srv.url, token: "t0k" });
    expect(await client.verify(sample)).toEqual(verification);
    expect(srv.seen).toEqual([
      expect.objectContaining({ method: "POST", url: "/verify", auth: "Bearer t0k" }),
    ]);
    expect(JSON.parse(srv.seen[0]!.body)).toEqual(sample);
  });

  it("retries 429 and 503 with the waits Retry-After asks for (seconds and HTTP date), then succeeds", async () => {
    const srv = await scripted([
      { status: 429, headers: { "retry-after": "2" }, body: { error: "slow down", code: "429" } },
      {
        status: 503,
        headers: { "retry-after": new Date(Date.now() + 60_000).toUTCString() },
        body: { error: "closing" },
      },
      { status: 503, body: { error: "closing" } },
      { status: 200, body: verification },
    ]);
    const waits: number[] = [];
    const client = createClient({
      baseUrl: srv.url,
      retry: { retries: 3, maxDelayMs: 120_000, baseDelayMs: 100 },
      sleep: async (ms) => void waits.push(ms),
    });
    expect(await client.verify(sample)).toEqual(verification);
    expect(srv.seen).toHaveLength(4);
    expect(waits[0]).toBe(2000);
    expect(waits[1]).toBeGreaterThan(55_000); // the date, a minute ahead (HTTP dates have 1 s resolution)
    expect(waits[1]).toBeLessThanOrEqual(60_000);
    expect(waits[2]).toBe(400); // no Retry-After: 100 ms doubled per attempt, third retry
  });

  it("really waits the Retry-After delay with the default sleep", async () => {
    const srv = await scripted([
      { status: 429, headers: { "retry-after": "1" }, body: { error: "slow down" } },
      { status: 200, body: verification },
    ]);
    await createClient({ baseUrl: srv.url }).verify(sample);
    expect(srv.seen[1]!.at - srv.seen[0]!.at).toBeGreaterThanOrEqual(950);
  });

  it("gives up after the bounded number of retries with the last error", async () => {
    const srv = await scripted([
      { status: 503, headers: { "retry-after": "0" }, body: { error: "no models", code: "NO_MODELS" } },
    ]);
    const client = createClient({ baseUrl: srv.url, retry: { retries: 2 } });
    const e = await client.verify(sample).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(KeystrokeApiError);
    expect(e).toMatchObject({ status: 503, attempts: 3, code: "NO_MODELS", retryAfterMs: 0 });
    expect(srv.seen).toHaveLength(3);
  });

  it("does not wait for a Retry-After beyond maxDelayMs: fails at once", async () => {
    const srv = await scripted([
      { status: 429, headers: { "retry-after": "3600" }, body: { error: "slow down" } },
    ]);
    const waits: number[] = [];
    const client = createClient({
      baseUrl: srv.url,
      retry: { maxDelayMs: 5000 },
      sleep: async (ms) => void waits.push(ms),
    });
    await expect(client.verify(sample)).rejects.toMatchObject({
      status: 429,
      attempts: 1,
      retryAfterMs: 3_600_000,
    });
    expect(waits).toEqual([]);
    expect(srv.seen).toHaveLength(1);
  });

  it("never retries other errors, and keeps the server's field and code", async () => {
    const srv = await scripted([
      {
        status: 400,
        body: {
          error: "keystrokes[1].release a key cannot be released before it is pressed",
          code: "BAD_REQUEST",
          field: "keystrokes[1].release",
        },
      },
    ]);
    const e = (await createClient({ baseUrl: srv.url })
      .verify(sample)
      .catch((x: unknown) => x)) as KeystrokeApiError;
    expect(e.status).toBe(400);
    expect(e.body.field).toBe("keystrokes[1].release");
    expect(e.message).toMatch(/^HTTP 400: keystrokes\[1\]\.release/);
    expect(srv.seen).toHaveLength(1);
  });

  it("reports a non-JSON error page by its text", async () => {
    const srv = await scripted([{ status: 502, body: "<html>bad gateway</html>" }]);
    await expect(createClient({ baseUrl: srv.url }).health()).rejects.toMatchObject({
      status: 502,
      body: { error: "<html>bad gateway</html>" },
    });
  });

  it("passes ?top to /predict", async () => {
    const srv = await scripted([{ status: 200, body: { UserID: 1 } }]);
    await createClient({ baseUrl: srv.url }).predict({ press: [0, 100], release: [50, 150] }, { top: 5 });
    expect(srv.seen[0]!.url).toBe("/predict?top=5");
  });
});

describe("parseRetryAfter", () => {
  it("reads seconds and HTTP dates, and ignores junk", () => {
    expect(parseRetryAfter("3")).toBe(3000);
    expect(parseRetryAfter("0.5")).toBe(500);
    expect(
      parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", Date.parse("Wed, 21 Oct 2015 07:27:50 GMT")),
    ).toBe(10_000);
    expect(
      parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT", Date.parse("Wed, 21 Oct 2015 07:29:00 GMT")),
    ).toBe(0);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter("soon")).toBeUndefined();
  });
});
