import { afterEach, describe, expect, it } from "vitest";
import { KeystrokeError } from "../../src/errors.js";
import type { ModelDir } from "../../src/models/store.js";
import type { Verifier } from "../../src/predict/index.js";
import type { KeystrokeServer } from "../../src/server/app.js";
import { formatWindow, parseRateLimit, parseTrustProxy } from "../../src/server/rate-limit.js";
import { fakeModel } from "../predict/fakes.js";
import { fakeModelDir, serverHarness } from "./harness.js";

// The server's limits (batch size, keys per sample, time range, claim length), rate limiting, the token
// check and what the logs leave out, on fake models so that each case is quick and exact.

const contract = {
  HT: { Mean: 48.43, STD: 23.34 },
  PPT: { Mean: 120, STD: 40 },
  RRT: { Mean: 119, STD: 41 },
  RPT: { Mean: 70, STD: 38 },
};
const sample = { press: [0, 100, 250], release: [80, 190, 300] };

function fakeDir(): ModelDir {
  return fakeModelDir([
    fakeModel("RF", "summary", null, [0.2, 0.5, 0.3]),
    fakeModel("RF", "timings", 3, [0.1, 0.1, 0.8]),
  ]);
}

const verifier: Verifier = {
  verify(user, vector) {
    if (user === 999)
      throw new KeystrokeError("UNKNOWN_USER", `no template for user ${user}`, { field: "UserID" });
    // a bug in a detector: the server must answer 500 without a stack and log nothing of the sample
    if (user === 666) throw new TypeError("detector state is broken");
    return {
      UserID: user,
      accepted: vector[0]! < 100,
      anomaly_score: 0.2,
      confidence_score: 0.8,
      threshold: 0.5,
      detector: "manhattan-scaled",
      policy: { kind: "eer" },
      replay: false,
      scripted: false,
    };
  },
};

const harness = serverHarness({ loadModels: async () => fakeDir(), verifier });
const { make } = harness;
afterEach(() => harness.closeAll());

const post = (
  s: KeystrokeServer,
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
  remoteAddress?: string,
) =>
  s.app.inject({
    method: "POST",
    url,
    payload: typeof body === "string" ? body : JSON.stringify(body),
    headers: { "content-type": "application/json", ...headers },
    ...(remoteAddress ? { remoteAddress } : {}),
  });
const ndjson = (n: number, line = JSON.stringify(sample)) =>
  Array.from({ length: n }, () => line).join("\n") + "\n";
const timings = (n: number, step = 10) => ({
  press: Array.from({ length: n }, (_, i) => i * step),
  release: Array.from({ length: n }, (_, i) => i * step + 5),
});

describe("batch size (--max-batch)", () => {
  it("refuses a JSON array or an NDJSON body over the limit whole, with one clear message", async () => {
    const s = await make({ maxBatch: 4 });
    for (const url of ["/predict", "/verify"]) {
      const item = url === "/verify" ? { ...sample, UserID: 1 } : sample;
      const ok = await post(
        s,
        url,
        Array.from({ length: 4 }, () => item),
      );
      expect(ok.statusCode).toBe(200);
      expect(ok.json()).toHaveLength(4);
      const over = await post(
        s,
        url,
        Array.from({ length: 5 }, () => item),
      );
      expect(over.statusCode).toBe(400);
      expect(over.json()).toMatchObject({ code: "BAD_REQUEST", field: "body" });
      expect(over.json().error).toMatch(/at most 4 requests.*this one has 5/);

      const nd = { "content-type": "application/x-ndjson" };
      const okNd = await post(s, url, ndjson(4, JSON.stringify(item)), nd);
      expect(okNd.statusCode).toBe(200);
      expect(okNd.body.trim().split("\n")).toHaveLength(4);
      // blank lines are not requests, so they do not count
      expect((await post(s, url, "\n\n" + ndjson(4, JSON.stringify(item)) + "\n \n", nd)).statusCode).toBe(
        200,
      );
      const overNd = await post(s, url, ndjson(5, JSON.stringify(item)), nd);
      expect(overNd.statusCode).toBe(400);
      expect(overNd.headers["content-type"]).toMatch(/^application\/json/);
      expect(overNd.json().error).toMatch(/at most 4 requests.*this one has 5/);
    }
  });

  it("defaults to 1000", async () => {
    const s = await make();
    expect(
      (await post(s, "/predict", ndjson(1000, "{}"), { "content-type": "application/x-ndjson" })).statusCode,
    ).toBe(200);
    expect(
      (await post(s, "/predict", ndjson(1001, "{}"), { "content-type": "application/x-ndjson" })).json()
        .error,
    ).toMatch(/at most 1000 requests/);
    expect(
      (
        await post(
          s,
          "/predict",
          Array.from({ length: 1001 }, () => ({})),
        )
      ).statusCode,
    ).toBe(400);
  });
});

