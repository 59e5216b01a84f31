import { afterEach, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "node:http";
import { KeystrokeError } from "../../src/errors.js";
import type { ModelDir } from "../../src/models/store.js";
import type { Verifier } from "../../src/predict/index.js";
import type { KeystrokeServer } from "../../src/server/app.js";
import { fakeModel } from "../predict/fakes.js";
import { fakeModelDir, serverHarness } from "./harness.js";

const contract = {
  Model: "RF",
  HT: { Mean: 48.43, STD: 23.34 },
  PPT: { Mean: 120, STD: 40 },
  RRT: { Mean: 119, STD: 41 },
  RPT: { Mean: 70, STD: 38 },
};
const sample = { press: [0, 100, 250], release: [80, 190, 300] };

function fakeDir(version = "v1", best: "RF" | "SVM" = "RF"): ModelDir {
  const models = [
    fakeModel("RF", "summary", null, [0.2, 0.5, 0.3]),
    fakeModel("RF", "timings", 3, [0.1, 0.1, 0.8]),
    fakeModel("SVM", "summary", null, [0.6, 0.3, 0.1]),
  ];
  for (const m of models) m.version += `-${version}`;
  return fakeModelDir(models, best);
}

const verifier: Verifier = {
  verify(user, vector) {
    if (user === 999)
      throw new KeystrokeError("UNKNOWN_USER", `no template for user ${user}`, { field: "UserID" });
    return {
      UserID: user,
      accepted: vector[0]! < 100,
      anomaly_score: 0.2,
      confidence_score: 0.8,
      threshold: 0.5,
      detector: "manhattan-scaled",
      policy: { kind: "eer" },
      replay: user === 7,
      scripted: false,
    };
  },
};

const harness = serverHarness({ loadModels: async () => fakeDir(), verifier });
const { make, servers } = harness;
const tmps: string[] = [];
afterEach(async () => {
  await harness.closeAll();
  for (const d of tmps.splice(0)) rmSync(d, { recursive: true, force: true });
});

const post = (s: KeystrokeServer, url: string, body: unknown, headers: Record<string, string> = {}) =>
  s.app.inject({
    method: "POST",
    url,
    payload: typeof body === "string" ? body : JSON.stringify(body),
    headers: { "content-type": "application/json", ...headers },
  });

describe("POST /predict", () => {
  it("answers the original contract with its answer keys, UserID first", async () => {
    const s = await make();
    const r = await post(s, "/predict", contract);
    expect(r.statusCode).toBe(200);
    expect(r.headers["content-type"]).toMatch(/application\/json/);
    const a = r.json();
    expect(Object.keys(a)[0]).toBe("UserID");
    expect(a).toMatchObject({
      UserID: 20,
      Model: "RF",
      features: "summary",
      confidence: 0.5,
      model_version: "rf-summary-fake-v1",
    });
    expect(a.top).toHaveLength(3);
  });

  it("answers raw timings, keystrokes, a batch, NDJSON and ?top", async () => {
    const s = await make();
    expect((await post(s, "/predict", sample)).json()).toMatchObject({ UserID: 30, features: "timings" });
    const ks = {
      keystrokes: sample.press.map((p, i) => ({ key: "abc"[i], press: p, release: sample.release[i] })),
    };
    expect((await post(s, "/predict", ks)).json()).toMatchObject({ UserID: 30, features: "timings" });
    const batch = (
      await post(s, "/predict", [contract, { ...contract, HT: {} }, { ...sample, Model: "svm" }])
    ).json();
    expect(batch).toHaveLength(3);
    expect(batch[0]).toMatchObject({ UserID: 20 });
    expect(batch[1]).toMatchObject({ field: "HT.Mean", index: 1, code: "BAD_REQUEST" });
    expect(batch[2]).toMatchObject({ UserID: 10, Model: "SVM", features: "summary" });
    const nd = await post(s, "/predict", `${JSON.stringify(contract)}\n{bad\n${JSON.stringify(sample)}\n`, {
      "content-type": "application/x-ndjson",
    });
    expect(nd.statusCode).toBe(200);
    expect(nd.headers["content-type"]).toMatch(/x-ndjson/);
    const lines = nd.body
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatchObject({ code: "BAD_JSON", line: 2 });
    expect(lines[2]).toMatchObject({ UserID: 30 });
    expect((await post(s, "/predict?top=1", contract)).json().top).toHaveLength(1);
    expect((await post(s, "/predict?top=0", contract)).statusCode).toBe(400);
  });

  it("refuses bad input with 400 {error, field}, never a 5xx or a stack", async () => {
    const s = await make();
    const cases: Array<[unknown, number, string | undefined]> = [
      [{ ...contract, HT: { Mean: 1 } }, 400, "HT.STD"],
      [{ ...contract, PPT: { Mean: "x", STD: 1 } }, 400, "PPT.Mean"],
      [{ press: [0, -1], release: [1, 2] }, 400, "press[1]"],
      [{ ...contract, Model: "KNN" }, 400, "Model"],
      [{ ...contract, Model: "XGB" }, 404, "Model"],
      ['{"Model": "RF",', 400, undefined],
      ["42", 400, "body"],
      ["", 400, undefined],
      [Array.from({ length: 1001 }, () => ({})), 400, "body"],
    ];
    for (const [body, status, field] of cases) {
      const r = await post(s, "/predict", body);
      expect(r.statusCode, JSON.stringify(body).slice(0, 60)).toBe(status);
      const j = r.json();
      expect(typeof j.error).toBe("string");
      expect(j.field).toBe(field);
      expect(r.body).not.toMatch(/\n\s+at /);
    }
    const broken = await post(s, "/predict", '{\n "HT": {"Mean": 1,}\n}');
    expect(broken.json().error).toMatch(/line 2: invalid JSON at column 19/);
  });

  it("answers 413 above the body limit and 415 for another content type", async () => {
    const s = await make({ bodyLimit: 1024 });
    const big = await post(s, "/predict", { ...contract, pad: "x".repeat(2000) });
    expect(big.statusCode).toBe(413);
    expect(big.json().error).toMatch(/1024 bytes/);
    const txt = await post(s, "/predict", "hello", { "content-type": "text/plain" });
    expect(txt.statusCode).toBe(415);
    expect(txt.json().error).toMatch(/content type/);
  });
});

describe("POST /verify", () => {
  it("verifies a claim and flags replays in the metrics", async () => {
    const s = await make();
    const r = await post(s, "/verify", { ...sample, UserID: 73 });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ UserID: 73, accepted: true, detector: "manhattan-scaled" });
    await post(s, "/verify", { ...sample, UserID: 7 });
    const batch = (await post(s, "/verify", [{ ...sample, UserID: 1 }, { ...sample }])).json();
    expect(batch[0]).toMatchObject({ UserID: 1 });
    expect(batch[1]).toMatchObject({ field: "UserID", index: 1 });
    const m = (await s.app.inject({ method: "GET", url: "/metrics" })).body;
    expect(m).toMatch(/keystroke_id_flagged_samples_total\{kind="replay"\} 1/);
  });

  it("refuses a summary-only body, a missing claim and an unknown user", async () => {
    const s = await make();
    const summary = await post(s, "/verify", { ...contract, UserID: 73 });
    expect(summary.statusCode).toBe(400);
    expect(summary.json().error).toMatch(/raw timings/);
    expect((await post(s, "/verify", sample)).json()).toMatchObject({ field: "UserID" });
    expect((await post(s, "/verify", { ...sample, UserID: 999 })).statusCode).toBe(404);
  });

  it("answers 404 when the models dir has no templates", async () => {
    const s = await make({ verifier: null });
    expect((await post(s, "/verify", { ...sample, UserID: 73 })).statusCode).toBe(404);
  });
});

