import type { IncomingMessage, ServerResponse } from "node:http";
import { sendJson, type RouteHandler } from "../core/http-server.js";
import { durationParser, intParser } from "../core/options.js";
import * as q from "./queries.js";
import { parseTimeArg } from "./time-arg.js";
import { serialized } from "./serial.js";
import type { AuditStore } from "./store.js";

class BadParam extends Error {}

function param<T>(u: URLSearchParams, name: string, parse: (v: string) => T): T | undefined {
  const v = u.get(name);
  if (v === null) return undefined;
  try {
    return parse(v);
  } catch (err) {
    throw new BadParam(`query parameter ${name}: ${(err as Error).message}`);
  }
}

function required(u: URLSearchParams, name: string): string {
  const v = u.get(name);
  if (v === null || v === "") throw new BadParam(`query parameter ${name} is required`);
  return v;
}

function oneOf<T extends string>(allowed: readonly T[]): (v: string) => T {
  return (v) => {
    if (!(allowed as readonly string[]).includes(v)) throw new Error(`must be one of ${allowed.join(", ")}, got "${v}"`);
    return v as T;
  };
}

function filter(u: URLSearchParams): q.QueryFilter {
  return {
    since: param(u, "since", (v) => parseTimeArg(v)),
    until: param(u, "until", (v) => parseTimeArg(v)),
    namespace: u.get("namespace") ?? undefined,
    user: u.get("user") ?? undefined,
    limit: param(u, "limit", intParser(1, 100_000)),
  };
}

type Query = (s: AuditStore, u: URLSearchParams) => Promise<q.QueryResult>;

const QUERIES: Record<string, Query> = {
  top: (s, u) => q.top(s, param(u, "by", oneOf(q.TOP_DIMENSIONS)) ?? "user", filter(u)),
  errors: (s, u) => q.errors(s, filter(u)),
  latency: (s, u) =>
    q.latency(s, param(u, "by", (v) => v.split(",").map(oneOf(q.LATENCY_DIMENSIONS))) ?? ["resource", "verb"], filter(u)),
  "who-deleted": (s, u) => q.whoDeleted(s, required(u, "resource"), u.get("name") ?? undefined, filter(u)),
  timeline: (s, u) => q.timeline(s, required(u, "resource"), required(u, "name"), filter(u)),
  rate: (s, u) => q.rate(s, param(u, "by", oneOf(q.RATE_DIMENSIONS)) ?? "user", param(u, "step", durationParser({ min: 1 })) ?? 60_000, filter(u)),
};

/** Read-only JSON API: /api/v1/<query>?param=... with the CLI's flags as query parameters. */
export function apiRoutes(store: AuditStore): Record<string, RouteHandler> {
  const routes: Record<string, RouteHandler> = {};
  for (const [name, run] of Object.entries(QUERIES)) {
    routes[`/api/v1/${name}`] = async (req: IncomingMessage, res: ServerResponse) => {
      const u = new URL(req.url ?? "/", "http://localhost").searchParams;
      try {
        const result = await serialized(store, () => run(store, u));
        sendJson(res, 200, result.rows.map((r) => Object.fromEntries(result.columns.map((c) => [c, r[c] ?? null]))));
      } catch (err) {
        if (err instanceof BadParam) sendJson(res, 400, { error: err.message });
        else throw err;
      }
    };
  }
  return routes;
}
