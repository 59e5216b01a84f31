import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { isKeystrokeError, type ErrorCode } from "../errors.js";
import type { ServerMetrics } from "./metrics.js";

const STATUS_BY_CODE: Partial<Record<ErrorCode, number>> = {
  BAD_JSON: 400,
  BAD_REQUEST: 400,
  BAD_FLAG: 400,
  BAD_ROW: 400,
  TOO_FEW_SAMPLES: 400,
  // a model name outside SVM/RF/XGB is a bad request (400, as the original contract); a known model that
  // this models dir does not hold, or a user with no template, is a missing resource (404)
  UNKNOWN_MODEL: 404,
  UNKNOWN_USER: 404,
  NO_MODELS: 503,
  // the identity store cannot answer now: try again (never a 500, never an accept)
  STORE_UNAVAILABLE: 503,
  STORE_BUSY: 503,
};

/** The HTTP status of a core error code (500 for what is not the client's doing). */
export function statusOf(code: ErrorCode): number {
  return STATUS_BY_CODE[code] ?? 500;
}

/** Maps any error to a status and `{error, field}`: 4xx for every kind of bad input, never a stack trace. */
export function sendError(err: FastifyError, req: FastifyRequest, reply: FastifyReply, metrics: ServerMetrics, bodyLimit: number): FastifyReply {
  if (isKeystrokeError(err)) {
    const status = statusOf(err.code);
    if (status < 500) {
      metrics.rejected.inc({ reason: err.code });
      req.log.debug({ code: err.code, field: err.place.field, status }, "request refused");
      return reply.code(status).send({ error: err.message, code: err.code, ...(err.place.field !== undefined ? { field: err.place.field } : {}) });
    }
    req.log.error({ code: err.code, error: err.message }, "request failed");
    if (status === 503) reply.header("retry-after", "1");
    return reply.code(status).send({ error: err.message, code: err.code });
  }
  if (err.validation) {
    const v = err.validation[0];
    const missing = (v?.params as { missingProperty?: string } | undefined)?.missingProperty;
    const path = (v?.instancePath ?? "").split("/").filter(Boolean).join(".");
    const field = [err.validationContext === "body" ? "" : err.validationContext, path, missing].filter(Boolean).join(".") || "body";
    metrics.rejected.inc({ reason: "SCHEMA" });
    return reply.code(400).send({ error: `${field} ${v?.message ?? "is invalid"}`, code: "BAD_REQUEST", field });
  }
  const status = typeof err.statusCode === "number" ? err.statusCode : 500;
  if (status >= 400 && status < 500) {
    metrics.rejected.inc({ reason: err.code ?? String(status) });
    return reply.code(status).send({ error: publicMessage(err, status, bodyLimit), code: err.code ?? String(status) });
  }
  req.log.error({ err }, "internal error");
  return reply.code(500).send({ error: "internal error" });
}

function publicMessage(err: FastifyError, status: number, bodyLimit: number): string {
  if (status === 413) return `request body is larger than the limit of ${bodyLimit} bytes`;
  if (status === 415) return "unsupported content type: send application/json (or application/x-ndjson)";
  return err.message;
}