describe("GET routes", () => {
  it("reports health, status, the manifest and Prometheus metrics", async () => {
    const s = await make();
    await post(s, "/predict", contract);
    await post(s, "/predict", { ...contract, HT: {} });
    expect((await s.app.inject({ method: "GET", url: "/health" })).json()).toEqual({
      status: "ok",
      ready: true,
    });
    const h = (await s.app.inject({ method: "GET", url: "/status" })).json();
    expect(h).toMatchObject({ status: "ok", best: "RF" });
    expect(h.models).toContainEqual({
      Model: "RF",
      features: "timings",
      model_version: "rf-timings-fake-v1",
      keys: 3,
    });
    expect(h.uptime_s).toBeGreaterThanOrEqual(0);
    expect((await s.app.inject({ method: "GET", url: "/models" })).json()).toMatchObject({
      formatVersion: 1,
      best: "RF",
    });
    const m = await s.app.inject({ method: "GET", url: "/metrics" });
    expect(m.headers["content-type"]).toMatch(/text\/plain/);
    expect(m.body).toMatch(/keystroke_id_http_requests_total\{route="\/predict",status="200"\} 1/);
    expect(m.body).toMatch(/keystroke_id_http_requests_total\{route="\/predict",status="400"\} 1/);
    expect(m.body).toMatch(/keystroke_id_predictions_total\{model="RF",features="summary"\} 1/);
    expect(m.body).toMatch(/keystroke_id_rejected_inputs_total\{reason="BAD_REQUEST"\} 1/);
    expect(m.body).toMatch(/keystroke_id_http_request_duration_seconds_count\{route="\/predict"\} 2/);
    expect((await s.app.inject({ method: "GET", url: "/nope" })).statusCode).toBe(404);
  });
});

