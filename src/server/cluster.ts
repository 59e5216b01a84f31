import cluster, { type Worker } from "node:cluster";
import { availableParallelism } from "node:os";
import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from "@fastify/rate-limit";
import { KeystrokeError } from "../errors.js";

/**
 * `serve --workers N`: N processes (node:cluster) each running the ordinary single-process server
 * (createServer + listen, exactly as `serve` without workers), sharing one listening socket. This module is
 * the primary's side: forking, signal forwarding, bounded restarts, and the rate-limit counters that the
 * workers share. The primary serves no HTTP itself.
 */

/** Parses `--workers`: a count from 1 to 64, or `auto` for one per core. */
export function parseWorkers(text: string, flag = "--workers"): number {
  const t = text.trim().toLowerCase();
  if (t === "auto") return availableParallelism();
  if (/^\d+$/.test(t)) {
    const n = Number(t);
    if (n >= 1 && n <= 64) return n;
  }
  throw new KeystrokeError(
    "BAD_FLAG",
    `"${text}" is not a worker count: expected a number from 1 to 64, or auto (one per core: ${availableParallelism()} here)`,
    { flag },
  );
}

/** True in a process that `serve --workers` forked. */
export function isServeWorker(): boolean {
  return cluster.isWorker && process.env.KEYSTROKE_ID_SERVE_WORKER === "1";
}

/** What a worker tells the primary. */
type WorkerMessage =
  | { kid: "listening"; url: string; description: string }
  | { kid: "rl-incr"; id: number; key: string; windowMs: number; max: number };

/** What the primary answers a worker. */
type PrimaryMessage = { kid: "rl-result"; id: number; current: number; ttl: number };

/** Restart budget: more crashes than this within the window stop the whole server (a crash loop). */
export const RESTART_LIMIT = { crashes: 5, windowMs: 60_000 };

export interface PrimaryOptions {
  workers: number;
  /** A line for a person (stderr). */
  say: (message: string) => void;
}

/**
 * Runs the primary until every worker has exited after SIGTERM/SIGINT, or until the workers cannot start
 * (then it stops the others and resolves with their exit code). SIGHUP is forwarded to every worker, each
 * of which reloads its models. A worker that dies unexpectedly is replaced, at most RESTART_LIMIT.crashes
 * times a minute.
 */
export async function runPrimary(options: PrimaryOptions): Promise<number> {
  const { say } = options;
  const counters = new RateCounters();
  const listening = new Set<number>();
  const crashes: number[] = [];
  let stopping: NodeJS.Signals | null = null;
  let exitCode = 0;
  let announced = false;

  const fork = (): Worker => {
    const worker = cluster.fork({ KEYSTROKE_ID_SERVE_WORKER: "1" });
    worker.on("message", (m: WorkerMessage) => {
      if (m?.kid === "listening") {
        listening.add(worker.id);
        if (announced) say(`worker ${worker.id} listening`);
        else if (listening.size === options.workers) {
          announced = true;
          say(
            `${m.description.replace(/^keystroke-id listening on (\S+)/, `keystroke-id listening on $1 with ${options.workers} workers`)}`,
          );
        }
      } else if (m?.kid === "rl-incr") {
        const { current, ttl } = counters.incr(m.key, m.windowMs);
        const answer: PrimaryMessage = { kid: "rl-result", id: m.id, current, ttl };
        if (worker.isConnected()) worker.send(answer);
      }
    });
    say(`worker ${worker.id} started (pid ${worker.process.pid})`);
    return worker;
  };

  const stopAll = (signal: NodeJS.Signals) => {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill(signal);
  };

  return new Promise<number>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = signal;
      say(`${signal}: draining ${Object.keys(cluster.workers ?? {}).length} worker(s)`);
      stopAll("SIGTERM");
    };
    const onHup = () => {
      // a worker still starting has no SIGHUP handler yet (the signal would kill it); it loads the latest models anyway
      say(`SIGHUP: reloading the models in ${listening.size} worker(s)`);
      for (const w of Object.values(cluster.workers ?? {}))
        if (w && listening.has(w.id)) w.process.kill("SIGHUP");
    };
    process.on("SIGTERM", onSignal);
    process.on("SIGINT", onSignal);
    process.on("SIGHUP", onHup);

    cluster.on("exit", (worker, code, signal) => {
      const wasListening = listening.delete(worker.id);
      if (!stopping) {
        const why = signal ? `signal ${signal}` : `exit code ${code}`;
        if (!wasListening) {
          // a worker that never started (no models, a port in use): the others would fail alike
          say(`worker ${worker.id} failed to start (${why}); stopping`);
          stopping = "SIGTERM";
          exitCode = code || 1;
          stopAll("SIGTERM");
        } else {
          const now = Date.now();
          crashes.push(now);
          while (crashes.length && crashes[0]! < now - RESTART_LIMIT.windowMs) crashes.shift();
          if (crashes.length > RESTART_LIMIT.crashes) {
            say(
              `worker ${worker.id} died (${why}); ${crashes.length} crashes within ${RESTART_LIMIT.windowMs / 1000} s: stopping`,
            );
            stopping = "SIGTERM";
            exitCode = 1;
            stopAll("SIGTERM");
          } else {
            say(`worker ${worker.id} died (${why}); starting a replacement`);
            fork();
          }
        }
      }
      if (Object.keys(cluster.workers ?? {}).length === 0 && stopping) {
        process.off("SIGTERM", onSignal);
        process.off("SIGINT", onSignal);
        process.off("SIGHUP", onHup);
        counters.stop();
        say(`all workers exited`);
        resolve(exitCode);
      }
    });
    for (let i = 0; i < options.workers; i++) fork();
  });
}

