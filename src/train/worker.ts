import { parentPort } from "node:worker_threads";
import { fitClassifier } from "../models/index.js";
import type { FitJob, WorkerMessage } from "./jobs.js";

// One fit per message: the parent sends a FitJob, we answer with progress events and the fitted model.
parentPort?.on("message", async (job: FitJob) => {
  const post = (m: WorkerMessage) => parentPort!.postMessage(m);
  try {
    const t0 = performance.now();
    const model = await fitClassifier(job.algorithm, job.X, job.y, {
      seed: job.seed,
      ...(job.params ? { params: job.params } : {}),
      onProgress: (p) => post({ type: "progress", id: job.id, progress: p }),
    });
    const fitSeconds = (performance.now() - t0) / 1000;
    const proba = job.Xtest.map((row) => Array.from(model.predictProba(row)));
    post({ type: "done", id: job.id, serialized: model.toJSON(), fitSeconds, proba });
  } catch (e) {
    const err = e as Error & { code?: string };
    post({ type: "error", id: job.id, message: err.message, code: err.code });
  }
});
