import type { Sample } from "../../src/data/types.js";
import { extractTimings } from "../../src/features/index.js";
import { createRng, normal } from "../../src/util/random.js";

/** Synthetic typists: each user has their own hold and gap means; samples jitter around them (seeded). */
export function syntheticSamples(users: number, perUser: number, keys = 6, seed = 7): Sample[] {
  const rng = createRng(seed);
  const styles = Array.from({ length: users }, () => ({
    hold: Array.from({ length: keys }, () => 60 + 80 * rng()),
    gap: Array.from({ length: keys - 1 }, () => 80 + 200 * rng()),
  }));
  const out: Sample[] = [];
  for (let r = 0; r < perUser; r++) {
    for (let u = 0; u < users; u++) {
      const s = styles[u]!;
      const press: number[] = [];
      const release: number[] = [];
      let t = 0;
      for (let k = 0; k < keys; k++) {
        if (k > 0) t += Math.max(5, s.gap[k - 1]! * (1 + 0.12 * normal(rng)));
        press.push(Math.round(t));
        release.push(Math.round(t + Math.max(5, s.hold[k]! * (1 + 0.12 * normal(rng)))));
      }
      out.push({ label: u + 1, press, release });
    }
  }
  return out;
}

/** Timing vectors of one user's samples, in order. */
export function vectorsOf(samples: Sample[], user: number): number[][] {
  return samples.filter((s) => s.label === user).map((s) => extractTimings(s));
}
