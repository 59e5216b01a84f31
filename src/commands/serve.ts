import { Command } from "commander";
import { ExitCodes, KeystrokeError } from "../errors.js";
import { say } from "../ui/terminal.js";
import { addOptions, choiceCheck, helpEpilog, MODELS_DIR, numberCheck, parseNumber, type OptionSpec } from "./options.js";
import { formatWindow, parseRateLimit, parseTrustProxy } from "../server/rate-limit.js";

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
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

/** The flags of `serve`, as data. */
export const SERVE_OPTIONS: readonly OptionSpec[] = [
  { key: "host", flags: "--host <host>", description: "address to listen on", default: "127.0.0.1" },
  { key: "port", flags: "--port <port>", description: "port to listen on (0: any free port, printed on stderr)", default: "8000", check: numberCheck({ integer: true, min: 0, max: 65535 }) },
  MODELS_DIR,
  { key: "bodyLimit", flags: "--body-limit <bytes>", description: "largest request body accepted (413 above it)", default: String(64 * 1024), check: numberCheck({ integer: true, min: 256, max: 1 << 30 }) },
  // a secret does not belong in a config file that may be committed: KEYSTROKE_ID_TOKEN instead
  { key: "token", flags: "--token <token>", description: "require Authorization: Bearer <token> on every route but /health (or KEYSTROKE_ID_TOKEN)", config: false },
  { key: "logLevel", flags: "--log-level <level>", description: `pino log level on stderr: ${LOG_LEVELS.join(", ")}; per-request lines only at debug/trace`, default: "info", check: choiceCheck(LOG_LEVELS) },
  { key: "watch", flags: "--no-watch", description: "do not reload when manifest.json changes (SIGHUP still reloads)", default: true },
  { key: "maxBatch", flags: "--max-batch <n>", description: "most requests in one batch: JSON array items or NDJSON lines (400 above it)", default: "1000", check: numberCheck({ integer: true, min: 1, max: 1_000_000 }) },
  { key: "maxKeys", flags: "--max-keys <n>", description: "most keys in one sample (400 above it)", default: "4096", check: numberCheck({ integer: true, min: 2, max: 1_000_000 }) },
  { key: "rateLimit", flags: "--rate-limit <n[/window]>", description: "at most n requests per client IP per window (ms, s, m, h; default 1m), e.g. 100/1m; 429 with Retry-After above it; /health exempt (default: off)", check: (v, f) => void parseRateLimit(v, f) },
  { key: "requestTimeout", flags: "--request-timeout <ms>", description: "a client must send a whole request within this time (its headers within 10 s), else 408 and the connection is closed", default: "30000", check: numberCheck({ integer: true, min: 1000, max: 3_600_000 }) },
  { key: "trustProxy", flags: "--trust-proxy <hops|addresses>", description: "behind reverse proxies: trust X-Forwarded-For from this many hops (e.g. 1) or these proxy addresses (comma list, CIDR allowed), so --rate-limit counts clients, not the proxy (default: off)", check: (v) => void parseTrustProxy(v) },
];

/** Examples that start a server; test/docs-examples.test.ts runs each until it listens, then stops it. */
export const SERVE_EXAMPLES = ["keystroke-id serve --port 8000 --models-dir models", "KEYSTROKE_ID_TOKEN=secret keystroke-id serve --port 0 --rate-limit 100/1m"];

/** `keystroke-id serve`: the HTTP API over the same core as `predict`; runs until SIGTERM or SIGINT. */
export function serveCommand(): Command {
  const cmd = new Command("serve").description("serve predictions and verification over HTTP (POST /predict, /verify; GET /health, /models, /metrics)");
  return addOptions(cmd, SERVE_OPTIONS)
    .addHelpText("after", helpEpilog(SERVE_EXAMPLES, "Stops on SIGTERM or SIGINT after answering the requests in flight (exit 0); SIGHUP reloads the models."))
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

      // fastify and prom-client load only here, so the other commands start without them
      const { createServer } = await import("../server/app.js");
      const server = await createServer({ modelsDir: flags.modelsDir, bodyLimit, logLevel, watch: flags.watch, maxBatch, maxKeys, ...(rateLimit ? { rateLimit } : {}), ...(trustProxy !== undefined ? { trustProxy } : {}), timeouts: { requestMs }, ...(token !== undefined ? { token } : {}) });
      const { url } = await server.listen(flags.host, port);
      const models = server.state().predictor.source.models.map((m) => `${m.algorithm}/${m.featureSet}`).join(", ");
      say(`keystroke-id listening on ${url} (models: ${models}${server.state().verifier ? "; verification on" : ""}${token ? "; token required" : ""}${rateLimit ? `; at most ${rateLimit.max} requests per ${formatWindow(rateLimit.windowMs)} per client` : ""})`);

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
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
      process.exitCode = ExitCodes.OK;
    });
}
