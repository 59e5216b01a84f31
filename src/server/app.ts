import { unwatchFile, watchFile, type Stats } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { join } from "node:path";
import Fastify, {
  LogController,
  type FastifyError,
  type FastifyInstance,
  type FastifyPluginAsync,
} from "fastify";
import { errorBody, KeystrokeError } from "../errors.js";
import { loadModelDir, MANIFEST_FILE, type ModelDir } from "../models/store.js";
import type { IdentityService } from "../identity/service.js";
import { MAX_KEYS, parseJson, Predictor, type Verifier } from "../predict/index.js";
import { accessOf, installAuth } from "./auth.js";
import type { ServerContext, ServingState } from "./context.js";
import { trackConnections, type DrainOptions, type DrainReport } from "./drain.js";
import { sendError } from "./errors.js";
import { checkBatch, NdjsonBody } from "./http.js";
import { createMetrics, type ServerMetrics } from "./metrics.js";
import { installRateLimit, type RateLimit } from "./rate-limit.js";
import healthRoutes from "./routes/health.js";
import metricsRoutes from "./routes/metrics.js";
import modelsRoutes from "./routes/models.js";
import predictRoutes from "./routes/predict.js";
import verifyRoutes from "./routes/verify.js";
import usersRoutes from "./routes/users.js";
import enrollRoutes from "./routes/enroll.js";
// browser-facing routes (the recorder script, the demo page); a separate list so that the API's grows apart
import recorderRoutes from "./routes/recorder.js";
import demoRoutes from "./routes/demo.js";
import openapiRoutes from "./routes/openapi.js";

export type { ServerContext, ServingState } from "./context.js";

/** The route plugins, one file per route group (src/server/routes/). */
const ROUTES: FastifyPluginAsync[] = [
  healthRoutes,
  predictRoutes,
  verifyRoutes,
  enrollRoutes,
  usersRoutes,
  modelsRoutes,
  metricsRoutes,
];

/** Everything `serve` can be told; defaults merged once in createServer. */
export interface ServerOptions {
  modelsDir: string;
  /** Largest request body in bytes (413 above it). */
  bodyLimit?: number;
  /** Bearer token every route but /health needs; undefined = open. */
  token?: string;
  /** Bearer token of the routes that change identities (see auth.ts); undefined = off unless the server is open. */
  adminToken?: string;
  /** pino level; per-request lines only at debug and trace. */
  logLevel?: string;
  /** Where pino writes (stderr by default). */
  logStream?: NodeJS.WritableStream;
  /** Reload when manifest.json changes (polls its mtime). */
  watch?: boolean;
  /** Most requests in one batch: a JSON array's items or an NDJSON body's lines (400 above it). */
  maxBatch?: number;
  /** Most keys in one sample (400 above it). */
  maxKeys?: number;
  /** Requests per client IP and window (429 with Retry-After above it); undefined = no limit. /health is exempt. */
  rateLimit?: RateLimit;
  /**
   * Behind reverse proxies: how many hops (a number) or which proxy addresses (comma list, CIDR allowed)
   * to trust for X-Forwarded-For, so the rate limit counts real clients rather than the proxy. Default: none.
   */
  trustProxy?: number | string;
  /** How long a client may take to send a request (slow senders are answered 408 and disconnected). */
  timeouts?: ServerTimeouts;
  /**
   * The identity store's services (src/identity): verification, enrolment and the user routes. The caller
   * opened it and closes it after the server. Absent: verification answers 404 and the user routes 503.
   */
  identities?: IdentityService;
  /** A stand-in verifier (tests, embedding apps) used instead of `identities` for POST /verify; null: none. */
  verifier?: Verifier | null;
  /** Reads a models dir (loadModelDir unless a test or an embedding app supplies its own). */
  loadModels?: (modelsDir: string) => Promise<ModelDir>;
  /** prom-client's process metrics (CPU, memory, event loop) beside the server's own. */
  processMetrics?: boolean;
  /** Serve the demo page at /demo (serve turns it on by default only on a loopback address). */
  demo?: boolean;
}

/** Time limits on the connection, in ms; checked every `checkMs`. */
export interface ServerTimeouts {
  /** From the connection's first byte to the end of the request headers. */
  headersMs?: number;
  /** From the first byte to the end of the body. */
  requestMs?: number;
  /** An idle keep-alive connection is closed after this long (above the 60 s of common load balancers). */
  keepAliveMs?: number;
  /** How often the limits are checked (Node's default is 30 s, too coarse for a 10 s limit). */
  checkMs?: number;
}

