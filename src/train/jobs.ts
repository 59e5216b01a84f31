import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { Label } from "../data/types.js";
import { KeystrokeError } from "../errors.js";
import type { FeatureSetName } from "../features/index.js";
import { fitClassifier } from "../models/index.js";
import type { ForestPart } from "../models/random-forest.js";
import type { XgbPart } from "../models/xgboost.js";
import type { SvmTrainer } from "../models/svm.js";
import type { PairSolution, SolverData, SolverOptions } from "../models/svm-solver.js";
import type { Algorithm, Classifier, FitOptions, SerializedModel, TrainProgress } from "../models/types.js";

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
  /** RF: grow just trees [from, to); XGB: just chunk `from`; the worker answers with the part and the parent joins the parts. */
  part?: { from: number; to: number };
}

/** What a fit gives back: the model, its fit time, and its class probabilities on the held-out rows. */
export interface FitResult {
  serialized: SerializedModel;
  fitSeconds: number;
  proba: number[][];
}

/** A share of one SVM fit: class pairs [from, to) of the data, solved by a worker. */
export interface PairJob {
  id: number;
  data: SolverData;
  options: SolverOptions;
  pairs: { from: number; to: number };
}

export type WorkerMessage =
  | { type: "pairs"; id: number; solutions: PairSolution[] }
  | { type: "progress"; id: number; progress: TrainProgress }
  | ({ type: "done"; id: number } & FitResult)
  | { type: "part"; id: number; part: ForestPart | XgbPart; fitSeconds: number }
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
 * exists), longest jobs first, reporting progress per job. A forest is split into one part of its
 * trees per worker, so a lone RF fit uses every core too (the same trees whatever the split). Results
 * come back in job order.
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
  const size = options.workers;
  if (jobs.length === 1 && jobs[0]!.algorithm === "SVM" && size > 1) {
    // a lone SVM: this thread runs the grid search, the workers solve each fit's class pairs
    const job = jobs[0]!;
    const pool = new PairPool(size);
    try {
      const { fitSvm } = await import("../models/svm.js");
      const t0 = performance.now();
      const model = await fitSvm(job.X, job.y, {
        ...fitOptions(job),
        trainer: pool.trainer,
        onProgress: (p) => options.onProgress?.(job.id, p),
      });
      const fitSeconds = (performance.now() - t0) / 1000;
      return [
        {
          serialized: model.toJSON(),
          fitSeconds,
          proba: job.Xtest.map((row) => Array.from(model.predictProba(row))),
        },
      ];
    } finally {
      await pool.close();
    }
  }
  const tasks: FitJob[] = [];
  const partsOf = new Map<number, Array<ForestPart | XgbPart>>();
  const seconds = new Map<number, number>();
  /** XGB chunk → [first tree, trees], for progress. */
  const partTrees = new Map<string, [number, number]>();
  for (const job of jobs) {
    if (job.algorithm === "XGB" && size > 1) {
      const { xgbChunks } = await import("../models/xgboost.js");
      const chunks = xgbChunks(job.params, job.X[0]?.length ?? 0);
      if (chunks.length > 1) {
        partsOf.set(job.id, []);
        let from = 0;
        chunks.forEach((trees, c) => {
          tasks.push({ ...job, part: { from: c, to: c + 1 } });
          partTrees.set(`${job.id}/${c}`, [from, trees]);
          from += trees;
        });
        continue;
      }
    }
    if (job.algorithm !== "RF" || size < 2) {
      tasks.push(job);
      continue;
    }
    const { resolveForestParams } = await import("../models/random-forest.js");
    const nTrees = resolveForestParams(job.params).nTrees;
    const n = Math.min(size, nTrees);
    partsOf.set(job.id, []);
    for (let p = 0; p < n; p++)
      tasks.push({
        ...job,
        part: { from: Math.floor((p * nTrees) / n), to: Math.floor(((p + 1) * nTrees) / n) },
      });
  }
  const byId = new Map(jobs.map((j, i) => [j.id, i]));
  const queue = [...tasks.keys()].sort((a, b) => cost(tasks[b]!) - cost(tasks[a]!));
  const progress = new Map<number, number[]>();
  const onProgress = (task: FitJob, p: TrainProgress) => {
    if (!task.part) return options.onProgress?.(task.id, p);
    // a part reports its own trees: add up the parts into the forest's progress
    const done = progress.get(task.id) ?? [];
    const xgb = partTrees.get(`${task.id}/${task.part.from}`);
    done[xgb ? xgb[0] : task.part.from] = xgb ? xgb[1] * (p.done / p.total) : p.done;
    progress.set(task.id, done);
    let total = 0;
    for (const t of tasks)
      if (t.id === task.id && t.part)
        total += partTrees.get(`${t.id}/${t.part.from}`)?.[1] ?? t.part.to - t.part.from;
    options.onProgress?.(task.id, {
      ...p,
      phase: "trees",
      done: done.reduce((a, b) => a + (b ?? 0), 0),
      total,
    });
  };
  const runners: Promise<void>[] = [];
  for (let w = 0; w < Math.min(size, tasks.length); w++) {
    runners.push(
      (async () => {
        const worker = new Worker(WORKER_URL);
        try {
          for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
            const task = tasks[next]!;
            const r = await fitInWorker(worker, task, (_, p) => onProgress(task, p));
            if ("part" in r) {
              partsOf.get(task.id)!.push(r.part);
              seconds.set(task.id, Math.max(seconds.get(task.id) ?? 0, r.fitSeconds));
            } else results[byId.get(task.id)!] = r;
          }
        } finally {
          await worker.terminate();
        }
      })(),
    );
  }
  await Promise.all(runners);
  if (partsOf.size > 0) {
    const { mergeForestParts } = await import("../models/random-forest.js");
    const { mergeXgbParts } = await import("../models/xgboost.js");
    for (const [id, parts] of partsOf) {
      const job = jobs[byId.get(id)!]!;
      const model =
        job.algorithm === "XGB"
          ? mergeXgbParts(job.X, job.y, fitOptions(job), parts as XgbPart[])
          : mergeForestParts(job.X, job.y, fitOptions(job), parts as ForestPart[]);
      results[byId.get(id)!] = {
        serialized: model.toJSON(),
        fitSeconds: seconds.get(id)!,
        proba: job.Xtest.map((row) => Array.from(model.predictProba(row))),
      };
    }
  }
  return results;
}

