import { describe, expect, it } from "vitest";
import { KeystrokeError } from "../../src/errors.js";
import { extractSummary, extractTimings, timingsNames } from "../../src/features/index.js";
import {
  answerBatch,
  answerRequest,
  answerVerify,
  Predictor,
  readRequests,
  topK,
  type Verifier,
} from "../../src/predict/index.js";
import { fakeModel, fakeSource } from "./fakes.js";

const contract = {
  Model: "RF",
  HT: { Mean: 48, STD: 23 },
  PPT: { Mean: 120, STD: 40 },
  RRT: { Mean: 119, STD: 41 },
  RPT: { Mean: 70, STD: 38 },
};
const sample = { press: [0, 100, 250], release: [80, 190, 300] };

function setup() {
  const rfSummary = fakeModel("RF", "summary", null, [0.2, 0.5, 0.3]);
  const rfTimings = fakeModel("RF", "timings", 3, [0.1, 0.1, 0.8]);
  const svmSummary = fakeModel("SVM", "summary", null, [0.6, 0.3, 0.1]);
  const xgbTimings = fakeModel("XGB", "timings", 3, [0.3, 0.3, 0.4]);
  const predictor = new Predictor(fakeSource([rfSummary, rfTimings, svmSummary, xgbTimings], "SVM"));
  return { predictor, rfSummary, rfTimings, svmSummary, xgbTimings };
}

describe("topK", () => {
  it("returns the k most probable classes, best first, ties in class order", () => {
    expect(topK([0.1, 0.4, 0.1, 0.4], ["a", "b", "c", "d"], 3)).toEqual([
      { UserID: "b", probability: 0.4 },
      { UserID: "d", probability: 0.4 },
      { UserID: "a", probability: 0.1 },
    ]);
    expect(topK([0.5, 0.2, 0.3], [1, 2, 3], 10).map((c) => c.UserID)).toEqual([1, 3, 2]);
    expect(topK([0.5, 0.2, 0.3], [1, 2, 3], 0).map((c) => c.UserID)).toEqual([1]);
  });

  it("agrees with a full sort on random probabilities", () => {
    let s = 7;
    const rnd = () => (s = (s * 16807) % 2147483647) / 2147483647;
    for (let t = 0; t < 50; t++) {
      const p = Array.from({ length: 40 }, rnd);
      const classes = p.map((_, i) => i);
      const sorted = [...classes].sort((a, b) => p[b]! - p[a]! || a - b).slice(0, 5);
      expect(topK(p, classes, 5).map((c) => c.UserID)).toEqual(sorted);
    }
  });
});

describe("Predictor", () => {
  it("answers the original contract with the summary model, UserID first", () => {
    const { predictor, rfSummary } = setup();
    const a = answerRequest(predictor, contract);
    expect(Object.keys(a)[0]).toBe("UserID");
    expect(a).toMatchObject({
      UserID: 20,
      Model: "RF",
      features: "summary",
      confidence: 0.5,
      model_version: "rf-summary-fake",
    });
    expect(a.top).toEqual([
      { UserID: 20, probability: 0.5 },
      { UserID: 30, probability: 0.3 },
      { UserID: 10, probability: 0.2 },
    ]);
    expect(a.inference_time_ms).toBeGreaterThanOrEqual(0);
    expect(rfSummary.classifier.seen).toEqual([[48, 23, 120, 40, 119, 41, 70, 38]]);
  });

  it("sends raw timings of the right length to the timings model", () => {
    const { predictor, rfTimings } = setup();
    const a = answerRequest(predictor, { ...sample, Model: "RF" }, { top: 1 });
    expect(a).toMatchObject({ UserID: 30, features: "timings", confidence: 0.8 });
    expect(a.top).toHaveLength(1);
    expect(rfTimings.classifier.seen).toEqual([extractTimings(sample)]);
  });

  it("refuses a sample of another length with SAMPLE_MISMATCH saying why, unless allowSummary", () => {
    const { predictor, rfSummary } = setup();
    const four = { press: [0, 100, 250, 300], release: [80, 190, 300, 350], Model: "RF" };
    let err: KeystrokeError | undefined;
    try {
      answerRequest(predictor, four);
    } catch (e) {
      err = e as KeystrokeError;
    }
    expect(err?.code).toBe("SAMPLE_MISMATCH");
    expect(err?.place.field).toBe("press");
    expect(err?.message).toMatch(
      /has 4 keys but the RF timings model was trained on samples of 3 keys.*allowSummary/,
    );
    expect(rfSummary.classifier.seen).toEqual([]);
    // the library option, and the request's own allow_summary, let the summary model answer; the answer says so
    expect(answerRequest(predictor, four, { allowSummary: true }).features).toBe("summary");
    expect(answerRequest(predictor, { ...four, allow_summary: true }).features).toBe("summary");
    expect(rfSummary.classifier.seen).toEqual([extractSummary(four), extractSummary(four)]);
    expect(() => answerRequest(predictor, { ...four, allow_summary: "yes" })).toThrow(
      /field allow_summary: must be true or false/,
    );
  });

  it("refuses a sample whose keys are not the text the timings model was trained on", () => {
    const { predictor, rfTimings } = setup();
    rfTimings.featureNames = timingsNames(3, ["t", "i", "e"]);
    const ks = (keys: string) => ({
      Model: "RF",
      keystrokes: [...keys].map((key, i) => ({ key, press: i * 100, release: i * 100 + 60 })),
    });
    expect(answerRequest(predictor, ks("tie")).features).toBe("timings");
    expect(() => answerRequest(predictor, ks("tix"))).toThrow(
      /field keystrokes\[2\]\.key: key 2 is "x" but the RF timings model was trained on the text t i e/,
    );
  });

  it("warns, without refusing, when the times look like seconds", () => {
    const { predictor } = setup();
    const secs = { press: [0, 0.1, 0.25], release: [0.08, 0.19, 0.3], Model: "RF" };
    expect(answerRequest(predictor, secs).warnings?.[0]).toMatch(/look like seconds.*multiply them by 1000/);
    expect(answerRequest(predictor, { ...sample, Model: "RF" }).warnings).toBeUndefined();
  });

  it("uses the caller's model over the request's, and the manifest's best when neither names one", () => {
    const { predictor } = setup();
    expect(answerRequest(predictor, contract, { model: "SVM" }).Model).toBe("SVM");
    const { Model: _m, ...noModel } = contract;
    expect(answerRequest(predictor, noModel)).toMatchObject({ Model: "SVM", UserID: 10 });
  });

  it("reports a model that is not loaded as UNKNOWN_MODEL", () => {
    const { predictor } = setup();
    expect(() => answerRequest(predictor, { ...contract, Model: "XGB" })).toThrow(
      /no XGB summary model is loaded/,
    );
    try {
      answerRequest(predictor, { ...contract, Model: "XGB" });
    } catch (e) {
      expect((e as KeystrokeError).code).toBe("UNKNOWN_MODEL");
    }
    // XGB has only a 3-key timings model and no summary model to fall back on
    expect(() => answerRequest(predictor, { press: [0, 1], release: [1, 2], Model: "XGB" })).toThrow(
      /trained on samples of 3 keys, and there is no XGB summary model/,
    );
  });
});

