import { loadModelDir, readManifest, type ModelDir } from "../models/store.js";
import type { Algorithm } from "../models/types.js";
import { Predictor } from "./predictor.js";

export * from "./request.js";
export * from "./predictor.js";
export * from "./answer.js";
export { loadVerifier, requireVerifier } from "./verifier.js";
export { parseJson, findJsonFault, type JsonFault } from "./json.js";

/**
 * Loads a models directory into a Predictor. `algorithms` limits which models are read (a CLI answering
 * one RF request need not parse the XGB trees); "best" stands for the manifest's best algorithm.
 */
export async function loadPredictor(modelsDir: string, options: { algorithms?: ReadonlyArray<Algorithm | "best"> } = {}): Promise<Predictor> {
  let algorithms: Algorithm[] | undefined;
  if (options.algorithms) {
    const wanted = new Set(options.algorithms);
    if (wanted.has("best")) {
      wanted.delete("best");
      wanted.add((await readManifest(modelsDir)).best);
    }
    algorithms = [...wanted] as Algorithm[];
  }
  const dir: ModelDir = await loadModelDir(modelsDir, algorithms ? { algorithms } : {});
  return new Predictor(dir);
}
