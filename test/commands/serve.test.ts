import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cpSync, rmSync } from "node:fs";
import { join } from "node:path";
import { extractSummary } from "../../src/features/index.js";
import { createRng } from "../../src/util/random.js";
import { runCli } from "../helpers/cli.js";
import { startServe, type Running } from "../helpers/serve.js";
import { syntheticSample, trainedDir } from "../server/trained.js";

// End-to-end: spawn `serve --port 0` on trained models, talk real HTTP, then signal it.
let dir = "";
let root = "";
const rng = createRng(11);
function contractOf(user: number, model = "RF") {
  const s = extractSummary(syntheticSample(user, rng));
  const part = (i: number) => ({ Mean: s[2 * i]!, STD: s[2 * i + 1]! });
  return { Model: model, HT: part(0), PPT: part(1), RRT: part(2), RPT: part(3) };
}
const postJson = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: "POST",
    body: typeof body === "string" ? body : JSON.stringify(body),
    headers: { "content-type": "application/json", ...headers },
  });

beforeAll(async () => {
  ({ dir, root } = await trainedDir());
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/**
 * Eight keep-alive clients posting `body` in loops until `stop()` says so or the server exits; records
 * when each request started and its outcome (status, or error code). `onAnswer` sees the running count.
 */
async function keepAliveLoad(
  s: Running,
  body: string,
  opts: { stop: () => boolean; onAnswer?: (count: number) => void },
): Promise<Array<{ startedAt: number; outcome: number | string }>> {
  const { Agent, request } = await import("node:http");
  const loops = 8;
  const agent = new Agent({ keepAlive: true, maxSockets: loops });
  const { hostname, port } = new URL(s.url);
  const post = () =>
    new Promise<number | string>((resolve) => {
      const headers = { "content-type": "application/json", "content-length": Buffer.byteLength(body) };
      const req = request(
        { host: hostname, port, path: "/predict", method: "POST", agent, headers },
        (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        },
      );
      req.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      req.end(body);
    });
  const sent: Array<{ startedAt: number; outcome: number | string }> = [];
  let exited = false;
  void s.exit.then(() => (exited = true));
  const loop = async () => {
    while (!exited && !opts.stop()) {
      const startedAt = performance.now();
      const outcome = await post();
      sent.push({ startedAt, outcome });
      opts.onAnswer?.(sent.length);
      if (typeof outcome !== "number") await new Promise((r) => setTimeout(r, 10));
    }
  };
  await Promise.all(Array.from({ length: loops }, loop));
  agent.destroy();
  return sent;
}

describe("keystroke-id serve", () => {
  it("serves every route over real HTTP, reloads on SIGHUP, and exits 0 on SIGTERM", async () => {
    const s = await startServe(["--models-dir", dir]);
    try {
      expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(s.url).not.toMatch(/:0$/);
      const r = await postJson(`${s.url}/predict`, contractOf(2));
      expect(r.status).toBe(200);
      const a = (await r.json()) as Record<string, unknown>;
      expect(Object.keys(a)[0]).toBe("UserID");
      expect(a).toMatchObject({ Model: "RF", features: "summary" });

      const t = await postJson(`${s.url}/predict`, [
        syntheticSample(3, rng),
        { ...contractOf(1), HT: { Mean: 1 } },
      ]);
      const batch = (await t.json()) as Array<Record<string, unknown>>;
      expect(batch[0]).toMatchObject({ UserID: 3, features: "timings" });
      expect(batch[1]).toMatchObject({ field: "HT.STD", index: 1 });

      const v = await postJson(`${s.url}/verify`, { ...syntheticSample(3, rng), UserID: 3 });
      expect(v.status).toBe(200);
      expect(await v.json()).toMatchObject({ UserID: 3, replay: false });

      const bad = await postJson(`${s.url}/predict`, { ...contractOf(1), PPT: { Mean: "x", STD: 1 } });
      expect(bad.status).toBe(400);
      expect(await bad.json()).toMatchObject({ field: "PPT.Mean" });
      expect((await postJson(`${s.url}/predict`, contractOf(1, "XGB"))).status).toBe(404);
      expect((await postJson(`${s.url}/predict`, { ...contractOf(1), pad: "x".repeat(70_000) })).status).toBe(
        413,
      );
      expect(
        (
          await fetch(`${s.url}/predict`, {
            method: "POST",
            body: "HT=1",
            headers: { "content-type": "application/x-www-form-urlencoded" },
          })
        ).status,
      ).toBe(415);

      const health = (await (await fetch(`${s.url}/status`)).json()) as { status: string; models: unknown[] };
      expect(health.status).toBe("ok");
      expect(health.models).toHaveLength(4);
      expect(
        ((await (await fetch(`${s.url}/models`)).json()) as { formatVersion: number }).formatVersion,
      ).toBe(1);
      const metrics = await (await fetch(`${s.url}/metrics`)).text();
      expect(metrics).toMatch(/keystroke_id_http_requests_total\{route="\/predict",status="200"\} 2/);
      expect(metrics).toMatch(/keystroke_id_rejected_inputs_total/);

      s.child.kill("SIGHUP");
      for (let i = 0; i < 50 && !/models reloaded/.test(s.stderr()); i++)
        await new Promise((r) => setTimeout(r, 100));
      expect(s.stderr()).toMatch(/models reloaded/);
      expect((await postJson(`${s.url}/predict`, contractOf(2))).status).toBe(200);
    } finally {
      s.child.kill("SIGTERM");
    }
    expect(await s.exit).toBe(0);
    expect(s.stderr()).toMatch(/SIGTERM: finishing in-flight requests/);
    expect(s.stderr()).not.toMatch(/"HT"|Mean/);
  });

  it("needs the token from KEYSTROKE_ID_TOKEN on every route but /health, and exits 0 on SIGINT", async () => {
    const s = await startServe(["--models-dir", dir, "--log-level", "warn"], {
      env: { KEYSTROKE_ID_TOKEN: "t0ken-for-tests" },
    });
    try {
      expect((await fetch(`${s.url}/health`)).status).toBe(200);
      expect((await fetch(`${s.url}/models`)).status).toBe(401);
      expect((await postJson(`${s.url}/predict`, contractOf(1))).status).toBe(401);
      expect(
        (await postJson(`${s.url}/predict`, contractOf(1), { authorization: "Bearer t0ken-for-tests" }))
          .status,
      ).toBe(200);
    } finally {
      s.child.kill("SIGINT");
    }
    expect(await s.exit).toBe(0);
  });

  it("refuses to start without models, and on a bad flag", async () => {
    const r = await runCli(["serve", "--port", "0", "--models-dir", join(root, "missing")]);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/no models in/);
    expect((await runCli(["serve", "--port", "99999", "--models-dir", dir])).stderr).toMatch(/flag --port/);
    expect((await runCli(["serve", "--log-level", "loud", "--models-dir", dir])).code).toBe(2);
  });

  it("answers every request sent before SIGTERM under load (keep-alive clients), refuses later ones, and exits 0", async () => {
    const s = await startServe(["--models-dir", dir, "--log-level", "warn"]);
    let signalledAt = Infinity;
    const sent = await keepAliveLoad(s, JSON.stringify(contractOf(2)), {
      stop: () => false, // until the server exits
      onAnswer: (count) => {
        // other loops still have requests on the wire when the signal goes
        if (signalledAt === Infinity && count >= 300) {
          signalledAt = performance.now();
          s.child.kill("SIGTERM");
        }
      },
    });
    expect(await s.exit).toBe(0);
    const before = sent.filter((r) => r.startedAt < signalledAt);
    expect(before.length).toBeGreaterThanOrEqual(300);
    expect(before.filter((r) => r.outcome !== 200)).toEqual([]);
    // after the signal a request is answered or its connection refused, never reset
    expect(
      sent.filter(
        (r) =>
          r.startedAt >= signalledAt &&
          r.outcome !== 200 &&
          r.outcome !== 503 &&
          r.outcome !== "ECONNREFUSED",
      ),
    ).toEqual([]);
    expect(s.stderr()).toMatch(/SIGTERM: \d+ request\(s\) in flight, all answered/);
  });

  it("loses no request while reloading under load: SIGHUPs, then a retrain into the served dir (--watch)", async () => {
    const live = join(root, "live");
    cpSync(dir, live, { recursive: true });
    const s = await startServe(["--models-dir", live, "--log-level", "warn"]);
    const versionOf = async () =>
      ((await (await fetch(`${s.url}/status`)).json()) as { models: Array<{ model_version: string }> }).models
        .map((m) => m.model_version)
        .join(",");
    const first = await versionOf();
    let done = false;
    const load = keepAliveLoad(s, JSON.stringify(contractOf(3)), { stop: () => done });
    try {
      for (let i = 0; i < 5; i++) {
        await new Promise((r) => setTimeout(r, 150));
        s.child.kill("SIGHUP");
      }
      const t = await runCli([
        "train",
        join(root, "train.csv"),
        "--model",
        "rf,svm",
        "--models-dir",
        live,
        "--holdout",
        "0",
        "--workers",
        "0",
        "--seed",
        "9",
        "--no-verification",
      ]);
      expect(t.code, t.stderr).toBe(0);
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline && (await versionOf()) === first)
        await new Promise((r) => setTimeout(r, 100));
    } finally {
      done = true;
    }
    const sent = await load;
    expect(await versionOf()).not.toBe(first);
    expect(sent.length).toBeGreaterThan(100);
    expect(sent.filter((r) => r.outcome !== 200)).toEqual([]);
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    expect(
      Number(/keystroke_id_model_reloads_total\{outcome="ok"\} (\d+)/.exec(metrics)?.[1]),
    ).toBeGreaterThanOrEqual(2);
    expect(metrics).not.toMatch(/keystroke_id_model_reloads_total\{outcome="failed"\} [1-9]/);
    s.child.kill("SIGTERM");
    expect(await s.exit).toBe(0);
  }, 60_000);
});
