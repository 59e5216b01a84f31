import { collectDefaultMetrics, Counter, Histogram, Registry } from "prom-client";

/** The server's Prometheus metrics, in a Registry of their own so embedding apps keep the global one. */
export interface ServerMetrics {
  registry: Registry;
  requests: Counter<"route" | "status">;
  latency: Histogram<"route">;
  predictions: Counter<"model" | "features">;
  rejected: Counter<"reason">;
  flagged: Counter<"kind">;
  verifications: Counter<"accepted">;
  reloads: Counter<"outcome">;
}

/** Creates the metrics; `defaults` adds prom-client's process metrics (CPU, memory, event-loop lag). */
export function createMetrics(options: { defaults?: boolean } = {}): ServerMetrics {
  const registry = new Registry();
  if (options.defaults ?? true) collectDefaultMetrics({ register: registry, prefix: "keystroke_id_" });
  return {
    registry,
    requests: new Counter({
      name: "keystroke_id_http_requests_total",
      help: "HTTP requests by route and status",
      labelNames: ["route", "status"],
      registers: [registry],
    }),
    latency: new Histogram({
      name: "keystroke_id_http_request_duration_seconds",
      help: "Time from request to response, by route",
      labelNames: ["route"],
      // the targets sit around 0.1–10 ms, so the buckets do too
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
      registers: [registry],
    }),
    predictions: new Counter({
      name: "keystroke_id_predictions_total",
      help: "Requests answered, by model and feature set",
      labelNames: ["model", "features"],
      registers: [registry],
    }),
    rejected: new Counter({
      name: "keystroke_id_rejected_inputs_total",
      help: "Inputs refused, by reason",
      labelNames: ["reason"],
      registers: [registry],
    }),
    flagged: new Counter({
      name: "keystroke_id_flagged_samples_total",
      help: "Verification samples flagged as a replay or as scripted",
      labelNames: ["kind"],
      registers: [registry],
    }),
    verifications: new Counter({
      name: "keystroke_id_verifications_total",
      help: "Verification answers, by outcome",
      labelNames: ["accepted"],
      registers: [registry],
    }),
    reloads: new Counter({
      name: "keystroke_id_model_reloads_total",
      help: "Model reloads, by outcome",
      labelNames: ["outcome"],
      registers: [registry],
    }),
  };
}
