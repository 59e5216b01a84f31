import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { openIdentities, type OpenedIdentities } from "../../src/identity/open.js";
import { Ajv2020 } from "ajv/dist/2020.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type KeystrokeServer } from "../../src/server/app.js";
import { trainedDir, syntheticSample, KEYS } from "../server/trained.js";
import { createRng } from "../../src/util/random.js";

const quiet = () => new Writable({ write: (_c, _e, cb) => cb() });

interface Doc {
  openapi: string;
  paths: Record<
    string,
    Record<
      string,
      {
        tags?: string[];
        requestBody?: unknown;
        responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
      }
    >
  >;
}

describe("/openapi.json describes every route, and real answers (errors included) match it", () => {
  let open: KeystrokeServer;
  let ids: OpenedIdentities;
  let storeDir: string;
  let guarded: KeystrokeServer;
  let doc: Doc;
  let ajv: Ajv2020;
  const checked = new Set<string>();
  const rng = createRng(3);
  const keystrokes = (user: number) => {
    const s = syntheticSample(user, rng);
    return s.press.map((p, i) => ({ key: `k${i}`, press: p, release: s.release[i]! }));
  };

  beforeAll(async () => {
    const { dir } = await trainedDir("rf");
    storeDir = mkdtempSync(join(tmpdir(), "kid-openapi-store-"));
    ids = await openIdentities({ store: join(storeDir, "ids.db"), modelsDir: dir });
    open = await createServer({
      modelsDir: dir,
      logStream: quiet(),
      processMetrics: false,
      demo: true,
      bodyLimit: 4096,
      identities: ids.service,
    });
    guarded = await createServer({
      modelsDir: dir,
      logStream: quiet(),
      processMetrics: false,
      token: "s3cret",
      rateLimit: { max: 2, windowMs: 60_000 },
    });
    const r = await open.app.inject({ method: "GET", url: "/openapi.json" });
    expect(r.statusCode).toBe(200);
    doc = r.json<Doc>();
    ajv = new Ajv2020({ strict: false, allErrors: true });
    ajv.addSchema(doc, "doc");
  }, 180_000);
  afterAll(async () => {
    await open?.close();
    await guarded?.close();
    await ids?.close();
    if (storeDir) rmSync(storeDir, { recursive: true, force: true });
    const all = Object.entries(doc?.paths ?? {}).flatMap(([p, ops]) =>
      Object.entries(ops).flatMap(([m, op]) =>
        Object.keys(op.responses).map((s) => `${m.toUpperCase()} ${p} ${s}`),
      ),
    );
    process.stderr.write(
      `openapi test: ${checked.size} of ${all.length} documented answers exercised; not exercised: ${all.filter((a) => !checked.has(a)).join(", ")}\n`,
    );
  });

  /** Sends a request and checks the answer against the document's schema for its path, method, status and content type. */
  async function check(
    server: KeystrokeServer,
    method: "GET" | "POST" | "DELETE",
    url: string,
    options: {
      body?: unknown;
      raw?: string;
      type?: string;
      headers?: Record<string, string>;
      path?: string;
    } = {},
  ) {
    const payload = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
    const r = await server.app.inject({
      method,
      url,
      headers: {
        ...(payload !== undefined ? { "content-type": options.type ?? "application/json" } : {}),
        ...options.headers,
      },
      ...(payload !== undefined ? { payload } : {}),
    });
    const path = options.path ?? url.split("?")[0]!;
    const op = doc.paths[path]?.[method.toLowerCase()];
    expect(op, `${method} ${path} is in the document`).toBeDefined();
    const answer = op!.responses[String(r.statusCode)];
    expect(
      answer,
      `${method} ${path} documents status ${r.statusCode} (${r.body.slice(0, 200)})`,
    ).toBeDefined();
    const type = String(r.headers["content-type"] ?? "").split(";")[0]!;
    const content = answer!.content?.[type];
    expect(content, `${method} ${path} ${r.statusCode} documents ${type}`).toBeDefined();
    const pointer = [
      "paths",
      path,
      method.toLowerCase(),
      "responses",
      String(r.statusCode),
      "content",
      type,
      "schema",
    ]
      .map((p) => p.replace(/~/g, "~0").replace(/\//g, "~1"))
      .join("/");
    const value = type === "application/json" ? r.json() : r.body;
    const validate = ajv.getSchema(`doc#/${pointer}`)!;
    expect(validate(value), `${method} ${path} ${r.statusCode}: ${JSON.stringify(validate.errors)}`).toBe(
      true,
    );
    checked.add(`${method} ${path} ${r.statusCode}`);
    return r;
  }

  it("is OpenAPI 3.1 and every route has an entry (none tagged undocumented), with request bodies where routes take one", () => {
    expect(doc.openapi).toBe("3.1.0");
    const ops = Object.entries(doc.paths).flatMap(([p, o]) =>
      Object.entries(o).map(([m, op]) => ({ id: `${m.toUpperCase()} ${p}`, op })),
    );
    expect(ops.filter((o) => o.op.tags?.includes("undocumented")).map((o) => o.id)).toEqual([]);
    expect(ops.map((o) => o.id)).toEqual(
      expect.arrayContaining([
        "POST /predict",
        "POST /verify",
        "GET /health",
        "GET /status",
        "GET /models",
        "GET /metrics",
        "GET /recorder.js",
        "GET /demo",
        "GET /demo/config",
        "POST /demo/enroll",
        "POST /demo/verify",
        "POST /enroll",
        "POST /auto/{id}",
        "GET /users/{id}",
        "DELETE /users/{id}",
      ]),
    );
    for (const o of ops.filter((x) => x.id.startsWith("POST"))) expect(o.op.requestBody, o.id).toBeDefined();
  });

  it("answers of the API routes match, errors included", async () => {
    await check(open, "GET", "/health");
    await check(open, "GET", "/status");
    await check(open, "GET", "/models");
    await check(open, "GET", "/metrics");
    await check(open, "GET", "/recorder.js");
    const one = { keystrokes: keystrokes(2) };
    const p = await check(open, "POST", "/predict", { body: one });
    expect(p.json()).toMatchObject({ Model: "RF", top: expect.any(Array) }); // serialised by the response schema, nothing lost
    await check(open, "POST", "/predict?top=2", { body: [one, { press: [1] }] });
    // open-set identification: a stranger (user 9 types like none of users 1–4) is unknown; the plain answer has no such field
    expect(p.json()).not.toHaveProperty("unknown");
    const stranger = { keystrokes: keystrokes(9) };
    const os = await check(open, "POST", "/predict?reject_unknown=true", { body: [one, stranger] });
    expect(os.json()).toMatchObject([
      { UserID: 2, unknown: false, open_set: { target_fir: 0.05 } },
      { UserID: null, unknown: true },
    ]);
    const inBody = await check(open, "POST", "/predict", { body: { ...stranger, reject_unknown: true } });
    expect(inBody.json()).toMatchObject({
      UserID: null,
      unknown: true,
      open_set: { threshold: expect.any(Number) },
    });
    const nd = await check(open, "POST", "/predict?reject_unknown=true", {
      raw: JSON.stringify(stranger) + "\n" + JSON.stringify(one) + "\n",
      type: "application/x-ndjson",
    });
    expect(
      nd.body
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { unknown: boolean })
        .map((a) => a.unknown),
    ).toEqual([true, false]);
    expect((await check(open, "POST", "/predict?reject_unknown=maybe", { body: one })).statusCode).toBe(400);
    await check(open, "POST", "/predict", {
      raw: JSON.stringify(one) + "\n" + JSON.stringify(one) + "\n",
      type: "application/x-ndjson",
    });
    await check(open, "POST", "/predict", { raw: "{ bad json" });
    await check(open, "POST", "/predict", {
      body: {
        keystrokes: [
          { press: 5, release: 1 },
          { press: 6, release: 9 },
        ],
      },
    });
    await check(open, "POST", "/predict", { body: { ...one, Model: "XGB" } });
    await check(open, "POST", "/predict", { raw: "x".repeat(5000), type: "text/plain" });
    const big = await check(open, "POST", "/predict", {
      body: {
        keystrokes: keystrokes(1).concat(
          Array.from({ length: 200 }, (_, i) => ({ key: "k", press: 9000 + i, release: 9001 + i })),
        ),
      },
    });
    expect(big.statusCode).toBe(413);
    await check(guarded, "POST", "/predict", { body: one });
    await check(open, "POST", "/demo/verify", { body: { UserID: "carol" } });
    // user 1 enrolled through the API (train's own enrolment goes to whatever store it was given)
    expect(
      (
        await open.app.inject({
          method: "POST",
          url: "/enroll",
          payload: { UserID: 1, samples: Array.from({ length: 5 }, () => ({ keystrokes: keystrokes(1) })) },
        })
      ).statusCode,
    ).toBe(200);
    const v = await check(open, "POST", "/verify", { body: { UserID: 1, ...one } });
    expect(v.statusCode, v.body).toBe(200);
    expect(Object.keys(v.json<object>())).toEqual(
      expect.arrayContaining(["UserID", "accepted", "anomaly_score", "threshold", "replay", "scripted"]),
    );
    await check(open, "POST", "/verify", {
      body: [
        { UserID: 1, ...one },
        { UserID: "nobody", ...one },
      ],
    });
    await check(open, "POST", "/verify", { body: { UserID: "nobody", keystrokes: keystrokes(1) } });
    await check(open, "POST", "/verify", { body: { keystrokes: keystrokes(1) } });
    await check(guarded, "GET", "/status");
    await check(guarded, "GET", "/health");
    await check(guarded, "GET", "/status", { headers: { authorization: "Bearer s3cret" } });
    const limited = await check(guarded, "GET", "/models", { headers: { authorization: "Bearer s3cret" } });
    expect([200, 429]).toContain(limited.statusCode);
    const over = await check(guarded, "GET", "/models", { headers: { authorization: "Bearer s3cret" } });
    expect(over.statusCode).toBe(429);
  });

  it("answers of the identity routes match", async () => {
    const samples = Array.from({ length: 5 }, () => ({ keystrokes: keystrokes(4) }));
    await check(open, "POST", "/enroll", { body: { UserID: "erin", samples } });
    await check(open, "POST", "/enroll", {
      body: { UserID: "erin", samples: [{ keystrokes: [{ press: 1, release: 0 }] }] },
    });
    await check(open, "POST", "/auto/frank", { body: { keystrokes: keystrokes(2) }, path: "/auto/{id}" });
    await check(open, "GET", "/users?limit=5", { path: "/users" });
    await check(open, "GET", "/users/erin", { path: "/users/{id}" });
    await check(open, "GET", "/users/erin/audit", { path: "/users/{id}/audit" });
    await check(open, "GET", "/users/nobody", { path: "/users/{id}" });
    await check(open, "DELETE", "/users/erin", { path: "/users/{id}" });
    await check(open, "DELETE", "/users/erin", { path: "/users/{id}" });
    await check(guarded, "POST", "/enroll", {
      body: { UserID: "erin", samples },
      headers: { authorization: "Bearer s3cret" },
    });
  });

  it("/docs serves the Swagger UI", async () => {
    const r = await open.app.inject({ method: "GET", url: "/docs/" });
    expect(r.statusCode).toBe(200);
    expect(r.body).toMatch(/swagger/i);
  });

  it("answers of the demo routes match", async () => {
    await check(open, "GET", "/demo");
    const config = await check(open, "GET", "/demo/config");
    expect(config.json()).toMatchObject({ keys: KEYS });
    const samples = Array.from({ length: 5 }, () => ({ keystrokes: keystrokes(3) }));
    const enrolled = await check(open, "POST", "/demo/enroll", { body: { UserID: "carol", samples } });
    expect(enrolled.statusCode, enrolled.body).toBe(200);
    await check(open, "POST", "/demo/enroll", { body: { UserID: "carol", samples: samples.slice(0, 2) } });
    await check(open, "POST", "/demo/enroll", {
      body: {
        UserID: "carol",
        samples: [...samples.slice(0, 4), { keystrokes: [{ press: 1, release: 0 }] }],
      },
    });
    await check(open, "POST", "/demo/verify", { body: { UserID: "carol", keystrokes: keystrokes(3) } });
    await check(open, "POST", "/demo/verify", { body: { UserID: "dave", keystrokes: keystrokes(3) } });
  });
});