describe("keys per sample (--max-keys)", () => {
  it("refuses a sample with more keys than allowed, naming the field, in every request form", async () => {
    const s = await make({ maxKeys: 10 });
    // the fake timings model takes 3 keys: allow_summary lets the summary model answer longer samples
    expect((await post(s, "/predict", { ...timings(10), allow_summary: true })).statusCode).toBe(200);
    const cases: Array<[string, unknown, string]> = [
      ["/predict", timings(11), "press"],
      [
        "/predict",
        { keystrokes: timings(11).press.map((p) => ({ press: p, release: p + 5 })) },
        "keystrokes",
      ],
      ["/verify", { ...timings(11), UserID: 1 }, "press"],
    ];
    for (const [url, body, field] of cases) {
      const r = await post(s, url, body);
      expect(r.statusCode).toBe(400);
      expect(r.json()).toMatchObject({ code: "BAD_REQUEST", field });
      expect(r.json().error).toMatch(/has 11 keys; at most 10/);
    }
    // inside a batch the refusal takes the request's place
    const batch = (await post(s, "/predict", [timings(3), timings(11)])).json();
    expect(batch[0]).toMatchObject({ UserID: 30 });
    expect(batch[1]).toMatchObject({ index: 1, field: "press" });
  });

  it("defaults to 4096", async () => {
    const s = await make({ bodyLimit: 1 << 20 });
    expect((await post(s, "/predict", { ...timings(4096), allow_summary: true })).statusCode).toBe(200);
    expect((await post(s, "/predict", timings(4097))).json().error).toMatch(/at most 4096/);
  });
});

describe("numbers at the border", () => {
  it("refuses times beyond 2^53 ms and non-finite numbers with 400 naming the field", async () => {
    const s = await make();
    const cases: Array<[string, string]> = [
      ['{"press":[0,1e300],"release":[1,2e300]}', "press[1]"],
      ['{"press":[0,1],"release":[1,1e999]}', "release[1]"],
      ['{"press":[0,1],"release":[1,9007199254740993]}', "release[1]"],
      [
        '{"HT":{"Mean":1e308,"STD":1},"PPT":{"Mean":1,"STD":1},"RRT":{"Mean":1,"STD":1},"RPT":{"Mean":1,"STD":1}}',
        "HT.Mean",
      ],
      [
        '{"HT":{"Mean":1,"STD":1},"PPT":{"Mean":1,"STD":1},"RRT":{"Mean":-1e300,"STD":1},"RPT":{"Mean":1,"STD":1}}',
        "RRT.Mean",
      ],
      ['{"keystrokes":[{"press":0,"release":1},{"press":1e20,"release":1e20}]}', "keystrokes[1].press"],
    ];
    for (const [body, field] of cases) {
      const r = await post(s, "/predict", body);
      expect(r.statusCode, body).toBe(400);
      expect(r.json().field, body).toBe(field);
    }
    // the largest allowed times still give finite features and a finite answer
    const max = Number.MAX_SAFE_INTEGER;
    const big = await post(s, "/predict", { press: [0, max - 2, max - 1], release: [max - 3, max - 1, max] });
    expect(big.statusCode).toBe(200);
    expect(big.json().confidence).toBeGreaterThan(0);
  });

  it("bounds the length of a claimed user id, so messages never echo a long string", async () => {
    const s = await make();
    const long = await post(s, "/verify", { ...sample, UserID: "u".repeat(257) });
    expect(long.statusCode).toBe(400);
    expect(long.json()).toMatchObject({ field: "UserID" });
    expect(long.body).not.toMatch(/u{40}/);
    expect((await post(s, "/verify", { ...sample, UserID: "u".repeat(256) })).statusCode).toBe(200);
  });
});

