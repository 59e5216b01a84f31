import type { FastifyInstance } from "fastify";
import { requireIdentities, userParam } from "../identity-http.js";

const params = { type: "object", required: ["id"], properties: { id: { type: "string" } } };
const listQuery = {
  type: "object",
  properties: { after: { type: "string" }, limit: { type: "integer", minimum: 1, maximum: 10000 } },
};
const auditQuery = { type: "object", properties: { limit: { type: "integer", minimum: 1, maximum: 10000 } } };
const admin = { access: "admin" as const };

/** The user lifecycle (admin token): GET /users, GET /users/:id, GET /users/:id/audit, DELETE /users/:id. */
export default async function usersRoutes(app: FastifyInstance): Promise<void> {
  const { ks } = app;
  app.get<{ Querystring: { after?: string; limit?: number } }>(
    "/users",
    { config: admin, schema: { querystring: listQuery } },
    async (req) => {
      const users = await requireIdentities(ks).list(req.query);
      return {
        users: users.map((u) => ({
          UserID: u.user,
          samples: u.samples,
          detector: u.detector,
          threshold: u.threshold,
          updated_at: new Date(u.updatedAt).toISOString(),
        })),
        next: users.length ? users.at(-1)!.id : null,
      };
    },
  );

  app.get<{ Params: { id: string } }>("/users/:id", { config: admin, schema: { params } }, async (req) =>
    requireIdentities(ks).show(userParam(req.params.id), { field: "id" }),
  );

  app.get<{ Params: { id: string }; Querystring: { limit?: number } }>(
    "/users/:id/audit",
    { config: admin, schema: { params, querystring: auditQuery } },
    async (req) => {
      const entries = await requireIdentities(ks).audit(userParam(req.params.id), req.query.limit ?? 100, {
        field: "id",
      });
      return {
        UserID: userParam(req.params.id),
        entries: entries.map((e) => ({
          at: new Date(e.at).toISOString(),
          action: e.action,
          outcome: e.outcome,
          score: e.score ?? null,
          instance: e.instance,
        })),
      };
    },
  );

  app.delete<{ Params: { id: string } }>("/users/:id", { config: admin, schema: { params } }, async (req) => {
    const user = userParam(req.params.id);
    await requireIdentities(ks).delete(user, { field: "id" });
    return { UserID: user, deleted: true };
  });
}
