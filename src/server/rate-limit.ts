import type { FastifyInstance, FastifyRequest } from "fastify";
import { isIP } from "node:net";
import { KeystrokeError } from "../errors.js";

/** A request budget per client address: at most `max` requests in any window of `windowMs`. */
export interface RateLimit {
  max: number;
  windowMs: number;
}

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
const DEFAULT_WINDOW_MS = UNIT_MS.m;

/** Parses `100` (per minute), `100/1m`, `20/30s`, `5000/h` or `10/500ms`; throws BAD_FLAG naming `flag`. */
export function parseRateLimit(text: string, flag = "--rate-limit"): RateLimit {
  const m = /^(\d+)(?:\/(\d+(?:\.\d+)?)?(ms|s|m|h))?$/.exec(text.trim());
  const max = m ? Number(m[1]) : NaN;
  const windowMs = m?.[3] ? Number(m[2] ?? 1) * UNIT_MS[m[3] as keyof typeof UNIT_MS] : DEFAULT_WINDOW_MS;
  if (!m || !Number.isSafeInteger(max) || max < 1 || !(windowMs >= 1) || windowMs > 24 * UNIT_MS.h) {
    throw new KeystrokeError(
      "BAD_FLAG",
      `"${text}" is not a rate limit: expected <requests>[/<window>], e.g. 100/1m, 20/30s, 5000/h (window from 1ms to 24h)`,
      { flag },
    );
  }
  return { max, windowMs: Math.round(windowMs) };
}

/** Parses `--trust-proxy`: a hop count (`1`) or a comma list of proxy addresses or CIDR ranges; throws BAD_FLAG. */
export function parseTrustProxy(text: string, flag = "--trust-proxy"): number | string {
  const t = text.trim();
  if (/^\d+$/.test(t)) {
    const hops = Number(t);
    if (hops >= 1 && hops <= 32) return hops;
  } else {
    const parts = t.split(",").map((p) => p.trim());
    if (parts.length > 0 && parts.every((p) => isIP(p.split("/")[0]!) !== 0 && /^[^/]+(\/\d{1,3})?$/.test(p)))
      return parts.join(",");
  }
  throw new KeystrokeError(
    "BAD_FLAG",
    `"${text}" is not a proxy setting: expected a hop count from 1 to 32, or proxy addresses such as 10.0.0.1,192.168.0.0/16`,
    { flag },
  );
}

/** `60000` → `1m`, `1500` → `1500ms`: the window as a person would write it. */
export function formatWindow(ms: number): string {
  for (const unit of ["h", "m", "s"] as const)
    if (ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  return `${ms}ms`;
}

/**
 * Limits requests per client IP with @fastify/rate-limit. The limiter is an app-wide onRequest hook so
 * that it runs before authentication (guessing tokens is rate limited too) and covers unknown routes;
 * routes `exempt` says so for (/health) are not counted. Over the budget: 429, Retry-After, `{error}`.
 */
export async function installRateLimit(
  app: FastifyInstance,
  limit: RateLimit,
  exempt: (req: FastifyRequest) => boolean,
): Promise<void> {
  const { default: rateLimit } = await import("@fastify/rate-limit");
  const per = formatWindow(limit.windowMs);
  // under serve --workers the primary holds the counters, so every worker spends the same budget
  const { isServeWorker, clusterRateLimitStore } = await import("./cluster.js");
  await app.register(rateLimit, {
    ...(isServeWorker() ? { store: clusterRateLimitStore() } : {}),
    global: false,
    max: limit.max,
    timeWindow: limit.windowMs,
    errorResponseBuilder: (_req, ctx) =>
      Object.assign(
        new Error(
          `too many requests: at most ${limit.max} per ${per} from one address; retry in ${ctx.after}`,
        ),
        { statusCode: ctx.statusCode, code: "RATE_LIMITED" },
      ),
  });
  const limiter = app.rateLimit();
  app.addHook("onRequest", async (req, reply) => {
    if (!exempt(req)) await limiter.call(app, req, reply);
  });
}
