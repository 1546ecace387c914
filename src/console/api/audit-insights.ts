// Insights over the filtered store, each `{ columns, rows }` like the audit CLI's JSON; rows that
// concern one object carry resource (plural or plural.group), namespace and name, so the page links
// them to the timeline.
import { ERROR_CODES_SQL, REQUEST_STAGE, likelyCause, type AuditStore } from "../../audit/public.js";
import { RESOURCE, TS, filterWhere, type AuditFilter } from "./audit-filter.js";
import { scanDetections } from "./audit-detect.js";

export const INSIGHTS = ["who-deleted", "who-changed", "top-callers", "errors", "latency", "detections"] as const;
export type Insight = (typeof INSIGHTS)[number];

export interface InsightResult {
  columns: string[];
  rows: Record<string, unknown>[];
  /** Set when the answer is partial (detections: a bounded scan) and what was left out. */
  truncated?: boolean;
  note?: string;
}

/** Candidate events the detection rules run on for insights/detections (newest first). */
export const MAX_DETECTION_SCAN = 20_000;

function shape(columns: string[], rows: Record<string, unknown>[], extra: Partial<InsightResult> = {}): InsightResult {
  return { columns, rows: rows.map((r) => Object.fromEntries(columns.map((c) => [c, r[c] ?? null]))), ...extra };
}

export async function insight(store: AuditStore, kind: Insight, f: AuditFilter, limit: number): Promise<InsightResult> {
  switch (kind) {
    case "who-deleted":
      return whoDeleted(store, f, limit);
    case "who-changed":
      return whoChanged(store, f, limit);
    case "top-callers":
      return topCallers(store, f, limit);
    case "errors":
      return errors(store, f, limit);
    case "latency":
      return latency(store, f, limit);
    case "detections":
      return detections(store, f, limit);
  }
}

/** `audit who-deleted` over the filter (any resource unless filtered): deletes first, then failed attempts, by time. */
async function whoDeleted(store: AuditStore, f: AuditFilter, limit: number): Promise<InsightResult> {
  const w = filterWhere(f).add("verb IN ('delete', 'deletecollection')").add(REQUEST_STAGE);
  const rows = await store.query(
    `SELECT CASE WHEN code < 400 THEN 'deleted' ELSE 'failed' END AS outcome, ${TS("ts")} AS time, verb, namespace, ${RESOURCE()} AS resource, name,
            "user", impersonated_user, user_agent, source_ip, code, coalesce(status_message, authz_reason) AS reason, audit_id, stage
       FROM events ${w.sql()}
      ORDER BY outcome, ts, audit_id LIMIT ?`,
    [...w.values, limit],
  );
  return shape(["outcome", "time", "verb", "namespace", "resource", "name", "user", "impersonated_user", "user_agent", "source_ip", "code", "reason", "audit_id", "stage"], rows);
}

/** Successful writes (create/update/patch/apply/delete) per object and user: how many, which verbs, first and last. */
async function whoChanged(store: AuditStore, f: AuditFilter, limit: number): Promise<InsightResult> {
  const w = filterWhere(f).add("verb IN ('create', 'update', 'patch', 'apply', 'delete')").add("code >= 200 AND code < 300").add("name IS NOT NULL").add(REQUEST_STAGE);
  const rows = await store.query(
    `SELECT ${RESOURCE()} AS resource, namespace, name, "user", count(*) AS changes, string_agg(DISTINCT verb, ',' ORDER BY verb) AS verbs,
            string_agg(DISTINCT subresource, ',' ORDER BY subresource) AS subresources, ${TS("min(ts)")} AS first_seen, ${TS("max(ts)")} AS last_seen
       FROM events ${w.sql()}
      GROUP BY ALL ORDER BY max(ts) DESC, resource, namespace, name, "user" LIMIT ?`,
    [...w.values, limit],
  );
  return shape(["resource", "namespace", "name", "user", "changes", "verbs", "subresources", "first_seen", "last_seen"], rows);
}

/** `audit top --by user` with each caller's most frequent user agent. */
async function topCallers(store: AuditStore, f: AuditFilter, limit: number): Promise<InsightResult> {
  const w = filterWhere(f).add(REQUEST_STAGE);
  const rows = await store.query(
    `SELECT "user", count(*) AS requests, count(*) FILTER (WHERE code >= 400) AS errors, round(100.0 * count(*) / sum(count(*)) OVER (), 2) AS share_pct,
            mode(user_agent) AS top_user_agent, count(DISTINCT user_agent) AS user_agents
       FROM events ${w.sql()}
      GROUP BY 1 ORDER BY requests DESC, 1 NULLS LAST LIMIT ?`,
    [...w.values, limit],
  );
  return shape(["user", "requests", "errors", "share_pct", "top_user_agent", "user_agents"], rows);
}

