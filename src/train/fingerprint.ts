import { createHash } from "node:crypto";
import type { Sample } from "../data/types.js";
import type { TrainingRows } from "../models/store.js";

/**
 * The 64-bit hash of a sample's timings: the first 8 bytes of SHA-256 over its press and release times
 * relative to its first press, in whole microseconds. The label is left out (the same typing under
 * another label is still a training row), and so is the layout it was read from.
 */
export function rowHash(sample: Pick<Sample, "press" | "release">): bigint {
  const n = sample.press.length;
  const buf = Buffer.alloc(8 + 16 * n);
  buf.writeUInt32LE(n, 0);
  const t0 = sample.press[0] ?? 0;
  for (let i = 0; i < n; i++) {
    buf.writeBigInt64LE(BigInt(Math.round((sample.press[i]! - t0) * 1000)), 8 + 16 * i);
    buf.writeBigInt64LE(BigInt(Math.round((sample.release[i]! - t0) * 1000)), 16 + 16 * i);
  }
  return createHash("sha256").update(buf).digest().readBigUInt64BE(0);
}

/**
 * The fingerprint of the rows a model was fitted on: the sorted distinct row hashes, 8 bytes each,
 * base64. A sorted list rather than a Bloom filter because it is exact (a Bloom filter at 1% false
 * positives would save 7 of the 8 bytes but miscount 1 held-out row in 100 as a training row), and 8
 * bytes a row stays small: 80 KB for 10,000 rows.
 */
export function fingerprintRows(samples: readonly Pick<Sample, "press" | "release">[]): TrainingRows {
  const hashes = [...new Set(samples.map(rowHash))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const buf = Buffer.alloc(8 * hashes.length);
  hashes.forEach((h, i) => buf.writeBigUInt64BE(h, 8 * i));
  return {
    hash: "sha256-64",
    count: samples.length,
    distinct: hashes.length,
    hashes: buf.toString("base64"),
  };
}

/** Which of the samples were among a fingerprint's rows: true at index i when sample i was a training row. */
export function matchTrainingRows(
  fingerprint: TrainingRows,
  samples: readonly Pick<Sample, "press" | "release">[],
): boolean[] {
  const buf = Buffer.from(fingerprint.hashes, "base64");
  const known = new Set<bigint>();
  for (let i = 0; i + 8 <= buf.length; i += 8) known.add(buf.readBigUInt64BE(i));
  return samples.map((s) => known.has(rowHash(s)));
}

/** Samples split into those a fingerprint names (training rows) and the others (held-out rows). */
export function splitByTraining<S extends Pick<Sample, "press" | "release">>(
  samples: readonly S[],
  fingerprint: TrainingRows | undefined,
): {
  training: S[];
  heldOut: S[];
  counts: { total: number; training: number; held_out: number; fingerprint: boolean };
} {
  if (!fingerprint)
    return {
      training: [],
      heldOut: [],
      counts: { total: samples.length, training: 0, held_out: 0, fingerprint: false },
    };
  const seen = matchTrainingRows(fingerprint, samples);
  const training = samples.filter((_, i) => seen[i]);
  const heldOut = samples.filter((_, i) => !seen[i]);
  return {
    training,
    heldOut,
    counts: { total: samples.length, training: training.length, held_out: heldOut.length, fingerprint: true },
  };
}
