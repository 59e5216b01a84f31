import { parentPort } from "node:worker_threads";
import { fitClassifier } from "../models/index.js";
import type { TrainProgress } from "../models/types.js";
import type { FitJob, PairJob, WorkerMessage } from "./jobs.js";

// One fit per message: the parent sends a FitJob, we answer with progress events and the fitted model
// (or, for a job that is one part of a forest, the part's trees: the parent joins the parts).
parentPort?.on("message", (job: FitJob | PairJob) => void onJob(job));

async function onJob(job: FitJob | PairJob): Promise<void> {
  const post = (m: WorkerMessage) => parentPort!.postMessage(m);
  try {
    if ("pairs" in job) {
      // one share of an SVM fit's class pairs (the parent joins the shares)
      const { solvePairs } = await import("../models/svm-solver.js");
      const solutions = solvePairs(job.data, job.options, job.pairs.from, job.pairs.to);
      parentPort!.postMessage(
        { type: "pairs", id: job.id, solutions } satisfies WorkerMessage,
        solutions.map((s) => s.coef.buffer as ArrayBuffer),
      );
      return;
    }
    const t0 = performance.now();
    const options = {
      seed: job.seed,
      ...(job.params ? { params: job.params } : {}),
      onProgress: (p: TrainProgress) => post({ type: "progress", id: job.id, progress: p }),
    };
    if (job.part) {
      const fitSeconds = () => (performance.now() - t0) / 1000;
      if (job.algorithm === "XGB") {
        const { fitXgboostPart } = await import("../models/xgboost.js");
        const part = await fitXgboostPart(job.X, job.y, options, job.part.from);
        post({ type: "part", id: job.id, part, fitSeconds: fitSeconds() });
        return;
      }
      const { fitForestPart, forestPartBuffers } = await import("../models/random-forest.js");
      const part = await fitForestPart(job.X, job.y, options, job.part.from, job.part.to);
      // handed over, not copied: a part of a 1,000-user forest is hundreds of megabytes
      parentPort!.postMessage(
        { type: "part", id: job.id, part, fitSeconds: fitSeconds() } satisfies WorkerMessage,
        forestPartBuffers(part),
      );
      return;
    }
    const model = await fitClassifier(job.algorithm, job.X, job.y, options);
    const fitSeconds = (performance.now() - t0) / 1000;
    const proba = job.Xtest.map((row) => Array.from(model.predictProba(row)));
    post({ type: "done", id: job.id, serialized: model.toJSON(), fitSeconds, proba });
  } catch (e) {
    // wasm aborts throw strings and numbers, not Errors
    const err =
      e instanceof Error ? (e as Error & { code?: string }) : { message: String(e), code: undefined };
    post({ type: "error", id: job.id, message: err.message, ...(err.code ? { code: err.code } : {}) });
  }
}