/**
 * `audit errors`: 401/403/404/409/422/429/5xx by code, user, verb and resource, with the likely cause
 * and the latest such event; namespace and name when every error of the group concerns one object.
 */
async function errors(store: AuditStore, f: AuditFilter, limit: number): Promise<InsightResult> {
  const w = filterWhere(f).add(REQUEST_STAGE).add(ERROR_CODES_SQL);
  const rows = await store.query(
    `SELECT code, "user", verb, ${RESOURCE()} AS resource, count(*) AS count,
            coalesce(any_value(authz_reason), '') AS authz_reason, coalesce(any_value(status_message), any_value(status_reason), '') AS message,
            ${TS("max(ts)")} AS last_seen, arg_max(audit_id, ts) AS audit_id, arg_max(stage, ts) AS stage,
            CASE WHEN min(obj) = max(obj) THEN arg_max(namespace, ts) END AS namespace, CASE WHEN min(obj) = max(obj) THEN arg_max(name, ts) END AS name
       FROM (SELECT *, coalesce(namespace, '') || '/' || coalesce(name, '') AS obj FROM events ${w.sql()})
      GROUP BY code, "user", verb, 4 ORDER BY code, count DESC, "user", verb, resource LIMIT ?`,
    [...w.values, limit],
  );
  for (const r of rows) r.likely_cause = likelyCause(Number(r.code), r.verb as string | null, r.resource as string | null);
  return shape(["code", "user", "verb", "resource", "namespace", "name", "count", "likely_cause", "authz_reason", "message", "last_seen", "audit_id", "stage"], rows);
}

/** `audit latency --by resource,verb` (ResponseComplete, long-running requests apart), without the annotation split. */
async function latency(store: AuditStore, f: AuditFilter, limit: number): Promise<InsightResult> {
  const w = filterWhere(f).add("stage = 'ResponseComplete'").add("latency_ms IS NOT NULL");
  const rows = await store.query(
    `SELECT CASE WHEN verb IN ('watch', 'connect', 'proxy') OR subresource IN ('exec', 'attach', 'portforward', 'proxy') THEN 'long-running' ELSE 'request' END AS kind,
            ${RESOURCE()} AS resource, verb, count(*) AS count,
            round(quantile_cont(latency_ms, 0.5), 3) AS p50_ms, round(quantile_cont(latency_ms, 0.95), 3) AS p95_ms,
            round(quantile_cont(latency_ms, 0.99), 3) AS p99_ms, round(max(latency_ms), 3) AS max_ms
       FROM events ${w.sql()}
      GROUP BY ALL ORDER BY kind DESC, count DESC, resource, verb LIMIT ?`,
    [...w.values, limit],
  );
  return shape(["kind", "resource", "verb", "count", "p50_ms", "p95_ms", "p99_ms", "max_ms"], rows);
}

/** The built-in detection rules' hits, newest first, over at most MAX_DETECTION_SCAN candidate events. */
async function detections(store: AuditStore, f: AuditFilter, limit: number): Promise<InsightResult> {
  const scan = await scanDetections(store, filterWhere(f), { maxScan: MAX_DETECTION_SCAN, maxHits: limit });
  const rows = scan.hits.map((h) => {
    const ev = h.event;
    return {
      time: ev.ts,
      rule: h.rule.name,
      severity: h.rule.severity,
      user: ev.user,
      verb: ev.verb,
      resource: ev.resource === null ? null : ev.apiGroup ? `${ev.resource}.${ev.apiGroup}` : ev.resource,
      subresource: ev.subresource,
      namespace: ev.namespace,
      name: h.name,
      code: ev.code,
      request_uri: ev.requestURI,
      audit_id: ev.auditId,
      stage: ev.stage,
      reason: h.rule.description,
    };
  });
  const note = scan.truncated
    ? `partial: the ${scan.scanned} newest candidate events were checked${rows.length === limit ? ` and the first ${limit} hits kept` : ""}; narrow the time range or filters for the rest`
    : `${scan.scanned} candidate events checked against the built-in rules`;
  return shape(["time", "rule", "severity", "user", "verb", "resource", "subresource", "namespace", "name", "code", "request_uri", "audit_id", "stage", "reason"], rows, {
    truncated: scan.truncated,
    note,
  });
}
