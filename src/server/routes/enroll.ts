import type { FastifyInstance } from "fastify";
import { parseAutoRequest, parseEnrollRequest, requireIdentities, userParam } from "../identity-http.js";
import { countVerify, explainQuery } from "../http.js";
import { KeystrokeError } from "../../errors.js";

// the key names of a keystrokes body (already checked by parseAutoRequest), for explanations
function keyNames(keystrokes: unknown[]): string[] {
  return keystrokes.map((k) => {
    const key = (k as { key?: unknown }).key;
    return typeof key === "string" ? key : "";
  });
}

const params = { type: "object", required: ["id"], properties: { id: { type: "string" } } };
const admin = { access: "admin" as const };

/** POST /enroll (replace, or `"mode":"append"`) and POST /auto/:id (enrol until enough samples, then verify); admin token. */
export default async function enrollRoutes(app: FastifyInstance): Promise<void> {
  const { ks } = app;
  app.post("/enroll", { config: admin, schema: { body: { type: "object" } } }, async (req) => {
    const r = parseEnrollRequest(req.body, ks.limits);
    return requireIdentities(ks).enroll(r.user, r.vectors, {
      mode: r.mode,
      ...(r.detector ? { detector: r.detector } : {}),
    });
  });

  app.post<{ Params: { id: string } }>(
    "/auto/:id",
    { config: admin, schema: { params, body: { type: "object" } } },
    async (req) => {
      const body = req.body as Record<string, unknown> | null;
      if (body && body.explain !== undefined && typeof body.explain !== "boolean")
        throw new KeystrokeError("BAD_REQUEST", "must be true or false", { field: "explain" });
      const explain = explainQuery(req.query) || body?.explain === true;
      const out = await requireIdentities(ks).auto(
        userParam(req.params.id),
        parseAutoRequest(req.body, ks.limits),
        explain
          ? { explain: Array.isArray(body?.keystrokes) ? { keys: keyNames(body.keystrokes) } : {} }
          : {},
      );
      if (out.enrolled && !out.enrolled_now && out.accepted !== undefined)
        countVerify(ks.metrics, out as Parameters<typeof countVerify>[1]);
      return out;
    },
  );
}
