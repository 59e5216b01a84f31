import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { Label } from "../data/types.js";
import { KeystrokeError } from "../errors.js";
import type { FeatureSetName } from "../features/index.js";
import { fitClassifier } from "../models/index.js";
import type { Algorithm, SerializedModel, TrainProgress } from "../models/types.js";

/** One model to fit: an algorithm on one feature set, plus the held-out rows to score. */
export interface FitJob {
  id: number;
  algorithm: Algorithm;
  featureSet: FeatureSetName;
  X: number[][];
  y: Label[];
  Xtest: number[][];
  seed: number;
  params?: Record<string, unknown>;
}

/** What a fit gives back: the model, its fit time, and its class probabilities on the held-out rows. */
export interface FitResult {
  serialized: SerializedModel;
  fitSeconds: number;
  proba: number[][];
}

export type WorkerMessage =
  | { type: "progress"; id: number; progress: TrainProgress }
  | ({ type: "done"; id: number } & FitResult)
  | { type: "error"; id: number; message: string; code?: string };

const WORKER_URL = new URL("./worker.js", import.meta.url);

/** True when the compiled worker script exists (not the case when running from TypeScript sources). */
export function workersAvailable(): boolean {
  return existsSync(fileURLToPath(WORKER_URL));
}

/** Default pool size: one worker per core, never more than there are jobs. */
export function defaultWorkers(jobs: number): number {
  return Math.max(1, Math.min(availableParallelism(), jobs));
}

/**
 * Runs fit jobs on a pool of worker threads (or in-process when workers is 0 or no compiled worker
 * exists), longest jobs first, reporting progress per job. Results come back in job order.
 */
export async function runFitJobs(
  jobs: FitJob[],
  options: { workers: number; onProgress?: (jobId: number, p: TrainProgress) => void },
): Promise<FitResult[]> {
  const results = new Array<FitResult>(jobs.length);
  if (options.workers <= 0 || !workersAvailable()) {
    for (const [i, job] of jobs.entries()) results[i] = await fitInProcess(job, options.onProgress);
    return results;
  }
  const queue = [...jobs.keys()].sort((a, b) => cost(jobs[b]!) - cost(jobs[a]!));
  const size = Math.min(options.workers, jobs.length);
  const runners: Promise<void>[] = [];
  for (let w = 0; w < size; w++) {
    runners.push(
      (async () => {
        const worker = new Worker(WORKER_URL);
        try {
          for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
            results[next] = await fitInWorker(worker, jobs[next]!, options.onProgress);
          }
        } finally {
          await worker.terminate();
        }
      })(),
    );
  }
  await Promise.all(runners);
  return results;
}

// Rough relative cost, so the slow fits start first and the pool finishes together.
function cost(job: FitJob): number {
  const weight = job.algorithm === "XGB" ? 4 : job.algorithm === "SVM" ? 2 : 1;
  return weight * job.X.length * (job.X[0]?.length ?? 1);
}

async function fitInProcess(job: FitJob, onProgress?: (jobId: number, p: TrainProgress) => void): Promise<FitResult> {
  const t0 = performance.now();
  const model = await fitClassifier(job.algorithm, job.X, job.y, {
    seed: job.seed,
    ...(job.params ? { params: job.params } : {}),
    onProgress: (p) => onProgress?.(job.id, p),
  });
  const fitSeconds = (performance.now() - t0) / 1000;
  return { serialized: model.toJSON(), fitSeconds, proba: job.Xtest.map((row) => Array.from(model.predictProba(row))) };
}

function fitInWorker(worker: Worker, job: FitJob, onProgress?: (jobId: number, p: TrainProgress) => void): Promise<FitResult> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: WorkerMessage) => {
      if (m.id !== job.id) return;
      if (m.type === "progress") onProgress?.(job.id, m.progress);
      else {
        worker.off("message", onMessage);
        worker.off("error", onError);
        if (m.type === "done") resolve({ serialized: m.serialized, fitSeconds: m.fitSeconds, proba: m.proba });
        else reject(new KeystrokeError("IO", `${job.algorithm} on ${job.featureSet} features failed: ${m.message}`));
      }
    };
    const onError = (e: Error) => {
      worker.off("message", onMessage);
      reject(e);
    };
    worker.on("message", onMessage);
    worker.on("error", onError);
    worker.postMessage(job);
  });
}
