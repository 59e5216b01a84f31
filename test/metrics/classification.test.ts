import { describe, expect, it } from "vitest";
import { ConfusionMatrix as MlConfusionMatrix } from "ml-confusion-matrix";
import { createRng } from "../../src/util/random.js";
import {
  accuracy,
  balancedAccuracy,
  classScores,
  confusionMatrix,
  macroF1,
  macroPrecision,
  macroRecall,
  mostWrongUsers,
  perUserAccuracy,
  topKAccuracy,
  trueRank,
} from "../../src/metrics/index.js";

// A hand-checked three-user case. Rows true, columns predicted:
//        1  2  3
//   1 [  2  1  0 ]   recall 2/3
//   2 [  1  1  0 ]   recall 1/2
//   3 [  1  0  3 ]   recall 3/4
//   precision 2/4, 1/2, 3/3
const actual = [1, 1, 1, 2, 2, 3, 3, 3, 3];
const predicted = [1, 1, 2, 1, 2, 3, 3, 3, 1];

describe("confusion matrix and scores on a 3×3 case", () => {
  it("counts true × predicted pairs in label order", () => {
    const cm = confusionMatrix(actual, predicted);
    expect(cm.labels).toEqual([1, 2, 3]);
    expect(cm.matrix).toEqual([
      [2, 1, 0],
      [1, 1, 0],
      [1, 0, 3],
    ]);
  });

  it("gives accuracy 6/9 and balanced accuracy (2/3 + 1/2 + 3/4) / 3", () => {
    expect(accuracy(actual, predicted)).toBeCloseTo(6 / 9, 12);
    expect(balancedAccuracy(actual, predicted)).toBeCloseTo(23 / 36, 12);
  });

  it("gives macro precision 2/3, recall 23/36 and F1 = mean(4/7, 1/2, 6/7)", () => {
    expect(macroPrecision(actual, predicted)).toBeCloseTo(2 / 3, 12);
    expect(macroRecall(actual, predicted)).toBeCloseTo(23 / 36, 12);
    expect(macroF1(actual, predicted)).toBeCloseTo(9 / 14, 12);
    const s = classScores(confusionMatrix(actual, predicted));
    expect(s.map((c) => c.f1)).toEqual([
      expect.closeTo(4 / 7, 12),
      expect.closeTo(1 / 2, 12),
      expect.closeTo(6 / 7, 12),
    ]);
    expect(s.map((c) => c.support)).toEqual([3, 2, 4]);
  });

  it("gives a never-predicted class precision 0 and a never-true class recall 0", () => {
    // user 2 is never predicted; user 9 is predicted but never true
    const s = classScores(confusionMatrix([1, 2, 2], [1, 1, 9]));
    expect(s.map((c) => c.label)).toEqual([1, 2, 9]);
    expect(s[1]).toMatchObject({ precision: 0, recall: 0, f1: 0 });
    expect(s[2]).toMatchObject({ precision: 0, recall: 0, f1: 0 });
    expect(s[0]!.precision).toBeCloseTo(1 / 2, 12);
    expect(macroPrecision([1, 2], [1, 1])).toBeCloseTo(1 / 4, 12);
    expect(macroRecall([1, 2], [1, 1])).toBeCloseTo(1 / 2, 12);
  });

  it("agrees with ml-confusion-matrix on a random case", () => {
    const rng = createRng(3);
    const a = Array.from({ length: 200 }, () => 1 + Math.floor(rng() * 6));
    const p = a.map((v) => (rng() < 0.6 ? v : 1 + Math.floor(rng() * 6)));
    const ours = confusionMatrix(a, p);
    const ml = MlConfusionMatrix.fromLabels(a, p, { labels: ours.labels as number[] });
    expect(ours.matrix).toEqual(ml.getMatrix());
    for (const s of classScores(ours)) {
      expect(s.recall).toBeCloseTo(ml.getTruePositiveRate(s.label as number), 12);
      expect(s.precision).toBeCloseTo(ml.getPositivePredictiveValue(s.label as number), 12);
    }
  });

  it('matches labels by their text, so 73 and "73" are one user', () => {
    expect(accuracy([73, "a"], ["73", "a"])).toBe(1);
  });

  it("refuses lists of different lengths", () => {
    expect(() => accuracy([1, 2], [1])).toThrow(/2 true labels but 1 predictions/);
  });
});

describe("per-user accuracy and the users most often wrong", () => {
  it("reports support, errors and whom each user was taken for", () => {
    const users = perUserAccuracy(actual, predicted);
    expect(users.map((u) => [u.user, u.support, u.correct, u.confusedWith])).toEqual([
      [1, 3, 2, 2],
      [2, 2, 1, 1],
      [3, 4, 3, 1],
    ]);
    expect(users[1]!.accuracy).toBe(0.5);
  });

  it("orders the worst first, breaking accuracy ties by more errors, and omits perfect users", () => {
    const a = ["x", "x", "y", "y", "y", "y", "z"];
    const p = ["x", "y", "y", "x", "x", "y", "z"];
    // x: 1/2 (1 error), y: 2/4 (2 errors), z: perfect
    const worst = mostWrongUsers(perUserAccuracy(a, p), 5);
    expect(worst.map((u) => u.user)).toEqual(["y", "x"]);
    expect(mostWrongUsers(perUserAccuracy(a, p), 1).map((u) => u.user)).toEqual(["y"]);
  });
});

describe("top-k accuracy", () => {
  const classes = ["a", "b", "c", "d"];
  const row = [0.5, 0.2, 0.2, 0.1];

  it("counts a true class tied with the k-th probability as a hit", () => {
    // for k = 2 the second place is shared by b and c: both count
    expect(topKAccuracy([row, row], classes, ["b", "c"], 2)).toBe(1);
    expect(topKAccuracy([row], classes, ["d"], 3)).toBe(0);
    expect(topKAccuracy([row], classes, ["d"], 4)).toBe(1);
    // k = 1: only a
    expect(topKAccuracy([row, row, row], classes, ["a", "b", "c"], 1)).toBeCloseTo(1 / 3, 12);
  });

  it("counts every class of an all-equal row as top-1", () => {
    expect(trueRank([0.25, 0.25, 0.25, 0.25], classes, "d")).toBe(0);
  });

  it("counts a user the model never saw as a miss", () => {
    expect(trueRank(row, classes, "zz")).toBeNull();
    expect(topKAccuracy([row, row], classes, ["zz", "a"], 4)).toBe(0.5);
  });

  it("refuses a k that is not a whole number ≥ 1", () => {
    expect(() => topKAccuracy([row], classes, ["a"], 0)).toThrow(/k ≥ 1/);
  });
});
