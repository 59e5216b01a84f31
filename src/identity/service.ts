import { createHash } from "node:crypto";
import { hostname } from "node:os";
import { LRUCache } from "lru-cache";
import type { Label, Sample } from "../data/types.js";
import { KeystrokeError } from "../errors.js";
import { extractTimings } from "../features/index.js";
import type { AuditEntry, IdentityInfo, Store } from "../store/index.js";
import { buildPopulation } from "../verify/population.js";
import { defaultDetectorFor, enrollSamples, type EnrollSamplesResult } from "../verify/enroll-samples.js";
import { adaptTemplate, mayAdapt, type AdaptationSettings } from "../verify/adapt.js";
import { DEFAULT_POLICY, parsePolicy, policyOf } from "../verify/policy.js";
import { enrollUser, isDetectorName, MIN_ENROL_SAMPLES, verifySample } from "../verify/template.js";
import type {
  DetectorName,
  OperatingPolicy,
  PopulationStats,
  Template,
  VerificationResult,
} from "../verify/types.js";

/** Longest user id (characters); the same bound as a claim. */
export const MAX_USER_ID_LENGTH = 256;

/** Options of an IdentityService; defaults in DEFAULT_IDENTITY_OPTIONS. */
export interface IdentityServiceOptions {
  /** Templates kept in memory (an LRU); each entry is one user's template, compiled. */
  cacheSize?: number;
  /** How long a verified sample's hash is remembered as a replay (ms). Enrolled samples are replays while enrolled. */
  replayWindowMs?: number;
  /** How long audit entries are kept (ms). */
  auditRetentionMs?: number;
  /** This process, as the audit log names it (default host:pid). */
  instance?: string;
  /** Samples `POST /auto/:id` collects before it enrols a user. */
  autoSamples?: number;
  /** Prune replay hashes and old audit entries this often (ms); 0: only when `maintain()` is called. */
  maintenanceMs?: number;
  /** Template adaptation (opt-in): accepted samples with a margin update the template (src/verify/adapt.ts). */
  adapt?: AdaptationSettings | false;
}

export const DEFAULT_IDENTITY_OPTIONS = {
  cacheSize: 10_000,
  replayWindowMs: 30 * 24 * 3600_000,
  auditRetentionMs: 365 * 24 * 3600_000,
  autoSamples: 5,
  maintenanceMs: 0,
  adapt: false,
} as const;

/** What one enrolment did. */
export interface EnrolOutcome {
  UserID: Label;
  samples: number;
  threshold: number;
  detector: DetectorName;
  /** The user was enrolled before (replace or append). */
  replaced: boolean;
  /** Enrolment quality 0–100 and the outlier samples found (src/verify/quality.ts). */
  quality?: number;
  outliers?: Template["outliers"];
  /** The problems an enrolment was forced through (`force`), recorded in the template. */
  forced?: string[];
  /** The operating point the threshold was set for. */
  policy: OperatingPolicy;
}

/** The quality fields of an enrolment outcome, from its template. */
function qualityOf(t: Template): Pick<EnrolOutcome, "quality" | "outliers" | "forced" | "policy"> {
  return {
    policy: policyOf(t),
    ...(t.quality !== undefined ? { quality: t.quality } : {}),
    ...(t.outliers ? { outliers: t.outliers } : {}),
    ...(t.forced ? { forced: t.forced.problems } : {}),
  };
}

/** How an enrolment treats a user who is already enrolled. */
export type EnrolMode = "replace" | "append";

/** What `show` tells about a user: never timings. */
export interface UserView {
  UserID: Label;
  enrolled_at: string;
  updated_at: string;
  samples: number;
  detector: string;
  threshold: number;
  keys: number;
  /** How far apart the user's own samples and other people's lie on the anomaly scale (null: no background to tell). */
  quality: number | null;
  /** The operating point the user's threshold was set for. */
  policy: OperatingPolicy;
}

/** The answer of `auto`: still enrolling (with how many samples are missing), or a verification. */
export type AutoOutcome =
  | { enrolled: false; samples: number; needed: number }
  | ({ enrolled: true; enrolled_now: boolean } & Partial<VerificationResult> & { samples?: number });

