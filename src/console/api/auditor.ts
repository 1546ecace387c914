// GET /api/console/auditor/status: the auditor's /status (`watch-auditor serve`), read by the
// console's server (the browser never talks to the auditor): with the bearer token of
// --auditor-token-file when given, within the fetch timeout, at most MAX_STATUS_BYTES, no redirects
// (the token goes to the configured URL only). 503 when --auditor is not given, 502 when the
// auditor cannot be read or answers something that is not its status.
import type { RouteHandler } from "../../core/http-server.js";
import type { ConsoleContext } from "../context.js";
import { jsonRoute, NotConfigured, UpstreamError } from "../http.js";
import { fetchUpstream } from "./upstream.js";
import type { AuditorCheck, AuditorRoll, AuditorProbe, AuditorStatus } from "../shapes.js";
export type { AuditorCheck, AuditorRoll, AuditorProbe, AuditorStatus };

/** The auditor's status is small (10 checks per probe); anything near this is not it. */
export const MAX_STATUS_BYTES = 4 * 1024 * 1024;

// The shapes read here, declared here (src/auditor's types are its own): see src/auditor/auditor.ts
// status() and src/auditor/probe-runner.ts ProbeStatus.

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Checks that the answer is the auditor's status (an object of probes, each with checks and rolls lists). */
export function validateStatus(body: unknown, where: string): AuditorStatus {
  if (!isObject(body) || !isObject(body.probes)) throw new UpstreamError(`${where}: not the auditor's status (no "probes" object)`);
  for (const [name, p] of Object.entries(body.probes)) {
    if (!isObject(p) || !Array.isArray(p.checks) || !Array.isArray(p.rolls) || typeof p.consecutiveFailures !== "number") {
      throw new UpstreamError(`${where}: probe ${JSON.stringify(name)} is not a probe status (checks, rolls, consecutiveFailures)`);
    }
  }
  return body as unknown as AuditorStatus;
}

export async function fetchAuditorStatus(ctx: ConsoleContext): Promise<AuditorStatus> {
  const a = ctx.auditor;
  if (!a) throw new NotConfigured("the auditor is not configured: start the console with --auditor URL (the auditor's /status)");
  const where = `auditor ${a.url}`;
  const headers: Record<string, string> = { accept: "application/json" };
  if (a.token) headers.authorization = `Bearer ${a.token}`;
  const { status, text } = await fetchUpstream(a.url, { where, timeoutMs: ctx.fetchTimeoutMs, maxBytes: MAX_STATUS_BYTES, headers });
  if (status !== 200) throw new UpstreamError(`${where}: HTTP ${status}${status === 401 || status === 403 ? " (check --auditor-token-file)" : ""}: ${text.slice(0, 200)}`);
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new UpstreamError(`${where}: not JSON: ${JSON.stringify(text.slice(0, 200))}`);
  }
  return validateStatus(body, where);
}

export function auditorRoutes(ctx: ConsoleContext): Record<string, RouteHandler> {
  return {
    "/api/console/auditor/status": jsonRoute(async () => fetchAuditorStatus(ctx)),
  };
}
