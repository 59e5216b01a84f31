import { createHash, timingSafeEqual } from "node:crypto";
import { unwatchFile, watchFile, type Stats } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { join } from "node:path";
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { errorBody, errorResponse, KeystrokeError } from "../errors.js";
import { loadModelDir, MANIFEST_FILE, type Manifest, type ModelDir } from "../models/store.js";
import {
  answerBatch,
  answerRequest,
  errorAnswer,
  isErrorAnswer,
  loadVerifier,
  parseJson,
  MAX_KEYS,
  parseVerifyRequest,
  verifyRequest,
  type ErrorAnswer,
  type PredictAnswer,
  type PredictOptions,
  Predictor,
  type RequestLimits,
  type Verifier,
} from "../predict/index.js";
import type { VerificationResult } from "../verify/types.js";
import { createMetrics, type ServerMetrics } from "./metrics.js";
import { installRateLimit, type RateLimit } from "./rate-limit.js";
import { trackConnections, type DrainOptions, type DrainReport } from "./drain.js";

/** Everything `serve` can be told; defaults merged once in createServer. */
export interface ServerOptions {
  modelsDir: string;
  /** Largest request body in bytes (413 above it). */
  bodyLimit?: number;
  /** Bearer token every route but /health needs; undefined = open. */
  token?: string;
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
  /** Loads the verification templates of a models dir; null when it has none (default: src/verify's store). */
  loadVerifier?: (modelsDir: string, manifest: Manifest) => Promise<Verifier | null>;
  /** Reads a models dir (loadModelDir unless a test or an embedding app supplies its own). */
  loadModels?: (modelsDir: string) => Promise<ModelDir>;
  /** prom-client's process metrics (CPU, memory, event loop) beside the server's own. */
  processMetrics?: boolean;
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
export const DEFAULT_TIMEOUTS: Required<ServerTimeouts> = { headersMs: 10_000, requestMs: 30_000, keepAliveMs: 72_000, checkMs: 1_000 };

export const DEFAULT_BODY_LIMIT = 64 * 1024;
export const DEFAULT_MAX_BATCH = 1000;
export const DEFAULT_MAX_KEYS = MAX_KEYS;
export const DEFAULT_LOG_LEVEL = "info";

/** What answers requests right now; replaced whole on reload so a request never sees half of two. */
export interface ServingState {
  predictor: Predictor;
  verifier: Verifier | null;
  manifest: Manifest;
  loadedAt: Date;
}

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

/** Marks a body that came as NDJSON (one request per line) rather than JSON. */
class NdjsonBody {
  constructor(readonly text: string) {}
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
    const verifier = await (opts.loadVerifier ?? loadVerifier)(opts.modelsDir, manifest);
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
  app.addContentTypeParser("application/x-ndjson", { parseAs: "string" }, (_req, body, done) => done(null, new NdjsonBody(body as string)));

  const isPublic = (req: FastifyRequest) => Boolean((req.routeOptions.config as { public?: boolean } | undefined)?.public);
  // before the token check, so that guessing tokens counts against the budget too
  if (opts.rateLimit) await installRateLimit(app, opts.rateLimit, isPublic);

  if (opts.token !== undefined) {
    const expected = digest(opts.token);
    app.addHook("onRequest", async (req, reply) => {
      if (isPublic(req)) return;
      const header = req.headers.authorization;
      // hash both sides so the comparison takes the same time whatever the lengths; the scheme is case-insensitive (RFC 7235)
      const ok = typeof header === "string" && /^bearer /i.test(header) && timingSafeEqual(digest(header.slice(7)), expected);
      if (!ok) {
        metrics.rejected.inc({ reason: "UNAUTHORIZED" });
        return reply.code(401).header("www-authenticate", 'Bearer realm="keystroke-id"').send(errorBody(new KeystrokeError("UNAUTHORIZED", "missing or wrong bearer token (Authorization: Bearer <token>)")));
      }
    });
  }

  app.addHook("onResponse", async (req, reply) => {
    const route = req.routeOptions.url ?? "unmatched";
    metrics.requests.inc({ route, status: reply.statusCode });
    metrics.latency.observe({ route }, reply.elapsedTime / 1000);
  });

  app.setErrorHandler((err: FastifyError, req, reply) => sendError(err, req, reply, metrics, opts.bodyLimit));
  app.setNotFoundHandler((req, reply) => reply.code(404).send(errorBody(new KeystrokeError("NOT_FOUND", `no route ${req.method} ${req.url.split("?")[0]}`))));

  // the batch size is checked in the handlers, so that arrays and NDJSON get the same message
  const bodySchema = { type: ["object", "array"] };
  const limits: RequestLimits = { maxKeys: opts.maxKeys };
  const batchOf = <T>(items: T[]): T[] => {
    checkBatch(items.length, opts.maxBatch);
    return items;
  };
  const topQuery = { type: "object", properties: { top: { type: "integer", minimum: 1, maximum: 1000 } } };

