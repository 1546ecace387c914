// Who loads the API server: the busiest and slowest (resource, verb) pairs in the audit store and,
// for each, the users and user agents behind them — by requests and by time spent. Exposed to other
// capabilities through src/audit/public.ts (`controlplane report --audit-db`).
import { LONG_RUNNING, REQUEST_STAGE, splitAggregatesSql, takeSplit, type LatencySplit } from "./queries.js";
import { LATENCY_ANNOTATION_PREFIX, NO_ANNOTATIONS_NOTE } from "./latency-annotations.js";
import type { AuditStore, Row } from "./store.js";

export interface LoadOptions {
  since?: Date;
  until?: Date;
  /** How many (resource, verb) pairs per ranking, and clients per list (default 5, 1–100). */
  top?: number;
}

/** One user or user agent behind a (resource, verb) pair. */
export interface ClientLoad {
  /** user.username or userAgent; null when the event has none (failed authentication, old logs). */
  name: string | null;
  requests: number;
  /** Responses with code ≥ 400. */
  errors: number;
  /** Sum of stageTimestamp − requestReceivedTimestamp over its requests, ms (null for long-running verbs). */
  latencySumMs: number | null;
  p99Ms: number | null;
}

export interface ResourceVerbLoad {
  verb: string | null;
  /** Plural, with `.group` outside the core group (`deployments.apps`); null for a non-resource URL. */
  resource: string | null;
  subresource: string | null;
  /** Path of a non-resource request (`/openapi/v2`), query string dropped; null otherwise. */
  nonResourceURL: string | null;
  /** watch, connect/proxy, exec/attach/portforward/proxy: their duration is a connection's life, so no latency. */
  longRunning: boolean;
  requests: number;
  errors: number;
  latencySumMs: number | null;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  /** Requests carrying apiserver.latency.k8s.io/* annotations (slower than 500 ms), and where their time went. */
  annotated: number;
  split: LatencySplit | null;
  users: { byRequests: ClientLoad[]; byLatency: ClientLoad[] };
  userAgents: { byRequests: ClientLoad[]; byLatency: ClientLoad[] };
}

export interface WhoLoadsReport {
  /** The window asked for (null = open) and the first/last event time found in it. */
  window: { since: string | null; until: string | null; firstEvent: string | null; lastEvent: string | null };
  /** Requests in the window (one per request, as `audit top` counts them). */
  requests: number;
  annotated: number;
  /** Pairs ranked by requests. */
  busiest: ResourceVerbLoad[];
  /** Pairs ranked by p99 latency (long-running verbs excluded), then by time spent. */
  slowest: ResourceVerbLoad[];
  notes: string[];
}

const TS = (col: string): string => `strftime(CAST(${col} AS TIMESTAMP), '%Y-%m-%dT%H:%M:%S.%fZ')`;

const BASE_SQL = (where: string): string => `
SELECT verb,
       CASE WHEN resource IS NULL THEN NULL WHEN coalesce(api_group, '') = '' THEN resource ELSE resource || '.' || api_group END AS res,
       subresource AS sub,
       CASE WHEN resource IS NULL THEN regexp_replace(coalesce(request_uri, ''), '[?].*$', '') END AS url,
       ${LONG_RUNNING} AS long_running,
       "user", user_agent, code,
       CASE WHEN ${LONG_RUNNING} THEN NULL ELSE latency_ms END AS lat,
       * EXCLUDE (verb, subresource, "user", user_agent, code)
  FROM events ${where}`;

const KEY_SQL = `concat_ws(chr(31), coalesce(verb, chr(0)), coalesce(res, chr(0)), coalesce(sub, chr(0)), coalesce(url, chr(0)))`;

