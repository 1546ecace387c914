// Route plumbing shared by the console's JSON routes: parameter parsing that names the parameter
// in its 400 answer, and the error classes that map to 400/404/502/503.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { RouteHandler } from "../core/http-server.js";

export class BadRequest extends Error {}
export class NotFound extends Error {}
/** Prometheus or the auditor failed or answered nonsense: 502. */
export class UpstreamError extends Error {}
/** The source this route reads was not configured (flag missing): 503. */
export class NotConfigured extends Error {}

/** Compact JSON (a timeline answer is megabytes: indentation would add a third). */
function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

export function jsonRoute(fn: (u: URLSearchParams, req: IncomingMessage) => Promise<unknown>): RouteHandler {
  return async (req: IncomingMessage, res: ServerResponse) => {
    const u = new URL(req.url ?? "/", "http://localhost").searchParams;
    res.setHeader("cache-control", "no-store");
    let body: unknown;
    try {
      body = await fn(u, req);
    } catch (err) {
      const status = err instanceof BadRequest ? 400 : err instanceof NotFound ? 404 : err instanceof UpstreamError ? 502 : err instanceof NotConfigured ? 503 : 0;
      if (status === 0) throw err;
      sendJson(res, status, { error: (err as Error).message });
      return;
    }
    sendJson(res, 200, body);
  };
}

const MAX_PARAM_CHARS = 1024;

export function str(u: URLSearchParams, name: string): string | undefined {
  const v = u.get(name);
  if (v === null || v === "") return undefined;
  if (v.length > MAX_PARAM_CHARS) throw new BadRequest(`query parameter ${name}: longer than ${MAX_PARAM_CHARS} characters`);
  return v;
}

export function required(u: URLSearchParams, name: string): string {
  const v = str(u, name);
  if (v === undefined) throw new BadRequest(`query parameter ${name} is required`);
  return v;
}

export function int(u: URLSearchParams, name: string, min: number, max: number, dflt: number): number {
  const v = str(u, name);
  if (v === undefined) return dflt;
  if (!/^-?\d+$/.test(v)) throw new BadRequest(`query parameter ${name}: not an integer: "${v}"`);
  const n = Number(v);
  if (n < min || n > max) throw new BadRequest(`query parameter ${name}: must be between ${min} and ${max}, got ${n}`);
  return n;
}

/** ISO-8601 or epoch milliseconds. */
export function time(u: URLSearchParams, name: string): Date | undefined {
  const v = str(u, name);
  if (v === undefined) return undefined;
  const d = /^\d+$/.test(v) ? new Date(Number(v)) : new Date(v);
  if (Number.isNaN(d.getTime())) throw new BadRequest(`query parameter ${name}: not a time (ISO-8601 or epoch milliseconds): "${v}"`);
  return d;
}

export function oneOf<T extends string>(u: URLSearchParams, name: string, allowed: readonly T[], dflt: T): T {
  const v = str(u, name);
  if (v === undefined) return dflt;
  if (!(allowed as readonly string[]).includes(v)) throw new BadRequest(`query parameter ${name}: must be one of ${allowed.join(", ")}, got "${v}"`);
  return v as T;
}