/** A client that has not sent its headers in 10 s, or its whole request in 30 s, holds a connection for nothing. */
export const DEFAULT_TIMEOUTS: Required<ServerTimeouts> = {
  headersMs: 10_000,
  requestMs: 30_000,
  keepAliveMs: 72_000,
  checkMs: 1_000,
};

export const DEFAULT_BODY_LIMIT = 64 * 1024;
export const DEFAULT_MAX_BATCH = 1000;
export const DEFAULT_MAX_KEYS = MAX_KEYS;
export const DEFAULT_LOG_LEVEL = "info";

/** A running (or ready to run) keystroke-id HTTP server. */
export interface KeystrokeServer {
  app: FastifyInstance;
  metrics: ServerMetrics;
  /** The models being served. */
  state(): ServingState;
  /** Loads the models dir again and swaps it in; on failure keeps serving the old models and resolves false. */
  reload(why?: string): Promise<boolean>;
  /** Starts listening; resolves to the real address (port 0 picks a free port). */
  listen(host: string, port: number): Promise<{ url: string; host: string; port: number }>;
  /** Stops accepting and watching, answers every request already received (Connection: close), closes keep-alive connections, then resolves with what it did. */
  close(options?: DrainOptions): Promise<DrainReport>;
}

/**
 * Builds the HTTP server over the same core as `predict`: loads the models once (throws NO_MODELS or
 * BAD_MODEL_FILE when it cannot), compiles the schemas, and wires routes, auth, metrics and reload.
 */