describe("rate limiting (--rate-limit)", () => {
  it("answers 429 with Retry-After and {error} over the budget, per client address; /health is exempt", async () => {
    const s = await make({ rateLimit: { max: 3, windowMs: 60_000 } });
    for (let i = 0; i < 3; i++)
      expect((await post(s, "/predict", sample, {}, "10.0.0.1")).statusCode).toBe(200);
    const limited = await post(s, "/predict", sample, {}, "10.0.0.1");
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers["retry-after"])).toBeGreaterThan(0);
    expect(Number(limited.headers["retry-after"])).toBeLessThanOrEqual(60);
    expect(limited.headers["content-type"]).toMatch(/^application\/json/);
    expect(limited.json()).toMatchObject({ code: "RATE_LIMITED" });
    expect(limited.json().error).toMatch(/at most 3 per 1m/);
    // every route but /health shares the budget, unknown ones included
    expect(
      (await s.app.inject({ method: "GET", url: "/models", remoteAddress: "10.0.0.1" })).statusCode,
    ).toBe(429);
    expect((await s.app.inject({ method: "GET", url: "/nope", remoteAddress: "10.0.0.1" })).statusCode).toBe(
      429,
    );
    for (let i = 0; i < 10; i++)
      expect(
        (await s.app.inject({ method: "GET", url: "/health", remoteAddress: "10.0.0.1" })).statusCode,
      ).toBe(200);
    expect((await post(s, "/predict", sample, {}, "10.0.0.2")).statusCode).toBe(200);
    expect((await s.app.inject({ method: "GET", url: "/metrics", remoteAddress: "10.0.0.3" })).body).toMatch(
      /keystroke_id_rejected_inputs_total\{reason="RATE_LIMITED"\} 3/,
    );
  });

  it("counts requests with a wrong token too, so tokens cannot be guessed at full speed", async () => {
    const s = await make({ rateLimit: { max: 2, windowMs: 1000 }, token: "s3cret" });
    expect(
      (await post(s, "/predict", sample, { authorization: "Bearer guess1" }, "10.0.0.9")).statusCode,
    ).toBe(401);
    expect(
      (await post(s, "/predict", sample, { authorization: "Bearer guess2" }, "10.0.0.9")).statusCode,
    ).toBe(401);
    expect(
      (await post(s, "/predict", sample, { authorization: "Bearer s3cret" }, "10.0.0.9")).statusCode,
    ).toBe(429);
  });

  it("behind a proxy (--trust-proxy), counts each forwarded client, not the proxy; without it, the proxy", async () => {
    const proxied = await make({ rateLimit: { max: 2, windowMs: 60_000 }, trustProxy: 1 });
    const via = (client: string) =>
      post(proxied, "/predict", sample, { "x-forwarded-for": client }, "10.0.0.254");
    expect((await via("203.0.113.1")).statusCode).toBe(200);
    expect((await via("203.0.113.1")).statusCode).toBe(200);
    expect((await via("203.0.113.1")).statusCode).toBe(429);
    expect((await via("203.0.113.2")).statusCode).toBe(200);
    // not trusted: the header is ignored and every client behind the proxy shares its budget
    const direct = await make({ rateLimit: { max: 2, windowMs: 60_000 } });
    const viaUntrusted = (client: string) =>
      post(direct, "/predict", sample, { "x-forwarded-for": client }, "10.0.0.254");
    expect((await viaUntrusted("203.0.113.1")).statusCode).toBe(200);
    expect((await viaUntrusted("203.0.113.2")).statusCode).toBe(200);
    expect((await viaUntrusted("203.0.113.3")).statusCode).toBe(429);
  });

  it("parses --trust-proxy as hops or proxy addresses and refuses anything else, naming the flag", () => {
    expect(parseTrustProxy("1")).toBe(1);
    expect(parseTrustProxy("10.0.0.1, 192.168.0.0/16,::1")).toBe("10.0.0.1,192.168.0.0/16,::1");
    for (const bad of ["", "0", "33", "true", "10.0.0", "10.0.0.1/", "example.com", "1.5"]) {
      expect(() => parseTrustProxy(bad), bad).toThrow(/flag --trust-proxy: .*not a proxy setting/);
    }
  });

  it("is off unless asked for", async () => {
    const s = await make();
    for (let i = 0; i < 50; i++)
      expect((await post(s, "/predict", sample, {}, "10.0.0.1")).statusCode).toBe(200);
  });

  it("parses n[/window] and refuses anything else, naming the flag", () => {
    expect(parseRateLimit("100")).toEqual({ max: 100, windowMs: 60_000 });
    expect(parseRateLimit("100/1m")).toEqual({ max: 100, windowMs: 60_000 });
    expect(parseRateLimit("20/30s")).toEqual({ max: 20, windowMs: 30_000 });
    expect(parseRateLimit("5000/h")).toEqual({ max: 5000, windowMs: 3_600_000 });
    expect(parseRateLimit(" 10/500ms ")).toEqual({ max: 10, windowMs: 500 });
    expect(parseRateLimit("3/1.5s")).toEqual({ max: 3, windowMs: 1500 });
    for (const bad of ["", "0", "-1", "1.5", "10/", "10/1d", "10/0s", "10/25h", "x/1m", "10/1m/2", "1e3"]) {
      expect(() => parseRateLimit(bad), bad).toThrow(/flag --rate-limit: .*not a rate limit/);
    }
    expect([60_000, 30_000, 3_600_000, 1500, 7].map(formatWindow)).toEqual([
      "1m",
      "30s",
      "1h",
      "1500ms",
      "7ms",
    ]);
  });
});

