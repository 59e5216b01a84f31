import { afterEach, describe, expect, it, vi } from "vitest";
import { errorResponse, HTTP_STATUS, KeystrokeError, type ErrorCode } from "../../src/errors.js";
import { answerRequest, Predictor } from "../../src/predict/index.js";
import { buildProgram, reportError } from "../../src/cli.js";
import { fakeModel, fakeSource } from "../predict/fakes.js";
import { fakeModelDir, serverHarness } from "../server/harness.js";
import { runCli } from "../helpers/cli.js";

// One error catalogue: the same bad input gets the same code, message and field from the library, over
// HTTP and on the CLI; HTTP statuses come from one total table; no framework code reaches a client.

const models = () => [
  fakeModel("RF", "summary", null, [0.2, 0.5, 0.3]),
  fakeModel("RF", "timings", 3, [0.1, 0.1, 0.8]),
];
const harness = serverHarness({ loadModels: async () => fakeModelDir(models()) });
afterEach(async () => {
  await harness.closeAll();
  vi.restoreAllMocks();
});

const contract = {
  Model: "RF",
  HT: { Mean: 48, STD: 23 },
  PPT: { Mean: 120, STD: 40 },
  RRT: { Mean: 119, STD: 41 },
  RPT: { Mean: 70, STD: 38 },
};

function libraryError(body: unknown): KeystrokeError {
  try {
    answerRequest(new Predictor(fakeSource(models())), body);
  } catch (e) {
    return e as KeystrokeError;
  }
  throw new Error("no error");
}

describe("the same case, the same error everywhere", () => {
  const cases: Array<[string, unknown]> = [
    ["a missing STD", { ...contract, HT: { Mean: 1 } }],
    ["a string time", { press: [0, "x"], release: [1, 2] }],
    ["an unknown model", { ...contract, Model: "KNN" }],
    ["a bad allow_summary", { press: [0, 100, 200], release: [50, 150, 250], allow_summary: 1 }],
  ];
  it.each(cases)("%s: library, HTTP and CLI agree on code, message and field", async (_name, body) => {
    const lib = libraryError(body);
    const s = await harness.make();
    const http = await s.app.inject({
      method: "POST",
      url: "/predict",
      payload: JSON.stringify(body),
      headers: { "content-type": "application/json" },
    });
    expect(http.statusCode).toBe(HTTP_STATUS[lib.code]);
    expect(http.json()).toEqual({
      error: lib.message,
      code: lib.code,
      ...(lib.place.field !== undefined ? { field: lib.place.field } : {}),
    });
    // the CLI validates a single request before loading any model, so no models dir is needed
    const cli = await runCli(["predict", "--models-dir", "/nonexistent"], { stdin: JSON.stringify(body) });
    expect(cli.stderr).toBe(`error: ${lib.message} [${lib.code}]\n`);
    expect(cli.code).toBe(lib.exitCode);
  });

  it("a sample the timings model cannot take: SAMPLE_MISMATCH, 422, the same message", async () => {
    const four = { press: [0, 100, 250, 300], release: [80, 190, 300, 350], Model: "RF" };
    const lib = libraryError(four);
    expect(lib.code).toBe("SAMPLE_MISMATCH");
    const s = await harness.make();
    const http = await s.app.inject({
      method: "POST",
      url: "/predict",
      payload: JSON.stringify(four),
      headers: { "content-type": "application/json" },
    });
    expect(http.statusCode).toBe(422);
    expect(http.json()).toEqual({ error: lib.message, code: "SAMPLE_MISMATCH", field: "press" });
    // HTTP's allow_summary is handled in the core: the route passes the body through
    const allowed = await s.app.inject({
      method: "POST",
      url: "/predict",
      payload: JSON.stringify({ ...four, allow_summary: true }),
      headers: { "content-type": "application/json" },
    });
    expect(allowed.json()).toMatchObject({ features: "summary" });
  });
});

