// One stored audit event rebuilt as an audit.k8s.io/v1 Event (its row plus its bodies), and the
// history of one object (`audit history`'s JSON). Bodies are redacted again on the way out: a store
// ingested with --keep-secret-data holds Secret values, and they must not reach the page.
import {
  AmbiguousObjectError, REDACTED, REQUEST_STAGE, objectHistory, parseResource, redactBody, type AuditStore, type History,
} from "../../audit/public.js";
import { BadRequest, NotFound } from "../http.js";
import { TS } from "./audit-filter.js";

type Row = Record<string, unknown>;

/** The columns an Event is rebuilt from; `b` is the bodies table. */
export const EVENT_SELECT = `e.audit_id, e.stage, e.level, ${TS("e.ts")} AS stage_ts, ${TS("e.received_ts")} AS received_ts, e.verb, e.request_uri,
  e."user", e.user_groups, e.impersonated_user, e.user_agent, e.source_ip, e.namespace, e.resource, e.subresource, e.api_group, e.api_version,
  e.name, e.code, e.status_reason, e.status_message, e.authz_decision, e.authz_reason,
  CAST(b.request_object AS VARCHAR) AS request_object, CAST(b.response_object AS VARCHAR) AS response_object`;

function parseBody(v: unknown): unknown {
  if (typeof v !== "string") return undefined;
  try {
    return JSON.parse(v) as unknown;
  } catch {
    return undefined;
  }
}

const s = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);

/** An audit.k8s.io/v1 Event from a row selected with EVENT_SELECT; bodies redacted (Secret data, tokens). */
export function rowToEvent(r: Row): Record<string, unknown> {
  const ctx = { resource: (r.resource as string | null) ?? null, subresource: (r.subresource as string | null) ?? null };
  const requestObject = parseBody(r.request_object);
  const responseObject = parseBody(r.response_object);
  if (requestObject !== undefined) redactBody(requestObject, ctx, {});
  if (responseObject !== undefined) redactBody(responseObject, ctx, {});
  const ev: Record<string, unknown> = {
    kind: "Event",
    apiVersion: "audit.k8s.io/v1",
    level: s(r.level),
    auditID: r.audit_id,
    stage: r.stage,
    requestURI: s(r.request_uri),
    verb: s(r.verb),
    user: { username: r.user ?? undefined, groups: Array.isArray(r.user_groups) ? r.user_groups : undefined },
    impersonatedUser: s(r.impersonated_user) ? { username: r.impersonated_user } : undefined,
    sourceIPs: s(r.source_ip) ? [r.source_ip] : undefined,
    userAgent: s(r.user_agent),
  };
  if (s(r.resource) || s(r.namespace) || s(r.name)) {
    ev.objectRef = {
      resource: s(r.resource),
      namespace: s(r.namespace),
      name: s(r.name),
      apiGroup: s(r.api_group),
      apiVersion: s(r.api_version),
      subresource: s(r.subresource),
    };
  }
  if (r.code !== null && r.code !== undefined) {
    ev.responseStatus = { metadata: {}, code: r.code, reason: s(r.status_reason), message: s(r.status_message) };
  }
  ev.requestObject = requestObject;
  ev.responseObject = responseObject;
  ev.requestReceivedTimestamp = r.received_ts ?? undefined;
  ev.stageTimestamp = r.stage_ts ?? undefined;
  const annotations: Record<string, string> = {};
  if (s(r.authz_decision)) annotations["authorization.k8s.io/decision"] = String(r.authz_decision);
  if (s(r.authz_reason)) annotations["authorization.k8s.io/reason"] = String(r.authz_reason);
  if (Object.keys(annotations).length > 0) ev.annotations = annotations;
  // The Event carries only what was logged: no undefined fields (the bodies are left as parsed).
  for (const k of ["user", "objectRef", "responseStatus"]) if (ev[k] !== undefined) ev[k] = defined(ev[k] as Row);
  return defined(ev);
}