function fitOptions(job: FitJob): FitOptions {
  return { seed: job.seed, ...(job.params ? { params: job.params } : {}) };
}

/**
 * Fits one model on every core (worker threads; in-process when there are no compiled workers) and
 * returns it ready to predict: the library-level counterpart of `train`'s pool, for one model.
 */
export async function fitOnWorkers(
  algorithm: Algorithm,
  X: number[][],
  y: Label[],
  options: FitOptions & { workers?: number },
): Promise<Classifier> {
  const workers = options.workers ?? availableParallelism();
  const job: FitJob = {
    id: 0,
    algorithm,
    featureSet: "timings",
    X,
    y,
    Xtest: [],
    seed: options.seed,
    ...(options.params ? { params: options.params } : {}),
  };
  const [result] = await runFitJobs([job], {
    workers,
    ...(options.onProgress ? { onProgress: (_: number, p: TrainProgress) => options.onProgress!(p) } : {}),
  });
  const { loadClassifier } = await import("../models/index.js");
  return loadClassifier(result!.serialized);
}

/**
 * Worker threads that solve shares of an SVM's class pairs: its `trainer` splits the pairs into one
 * contiguous share per worker (balanced by the size of each pair's problem) and joins the solutions.
 */
export class PairPool {
  private readonly workers: Worker[];
  private next = 0;

  constructor(size: number) {
    this.workers = Array.from({ length: size }, () => new Worker(WORKER_URL));
  }

  readonly trainer: SvmTrainer = async (data, options) => {
    const { assembleModel, classRanges } = await import("../models/svm-solver.js");
    const counts = classRanges(data.y).map((r) => r.count);
    const k = counts.length;
    // cost of a pair ~ (n_a + n_b)²: cut the pair order where the running cost crosses each share
    let total = 0;
    for (let a = 0; a < k; a++) for (let b = a + 1; b < k; b++) total += (counts[a]! + counts[b]!) ** 2;
    const cuts = [0];
    let acc = 0;
    let p = 0;
    const size = this.workers.length;
    for (let a = 0; a < k; a++) {
      for (let b = a + 1; b < k; b++, p++) {
        acc += (counts[a]! + counts[b]!) ** 2;
        if (cuts.length < size && acc >= (total * cuts.length) / size) cuts.push(p + 1);
      }
    }
    cuts.push(p);
    const shares = await Promise.all(
      this.workers.map((worker, w) => {
        const from = cuts[w] ?? p;
        const to = Math.max(from, cuts[w + 1] ?? p);
        return from >= to
          ? Promise.resolve([] as PairSolution[])
          : this.solve(worker, { id: this.next++, data, options, pairs: { from, to } });
      }),
    );
    return assembleModel(data, options, shares.flat());
  };

  private solve(worker: Worker, job: PairJob): Promise<PairSolution[]> {
    return new Promise((resolve, reject) => {
      const onMessage = (m: WorkerMessage) => {
        if (m.id !== job.id) return;
        worker.off("message", onMessage);
        worker.off("error", onError);
        if (m.type === "pairs") resolve(m.solutions);
        else
          reject(
            new KeystrokeError("IO", `SVM pair solver failed: ${m.type === "error" ? m.message : m.type}`),
          );
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

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

// Rough relative cost, so the slow fits start first and the pool finishes together.
function cost(job: FitJob): number {
  const weight = job.algorithm === "XGB" ? 4 : job.algorithm === "SVM" ? 2 : 1;
  return weight * job.X.length * (job.X[0]?.length ?? 1);
}

async function fitInProcess(
  job: FitJob,
  onProgress?: (jobId: number, p: TrainProgress) => void,
): Promise<FitResult> {
  const t0 = performance.now();
  const model = await fitClassifier(job.algorithm, job.X, job.y, {
    seed: job.seed,
    ...(job.params ? { params: job.params } : {}),
    onProgress: (p) => onProgress?.(job.id, p),
  });
  const fitSeconds = (performance.now() - t0) / 1000;
  return {
    serialized: model.toJSON(),
    fitSeconds,
    proba: job.Xtest.map((row) => Array.from(model.predictProba(row))),
  };
}

function fitInWorker(
  worker: Worker,
  job: FitJob,
  onProgress?: (jobId: number, p: TrainProgress) => void,
): Promise<FitResult | { part: ForestPart | XgbPart; fitSeconds: number }> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: WorkerMessage) => {
      if (m.id !== job.id) return;
      if (m.type === "progress") onProgress?.(job.id, m.progress);
      else {
        worker.off("message", onMessage);
        worker.off("error", onError);
        if (m.type === "done")
          resolve({ serialized: m.serialized, fitSeconds: m.fitSeconds, proba: m.proba });
        else if (m.type === "part") resolve({ part: m.part, fitSeconds: m.fitSeconds });
        else
          reject(
            new KeystrokeError(
              "IO",
              `${job.algorithm} on ${job.featureSet} features failed: ${m.type === "error" ? m.message : `unexpected ${m.type} message`}`,
            ),
          );
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
