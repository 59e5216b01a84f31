import { rmSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { extractSummary } from "../../src/features/index.js";
import { createRng } from "../../src/util/random.js";
import { runCli } from "../helpers/cli.js";
import { startServe, type Running } from "../helpers/serve.js";
import { syntheticSample, trainedDir } from "../server/trained.js";

// End-to-end: `serve --workers 2` (node:cluster) against one process on the same models, real HTTP, real signals.
const until = async (what: () => boolean | Promise<boolean>, ms = 20_000) => {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await what()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
};

let dir = "";
let root = "";
let csv = "";
const rng = createRng(21);
const contractOf = (user: number) => {
  const s = extractSummary(syntheticSample(user, rng));
  const part = (i: number) => ({ Mean: s[2 * i]!, STD: s[2 * i + 1]! });
  return { Model: "RF", HT: part(0), PPT: part(1), RRT: part(2), RPT: part(3) };
};
/**
 * One request on a connection of its own (no keep-alive): the cluster hands each new connection to the
 * next worker in turn, so consecutive requests reach every worker (fetch would reuse one connection, one worker).
 */
function request(url: string, method = "GET", body?: unknown): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = httpRequest(
      url,
      {
        method,
        agent: false,
        headers:
          data === undefined
            ? {}
            : { "content-type": "application/json", "content-length": Buffer.byteLength(data) },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d) => (text += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on("error", reject);
    req.end(data);
  });
}
const post = (url: string, body: unknown) => request(url, "POST", body);
/** A JSON answer without what differs between two runs of the same request (the measured time). */
const stable = (r: { status: number; text: string }) => ({
  status: r.status,
  body: JSON.parse(r.text, (k, v) => (k === "inference_time_ms" ? undefined : v)) as unknown,
});
const health = async (url: string) =>
  JSON.parse((await request(`${url}/status`)).text) as {
    loaded_at: string;
    models: Array<{ model_version: string }>;
  };
const healthVersions = async (url: string) =>
  (await health(url)).models.map((m) => m.model_version).join(",");
/** The distinct processes that answered n consecutive /status requests (told apart by when each loaded its models). */
const processesAnswering = async (url: string, n = 6) =>
  new Set(await Promise.all(Array.from({ length: n }, async () => (await health(url)).loaded_at))).size;

