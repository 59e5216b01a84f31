import { parsePolicy } from "../verify/policy.js";
import { Command } from "commander";
import { ExitCodes, KeystrokeError } from "../errors.js";
import { say } from "../ui/terminal.js";
import {
  addOptions,
  choiceCheck,
  helpEpilog,
  MODELS_DIR,
  numberCheck,
  parseDuration,
  parseNumber,
  STORE,
  TARGET_FAR,
  type OptionSpec,
  ADAPT_OPTIONS,
  adaptationFrom,
} from "./options.js";
import { formatWindow, parseRateLimit, parseTrustProxy } from "../server/rate-limit.js";
import { announceListening, isServeWorker, parseWorkers } from "../server/cluster.js";

interface ServeFlags {
  targetFar?: string;
  adapt?: boolean;
  adaptMargin?: string;
  adaptWindow?: string;
  host: string;
  port: string;
  modelsDir: string;
  bodyLimit: string;
  token?: string;
  logLevel: string;
  watch: boolean;
  maxBatch: string;
  maxKeys: string;
  rateLimit?: string;
  trustProxy?: string;
  requestTimeout: string;
  store?: string;
  adminToken?: string;
  cacheSize: string;
  replayWindow: string;
  auditRetention: string;
  demo?: boolean;
  workers?: string;
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

/** The flags of `serve`, as data. */
export const SERVE_OPTIONS: readonly OptionSpec[] = [
  { key: "host", flags: "--host <host>", description: "address to listen on", default: "127.0.0.1" },
  {
    key: "port",
    flags: "--port <port>",
    description: "port to listen on (0: any free port, printed on stderr)",
    default: "8000",
    check: numberCheck({ integer: true, min: 0, max: 65535 }),
  },
  MODELS_DIR,
  {
    key: "bodyLimit",
    flags: "--body-limit <bytes>",
    description: "largest request body accepted (413 above it)",
    default: String(64 * 1024),
    check: numberCheck({ integer: true, min: 256, max: 1 << 30 }),
  },
  // a secret does not belong in a config file that may be committed: KEYSTROKE_ID_TOKEN instead
  {
    key: "token",
    flags: "--token <token>",
    description: "require Authorization: Bearer <token> on every route but /health (or KEYSTROKE_ID_TOKEN)",
    config: false,
  },
  {
    key: "logLevel",
    flags: "--log-level <level>",
    description: `pino log level on stderr: ${LOG_LEVELS.join(", ")}; per-request lines only at debug/trace`,
    default: "info",
    check: choiceCheck(LOG_LEVELS),
  },
  {
    key: "watch",
    flags: "--no-watch",
    description: "do not reload when manifest.json changes (SIGHUP still reloads)",
    default: true,
  },
  {
    key: "maxBatch",
    flags: "--max-batch <n>",
    description: "most requests in one batch: JSON array items or NDJSON lines (400 above it)",
    default: "1000",
    check: numberCheck({ integer: true, min: 1, max: 1_000_000 }),
  },
  {
    key: "maxKeys",
    flags: "--max-keys <n>",
    description: "most keys in one sample (400 above it)",
    default: "4096",
    check: numberCheck({ integer: true, min: 2, max: 1_000_000 }),
  },
  {
    key: "rateLimit",
    flags: "--rate-limit <n[/window]>",
    description:
      "at most n requests per client IP per window (ms, s, m, h; default 1m), e.g. 100/1m; 429 with Retry-After above it; /health exempt (default: off)",
    check: (v, f) => void parseRateLimit(v, f),
  },
  {
    key: "requestTimeout",
    flags: "--request-timeout <ms>",
    description:
      "a client must send a whole request within this time (its headers within 10 s), else 408 and the connection is closed",
    default: "30000",
    check: numberCheck({ integer: true, min: 1000, max: 3_600_000 }),
  },
  {
    key: "trustProxy",
    flags: "--trust-proxy <hops|addresses>",
    description:
      "behind reverse proxies: trust X-Forwarded-For from this many hops (e.g. 1) or these proxy addresses (comma list, CIDR allowed), so --rate-limit counts clients, not the proxy (default: off)",
    check: (v) => void parseTrustProxy(v),
  },
  STORE,
  ...ADAPT_OPTIONS,
  {
    ...TARGET_FAR,
    description: `${TARGET_FAR.description}; set when the server starts, used by POST /enroll and /auto/:id`,
  },
  // a secret, like --token: from KEYSTROKE_ID_ADMIN_TOKEN rather than a config file
  {
    key: "adminToken",
    flags: "--admin-token <token>",
    description:
      "require Authorization: Bearer <token> on routes that change identities: POST /enroll, /auto/:id, /users (or KEYSTROKE_ID_ADMIN_TOKEN); without it they are open only when --token is not set either",
    config: false,
  },
  {
    key: "cacheSize",
    flags: "--cache-size <n>",
    description: "templates kept in memory (LRU); each is checked against the store's version per request",
    default: "10000",
    check: numberCheck({ integer: true, min: 1, max: 100_000_000 }),
  },
  {
    key: "replayWindow",
    flags: "--replay-window <duration>",
    description: "how long a verified sample counts as a replay (e.g. 30d, 12h, 90m)",
    default: "30d",
    check: (v, f) => void parseDuration(v, f),
  },
  {
    key: "auditRetention",
    flags: "--audit-retention <duration>",
    description: "how long audit entries are kept (e.g. 365d)",
    default: "365d",
    check: (v, f) => void parseDuration(v, f),
  },
  {
    key: "demo",
    flags: "--demo",
    description: "serve the demo page at /demo (default: on only when --host is a loopback address)",
  },
  { key: "noDemo", flags: "--no-demo", description: "do not serve the demo page", config: false },
  {
    key: "workers",
    flags: "--workers <n|auto>",
    description:
      "serve from n processes (node:cluster) sharing the port, the models dir and the rate limit; auto: one per core (default: 1)",
    check: (v) => void parseWorkers(v),
  },
];

/** Examples that start a server; test/docs-examples.test.ts runs each until it listens, then stops it. */
export const SERVE_EXAMPLES = [
  "keystroke-id serve --port 8000 --models-dir models",
  "KEYSTROKE_ID_TOKEN=secret keystroke-id serve --port 0 --rate-limit 100/1m",
];

/** `keystroke-id serve`: the HTTP API over the same core as `predict`; runs until SIGTERM or SIGINT. */
export function serveCommand(): Command {
  const cmd = new Command("serve").description(
    "serve predictions and verification over HTTP (POST /predict, /verify; GET /health, /models, /metrics)",
  );
  return addOptions(cmd, SERVE_OPTIONS)
    .addHelpText(
      "after",
      helpEpilog(
        SERVE_EXAMPLES,
        "Stops on SIGTERM or SIGINT after answering the requests in flight (exit 0); SIGHUP reloads the models.",
      ),
    )
    .action(async (flags: ServeFlags) => {
      const port = parseNumber(flags.port, "--port", { integer: true, min: 0, max: 65535 });
      const bodyLimit = parseNumber(flags.bodyLimit, "--body-limit", {
        integer: true,
        min: 256,
        max: 1 << 30,
      });
      const logLevel = flags.logLevel.toLowerCase();
      if (!LOG_LEVELS.includes(logLevel))
        throw new KeystrokeError(
          "BAD_FLAG",
          `"${flags.logLevel}" is not a log level (${LOG_LEVELS.join(", ")})`,
          { flag: "--log-level" },
        );
      const token = flags.token ?? (process.env.KEYSTROKE_ID_TOKEN || undefined);
      if (token === "") throw new KeystrokeError("BAD_FLAG", "is empty", { flag: "--token" });
      const maxBatch = parseNumber(flags.maxBatch, "--max-batch", { integer: true, min: 1, max: 1_000_000 });
      const maxKeys = parseNumber(flags.maxKeys, "--max-keys", { integer: true, min: 2, max: 1_000_000 });
      const rateLimit =
        flags.rateLimit === undefined ? undefined : parseRateLimit(flags.rateLimit, "--rate-limit");
      const trustProxy = flags.trustProxy === undefined ? undefined : parseTrustProxy(flags.trustProxy);
      const requestMs = parseNumber(flags.requestTimeout, "--request-timeout", {
        integer: true,
        min: 1000,
        max: 3_600_000,
      });
      const adminToken = flags.adminToken ?? (process.env.KEYSTROKE_ID_ADMIN_TOKEN || undefined);
      if (adminToken === "") throw new KeystrokeError("BAD_FLAG", "is empty", { flag: "--admin-token" });
      if (adminToken !== undefined && adminToken === token)
        throw new KeystrokeError(
          "BAD_FLAG",
          "must differ from --token (a verify token must not change identities)",
          { flag: "--admin-token" },
        );
      const cacheSize = parseNumber(flags.cacheSize, "--cache-size", {
        integer: true,
        min: 1,
        max: 100_000_000,
      });
      const replayWindowMs = parseDuration(flags.replayWindow, "--replay-window");
      const auditRetentionMs = parseDuration(flags.auditRetention, "--audit-retention");

      const workers = flags.workers === undefined ? 1 : parseWorkers(flags.workers);
      const worker = isServeWorker();
      if (workers > 1 && !worker) {
        // the primary forks the workers (each runs this same command) and serves nothing itself
        const { runPrimary } = await import("../server/cluster.js");
        process.exitCode = await runPrimary({ workers, say });
        return;
      }
      // in a worker the primary coordinates shutdown: Ctrl-C reaches it, and it sends each worker one SIGTERM
      if (worker) process.on("SIGINT", () => undefined);

      // fastify and prom-client load only here, so the other commands start without them
      const { createServer } = await import("../server/app.js");
      const { openIdentities } = await import("../identity/open.js");
      const identities = await openIdentities({
        store: flags.store,
        modelsDir: flags.modelsDir,
        cacheSize,
        replayWindowMs,
        auditRetentionMs,
        maintenanceMs: 10 * 60_000,
        adapt: adaptationFrom(flags),
        // the WAL's fsyncs off the request path (SQLite; see startCheckpointer in src/store/sqlite.ts)
        checkpointEveryMs: SERVE_CHECKPOINT_MS,
      });
      if (flags.targetFar !== undefined) {
        try {
          await identities.service.setOperatingPolicy(parsePolicy(flags.targetFar, { flag: "--target-far" }));
        } catch (e) {
          await identities.close();
          throw e;
        }
      }
      if (identities.legacy?.imported)
        say(
          `imported ${identities.legacy.imported} user(s) from ${identities.legacy.dir} into the identity store ${identities.store.location}`,
        );
      let server: Awaited<ReturnType<typeof createServer>>;
      try {
        server = await createServer({
          modelsDir: flags.modelsDir,
          bodyLimit,
          logLevel,
          watch: flags.watch,
          maxBatch,
          maxKeys,
          ...(rateLimit ? { rateLimit } : {}),
          ...(trustProxy !== undefined ? { trustProxy } : {}),
          timeouts: { requestMs },
          ...(token !== undefined ? { token } : {}),
          ...(adminToken !== undefined ? { adminToken } : {}),
          identities: identities.service,
          demo: flags.demo ?? isLoopbackHost(flags.host),
        });
      } catch (e) {
        await identities.close();
        throw e;
      }
      const { url } = await server.listen(flags.host, port);
      const models = server
        .state()
        .predictor.source.models.map((m) => `${m.algorithm}/${m.featureSet}`)
        .join(", ");
      const listeningLine = `keystroke-id listening on ${url} (models: ${models}; identity store: ${identities.store.kind} ${identities.store.location}${token ? "; token required" : ""}${rateLimit ? `; at most ${rateLimit.max} requests per ${formatWindow(rateLimit.windowMs)} per client` : ""})`;
      if (worker) announceListening(url, listeningLine);
      else say(listeningLine);

      if (flags.demo ?? isLoopbackHost(flags.host)) say(`demo page: ${url}/demo`);
      const onHup = () => void server.reload("SIGHUP");
      process.on("SIGHUP", onHup);
      await new Promise<void>((resolve) => {
        const stop = (signal: NodeJS.Signals) => {
          say(`${signal}: finishing in-flight requests and closing`);
          process.off("SIGINT", stop);
          process.off("SIGTERM", stop);
          process.off("SIGHUP", onHup);
          server.close().then(
            (r) => {
              const all = r.answered === r.inFlight && r.cut === 0;
              say(
                `${signal}: ${r.inFlight} request(s) in flight, ${all ? "all" : r.answered} answered` +
                  `${r.answeredWhileDraining ? `, ${r.answeredWhileDraining} more answered while draining` : ""}` +
                  `${r.cut ? `; ${r.cut} connection(s) closed before their answer (client gone or the 10 s deadline)` : ""}; closed in ${Math.round(r.ms)} ms`,
              );
              resolve();
            },
            (e: unknown) => {
              say(`error while closing: ${(e as Error).message}`);
              resolve();
            },
          );
        };
        if (!worker) process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
      await identities.close();
      process.exitCode = ExitCodes.OK;
    });
}

/** How often `serve` checkpoints a SQLite store's WAL from its background thread (ms). */
const SERVE_CHECKPOINT_MS = 20;

/** True for addresses only this machine can reach, where the demo page is on by default. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" || /^127(\.\d{1,3}){3}$/.test(h) || h === "::ffff:127.0.0.1";
}
