// `npm run bench [part…]`: runs the benchmark parts (features, train, serve, verify, reliability) in order and prints
// their tables, each next to the Python reference measured in the same run.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT, machine } from "./lib.mjs";

const PARTS = ["features", "train", "serve", "verify", "reliability", "store"];
// `--name value` after the parts belongs to the parts, which read process.argv themselves
const names = process.argv
  .slice(2)
  .filter((a, i, all) => !a.startsWith("--") && !all[i - 1]?.startsWith("--"));
const wanted = names.length ? names : PARTS;
console.log(`keystroke-id benchmarks on ${machine()}`);
for (const part of wanted) {
  if (!PARTS.includes(part)) {
    console.error(`unknown bench part "${part}" (parts: ${PARTS.join(", ")})`);
    process.exit(2);
  }
  const file = join(ROOT, "bench", `${part}.mjs`);
  if (!existsSync(file)) {
    console.log(`\n[${part}] not written yet`);
    continue;
  }
  console.log(`\n=== bench:${part}`);
  const mod = await import(pathToFileURL(file).href);
  await mod.default();
}
