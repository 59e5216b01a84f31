import type { FastifyInstance } from "fastify";

/** GET /health (no token: up and ready, nothing more) and GET /status (with the token: what is served). */
export default async function healthRoutes(app: FastifyInstance): Promise<void> {
  const { ks } = app;
  app.get("/health", { config: { access: "public" } }, async () => ({ status: "ok", ready: true }));

  app.get("/status", async () => {
    const s = ks.state();
    return {
      status: "ok",
      uptime_s: Math.round((Date.now() - ks.started) / 100) / 10,
      loaded_at: s.loadedAt.toISOString(),
      best: s.manifest.best,
      models: s.predictor.source.models.map((m) => ({ Model: m.algorithm, features: m.featureSet, version: m.version, keys: m.keys })),
      verification: s.verifier ? (s.manifest.verification ?? { users: null, detector: null }) : null,
    };
  });
}
