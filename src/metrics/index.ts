/** Identification metrics, the reject option, stratified folds and cross-validation. */
export * from "./classification.js";
export * from "./coverage.js";
export * from "./evaluation.js";
export * from "./folds.js";
export * from "./cross-validation.js";
export * from "./run.js";
