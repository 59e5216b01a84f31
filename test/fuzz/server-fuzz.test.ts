import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { rmSync, writeFileSync } from "node:fs";
import { Writable } from "node:stream";
import { ALGORITHMS } from "../../src/models/types.js";
import { createServer, type KeystrokeServer } from "../../src/server/app.js";
import { createRng } from "../../src/util/random.js";
import { syntheticSample, trainedDir } from "../server/trained.js";
import {
  contentType,
  damage,
  deep,
  hostileValue,
  longArray,
  mutate,
  mutation,
  Obj,
  query,
  render,
  textDamage,
  validRequest,
  validVerify,
  type Node,
} from "./hostile.js";

// Property-based hostile input against the real app (in-process, app.inject) over models trained on
// synthetic data: every answer is a 4xx with a message or a well-formed 200, never a 5xx, and the
// server is the same afterwards. FUZZ_RUNS (total cases, default 10,000) and FUZZ_SEED run more or other cases.

const TOTAL = Number(process.env.FUZZ_RUNS ?? 10_000);
const SEED = Number(process.env.FUZZ_SEED ?? 7_2024);
const SHARE = {
  predict: 0.28,
  verify: 0.22,
  batch: 0.12,
  ndjson: 0.08,
  text: 0.15,
  bytes: 0.1,
  huge: 0.05,
} as const;
type Kind = keyof typeof SHARE;
const runs = (k: Kind) => Math.max(1, Math.round(TOTAL * SHARE[k]));

interface Case {
  method: "POST" | "GET" | "PUT" | "DELETE" | "PATCH" | "OPTIONS" | "HEAD";
  url: string;
  contentType?: string;
  payload: string | Buffer;
}

const tally = { cases: 0, byKind: {} as Record<string, number>, byStatus: {} as Record<string, number> };
const logs: string[] = [];
let root = "";
let dir = "";
let fuzzed: KeystrokeServer;
let pristine: KeystrokeServer;
const protoBefore = snapshotPrototypes();

function snapshotPrototypes(): string {
  const names = (o: object) => Object.getOwnPropertyNames(o).sort().join(",");
  return [Object.prototype, Array.prototype, Function.prototype, String.prototype, Number.prototype]
    .map(names)
    .join("|");
}

const sink = () =>
  new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });

async function send(s: KeystrokeServer, c: Case) {
  return s.app.inject({
    method: c.method,
    url: c.url,
    payload: c.payload,
    headers: c.contentType === undefined ? {} : { "content-type": c.contentType },
  });
}

