import { Writable } from "node:stream";
import type { LoadedModel, Manifest, ModelDir } from "../../src/models/store.js";
import { createServer, type KeystrokeServer, type ServerOptions } from "../../src/server/app.js";

/** A models dir held in memory, for servers that need no files. */
export function fakeModelDir(models: LoadedModel[], best: "RF" | "SVM" = "RF"): ModelDir {
  const manifest = {
    formatVersion: 1,
    best,
    models: models.map((m) => ({ algorithm: m.algorithm, featureSet: m.featureSet, version: m.version })),
  } as unknown as Manifest;
  return {
    dir: "fake",
    manifest,
    models,
    find: (a, s) => models.find((m) => m.algorithm === a && m.featureSet === s),
  };
}

/**
 * Creates in-process servers over the given defaults, collecting their log lines when asked, and closes
 * every one of them in `closeAll` (call it in afterEach).
 */
export function serverHarness(defaults: Partial<ServerOptions>) {
  const servers: KeystrokeServer[] = [];
  return {
    servers,
    make: async (extra: Partial<ServerOptions> = {}, logs?: string[]): Promise<KeystrokeServer> => {
      const logStream = new Writable({
        write(chunk, _enc, cb) {
          logs?.push(String(chunk));
          cb();
        },
      });
      const s = await createServer({
        modelsDir: "fake",
        logStream,
        processMetrics: false,
        ...defaults,
        ...extra,
      });
      servers.push(s);
      return s;
    },
    closeAll: async (): Promise<void> => {
      for (const s of servers.splice(0)) await s.close();
    },
  };
}