interface CacheEntry {
  version: number;
  template: Template;
  population: PopulationStats | undefined;
  populationId: number | null;
}

/** A user id as stored: its string form. Checks the length (1..256) and says where the bad one came from. */
export function userKey(user: Label, place: { field?: string; flag?: string } = { field: "UserID" }): string {
  const id = String(user);
  const code = place.flag ? "BAD_FLAG" : "BAD_REQUEST";
  if (id.length === 0 || id.trim() === "")
    throw new KeystrokeError(code, "is empty: a user id has 1 to 256 characters", place);
  if (id.length > MAX_USER_ID_LENGTH)
    throw new KeystrokeError(
      code,
      `is ${id.length} characters long; a user id has at most ${MAX_USER_ID_LENGTH}`,
      place,
    );
  return id;
}

/** The replay hash of a timing vector: SHA-256 of its values on a microsecond grid (equal timings hash alike). */
export function sampleHash(vector: ArrayLike<number>): string {
  const h = createHash("sha256");
  const parts: string[] = [];
  for (let j = 0; j < vector.length; j++) parts.push(String(Math.round(vector[j]! * 1000)));
  return h.update(parts.join(",")).digest("base64url").slice(0, 24);
}

/**
 * Enrolment, verification and the user lifecycle over a Store: what `enroll`, `users`, `predict --claim`,
 * `train` and the HTTP routes all call. Per-user work only: a verification reads one user's template
 * version (and, on a cache miss, the template); an enrolment writes one user's rows in one transaction.
 */
export class IdentityService {
  readonly options: Required<Omit<IdentityServiceOptions, "instance">> & { instance: string };
  private readonly cache: LRUCache<string, CacheEntry>;
  private readonly populations = new LRUCache<number, PopulationStats>({ max: 16 });
  private pendingAudit: AuditEntry[] = [];
  private flushing: Promise<void> | null = null;
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(
    readonly store: Store,
    options: IdentityServiceOptions = {},
  ) {
    const defined = Object.fromEntries(
      Object.entries(options).filter(([, v]) => v !== undefined),
    ) as IdentityServiceOptions;
    this.options = { ...DEFAULT_IDENTITY_OPTIONS, instance: `${hostname()}:${process.pid}`, ...defined };
    this.cache = new LRUCache({ max: Math.max(1, this.options.cacheSize) });
    // verification audit entries are written in batches, off the request path (see flushAudit)
    const flush = setInterval(() => void this.flushAudit().catch(() => undefined), 200);
    flush.unref();
    this.timers.push(flush);
    if (this.options.maintenanceMs > 0) {
      const t = setInterval(() => void this.maintain().catch(() => undefined), this.options.maintenanceMs);
      t.unref();
      this.timers.push(t);
    }
  }

  /**
   * Verifies a claim. One round trip remembers the sample's hash (replay memory shared by every instance)
   * and reads the user's template version; the template itself comes from the LRU cache unless its
   * version changed (another process re-enrolled or deleted the user), then from the store.
   */
  async verify(
    user: Label,
    vector: number[],
    options: { explain?: { keys?: readonly string[] } } = {},
  ): Promise<VerificationResult> {
    const id = userKey(user);
    const now = Date.now();
    const { version, replay } = await this.store.replay.check(
      id,
      sampleHash(vector),
      now,
      this.options.replayWindowMs,
    );
    if (version === null) {
      this.cache.delete(id);
      throw unknownUser(user);
    }
    const entry = await this.entry(id, version);
    if (!entry) throw unknownUser(user);
    const { template, population } = entry;
    if (vector.length !== template.nFeatures) {
      throw new KeystrokeError(
        "BAD_REQUEST",
        `has ${(vector.length + 3) / 4} keys; user ${id} was enrolled with ${(template.nFeatures + 3) / 4}`,
        { field: "press" },
      );
    }
    const result = verifySample(template, vector, {
      population,
      recent: { has: () => replay, add: () => undefined },
      ...(options.explain ? { explain: options.explain } : {}),
    });
    this.queueAudit({
      id,
      at: now,
      action: "verify",
      outcome: result.accepted
        ? "accepted"
        : result.replay
          ? "replay"
          : result.scripted
            ? "scripted"
            : "rejected",
      score: result.anomaly_score,
      instance: this.options.instance,
    });
    const adapt = this.options.adapt;
    if (adapt && mayAdapt(result, adapt)) await this.adapt(id, entry, vector, result, adapt);
    return result;
  }

