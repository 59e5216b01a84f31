import type { FastifyInstance } from "fastify";
import { storeStatus } from "../../identity/status.js";

/** GET /health (no token: up and ready, the store included, nothing more) and GET /status (with the token: what is served). */
export default async function healthRoutes(app: FastifyInstance): Promise<void> {
  const { ks } = app;
  app.get("/health", { config: { access: "public" } }, async (_req, reply) => {
    if (!ks.identities) return { status: "ok", ready: true };
    const store = await storeStatus(ks.identities.store);
    if (store.ready) return { status: "ok", ready: true, store: "ok" };
    return reply
      .code(503)
      .header("retry-after", "1")
      .send({ status: "ok", ready: false, store: "unavailable" });
  });

  app.get("/status", async () => {
    const s = ks.state();
    return {
      status: "ok",
      uptime_s: Math.round((Date.now() - ks.started) / 100) / 10,
      loaded_at: s.loadedAt.toISOString(),
      best: s.manifest.best,
      models: s.predictor.source.models.map((m) => ({
        Model: m.algorithm,
        features: m.featureSet,
        model_version: m.version,
        keys: m.keys,
      })),
      verification: ks.identities
        ? await storeStatus(ks.identities.store, { count: true })
        : s.verifier
          ? { store: "in memory" }
          : null,
    };
  });
}