export async function createServer(options: ServerOptions): Promise<KeystrokeServer> {
  const opts = {
    bodyLimit: DEFAULT_BODY_LIMIT,
    logLevel: DEFAULT_LOG_LEVEL,
    logStream: process.stderr,
    watch: false,
    maxBatch: DEFAULT_MAX_BATCH,
    maxKeys: DEFAULT_MAX_KEYS,
    processMetrics: true,
    ...stripUndefined(options),
  };
  const load = async (): Promise<ServingState> => {
    const dir = await (opts.loadModels ?? loadModelDir)(opts.modelsDir);
    const predictor = new Predictor(dir);
    const manifest = dir.manifest;
    const verifier = opts.verifier !== undefined ? opts.verifier : (opts.identities ?? null);
    return { predictor, verifier, manifest, loadedAt: new Date() };
  };
  let state = await load();
  const started = Date.now();
  const metrics = createMetrics({ defaults: opts.processMetrics });
  const verbose = opts.logLevel === "debug" || opts.logLevel === "trace";

  const timeouts = { ...DEFAULT_TIMEOUTS, ...stripUndefined(opts.timeouts ?? {}) };
  const app = Fastify({
    // our own http.Server: fastify does not pass on the checking interval, without which Node looks at
    // slow clients only every 30 s
    serverFactory: (handler) =>
      createHttpServer(
        {
          headersTimeout: Math.min(timeouts.headersMs, timeouts.requestMs),
          requestTimeout: timeouts.requestMs,
          keepAliveTimeout: timeouts.keepAliveMs,
          connectionsCheckingInterval: timeouts.checkMs,
        },
        handler,
      ),
    logger: { level: opts.logLevel, stream: opts.logStream },
    // per-request lines would cost time on the hot path and say little; they come at debug and trace
    logController: new LogController({ disableRequestLogging: !verbose }),
    bodyLimit: opts.bodyLimit,
    // a user id in a URL (/users/:id) has up to 256 characters, each up to 4 UTF-8 bytes written %XX
    routerOptions: { maxParamLength: 256 * 4 * 3 },
    return503OnClosing: true,
    ...(opts.trustProxy !== undefined ? { trustProxy: trustProxyOption(opts.trustProxy) } : {}),
    // fastify's default "array" coercion would turn a body of 42 into the batch [42]; `?top=3` still coerces
    ajv: { customOptions: { coerceTypes: true, allowUnionTypes: true } },
  });

  // only JSON and NDJSON: fastify's built-in text/plain parser would let any text through (415 instead)
  app.removeAllContentTypeParsers();
  // our own JSON parser: no prototype-poisoning scan needed (bodies are never merged into objects),
  // and a syntax error reports its line and column without echoing the body back
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_req, body, done) => {
    try {
      done(null, parseJson(body as string));
    } catch (e) {
      done(e as Error, undefined);
    }
  });
  app.addContentTypeParser("application/x-ndjson", { parseAs: "string" }, (_req, body, done) =>
    done(null, new NdjsonBody(body as string)),
  );

  // before the token check, so that guessing tokens counts against the budget too
  if (opts.rateLimit) await installRateLimit(app, opts.rateLimit, (req) => accessOf(req) === "public");
  installAuth(app, { token: opts.token, adminToken: opts.adminToken }, metrics);

  // a callback hook, not an async one: no promise per request for two synchronous counter updates
  app.addHook("onResponse", (req, reply, done) => {
    const route = req.routeOptions.url ?? "unmatched";
    metrics.requests.inc({ route, status: reply.statusCode });
    metrics.latency.observe({ route }, reply.elapsedTime / 1000);
    done();
  });

  app.setErrorHandler((err: FastifyError, req, reply) => sendError(err, req, reply, metrics, opts.bodyLimit));
  app.setNotFoundHandler((req, reply) =>
    reply
      .code(404)
      .send(errorBody(new KeystrokeError("NOT_FOUND", `no route ${req.method} ${req.url.split("?")[0]}`))),
  );

  // what the route plugins share; the batch size is checked in the handlers, so that arrays and NDJSON get the same message
  const context: ServerContext = {
    state: () => state,
    metrics,
    limits: { maxKeys: opts.maxKeys },
    batchOf: (items) => {
      checkBatch(items.length, opts.maxBatch);
      return items;
    },
    started,
    identities: opts.identities ?? null,
  };
  app.decorate("ks", context);
  // before the routes: it documents each one as it is added (/openapi.json, /docs)
  await app.register(openapiRoutes);
  for (const routes of ROUTES) await app.register(routes);
  await app.register(recorderRoutes);
  if (opts.demo) await app.register(demoRoutes);

  // One reload at a time. A request arriving while one runs queues one more (a burst queues just one), so a
  // change made after the running reload read the directory is never missed.
  let running: Promise<boolean> | null = null;
  let queued: Promise<boolean> | null = null;
  const reloadOnce = async (why: string): Promise<boolean> => {
    try {
      const next = await load();
      state = next;
      metrics.reloads.inc({ outcome: "ok" });
      app.log.info({ why, models: next.predictor.source.models.map((m) => m.version) }, "models reloaded");
      return true;
    } catch (e) {
      metrics.reloads.inc({ outcome: "failed" });
      app.log.error(
        { why, error: e instanceof Error ? e.message : String(e) },
        "reload failed; still serving the previous models",
      );
      return false;
    }
  };
  const start = (why: string): Promise<boolean> => {
    const p = reloadOnce(why).finally(() => {
      running = null;
    });
    running = p;
    return p;
  };
  const reload = (why = "reload requested"): Promise<boolean> => {
    if (!running) return start(why);
    queued ??= running.then(() => {
      queued = null;
      return start(why);
    });
    return queued;
  };

  const manifestPath = join(opts.modelsDir, MANIFEST_FILE);
  const onManifest = (curr: Stats, prev: Stats) => {
    if (curr.mtimeMs !== prev.mtimeMs || curr.ino !== prev.ino) void reload(`${MANIFEST_FILE} changed`);
  };
  if (opts.watch) watchFile(manifestPath, { interval: 500, persistent: false }, onManifest);

  const drainer = trackConnections(app.server);
  await app.ready();
  return {
    app,
    metrics,
    state: () => state,
    reload,
    async listen(host, port) {
      await app.listen({ host, port });
      const addr = app.server.address();
      const real = typeof addr === "object" && addr ? addr.port : port;
      const shown = host.includes(":") ? `[${host}]` : host;
      return { url: `http://${shown}:${real}`, host, port: real };
    },
    async close(drainOptions) {
      if (opts.watch) unwatchFile(manifestPath, onManifest);
      return drainer.drain(() => app.close(), drainOptions);
    },
  };
}

// fastify takes a hop count at run time but not in its types; the function form is the same rule
function trustProxyOption(setting: number | string): string | ((address: string, hop: number) => boolean) {
  return typeof setting === "number" ? (_address, hop) => hop < setting : setting;
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
