// The built-in detection rules (`audit detect`) over a bounded slice of the store: the SQL
// pre-filter of the rules narrows the candidates, the newest `maxScan` of them are read with their
// bodies (streamed, so memory stays bounded) and the rules run on each in JS.
import { DETECT_STAGE_SQL, fromRawEvent, loadRules, matches, prefilterSql, type AuditStore, type DetectEvent, type Rule } from "../../audit/public.js";
import { EVENT_SELECT, rowToEvent } from "./audit-event.js";
import type { Where } from "./audit-filter.js";

let builtin: Rule[] | undefined;
/** The built-in rules, enabled ones only (parsed once). */
export function rules(): Rule[] {
  builtin ??= loadRules().filter((r) => r.enabled);
  return builtin;
}

export interface Hit {
  rule: Rule;
  event: DetectEvent;
  /** The object's name: objectRef.name, or for a create with generateName (no name logged) the created object's. */
  name: string | null;
}

export interface DetectionScan {
  hits: Hit[];
  /** Candidate events read (each evaluated against every rule). */
  scanned: number;
  /** True when candidates were left unread (maxScan) or hits were left out (maxHits). */
  truncated: boolean;
}

/**
 * Runs the rules over the candidates matching `w` (conditions over `events` columns), newest first.
 * The newest maxScan candidates are found in two steps so DuckDB never sorts wide rows: the time of
 * the oldest of them (an ORDER BY over ts alone), then the candidates at or after it (a range the
 * scan prunes by zone maps), streamed with their bodies.
 */
export async function scanDetections(store: AuditStore, w: Where, opts: { maxScan: number; maxHits: number }): Promise<DetectionScan> {
  const active = rules();
  const out: DetectionScan = { hits: [], scanned: 0, truncated: false };
  if (active.length === 0) return out;
  const candidates = `${DETECT_STAGE_SQL} AND ${prefilterSql(active)} AND ${w.and()}`;
  const [bound] = await store.query(`SELECT CAST(ts AS VARCHAR) AS ts FROM events WHERE ${candidates} ORDER BY ts DESC LIMIT 1 OFFSET ?`, [...w.values, opts.maxScan - 1]);
  const since = bound?.ts === null || bound?.ts === undefined ? "" : " AND ts >= CAST(? AS TIMESTAMPTZ)";
  const sql = `SELECT ${EVENT_SELECT}
       FROM (SELECT * FROM events WHERE ${candidates}${since} ORDER BY ts DESC, audit_id, stage LIMIT ?) e
       LEFT JOIN bodies b ON b.audit_id = e.audit_id AND b.stage = e.stage
      ORDER BY e.ts DESC, e.audit_id, e.stage`;
  const result = await store.connection.stream(sql, [...w.values, ...(since ? [String(bound!.ts)] : []), opts.maxScan + 1]);
  const names = result.columnNames();
  for await (const batch of result.yieldRowsJs()) {
    for (const values of batch) {
      if (out.scanned === opts.maxScan) {
        out.truncated = true;
        return out;
      }
      out.scanned++;
      const row: Record<string, unknown> = {};
      for (let c = 0; c < names.length; c++) row[names[c]!] = values[c];
      const raw = rowToEvent(row);
      const ev = fromRawEvent(raw);
      for (const rule of active) {
        if (!matches(rule, ev)) continue;
        if (out.hits.length === opts.maxHits) {
          out.truncated = true;
          return out;
        }
        out.hits.push({ rule, event: ev, name: ev.name ?? createdName(raw) });
      }
    }
  }
  return out;
}

function createdName(raw: Record<string, unknown>): string | null {
  const resp = raw.responseObject as { metadata?: { name?: unknown } } | undefined;
  return raw.verb === "create" && typeof resp?.metadata?.name === "string" ? resp.metadata.name : null;
}
