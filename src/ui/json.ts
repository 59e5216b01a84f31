// One vocabulary on the wire: every JSON document a command prints goes through wireJson, so the core's
// TypeScript names (camelCase, `algorithm`, `version`) reach people and programs under one name per concept.

/** Keys renamed wherever they appear: the original contract's names (`UserID`, `Model`) and the agreed ones. */
export const WIRE_NAMES: Readonly<Record<string, string>> = {
  algorithm: "Model",
  model: "Model",
  user: "UserID",
  featureSet: "features",
  version: "model_version",
  out: "models_dir",
  modelsDir: "models_dir",
};

/** Maps whose keys are data (user ids, detector names), never renamed. */
const DATA_MAPS = new Set(["users", "detectors", "templates"]);

/** `balancedAccuracy` → `balanced_accuracy`; names already snake or Pascal (`UserID`, `HT`) are kept. */
export function snakeCase(key: string): string {
  if (!/^[a-z][a-z0-9]*[A-Z]/.test(key)) return key;
  return key.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();
}

/** A JSON-ready copy with wire names: snake_case keys, WIRE_NAMES applied, non-finite numbers as null. */
export function wireJson(value: unknown, dataKeys = false): unknown {
  if (Array.isArray(value)) return value.map((v) => wireJson(v));
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (value === null || typeof value !== "object") return value;
  if (typeof (value as { toJSON?: unknown }).toJSON === "function")
    return wireJson(JSON.parse(JSON.stringify(value)));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (v === undefined) continue;
    const name = dataKeys ? k : (WIRE_NAMES[k] ?? snakeCase(k));
    out[name] = wireJson(v, !dataKeys && DATA_MAPS.has(k));
  }
  return out;
}