const STACK = /\n\s+at |\bat [\w.<>]+ \(|node:internal|\.[cm]?[jt]s:\d+:\d+/;
const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const isLabel = (v: unknown) => isNum(v) || (typeof v === "string" && v.length > 0);

function checkError(a: Record<string, unknown>, where: string): void {
  expect(typeof a.error === "string" && a.error.length > 0, `${where}: error message`).toBe(true);
  expect(STACK.test(a.error as string), `${where}: stack trace in ${String(a.error)}`).toBe(false);
}

function checkPredict(a: Record<string, unknown>, where: string): void {
  expect(isLabel(a.UserID), `${where}: UserID`).toBe(true);
  expect(ALGORITHMS).toContain(a.Model);
  expect(["summary", "timings"]).toContain(a.features);
  expect(
    isNum(a.confidence) && a.confidence >= 0 && a.confidence <= 1,
    `${where}: confidence ${String(a.confidence)}`,
  ).toBe(true);
  expect(Array.isArray(a.top) && a.top.length > 0, `${where}: top`).toBe(true);
  for (const c of a.top as Array<Record<string, unknown>>) {
    expect(
      isLabel(c.UserID) && isNum(c.probability) && c.probability >= 0 && c.probability <= 1,
      `${where}: candidate ${JSON.stringify(c)}`,
    ).toBe(true);
  }
  expect(typeof a.model_version).toBe("string");
  expect(isNum(a.inference_time_ms)).toBe(true);
}

function checkVerify(a: Record<string, unknown>, where: string): void {
  expect(isLabel(a.UserID), `${where}: UserID`).toBe(true);
  expect(typeof a.accepted).toBe("boolean");
  for (const k of ["anomaly_score", "confidence_score", "threshold"])
    expect(isNum(a[k]), `${where}: ${k} ${String(a[k])}`).toBe(true);
  expect(typeof a.replay).toBe("boolean");
  expect(typeof a.scripted).toBe("boolean");
}

function checkAnswer(a: unknown, route: string, where: string, errorAllowed: boolean): void {
  expect(a !== null && typeof a === "object" && !Array.isArray(a), `${where}: an object`).toBe(true);
  const o = a as Record<string, unknown>;
  if ("error" in o) {
    expect(errorAllowed, `${where}: an error object in a single answer`).toBe(true);
    return checkError(o, where);
  }
  if (route === "/verify") checkVerify(o, where);
  else checkPredict(o, where);
}

// FUZZ_CORPUS=<file> also writes every POST /predict case there (NDJSON), for bench:reliability to
// replay over HTTP against this server and the Python reference alike
const CORPUS = process.env.FUZZ_CORPUS;
const corpus: string[] = [];

/** The properties every answer must have, whatever was sent. */
async function probe(kind: Kind, c: Case): Promise<void> {
  if (CORPUS && c.method === "POST" && c.url.split("?")[0] === "/predict") {
    corpus.push(
      JSON.stringify({
        kind,
        url: c.url,
        contentType: c.contentType ?? null,
        payload: Buffer.from(c.payload).toString("base64"),
      }),
    );
  }
  const r = await send(fuzzed, c);
  tally.cases++;
  tally.byKind[kind] = (tally.byKind[kind] ?? 0) + 1;
  tally.byStatus[r.statusCode] = (tally.byStatus[r.statusCode] ?? 0) + 1;
  const where = `${kind} ${c.method} ${c.url} [${c.contentType}] → ${r.statusCode}`;
  expect(r.statusCode, `${where}: ${r.body.slice(0, 300)}`).toBeLessThan(500);
  if (c.method === "HEAD") return;
  const route = c.url.split("?")[0]!;
  if (r.statusCode >= 400) {
    expect(r.headers["content-type"], where).toMatch(/^application\/json/);
    checkError(r.json(), where);
    return;
  }
  if (c.method !== "POST" || (route !== "/predict" && route !== "/verify")) return;
  expect(r.statusCode, where).toBe(200);
  if (String(r.headers["content-type"]).startsWith("application/x-ndjson")) {
    const lines = r.body.split("\n").filter((l) => l !== "");
    lines.forEach((l, i) => checkAnswer(JSON.parse(l), route, `${where} line ${i + 1}`, true));
    return;
  }
  const body = r.json();
  if (Array.isArray(body)) {
    const sent = JSON.parse(String(c.payload)) as unknown[];
    expect(body.length, where).toBe(sent.length);
    body.forEach((a, i) => checkAnswer(a, route, `${where} [${i}]`, true));
  } else checkAnswer(body, route, where, false);
}

// Fixed requests answered before and after the fuzzing: equal answers mean the models, the routing and
// the request parsing were not changed by anything sent.
const rng = createRng(99);
const refSample = syntheticSample(2, rng);
const REFERENCE: Array<{ url: string; body: string }> = [
  ...["RF", "SVM", "XGB"].flatMap((Model) => [
    { url: "/predict?top=4", body: JSON.stringify({ Model, ...refSample }) },
    { url: "/predict", body: render(validSummary(3, Model)) },
  ]),
  {
    url: "/predict",
    body: JSON.stringify([
      refSample,
      { keystrokes: refSample.press.map((p, i) => ({ key: "k", press: p, release: refSample.release[i] })) },
    ]),
  },
];

function validSummary(user: number, Model: string): Node {
  return fc
    .sample(
      validRequest.filter((r) => r.entries.some(([k]) => k === "HT")),
      { seed: user, numRuns: 1 },
    )[0]!
    .entries.reduce((o, e) => (e[0] === "Model" ? o : (o.entries.push(e), o)), new Obj([["Model", Model]]));
}

const withoutTime = (text: string) =>
  text.replace(/"inference_time_ms":[0-9.e+-]+/g, '"inference_time_ms":0');
const reference = async (s: KeystrokeServer) =>
  Promise.all(
    REFERENCE.map(async (q) =>
      withoutTime(
        (await send(s, { method: "POST", url: q.url, contentType: "application/json", payload: q.body }))
          .body,
      ),
    ),
  );
let referenceBefore: string[] = [];
let healthBefore: Record<string, unknown> = {};
let modelsBefore = "";

beforeAll(async () => {
  ({ dir, root } = await trainedDir("rf,svm,xgb"));
  fuzzed = await createServer({ modelsDir: dir, logStream: sink(), processMetrics: false });
  pristine = await createServer({ modelsDir: dir, logStream: sink(), processMetrics: false });
  referenceBefore = await reference(fuzzed);
  healthBefore = (await fuzzed.app.inject({ method: "GET", url: "/health" })).json();
  modelsBefore = (await fuzzed.app.inject({ method: "GET", url: "/models" })).body;
});

afterAll(async () => {
  // the tally is the evidence that CI ran the number of cases it claims
  console.log(
    `server fuzz: ${tally.cases} cases (seed ${SEED}) by kind ${JSON.stringify(tally.byKind)}; by status ${JSON.stringify(tally.byStatus)}`,
  );
  if (CORPUS) writeFileSync(CORPUS, corpus.join("\n") + "\n");
  await fuzzed?.close();
  await pristine?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

const opts = (k: Kind) => ({
  numRuns: runs(k),
  seed: SEED + Object.keys(SHARE).indexOf(k),
  endOnFailure: true,
});
const json = (url: string, payload: string, ct: string | undefined = "application/json"): Case => ({
  method: "POST",
  url,
  payload,
  ...(ct === undefined ? {} : { contentType: ct }),
});

describe(`server fuzz (${TOTAL} cases, seed ${SEED})`, () => {
  it("POST /predict: near-valid requests with mutated fields", async () => {
    await fc.assert(
      fc.asyncProperty(validRequest, fc.array(mutation, { maxLength: 4 }), query, async (req, ms, q) =>
        probe("predict", json(`/predict${q}`, render(mutate(req, ms)))),
      ),
      opts("predict"),
    );
  });

  it("POST /verify: near-valid claims with mutated fields", async () => {
    await fc.assert(
      fc.asyncProperty(validVerify, fc.array(mutation, { maxLength: 4 }), async (req, ms) =>
        probe("verify", json("/verify", render(mutate(req, ms)))),
      ),
      opts("verify"),
    );
  });

  it("JSON array batches of good and bad requests", async () => {
    const item = fc.oneof(
      {
        arbitrary: fc
          .tuple(validRequest, fc.array(mutation, { maxLength: 2 }))
          .map(([r, ms]) => mutate(r, ms)),
        weight: 4,
      },
      {
        arbitrary: fc
          .tuple(validVerify, fc.array(mutation, { maxLength: 2 }))
          .map(([r, ms]) => mutate(r, ms)),
        weight: 2,
      },
      { arbitrary: hostileValue, weight: 1 },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("/predict", "/verify"),
        fc.array(item, { maxLength: 25 }),
        async (url, items) => {
          const text = render(items);
          // a raw token like NaN makes the whole array invalid JSON, which is a 400 like any other
          return probe("batch", json(url, text));
        },
      ),
      opts("batch"),
    );
  });

  it("NDJSON streams with broken lines", async () => {
    const line = fc.oneof(
      {
        arbitrary: fc
          .tuple(validRequest, fc.array(mutation, { maxLength: 2 }))
          .map(([r, ms]) => render(mutate(r, ms))),
        weight: 4,
      },
      {
        arbitrary: fc
          .tuple(validVerify, fc.array(mutation, { maxLength: 2 }))
          .map(([r, ms]) => render(mutate(r, ms))),
        weight: 2,
      },
      {
        arbitrary: fc
          .tuple(validRequest, fc.array(textDamage, { minLength: 1, maxLength: 2 }))
          .map(([r, ds]) => damage(render(r), ds)),
        weight: 2,
      },
      {
        arbitrary: fc.constantFrom("", " ", "\r", "[]", "null", "{}", "\u0000", "\ud800", "1e999"),
        weight: 1,
      },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("/predict", "/verify"),
        fc.array(line, { maxLength: 25 }),
        fc.constantFrom("\n", "\r\n"),
        async (url, lines, eol) => probe("ndjson", json(url, lines.join(eol), "application/x-ndjson")),
      ),
      opts("ndjson"),
    );
  });

  it("damaged JSON text, odd content types and query strings", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(validRequest, validVerify),
        fc.array(textDamage, { minLength: 1, maxLength: 3 }),
        contentType,
        query,
        fc.constantFrom("/predict", "/verify"),
        async (req, ds, ct, q, url) =>
          probe("text", json(url + (url === "/predict" ? q : ""), damage(render(req), ds), ct)),
      ),
      opts("text"),
    );
  });

  it("random bytes to any route with any method", async () => {
    const method = fc.constantFrom<Case["method"]>(
      "POST",
      "POST",
      "POST",
      "POST",
      "GET",
      "PUT",
      "DELETE",
      "PATCH",
      "OPTIONS",
      "HEAD",
    );
    const url = fc.constantFrom(
      "/predict",
      "/verify",
      "/health",
      "/models",
      "/metrics",
      "/nope",
      "/predict/",
      "//predict",
      "/PREDICT",
      "/predict%00",
      "/%",
      "/verify?x=%",
    );
    const payload = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
      fc.string({ unit: "binary", maxLength: 200 }),
    );
    await fc.assert(
      fc.asyncProperty(method, url, payload, contentType, async (m, u, p, ct) =>
        probe("bytes", {
          method: m,
          url: u,
          payload: m === "GET" || m === "HEAD" ? "" : p,
          ...(ct === undefined ? {} : { contentType: ct }),
        }),
      ),
      opts("bytes"),
    );
  });

  it("huge and deep bodies: thousands of levels, 10,000 keys, near-limit batches", async () => {
    const big = fc.oneof(
      fc
        .tuple(fc.integer({ min: 1000, max: 30_000 }), fc.constantFrom<"array" | "object">("array", "object"))
        .map(([d, k]) => deep(d, k).text),
      fc
        .constantFrom(10_000, 4097, 4096, 5000)
        .map((n) => `{"press":${longArray(n).text},"release":${longArray(n).text}}`),
      fc
        .constantFrom(10_000, 4096)
        .map((n) => `{"press":${longArray(n).text},"release":${longArray(n).text},"UserID":1}`),
      fc
        .constantFrom(10_000, 4096)
        .map(
          (n) =>
            `{"keystrokes":[${Array.from({ length: n }, (_, i) => `{"press":${i},"release":${i}}`).join(",")}]}`,
        ),
      fc.constantFrom(1000, 1001, 3000).map((n) => `[${Array.from({ length: n }, () => "{}").join(",")}]`),
      fc.constantFrom(1000, 1001, 5000).map((n) => Array.from({ length: n }, () => "{}").join("\n")),
      fc
        .constantFrom(1e15, 1e200, 1e307, 9007199254740991)
        .map((x) => `{"press":[0,${x},${2 * x}],"release":[${x},${2 * x},${3 * x}]}`),
      fc
        .constantFrom(1e200, 1e307)
        .map(
          (x) =>
            `{"Model":"SVM","HT":{"Mean":${x},"STD":${x}},"PPT":{"Mean":${x},"STD":${x}},"RRT":{"Mean":-${x},"STD":${x}},"RPT":{"Mean":${x},"STD":${x}}}`,
        ),
      fc
        .integer({ min: 10, max: 160 })
        .map(
          (n) =>
            `{"UserID":1,"press":${longArray(6, 10 ** (n / 10)).text},"release":${longArray(6, 10 ** (n / 10)).text}}`,
        ),
    );
    await fc.assert(
      fc.asyncProperty(
        big,
        fc.constantFrom("/predict", "/verify"),
        fc.constantFrom("application/json", "application/x-ndjson"),
        async (text, url, ct) => probe("huge", json(url, text, ct)),
      ),
      { ...opts("huge"), numRuns: runs("huge") },
    );
  });

  it("leaves the server as it was: prototypes clean, same answers, healthy", async () => {
    expect(snapshotPrototypes()).toBe(protoBefore);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(await reference(fuzzed)).toEqual(referenceBefore);
    const health = (await fuzzed.app.inject({ method: "GET", url: "/health" })).json();
    expect({ ...health, uptime_s: 0 }).toEqual({ ...healthBefore, uptime_s: 0 });
    expect((await fuzzed.app.inject({ method: "GET", url: "/models" })).body).toBe(modelsBefore);
    // verification keeps a replay memory, so compare a sample neither server has seen with a server that saw nothing
    for (const user of [1, 2, 3, 4]) {
      const fresh = JSON.stringify({ ...syntheticSample(user, createRng(5_000_000 + user)), UserID: user });
      const c = json("/verify", fresh);
      expect((await send(fuzzed, c)).body).toBe((await send(pristine, c)).body);
    }
    expect(logs.join("")).not.toMatch(/internal error/);
    expect(tally.cases).toBeGreaterThanOrEqual(Math.min(TOTAL, 10_000) - 10);
  });
});
