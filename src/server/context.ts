import type { Manifest } from "../models/store.js";
import type { Predictor, RequestLimits, Verifier } from "../predict/index.js";
import type { ServerMetrics } from "./metrics.js";

/** What answers requests right now; replaced whole on reload so a request never sees half of two. */
export interface ServingState {
  predictor: Predictor;
  verifier: Verifier | null;
  manifest: Manifest;
  loadedAt: Date;
}

/** What every route shares, added once to the app as the `ks` decorator. */
export interface ServerContext {
  /** The models (and verifier) being served now. */
  state(): ServingState;
  metrics: ServerMetrics;
  limits: RequestLimits;
  /** Refuses a batch larger than --max-batch (whole), else returns it. */
  batchOf<T>(items: T[]): T[];
  /** When the server was created (ms since the epoch). */
  started: number;
}

declare module "fastify" {
  interface FastifyInstance {
    ks: ServerContext;
  }
}
