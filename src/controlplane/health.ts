// The API server's /livez and /readyz, check by check (k8s.io/apiserver/pkg/server/healthz).
//
// `GET /<endpoint>?verbose` answers one line per check, in order:
//   [+]<check> ok                    passed
//   [+]<check> excluded: ok          skipped with ?exclude=<check> (counts as ok)
//   [-]<check> failed: <reason>      failed; the reason is "reason withheld" on the root endpoint
// then `<endpoint> check passed` (200) or `<endpoint> check failed` (500). A failing endpoint is
// always verbose. `GET /<endpoint>/<check>` runs one check and prints its error
// (`internal server error: error getting data from etcd: context deadline exceeded`): that is how
// the reason of a failed check is learnt.
import { errorMessage } from "../core/errors.js";
import type { KubeClient } from "../core/kube/index.js";

export type HealthEndpoint = "livez" | "readyz";
export const HEALTH_ENDPOINTS: readonly HealthEndpoint[] = ["livez", "readyz"];

export interface HealthCheck {
  name: string;
  ok: boolean;
  /** `excluded: ok`: skipped on request, counted as ok. */
  excluded?: boolean;
  /** Why it failed: the single check's own error when it could be read, else the verbose line's text. */
  reason?: string;
}

/**
 * - ok: 200 and every check passed.
 * - failed: the server answered with failing checks (HTTP 500 and `[-]` lines).
 * - error: it answered, but not with health lines (401, 403, 404, a proxy's page): `error` says what.
 * - unreachable: no HTTP answer at all (refused, reset, timed out, DNS, TLS).
 */
export type EndpointState = "ok" | "failed" | "error" | "unreachable";

export interface EndpointHealth {
  endpoint: HealthEndpoint;
  state: EndpointState;
  /** Last HTTP status; absent when unreachable. */
  status?: number;
  checks: HealthCheck[];
  /** `warn:` lines (e.g. an exclusion that matched no check). */
  warnings: string[];
  error?: string;
  durationMs: number;
}

export interface ParsedHealth {
  checks: HealthCheck[];
  warnings: string[];
  /** `passed` / `failed` from the trailer line; undefined without one (a bare `ok`). */
  verdict?: "passed" | "failed";
  /** Lines that are none of the above (reported, never guessed at). */
  unknown: string[];
}

const CHECK_LINE = /^\[([+-])\](\S+) (.*)$/;

/** Parses a verbose health body. A bare `ok` gives no checks and no verdict. */
export function parseHealthBody(endpoint: string, body: string): ParsedHealth {
  const out: ParsedHealth = { checks: [], warnings: [], unknown: [] };
  for (const raw of body.split("\n")) {
    const line = raw.trimEnd();
    if (line === "" || line === "ok") continue;
    const m = CHECK_LINE.exec(line);
    if (m) {
      const [, sign, name, rest] = m as unknown as [string, string, string, string];
      if (sign === "+") out.checks.push(rest === "excluded: ok" ? { name, ok: true, excluded: true } : { name, ok: true });
      else out.checks.push({ name, ok: false, reason: rest.startsWith("failed: ") ? rest.slice("failed: ".length) : rest });
      continue;
    }
    if (line.startsWith("warn: ")) {
      out.warnings.push(line.slice("warn: ".length));
      continue;
    }
    if (line === `${endpoint} check passed`) out.verdict = "passed";
    else if (line === `${endpoint} check failed`) out.verdict = "failed";
    else out.unknown.push(line);
  }
  return out;
}

export interface ProbeOptions {
  timeoutMs?: number;
  /** At most this many failed checks get their own request for the reason (default 8). */
  maxReasonLookups?: number;
  signal?: AbortSignal;
}

/** The largest health body accepted: a real one is ~2 KiB. */
const MAX_HEALTH_BYTES = 256 * 1024;

/** Probes one endpoint. Never throws: an unreachable server is a state. */
export async function probeHealth(kube: KubeClient, endpoint: HealthEndpoint, opts: ProbeOptions = {}): Promise<EndpointHealth> {
  const started = Date.now();
  const done = (h: Omit<EndpointHealth, "durationMs" | "endpoint">): EndpointHealth => ({ endpoint, ...h, durationMs: Date.now() - started });
  let res;
  try {
    res = await kube.getText(`/${endpoint}`, { query: { verbose: "true" }, timeoutMs: opts.timeoutMs, maxBytes: MAX_HEALTH_BYTES, signal: opts.signal });
  } catch (err) {
    return done({ state: "unreachable", checks: [], warnings: [], error: errorMessage(err) });
  }
  const parsed = parseHealthBody(endpoint, res.body);
  const failed = parsed.checks.filter((c) => !c.ok);
  if (res.status === 200 && failed.length === 0 && (parsed.checks.length > 0 || res.body.trim() === "ok")) {
    return done({ state: "ok", status: res.status, checks: parsed.checks, warnings: parsed.warnings });
  }
  if (failed.length > 0) {
    await Promise.all(failed.slice(0, opts.maxReasonLookups ?? 8).map(async (c) => (c.reason = await checkReason(kube, endpoint, c.name, c.reason, opts))));
    return done({ state: "failed", status: res.status, checks: parsed.checks, warnings: parsed.warnings });
  }
  // Answered, but not with health lines: a 401/403 Status, a 404 page, a proxy's error.
  return done({ state: "error", status: res.status, checks: parsed.checks, warnings: parsed.warnings, error: describeAnswer(res.status, res.body) });
}

/** `GET /<endpoint>/<check>`: the check's own error text, or the fallback when that cannot be read. */
async function checkReason(kube: KubeClient, endpoint: HealthEndpoint, check: string, fallback: string | undefined, opts: ProbeOptions): Promise<string | undefined> {
  try {
    const res = await kube.getText(`/${endpoint}/${check.split("/").map(encodeURIComponent).join("/")}`, { timeoutMs: opts.timeoutMs, maxBytes: MAX_HEALTH_BYTES, signal: opts.signal });
    if (res.status === 200) return fallback; // passed on the second run: keep what the first one said
    const text = res.body.trim().replace(/^internal server error: /, "");
    if (res.status >= 500 && text !== "") return text.slice(0, 500);
    return fallback;
  } catch {
    return fallback; // timed out or unreachable: the verbose line's text stands
  }
}

/** A short description of a non-health answer: the Status message when it is one, else the text. */
export function describeAnswer(status: number, body: string): string {
  let message = body.trim().slice(0, 200);
  try {
    const s = JSON.parse(body) as { message?: unknown };
    if (typeof s.message === "string") message = s.message;
  } catch {
    // not JSON
  }
  return `HTTP ${status}${message ? `: ${message}` : ""}`;
}