  /**
   * Re-fits a user's template with an accepted sample (see src/verify/adapt.ts), in one transaction that
   * only succeeds if nobody changed the user meanwhile (else the sample is simply not used); audited as `adapt`.
   */
  private async adapt(
    id: string,
    entry: CacheEntry,
    vector: number[],
    result: VerificationResult,
    settings: AdaptationSettings,
  ): Promise<void> {
    const enrolment = await this.store.identities.samples(id);
    if (enrolment.length === 0) return;
    const template = adaptTemplate(entry.template, enrolment, vector, entry.population, settings);
    await this.flushAudit();
    const now = Date.now();
    await this.store.identities.put({
      id,
      template,
      populationId: entry.populationId,
      samples: enrolment,
      sampleHashes: enrolment.map(sampleHash),
      expectVersion: entry.version,
      audit: {
        id,
        at: now,
        action: "adapt",
        outcome: "ok",
        score: result.anomaly_score,
        instance: this.options.instance,
        detail: `${enrolment.length} enrolment + ${template.adapted?.length ?? 0} adapted samples; threshold ${template.threshold}`,
      },
      now,
    });
    this.cache.delete(id);
  }

  private async entry(id: string, version: number): Promise<CacheEntry | null> {
    const cached = this.cache.get(id);
    if (cached && cached.version === version) return cached;
    const stored = await this.store.identities.get(id);
    if (!stored) return null;
    const population =
      stored.populationId === null ? undefined : ((await this.population(stored.populationId)) ?? undefined);
    const entry = {
      version: stored.version,
      template: stored.template,
      population,
      populationId: stored.populationId,
    };
    this.cache.set(id, entry);
    return entry;
  }

  private async population(pid: number): Promise<PopulationStats | null> {
    const hit = this.populations.get(pid);
    if (hit) return hit;
    const p = await this.store.policy.population(pid);
    if (p) this.populations.set(pid, p);
    return p;
  }

  /**
   * Enrols one user from raw timing vectors in one transaction: `replace` (default) learns the template
   * from these samples alone; `append` adds them to the stored ones (retried if another writer got there first).
   */
  async enroll(
    user: Label,
    vectors: number[][],
    options: {
      mode?: EnrolMode;
      detector?: DetectorName;
      filterOutliers?: boolean;
      /** Sets the store-wide operating policy first (see setOperatingPolicy). */
      policy?: OperatingPolicy;
    } = {},
  ): Promise<EnrolOutcome> {
    const id = userKey(user);
    if (options.detector !== undefined && !isDetectorName(options.detector))
      throw new KeystrokeError("BAD_REQUEST", `unknown detector "${String(options.detector)}"`, {
        field: "detector",
      });
    if (vectors.length === 0)
      throw new KeystrokeError("TOO_FEW_SAMPLES", `no samples to enrol user ${id}`, { field: "samples" });
    // queued verification entries go first, so the audit keeps the order of events
    await this.flushAudit();
    if (options.policy) await this.setOperatingPolicy(options.policy);
    const policy = options.policy ?? (await this.operatingPolicy());
    for (let attempt = 1; ; attempt++) {
      const before = options.mode === "append" ? await this.store.identities.version(id) : undefined;
      const all =
        options.mode === "append" ? [...(await this.store.identities.samples(id)), ...vectors] : vectors;
      const nFeatures = all[0]!.length;
      if (all.some((v) => v.length !== nFeatures)) {
        throw new KeystrokeError(
          "BAD_REQUEST",
          `samples of user ${id} differ in length: all must have the same number of keys`,
          { field: "samples" },
        );
      }
      const { pid, stats } = await this.populationFor(nFeatures, [{ user, vectors: all }]);
      const detector = options.detector ?? (await this.defaultDetector(stats));
      const template = enrollUser(user, all, {
        detector,
        population: stats,
        filterOutliers: Boolean(options.filterOutliers),
        keepSamples: false,
        policy,
      });
      const now = Date.now();
      const written = await this.store.identities.put({
        id,
        template,
        populationId: pid,
        samples: all,
        sampleHashes: all.map(sampleHash),
        ...(before !== undefined ? { expectVersion: before } : {}),
        audit: {
          id,
          at: now,
          action: before === undefined ? "enrol" : "append",
          outcome: "ok",
          score: template.threshold,
          instance: this.options.instance,
          detail: `${all.length} samples; ${policyText(policy)}`,
        },
        now,
      });
      this.cache.delete(id);
      if (written)
        return {
          UserID: user,
          samples: template.n,
          threshold: template.threshold,
          detector: template.detector,
          replaced: !written.created,
          ...qualityOf(template),
        };
      if (attempt >= 5)
        throw new KeystrokeError("STORE_BUSY", `user ${id} kept changing while appending samples; try again`);
    }
  }

