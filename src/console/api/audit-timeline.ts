// The timeline (KHI-like): one lane per object, its revisions (successful writes, as `audit
// history` counts them) and marks (deletes, errors, denials, detections). Bounded work: at most
// `lanes` objects (those with the most events when there are more) and MAX_TIMELINE_EVENTS events
// per answer, spread over the lanes newest first; `truncated` says when anything was left out.
import { REQUEST_STAGE, type AuditStore } from "../../audit/public.js";
import { RESOURCE, TS, filterWhere, type AuditFilter } from "./audit-filter.js";
import { scanDetections } from "./audit-detect.js";
import { storeRange } from "./audit-search.js";

export const MAX_TIMELINE_EVENTS = 20_000;
/** Candidate events the detection rules run on per timeline (newest first). */
export const MAX_TIMELINE_DETECTION_SCAN = 5_000;

export interface LaneRevision {
  ts: string;
  audit_id: string;
  stage: string;
  verb: string;
  subresource: string | null;
  user: string | null;
  code: number | null;
}

export type MarkType = "delete" | "error" | "denied" | "detection";

export interface LaneMark {
  ts: string;
  audit_id: string;
  stage: string;
  type: MarkType;
  label: string;
}

export interface Lane {
  /** `resource/namespace/name`: resource as `plural` or `plural.group`, namespace "-" when cluster-scoped. */
  key: string;
  /** `plural` for the core group, `plural.group` otherwise (what `history?resource=` takes). */
  resource: string;
  /** "" for the core group. */
  apiGroup: string;
  namespace: string | null;
  name: string;
  revisions: LaneRevision[];
  marks: LaneMark[];
}

export interface Timeline {
  from: string | null;
  to: string | null;
  /** Objects with at least one revision or mark under the filter (lanes holds at most `lanes` of them). */
  totalObjects: number;
  /** Lanes or events were left out (more objects than lanes, more events than MAX_TIMELINE_EVENTS, detection scan bound). */
  truncated: boolean;
  /** Events returned over all lanes (revisions + delete/error/denied marks, without detections). */
  events: number;
  lanes: Lane[];
}

/** What a request event is on its object's lane, or NULL when it is neither a revision nor a mark. */
const KIND_SQL = `CASE
    WHEN code >= 200 AND code < 300 AND verb IN ('create', 'update', 'patch', 'apply')
         AND (subresource IS NULL OR subresource = 'status' OR (subresource = 'scale' AND verb IN ('update', 'patch'))) THEN 'revision'
    WHEN code >= 200 AND code < 300 AND verb = 'delete' AND subresource IS NULL THEN 'delete'
    WHEN code = 403 OR authz_decision = 'forbid' THEN 'denied'
    WHEN code >= 400 THEN 'error'
  END`;

const laneKey = (resource: string, namespace: string | null, name: string): string => `${resource}/${namespace ?? "-"}/${name}`;

function markLabel(type: MarkType, r: Record<string, unknown>): string {
  const verb = `${String(r.verb ?? "?")}${r.subresource ? `/${String(r.subresource)}` : ""}`;
  const user = r.user === null || r.user === undefined ? "an unknown user" : String(r.user);
  if (type === "delete") return `deleted by ${user}`;
  const why = (r.status_message ?? r.status_reason ?? r.authz_reason ?? "") as string;
  const head = `${r.code === null || r.code === undefined ? "?" : String(r.code)} ${verb} by ${user}`;
  return why ? `${head}: ${why.length > 200 ? `${why.slice(0, 197)}...` : why}` : head;
}