/** Tells the primary that this worker listens (the primary prints one line once all do). */
export function announceListening(url: string, description: string): void {
  process.send?.({ kid: "listening", url, description } satisfies WorkerMessage);
}

/**
 * Fixed-window request counters per client key, held by the primary for every worker, with the same
 * semantics as @fastify/rate-limit's local store. Expired windows are swept once a second, so memory is
 * bounded by the clients seen within one window.
 */
export class RateCounters {
  private readonly windows = new Map<string, { count: number; start: number; windowMs: number }>();
  private readonly sweeper: NodeJS.Timeout;

  constructor() {
    this.sweeper = setInterval(() => this.sweep(Date.now()), 1000);
    this.sweeper.unref();
  }

  /** Counts one request of `key`; returns the count in the current window and the ms left in it. */
  incr(key: string, windowMs: number, now = Date.now()): { current: number; ttl: number } {
    let w = this.windows.get(key);
    if (!w || w.start + windowMs <= now) {
      w = { count: 0, start: now, windowMs };
      this.windows.set(key, w);
    }
    w.count++;
    return { current: w.count, ttl: w.start + windowMs - now };
  }

  sweep(now: number): void {
    for (const [key, w] of this.windows) if (w.start + w.windowMs <= now) this.windows.delete(key);
  }

  get size(): number {
    return this.windows.size;
  }

  stop(): void {
    clearInterval(this.sweeper);
  }
}

/**
 * A @fastify/rate-limit store for a cluster worker: each count is asked of the primary over IPC, so all
 * workers share one budget per client. (Constructed by the plugin with its global options.)
 */
export function clusterRateLimitStore(): FastifyRateLimitStoreCtor {
  let nextId = 1;
  const pending = new Map<number, (res: { current: number; ttl: number }) => void>();
  process.on("message", (m: PrimaryMessage) => {
    if (m?.kid !== "rl-result") return;
    const done = pending.get(m.id);
    pending.delete(m.id);
    done?.({ current: m.current, ttl: m.ttl });
  });
  class ClusterStore implements FastifyRateLimitStore {
    incr(
      key: string,
      cb: (err: Error | null, res?: { current: number; ttl: number }) => void,
      timeWindow: number,
      max: number,
    ): void {
      const id = nextId++;
      pending.set(id, (res) => cb(null, res));
      const sent = process.send?.({
        kid: "rl-incr",
        id,
        key,
        windowMs: timeWindow,
        max,
      } satisfies WorkerMessage);
      if (!sent) {
        pending.delete(id);
        cb(new Error("the primary process is gone; cannot count this request"));
      }
    }
    child(): ClusterStore {
      return this;
    }
  }
  return ClusterStore;
}
