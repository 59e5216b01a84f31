import { errorBody, KeystrokeError } from "../errors.js";
import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { ServerMetrics } from "./metrics.js";

/**
 * Who may call a route (its `config.access`): `public` (no token: /health), `verify` (the verify token,
 * the default) or `admin` (routes that change identities: the admin token).
 */
export type Access = "public" | "verify" | "admin";

/** The tokens a server checks; undefined = that level is open (admin: see installAuth). */
export interface AuthTokens {
  token?: string;
  adminToken?: string;
}

/** The access level a route declared (verify when it declared none). */
export function accessOf(req: FastifyRequest): Access {
  return req.routeOptions.config?.access ?? "verify";
}

/**
 * Checks bearer tokens before anything else runs. The admin token also opens verify routes. Without an
 * admin token, admin routes are open only on a server with no token at all (a local, open server, as every
 * route is); a server with only a verify token refuses them (403), so a verify token never changes identities.
 */
export function installAuth(app: FastifyInstance, tokens: AuthTokens, metrics: ServerMetrics): void {
  if (tokens.token === undefined && tokens.adminToken === undefined) return;
  const verify = tokens.token !== undefined ? digest(tokens.token) : undefined;
  const admin = tokens.adminToken !== undefined ? digest(tokens.adminToken) : undefined;
  app.addHook("onRequest", async (req, reply) => {
    const access = accessOf(req);
    if (access === "public") return;
    const header = req.headers.authorization;
    // hash both sides so the comparison takes the same time whatever the lengths; the scheme is case-insensitive (RFC 7235)
    const given =
      typeof header === "string" && /^bearer /i.test(header) ? digest(header.slice(7)) : undefined;
    const isAdmin = given !== undefined && admin !== undefined && timingSafeEqual(given, admin);
    if (access === "admin") {
      if (isAdmin) return;
      if (admin === undefined) {
        metrics.rejected.inc({ reason: "FORBIDDEN" });
        return reply
          .code(403)
          .send(
            errorBody(
              new KeystrokeError(
                "FORBIDDEN",
                "routes that change identities are off: start serve with --admin-token (or KEYSTROKE_ID_ADMIN_TOKEN)",
              ),
            ),
          );
      }
      metrics.rejected.inc({ reason: "UNAUTHORIZED" });
      return reply
        .code(401)
        .header("www-authenticate", 'Bearer realm="keystroke-id admin"')
        .send(
          errorBody(
            new KeystrokeError(
              "UNAUTHORIZED",
              "missing or wrong admin bearer token (Authorization: Bearer <admin token>)",
            ),
          ),
        );
    }
    if (verify === undefined || isAdmin) return;
    if (given !== undefined && timingSafeEqual(given, verify)) return;
    metrics.rejected.inc({ reason: "UNAUTHORIZED" });
    return reply
      .code(401)
      .header("www-authenticate", 'Bearer realm="keystroke-id"')
      .send(
        errorBody(
          new KeystrokeError("UNAUTHORIZED", "missing or wrong bearer token (Authorization: Bearer <token>)"),
        ),
      );
  });
}

function digest(s: string): Buffer {
  return createHash("sha256").update(s).digest();
}
