// The timeline (KHI-like): one lane per object, its revisions (successful writes, as `audit
// history` counts them) and marks (deletes, errors, denials, detections). Bounded work: at most
// `lanes` objects (those with the most events when there are more) and MAX_TIMELINE_EVENTS events
// per answer, shared out evenly, each lane keeping its newest; detection rules run on at most
// MAX_TIMELINE_DETECTION_SCAN candidate events; `truncated` says when anything was left out.
import { REQUEST_STAGE, type AuditStore } from "../../audit/public.js";
import { RESOURCE, TS, filterWhere, queryRows, type AuditFilter } from "./audit-filter.js";
import { scanDetections } from "./audit-detect.js";
import { storeRange } from "./audit-search.js";
import type { LaneRevision, MarkType, LaneMark, Lane, Timeline } from "../shapes.js";
export type { LaneRevision, MarkType, LaneMark, Lane, Timeline };

export const MAX_TIMELINE_EVENTS = 20_000;
/** Candidate events the detection rules run on per timeline (newest first). */
export const MAX_TIMELINE_DETECTION_SCAN = 2_000;

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
  const why = (r.why ?? "") as string;
  const head = `${r.code === null || r.code === undefined ? "?" : String(r.code)} ${verb} by ${user}`;
  return why ? `${head}: ${why.length > 200 ? `${why.slice(0, 197)}...` : why}` : head;
}

/** Per-lane event quotas within `cap`: every lane gets its events up to a common level, the rest in lane order. */
export function quotas(counts: number[], cap: number): number[] {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total <= cap) return counts;
  let lo = 0;
  let hi = Math.max(...counts);
  const used = (q: number): number => counts.reduce((n, c) => n + Math.min(c, q), 0);
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (used(mid) <= cap) lo = mid;
    else hi = mid - 1;
  }
  let extra = cap - used(lo);
  return counts.map((c) => {
    if (c <= lo) return c;
    if (extra > 0) {
      extra--;
      return lo + 1;
    }
    return lo;
  });
}

