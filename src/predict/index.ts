import { loadModelDir, readManifest, type ManifestModel, type ModelDir } from "../models/store.js";
import type { Algorithm } from "../models/types.js";
import { Predictor } from "./predictor.js";

export * from "./request.js";
export * from "./predictor.js";
export * from "./answer.js";
export { openVerifier, type OpenVerifier } from "./verifier.js";
export { parseJson, findJsonFault, type JsonFault } from "./json.js";
export { answerColumns, answerSamples, requestAlgorithms, requestShapes, type RequestShape, type SampleAnswer } from "./samples.js";
import type { RequestShape } from "./samples.js";

// Mirrors Predictor.route: a raw sample goes to the timings model of its length, else to the summary model.
function servesShape(entry: ManifestModel, shape: RequestShape, all: readonly ManifestModel[]): boolean {
  if (shape === "summary") return entry.featureSet === "summary";
  if (entry.featureSet === "timings") return entry.keys === shape;
  return !all.some((m) => m.algorithm === entry.algorithm && m.featureSet === "timings" && m.keys === shape);
}

/**
 * Loads a models directory into a Predictor. `shapes` limits it further to the models those requests
 * will be routed to. `algorithms` limits which models are read (a CLI answering
 * one RF request need not parse the XGB trees); "best" stands for the manifest's best algorithm.
 */
export async function loadPredictor(
  modelsDir: string,
  options: { algorithms?: ReadonlyArray<Algorithm | "best">; shapes?: ReadonlyArray<RequestShape> } = {},
): Promise<Predictor> {
  let algorithms: Algorithm[] | undefined;
  if (options.algorithms) {
    const wanted = new Set(options.algorithms);
    if (wanted.has("best")) {
      wanted.delete("best");
      wanted.add((await readManifest(modelsDir)).best);
    }
    algorithms = [...wanted] as Algorithm[];
  }
  const shapes = options.shapes;
  const dir: ModelDir = await loadModelDir(modelsDir, {
    ...(algorithms ? { algorithms } : {}),
    ...(shapes ? { only: (entry, manifest) => shapes.some((shape) => servesShape(entry, shape, manifest.models)) } : {}),
  });
  return new Predictor(dir);
}
