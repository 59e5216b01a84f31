import { existsSync, readdirSync, statSync } from "node:fs";
import type { Manifest } from "../models/store.js";
import { join, resolve } from "node:path";
import type { Store } from "../store/index.js";
import { sampleHash } from "./service.js";

/** What importing a models dir's old `verification/` store did. */
export interface LegacyImport {
  dir: string;
  imported: number;
  /** Users already in the store, left as they are. */
  kept: number;
}

/**
 * Imports the verification templates an older keystroke-id kept in `<modelsDir>/verification/` into the
 * store, once per index (recorded in the store), so upgrading loses nobody. Users the store already has
 * are left alone (the store is the newer truth). The files are left in place, untouched.
 */
export async function importLegacyVerification(
  store: Store,
  modelsDir: string,
  instance = "legacy-import",
): Promise<LegacyImport | null> {
  const dir = resolve(modelsDir, "verification");
  if (!existsSync(dir)) return null;
  const verify = await import("../verify/store.js");
  const { readManifestIfAny } = await import("../models/store.js");
  // the index the manifest names; once a new train rewrote the manifest, the newest index file left there
  let manifest = await readManifestIfAny(modelsDir).catch(() => null);
  if (!manifest?.verification?.index && !existsSync(join(dir, "index.json"))) {
    const newest = readdirSync(dir)
      .filter((n) => /^index\.[0-9a-f]{12}\.json$/.test(n))
      .map((n) => ({ n, t: statSync(join(dir, n)).mtimeMs }))
      .sort((a, b) => b.t - a.t)[0];
    if (!newest) return null;
    manifest = {
      verification: { dir: "verification", users: 0, detector: "", index: newest.n },
    } as unknown as Manifest;
  }
  const index = await verify.readVerificationIndex(modelsDir, { manifest }).catch(() => null);
  if (!index || Object.keys(index.users).length === 0) return null;
  const key = `legacy-import:${dir}`;
  const stamp = `${index.nFeatures}:${Object.keys(index.users).length}:${Object.values(index.users)
    .map((u) => u.sha256.slice(0, 8))
    .join("")
    .slice(0, 4096)}`;
  if ((await store.policy.getSetting(key)) === stamp) return null;
  const templates = await verify.loadTemplates(modelsDir, { manifest });
  let pid: number | null = null;
  if (index.population) pid = await store.policy.addPopulation(index.population, Date.now());
  if (!(await store.policy.getSetting("detector"))) await store.policy.setSetting("detector", index.detector);
  let imported = 0;
  let kept = 0;
  for (const user of templates.users()) {
    const t = templates.get(user)!;
    const id = String(user);
    const samples = t.samples ?? [];
    const now = Date.now();
    const written = await store.identities.put({
      id,
      template: t,
      populationId: pid,
      samples,
      sampleHashes: samples.map(sampleHash),
      onlyIfNew: true,
      audit: {
        id,
        at: now,
        action: "import",
        outcome: "ok",
        score: t.threshold,
        instance,
        detail: `from ${join(modelsDir, "verification")}`,
      },
      now,
    });
    if (written) imported++;
    else kept++;
  }
  await store.policy.setSetting(key, stamp);
  return { dir, imported, kept };
}
