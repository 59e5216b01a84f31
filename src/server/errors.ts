import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { errorResponse, HTTP_STATUS, type ErrorCode } from "../errors.js";
import type { ServerMetrics } from "./metrics.js";

/** The HTTP status of a core error code, from the catalogue's total mapping (src/errors.ts). */
export function statusOf(code: ErrorCode): number {
  return HTTP_STATUS[code];
}

/**
 * Maps any error to its catalogue code and status (src/errors.ts) and `{error, code, field}`: 4xx for every
 * kind of bad input, never a stack trace or a framework code. A store that cannot answer now is a 503
 * with Retry-After (never a 500, never an accept).
 */
export function sendError(
  err: FastifyError,
  req: FastifyRequest,
  reply: FastifyReply,
  metrics: ServerMetrics,
  bodyLimit: number,
): FastifyReply {
  const { status, body } = errorResponse(err, { bodyLimit });
  if (status < 500) {
    metrics.rejected.inc({ reason: body.code });
    req.log.debug({ code: body.code, field: body.field, status }, "request refused");
  } else if (status === 503) {
    req.log.error({ code: body.code, error: body.error }, "request failed");
    reply.header("retry-after", "1");
  } else req.log.error({ err }, "request failed");
  return reply.code(status).send(body);
}
