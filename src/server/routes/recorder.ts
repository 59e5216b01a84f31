import type { FastifyInstance } from "fastify";
import { readRecorderScript } from "../../recorder/script.js";

/** GET /recorder.js (no token): the single-file recorder for a `<script>` tag, defining `KeystrokeRecorder`. */
export default async function recorderRoutes(app: FastifyInstance): Promise<void> {
  // read and wrapped once, on the first request: a server without dist/recorder still starts
  let script: Promise<string> | undefined;
  app.get("/recorder.js", { config: { access: "public" } }, async (_req, reply) => {
    script ??= readRecorderScript().catch((e: unknown) => {
      script = undefined;
      throw e;
    });
    const text = await script;
    reply.type("text/javascript; charset=utf-8").header("cache-control", "public, max-age=300");
    return text;
  });
}
