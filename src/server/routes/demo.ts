import type { FastifyInstance } from "fastify";
import type { Label } from "../../data/types.js";
import { KeystrokeError } from "../../errors.js";
import { extractTimings, intervals } from "../../features/index.js";
import { finiteFeatures, parseClaim, parseRequest, type TimingsRequest } from "../../predict/index.js";
import {
  defaultDetectorFor,
  enrollUser,
  RecentSampleCache,
  verifySample,
  type PopulationStats,
  type Template,
} from "../../verify/index.js";
import { demoPage } from "./demo-page.js";

/** Enrolment attempts the demo asks for. */
export const DEMO_ENROL_SAMPLES = 5;
/** Demo users kept in memory; the oldest is forgotten beyond it. */
export const DEMO_MAX_USERS = 1000;
const WORDS: Record<number, string> = {
  4: "type",
  5: "typed",
  6: "secret",
  7: "keyword",
  8: "password",
  9: "keystroke",
  10: "typewriter",
  11: "fingerprint",
};
const FILLER = "keystrokeidentitydemo";

/** A phrase of exactly `keys` letters (each a key the recorder records). */
export function demoPhrase(keys: number | null): string {
  const n = keys ?? 8;
  return WORDS[n] ?? FILLER.repeat(Math.ceil(n / FILLER.length)).slice(0, n);
}

/** A rhythm: mean hold time of each key and mean press-to-press gap of each pair, in ms. */
interface Rhythm {
  hold: number[];
  gap: number[];
}

function rhythmOf(samples: readonly TimingsRequest[]): Rhythm {
  const n = samples.length;
  const all = samples.map((s) => intervals(s));
  const mean = (pick: (i: (typeof all)[number]) => number[]) =>
    pick(all[0]!).map((_, k) => Math.round((all.reduce((a, iv) => a + pick(iv)[k]!, 0) / n) * 10) / 10);
  return { hold: mean((i) => i.HT), gap: mean((i) => i.PPT) };
}

/**
 * The demo (serve --demo): GET /demo, a page where a person types a phrase N times to enrol and then signs
 * in. With an identity store (as `serve` always has) the page calls POST /enroll and POST /verify; without
 * one, the two in-memory routes here: users enrolled through the core (enrollUser against the served
 * population) into this process's memory only, verified with verifySample and its replay memory.
 */
export default async function demoRoutes(app: FastifyInstance): Promise<void> {
  const { ks } = app;
  const users = new Map<string, { template: Template; rhythm: Rhythm }>();
  const recent = new RecentSampleCache(100);

  const servedKeys = (): number | null => {
    const s = ks.state();
    const fromVerifier = (s.verifier as { keys?: unknown } | null)?.keys;
    if (typeof fromVerifier === "number") return fromVerifier;
    return s.predictor.source.models.find((m) => m.featureSet === "timings")?.keys ?? null;
  };
  // the in-memory template store's population; a store-backed verifier keeps its own, and then the demo enrols without one
  const population = (): PopulationStats | undefined => {
    const p = (ks.state().verifier as { population?: unknown } | null)?.population;
    return p &&
      typeof p === "object" &&
      typeof (p as PopulationStats).nFeatures === "number" &&
      Array.isArray((p as PopulationStats).cohort)
      ? (p as PopulationStats)
      : undefined;
  };
  const timings = (value: unknown, field: string): TimingsRequest => {
    let req;
    try {
      req = parseRequest(value, ks.limits);
    } catch (e) {
      if (e instanceof KeystrokeError && e.place.field !== undefined)
        throw new KeystrokeError(e.code, e.message, { field: `${field}.${e.place.field}` });
      throw e;
    }
    if (req.kind !== "timings")
      throw new KeystrokeError("BAD_REQUEST", "the demo needs raw timings (keystrokes)", { field });
    const keys = servedKeys();
    if (keys !== null && req.press.length !== keys)
      throw new KeystrokeError(
        "BAD_REQUEST",
        `has ${req.press.length} keys; the served models need ${keys}`,
        { field: `${field}.keystrokes` },
      );
    return req;
  };

  app.get("/demo", { config: { access: "public" } }, async (_req, reply) => {
    reply.type("text/html; charset=utf-8").header("cache-control", "no-store");
    return demoPage;
  });

  app.get("/demo/config", { config: { access: "public" } }, async () => {
    const keys = servedKeys();
    // with an identity store the demo enrols and verifies through the API itself (POST /enroll, /verify);
    // without one (an embedding app's server), through this file's in-memory routes
    const api = ks.identities !== null && ks.identities !== undefined;
    return {
      phrase: demoPhrase(keys),
      keys,
      samples: DEMO_ENROL_SAMPLES,
      enroll: api ? "/enroll" : "/demo/enroll",
      verify: api ? "/verify" : "/demo/verify",
    };
  });

  app.post<{ Body: { UserID?: unknown; samples?: unknown } }>(
    "/demo/enroll",
    { schema: { body: { type: "object" } } },
    async (req) => {
      const user: Label = parseClaim(req.body.UserID, { field: "UserID" });
      const raw = req.body.samples;
      if (!Array.isArray(raw))
        throw new KeystrokeError("BAD_REQUEST", "must be an array of samples ({keystrokes})", {
          field: "samples",
        });
      if (raw.length < DEMO_ENROL_SAMPLES)
        throw new KeystrokeError(
          "TOO_FEW_SAMPLES",
          `has ${raw.length} samples; the demo enrols with ${DEMO_ENROL_SAMPLES}`,
          { field: "samples" },
        );
      if (raw.length > 50)
        throw new KeystrokeError("BAD_REQUEST", "has more than 50 samples", { field: "samples" });
      const samples = raw.map((s, i) => timings(s, `samples[${i}]`));
      const pop = population();
      const template = enrollUser(
        user,
        samples.map((s) => finiteFeatures(extractTimings(s))),
        { population: pop, detector: defaultDetectorFor(pop) },
      );
      const rhythm = rhythmOf(samples);
      users.delete(String(user));
      users.set(String(user), { template, rhythm });
      if (users.size > DEMO_MAX_USERS) users.delete(users.keys().next().value!);
      return {
        UserID: user,
        samples: samples.length,
        detector: template.detector,
        threshold: template.threshold,
        rhythm,
      };
    },
  );

  app.post<{ Body: Record<string, unknown> }>(
    "/demo/verify",
    { schema: { body: { type: "object" } } },
    async (req) => {
      const user: Label = parseClaim(req.body.UserID, { field: "UserID" });
      const entry = users.get(String(user));
      if (!entry)
        throw new KeystrokeError("UNKNOWN_USER", `user ${String(user)} is not enrolled in this demo`, {
          field: "UserID",
        });
      const sample = timings(req.body, "body");
      const result = verifySample(entry.template, finiteFeatures(extractTimings(sample)), {
        population: population(),
        recent,
      });
      return { ...result, rhythm: rhythmOf([sample]), template: entry.rhythm };
    },
  );
}
