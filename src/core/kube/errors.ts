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

export class KubeApiError extends Error {
  /** HTTP status; undefined for network errors and timeouts. */
  readonly status?: number;
  /** The Status `reason` (NotFound, Conflict, AlreadyExists, Expired, TooManyRequests...). */
  readonly reason?: string;
  /** Node/network error code (ECONNREFUSED, ECONNRESET, ETIMEDOUT, EIDLE, EBODYTOOLARGE, EBADJSON...). */
  readonly code?: string;
  /** From Retry-After on 429/503 responses. */
  readonly retryAfterMs?: number;
  /** The raw Status object (or body) the server sent, if any. */
  readonly body?: unknown;

  constructor(message: string, fields: { status?: number; reason?: string; code?: string; retryAfterMs?: number; body?: unknown; cause?: unknown } = {}) {
    super(message, fields.cause === undefined ? undefined : { cause: fields.cause });
    this.name = "KubeApiError";
    this.status = fields.status;
    this.reason = fields.reason;
    this.code = fields.code;
    this.retryAfterMs = fields.retryAfterMs;
    this.body = fields.body;
  }

  /** Worth retrying: network failure, timeout, 429 or 5xx. Not: TLS trust failures, oversized or malformed bodies, our own abort. */
  get transient(): boolean {
    if (this.status === undefined) return this.code === undefined || !PERMANENT_CODES.has(this.code);
    return this.status === 429 || this.status >= 500;
  }
}

export function isNotFound(err: unknown): boolean {
  return err instanceof KubeApiError && err.status === 404;
}

export function isConflict(err: unknown): boolean {
  return err instanceof KubeApiError && err.status === 409;
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
