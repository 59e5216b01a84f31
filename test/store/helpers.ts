import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Label } from "../../src/data/types.js";
import { extractTimings } from "../../src/features/index.js";
import { createRng, normal } from "../../src/util/random.js";

/** A temp SQLite store path. */
export function tempStorePath(): string {
  return join(mkdtempSync(join(tmpdir(), "kid-store-")), "keystroke-id.db");
}

/** Timing vectors (HT, PPT, RRT, RPT of `keys` keys) of `n` samples typed the way synthetic user `user` types. */
export function userVectors(user: number, n: number, seed = 1, keys = 6): number[][] {
  return Array.from({ length: n }, (_, s) => extractTimings(rawSample(user, seed * 1000 + s, keys)));
}

/** A raw press/release sample for HTTP bodies. */
export function rawSample(user: number, seed: number, keys = 6): { press: number[]; release: number[] } {
  const rng = createRng(seed * 7919 + user);
  const press: number[] = [];
  const release: number[] = [];
  let t = 0;
  for (let i = 0; i < keys; i++) {
    const hold = 60 + 25 * (user % 7) + ((i * 7) % 4) * 12 + 6 * normal(rng);
    const gap = 90 + 40 * (user % 5) + ((i * 5 + user) % 4) * 15 + 6 * normal(rng);
    press.push(Math.round(t));
    release.push(Math.round(t + Math.max(5, hold)));
    t += Math.max(1, gap);
  }
  return { press, release };
}

export const ODD_IDS: Label[] = [
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "ünïcødé-用户-🙂",
  "007",
  "x".repeat(256),
  "a b",
  "'; DROP TABLE identities; --",
];
