import type { Label } from "../data/types.js";
import { KeystrokeError, isKeystrokeError } from "../errors.js";
import { extractTimings } from "../features/index.js";
import type { IdentityService } from "../identity/service.js";
import { finiteFeatures, parseClaim, parseRequest, type RequestLimits } from "../predict/index.js";
import { isDetectorName } from "../verify/template.js";
import type { DetectorName } from "../verify/types.js";
import type { ServerContext } from "./context.js";

// The border between HTTP bodies and the identity service: checked once here, trusted below.

/** The identity service, or 503 when the server runs without a store. */
export function requireIdentities(ks: ServerContext): IdentityService {
  if (!ks.identities)
    throw new KeystrokeError(
      "STORE_UNAVAILABLE",
      "this server runs without an identity store (serve --store)",
    );
  return ks.identities;
}

/** A user id from the URL: 1..256 characters; a plain number is that number's label, as in UserID. */
export function userParam(id: string): Label {
  return parseClaim(id, { field: "id" });
}

/** A validated POST /enroll body. */
export interface EnrollRequest {
  user: Label;
  vectors: number[][];
  mode: "replace" | "append";
  detector?: DetectorName;
}

/** `{"UserID": …, "samples": [<raw sample>…], "mode": "replace"|"append", "detector"?}`; every error names its field. */
export function parseEnrollRequest(body: unknown, limits: RequestLimits): EnrollRequest {
  const o = body as Record<string, unknown>;
  const user = parseClaim(o.UserID, { field: "UserID" });
  const mode = o.mode ?? "replace";
  if (mode !== "replace" && mode !== "append")
    throw new KeystrokeError("BAD_REQUEST", 'must be "replace" or "append"', { field: "mode" });
  if (o.detector !== undefined && (typeof o.detector !== "string" || !isDetectorName(o.detector)))
    throw new KeystrokeError("BAD_REQUEST", "is not a detector name", { field: "detector" });
  if (!Array.isArray(o.samples) || o.samples.length === 0)
    throw new KeystrokeError(
      "BAD_REQUEST",
      "must be a non-empty array of samples (press/release or keystrokes)",
      { field: "samples" },
    );
  if (o.samples.length > 1000)
    throw new KeystrokeError(
      "BAD_REQUEST",
      `holds ${o.samples.length} samples; at most 1000 are enrolled at once`,
      { field: "samples" },
    );
  const vectors = o.samples.map((s, i) => vectorOf(s, limits, `samples[${i}]`));
  return {
    user,
    vectors,
    mode,
    ...(o.detector !== undefined ? { detector: o.detector } : {}),
  };
}

/** One raw sample (POST /auto/:id). */
export function parseAutoRequest(body: unknown, limits: RequestLimits): number[] {
  return vectorOf(body, limits);
}

function vectorOf(value: unknown, limits: RequestLimits, prefix?: string): number[] {
  try {
    const req = parseRequest(value, limits);
    if (req.kind !== "timings")
      throw new KeystrokeError(
        "BAD_REQUEST",
        "enrolment needs raw timings (press/release or keystrokes), not the HT/PPT/RRT/RPT summary",
        { field: "press" },
      );
    return finiteFeatures(extractTimings(req));
  } catch (e) {
    if (prefix === undefined || !isKeystrokeError(e)) throw e;
    const field = e.place.field !== undefined ? `${prefix}.${e.place.field}` : prefix;
    throw new KeystrokeError(e.code, e.message.replace(/^field [^:]+: /, ""), { field }, { cause: e });
  }
}