  app.post<{ Querystring: { top?: number } }>("/predict", { schema: { body: bodySchema, querystring: topQuery } }, async (req, reply) => {
    const body = req.body;
    const { predictor } = state;
    const popts: PredictOptions = req.query.top === undefined ? {} : { top: req.query.top };
    if (body instanceof NdjsonBody) {
      const rows = batchOf(ndjsonRows(body.text));
      reply.type("application/x-ndjson");
      return ndjson(rows, (v) => count(metrics, answerRequest(predictor, v, popts, limits)));
    }
    if (Array.isArray(body)) return answerBatch(predictor, batchOf(body), popts, limits).map((a) => count(metrics, a));
    return count(metrics, answerRequest(predictor, body, popts, limits));
  });

  app.post("/verify", { schema: { body: bodySchema } }, async (req, reply) => {
    const { verifier } = state;
    if (!verifier) {
      metrics.rejected.inc({ reason: "NO_TEMPLATES" });
      return reply.code(404).send(errorBody(new KeystrokeError("NO_TEMPLATES", "this models dir has no verification templates (run keystroke-id enroll)")));
    }
    const one = (v: unknown) => countVerify(metrics, verifyRequest(verifier, parseVerifyRequest(v, undefined, limits)));
    const body = req.body;
    if (body instanceof NdjsonBody) {
      const rows = batchOf(ndjsonRows(body.text));
      reply.type("application/x-ndjson");
      return ndjson(rows, one);
    }
    if (Array.isArray(body)) {
      return batchOf(body).map((v, index) => {
        try {
          return one(v);
        } catch (e) {
          return countError(metrics, errorAnswer(e, { index }));
        }
      });
    }
    return one(body);
  });

  app.get("/health", { config: { public: true } }, async () => {
    const s = state;
    return {
      status: "ok",
      uptime_s: Math.round((Date.now() - started) / 100) / 10,
      loaded_at: s.loadedAt.toISOString(),
      best: s.manifest.best,
      models: s.predictor.source.models.map((m) => ({ Model: m.algorithm, features: m.featureSet, version: m.version, keys: m.keys })),
      verification: s.verifier ? (s.manifest.verification ?? { users: null, detector: null }) : null,
    };
  });

  app.get("/models", async () => state.manifest);

  app.get("/metrics", async (_req, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });

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
      app.log.error({ why, error: e instanceof Error ? e.message : String(e) }, "reload failed; still serving the previous models");
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

function digest(s: string): Buffer {
  return createHash("sha256").update(s).digest();
}

function count(metrics: ServerMetrics, a: PredictAnswer | ErrorAnswer): PredictAnswer | ErrorAnswer {
  if (isErrorAnswer(a)) countError(metrics, a);
  else metrics.predictions.inc({ model: a.Model, features: a.features });
  return a;
}

function countError(metrics: ServerMetrics, a: ErrorAnswer): ErrorAnswer {
  metrics.rejected.inc({ reason: a.code });
  return a;
}

function countVerify(metrics: ServerMetrics, r: VerificationResult): VerificationResult {
  metrics.verifications.inc({ accepted: String(r.accepted) });
  if (r.replay) metrics.flagged.inc({ kind: "replay" });
  if (r.scripted) metrics.flagged.inc({ kind: "scripted" });
  return r;
}

/** The non-blank lines of an NDJSON body with their 1-based line numbers. */
function ndjsonRows(text: string): Array<{ line: number; text: string }> {
  const rows: Array<{ line: number; text: string }> = [];
  text.split("\n").forEach((row, i) => {
    if (row.trim() !== "") rows.push({ line: i + 1, text: row });
  });
  return rows;
}

/** Answers NDJSON rows one by one; a bad line gets an error object on its line. */
function ndjson(rows: ReadonlyArray<{ line: number; text: string }>, answer: (value: unknown) => unknown): string {
  let out = "";
  for (const { line, text } of rows) {
    let a: unknown;
    try {
      a = answer(parseJson(text, { line }));
    } catch (e) {
      a = errorAnswer(e, { line });
    }
    out += JSON.stringify(a) + "\n";
  }
  return out;
}

/** Throws BAD_REQUEST when a batch holds more requests than allowed; a batch is refused whole, never half answered. */
function checkBatch(n: number, max: number): void {
  if (n > max) throw new KeystrokeError("BAD_REQUEST", `a batch holds at most ${max} requests (serve --max-batch); this one has ${n}`, { field: "body" });
}

/** Maps any error to its catalogue code and status (src/errors.ts): 4xx for every kind of bad input, never a stack trace or a framework code. */
function sendError(err: FastifyError, req: FastifyRequest, reply: FastifyReply, metrics: ServerMetrics, bodyLimit: number): FastifyReply {
  const { status, body } = errorResponse(err, { bodyLimit });
  if (status < 500) {
    metrics.rejected.inc({ reason: body.code });
    req.log.debug({ code: body.code, field: body.field, status }, "request refused");
  } else req.log.error({ err }, "request failed");
  return reply.code(status).send(body);
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
