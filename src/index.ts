/** keystroke-id as a library: reading data, features, models, verification. Importing it has no side effects. */
export * from "./errors.js";
export * from "./data/types.js";
export * from "./data/index.js";
export * from "./features/index.js";
export { createRng, type Rng } from "./util/random.js";
export * from "./verify/index.js";
export * from "./metrics/index.js";
