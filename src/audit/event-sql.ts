// SQL that maps a raw audit event (JSON text) to a row of `events`. DuckDB does the parsing:
// one multi-path json_extract_string per event parses it once and returns every field we store
// (scalars unescaped, objects and arrays as JSON text). Measured: half the CPU of json_transform
// into a nested struct. Unknown fields are ignored; fields of the wrong type come out NULL.

import { LATENCY_ANNOTATIONS, LATENCY_ANNOTATION_PREFIX, goDurationMsSql } from "./latency-annotations.js";

const FIELDS = [
  "kind", "apiVersion", "auditID", "stage", "level", "timestamp", "requestReceivedTimestamp", "stageTimestamp",
  "verb", "requestURI", "user.username", "user.groups", "impersonatedUser.username", "userAgent", "sourceIPs[0]",
  "objectRef.namespace", "objectRef.resource", "objectRef.subresource", "objectRef.apiGroup", "objectRef.apiVersion",
  "objectRef.name", "objectRef", "responseStatus.code", "responseStatus.reason", "responseStatus.message",
  'annotations."authorization.k8s.io/decision"', 'annotations."authorization.k8s.io/reason"',
  "requestObject", "responseObject", "items",
] as const;
type Field = (typeof FIELDS)[number];

/** `annotations."apiserver.latency.k8s.io/<key>"`, after FIELDS in the extracted list. */
const LATENCY_PATHS = LATENCY_ANNOTATIONS.map((a) => `annotations."${LATENCY_ANNOTATION_PREFIX}${a.key}"`);

const PATHS_SQL = `[${[...FIELDS, ...LATENCY_PATHS].map((f) => `'$.${f.replace(/'/g, "''")}'`).join(", ")}]`;
const f = (name: Field): string => `e[${FIELDS.indexOf(name) + 1}]`;
const lat = (i: number): string => `e[${FIELDS.length + i + 1}]`;

/** Latency annotations whose value is not a Go duration: [{annotation, value}] (stored as NULL). */
const LATENCY_PROBLEMS_SQL = `list_filter([${LATENCY_ANNOTATIONS.map(
  (a, i) => `CASE WHEN ${lat(i)} IS NOT NULL AND _lat${i} IS NULL THEN {'annotation': '${LATENCY_ANNOTATION_PREFIX}${a.key}', 'value': left(${lat(i)}, 200)} END`,
).join(", ")}], x -> x IS NOT NULL)`;

/**
 * Given a relation `src(line BIGINT, item INTEGER, j JSON)`, selects staged rows: the event
 * columns plus `line`, `item` and `problem` (NULL when the event is good, 'EventList' for a list
 * whose items must be expanded, otherwise the reason the line is malformed). `source` is filled
 * in on insert, once line numbers are final. `request_object` and `response_object` are the bodies as
 * JSON text (NULL when absent), redacted before they go into `bodies`. `latency_annotation_problems`
 * lists the `apiserver.latency.k8s.io/*` annotations that are not Go durations (their column is NULL).
 */
export function stageSelectSql(srcSql: string): string {
  // Timestamps are parsed once each in the inner query (casts are a large share of the CPU).
  const stageTs = "stage_ts";
  const recvTs = "recv_ts";
  const oldTs = "old_ts";
  return `
SELECT
  line, item,
  CASE
    WHEN j IS NULL THEN 'invalid JSON'
    WHEN ${f("kind")} = 'EventList' THEN 'EventList'
    WHEN ${f("auditID")} IS NULL OR ${f("auditID")} = '' THEN 'not an audit event: missing auditID'
    WHEN ${f("stage")} IS NULL OR ${f("stage")} = '' THEN 'not an audit event: missing stage'
    WHEN coalesce(${f("stageTimestamp")}, ${f("timestamp")}, ${f("requestReceivedTimestamp")}) IS NULL THEN 'no timestamp (stageTimestamp, requestReceivedTimestamp or timestamp)'
    WHEN coalesce(${stageTs}, ${oldTs}, ${recvTs}) IS NULL THEN 'unparseable timestamp'
    ELSE NULL
  END AS problem,
  CASE WHEN ${f("kind")} = 'EventList' THEN ${f("items")} END AS items,
  ${f("auditID")} AS audit_id,
  ${f("stage")} AS stage,
  ${f("level")} AS level,
  coalesce(${stageTs}, ${oldTs}) AS ts,
  coalesce(${recvTs}, ${oldTs}) AS received_ts,
  (epoch_us(${stageTs}) - epoch_us(${recvTs})) / 1000.0 AS latency_ms,
  ${f("verb")} AS verb,
  ${f("requestURI")} AS request_uri,
  ${f("user.username")} AS "user",
  json_transform(${f("user.groups")}, '["VARCHAR"]') AS user_groups,
  ${f("impersonatedUser.username")} AS impersonated_user,
  ${f("userAgent")} AS user_agent,
  ${f("sourceIPs[0]")} AS source_ip,
  nullif(${f("objectRef.namespace")}, '') AS namespace,
  ${f("objectRef.resource")} AS resource,
  nullif(${f("objectRef.subresource")}, '') AS subresource,
  CASE WHEN ${f("objectRef")} IS NOT NULL THEN coalesce(${f("objectRef.apiGroup")}, '') END AS api_group,
  ${f("objectRef.apiVersion")} AS api_version,
  nullif(${f("objectRef.name")}, '') AS name,
  try_cast(${f("responseStatus.code")} AS INTEGER) AS code,
  nullif(${f("responseStatus.reason")}, '') AS status_reason,
  nullif(${f("responseStatus.message")}, '') AS status_message,
  ${f('annotations."authorization.k8s.io/decision"')} AS authz_decision,
  nullif(${f('annotations."authorization.k8s.io/reason"')}, '') AS authz_reason,
  bytes::INTEGER AS event_bytes,
  coalesce(strlen(${f("requestObject")}), 0)::INTEGER AS request_object_bytes,
  coalesce(strlen(${f("responseObject")}), 0)::INTEGER AS response_object_bytes,
  NULL::VARCHAR AS source,
  ${f("apiVersion")} AS event_api_version,
  ${LATENCY_ANNOTATIONS.map((a, i) => `_lat${i} AS ${a.column}`).join(",\n  ")},
  ${LATENCY_PROBLEMS_SQL} AS latency_annotation_problems,
  ${f("requestObject")} AS request_object,
  ${f("responseObject")} AS response_object
FROM (
  SELECT *, try_cast(${f("stageTimestamp")} AS TIMESTAMPTZ) AS stage_ts, try_cast(${f("requestReceivedTimestamp")} AS TIMESTAMPTZ) AS recv_ts,
         CASE WHEN ${f("stageTimestamp")} IS NULL OR ${f("requestReceivedTimestamp")} IS NULL THEN try_cast(${f("timestamp")} AS TIMESTAMPTZ) END AS old_ts,
         ${LATENCY_ANNOTATIONS.map((_, i) => `${goDurationMsSql(lat(i))} AS _lat${i}`).join(", ")}
  FROM (SELECT line, item, j, strlen(j::VARCHAR) AS bytes, json_extract_string(j, ${PATHS_SQL}) AS e FROM (${srcSql})))`;
}
