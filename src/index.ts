/** keystroke-id as a library: reading data, features, models, verification. Importing it has no side effects. */
export * from "./errors.js";
export * from "./data/types.js";
export * from "./data/index.js";
export * from "./features/index.js";
export { createRng, type Rng } from "./util/random.js";
export * from "./verify/index.js";
export * from "./metrics/index.js";
export * from "./predict/index.js";
export {
  loadModelDir,
  writeModelDir,
  readManifest,
  type Manifest,
  type ManifestModel,
  type LoadedModel,
  type ModelDir,
} from "./models/store.js";
export {
  activateVersion,
  removeVersion,
  listVersions,
  readVersionRecord,
  type ManifestVersionEntry,
  type VersionRecord,
  type TrainingRows,
} from "./models/store.js";
export { fingerprintRows, splitByTraining } from "./train/fingerprint.js";
export { fitClassifier, loadClassifier } from "./models/index.js";
export * from "./models/open-set.js";
export * from "./models/types.js";
export { trainModels, type TrainOptions, type TrainRun, type TrainEvent } from "./train/train-models.js";
export { runTraining, type TrainReport, type TrainRunOptions } from "./train/run.js";
