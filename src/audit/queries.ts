import type { AuditStore, Row } from "./store.js";
import { LATENCY_ANNOTATION_PREFIX, NO_ANNOTATIONS_NOTE, columnOf, type LatencyKey } from "./latency-annotations.js";

/** Filters every query accepts (CLI flags and HTTP query parameters). */
export interface QueryFilter {
  since?: Date;
  until?: Date;
  namespace?: string;
  user?: string;
  limit?: number;
}

export interface QueryResult {
  columns: string[];
  rows: Row[];
  /** Section titles for table output when rows carry a `section` column (who-deleted). */
  note?: string;
}

export const TOP_DIMENSIONS = ["user", "useragent", "resource", "verb", "namespace", "code", "sourceip", "serviceaccount"] as const;
export type TopDimension = (typeof TOP_DIMENSIONS)[number];
export const LATENCY_DIMENSIONS = ["resource", "verb", "user", "namespace", "useragent", "subresource"] as const;
export type LatencyDimension = (typeof LATENCY_DIMENSIONS)[number];
export const RATE_DIMENSIONS = ["user", "group"] as const;
export type RateDimension = (typeof RATE_DIMENSIONS)[number];

const DIM_SQL: Record<TopDimension | LatencyDimension, string> = {
  user: `"user"`,
  useragent: "user_agent",
  resource: "CASE WHEN resource IS NULL THEN NULL WHEN coalesce(api_group, '') = '' THEN resource ELSE resource || '.' || api_group END",
  verb: "verb",
  namespace: "namespace",
  code: "CAST(code AS VARCHAR)",
  sourceip: "source_ip",
  serviceaccount: `"user"`,
  subresource: "subresource",
};

/**
 * One row per request. The API server writes one event per stage: count ResponseComplete (or
 * Panic), and ResponseStarted only when it is the last word on a failed request — authentication
 * failures (401) are logged at ResponseStarted with no ResponseComplete.
 */
export const REQUEST_STAGE = `(stage IN ('ResponseComplete', 'Panic') OR (stage = 'ResponseStarted' AND code >= 400 AND verb <> 'watch'))`;

/** Long-running requests whose duration is the connection's life, not API latency. */
export const LONG_RUNNING = `(verb IN ('watch', 'connect', 'proxy') OR subresource IN ('exec', 'attach', 'portforward', 'proxy'))`;

const TS = (col: string): string => `strftime(CAST(${col} AS TIMESTAMP), '%Y-%m-%dT%H:%M:%S.%fZ')`;

class Where {
  readonly parts: string[] = [];
  readonly values: (string | number)[] = [];
  constructor(f: QueryFilter) {
    if (f.since) this.add("ts >= CAST(? AS TIMESTAMPTZ)", f.since.toISOString());
    if (f.until) this.add("ts < CAST(? AS TIMESTAMPTZ)", f.until.toISOString());
    if (f.namespace !== undefined) this.add("namespace = ?", f.namespace);
    if (f.user !== undefined) this.add(`"user" = ?`, f.user);
  }
  add(sql: string, ...values: (string | number)[]): this {
    this.parts.push(sql);
    this.values.push(...values);
    return this;
  }
  sql(): string {
    return this.parts.length ? `WHERE ${this.parts.join(" AND ")}` : "";
  }
}

const limitSql = (f: QueryFilter, dflt: number): string => `LIMIT ${Math.max(1, Math.floor(f.limit ?? dflt))}`;

async function run(store: AuditStore, sql: string, values: (string | number)[]): Promise<Row[]> {
  return store.query(sql, values);
}

function splitResource(resource: string): { resource: string; group?: string } {
  const dot = resource.indexOf(".");
  return dot > 0 ? { resource: resource.slice(0, dot), group: resource.slice(dot + 1) } : { resource };
}

