/**
 * Every failure of a Kubernetes call surfaces as a KubeApiError: an HTTP status from the
 * API server (with the Status reason), or a network error / timeout (status undefined,
 * `code` set). `transient` tells retry loops whether trying again can help.
 */
const PERMANENT_CODES = new Set([
  "EBODYTOOLARGE",
  "EBADJSON",
  "EABORTED",
  "EINVALID",
  "EEXEC",
  "ETOKEN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/** One entry of a Status's `details.causes` (422 field errors, apply conflicts, ResourceVersionTooLarge...). */
export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

/** A Status's `details`: which object (kind is the resource for most errors, the Kind for 422), causes, retry hint. */
export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export class KubeApiError extends Error {
  /** HTTP status (or a watch ERROR frame's Status code); undefined for network errors and timeouts. */
  readonly status?: number;
  /** The Status `reason` (NotFound, Conflict, AlreadyExists, Expired, TooManyRequests...). */
  readonly reason?: string;
  /** Node/network error code (ECONNREFUSED, ECONNRESET, ETIMEDOUT, EIDLE, EBODYTOOLARGE, EBADJSON...). */
  readonly code?: string;
  /** From the Retry-After header, else from the Status's details.retryAfterSeconds (429, 504, ServerTimeout). */
  readonly retryAfterMs?: number;
  /** The raw Status object (or body) the server sent, if any. */
  readonly body?: unknown;
  /** What the server said, unprefixed: the Status `message`, or the start of a non-Status body ("404 page not found"). */
  readonly statusMessage?: string;
  /** The Status `details`, when the server sent any. */
  readonly details?: StatusDetails;

  constructor(
    message: string,
    fields: { status?: number; reason?: string; code?: string; retryAfterMs?: number; body?: unknown; statusMessage?: string; details?: StatusDetails; cause?: unknown } = {},
  ) {
    super(message, fields.cause === undefined ? undefined : { cause: fields.cause });
    this.name = "KubeApiError";
    this.status = fields.status;
    this.reason = fields.reason;
    this.code = fields.code;
    this.retryAfterMs = fields.retryAfterMs;
    this.body = fields.body;
    this.statusMessage = fields.statusMessage;
    this.details = fields.details;
  }

  /** details.causes, or [] (422 field errors, apply conflicts, ResourceVersionTooLarge...). */
  get causes(): StatusCause[] {
    return this.details?.causes ?? [];
  }

  /**
   * Worth retrying the same request unchanged: network failure, timeout, 429 or 5xx. Not:
   * TLS trust failures, oversized or malformed bodies, our own abort, and no other 4xx.
   *
   * This follows client-go: its REST client re-sends on 429 and on any 5xx (checkWait: "any
   * 500 error code and 429 can trigger a wait"), honouring Retry-After / retryAfterSeconds
   * (504 Timeout "Too large resource version" carries both); errors.SuggestsClientDelay.
   * A 500 stays transient even without a reason: the apiserver reports unclassified storage
   * failures that way ("etcdserver: request timed out", "leader changed"), and it cannot be
   * told apart from a deterministic one (resourceVersion=abc) without parsing messages; retry
   * loops back off, so the cost of retrying a permanent one is bounded.
   * Not transient, because re-sending the same bytes cannot succeed:
   *  - 409 Conflict: retry by re-reading the object and re-applying the change
   *    (client-go's retry.RetryOnConflict); isConflict() tells it apart.
   *  - 409 AlreadyExists, 400, 401 (the client already re-fetched refreshable credentials),
   *    403, 404, 405, 406, 415, 422.
   *  - 410 Expired/Gone (a list at a compacted RV, a too-old continue token, a watch ERROR
   *    frame): the RV is gone for good; the remedy is a fresh list (isGone()), which is what
   *    the informer does, not a retry as-is.
   */
  get transient(): boolean {
    if (this.status === undefined) return this.code === undefined || !PERMANENT_CODES.has(this.code);
    return this.status === 429 || this.status >= 500;
  }
}

/**
 * Reason, message and details of a Status-shaped body (HTTP error bodies and watch ERROR
 * frames). Non-objects and objects without them give undefineds.
 */
export function statusFields(body: unknown): { reason?: string; message?: string; details?: StatusDetails; code?: number } {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return {};
  const s = body as { reason?: unknown; message?: unknown; details?: unknown; code?: unknown };
  const details = typeof s.details === "object" && s.details !== null && !Array.isArray(s.details) ? (s.details as StatusDetails) : undefined;
  return {
    reason: typeof s.reason === "string" && s.reason !== "" ? s.reason : undefined,
    message: typeof s.message === "string" && s.message !== "" ? s.message : undefined,
    details,
    code: typeof s.code === "number" ? s.code : undefined,
  };
}

/** Milliseconds from a Status's details.retryAfterSeconds, if positive. */
export function retryAfterFromDetails(details: StatusDetails | undefined): number | undefined {
  const s = details?.retryAfterSeconds;
  return typeof s === "number" && Number.isFinite(s) && s > 0 ? s * 1000 : undefined;
}

export function isNotFound(err: unknown): boolean {
  return err instanceof KubeApiError && err.status === 404;
}

/**
 * 409 Conflict (a stale resourceVersion, a precondition, a server-side apply conflict), as
 * client-go's IsConflict: reason Conflict, or a 409 without a reason. Not AlreadyExists,
 * which is also a 409 but is not cured by re-reading and retrying.
 */
export function isConflict(err: unknown): boolean {
  return err instanceof KubeApiError && err.status === 409 && (err.reason === "Conflict" || err.reason === undefined);
}

export function isAlreadyExists(err: unknown): boolean {
  return err instanceof KubeApiError && err.status === 409 && err.reason === "AlreadyExists";
}

export function isGone(err: unknown): boolean {
  return err instanceof KubeApiError && (err.status === 410 || err.reason === "Expired" || err.reason === "Gone");
}

/** Parses Retry-After (seconds or an HTTP date) into milliseconds. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
