import type { IdentityService } from "../identity/service.js";
import type { Manifest } from "../models/store.js";
import type { Predictor, RequestLimits, Verifier } from "../predict/index.js";
import type { Access } from "./auth.js";
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
  /** The identity store's services; null when the server runs without a store. */
  identities: IdentityService | null;
}

declare module "fastify" {
  interface FastifyInstance {
    ks: ServerContext;
  }
  interface FastifyContextConfig {
    /** Who may call the route (see auth.ts); verify when absent. */
    access?: Access;
  }
}
