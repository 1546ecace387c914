// `audit history RESOURCE NAME`: every revision of one object rebuilt from the bodies of its
// write events (create/update/patch/apply responses; a patch's result is its response object),
// who made each one, and a field-level diff to the previous revision. See docs/audit.md "History".
import type { AuditStore } from "../store.js";
import { REQUEST_STAGE } from "../queries.js";
import { diffObjects, diffObjectsHidingNoise, type Change } from "./diff.js";
import type { ResourceRef } from "./resource.js";

export const METADATA_NOTE = "some revisions were logged without bodies (Metadata level): diffs need Request or RequestResponse level";

export interface HistoryOptions {
  namespace?: string;
  since?: Date;
  until?: Date;
  /** Show metadata.managedFields and metadata.resourceVersion changes too. */
  allFields?: boolean;
  /** Include each revision's whole object (`object`); otherwise null. */
  objects?: boolean;
}

export interface Revision {
  index: number;
  lifetime: number;
  time: string;
  audit_id: string;
  level: string | null;
  verb: string;
  subresource: string | null;
  user: string | null;
  user_agent: string | null;
  field_manager: string | null;
  /** "query" (?fieldManager=), "managedFields" (entry whose time matches), "user-agent" (the server's default), or null. */
  field_manager_source: "query" | "managedFields" | "user-agent" | null;
  code: number | null;
  resource_version: string | null;
  generation: number | null;
  /**
   * "response" or "request" (create/update logged at Request level); "scale" for a write through
   * the scale subresource, whose body is a Scale: the object is the previous revision with its
   * spec.replicas (and resourceVersion) set; null when the event has no object body.
   */
  body_source: "response" | "request" | "scale" | null;
  /** Changes from the previous revision with a body in the same lifetime; null when there is none to compare with. */
  changes: Change[] | null;
  /** Changes to metadata.managedFields/resourceVersion left out (0 with --all-fields). */
  hidden_changes: number;
  /** The whole object at this revision, with --objects (null otherwise or without a body). */
  object: unknown;
  note: string | null;
}

export interface Lifetime {
  index: number;
  first_seen: string;
  created_before_window: boolean;
  created_at: string | null;
  created_by: string | null;
  /** The first delete request of this lifetime (the object may outlive it: finalizers, grace period). */
  deletion_requested_at: string | null;
  deletion_requested_by: string | null;
  /** When the object was gone: the delete itself, or the write that removed the last finalizer. */
  deleted_at: string | null;
  /** Who asked for the deletion (not the controller that removed the last finalizer). */
  deleted_by: string | null;
  revisions: number;
}

export interface History {
  resource: string;
  api_group: string | null;
  namespace: string | null;
  name: string;
  lifetimes: Lifetime[];
  revisions: Revision[];
  notes: string[];
}

export class AmbiguousObjectError extends Error {}

const TS = (col: string): string => `strftime(CAST(${col} AS TIMESTAMP), '%Y-%m-%dT%H:%M:%S.%fZ')`;