  /**
   * Enrols every user of a sample set (a CSV given to `enroll`, or `train`'s data), one transaction per
   * user. `onlyNew` (train) never replaces an enrolled user. Without a stored population for this sample
   * length, one is built from these samples and stored (bounded: POPULATION_LIMITS).
   */
  async enrollSamples(
    samples: Sample[],
    options: {
      user?: Label;
      detector?: DetectorName;
      filterOutliers?: boolean;
      onlyNew?: boolean;
      refreshPopulation?: boolean;
      skipTooFew?: boolean;
      onInconsistent?: "refuse" | "record";
      force?: boolean;
      /** Sets the store-wide operating policy first (see setOperatingPolicy). */
      policy?: OperatingPolicy;
    } = {},
  ): Promise<{ result: EnrollSamplesResult; enrolled: EnrolOutcome[]; kept: Label[]; users: number }> {
    if (options.user !== undefined) userKey(options.user, { flag: "--user" });
    await this.flushAudit();
    if (options.policy) await this.setOperatingPolicy(options.policy);
    const policy = options.policy ?? (await this.operatingPolicy());
    const keys = samples[0]?.press.length ?? 0;
    const nFeatures = keys > 0 ? 4 * keys - 3 : 0;
    const current =
      options.refreshPopulation || nFeatures === 0 ? null : await this.store.policy.current(nFeatures);
    const setting = await this.store.policy.getSetting("detector");
    const result = enrollSamples(samples, {
      ...(current ? { population: current.stats } : {}),
      ...(options.detector
        ? { detector: options.detector }
        : setting && isDetectorName(setting) && current
          ? { detector: setting }
          : {}),
      ...(options.user !== undefined ? { user: options.user } : {}),
      filterOutliers: Boolean(options.filterOutliers),
      skipTooFew: Boolean(options.skipTooFew),
      ...(options.onInconsistent ? { onInconsistent: options.onInconsistent } : {}),
      force: Boolean(options.force),
      policy,
    });
    for (const t of result.templates) userKey(t.user, { field: "UserID" });
    const now = Date.now();
    let pid = current?.id ?? null;
    if (result.populationBuilt) {
      pid = await this.store.policy.addPopulation(result.population, now);
      if (!options.detector) await this.store.policy.setSetting("detector", result.templates[0]!.detector);
    }
    // the raw vectors of each user, in the order enrollSamples grouped them
    const vectors = new Map<string, number[][]>();
    for (const s of samples) {
      const label = s.label ?? options.user;
      if (
        label === undefined ||
        (options.user !== undefined && s.label !== undefined && String(s.label) !== String(options.user))
      )
        continue;
      const key = String(options.user ?? label);
      let list = vectors.get(key);
      if (!list) vectors.set(key, (list = []));
      list.push(extractTimings(s));
    }
    const enrolled: EnrolOutcome[] = [];
    const kept: Label[] = [];
    for (const t of result.templates) {
      const id = String(t.user);
      const all = vectors.get(id) ?? [];
      const written = await this.store.identities.put({
        id,
        template: t,
        populationId: pid,
        samples: all,
        sampleHashes: all.map(sampleHash),
        ...(options.onlyNew ? { onlyIfNew: true } : {}),
        audit: {
          id,
          at: now,
          action: "enrol",
          outcome: "ok",
          score: t.threshold,
          instance: this.options.instance,
          detail: `${all.length} samples; ${policyText(policy)}`,
        },
        now,
      });
      this.cache.delete(id);
      if (!written) kept.push(t.user);
      else
        enrolled.push({
          UserID: t.user,
          samples: t.n,
          threshold: t.threshold,
          detector: t.detector,
          replaced: !written.created,
          ...qualityOf(t),
        });
    }
    return { result, enrolled, kept, users: await this.store.identities.count() };
  }

