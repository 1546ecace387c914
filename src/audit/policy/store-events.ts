// Reads recorded events out of the audit store (src/audit/store.ts, `events` table) for the
// simulator. Converting every row to JS dominates the cost, so DuckDB first folds together the
// events the policy cannot tell apart: same user, groups, verb, stage, recorded level, objectRef
// and the parts of the request URI the policy depends on (the path, and for list/watch the
// fieldSelector that may name an object). Byte columns are summed per group.
import type { AuditStore } from "../store.js";
import type { RecordedEvent } from "./simulate.js";

// Resource requests take namespace and name from the URI (request-info.ts); objectRef.name only
// matters when the URI is not an API path, so it is dropped from the key otherwise.
const AGGREGATE_EVENTS = `
WITH e AS (
  SELECT *,
         bool_or(stage = 'RequestReceived') OVER (PARTITION BY audit_id) AS has_received,
         row_number() OVER (PARTITION BY audit_id ORDER BY stage) = 1 AS first_of_request,
         split_part(coalesce(request_uri, ''), '?', 1) AS uri_path
  FROM events
)
SELECT "user", user_groups, verb,
       CASE WHEN verb IN ('list', 'watch') AND contains(coalesce(request_uri, ''), 'fieldSelector=')
            THEN uri_path || '?fieldSelector=' || regexp_extract(request_uri, '[?&]fieldSelector=([^&]*)', 1)
            ELSE uri_path END AS uri,
       namespace, api_group, resource, subresource,
       CASE WHEN starts_with(uri_path, '/api/') OR starts_with(uri_path, '/apis/') THEN NULL ELSE name END AS obj_name,
       stage, level,
       count(*)::BIGINT AS n,
       sum(coalesce(event_bytes, 0))::BIGINT,
       sum(coalesce(request_object_bytes, 0))::BIGINT,
       sum(coalesce(response_object_bytes, 0))::BIGINT,
       count(*) FILTER (WHERE first_of_request AND NOT has_received)::BIGINT
FROM e
GROUP BY ALL`;

const str = (v: unknown): string | null => (typeof v === "string" ? v : null);
const num = (v: unknown): number => (typeof v === "number" ? v : typeof v === "bigint" ? Number(v) : 0);

export async function* storeEvents(store: AuditStore): AsyncGenerator<RecordedEvent> {
  const result = await store.connection.stream(AGGREGATE_EVENTS);
  let group = 0;
  for await (const rows of result.yieldRowsJs()) {
    for (const r of rows) {
      yield {
        // Aggregated rows are not single requests; the simulator only needs a stable id when it
        // tracks stages itself, which it does not when requestsWithoutReceived is given.
        auditID: `group-${group++}`,
        user: str(r[0]),
        groups: Array.isArray(r[1]) ? (r[1] as unknown[]).filter((g): g is string => typeof g === "string") : [],
        verb: str(r[2]) ?? "",
        requestURI: str(r[3]) ?? "",
        namespace: str(r[4]),
        apiGroup: str(r[5]),
        resource: str(r[6]),
        subresource: str(r[7]),
        name: str(r[8]),
        stage: str(r[9]) ?? "",
        level: str(r[10]) ?? "",
        count: num(r[11]),
        eventBytes: num(r[12]),
        requestObjectBytes: num(r[13]),
        responseObjectBytes: num(r[14]),
        requestsWithoutReceived: num(r[15]),
      };
    }
  }
}