export async function whoDeleted(store: AuditStore, resource: string, name: string | undefined, f: QueryFilter): Promise<QueryResult> {
  const r = splitResource(resource);
  const w = new Where(f).add("verb IN ('delete', 'deletecollection')").add(REQUEST_STAGE).add("resource = ?", r.resource);
  if (r.group !== undefined) w.add("api_group = ?", r.group);
  if (name !== undefined) w.add("name = ?", name);
  const rows = await run(
    store,
    `SELECT CASE WHEN code < 400 THEN 'deleted' ELSE 'failed' END AS outcome, ${TS("ts")} AS time, verb, namespace, resource, name,
            "user", impersonated_user, user_agent, source_ip, code, coalesce(status_message, authz_reason) AS reason
       FROM events ${w.sql()}
      ORDER BY outcome, ts ${limitSql(f, 1000)}`,
    w.values,
  );
  return { columns: ["outcome", "time", "verb", "namespace", "resource", "name", "user", "impersonated_user", "user_agent", "source_ip", "code", "reason"], rows };
}

export async function top(store: AuditStore, by: TopDimension, f: QueryFilter): Promise<QueryResult> {
  const w = new Where(f).add(REQUEST_STAGE);
  if (by === "serviceaccount") w.add(`"user" LIKE 'system:serviceaccount:%'`);
  const rows = await run(
    store,
    `SELECT ${DIM_SQL[by]} AS "${by}", count(*) AS requests, count(*) FILTER (WHERE code >= 400) AS errors,
            round(100.0 * count(*) / sum(count(*)) OVER (), 2) AS share_pct
       FROM events ${w.sql()}
      GROUP BY 1 ORDER BY requests DESC, 1 NULLS LAST ${limitSql(f, 20)}`,
    w.values,
  );
  return { columns: [by, "requests", "errors", "share_pct"], rows };
}

export const ERROR_CODES_SQL = `(code IN (401, 403, 404, 409, 422, 429) OR code >= 500)`;

/** A one-line guess at why a group of errors happens, from the status code and the request. */
export function likelyCause(code: number, verb: string | null, resource: string | null): string {
  const what = resource ?? "non-resource URL";
  switch (true) {
    case code === 401:
      return "expired or invalid credentials (client certificate, token or kubeconfig)";
    case code === 403:
      return `RBAC lacks verb ${verb ?? "?"} on resource ${what} (or an admission/authorization webhook denied it)`;
    case code === 404:
      return `${what} not found: already deleted, wrong name or namespace, or API not served`;
    case code === 409:
      return "conflict: object already exists, or was modified since it was read (stale resourceVersion)";
    case code === 422:
      return "invalid object or immutable field changed (validation failed, e.g. a patch by a controller or mutating webhook)";
    case code === 429:
      return "throttled by API priority and fairness (or max-inflight limits)";
    case code >= 500:
      return "API server, etcd or webhook failure (check apiserver logs and webhook health)";
    default:
      return "";
  }
}

export async function errors(store: AuditStore, f: QueryFilter): Promise<QueryResult> {
  const w = new Where(f).add(REQUEST_STAGE).add(ERROR_CODES_SQL);
  const rows = await run(
    store,
    `SELECT code, "user", verb, ${DIM_SQL.resource} AS resource, count(*) AS count,
            coalesce(any_value(authz_reason), '') AS authz_reason, coalesce(any_value(status_message), any_value(status_reason), '') AS message,
            ${TS("max(ts)")} AS last_seen
       FROM events ${w.sql()}
      GROUP BY code, "user", verb, 4 ORDER BY code, count DESC, "user", verb, resource ${limitSql(f, 100)}`,
    w.values,
  );
  for (const r of rows) r.likely_cause = likelyCause(Number(r.code), r.verb as string | null, r.resource as string | null);
  return { columns: ["code", "user", "verb", "resource", "count", "likely_cause", "authz_reason", "message", "last_seen"], rows };
}

/**
 * The parts of a request's time that `audit latency` splits out, from the `apiserver.latency.k8s.io/*`
 * columns: mean milliseconds per annotated request (an absent part counts 0: the API server leaves
 * out layers that took no time). Means, not quantiles, because means add up: total = the parts + other.
 */
