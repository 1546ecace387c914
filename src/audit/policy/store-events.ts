// Streams recorded events out of the audit store (src/audit/store.ts, `events` table) for the
// simulator, chunk by chunk so a million-event store is never materialised as JS objects at once.
import type { AuditStore } from "../store.js";
import type { RecordedEvent } from "./simulate.js";

const SELECT_EVENTS = `
SELECT audit_id, stage, level, verb, request_uri, "user", user_groups, namespace, api_group, resource, subresource, name,
       coalesce(event_bytes, 0), coalesce(request_object_bytes, 0), coalesce(response_object_bytes, 0),
       bool_or(stage = 'RequestReceived') OVER (PARTITION BY audit_id),
       row_number() OVER (PARTITION BY audit_id ORDER BY stage) = 1
FROM events`;

const str = (v: unknown): string | null => (typeof v === "string" ? v : null);
const num = (v: unknown): number => (typeof v === "number" ? v : typeof v === "bigint" ? Number(v) : 0);

export async function* storeEvents(store: AuditStore): AsyncGenerator<RecordedEvent> {
  const result = await store.connection.stream(SELECT_EVENTS);
  for await (const rows of result.yieldRowsJs()) {
    for (const r of rows) {
      yield {
        auditID: str(r[0]) ?? "",
        stage: str(r[1]) ?? "",
        level: str(r[2]) ?? "",
        verb: str(r[3]) ?? "",
        requestURI: str(r[4]) ?? "",
        user: str(r[5]),
        groups: Array.isArray(r[6]) ? (r[6] as unknown[]).filter((g): g is string => typeof g === "string") : [],
        namespace: str(r[7]),
        apiGroup: str(r[8]),
        resource: str(r[9]),
        subresource: str(r[10]),
        name: str(r[11]),
        eventBytes: num(r[12]),
        requestObjectBytes: num(r[13]),
        responseObjectBytes: num(r[14]),
        requestHasReceived: r[15] === true,
        firstOfRequest: r[16] === true,
      };
    }
  }
}