  private async populationFor(
    nFeatures: number,
    users: Array<{ user: Label; vectors: number[][] }>,
  ): Promise<{ pid: number | null; stats: PopulationStats | undefined }> {
    const current = await this.store.policy.current(nFeatures);
    if (current) return { pid: current.id, stats: current.stats };
    // a new store (or a new sample length): the population starts from this user, as `enroll` always did
    const stats = buildPopulation(users);
    return { pid: await this.store.policy.addPopulation(stats, Date.now()), stats };
  }

  /**
   * The store-wide operating policy (stored as the setting "policy"; default: the EER point). Each template
   * records the policy its threshold was set for; a changed policy re-thresholds a user at their next enrolment.
   */
  async operatingPolicy(): Promise<OperatingPolicy> {
    const text = await this.store.policy.getSetting("policy");
    if (text === null) return DEFAULT_POLICY;
    try {
      return parsePolicy(JSON.parse(text), { field: "policy" });
    } catch (e) {
      throw new KeystrokeError(
        "BAD_STORE",
        `the store's operating policy setting is damaged (${(e as Error).message})`,
        {},
        { cause: e, suggestion: "set it again with --target-far" },
      );
    }
  }

  /** Sets the store-wide operating policy (every later enrolment sets thresholds for it). */
  async setOperatingPolicy(policy: OperatingPolicy): Promise<void> {
    await this.store.policy.setSetting("policy", JSON.stringify(policy));
  }

  private async defaultDetector(population: PopulationStats | undefined): Promise<DetectorName> {
    const setting = await this.store.policy.getSetting("detector");
    return setting && isDetectorName(setting) ? setting : defaultDetectorFor(population);
  }

  /** What is known about a user (no timings); UNKNOWN_USER when not enrolled. */
  async show(user: Label, place?: { field?: string; flag?: string }): Promise<UserView> {
    const id = userKey(user, place);
    const stored = await this.store.identities.get(id);
    if (!stored) throw unknownUser(user, place);
    return view(stored.template, stored.enrolledAt, stored.updatedAt);
  }

  /** Erases a user's template, enrolment samples and replay hashes; UNKNOWN_USER when not enrolled. */
  async delete(user: Label, place?: { field?: string; flag?: string }): Promise<void> {
    const id = userKey(user, place);
    // queued verification entries go first, so the audit keeps the order of events even within one millisecond
    await this.flushAudit();
    const gone = await this.store.identities.delete(id, {
      id,
      at: Date.now(),
      action: "delete",
      outcome: "ok",
      instance: this.options.instance,
    });
    this.cache.delete(id);
    if (!gone) throw unknownUser(user, place);
  }

  /** A page of enrolled users in id order (after `after`). */
  async list(options: { after?: string; limit?: number } = {}): Promise<IdentityInfo[]> {
    return this.store.identities.list({
      ...(options.after !== undefined ? { after: options.after } : {}),
      limit: options.limit ?? 1000,
    });
  }

  /** The user's audit entries, newest first (also after the user was deleted). */
  async audit(user: Label, limit = 100, place?: { field?: string; flag?: string }): Promise<AuditEntry[]> {
    await this.flushAudit();
    return this.store.audit.list(userKey(user, place), limit);
  }