export const SPLIT_PARTS = [
  { name: "etcd_ms", keys: ["etcd"] },
  { name: "apf_queue_wait_ms", keys: ["apf-queue-wait"] },
  { name: "decode_ms", keys: ["decode-response-object"] },
  { name: "transform_ms", keys: ["transform-response-object"] },
  { name: "serialize_ms", keys: ["serialize-response-object"] },
  { name: "response_write_ms", keys: ["response-write"] },
  { name: "webhooks_ms", keys: ["mutating-webhook", "validating-webhook"] },
  { name: "impersonation_ms", keys: ["impersonation"] },
] as const satisfies readonly { name: string; keys: readonly LatencyKey[] }[];

export const SPLIT_FIELDS = ["annotated", "total_ms", ...SPLIT_PARTS.map((p) => p.name), "other_ms", "p99_total_ms"] as const;
export type LatencySplit = Record<(typeof SPLIT_FIELDS)[number], number>;

const col = (k: LatencyKey): string => columnOf(k);
const z = (k: LatencyKey): string => `coalesce(${col(k)}, 0)`;
/** A request carries the split when any latency annotation was stored for it. */
export const ANNOTATED_SQL = `(${(["total", ...SPLIT_PARTS.flatMap((p) => p.keys)] as LatencyKey[]).map((k) => `${col(k)} IS NOT NULL`).join(" OR ")})`;
/** The annotation's total, else the timestamps' (the same number to the microsecond). */
const TOTAL_SQL = `coalesce(${col("total")}, latency_ms)`;
/**
 * total − the known parts. response-write is inside serialize-response-object when both are present
 * (serialization writes as it goes: k8s.io/apiserver's SerializationTracker includes the writes), so
 * it is subtracted only when serialize is absent.
 */
const OTHER_SQL = `(${TOTAL_SQL} - ${z("etcd")} - ${z("apf-queue-wait")} - ${z("decode-response-object")} - ${z("transform-response-object")}
  - coalesce(${col("serialize-response-object")}, ${z("response-write")}) - ${z("mutating-webhook")} - ${z("validating-webhook")} - ${z("impersonation")})`;

/** SQL aggregates (inside a GROUP BY over `events`) for the split, one column per SPLIT_FIELDS entry, prefixed `split_`. */
export function splitAggregatesSql(): string {
  const f = `FILTER (WHERE ${ANNOTATED_SQL})`;
  return [
    `count(*) ${f} AS split_annotated`,
    `round(avg(${TOTAL_SQL}) ${f}, 3) AS split_total_ms`,
    ...SPLIT_PARTS.map((p) => `round(avg(${p.keys.map(z).join(" + ")}) ${f}, 3) AS split_${p.name}`),
    `round(avg(${OTHER_SQL}) ${f}, 3) AS split_other_ms`,
    `round(quantile_cont(${TOTAL_SQL}, 0.99) ${f}, 3) AS split_p99_total_ms`,
  ].join(",\n            ");
}

/** Moves the `split_*` columns of a row into `annotated` and `split` (null when no request of the group is annotated). */
export function takeSplit(r: Row): void {
  const n = Number(r.split_annotated ?? 0);
  const split = Object.fromEntries(SPLIT_FIELDS.map((k) => [k, r[`split_${k}`] === null || r[`split_${k}`] === undefined ? null : Number(r[`split_${k}`])])) as LatencySplit;
  for (const k of SPLIT_FIELDS) delete r[`split_${k}`];
  r.annotated = n;
  r.split = n > 0 ? split : null;
}