describe("bearer token", () => {
  it("refuses a missing, wrong or differently-schemed token with 401 {error} and WWW-Authenticate", async () => {
    const s = await make({ token: "s3cret" });
    const refused = [
      {},
      { authorization: "" },
      { authorization: "Bearer" },
      { authorization: "Bearer " },
      { authorization: "Bearer wrong" },
      { authorization: "Bearer s3cret2" },
      { authorization: "Bearer s3cre" },
      { authorization: "Basic czNjcmV0" },
      { authorization: "s3cret" },
      { authorization: "Token s3cret" },
      { authorization: "Bearer  s3cret" },
    ];
    for (const h of refused) {
      const r = await post(s, "/predict", sample, h as Record<string, string>);
      expect(r.statusCode, JSON.stringify(h)).toBe(401);
      expect(r.headers["www-authenticate"]).toMatch(/^Bearer/);
      expect(r.json().error).toMatch(/bearer token/);
    }
    // the scheme is case-insensitive (RFC 7235); the token is not
    expect((await post(s, "/predict", sample, { authorization: "Bearer s3cret" })).statusCode).toBe(200);
    expect((await post(s, "/predict", sample, { authorization: "bearer s3cret" })).statusCode).toBe(200);
    expect((await post(s, "/predict", sample, { authorization: "Bearer S3CRET" })).statusCode).toBe(401);
    expect((await s.app.inject({ method: "GET", url: "/health" })).statusCode).toBe(200);
  });
});

