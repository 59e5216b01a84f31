import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRng, normal } from "../../src/util/random.js";
import { runCli } from "../helpers/cli.js";

export const KEYS = 6;

/** A press/release sample typed the way `user` types (hold and gap times set per user), with seeded noise. */
export function syntheticSample(
  user: number,
  rng: () => number,
  keys = KEYS,
): { press: number[]; release: number[] } {
  const press: number[] = [];
  const release: number[] = [];
  let t = 0;
  for (let i = 0; i < keys; i++) {
    // holds differ per key, as they do for people (a near-constant series would be flagged as scripted)
    const hold = 60 + 25 * user + ((i * 7) % 4) * 12 + 6 * normal(rng);
    const gap = 90 + 40 * user + ((i * user) % 3) * 15 + 6 * normal(rng);
    press.push(Math.round(t));
    release.push(Math.round(t + Math.max(5, hold)));
    t += Math.max(1, gap);
  }
  return { press, release };
}

/** A wide-layout CSV of `perUser` synthetic samples for each of `users` users (labels 1…users). */
export function syntheticCsv(users = 4, perUser = 14, seed = 5): string {
  const rng = createRng(seed);
  const head = [
    ...Array.from({ length: KEYS }, (_, i) => [`press-${i}`, `release-${i}`]).flat(),
    "UserID",
  ].join(",");
  const rows: string[] = [head];
  for (let u = 1; u <= users; u++) {
    for (let s = 0; s < perUser; s++) {
      const { press, release } = syntheticSample(u, rng);
      rows.push([...press.flatMap((p, i) => [p, release[i]]), u].join(","));
    }
  }
  return rows.join("\n") + "\n";
}

/** Trains models on synthetic data with the built binary into a fresh temp dir; returns the dir and the CSV path. */
export async function trainedDir(models = "rf,svm"): Promise<{ dir: string; csv: string; root: string }> {
  const root = mkdtempSync(join(tmpdir(), "kid-serve-"));
  const csv = join(root, "train.csv");
  writeFileSync(csv, syntheticCsv());
  const dir = join(root, "models");
  const r = await runCli([
    "train",
    csv,
    "--model",
    models,
    "--models-dir",
    dir,
    "--holdout",
    "0",
    "--workers",
    "0",
    "--json",
  ]);
  if (r.code !== 0) throw new Error(`train failed (${r.code}): ${r.stderr}`);
  // train enrolled the users in the test file's identity store (KEYSTROKE_ID_STORE, see test/store-env.ts)
  return { dir, csv, root };
}
