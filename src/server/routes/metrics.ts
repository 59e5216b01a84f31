import type { FastifyInstance } from "fastify";

/** GET /metrics: Prometheus text format. */
export default async function metricsRoutes(app: FastifyInstance): Promise<void> {
  const { registry } = app.ks.metrics;
  app.get("/metrics", async (_req, reply) => {
    reply.type(registry.contentType);
    return registry.metrics();
  });
}
