// Search over the store: the summary the filter bar offers, the histogram of events over time and
// the pages of matching events. Everything is aggregated or paged by DuckDB; only the answer
// (at most 400 buckets or 1000 rows) reaches JS.
import { REQUEST_STAGE, type AuditStore } from "../../audit/public.js";
import { RESOURCE, TS, filterWhere, type AuditFilter } from "./audit-filter.js";
import type { Histogram, Summary } from "../shapes.js";
export type { Histogram, Summary };

/** What the filter bar offers: the whole store's range and values (one request-completion row per request). */
export async function summary(store: AuditStore): Promise<Summary> {
  // One scan: the totals (the empty grouping set) and the four value lists.
  const rows = await store.query(
    `SELECT verb, ${RESOURCE()} AS resource, namespace, code, count(*) AS n, ${TS("min(ts)")} AS lo, ${TS("max(ts)")} AS hi,
            grouping(verb) = 0 AS by_verb, grouping(resource, api_group) = 0 AS by_resource, grouping(namespace) = 0 AS by_namespace,
            grouping(code) = 0 AS by_code, grouping(verb, resource, api_group, namespace, code) = 31 AS total
       FROM events WHERE ${REQUEST_STAGE}
      GROUP BY GROUPING SETS ((), (verb), (resource, api_group), (namespace), (code))`,
  );
  const range = rows.find((r) => r.total === true);
  const pick = (flag: string, col: string): Record<string, unknown>[] => rows.filter((r) => r[flag] === true && r[col] !== null && r[col] !== undefined);
  const byText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  const namespaces = pick("by_namespace", "namespace")
    .sort((a, b) => Number(b.n) - Number(a.n) || byText(String(a.namespace), String(b.namespace)))
    .slice(0, 500)
    .map((r) => String(r.namespace));
  return {
    events: Number(range?.n ?? 0),
    from: (range?.lo as string | null) ?? null,
    to: (range?.hi as string | null) ?? null,
    verbs: pick("by_verb", "verb").map((r) => String(r.verb)).sort(byText),
    resources: [...new Set(pick("by_resource", "resource").map((r) => String(r.resource)))].sort(byText),
    namespaces: namespaces.sort(byText),
    codes: pick("by_code", "code").map((r) => Number(r.code)).sort((a, b) => a - b),
  };
}

/**
 * The time range of a view in epoch ms: the filter's from/to; a bound not given is the store's
 * first (or last, +1 ms since `to` is exclusive) request. Undefined for an empty store without a range.
 */
async function rangeMs(store: AuditStore, f: AuditFilter): Promise<{ fromMs: number; toMs: number } | undefined> {
  let fromMs = f.from?.getTime();
  let toMs = f.to?.getTime();
  if (fromMs === undefined || toMs === undefined) {
    const [r] = await store.query(`SELECT epoch_ms(min(ts)) AS lo, epoch_ms(max(ts)) AS hi FROM events WHERE ${REQUEST_STAGE}`);
    if (r?.lo !== null && r?.lo !== undefined) {
      fromMs ??= Number(r.lo);
      toMs ??= Number(r.hi) + 1;
    }
  }
  if (fromMs === undefined || toMs === undefined) return undefined;
  // One bound given beyond the store's events: an empty range of one millisecond at that bound.
  if (toMs <= fromMs) {
    if (f.from) toMs = fromMs + 1;
    else fromMs = toMs - 1;
  }
  return { fromMs, toMs };
}

/** The range rangeMs gives, as ISO-8601 text (null for an empty store without a range). */
export async function storeRange(store: AuditStore, f: AuditFilter): Promise<{ from: string | null; to: string | null }> {
  const r = await rangeMs(store, f);
  return r ? { from: new Date(r.fromMs).toISOString(), to: new Date(r.toMs).toISOString() } : { from: null, to: null };
}

/**
 * Matching requests per time bucket over rangeMs, so the axis stays put while filters other than
 * from/to change. An empty store without a range has no buckets (from/to null).
 */
