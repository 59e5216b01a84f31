import { parentPort } from "node:worker_threads";
import { prepareLine } from "./import-lines.js";

// The worker thread of an import (see transfer.ts): prepares chunks of lines, in the order they come, while
// the importing thread writes the batches before them.
parentPort?.on("message", (m: { first: number; lines: string[]; file: string }) => {
  parentPort!.postMessage(m.lines.map((raw, k) => prepareLine(raw, m.first + k, m.file)));
});
