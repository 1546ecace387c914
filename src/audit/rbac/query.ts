import type { AuditStore } from "../store.js";
import type { RequestAttributes } from "./derive.js";

export interface RbacWindow {
  since?: Date;
  until?: Date;
}

export interface IdentityRequests {
  /** Successful (2xx) requests, one per audit ID. */
  allowed: RequestAttributes[];
  /** Denied (403) requests, one per audit ID. */
  denied: RequestAttributes[];
  /** Groups the identity authenticated with in the window (union over its events). */
  groups: string[];
}

/**
 * The identity's requests in the window. A request counts once (its audit ID): ResponseComplete or
 * Panic with its code, or ResponseStarted for watches (their ResponseComplete may come much later,
 * or never inside the window).
 */
export async function identityRequests(store: AuditStore, username: string, w: RbacWindow): Promise<IdentityRequests> {
  const where = [`"user" = ?`, `(stage IN ('ResponseComplete', 'Panic') OR (stage = 'ResponseStarted' AND verb = 'watch'))`, `((code BETWEEN 200 AND 299) OR code = 403)`];
  const values: string[] = [username];
  if (w.since) {
    where.push("ts >= CAST(? AS TIMESTAMPTZ)");
    values.push(w.since.toISOString());
  }
  if (w.until) {
    where.push("ts < CAST(? AS TIMESTAMPTZ)");
    values.push(w.until.toISOString());
  }
  const rows = await store.query(
    `SELECT audit_id, verb, namespace, api_group, resource, subresource, name, request_uri, code, user_groups
       FROM events WHERE ${where.join(" AND ")} ORDER BY received_ts, ts, audit_id, stage`,
    values,
  );
  const seen = new Set<string>();
  const out: IdentityRequests = { allowed: [], denied: [], groups: [] };
  const groups = new Set<string>();
  for (const r of rows) {
    for (const g of (r.user_groups as string[] | null) ?? []) groups.add(g);
    const id = String(r.audit_id);
    if (seen.has(id)) continue;
    seen.add(id);
    const s = (k: string): string | null => (r[k] === null || r[k] === undefined || r[k] === "" ? null : String(r[k]));
    const req: RequestAttributes = {
      verb: String(r.verb),
      namespace: s("namespace"),
      apiGroup: s("api_group"),
      resource: s("resource"),
      subresource: s("subresource"),
      name: s("name"),
      requestUri: s("request_uri"),
    };
    (Number(r.code) === 403 ? out.denied : out.allowed).push(req);
  }
  out.groups = [...groups].sort();
  return out;
}
