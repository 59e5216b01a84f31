import { errorBody, KeystrokeError } from "../../errors.js";
import type { FastifyInstance } from "fastify";
import { errorAnswer, parseVerifyRequest, verifyRequest } from "../../predict/index.js";
import { countError, countVerify, explainQuery, ndjson, ndjsonRows, NdjsonBody } from "../http.js";

const body = { type: ["object", "array"] };

/** POST /verify: is this sample's typist the user it claims (`UserID`)? One, a JSON array, or NDJSON. */
export default async function verifyRoutes(app: FastifyInstance): Promise<void> {
  const { ks } = app;
  app.post("/verify", { schema: { body } }, async (req, reply) => {
    const { verifier } = ks.state();
    if (!verifier) {
      ks.metrics.rejected.inc({ reason: "NO_TEMPLATES" });
      return reply
        .code(404)
        .send(
          errorBody(
            new KeystrokeError(
              "NO_TEMPLATES",
              "this models dir has no verification templates (run keystroke-id enroll)",
            ),
          ),
        );
    }
    const explain = explainQuery(req.query);
    const one = async (v: unknown) => {
      const parsed = parseVerifyRequest(v, undefined, ks.limits);
      return countVerify(
        ks.metrics,
        await verifyRequest(verifier, explain ? { ...parsed, explain } : parsed),
      );
    };
    if (req.body instanceof NdjsonBody) {
      const rows = ks.batchOf(ndjsonRows(req.body.text));
      reply.type("application/x-ndjson");
      return ndjson(rows, one);
    }
    if (Array.isArray(req.body)) {
      const out: unknown[] = [];
      for (const [index, v] of ks.batchOf(req.body).entries()) {
        try {
          out.push(await one(v));
        } catch (e) {
          out.push(countError(ks.metrics, errorAnswer(e, { index })));
        }
      }
      return out;
    }
    return one(req.body);
  });
}