beforeAll(async () => {
  ({ dir, root, csv } = await trainedDir("rf"));
}, 120_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("keystroke-id serve --workers", () => {
  it("gives the same answers as one process, shares the rate limit, and exits 0 on SIGTERM", async () => {
    const requests: Array<[string, unknown]> = [];
    for (let u = 1; u <= 4; u++) {
      requests.push(
        ["/predict", contractOf(u)],
        ["/predict", syntheticSample(u, rng)],
        ["/verify", { ...syntheticSample(u, rng), UserID: u }],
      );
    }
    requests.push(
      ["/predict", [syntheticSample(2, rng), { ...contractOf(1), HT: { Mean: 1 } }]],
      ["/predict", { ...contractOf(1), Model: "XGB" }],
      ["/verify", { ...syntheticSample(1, rng), UserID: 99 }],
    );
    const answersOf = async (s: Running) => {
      const out = [];
      for (const [path, body] of requests) out.push(stable(await post(`${s.url}${path}`, body)));
      return out;
    };
    // both runs share the identity store, whose replay memory would (rightly) call the second run's samples
    // replays; a 1 ms replay window keeps the two runs' answers comparable (cross-instance replay: test/server/identity-routes)
    const one = await startServe(["--models-dir", dir, "--log-level", "warn", "--replay-window", "1ms"]);
    let single: unknown[];
    try {
      single = await answersOf(one);
    } finally {
      one.child.kill("SIGTERM");
    }
    expect(await one.exit).toBe(0);

    const many = await startServe([
      "--models-dir",
      dir,
      "--log-level",
      "warn",
      "--replay-window",
      "1ms",
      "--workers",
      "2",
      "--rate-limit",
      "60/1m",
    ]);
    try {
      expect(many.stderr()).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+ with 2 workers/);
      expect(many.stderr().match(/worker \d+ started \(pid \d+\)/g)).toHaveLength(2);
      // each connection goes to one worker or the other (round robin): every answer as the single process gave it
      expect(await processesAnswering(many.url)).toBe(2);
      expect(await answersOf(many)).toEqual(single);
      expect(single.filter((a) => (a as { status: number }).status === 200).length).toBeGreaterThan(10);
      // 15 requests and 6 /status reads so far (only /health is exempt); the budget of 60 per client is shared, not 60 per worker
      const used = requests.length + 6;
      const statuses: number[] = [];
      for (let i = 0; i < 50; i++) statuses.push((await request(`${many.url}/models`)).status);
      expect(statuses.filter((s) => s === 200)).toHaveLength(60 - used);
      expect(statuses.filter((s) => s === 429)).toHaveLength(50 - (60 - used));
    } finally {
      many.child.kill("SIGTERM");
    }
    expect(await many.exit).toBe(0);
    expect(many.stderr().match(/SIGTERM: finishing in-flight requests/g)).toHaveLength(2);
    expect(many.stderr()).toMatch(/all workers exited/);
  }, 180_000);

  it("follows models use in every worker (watch and SIGHUP), and replaces a worker that crashes", async () => {
    // a second version with another seed, so the rollback is visible in the model versions served
    const t = await runCli([
      "train",
      csv,
      "--model",
      "rf",
      "--models-dir",
      dir,
      "--holdout",
      "0",
      "--workers",
      "0",
      "--seed",
      "5",
      "--json",
    ]);
    expect(t.code, t.stderr).toBe(0);
    const s = await startServe(["--models-dir", dir, "--workers", "2"]);
    try {
      const v2 = await healthVersions(s.url);
      expect(await processesAnswering(s.url)).toBe(2);
      const use = await runCli(["models", "use", "v1", "--models-dir", dir]);
      expect(use.code, use.stderr).toBe(0);
      // both workers reload on the manifest change: ten answers in a row (round robin) all from v1
      const allV1 = async () => {
        for (let i = 0; i < 10; i++) if ((await healthVersions(s.url)) === v2) return false;
        return true;
      };
      expect(await until(allV1)).toBe(true);
      const reloads = () => (s.stderr().match(/models reloaded/g) ?? []).length;
      expect(await until(() => reloads() >= 2)).toBe(true);
      const before = reloads();
      s.child.kill("SIGHUP");
      expect(await until(() => reloads() >= before + 2)).toBe(true);

      const pid = Number(/worker 1 started \(pid (\d+)\)/.exec(s.stderr())![1]);
      process.kill(pid, "SIGKILL");
      expect(await until(() => /worker 3 started/.test(s.stderr()))).toBe(true);
      expect(s.stderr()).toMatch(/worker 1 died \(signal SIGKILL\); starting a replacement/);
      // once the replacement listens, both workers answer, every answer still right
      expect(await until(() => /worker 3 listening/.test(s.stderr()), 60_000)).toBe(true);
      for (let i = 0; i < 10; i++) expect((await post(`${s.url}/predict`, contractOf(2))).status).toBe(200);
      expect(await allV1()).toBe(true);
      // the replacement answers too (it loaded once, at its start: nothing reloads any more)
      expect(await processesAnswering(s.url)).toBe(2);
    } finally {
      s.child.kill("SIGTERM");
    }
    expect(await s.exit).toBe(0);
  }, 180_000);

  it("answers every request sent before SIGTERM under load in every worker, and exits 0", async () => {
    const s = await startServe(["--models-dir", dir, "--log-level", "warn", "--workers", "2"]);
    const { Agent, request } = await import("node:http");
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    const { hostname, port } = new URL(s.url);
    const body = JSON.stringify(contractOf(2));
    // After the signal the servers stop accepting. Two kinds of reset are then the kernel's or the client's
    // doing, not a lost answer: a new connection no server takes any more (still in the listening socket's
    // backlog, or handed back by a closing worker) is closed unread, so the client sees a reset that is a
    // refusal; and a
    // keep-alive socket the server closes while idle can meet a request already on its way (ECONNRESET on a
    // reused socket), which Node's docs say to retry: the client here retries once on a new connection,
    // and that answer is what counts. Each answer records which happened; before the signal, neither may.
    type Outcome = { outcome: number | string; retried: boolean; fresh: boolean };
    const once = (retried = false): Promise<Outcome> =>
      new Promise<Outcome>((resolve) => {
        const req = request(
          {
            host: hostname,
            port,
            path: "/predict",
            method: "POST",
            agent: retried ? false : agent,
            headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
          },
          (res) => {
            res.resume();
            res.on("end", () => resolve({ outcome: res.statusCode ?? 0, retried, fresh: !req.reusedSocket }));
          },
        );
        req.on("error", (e: NodeJS.ErrnoException) => {
          if (e.code === "ECONNRESET" && req.reusedSocket && !retried) resolve(once(true));
          else resolve({ outcome: e.code ?? e.message, retried, fresh: !req.reusedSocket });
        });
        req.end(body);
      });
    let exited = false;
    void s.exit.then(() => (exited = true));
    let signalledAt = Infinity;
    const sent: Array<{ startedAt: number } & Outcome> = [];
    const loop = async () => {
      while (!exited) {
        const startedAt = performance.now();
        const answer = await once();
        sent.push({ startedAt, ...answer });
        if (signalledAt === Infinity && sent.length >= 300) {
          signalledAt = performance.now();
          s.child.kill("SIGTERM");
        }
        if (typeof answer.outcome !== "number") await new Promise((r) => setTimeout(r, 10));
      }
    };
    await Promise.all(Array.from({ length: 8 }, loop));
    agent.destroy();
    expect(await s.exit).toBe(0);
    const before = sent.filter((r) => r.startedAt < signalledAt);
    expect(before.length).toBeGreaterThanOrEqual(300);
    expect(before.filter((r) => r.outcome !== 200 || r.retried)).toEqual([]);
    expect(
      sent.filter(
        (r) =>
          r.startedAt >= signalledAt &&
          r.outcome !== 200 &&
          r.outcome !== "ECONNREFUSED" &&
          !(r.outcome === "ECONNRESET" && r.fresh),
      ),
    ).toEqual([]);
    expect(s.stderr().match(/SIGTERM: \d+ request\(s\) in flight, all answered/g)).toHaveLength(2);
  }, 120_000);

  it("refuses a bad worker count, and stops with the workers' exit code when they cannot start", async () => {
    const bad = await runCli(["serve", "--port", "0", "--models-dir", dir, "--workers", "0"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/flag --workers.*worker count/);
    const missing = await runCli([
      "serve",
      "--port",
      "0",
      "--models-dir",
      join(root, "missing"),
      "--workers",
      "2",
    ]);
    expect(missing.code).toBe(4);
    expect(missing.stderr).toMatch(/no models in/);
    expect(missing.stderr).toMatch(/failed to start/);
  }, 120_000);
});
