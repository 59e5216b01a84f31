import type { FastifyInstance } from "fastify";
import { answerBatch, answerRequest, type PredictOptions } from "../../predict/index.js";
import { count, ndjson, ndjsonRows, NdjsonBody } from "../http.js";

const body = { type: ["object", "array"] };
const querystring = {
  type: "object",
  properties: {
    top: { type: "integer", minimum: 1, maximum: 1000 },
    reject_unknown: {
      type: "boolean",
      description:
        'open-set identification: "UserID": null, "unknown": true for a sample too far from every known user',
    },
  },
};

/** POST /predict: who typed this sample (one request, a JSON array of them, or NDJSON). */
export default async function predictRoutes(app: FastifyInstance): Promise<void> {
  const { ks } = app;
  app.post<{ Querystring: { top?: number; reject_unknown?: boolean } }>(
    "/predict",
    { schema: { body, querystring } },
    async (req, reply) => {
      const { predictor } = ks.state();
      const popts: PredictOptions = req.query.top === undefined ? {} : { top: req.query.top };
      if (req.query.reject_unknown === true) popts.rejectUnknown = true;
      if (req.body instanceof NdjsonBody) {
        const rows = ks.batchOf(ndjsonRows(req.body.text));
        reply.type("application/x-ndjson");
        return ndjson(rows, (v) => count(ks.metrics, answerRequest(predictor, v, popts, ks.limits)));
      }
      if (Array.isArray(req.body))
        return answerBatch(predictor, ks.batchOf(req.body), popts, ks.limits).map((a) =>
          count(ks.metrics, a),
        );
      return count(ks.metrics, answerRequest(predictor, req.body, popts, ks.limits));
    },
  );
}