export async function histogram(store: AuditStore, f: AuditFilter, buckets: number): Promise<Histogram> {
  const range = await rangeMs(store, f);
  if (!range) return { from: null, to: null, stepMs: 0, buckets: [] };
  const { fromMs, toMs } = range;
  const stepMs = Math.max(1, Math.ceil((toMs - fromMs) / buckets));
  const n = Math.max(1, Math.ceil((toMs - fromMs) / stepMs));
  // The filter's from/to bound the rows; a bound taken from the store includes every row anyway.
  const w = filterWhere(f).add(REQUEST_STAGE);
  const rows = await store.query(
    `SELECT CAST(floor((epoch_ms(ts) - CAST(? AS BIGINT)) / CAST(? AS BIGINT)) AS BIGINT) AS i, count(*) AS n, count(*) FILTER (WHERE code >= 400) AS errors
       FROM events ${w.sql()} GROUP BY 1`,
    [fromMs, stepMs, ...w.values],
  );
  const out = Array.from({ length: n }, (_, i) => ({ t: new Date(fromMs + i * stepMs).toISOString(), count: 0, errors: 0 }));
  for (const r of rows) {
    const b = out[Math.min(n - 1, Math.max(0, Number(r.i)))]!;
    b.count += Number(r.n);
    b.errors += Number(r.errors);
  }
  return { from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString(), stepMs, buckets: out };
}

export const EVENT_ROW_COLUMNS = [
  "audit_id", "stage", "ts", "verb", "user", "user_agent", "source_ip", "namespace", "resource", "subresource", "name", "code", "latency_ms", "request_uri", "authz_decision",
] as const;

export interface EventsPage {
  total: number;
  offset: number;
  rows: Record<(typeof EVENT_ROW_COLUMNS)[number], unknown>[];
}

/**
 * One page of matching requests, newest first (ts DESC, then audit_id and stage for a stable order).
 * Found in two steps so DuckDB never sorts wide rows: the timestamps of the page's rows (an ORDER BY
 * over ts alone, from whichever end is nearer), then the rows between the page's first and last
 * timestamp (a range the scan prunes by zone maps), skipping those of the first timestamp that
 * belong to the previous page.
 */
export async function events(store: AuditStore, f: AuditFilter, offset: number, limit: number): Promise<EventsPage> {
  const w = filterWhere(f).add(REQUEST_STAGE).add("ts IS NOT NULL");
  const [c] = await store.query(`SELECT count(*) AS n FROM events ${w.sql()}`, w.values);
  const total = Number(c?.n ?? 0);
  if (offset >= total) return { total, offset, rows: [] };
  const n = Math.min(limit, total - offset);
  const fromEnd = total - offset - n;
  const [b] = fromEnd < offset
    ? await store.query(`SELECT CAST(min(ts) AS VARCHAR) AS lo, CAST(max(ts) AS VARCHAR) AS hi FROM (SELECT ts FROM events ${w.sql()} ORDER BY ts ASC LIMIT ? OFFSET ?)`, [...w.values, n, fromEnd])
    : await store.query(`SELECT CAST(min(ts) AS VARCHAR) AS lo, CAST(max(ts) AS VARCHAR) AS hi FROM (SELECT ts FROM events ${w.sql()} ORDER BY ts DESC LIMIT ? OFFSET ?)`, [...w.values, n, offset]);
  const lo = String(b?.lo);
  const hi = String(b?.hi);
  const [newer] = await store.query(`SELECT count(*) AS n FROM events ${w.sql()} AND ts > CAST(? AS TIMESTAMPTZ)`, [...w.values, hi]);
  const page = filterWhere(f).add(REQUEST_STAGE).add("ts >= CAST(? AS TIMESTAMPTZ) AND ts <= CAST(? AS TIMESTAMPTZ)", lo, hi);
  const rows = await store.query(
    `SELECT e.audit_id, e.stage, ${TS("e.ts")} AS ts, e.verb, e."user", e.user_agent, e.source_ip, e.namespace, ${RESOURCE("e")} AS resource,
            e.subresource, e.name, e.code, e.latency_ms, e.request_uri, e.authz_decision
       FROM (SELECT * FROM events ${page.sql()}) e
      ORDER BY e.ts DESC, e.audit_id, e.stage
      LIMIT ? OFFSET ?`,
    [...page.values, n, offset - Number(newer?.n ?? 0)],
  );
  return { total, offset, rows: rows.map((r) => Object.fromEntries(EVENT_ROW_COLUMNS.map((k) => [k, r[k] ?? null]))) as EventsPage["rows"] };
}
