import { Command } from "commander";
import { ExitCodes, KeystrokeError } from "../errors.js";
import { say } from "../ui/terminal.js";
import { parseNumber } from "./options.js";
import { formatWindow, parseRateLimit, parseTrustProxy } from "../server/rate-limit.js";
import { announceListening, isServeWorker, parseWorkers } from "../server/cluster.js";

interface ServeFlags {
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
  workers?: string;
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

/** `keystroke-id serve`: the HTTP API over the same core as `predict`; runs until SIGTERM or SIGINT. */
export function serveCommand(): Command {
  return new Command("serve")
    .description("serve predictions and verification over HTTP (POST /predict, /verify; GET /health, /models, /metrics)")
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--port <port>", "port to listen on (0: any free port, printed on stderr)", "8000")
    .option("--models-dir <dir>", "the directory `train` wrote", "models")
    .option("--body-limit <bytes>", "largest request body accepted (413 above it)", String(64 * 1024))
    .option("--token <token>", "require Authorization: Bearer <token> on every route but /health (or KEYSTROKE_ID_TOKEN)")
    .option("--log-level <level>", `pino log level on stderr: ${LOG_LEVELS.join(", ")}; per-request lines only at debug/trace`, "info")
    .option("--no-watch", "do not reload when manifest.json changes (SIGHUP still reloads)")
    .option("--max-batch <n>", "most requests in one batch: JSON array items or NDJSON lines (400 above it)", "1000")
    .option("--max-keys <n>", "most keys in one sample (400 above it)", "4096")
    .option("--rate-limit <n[/window]>", "at most n requests per client IP per window (ms, s, m, h; default 1m), e.g. 100/1m; 429 with Retry-After above it; /health exempt (default: off)")
    .option("--request-timeout <ms>", "a client must send a whole request within this time (its headers within 10 s), else 408 and the connection is closed", "30000")
    .option("--trust-proxy <hops|addresses>", "behind reverse proxies: trust X-Forwarded-For from this many hops (e.g. 1) or these proxy addresses (comma list, CIDR allowed), so --rate-limit counts clients, not the proxy (default: off)")
    .option("--workers <n|auto>", "serve from n processes (node:cluster) sharing the port, the models dir and the rate limit; auto: one per core (default: 1)")
    .action(async (flags: ServeFlags) => {
      const port = parseNumber(flags.port, "--port", { integer: true, min: 0, max: 65535 });
      const bodyLimit = parseNumber(flags.bodyLimit, "--body-limit", { integer: true, min: 256, max: 1 << 30 });
      const logLevel = flags.logLevel.toLowerCase();
      if (!LOG_LEVELS.includes(logLevel)) throw new KeystrokeError("BAD_FLAG", `"${flags.logLevel}" is not a log level (${LOG_LEVELS.join(", ")})`, { flag: "--log-level" });
      const token = flags.token ?? (process.env.KEYSTROKE_ID_TOKEN || undefined);
      if (token === "") throw new KeystrokeError("BAD_FLAG", "is empty", { flag: "--token" });
      const maxBatch = parseNumber(flags.maxBatch, "--max-batch", { integer: true, min: 1, max: 1_000_000 });
      const maxKeys = parseNumber(flags.maxKeys, "--max-keys", { integer: true, min: 2, max: 1_000_000 });
      const rateLimit = flags.rateLimit === undefined ? undefined : parseRateLimit(flags.rateLimit, "--rate-limit");
      const trustProxy = flags.trustProxy === undefined ? undefined : parseTrustProxy(flags.trustProxy);
      const requestMs = parseNumber(flags.requestTimeout, "--request-timeout", { integer: true, min: 1000, max: 3_600_000 });

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
      const server = await createServer({ modelsDir: flags.modelsDir, bodyLimit, logLevel, watch: flags.watch, maxBatch, maxKeys, ...(rateLimit ? { rateLimit } : {}), ...(trustProxy !== undefined ? { trustProxy } : {}), timeouts: { requestMs }, ...(token !== undefined ? { token } : {}) });
      const { url } = await server.listen(flags.host, port);
      const models = server.state().predictor.source.models.map((m) => `${m.algorithm}/${m.featureSet}`).join(", ");
      const listeningLine = `keystroke-id listening on ${url} (models: ${models}${server.state().verifier ? "; verification on" : ""}${token ? "; token required" : ""}${rateLimit ? `; at most ${rateLimit.max} requests per ${formatWindow(rateLimit.windowMs)} per client` : ""})`;
      if (worker) announceListening(url, listeningLine);
      else say(listeningLine);

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
      process.exitCode = ExitCodes.OK;
    });
}
