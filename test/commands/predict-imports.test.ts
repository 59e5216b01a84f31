import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { ROOT } from "../helpers/cli.js";

/** Every module `file` loads before running (static imports only, followed through the repo's own files). */
function staticGraph(file: string, seen = new Set<string>()): Set<string> {
  if (seen.has(file)) return seen;
  seen.add(file);
  const text = readFileSync(file, "utf8");
  // `import type` is erased; `await import(...)` is dynamic and loads only when reached
  for (const m of text.matchAll(
    /^\s*(?:import|export)\s+(?!type\b)(?:[^'"]*?\bfrom\s+)?["']([^"']+)["']/gm,
  )) {
    const spec = m[1]!;
    if (spec.startsWith(".")) staticGraph(resolve(dirname(file), spec.replace(/\.js$/, ".ts")), seen);
    else seen.add(spec);
  }
  return seen;
}

describe("start-up cost", () => {
  it("predict loads neither fastify, prom-client, ink nor react before its action runs", () => {
    const graph = [...staticGraph(resolve(ROOT, "src/commands/predict.ts"))];
    expect(graph).toContain("commander");
    for (const heavy of ["fastify", "prom-client", "ink", "react"]) expect(graph).not.toContain(heavy);
  });

  it("serve loads fastify and prom-client only inside its action", () => {
    const graph = [...staticGraph(resolve(ROOT, "src/commands/serve.ts"))];
    for (const heavy of ["fastify", "prom-client", "ink"]) expect(graph).not.toContain(heavy);
    expect([...staticGraph(resolve(ROOT, "src/server/app.ts"))]).toContain("fastify");
  });
});
