// SQL that maps a raw audit event (JSON text) to a row of `events`. DuckDB does the parsing:
// json_transform parses each event once into a typed struct; unknown fields are ignored and
// fields of the wrong type become NULL instead of failing the whole load.

/** The subset of audit.k8s.io/v1 (and v1beta1) Event we store. */
const EVENT_STRUCT = {
  kind: "VARCHAR",
  apiVersion: "VARCHAR",
  auditID: "VARCHAR",
  stage: "VARCHAR",
  level: "VARCHAR",
  timestamp: "VARCHAR",
  requestReceivedTimestamp: "VARCHAR",
  stageTimestamp: "VARCHAR",
  verb: "VARCHAR",
  requestURI: "VARCHAR",
  user: { username: "VARCHAR", groups: ["VARCHAR"] },
  impersonatedUser: { username: "VARCHAR" },
  userAgent: "VARCHAR",
  sourceIPs: ["VARCHAR"],
  objectRef: { namespace: "VARCHAR", resource: "VARCHAR", subresource: "VARCHAR", apiGroup: "VARCHAR", apiVersion: "VARCHAR", name: "VARCHAR" },
  responseStatus: { code: "INTEGER", reason: "VARCHAR", message: "VARCHAR" },
  // A struct of the two keys we use: a MAP of all annotations costs twice the parse time.
  annotations: { "authorization.k8s.io/decision": "VARCHAR", "authorization.k8s.io/reason": "VARCHAR" },
  requestObject: "JSON",
  responseObject: "JSON",
  items: ["JSON"],
};

export const EVENT_STRUCT_SQL = `'${JSON.stringify(EVENT_STRUCT)}'`;

/**
 * Given a relation `src(line BIGINT, item INTEGER, j JSON)`, selects staged rows: the event
 * columns plus `line`, `item` and `problem` (NULL when the event is good, 'EventList' for a list
 * whose items must be expanded, otherwise the reason the line is malformed). `source` is filled
 * in on insert, once line numbers are final.
 */
export function stageSelectSql(srcSql: string): string {
  return `
SELECT
  line, item,
  CASE
    WHEN j IS NULL THEN 'invalid JSON'
    WHEN e.kind = 'EventList' THEN 'EventList'
    WHEN e.auditID IS NULL OR e.auditID = '' THEN 'not an audit event: missing auditID'
    WHEN e.stage IS NULL OR e.stage = '' THEN 'not an audit event: missing stage'
    WHEN coalesce(e.stageTimestamp, e.timestamp, e.requestReceivedTimestamp) IS NULL THEN 'no timestamp (stageTimestamp, requestReceivedTimestamp or timestamp)'
    WHEN coalesce(try_cast(coalesce(e.stageTimestamp, e.timestamp, e.requestReceivedTimestamp) AS TIMESTAMPTZ), NULL) IS NULL THEN 'unparseable timestamp'
    ELSE NULL
  END AS problem,
  CASE WHEN e.kind = 'EventList' THEN e.items END AS items,
  e.auditID AS audit_id,
  e.stage AS stage,
  e.level AS level,
  try_cast(coalesce(e.stageTimestamp, e.timestamp, e.requestReceivedTimestamp) AS TIMESTAMPTZ) AS ts,
  try_cast(coalesce(e.requestReceivedTimestamp, e.timestamp, e.stageTimestamp) AS TIMESTAMPTZ) AS received_ts,
  (epoch_us(try_cast(e.stageTimestamp AS TIMESTAMPTZ)) - epoch_us(try_cast(e.requestReceivedTimestamp AS TIMESTAMPTZ))) / 1000.0 AS latency_ms,
  e.verb AS verb,
  e.requestURI AS request_uri,
  e."user".username AS "user",
  e."user".groups AS user_groups,
  e.impersonatedUser.username AS impersonated_user,
  e.userAgent AS user_agent,
  e.sourceIPs[1] AS source_ip,
  nullif(e.objectRef.namespace, '') AS namespace,
  e.objectRef.resource AS resource,
  nullif(e.objectRef.subresource, '') AS subresource,
  CASE WHEN e.objectRef IS NOT NULL THEN coalesce(e.objectRef.apiGroup, '') END AS api_group,
  e.objectRef.apiVersion AS api_version,
  nullif(e.objectRef.name, '') AS name,
  e.responseStatus.code AS code,
  nullif(e.responseStatus.reason, '') AS status_reason,
  nullif(e.responseStatus.message, '') AS status_message,
  e.annotations."authorization.k8s.io/decision" AS authz_decision,
  nullif(e.annotations."authorization.k8s.io/reason", '') AS authz_reason,
  bytes::INTEGER AS event_bytes,
  coalesce(strlen(e.requestObject::VARCHAR), 0)::INTEGER AS request_object_bytes,
  coalesce(strlen(e.responseObject::VARCHAR), 0)::INTEGER AS response_object_bytes,
  NULL::VARCHAR AS source,
  e.apiVersion AS event_api_version
FROM (SELECT line, item, j, strlen(j::VARCHAR) AS bytes, json_transform(j, ${EVENT_STRUCT_SQL}) AS e FROM (${srcSql}))`;
}