describe("auth", () => {
  it("needs the bearer token on every route but /health", async () => {
    const s = await make({ token: "s3cret" });
    expect((await s.app.inject({ method: "GET", url: "/health" })).statusCode).toBe(200);
    expect((await s.app.inject({ method: "GET", url: "/health" })).json()).toEqual({
      status: "ok",
      ready: true,
    });
    for (const url of ["/models", "/metrics", "/status"])
      expect((await s.app.inject({ method: "GET", url })).statusCode).toBe(401);
    expect((await post(s, "/predict", contract)).statusCode).toBe(401);
    expect((await post(s, "/predict", contract, { authorization: "Bearer wrong" })).statusCode).toBe(401);
    expect((await post(s, "/predict", contract, { authorization: "s3cret" })).statusCode).toBe(401);
    expect((await post(s, "/predict", contract, { authorization: "Bearer s3cret" })).statusCode).toBe(200);
  });
});

describe("reload", () => {
  it("swaps in new models, and keeps the old ones when a reload fails", async () => {
    let version = "v1";
    let fail = false;
    const logs: string[] = [];
    const s = await make(
      {
        loadModels: async () => {
          if (fail)
            throw new KeystrokeError("BAD_MODEL_FILE", "checksum does not match", {
              file: "rf-summary.json",
            });
          return fakeDir(version);
        },
      },
      logs,
    );
    version = "v2";
    expect(await s.reload()).toBe(true);
    expect((await post(s, "/predict", contract)).json().model_version).toBe("rf-summary-fake-v2");
    fail = true;
    expect(await s.reload("test")).toBe(false);
    expect((await post(s, "/predict", contract)).json().model_version).toBe("rf-summary-fake-v2");
    expect(logs.join("")).toMatch(/reload failed.*still serving|checksum does not match/);
    expect((await s.app.inject({ method: "GET", url: "/metrics" })).body).toMatch(
      /keystroke_id_model_reloads_total\{outcome="failed"\} 1/,
    );
  });

  it("does not miss a change made while a reload runs; a burst queues one more reload, not many", async () => {
    let version = "v1";
    let loads = 0;
    let release: () => void = () => undefined;
    let gate: Promise<void> | null = null;
    const s = await make({
      loadModels: async () => {
        loads++;
        const seen = version; // the directory as this load read it
        if (gate) await gate;
        return fakeDir(seen);
      },
    });
    loads = 0;
    gate = new Promise((r) => (release = r));
    version = "v2";
    const first = s.reload("first");
    version = "v3"; // changed after the running reload read the directory
    const burst = [s.reload("a"), s.reload("b"), s.reload("c")];
    gate = null;
    release();
    expect(await first).toBe(true);
    expect(await Promise.all(burst)).toEqual([true, true, true]);
    expect(loads).toBe(2);
    expect(s.state().predictor.source.models[0]!.version).toBe("rf-summary-fake-v3");
  });

  it("reloads when manifest.json changes", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kid-watch-"));
    tmps.push(dir);
    writeFileSync(join(dir, "manifest.json"), "{}");
    let version = "v1";
    const s = await make({ modelsDir: dir, watch: true, loadModels: async () => fakeDir(version) });
    version = "v2";
    writeFileSync(join(dir, "manifest.json"), "{ }");
    const later = new Date(Date.now() + 5000);
    utimesSync(join(dir, "manifest.json"), later, later);
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && s.state().predictor.source.models[0]!.version.endsWith("v1"))
      await new Promise((r) => setTimeout(r, 100));
    expect(s.state().predictor.source.models[0]!.version).toBe("rf-summary-fake-v2");
  });
});

describe("close", () => {
  it("finishes a request in flight, then refuses new connections", async () => {
    const s = await make();
    servers.pop(); // closed by this test
    const { port } = await s.listen("127.0.0.1", 0);
    const body = JSON.stringify(contract);
    const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          port,
          path: "/predict",
          method: "POST",
          headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
        },
        (res) => {
          let text = "";
          res.on("data", (d) => (text += d));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on("error", reject);
      req.write(body.slice(0, 10));
      setTimeout(() => req.end(body.slice(10)), 300);
    });
    await new Promise((r) => setTimeout(r, 100));
    const closing = s.close();
    const a = await answer;
    expect(a.status).toBe(200);
    expect(JSON.parse(a.text)).toMatchObject({ UserID: 20 });
    await closing;
    await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
  });
});

describe("logs", () => {
  it("carry no request bodies or timings, even at debug", async () => {
    const logs: string[] = [];
    const s = await make({ logLevel: "debug" }, logs);
    await post(s, "/predict", { ...contract, HT: { Mean: 4242.4242, STD: 1 } });
    await post(s, "/predict", { press: [0, 31337], release: [5, 1] });
    const text = logs.join("");
    expect(text).toMatch(/request completed/);
    expect(text).not.toMatch(/4242\.4242|31337/);
  });

  it("are silent per request at the default level", async () => {
    const logs: string[] = [];
    const s = await make({}, logs);
    await post(s, "/predict", contract);
    await post(s, "/predict", { ...contract, HT: {} });
    expect(logs.join("")).toBe("");
  });
});