export async function timeline(store: AuditStore, f: AuditFilter, lanes: number, withDetections = true): Promise<Timeline> {
  const w = filterWhere(f, { skipName: true }).add(REQUEST_STAGE).add("resource IS NOT NULL").add(`${KIND_SQL} IS NOT NULL`);
  const cols = `audit_id, stage, ts, verb, "user", code, subresource, status_reason, status_message, authz_reason, resource, coalesce(api_group, '') AS api_group,
                coalesce(namespace, '') AS ns, ${KIND_SQL} AS kind`;
  // A create with generateName is logged without objectRef.name: the name is in its response body.
  const namedSql = (): string => `(SELECT ${cols}, name AS oname FROM events ${w.sql()} AND name IS NOT NULL
         UNION ALL
         SELECT e.*, json_extract_string(b.response_object, '$.metadata.name') AS oname
           FROM (SELECT ${cols} FROM events ${w.sql()} AND name IS NULL AND verb = 'create' AND code >= 200 AND code < 300) e
           JOIN bodies b ON b.audit_id = e.audit_id AND b.stage = e.stage)`;
  let named = namedSql();
  let namedValues = [...w.values, ...w.values];
  const nameSql = f.name !== undefined ? "AND oname = ?" : "";
  const nameValues = f.name !== undefined ? [f.name] : [];
  // The objects shown: the busiest `lanes` of them.
  const objects = await store.query(
    `SELECT resource, api_group, ns, oname, count(*) AS n, count(*) OVER () AS total
       FROM ${named} WHERE oname IS NOT NULL ${nameSql}
      GROUP BY resource, api_group, ns, oname ORDER BY n DESC, resource, api_group, ns, oname LIMIT ?`,
    [...namedValues, ...nameValues, lanes],
  );
  const totalObjects = Number(objects[0]?.total ?? 0);
  const counts = objects.map((o) => Number(o.n));
  const quota = quotas(counts, MAX_TIMELINE_EVENTS);
  const truncatedEvents = quota.some((q, i) => q < counts[i]!);
  const lanesJson = (extra: (i: number) => Record<string, unknown>): string =>
    JSON.stringify(objects.map((o, i) => ({ resource: o.resource, api_group: o.api_group, ns: o.ns, oname: o.oname, i, ...extra(i) })));
  const LANES = (extraType: string): string =>
    `lanes AS (SELECT unnest(from_json(CAST(? AS JSON), '[{"resource":"VARCHAR","api_group":"VARCHAR","ns":"VARCHAR","oname":"VARCHAR","i":"INTEGER"${extraType}}]'), recursive := true))`;
  const JOIN = "JOIN lanes l ON l.resource = c.resource AND l.api_group = c.api_group AND l.ns = c.ns AND l.oname = c.oname";
  // When the lanes hold more events than the cap, each keeps its newest `quota`: the time of its
  // quota-th newest event is found by an aggregate (a window over wide rows costs seconds on 1M events).
  let cutoffs: string[] | undefined;
  let oldestShown: string | undefined;
  if (truncatedEvents) {
    const cut = await store.query(
      `WITH ${LANES(`,"q":"BIGINT"`)}
       SELECT i, CAST(cutoff AS VARCHAR) AS cutoff, epoch_us(cutoff) AS us
         FROM (SELECT l.i, max(c.ts, CAST(? AS BIGINT))[any_value(l.q)] AS cutoff FROM ${named} c ${JOIN} GROUP BY l.i)`,
      [lanesJson((i) => ({ q: quota[i] })), Math.max(...quota), ...namedValues],
    );
    cutoffs = new Array<string>(objects.length);
    let oldest: { us: number; text: string } | undefined;
    for (const r of cut) {
      cutoffs[Number(r.i)] = String(r.cutoff);
      if (!oldest || Number(r.us) < oldest.us) oldest = { us: Number(r.us), text: String(r.cutoff) };
    }
    // No lane keeps anything older than the oldest cut-off: a plain range on ts the scan prunes by zone maps.
    if (oldest) {
      oldestShown = oldest.text;
      w.add("ts >= CAST(? AS TIMESTAMPTZ)", oldest.text);
      named = namedSql();
      namedValues = [...w.values, ...w.values];
    }
  }
  const rows = objects.length === 0 ? [] : await queryRows(store,
    `WITH ${LANES(cutoffs ? `,"cutoff":"VARCHAR"` : "")}
     SELECT c.audit_id, c.stage, ${TS("c.ts")} AS time, ${cutoffs ? "epoch_us(c.ts)" : "NULL"} AS us, c.verb, c."user", c.code, c.subresource, c.kind, l.i,
            CASE WHEN c.kind <> 'revision' THEN coalesce(c.status_message, c.status_reason, c.authz_reason) END AS why
       FROM ${named} c ${JOIN}
     ${cutoffs ? "WHERE c.ts >= CAST(l.cutoff AS TIMESTAMPTZ)" : ""}`,
    [lanesJson((i) => (cutoffs ? { cutoff: cutoffs[i] } : {})), ...namedValues],
  );
  if (cutoffs) {
    // Events that share the cut-off time may overshoot a lane's quota: keep its newest (then by audit ID).
    const perLane = new Map<number, typeof rows>();
    for (const r of rows) {
      const list = perLane.get(Number(r.i)) ?? [];
      list.push(r);
      perLane.set(Number(r.i), list);
    }
    rows.length = 0;
    for (const [i, list] of perLane) {
      list.sort((a, b) => Number(b.us) - Number(a.us) || cmp(String(a.audit_id), String(b.audit_id)));
      rows.push(...list.slice(0, quota[i]));
    }
  }
  // Lane i is objects[i]: the lane's own columns come from there, not from every row.
  const laneOf: Lane[] = objects.map((o) => {
    const resource = o.api_group === "" ? String(o.resource) : `${String(o.resource)}.${String(o.api_group)}`;
    const namespace = o.ns === "" ? null : String(o.ns);
    const name = String(o.oname);
    return { key: laneKey(resource, namespace, name), resource, apiGroup: String(o.api_group), namespace, name, revisions: [], marks: [] };
  });
  for (const r of rows) {
    const lane = laneOf[Number(r.i)]!;
    const base = { ts: String(r.time), audit_id: String(r.audit_id), stage: String(r.stage) };
    if (r.kind === "revision") {
      lane.revisions.push({ ...base, verb: String(r.verb), subresource: (r.subresource as string | null) ?? null, user: (r.user as string | null) ?? null, code: (r.code as number | null) ?? null });
    } else {
      const type = r.kind as MarkType;
      lane.marks.push({ ...base, type, label: markLabel(type, r) });
    }
  }
  const byKey = new Map(laneOf.filter((l) => l.revisions.length + l.marks.length > 0).map((l) => [l.key, l]));
  let truncatedDetections = false;
  if (withDetections && byKey.size > 0) {
    // Detection marks for the lanes shown: the rules run on those objects' candidate events only.
    const dw = filterWhere(f, { skipName: true }).add("resource IS NOT NULL");
    // When lanes keep only their newest events, detections older than all of them are left out too.
    if (oldestShown !== undefined) dw.add("ts >= CAST(? AS TIMESTAMPTZ)", oldestShown);
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