describe("batches and streams", () => {
  it("answers every request of a batch, an error object standing in for a bad one", () => {
    const { predictor } = setup();
    const out = answerBatch(predictor, [contract, { ...contract, HT: { Mean: 1 } }, sample, 5]);
    expect(out).toHaveLength(4);
    expect(out[0]).toMatchObject({ UserID: 20 });
    expect(out[1]).toMatchObject({ code: "BAD_REQUEST", field: "HT.STD", index: 1 });
    expect(out[2]).toMatchObject({ UserID: 10, Model: "SVM" });
    expect(out[3]).toMatchObject({ code: "BAD_REQUEST", index: 3 });
  });

  it("tells a single request, an array and NDJSON apart", () => {
    expect(readRequests(JSON.stringify(contract)).form).toBe("single");
    expect(readRequests(JSON.stringify([contract, contract])).form).toBe("batch");
    const nd = readRequests(`${JSON.stringify(contract)}\n\n{"HT": oops}\n${JSON.stringify(sample)}\n`);
    expect(nd.form).toBe("ndjson");
    if (nd.form !== "ndjson") return;
    expect(nd.lines.map((l) => l.line)).toEqual([1, 3, 4]);
    expect(nd.lines[1]!.error?.message).toMatch(/^line 3: invalid JSON at column 8/);
    expect(nd.lines[2]!.value).toEqual(sample);
  });

  it("reports one broken document with its line and column", () => {
    expect(() => readRequests('{\n  "Model": "RF",\n  "HT": {"Mean": 1 "STD": 2}\n}', "r.json")).toThrow(
      /^r\.json:3: invalid JSON at column 20/,
    );
    expect(() => readRequests("  \n")).toThrow(/no input/);
  });
});

describe("verification", () => {
  const verifier: Verifier & { calls: unknown[] } = {
    calls: [],
    verify(user, vector) {
      this.calls.push([user, vector]);
      return {
        UserID: user,
        accepted: true,
        anomaly_score: 0.1,
        confidence_score: 0.9,
        threshold: 0.5,
        detector: "manhattan-scaled",
        policy: { kind: "eer" },
        replay: false,
        scripted: false,
      };
    },
  };

  it("verifies raw timings against the claimed user with the timings vector", async () => {
    const r = await answerVerify(verifier, { ...sample, UserID: 73 });
    expect(r).toMatchObject({ UserID: 73, accepted: true });
    expect(verifier.calls.at(-1)).toEqual([73, extractTimings(sample)]);
    expect((await answerVerify(verifier, sample, "bob")).UserID).toBe("bob");
  });

  it("refuses a summary-only request with a clear error", async () => {
    await expect(answerVerify(verifier, { ...contract, UserID: 73 })).rejects.toThrow(
      /verification needs raw timings/,
    );
  });
});