function clamp(top: number | undefined): number {
  const n = top === undefined ? 5 : Math.floor(top);
  if (!Number.isFinite(n) || n < 1 || n > 100) throw new RangeError(`top must be an integer from 1 to 100, got ${String(top)}`);
  return n;
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

function client(r: Row, nameCol: string): ClientLoad {
  return { name: (r[nameCol] as string | null) ?? null, requests: Number(r.requests), errors: Number(r.errors), latencySumMs: num(r.lat_sum), p99Ms: num(r.p99) };
}

/** The store must be open (read-only is enough). */
export async function queryWhoLoads(store: AuditStore, opts: LoadOptions = {}): Promise<WhoLoadsReport> {
  const top = clamp(opts.top);
  const parts = [REQUEST_STAGE];
  const values: string[] = [];
  if (opts.since) {
    parts.push("ts >= CAST(? AS TIMESTAMPTZ)");
    values.push(opts.since.toISOString());
  }
  if (opts.until) {
    parts.push("ts < CAST(? AS TIMESTAMPTZ)");
    values.push(opts.until.toISOString());
  }
  const base = BASE_SQL(`WHERE ${parts.join(" AND ")}`);
  // One scan for the pairs (the window's totals are their sums), one for their clients.
  const groups = await store.query(
    `SELECT ${KEY_SQL} AS k, verb, res, sub, url, bool_or(long_running) AS long_running, count(*) AS requests, count(*) FILTER (WHERE code >= 400) AS errors,
            round(sum(lat), 3) AS lat_sum, round(quantile_cont(lat, 0.5), 3) AS p50, round(quantile_cont(lat, 0.99), 3) AS p99, round(max(lat), 3) AS max,
            ${TS("min(ts)")} AS first, ${TS("max(ts)")} AS last,
            ${splitAggregatesSql()}
       FROM (${base}) GROUP BY ALL`,
    values,
  );
  const firsts = groups.map((g) => g.first as string | null).filter((t): t is string => t !== null).sort();
  const lasts = groups.map((g) => g.last as string | null).filter((t): t is string => t !== null).sort();
  const totals = {
    requests: groups.reduce((n, g) => n + Number(g.requests), 0),
    annotated: groups.reduce((n, g) => n + Number(g.split_annotated ?? 0), 0),
    first: firsts[0] ?? null,
    last: lasts[lasts.length - 1] ?? null,
  };
  const byKey = (a: Row, b: Row): number => String(a.k) < String(b.k) ? -1 : String(a.k) > String(b.k) ? 1 : 0;
  const busiest = [...groups].sort((a, b) => Number(b.requests) - Number(a.requests) || byKey(a, b)).slice(0, top);
  const slowest = groups
    .filter((g) => g.p99 !== null && g.long_running !== true)
    .sort((a, b) => Number(b.p99) - Number(a.p99) || Number(b.lat_sum) - Number(a.lat_sum) || byKey(a, b))
    .slice(0, top);
  const keys = [...new Set([...busiest, ...slowest].map((g) => String(g.k)))];
  type Lists = Map<string, { byRequests: ClientLoad[]; byLatency: ClientLoad[] }>;
  const users: Lists = new Map();
  const agents: Lists = new Map();
  if (keys.length > 0) {
    // Users and user agents of the chosen pairs in one scan (GROUPING SETS), ranked per pair both ways.
    const rows = await store.query(
      `SELECT * FROM (
         SELECT k, dim, name, requests, errors, lat_sum, p99,
                row_number() OVER (PARTITION BY k, dim ORDER BY requests DESC, name NULLS LAST) AS rank_req,
                row_number() OVER (PARTITION BY k, dim ORDER BY lat_sum DESC NULLS LAST, requests DESC, name NULLS LAST) AS rank_lat
           FROM (SELECT k, CASE WHEN grouping(user_agent) = 1 THEN 'user' ELSE 'agent' END AS dim,
                        CASE WHEN grouping(user_agent) = 1 THEN "user" ELSE user_agent END AS name,
                        count(*) AS requests, count(*) FILTER (WHERE code >= 400) AS errors,
                        round(sum(lat), 3) AS lat_sum, round(quantile_cont(lat, 0.99), 3) AS p99
                   FROM (SELECT ${KEY_SQL} AS k, "user", user_agent, code, lat FROM (${base}) WHERE ${KEY_SQL} IN (${keys.map(() => "?").join(", ")}))
                  GROUP BY GROUPING SETS ((k, "user"), (k, user_agent))))
        WHERE rank_req <= ${top} OR rank_lat <= ${top}`,
      [...values, ...keys],
    );
    for (const [dim, into] of [["user", users], ["agent", agents]] as const) {
      for (const k of keys) {
        const mine = rows.filter((r) => r.k === k && r.dim === dim);
        into.set(k, {
          byRequests: mine.filter((r) => Number(r.rank_req) <= top).sort((a, b) => Number(a.rank_req) - Number(b.rank_req)).map((r) => client(r, "name")),
          // Long-running pairs have no latency to rank by.
          byLatency: mine.filter((r) => Number(r.rank_lat) <= top && r.lat_sum !== null).sort((a, b) => Number(a.rank_lat) - Number(b.rank_lat)).map((r) => client(r, "name")),
        });
      }
    }
  }
  const shape = (g: Row): ResourceVerbLoad => {
    takeSplit(g);
    const k = String(g.k);
    return {
      verb: (g.verb as string | null) ?? null,
      resource: (g.res as string | null) ?? null,
      subresource: (g.sub as string | null) ?? null,
      nonResourceURL: (g.url as string | null) ?? null,
      longRunning: g.long_running === true,
      requests: Number(g.requests),
      errors: Number(g.errors),
      latencySumMs: num(g.lat_sum),
      p50Ms: num(g.p50),
      p99Ms: num(g.p99),
      maxMs: num(g.max),
      annotated: Number(g.annotated),
      split: (g.split as LatencySplit | null) ?? null,
      users: users.get(k) ?? { byRequests: [], byLatency: [] },
      userAgents: agents.get(k) ?? { byRequests: [], byLatency: [] },
    };
  };
  // takeSplit mutates: shape each group row once, then pick from the shaped ones.
  const shaped = new Map(keys.map((k) => [k, shape(groups.find((g) => g.k === k)!)]));
  const requests = totals.requests;
  const annotated = totals.annotated;
  const notes: string[] = [];
  if (requests === 0) notes.push("no audited request in the window");
  else if (annotated === 0) notes.push(NO_ANNOTATIONS_NOTE);
  else notes.push(`${annotated} of ${requests} requests carry ${LATENCY_ANNOTATION_PREFIX}* annotations (where the time went, per pair)`);
  return {
    window: { since: opts.since?.toISOString() ?? null, until: opts.until?.toISOString() ?? null, firstEvent: totals.first, lastEvent: totals.last },
    requests,
    annotated,
    busiest: busiest.map((g) => shaped.get(String(g.k))!),
    slowest: slowest.map((g) => shaped.get(String(g.k))!),
    notes,
  };
}