describe("framework errors become catalogue errors", () => {
  it("answers 415, 413, a bad query, an unknown route and a missing token with catalogue codes only", async () => {
    const s = await harness.make({ bodyLimit: 1024, token: "t0k" });
    const auth = { authorization: "Bearer t0k" };
    const bodies = [
      await s.app.inject({
        method: "POST",
        url: "/predict",
        payload: "hello",
        headers: { "content-type": "text/plain", ...auth },
      }),
      await s.app.inject({
        method: "POST",
        url: "/predict",
        payload: JSON.stringify({ ...contract, pad: "x".repeat(2000) }),
        headers: { "content-type": "application/json", ...auth },
      }),
      await s.app.inject({
        method: "POST",
        url: "/predict?top=0",
        payload: JSON.stringify(contract),
        headers: { "content-type": "application/json", ...auth },
      }),
      await s.app.inject({ method: "GET", url: "/nowhere", headers: auth }),
      await s.app.inject({ method: "GET", url: "/models" }),
    ];
    expect(bodies.map((r) => r.statusCode)).toEqual([415, 413, 400, 404, 401]);
    expect(bodies.map((r) => r.json().code)).toEqual([
      "UNSUPPORTED_MEDIA_TYPE",
      "BODY_TOO_LARGE",
      "BAD_REQUEST",
      "NOT_FOUND",
      "UNAUTHORIZED",
    ]);
    expect(bodies[2]!.json().field).toBe("querystring.top");
    for (const r of bodies) expect(r.body).not.toMatch(/FST_|ERR_/);
  });

  it("maps fastify-shaped errors without fastify, and anything unknown to INTERNAL", () => {
    const cases: Array<[object, ErrorCode, number]> = [
      [
        {
          statusCode: 415,
          code: "FST_ERR_CTP_INVALID_MEDIA_TYPE",
          message: "Unsupported Media Type: text/plain",
        },
        "UNSUPPORTED_MEDIA_TYPE",
        415,
      ],
      [{ statusCode: 413, code: "FST_ERR_CTP_BODY_TOO_LARGE" }, "BODY_TOO_LARGE", 413],
      [{ statusCode: 400, code: "FST_ERR_CTP_EMPTY_JSON_BODY" }, "BAD_JSON", 400],
      [{ statusCode: 400, code: "FST_ERR_SOMETHING_NEW", message: "internal detail" }, "BAD_REQUEST", 400],
      [{ statusCode: 429, code: "RATE_LIMITED", message: "too many requests" }, "RATE_LIMITED", 429],
      [{ statusCode: 408 }, "TIMEOUT", 408],
      [new Error("boom at /srv/secret.js:12"), "INTERNAL", 500],
    ];
    for (const [err, code, status] of cases) {
      const r = errorResponse(err, { bodyLimit: 64 });
      expect(r, JSON.stringify(err)).toMatchObject({ status, body: { code } });
      expect(r.body.error).not.toMatch(/FST_|internal detail|secret/);
    }
    expect(errorResponse({ statusCode: 413 }, { bodyLimit: 64 }).body.error).toMatch(/64 bytes/);
  });

  it("has a status for every code, each a 4xx or 5xx", () => {
    for (const [code, status] of Object.entries(HTTP_STATUS)) {
      expect(status, code).toBeGreaterThanOrEqual(400);
      expect(status, code).toBeLessThan(600);
      expect(new KeystrokeError(code as ErrorCode, "x").status).toBe(status);
    }
  });
});

describe("core errors name library options; the CLI names flags", () => {
  it("reports {option} as the command's flag", () => {
    buildProgram(); // registers every command's options
    const lines: string[] = [];
    vi.spyOn(process.stderr, "write").mockImplementation((s) => {
      lines.push(String(s));
      return true;
    });
    expect(
      reportError(new KeystrokeError("BAD_FLAG", "cross-validation needs ≥ 2 folds", { option: "k" })),
    ).toBe(2);
    expect(reportError(new KeystrokeError("IO", "cannot be written", { option: "out" }))).toBe(1);
    expect(reportError(new KeystrokeError("BAD_FLAG", "bad", { option: "rejectBelow" }))).toBe(2);
    expect(lines.join("")).toBe(
      "error: flag --cv: cross-validation needs ≥ 2 folds [BAD_FLAG]\nerror: flag --models-dir: cannot be written [IO]\nerror: flag --reject-below: bad [BAD_FLAG]\n",
    );
    // the library itself speaks option names
    expect(new KeystrokeError("BAD_FLAG", "bad", { option: "rejectBelow" }).message).toBe(
      "option rejectBelow: bad",
    );
  });
});
