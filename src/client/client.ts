/**
 * keystroke-id/client: a small fetch-based client of `keystroke-id serve` for Node (≥ 18) and browsers.
 * Its types come from the same schemas the server documents its routes with (./contract.ts); at run time
 * it needs nothing but `fetch`. Answers 429 and 503 are retried, honouring Retry-After, within bounds.
 */
import type {
  Auto,
  Enrolment,
  EnrollRequest,
  ErrorBody,
  Health,
  KeystrokesSample,
  PredictAnswer,
  Sample,
  Status,
  UserView,
  Verification,
  VerifyRequest,
} from "./contract.js";

export type {
  Auto,
  Enrolment,
  EnrollRequest,
  ErrorBody,
  Health,
  KeystrokesSample,
  PredictAnswer,
  Sample,
  Status,
  UserView,
  Verification,
  VerifyRequest,
} from "./contract.js";

/** How 429 and 503 answers are retried. */
export interface RetryOptions {
  /** Retries after the first attempt (default 3; 0: never retry). */
  retries?: number;
  /** Longest wait before one retry, in ms (default 10 000). A Retry-After beyond it is not waited for: the error is thrown at once. */
  maxDelayMs?: number;
  /** Wait before the first retry when the server sends no Retry-After, doubled each time (default 200 ms). */
  baseDelayMs?: number;
}

/** Options of createClient. */
export interface ClientOptions {
  /** The server, e.g. http://127.0.0.1:8000 (a trailing slash is fine). */
  baseUrl: string;
  /** Bearer token for the routes that need one. */
  token?: string;
  retry?: RetryOptions;
  /** Per-request time limit in ms (default 30 000). */
  timeoutMs?: number;
  /** The fetch to use (default globalThis.fetch). */
  fetch?: typeof fetch;
  /** How to wait between retries (default setTimeout); tests record the waits with it. */
  sleep?: (ms: number) => Promise<void>;
}

/** A non-2xx answer: its status, the server's error body and how many attempts were made. */
export class KeystrokeApiError extends Error {
  override readonly name = "KeystrokeApiError";
  constructor(
    readonly status: number,
    readonly body: ErrorBody,
    readonly attempts: number,
    readonly retryAfterMs?: number,
  ) {
    super(`HTTP ${status}: ${body.error}`);
  }
  /** The server's error code (BAD_REQUEST, UNKNOWN_USER, …) when it sent one. */
  get code(): string | undefined {
    return this.body.code;
  }
}

/** The client's calls; each resolves to the parsed answer or rejects with KeystrokeApiError. */
export interface KeystrokeClient {
  /** POST /predict: who typed this? */
  predict(sample: Sample, options?: { top?: number }): Promise<PredictAnswer>;
  /** POST /verify: is this sample from the user it claims to be? */
  verify(request: VerifyRequest): Promise<Verification>;
  /** GET /health (no token needed): up and ready. */
  health(): Promise<Health>;
  /** GET /status: the models and verification being served. */
  status(): Promise<Status>;
  /** POST /enroll (admin token): enrol a user from samples. */
  enroll(request: EnrollRequest): Promise<Enrolment>;
  /** POST /auto/:id (admin token): enrol until enough samples, then verify. */
  auto(
    user: string | number,
    sample: KeystrokesSample | { press: number[]; release: number[] },
  ): Promise<Auto>;
  /** GET /users/:id (admin token). */
  user(user: string | number): Promise<UserView>;
  /** DELETE /users/:id (admin token). */
  deleteUser(user: string | number): Promise<{ UserID: string | number; deleted: boolean }>;
  /** Any other route, with the same retries and errors. */
  request<T>(method: string, path: string, body?: unknown): Promise<T>;
}

const DEFAULT_RETRY: Required<RetryOptions> = { retries: 3, maxDelayMs: 10_000, baseDelayMs: 200 };
const RETRIED = new Set([429, 503]);

/** Parses Retry-After (delay-seconds or an HTTP date) into ms; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Creates a client of one server. */
export function createClient(options: ClientOptions): KeystrokeClient {
  const base = options.baseUrl.replace(/\/+$/, "");
  const retry = { ...DEFAULT_RETRY, ...options.retry };
  const timeoutMs = options.timeoutMs ?? 30_000;
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));

  async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    for (let attempt = 1; ; attempt++) {
      const res = await doFetch(base + path, {
        method,
        headers,
        ...(payload !== undefined ? { body: payload } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await res.text();
      if (res.ok) return (text === "" ? undefined : JSON.parse(text)) as T;
      const errorBody = readError(text, res.status);
      const retryAfter = parseRetryAfter(res.headers.get("retry-after"));
      if (RETRIED.has(res.status) && attempt <= retry.retries) {
        const wait = retryAfter ?? retry.baseDelayMs * 2 ** (attempt - 1);
        // waiting less than the server asked would only earn another 429: give up instead
        if (wait <= retry.maxDelayMs) {
          await sleep(wait);
          continue;
        }
      }
      throw new KeystrokeApiError(res.status, errorBody, attempt, retryAfter);
    }
  }

  return {
    request,
    predict: (sample, o = {}) =>
      request<PredictAnswer>(
        "POST",
        o.top === undefined ? "/predict" : `/predict?top=${encodeURIComponent(o.top)}`,
        sample,
      ),
    verify: (req) => request<Verification>("POST", "/verify", req),
    health: () => request<Health>("GET", "/health"),
    status: () => request<Status>("GET", "/status"),
    enroll: (req) => request<Enrolment>("POST", "/enroll", req),
    auto: (user, sample) => request<Auto>("POST", `/auto/${encodeURIComponent(String(user))}`, sample),
    user: (user) => request<UserView>("GET", `/users/${encodeURIComponent(String(user))}`),
    deleteUser: (user) =>
      request<{ UserID: string | number; deleted: boolean }>(
        "DELETE",
        `/users/${encodeURIComponent(String(user))}`,
      ),
  };
}

function readError(text: string, status: number): ErrorBody {
  try {
    const v = JSON.parse(text) as unknown;
    if (v && typeof v === "object" && typeof (v as ErrorBody).error === "string") return v as ErrorBody;
  } catch {
    // not JSON (a proxy's HTML page): fall through
  }
  return { error: text.slice(0, 200) || `status ${status}` };
}
