import type { FastifyInstance } from "fastify";

/** GET /models: the manifest of the models being served. */
export default async function modelsRoutes(app: FastifyInstance): Promise<void> {
  app.get("/models", async () => app.ks.state().manifest);
}
