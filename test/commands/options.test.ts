import { describe, expect, it } from "vitest";
import { parseAlgorithms, parseFeatureSets, parseNumber } from "../../src/commands/options.js";

describe("flag parsers", () => {
  it("reads model lists in any case, in canonical order", () => {
    expect(parseAlgorithms("xgb,Rf")).toEqual(["RF", "XGB"]);
    expect(parseAlgorithms("svm")).toEqual(["SVM"]);
  });

  it("names the flag on a bad model", () => {
    expect(() => parseAlgorithms("rf,knn")).toThrow(/flag --model: unknown model "KNN"/);
  });

  it("reads feature sets", () => {
    expect(parseFeatureSets("both")).toEqual(["timings", "summary"]);
    expect(() => parseFeatureSets("all")).toThrow(/--features/);
  });

  it("checks numbers against their range", () => {
    expect(parseNumber("0.25", "--holdout", { min: 0, max: 0.9 })).toBe(0.25);
    expect(() => parseNumber("1.5", "--holdout", { min: 0, max: 0.9 })).toThrow(
      /--holdout: "1.5" is not a number from 0 to 0.9/,
    );
    expect(() => parseNumber("4.5", "--seed", { integer: true })).toThrow(/not an integer/);
    expect(() => parseNumber("", "--seed")).toThrow(/--seed/);
  });
});
