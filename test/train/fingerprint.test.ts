import { describe, expect, it } from "vitest";
import { fingerprintRows, matchTrainingRows, rowHash, splitByTraining } from "../../src/train/fingerprint.js";

const sample = (press: number[], hold = 80) => ({ press, release: press.map((p) => p + hold) });

describe("training-row fingerprint", () => {
  it("hashes a sample's timings relative to its first press, whatever its absolute start or label", () => {
    expect(rowHash(sample([0, 120, 250]))).toBe(rowHash(sample([1000, 1120, 1250])));
    expect(rowHash(sample([0, 120, 250]))).not.toBe(rowHash(sample([0, 121, 250])));
    expect(rowHash(sample([0, 120, 250]))).not.toBe(rowHash(sample([0, 120, 250], 81)));
    // a prefix is another sample
    expect(rowHash(sample([0, 120]))).not.toBe(rowHash(sample([0, 120, 250])));
  });

  it("stores distinct sorted 8-byte hashes and tells training rows from others exactly", () => {
    const train = [sample([0, 100, 200]), sample([0, 110, 190]), sample([0, 100, 200])];
    const fp = fingerprintRows(train);
    expect(fp.count).toBe(3);
    expect(fp.distinct).toBe(2);
    expect(Buffer.from(fp.hashes, "base64")).toHaveLength(16);
    const evaluated = [sample([50, 150, 250]), sample([0, 105, 200]), sample([7, 117, 197])];
    expect(matchTrainingRows(fp, evaluated)).toEqual([true, false, true]);
    const split = splitByTraining(evaluated, fp);
    expect(split.counts).toEqual({ total: 3, training: 2, held_out: 1, fingerprint: true });
    expect(split.heldOut).toEqual([evaluated[1]]);
    expect(splitByTraining(evaluated, undefined).counts).toEqual({
      total: 3,
      training: 0,
      held_out: 0,
      fingerprint: false,
    });
  });
});