function parseBody(v: unknown): Record<string, unknown> | null {
  if (v === null || v === undefined) return null;
  try {
    const o: unknown = typeof v === "string" ? JSON.parse(v) : v;
    return typeof o === "object" && o !== null && !Array.isArray(o) ? (o as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function fieldManagerFromUri(uri: string | null): string | null {
  if (!uri) return null;
  const q = uri.indexOf("?");
  if (q < 0) return null;
  return new URLSearchParams(uri.slice(q + 1)).get("fieldManager");
}

/** The API server's default manager: the user agent up to its first "/" (managerOrUserAgent). */
export function defaultManager(userAgent: string | null): string | null {
  if (!userAgent) return null;
  return userAgent.split("/")[0]!.slice(0, 128) || null;
}

const seconds = (iso: string | null): string | null => (iso ? iso.replace(/\.\d+Z$/, "Z") : null);

function managerFromManagedFields(obj: Record<string, unknown> | null, times: (string | null)[], subresource: string | null): string | null {
  const meta = obj?.metadata as { managedFields?: { manager?: string; time?: string; subresource?: string }[] } | undefined;
  const entries = meta?.managedFields;
  if (!Array.isArray(entries)) return null;
  const want = new Set(times.map(seconds).filter((t): t is string => t !== null));
  const hits = entries.filter((e) => e.time !== undefined && want.has(e.time) && (e.subresource ?? null) === (subresource ?? null));
  return hits.length === 1 ? (hits[0]!.manager ?? null) : null;
}

interface DeletionMeta {
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  finalizers?: string[];
}
const deletionMeta = (obj: Record<string, unknown>): DeletionMeta => (obj.metadata ?? {}) as DeletionMeta;
const waitsForFinalizersOrGrace = (m: DeletionMeta): boolean => (m.finalizers?.length ?? 0) > 0 || (m.deletionGracePeriodSeconds ?? 0) > 0;

/**
 * After a delete: the API server answers a Status when the object is gone, and the object (with
 * deletionTimestamp) when finalizers or a grace period hold it. No body: taken as gone.
 */
function stillExists(obj: Record<string, unknown> | null): boolean {
  if (!obj) return false;
  const m = deletionMeta(obj);
  return m.deletionTimestamp !== undefined && waitsForFinalizersOrGrace(m);
}

/** A write that leaves a deleted object with nothing to wait for (the last finalizer removed) removes it. */
function removedByThisWrite(obj: Record<string, unknown>): boolean {
  const m = deletionMeta(obj);
  return m.deletionTimestamp !== undefined && !waitsForFinalizersOrGrace(m);
}

function pendingReason(obj: Record<string, unknown>): string {
  const m = deletionMeta(obj);
  const parts: string[] = [];
  if (m.finalizers?.length) parts.push(`finalizers ${m.finalizers.join(", ")}`);
  if ((m.deletionGracePeriodSeconds ?? 0) > 0) parts.push(`grace period ${m.deletionGracePeriodSeconds}s`);
  return `waits for ${parts.join(" and ")}`;
}

/** The previous revision with the replicas a scale write set (its Scale's resourceVersion is the object's). */
function withReplicas(prev: Record<string, unknown>, replicas: number, resourceVersion: string | undefined): Record<string, unknown> {
  const spec = { ...((prev.spec as Record<string, unknown> | undefined) ?? {}), replicas };
  const metadata = { ...((prev.metadata as Record<string, unknown> | undefined) ?? {}) };
  if (resourceVersion !== undefined) metadata.resourceVersion = resourceVersion;
  return { ...prev, metadata, spec };
}

export async function objectHistory(store: AuditStore, ref: ResourceRef, name: string, o: HistoryOptions = {}): Promise<History> {
  const where = ["e.resource = ?", "e.verb IN ('create', 'update', 'patch', 'apply', 'delete')", "e.code >= 200 AND e.code < 300", "(e.subresource IS NULL OR e.subresource = 'status' OR (e.subresource = 'scale' AND e.verb IN ('update', 'patch')))"];
  const values: string[] = [ref.resource];
  if (ref.group !== undefined) {
    where.push("coalesce(e.api_group, '') = ?");
    values.push(ref.group);
  }
  if (o.namespace !== undefined) {
    where.push("coalesce(e.namespace, '') = ?");
    values.push(o.namespace);
  }
  if (o.since) {
    where.push("e.ts >= CAST(? AS TIMESTAMPTZ)");
    values.push(o.since.toISOString());
  }
  if (o.until) {
    where.push("e.ts < CAST(? AS TIMESTAMPTZ)");
    values.push(o.until.toISOString());
  }
  // Creates with generateName are logged without objectRef.name: the name is in the response.
  where.push("(e.name = ? OR (e.name IS NULL AND e.verb = 'create' AND json_extract_string(b.response_object, '$.metadata.name') = ?))");
  values.push(name, name);
  const rows = await store.query(
    `SELECT e.audit_id, e.level, ${TS("e.ts")} AS time, ${TS("e.received_ts")} AS received, e.verb, e.subresource, e."user", e.user_agent,
            e.request_uri, e.code, e.namespace, e.api_group, CASE WHEN b.response_object IS NULL OR e.verb = 'delete' OR json_extract_string(b.response_object, '$.kind') = 'Status' THEN CAST(b.request_object AS VARCHAR) END AS request_object, CAST(b.response_object AS VARCHAR) AS response_object
       FROM (SELECT * FROM events WHERE ${REQUEST_STAGE}) e LEFT JOIN bodies b ON b.audit_id = e.audit_id AND b.stage = e.stage
      WHERE ${where.join(" AND ")}
      ORDER BY e.ts, e.received_ts, e.audit_id`,
    values,
  );
  const namespaces = [...new Set(rows.map((r) => (r.namespace as string | null) ?? ""))];
  if (namespaces.length > 1) throw new AmbiguousObjectError(`${ref.resource} ${name} exists in several namespaces (${namespaces.map((n) => n || "<cluster>").join(", ")}): give -n NAMESPACE (- for <cluster>)`);
  const groups = [...new Set(rows.map((r) => (r.api_group as string | null) ?? ""))];
  if (groups.length > 1) throw new AmbiguousObjectError(`${ref.resource} ${name} exists in several API groups (${groups.map((g) => g || "core").join(", ")}): give RESOURCE.GROUP`);

  const lifetimes: Lifetime[] = [];
  const revisions: Revision[] = [];
  let current: Lifetime | null = null;
  let prev: Record<string, unknown> | null = null;
  let missingBodies = false;
  for (const r of rows) {
    const verb = String(r.verb);
    const time = String(r.time);
    const user = (r.user as string | null) ?? null;
    const subresource = (r.subresource as string | null) ?? null;
    const resp = parseBody(r.response_object);
    const req = parseBody(r.request_object);
    let obj: Record<string, unknown> | null = null;
    let source: Revision["body_source"] = null;
    let partial = false;
    if (subresource === "scale") {
      // The body is a Scale (autoscaling/v1): it tells spec.replicas, not the object.
      const scale = resp?.kind === "Scale" ? resp : verb === "update" && req?.kind === "Scale" ? req : null;
      const replicas = (scale?.spec as { replicas?: unknown } | undefined)?.replicas;
      if (prev && typeof replicas === "number") {
        obj = withReplicas(prev, replicas, (scale!.metadata as { resourceVersion?: string } | undefined)?.resourceVersion);
        source = "scale";
      }
    } else if (resp?.kind === "PartialObjectMetadata") {
      // Asked for metadata only (the garbage collector does): the rest is the previous revision's.
      partial = true;
      if (prev) {
        obj = Object.assign({}, prev, { metadata: resp.metadata });
        source = "response";
      }
    } else if (resp && resp.kind !== "Status") {
      // A delete answers with the object when it is not gone yet (finalizers, graceful deletion).
      obj = resp;
      source = "response";
    } else if ((verb === "create" || verb === "update") && req && req.kind !== "Status") {
      obj = req;
      source = "request";
    }
    if (verb === "create" || current === null) {
      const meta = obj?.metadata as { creationTimestamp?: string } | undefined;
      current = {
        index: lifetimes.length + 1,
        first_seen: time,
        created_before_window: verb !== "create",
        created_at: verb === "create" ? time : (meta?.creationTimestamp ?? null),
        created_by: verb === "create" ? user : null,
        deletion_requested_at: null,
        deletion_requested_by: null,
        deleted_at: null,
        deleted_by: null,
        revisions: 0,
      };
      lifetimes.push(current);
      prev = null;
    }
    current.revisions++;
    let changes: Change[] | null = null;
    let hidden = 0;
    if (obj && prev) {
      if (o.allFields) changes = diffObjects(prev, obj);
      else ({ changes, hidden } = diffObjectsHidingNoise(prev, obj));
    }
    const gone = verb === "delete" ? !stillExists(obj) : obj !== null && removedByThisWrite(obj);
    let note: string | null = null;
    if (verb === "delete") note = gone ? "deleted" : `deletion requested: ${pendingReason(obj!)}`;
    else if (!obj && subresource === "scale") note = prev ? "through the scale subresource, without a Scale body: diffs need Request or RequestResponse level" : "through the scale subresource; no earlier revision to apply it to";
    else if (!obj && partial) note = "metadata-only response (PartialObjectMetadata) and no earlier revision to apply it to";
    else if (!obj) {
      missingBodies = true;
      note = r.level === "Metadata" || r.level === "None" ? "no body (Metadata level): diffs need Request or RequestResponse level" : "no object body in this event (a patch needs RequestResponse level)";
    } else if (source === "scale") note = "through the scale subresource: spec.replicas only (other fields it changed show in the next revision)";
    else if (partial) note = "metadata-only response (PartialObjectMetadata): the other fields are the previous revision's";
    else if (!prev) note = verb === "create" ? "created" : "first seen (created before the window)";
    if (gone && verb !== "delete") note = `${note ? `${note}; ` : ""}the last finalizer is gone: object deleted`;

    let manager: string | null = null;
    let managerSource: Revision["field_manager_source"] = null;
    if (verb !== "delete") {
      manager = fieldManagerFromUri((r.request_uri as string | null) ?? null);
      if (manager) managerSource = "query";
      // A scale revision's object carries the previous revision's managedFields: not evidence.
      else if (source !== "scale" && (manager = managerFromManagedFields(obj, [time, (r.received as string | null) ?? null], subresource))) managerSource = "managedFields";
      else if ((manager = defaultManager((r.user_agent as string | null) ?? null))) managerSource = "user-agent";
    }
    const meta = (obj?.metadata ?? {}) as { resourceVersion?: string; generation?: number };
    revisions.push({
      index: revisions.length + 1,
      lifetime: current.index,
      time,
      audit_id: String(r.audit_id),
      level: (r.level as string | null) ?? null,
      verb,
      subresource,
      user,
      user_agent: (r.user_agent as string | null) ?? null,
      field_manager: manager,
      field_manager_source: managerSource,
      code: (r.code as number | null) ?? null,
      resource_version: meta.resourceVersion ?? null,
      generation: source === "scale" ? null : (meta.generation ?? null),
      body_source: source,
      changes,
      hidden_changes: hidden,
      object: o.objects ? obj : null,
      note,
    });
    if (obj) prev = obj;
    if (verb === "delete" && current.deletion_requested_at === null) {
      current.deletion_requested_at = time;
      current.deletion_requested_by = user;
    }
    if (gone) {
      current.deleted_at = time;
      current.deleted_by = current.deletion_requested_by ?? user;
      current = null;
      prev = null;
    }
  }
  const notes: string[] = [];
  if (missingBodies) notes.push(METADATA_NOTE);
  const first = rows[0];
  return {
    resource: ref.resource,
    api_group: first ? ((first.api_group as string | null) ?? "") : (ref.group ?? null),
    namespace: first ? ((first.namespace as string | null) ?? null) : (o.namespace ?? null),
    name,
    lifetimes,
    revisions,
    notes,
  };
}