describe("logs at trace", () => {
  it("never carry the raw timings or the claimed user sent, whether the request is answered, refused or fails inside", async () => {
    const logs: string[] = [];
    const s = await make({ logLevel: "trace" }, logs);
    const v = [123.456789, 234.567891, 345.678912, 456.789123];
    const t = { press: [v[0]!, v[1]!, v[2]!], release: [v[1]!, v[2]!, v[3]!] };
    const statuses = [
      (await post(s, "/predict", t)).statusCode,
      (await post(s, "/predict", { ...contract, HT: { Mean: v[0], STD: v[1] } })).statusCode,
      (await post(s, "/predict", [t, { press: [v[2], v[0]], release: [v[3], v[1]] }])).statusCode,
      (
        await post(s, "/predict", `${JSON.stringify(t)}\n{"press":[${v[0]}`, {
          "content-type": "application/x-ndjson",
        })
      ).statusCode,
      (await post(s, "/predict", `{"press":[${v[0]},${v[1]}],"release":[${v[2]}, oops]}`)).statusCode,
      (await post(s, "/predict", { press: [v[0], v[1]], release: [v[2], "x"] })).statusCode,
      (await post(s, "/verify", { ...t, UserID: 1 })).statusCode,
      (await post(s, "/verify", { ...t, UserID: 999 })).statusCode,
      (await post(s, "/verify", { ...t, UserID: 666 })).statusCode,
      (await post(s, "/predict", { ...t, pad: "x".repeat(70_000) })).statusCode,
      (await post(s, "/predict", JSON.stringify(t), { "content-type": "text/plain" })).statusCode,
      (await post(s, "/verify", { ...t, UserID: "claimant-7f3a9" })).statusCode,
      (await post(s, "/verify", { ...t, UserID: ["claimant-7f3a9"] })).statusCode,
    ];
    expect(statuses).toEqual([200, 200, 200, 200, 400, 400, 200, 404, 500, 413, 415, 200, 400]);
    const text = logs.join("");
    // the log is really at trace and really saw the failures
    expect(text).toMatch(/incoming request/);
    expect(text).toMatch(/detector state is broken/);
    // nor who the sample claimed to be
    expect(text).not.toContain("claimant-7f3a9");
    for (const x of v) {
      const digits = String(x).replace(".", "");
      expect(text).not.toContain(String(x));
      expect(text).not.toContain(digits.slice(0, 7));
    }
  });

  it("answer an internal error with a bare message, never a stack", async () => {
    const s = await make();
    const r = await post(s, "/verify", { ...sample, UserID: 666 });
    expect(r.statusCode).toBe(500);
    expect(r.json()).toEqual({ error: "internal error", code: "INTERNAL" });
  });
});

describe("slow clients (timeouts)", () => {
  /** Opens a raw connection, writes `first` and then nothing; resolves with what the server sent and when the connection closed. */
  async function slowClient(
    port: number,
    first: string,
    holdMs: number,
  ): Promise<{ text: string; closedAfterMs: number }> {
    const { connect } = await import("node:net");
    return new Promise((resolve, reject) => {
      const t0 = performance.now();
      const socket = connect(port, "127.0.0.1", () => socket.write(first));
      let text = "";
      socket.on("data", (d: Buffer) => (text += d.toString()));
      socket.on("error", reject);
      socket.on("close", () => resolve({ text, closedAfterMs: performance.now() - t0 }));
      // a client that never finishes; the server must not wait for it forever
      setTimeout(() => socket.destroy(), holdMs).unref();
    });
  }

  it("answers 408 and hangs up on a client that sends its headers, or its body, too slowly", async () => {
    const s = await make({ timeouts: { headersMs: 300, requestMs: 600, checkMs: 50 } });
    const { port } = await s.listen("127.0.0.1", 0);
    const headers = await slowClient(
      port,
      "POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n",
      5000,
    );
    expect(headers.text).toMatch(/^HTTP\/1\.1 408/);
    expect(headers.closedAfterMs).toBeLessThan(2000);
    const body = await slowClient(
      port,
      'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"press":',
      5000,
    );
    expect(body.text).toMatch(/^HTTP\/1\.1 408/);
    expect(body.closedAfterMs).toBeLessThan(2500);
    // a client that sends in time is answered as usual
    const ok = await fetch(`http://127.0.0.1:${port}/predict`, {
      method: "POST",
      body: JSON.stringify(sample),
      headers: { "content-type": "application/json" },
    });
    expect(ok.status).toBe(200);
  });
});
