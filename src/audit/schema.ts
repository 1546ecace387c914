import { LATENCY_ANNOTATIONS } from "./latency-annotations.js";

// The `events` table is a contract with `audit policy simulate` (src/audit/policy): columns may be
// added, never renamed. One row per (audit_id, stage): an audit event is emitted once per stage.
export const EVENTS_DDL = `
CREATE TABLE IF NOT EXISTS events (
  audit_id VARCHAR NOT NULL,
  stage VARCHAR NOT NULL,
  level VARCHAR,
  ts TIMESTAMPTZ,
  received_ts TIMESTAMPTZ,
  latency_ms DOUBLE,
  verb VARCHAR,
  request_uri VARCHAR,
  "user" VARCHAR,
  user_groups VARCHAR[],
  impersonated_user VARCHAR,
  user_agent VARCHAR,
  source_ip VARCHAR,
  namespace VARCHAR,
  resource VARCHAR,
  subresource VARCHAR,
  api_group VARCHAR,
  api_version VARCHAR,
  name VARCHAR,
  code INTEGER,
  status_reason VARCHAR,
  status_message VARCHAR,
  authz_decision VARCHAR,
  authz_reason VARCHAR,
  event_bytes INTEGER,
  request_object_bytes INTEGER,
  response_object_bytes INTEGER,
  source VARCHAR,
  event_api_version VARCHAR,
${LATENCY_ANNOTATIONS.map((a) => `  ${a.column} DOUBLE`).join(",\n")}
)`;
// No PRIMARY KEY: maintaining DuckDB's ART index made bulk loads ~5x slower. Ingest
// de-duplicates on (audit_id, stage) itself (anti-join + in-batch DISTINCT), and all writes to
// one store go through one serialized connection.

/** Columns in table order, for INSERT statements. */
export const EVENT_COLUMNS = [
  "audit_id", "stage", "level", "ts", "received_ts", "latency_ms", "verb", "request_uri", "user", "user_groups",
  "impersonated_user", "user_agent", "source_ip", "namespace", "resource", "subresource", "api_group", "api_version",
  "name", "code", "status_reason", "status_message", "authz_decision", "authz_reason", "event_bytes",
  "request_object_bytes", "response_object_bytes", "source", "event_api_version",
  ...LATENCY_ANNOTATIONS.map((a) => a.column),
];

/**
 * Columns added after the first release of the store, in order. A store opened for writing gains
 * the ones it lacks (`ALTER TABLE ... ADD COLUMN`, NULL for the rows already there); a read-only open
 * of an older store sees them as NULL through a temp view (src/audit/store.ts). Add new columns
 * here AND to EVENTS_DDL; never rename or drop.
 */
export const ADDED_EVENT_COLUMNS: readonly { name: string; type: string }[] = [
  ...LATENCY_ANNOTATIONS.map((a) => ({ name: a.column, type: "DOUBLE" })),
];

/**
 * Request and response objects of events that carry them (Request/RequestResponse level), keyed
 * like `events` by (audit_id, stage); secret values already redacted (src/audit/redact.ts).
 * A side table: queries over `events` never read bodies. Created on open, so a store written
 * before bodies were kept gains it (empty) the first time it is opened for writing.
 */
export const BODIES_DDL = `
CREATE TABLE IF NOT EXISTS bodies (
  audit_id VARCHAR NOT NULL,
  stage VARCHAR NOT NULL,
  request_object JSON,
  response_object JSON
)`;

/** For read-only opens of a store that predates `bodies`: the same columns, no rows. */
export const BODIES_EMPTY_VIEW = `
CREATE TEMP VIEW bodies AS
SELECT NULL::VARCHAR AS audit_id, NULL::VARCHAR AS stage, NULL::JSON AS request_object, NULL::JSON AS response_object WHERE false`;