  /**
   * Enrol-or-verify in one call (TypingDNA's auto): until the user has `autoSamples` samples, the sample is
   * added to their enrolment (and the answer says how many more are needed); then it is verified.
   */
  async auto(
    user: Label,
    vector: number[],
    options: { explain?: { keys?: readonly string[] } } = {},
  ): Promise<AutoOutcome> {
    const id = userKey(user);
    const needed = this.options.autoSamples;
    const info = await this.store.identities.info(id);
    if (info && info.samples >= needed)
      return { enrolled: true, enrolled_now: false, ...(await this.verify(user, vector, options)) };
    const pending = await this.store.identities.samples(id);
    if (pending.some((v) => sampleHash(v) === sampleHash(vector))) {
      throw new KeystrokeError(
        "BAD_REQUEST",
        "this sample repeats one already collected for the user (a replay)",
        { field: "press" },
      );
    }
    if (pending.length > 0 && pending[0]!.length !== vector.length) {
      throw new KeystrokeError(
        "BAD_REQUEST",
        `has ${(vector.length + 3) / 4} keys; user ${id}'s other samples have ${(pending[0]!.length + 3) / 4}`,
        { field: "press" },
      );
    }
    if (pending.length + 1 < Math.max(needed, MIN_ENROL_SAMPLES)) {
      await this.store.identities.addSample(id, vector, {
        id,
        at: Date.now(),
        action: "enrol",
        outcome: "collecting",
        instance: this.options.instance,
        detail: `${pending.length + 1} samples`,
      });
      return {
        enrolled: false,
        samples: pending.length + 1,
        needed: Math.max(needed, MIN_ENROL_SAMPLES) - pending.length - 1,
      };
    }
    const done = await this.enroll(user, [...pending, vector]);
    return {
      enrolled: true,
      enrolled_now: true,
      UserID: user,
      samples: done.samples,
      threshold: done.threshold,
      detector: done.detector,
    };
  }

  /** Forgets expired replay hashes and audit entries past retention. */
  async maintain(now = Date.now()): Promise<{ replay: number; audit: number }> {
    await this.flushAudit();
    return {
      replay: await this.store.replay.prune(now - this.options.replayWindowMs),
      audit: await this.store.audit.prune(now - this.options.auditRetentionMs),
    };
  }

  private queueAudit(e: AuditEntry): void {
    this.pendingAudit.push(e);
    if (this.pendingAudit.length >= 256) void this.flushAudit().catch(() => undefined);
  }

  /** Writes the queued verification audit entries (batched: one transaction per 200 ms or 256 entries). */
  async flushAudit(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.pendingAudit.length === 0) return;
    const batch = this.pendingAudit;
    this.pendingAudit = [];
    this.flushing = this.store.audit
      .append(batch)
      .catch((e: unknown) => {
        // kept for the next flush rather than lost while the store is away
        this.pendingAudit = [...batch, ...this.pendingAudit].slice(-100_000);
        throw e;
      })
      .finally(() => {
        this.flushing = null;
      });
    await this.flushing;
  }

  /** Stops the timers and writes what is queued; the store stays open (its owner closes it). */
  async close(): Promise<void> {
    for (const t of this.timers.splice(0)) clearInterval(t);
    await this.flushAudit().catch(() => undefined);
  }
}

function policyText(p: OperatingPolicy): string {
  return p.kind === "eer" ? "policy eer" : `policy target_far ${p.target_far}`;
}

function view(t: Template, enrolledAt: number, updatedAt: number): UserView {
  return {
    UserID: t.user,
    enrolled_at: new Date(enrolledAt).toISOString(),
    updated_at: new Date(updatedAt).toISOString(),
    samples: t.n,
    detector: t.detector,
    threshold: Math.round(t.threshold * 1e6) / 1e6,
    keys: (t.nFeatures + 3) / 4,
    // no measure of a template's quality exists yet (issue 16's recorder may add one per sample)
    quality: null,
    policy: policyOf(t),
  };
}

function unknownUser(
  user: Label,
  place: { field?: string; flag?: string } = { field: "UserID" },
): KeystrokeError {
  return new KeystrokeError("UNKNOWN_USER", `user ${String(user)} is not enrolled for verification`, place, {
    suggestion: "enrol the user with `keystroke-id enroll` or POST /enroll",
  });
}