export async function latency(store: AuditStore, by: LatencyDimension[], f: QueryFilter): Promise<QueryResult> {
  const w = new Where(f).add("stage = 'ResponseComplete'").add("latency_ms IS NOT NULL");
  const keys = by.map((d) => `${DIM_SQL[d]} AS "${d}"`).join(", ");
  const rows = await run(
    store,
    `SELECT CASE WHEN ${LONG_RUNNING} THEN 'long-running' ELSE 'request' END AS kind, ${keys}, count(*) AS count,
            round(quantile_cont(latency_ms, 0.5), 3) AS p50_ms, round(quantile_cont(latency_ms, 0.95), 3) AS p95_ms,
            round(quantile_cont(latency_ms, 0.99), 3) AS p99_ms, round(max(latency_ms), 3) AS max_ms,
            ${splitAggregatesSql()}
       FROM events ${w.sql()}
      GROUP BY ALL ORDER BY kind DESC, count DESC ${limitSql(f, 100)}`,
    w.values,
  );
  for (const r of rows) takeSplit(r);
  const annotated = rows.reduce((n, r) => n + Number(r.annotated), 0);
  const requests = rows.reduce((n, r) => n + Number(r.count), 0);
  return {
    columns: ["kind", ...by, "count", "p50_ms", "p95_ms", "p99_ms", "max_ms", "annotated", "split"],
    rows,
    note: annotated === 0 ? NO_ANNOTATIONS_NOTE : `${annotated} of ${requests} requests carry ${LATENCY_ANNOTATION_PREFIX}* annotations`,
  };
}

export async function timeline(store: AuditStore, resource: string, name: string, f: QueryFilter): Promise<QueryResult> {
  const r = splitResource(resource);
  const w = new Where(f).add(REQUEST_STAGE).add("resource = ?", r.resource).add("name = ?", name);
  if (r.group !== undefined) w.add("api_group = ?", r.group);
  const rows = await run(
    store,
    `SELECT ${TS("received_ts")} AS time, verb, subresource, namespace, "user", impersonated_user, code, user_agent, round(latency_ms, 3) AS latency_ms
       FROM events ${w.sql()}
      ORDER BY received_ts, ts ${limitSql(f, 1000)}`,
    w.values,
  );
  return { columns: ["time", "verb", "subresource", "namespace", "user", "impersonated_user", "code", "user_agent", "latency_ms"], rows };
}

export async function rate(store: AuditStore, by: RateDimension, stepMs: number, f: QueryFilter): Promise<QueryResult> {
  const w = new Where(f).add(REQUEST_STAGE);
  const key = by === "group" ? "unnest(user_groups)" : `"user"`;
  const stepUs = Math.max(1, Math.round(stepMs * 1000));
  const rows = await run(
    store,
    `SELECT ${TS("bucket")} AS time, "${by}", count(*) AS requests, round(count(*) / ${stepMs / 1000}, 3) AS per_second
       FROM (SELECT time_bucket(to_microseconds(${stepUs}), received_ts, TIMESTAMPTZ '1970-01-01 00:00:00+00') AS bucket, ${key} AS "${by}" FROM events ${w.sql()})
      GROUP BY bucket, 2 ORDER BY bucket, requests DESC, 2 ${limitSql(f, 10_000)}`,
    w.values,
  );
  return { columns: ["time", by, "requests", "per_second"], rows };
}

/** Read-only escape hatch: one SELECT-like statement. The store must be opened read-only too. */
export function checkReadOnlySql(sql: string): string | null {
  const s = sql.trim().replace(/;\s*$/, "");
  if (s === "") return "empty SQL";
  if (!/^(select|with|from|values|describe|summarize|show|explain)\b/i.test(s)) return "only SELECT queries are allowed (statement must start with SELECT, WITH, FROM, VALUES, DESCRIBE, SUMMARIZE, SHOW or EXPLAIN)";
  if (s.includes(";")) return "only one statement is allowed";
  return null;
}

export async function sql(store: AuditStore, text: string): Promise<QueryResult> {
  const reader = await store.connection.runAndReadAll(text.trim().replace(/;\s*$/, ""));
  const columns = reader.columnNames();
  const rows = reader.getRowObjectsJson() as Row[];
  return { columns, rows };
}
