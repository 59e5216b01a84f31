// The data module: detecting a CSV layout, reading it (streaming or whole), validating samples, and
// writing feature tables.
export * from "./types.js";
export * from "./header.js";
export * from "./validate.js";
export * from "./read.js";
export * from "./feature-table.js";
export * from "./csv-records.js";
