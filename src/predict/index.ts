import {
  loadModelDir,
  readManifest,
  readVersionRecord,
  type ManifestModel,
  type ModelDir,
} from "../models/store.js";
import type { Algorithm } from "../models/types.js";
import { Predictor } from "./predictor.js";

export * from "./request.js";
export * from "./predictor.js";
export * from "./answer.js";
export { openVerifier, type OpenVerifier } from "./verifier.js";
export { parseJson, findJsonFault, type JsonFault } from "./json.js";
export { unitWarning } from "./units.js";
export {
  answerColumns,
  answerSamples,
  requestAlgorithms,
  requestShapes,
  type RequestShape,
  type SampleAnswer,
} from "./samples.js";
import type { RequestShape } from "./samples.js";

// Mirrors Predictor.route: a raw sample goes to the timings model; the summary model is read too, since it
// answers when there is no timings model, or (allowSummary) one that cannot take the sample, which the
// predictor must see to say why it refuses.
function servesShape(entry: ManifestModel, shape: RequestShape): boolean {
  return shape !== "summary" || entry.featureSet === "summary";
}

/**
 * Loads a models directory into a Predictor. `shapes` limits it further to the models those requests
 * will be routed to. `algorithms` limits which models are read (a CLI answering
 * one RF request need not parse the XGB trees); "best" stands for the manifest's best algorithm.
 */
export async function loadPredictor(
  modelsDir: string,
  options: {
    algorithms?: ReadonlyArray<Algorithm | "best">;
    shapes?: ReadonlyArray<RequestShape>;
    /** A kept version other than the active one. */ version?: string;
  } = {},
): Promise<Predictor> {
  let algorithms: Algorithm[] | undefined;
  if (options.algorithms) {
    const wanted = new Set(options.algorithms);
    if (wanted.has("best")) {
      wanted.delete("best");
      const active = await readManifest(modelsDir);
      wanted.add(
        options.version === undefined
          ? active.best
          : (await readVersionRecord(modelsDir, active, options.version)).manifest.best,
      );
    }
    algorithms = [...wanted] as Algorithm[];
  }
  const shapes = options.shapes;
  const dir: ModelDir = await loadModelDir(modelsDir, {
    ...(algorithms ? { algorithms } : {}),
    ...(options.version !== undefined ? { version: options.version } : {}),
    ...(shapes ? { only: (entry) => shapes.some((shape) => servesShape(entry, shape)) } : {}),
  });
  return new Predictor(dir);
}
