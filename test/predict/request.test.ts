import { describe, expect, it } from "vitest";
import { KeystrokeError } from "../../src/errors.js";
import { parseAlgorithm, parseClaim, parseRequest, parseVerifyRequest } from "../../src/predict/index.js";

const contract = {
  Model: "RF",
  HT: { Mean: 48.43, STD: 23.34 },
  PPT: { Mean: 120.5, STD: 40 },
  RRT: { Mean: 119, STD: 41.2 },
  RPT: { Mean: 70.1, STD: 38.9 },
};

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(KeystrokeError);
    return (e as KeystrokeError).place.field ?? (e as KeystrokeError).place.flag;
  }
  throw new Error("expected a KeystrokeError");
}

describe("parseRequest: the original contract", () => {
  it("reads the 8 summary numbers in contract order and the model in any case", () => {
    const r = parseRequest({ ...contract, Model: "rf" });
    expect(r).toEqual({
      kind: "summary",
      model: "RF",
      summary: [48.43, 23.34, 120.5, 40, 119, 41.2, 70.1, 38.9],
    });
  });

  it("leaves the model out when the request names none", () => {
    const { Model: _m, ...rest } = contract;
    expect(parseRequest(rest)).not.toHaveProperty("model");
  });

  it("accepts a negative RPT mean (overlapping keys) but not a negative hold time or spread", () => {
    expect(parseRequest({ ...contract, RPT: { Mean: -12, STD: 3 } }).kind).toBe("summary");
    expect(fieldOf(() => parseRequest({ ...contract, HT: { Mean: -1, STD: 3 } }))).toBe("HT.Mean");
    expect(fieldOf(() => parseRequest({ ...contract, PPT: { Mean: 1, STD: -3 } }))).toBe("PPT.STD");
  });

  it("names a missing or non-numeric field", () => {
    expect(fieldOf(() => parseRequest({ ...contract, HT: { Mean: 1 } }))).toBe("HT.STD");
    expect(fieldOf(() => parseRequest({ ...contract, RRT: { Mean: "1", STD: 2 } }))).toBe("RRT.Mean");
    expect(fieldOf(() => parseRequest({ ...contract, RPT: undefined }))).toBe("RPT");
    expect(fieldOf(() => parseRequest({ ...contract, PPT: [1, 2] }))).toBe("PPT");
    expect(fieldOf(() => parseRequest({ ...contract, HT: { Mean: Infinity, STD: 1 } }))).toBe("HT.Mean");
  });

  it("rejects an unknown model naming the Model field, without echoing long input", () => {
    expect(fieldOf(() => parseRequest({ ...contract, Model: "KNN" }))).toBe("Model");
    expect(fieldOf(() => parseRequest({ ...contract, Model: 3 }))).toBe("Model");
    expect(() => parseRequest({ ...contract, Model: "x".repeat(500) })).toThrow(/^(?!.*x{30})/s);
  });

  it("rejects what is not an object, and an object with no timings", () => {
    expect(() => parseRequest([contract])).toThrow(/must be a JSON object/);
    expect(() => parseRequest("hello")).toThrow(/must be a JSON object/);
    expect(() => parseRequest(null)).toThrow(/must be a JSON object/);
    expect(() => parseRequest({ Model: "RF" })).toThrow(/no timings/);
  });
});

describe("parseRequest: raw timings", () => {
  it("reads press/release arrays", () => {
    expect(parseRequest({ press: [0, 100, 250], release: [80, 190, 300], Model: "svm" })).toEqual({
      kind: "timings",
      model: "SVM",
      press: [0, 100, 250],
      release: [80, 190, 300],
    });
  });

  it("reads keystroke objects, keeping key names only when every key has one", () => {
    const ks = [
      { key: "a", press: 0, release: 95 },
      { key: "b", press: 120, release: 200 },
    ];
    expect(parseRequest({ keystrokes: ks })).toEqual({
      kind: "timings",
      press: [0, 120],
      release: [95, 200],
      keys: ["a", "b"],
    });
    expect(parseRequest({ keystrokes: [{ press: 0, release: 1 }, ks[1]] })).not.toHaveProperty("keys");
  });

  it("prefers raw timings when both forms are present", () => {
    expect(parseRequest({ ...contract, press: [0, 1], release: [1, 2] }).kind).toBe("timings");
  });

  it("names the offending element of a bad sample", () => {
    expect(fieldOf(() => parseRequest({ press: [0, -5], release: [1, 2] }))).toBe("press[1]");
    expect(fieldOf(() => parseRequest({ press: [0, 5], release: [1, "2"] }))).toBe("release[1]");
    // eslint-disable-next-line no-loss-of-precision -- 1e999 is Infinity on purpose
    expect(fieldOf(() => parseRequest({ press: [0, 5], release: [1, 1e999] }))).toBe("release[1]");
    expect(fieldOf(() => parseRequest({ press: [0, 5], release: [1, 4] }))).toBe("release[1]");
    expect(fieldOf(() => parseRequest({ press: [10, 5], release: [11, 9] }))).toBe("press[1]");
    expect(fieldOf(() => parseRequest({ press: [0, 5, 9], release: [1, 6] }))).toBe("release");
    expect(fieldOf(() => parseRequest({ press: [0, 5] }))).toBe("release");
    expect(fieldOf(() => parseRequest({ press: [0], release: [1] }))).toBe("press");
    expect(fieldOf(() => parseRequest({ keystrokes: [{ press: 0, release: 1 }, { press: 2 }] }))).toBe(
      "keystrokes[1].release",
    );
    expect(
      fieldOf(() =>
        parseRequest({
          keystrokes: [
            { press: 0, release: 1 },
            { key: 5, press: 2, release: 3 },
          ],
        }),
      ),
    ).toBe("keystrokes[1].key");
    expect(fieldOf(() => parseRequest({ keystrokes: [{ press: 0, release: 1 }, 7] }))).toBe("keystrokes[1]");
    expect(fieldOf(() => parseRequest({ keystrokes: {} }))).toBe("keystrokes");
  });
});

describe("claims and model flags", () => {
  it("reads UserID as the claim, numbers staying numbers", () => {
    expect(parseVerifyRequest({ UserID: 73, press: [0, 1], release: [1, 2] }).claim).toBe(73);
    expect(parseVerifyRequest({ UserID: "alice", press: [0, 1], release: [1, 2] }).claim).toBe("alice");
    expect(parseVerifyRequest({ press: [0, 1], release: [1, 2] }, 5).claim).toBe(5);
    expect(fieldOf(() => parseVerifyRequest({ press: [0, 1], release: [1, 2] }))).toBe("UserID");
    expect(fieldOf(() => parseVerifyRequest({ UserID: {}, press: [0, 1], release: [1, 2] }))).toBe("UserID");
  });

  it("turns a numeric claim string into a number and keeps other strings", () => {
    expect(parseClaim("73", { flag: "--claim" })).toBe(73);
    expect(parseClaim("007", { flag: "--claim" })).toBe("007");
  });

  it("reports a bad --model as a flag error", () => {
    expect(parseAlgorithm("xgb", { flag: "--model" })).toBe("XGB");
    try {
      parseAlgorithm("tree", { flag: "--model" });
      expect.unreachable();
    } catch (e) {
      expect((e as KeystrokeError).code).toBe("BAD_FLAG");
      expect((e as KeystrokeError).message).toContain("flag --model");
    }
  });
});