export async function timeline(store: AuditStore, f: AuditFilter, lanes: number, withDetections = true): Promise<Timeline> {
  const w = filterWhere(f, { skipName: true }).add(REQUEST_STAGE).add("resource IS NOT NULL");
  const cols = `audit_id, stage, ts, verb, "user", code, subresource, status_reason, status_message, authz_reason, resource, coalesce(api_group, '') AS api_group,
                coalesce(namespace, '') AS ns, ${KIND_SQL} AS kind`;
  // A create with generateName is logged without objectRef.name: the name is in its response body.
  const values: (string | number)[] = [...w.values, ...w.values];
  let nameSql = "";
  if (f.name !== undefined) {
    nameSql = "AND oname = ?";
    values.push(f.name);
  }
  values.push(lanes, MAX_TIMELINE_EVENTS + 1);
  const rows = await store.query(
    `WITH c AS MATERIALIZED (
       SELECT * FROM (
         SELECT ${cols}, name AS oname FROM events ${w.sql()} AND name IS NOT NULL
         UNION ALL
         SELECT e.*, json_extract_string(b.response_object, '$.metadata.name') AS oname
           FROM (SELECT ${cols} FROM events ${w.sql()} AND name IS NULL AND verb = 'create' AND code >= 200 AND code < 300) e
           JOIN bodies b ON b.audit_id = e.audit_id AND b.stage = e.stage
       ) WHERE kind IS NOT NULL AND oname IS NOT NULL ${nameSql}
     ),
     o AS (
       SELECT resource, api_group, ns, oname, row_number() OVER (ORDER BY count(*) DESC, resource, api_group, ns, oname) AS orank, count(*) OVER () AS total
         FROM c GROUP BY resource, api_group, ns, oname
     ),
     ev AS (
       SELECT c.*, o.orank, o.total, row_number() OVER (PARTITION BY o.orank ORDER BY c.ts DESC, c.audit_id) AS rn
         FROM c JOIN o ON o.resource = c.resource AND o.api_group = c.api_group AND o.ns = c.ns AND o.oname = c.oname
        WHERE o.orank <= ?
     )
     SELECT audit_id, stage, ${TS("ts")} AS time, verb, "user", code, subresource, status_reason, status_message, authz_reason,
            ${RESOURCE()} AS res, api_group, ns, oname, kind, total
       FROM ev ORDER BY rn, ts DESC LIMIT ?`,
    values,
  );
  const truncatedEvents = rows.length > MAX_TIMELINE_EVENTS;
  if (truncatedEvents) rows.length = MAX_TIMELINE_EVENTS;
  const totalObjects = Number(rows[0]?.total ?? 0);
  const byKey = new Map<string, Lane>();
  for (const r of rows) {
    const resource = String(r.res);
    const namespace = r.ns === "" ? null : String(r.ns);
    const name = String(r.oname);
    const key = laneKey(resource, namespace, name);
    let lane = byKey.get(key);
    if (!lane) {
      lane = { key, resource, apiGroup: String(r.api_group), namespace, name, revisions: [], marks: [] };
      byKey.set(key, lane);
    }
    const base = { ts: String(r.time), audit_id: String(r.audit_id), stage: String(r.stage) };
    if (r.kind === "revision") {
      lane.revisions.push({ ...base, verb: String(r.verb), subresource: (r.subresource as string | null) ?? null, user: (r.user as string | null) ?? null, code: (r.code as number | null) ?? null });
    } else {
      const type = r.kind as MarkType;
      lane.marks.push({ ...base, type, label: markLabel(type, r) });
    }
  }
  let truncatedDetections = false;
  if (withDetections && byKey.size > 0) {
    // Detection marks for the lanes shown: the rules run on those objects' candidate events only.
    const dw = filterWhere(f, { skipName: true }).add("resource IS NOT NULL");
    const keys = [...byKey.values()].map((l) => `${l.resource}\u001f${l.namespace ?? ""}\u001f${l.name}`);
    dw.add(
      `((name IS NOT NULL AND (${RESOURCE()} || chr(31) || coalesce(namespace, '') || chr(31) || name) IN (SELECT unnest(from_json(CAST(? AS JSON), '["VARCHAR"]'))))
        OR (name IS NULL AND verb = 'create'))`,
      JSON.stringify(keys),
    );
    const scan = await scanDetections(store, dw, { maxScan: MAX_TIMELINE_DETECTION_SCAN, maxHits: MAX_TIMELINE_EVENTS });
    truncatedDetections = scan.truncated;
    for (const h of scan.hits) {
      const ev = h.event;
      const name = h.name;
      if (name === null || ev.resource === null) continue;
      if (f.name !== undefined && name !== f.name) continue;
      const resource = ev.apiGroup ? `${ev.resource}.${ev.apiGroup}` : ev.resource;
      const lane = byKey.get(laneKey(resource, ev.namespace, name));
      if (!lane) continue;
      lane.marks.push({ ts: ev.ts ?? "", audit_id: ev.auditId, stage: ev.stage, type: "detection", label: h.rule.name });
    }
  }
  const sorted = [...byKey.values()].sort(
    (a, b) => cmp(a.resource, b.resource) || cmp(a.namespace ?? "", b.namespace ?? "") || cmp(a.name, b.name),
  );
  for (const l of sorted) {
    l.revisions.sort((a, b) => cmp(a.ts, b.ts) || cmp(a.audit_id, b.audit_id));
    l.marks.sort((a, b) => cmp(a.ts, b.ts) || cmp(a.audit_id, b.audit_id) || cmp(a.type, b.type));
  }
  const range = f.from && f.to ? { from: f.from.toISOString(), to: f.to.toISOString() } : await storeRange(store, f);
  return {
    from: range.from,
    to: range.to,
    totalObjects,
    truncated: totalObjects > lanes || truncatedEvents || truncatedDetections,
    events: rows.length,
    lanes: sorted,
  };
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