function defined(o: Row): Row {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

/** The event with this audit ID (and stage; without one, the request's completion event). NotFound when unknown. */
export async function auditEvent(store: AuditStore, auditId: string, stage: string | undefined): Promise<Record<string, unknown>> {
  const values: string[] = [auditId];
  let stageSql = "";
  if (stage !== undefined) {
    stageSql = "AND stage = ?";
    values.push(stage);
  }
  const rows = await store.query(
    `SELECT ${EVENT_SELECT}
       FROM (SELECT *, coalesce(${REQUEST_STAGE}, false) AS is_request FROM events WHERE audit_id = ? ${stageSql}) e
       LEFT JOIN bodies b ON b.audit_id = e.audit_id AND b.stage = e.stage
      ORDER BY e.is_request DESC, e.ts DESC
      LIMIT 1`,
    values,
  );
  const r = rows[0];
  if (!r) throw new NotFound(stage === undefined ? `no audit event with audit_id ${auditId}` : `no audit event with audit_id ${auditId} and stage ${stage}`);
  return rowToEvent(r);
}

/** Leaf strings of `orig` where redaction put something else in `redacted` (the secret values it removed). */
function removedValues(orig: unknown, redacted: unknown, out: Set<string>): void {
  if (typeof orig === "string") {
    if (orig === redacted || orig === "") return;
    // A last-applied annotation is re-serialized with its values redacted: the values inside it go.
    const inner = typeof redacted === "string" && redacted !== REDACTED ? [parseBody(orig), parseBody(redacted)] : undefined;
    if (inner && inner[0] !== undefined && inner[1] !== undefined) removedValues(inner[0], inner[1], out);
    else out.add(orig);
    return;
  }
  if (orig === null || typeof orig !== "object" || redacted === null || typeof redacted !== "object") return;
  if (Array.isArray(orig)) orig.forEach((v, i) => removedValues(v, (redacted as unknown[])[i], out));
  else for (const [k, v] of Object.entries(orig)) removedValues(v, (redacted as Record<string, unknown>)[k], out);
}

/** Every string in `v` with each secret value in it replaced by the redaction marker. */
function maskValues(v: unknown, secrets: string[]): unknown {
  if (typeof v === "string") return secrets.reduce((text, sv) => (text.includes(sv) ? text.split(sv).join(REDACTED) : text), v);
  if (Array.isArray(v)) return v.map((x) => maskValues(x, secrets));
  if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, maskValues(x, secrets)]));
  return v;
}

/**
 * `audit history RESOURCE NAME -n NAMESPACE -o json`; namespace "-" is a cluster-scoped object.
 * A store ingested with --keep-secret-data holds Secret values, and a diff would show them (a
 * changed `data.password`, a last-applied annotation): every value redaction would remove from a
 * revision's object is masked wherever it appears in the answer.
 */
export async function history(store: AuditStore, resource: string, namespace: string | undefined, name: string): Promise<History> {
  let h: History;
  try {
    h = await objectHistory(store, parseResource(resource), name, { namespace: namespace === "-" ? "" : namespace, objects: true });
  } catch (err) {
    if (err instanceof AmbiguousObjectError) {
      // The CLI's advice names its flags; here the parameters are namespace and resource (plural.group).
      const byNamespace = /several namespaces/.test(err.message);
      const message = err.message.replace(/: give -n NAMESPACE \(- for <cluster>\)$/, ": give namespace (\"-\" for cluster-scoped)").replace(/: give RESOURCE\.GROUP$/, ": give resource as plural.group");
      throw new BadRequest(`query parameter ${byNamespace ? "namespace" : "resource"}: ${message}`);
    }
    throw err;
  }
  const secrets = new Set<string>();
  for (const rev of h.revisions) {
    if (rev.object === null || rev.object === undefined) continue;
    const copy = structuredClone(rev.object);
    redactBody(copy, { resource: h.resource, subresource: rev.subresource }, {});
    removedValues(rev.object, copy, secrets);
    rev.object = null; // as `audit history` prints without --objects
  }
  if (secrets.size === 0) return h;
  const values = [...secrets].sort((a, b) => b.length - a.length);
  for (const rev of h.revisions) rev.changes = rev.changes === null ? null : (maskValues(rev.changes, values) as typeof rev.changes);
  return h;
}
