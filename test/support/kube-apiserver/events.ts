// Events: events.k8s.io/v1 and core/v1 are two views of the same stored objects, as in the real
// server (pkg/apis/events/v1 conversion, pkg/apis/core/validation/events.go, v1.25):
// - objects are stored as core/v1 Events; events.k8s.io/v1 requests are served from that storage
//   (`storedAs`), bodies converted on the way in (`eventForStorage`) and out (`eventToExternal`):
//   regarding ⇄ involvedObject, note ⇄ message, reportingController ⇄ reportingComponent,
//   deprecatedSource/deprecatedFirstTimestamp/deprecatedLastTimestamp/deprecatedCount ⇄
//   source/firstTimestamp/lastTimestamp/count; eventTime, series, action, reason, related, type,
//   reportingInstance as they are;
// - both shapes are written as Go writes the structs: core/v1 always has involvedObject, source {},
//   firstTimestamp/lastTimestamp/eventTime (null when unset), reportingComponent and
//   reportingInstance ("" when unset); events.k8s.io/v1 always has eventTime, regarding,
//   deprecatedSource {}, deprecatedFirstTimestamp/deprecatedLastTimestamp (null when unset);
// - validation: every Event passes the legacy rules (namespace of involvedObject; with eventTime
//   set: reportingController/Instance, action, reason required and bounded); events created
//   through events.k8s.io/v1 must also have eventTime, type Normal|Warning, a valid series, and no
//   deprecated* fields. Core/v1 accepts any type (`type: Bogus` → 201). Errors name the core kind
//   (`Event "x" is invalid: eventTime: Required value`, no group);
// - field selectors of events.k8s.io/v1 are translated to the core fields (`regarding.name` →
//   `involvedObject.name`, `reportingController` → `reportingComponent`); others are
//   `field label not supported: <label>`.
import type { ResourceInfo, ResourceRegistry } from "./resources.js";
import { ApiError, errors, statusObject, type StatusCause } from "./status.js";
import type { KubeObject } from "./store.js";

export const EVENTS_GROUP = "events.k8s.io";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

/** Whether the request addresses events.k8s.io Events (served from core storage). */
export function isEventsApi(group: string, resource: string): boolean {
  return group === EVENTS_GROUP && resource === "events";
}

/** The resource a request's objects are stored as: core/v1 events for events.k8s.io events. */
export function storedAs(registry: ResourceRegistry, info: ResourceInfo | undefined): ResourceInfo | undefined {
  if (!info || !isEventsApi(info.group, info.resource)) return info;
  return registry.get("", "v1", "events") ?? info;
}

function isCoreEvents(group: string, info: ResourceInfo): boolean {
  return info.group === "" && info.resource === "events" && (group === "" || group === EVENTS_GROUP);
}

const REF_KEYS = ["kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"];

/** An ObjectReference as Go writes it: its fields in struct order, empty strings left out. */
function objectReference(v: unknown): Obj {
  const src = isObj(v) ? v : {};
  const out: Obj = {};
  for (const k of REF_KEYS) if (src[k] !== undefined && src[k] !== "" && src[k] !== null) out[k] = src[k];
  for (const [k, x] of Object.entries(src)) if (!REF_KEYS.includes(k) && x !== undefined) out[k] = x;
  return out;
}

function eventSource(v: unknown): Obj {
  const src = isObj(v) ? v : {};
  const out: Obj = {};
  if (src.component) out.component = src.component;
  if (src.host) out.host = src.host;
  return out;
}

const set = (o: Obj, k: string, v: unknown): void => {
  if (v !== undefined && v !== null && v !== "" && v !== 0) o[k] = v;
};

const CORE_FIELDS = new Set([
  "apiVersion", "kind", "metadata", "involvedObject", "reason", "message", "source", "firstTimestamp", "lastTimestamp",
  "count", "type", "eventTime", "series", "action", "related", "reportingComponent", "reportingInstance",
]);
const V1_FIELDS = new Set([
  "apiVersion", "kind", "metadata", "eventTime", "series", "reportingController", "reportingInstance", "action", "reason",
  "regarding", "related", "note", "type", "deprecatedSource", "deprecatedFirstTimestamp", "deprecatedLastTimestamp", "deprecatedCount",
]);

/** Top-level fields whose names differ: core/v1 → events.k8s.io/v1. */
const CORE_TO_V1: Record<string, string> = {
  involvedObject: "regarding",
  message: "note",
  reportingComponent: "reportingController",
  source: "deprecatedSource",
  firstTimestamp: "deprecatedFirstTimestamp",
  lastTimestamp: "deprecatedLastTimestamp",
  count: "deprecatedCount",
};
const V1_TO_CORE = Object.fromEntries(Object.entries(CORE_TO_V1).map(([c, v]) => [v, c]));

/**
 * managedFields entries written through events.k8s.io/v1 name that version's fields, whichever API
 * reads them (the real server keeps each entry in its own version). Field ownership is tracked here
 * on the stored core object, so those entries' top-level names are renamed on the way out and back.
 */
function renameManagedFields(metadata: unknown, names: Record<string, string>): unknown {
  if (!isObj(metadata) || !Array.isArray(metadata.managedFields)) return metadata;
  const managedFields = metadata.managedFields.map((e: unknown) => {
    if (!isObj(e) || e.apiVersion !== `${EVENTS_GROUP}/v1` || !isObj(e.fieldsV1)) return e;
    const fieldsV1 = Object.fromEntries(Object.entries(e.fieldsV1).map(([k, v]) => [k.startsWith("f:") && names[k.slice(2)] ? `f:${names[k.slice(2)]!}` : k, v]));
    return { ...e, fieldsV1 };
  });
  return { ...metadata, managedFields };
}

/** A core/v1 Event (stored form) as the core API writes it. */
export function coreEventOut(o: KubeObject): KubeObject {
  const out: Obj = {};
  if (o.kind !== undefined) out.kind = o.kind;
  if (o.apiVersion !== undefined) out.apiVersion = o.apiVersion;
  out.metadata = renameManagedFields(o.metadata, CORE_TO_V1);
  out.involvedObject = objectReference(o.involvedObject);
  set(out, "reason", o.reason);
  set(out, "message", o.message);
  out.source = eventSource(o.source);
  out.firstTimestamp = o.firstTimestamp ?? null;
  out.lastTimestamp = o.lastTimestamp ?? null;
  set(out, "count", o.count);
  set(out, "type", o.type);
  out.eventTime = o.eventTime ?? null;
  set(out, "series", o.series);
  set(out, "action", o.action);
  set(out, "related", o.related);
  out.reportingComponent = o.reportingComponent ?? "";
  out.reportingInstance = o.reportingInstance ?? "";
  for (const [k, v] of Object.entries(o)) if (!CORE_FIELDS.has(k) && v !== undefined) out[k] = v;
  return out as KubeObject;
}

/** A stored core/v1 Event as events.k8s.io/v1 writes it (apiVersion/kind only when the input had them). */
export function eventToV1(o: KubeObject): KubeObject {
  const out: Obj = {};
  if (o.kind !== undefined) out.kind = "Event";
  if (o.apiVersion !== undefined) out.apiVersion = `${EVENTS_GROUP}/v1`;
  out.metadata = renameManagedFields(o.metadata, CORE_TO_V1);
  out.eventTime = o.eventTime ?? null;
  set(out, "series", o.series);
  set(out, "reportingController", o.reportingComponent);
  set(out, "reportingInstance", o.reportingInstance);
  set(out, "action", o.action);
  set(out, "reason", o.reason);
  out.regarding = objectReference(o.involvedObject);
  set(out, "related", o.related);
  set(out, "note", o.message);
  set(out, "type", o.type);
  out.deprecatedSource = eventSource(o.source);
  out.deprecatedFirstTimestamp = o.firstTimestamp ?? null;
  out.deprecatedLastTimestamp = o.lastTimestamp ?? null;
  set(out, "deprecatedCount", o.count);
  return out as KubeObject;
}

/** An events.k8s.io/v1 body as the stored core/v1 Event (fields it does not know pass through). */
export function eventFromV1(o: KubeObject): KubeObject {
  const out: Obj = { apiVersion: "v1", kind: "Event", metadata: renameManagedFields(o.metadata, V1_TO_CORE) };
  const map: [string, string][] = [
    ["regarding", "involvedObject"],
    ["reason", "reason"],
    ["note", "message"],
    ["deprecatedSource", "source"],
    ["deprecatedFirstTimestamp", "firstTimestamp"],
    ["deprecatedLastTimestamp", "lastTimestamp"],
    ["deprecatedCount", "count"],
    ["type", "type"],
    ["eventTime", "eventTime"],
    ["series", "series"],
    ["action", "action"],
    ["related", "related"],
    ["reportingController", "reportingComponent"],
    ["reportingInstance", "reportingInstance"],
  ];
  // Go's zero values (null times, empty structs) are not stored, so a no-op write stays a no-op.
  for (const [from, to] of map) {
    const v = o[from];
    if (v === undefined || v === null || v === "" || (isObj(v) && Object.keys(v).length === 0)) continue;
    out[to] = v;
  }
  for (const [k, v] of Object.entries(o)) if (!V1_FIELDS.has(k) && v !== undefined) out[k] = v;
  return out as KubeObject;
}

/**
 * The converter from stored objects to what a request in `group` answers with, for Events (core:
 * Go's zero values written out; events.k8s.io/v1: converted); undefined for other resources.
 */
export function eventsToExternal(group: string, info: ResourceInfo): ((o: KubeObject) => KubeObject) | undefined {
  if (!isCoreEvents(group, info)) return undefined;
  return group === EVENTS_GROUP ? eventToV1 : coreEventOut;
}

/** Replaces every key of `target` by those of `source` (callers hold the body by reference). */
function replaceInPlace(target: KubeObject, source: KubeObject): void {
  for (const k of Object.keys(target)) delete target[k];
  Object.assign(target, source);
}

// ---- validation (pkg/apis/core/validation/events.go) ---------------------------------------------

const REPORTING_INSTANCE_LIMIT = 128;
const ACTION_LIMIT = 128;
const REASON_LIMIT = 128;
const NOTE_LIMIT = 1024;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

const required = (field: string): StatusCause => ({ reason: "FieldValueRequired", message: "Required value", field });
const invalid = (field: string, value: unknown, detail: string): StatusCause => ({
  reason: "FieldValueInvalid",
  message: `Invalid value: ${typeof value === "string" ? JSON.stringify(value) : String(value)}: ${detail}`,
  field,
});
const str = (v: unknown): string => (typeof v === "string" ? v : "");
const isZeroTime = (v: unknown): boolean => v === undefined || v === null || v === "";

/** validation.IsQualifiedName's messages. */
function qualifiedNameErrors(value: string): string[] {
  const parts = value.split("/");
  let name = value;
  const errs: string[] = [];
  if (parts.length === 2) {
    const [prefix, n] = parts as [string, string];
    name = n;
    if (prefix.length === 0) errs.push("prefix part must be non-empty");
    else if (prefix.length > 253) errs.push("prefix part must be no more than 253 characters");
    else if (!DNS1123_SUBDOMAIN.test(prefix))
      errs.push(
        "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
      );
  } else if (parts.length > 2) {
    return [
      "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
    ];
  }
  if (name.length === 0) errs.push("name part must be non-empty");
  else if (name.length > 63) errs.push("name part must be no more than 63 characters");
  if (name.length > 0 && !QUALIFIED_NAME.test(name))
    errs.push(
      "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
    );
  return errs;
}

/** legacyValidateEvent: what every Event must satisfy, whichever API wrote it. */
function legacyCauses(e: KubeObject, namespace: string, coreApi: boolean): StatusCause[] {
  const out: StatusCause[] = [];
  const involved = isObj(e.involvedObject) ? e.involvedObject : {};
  const involvedNs = str(involved.namespace);
  const controllerField = coreApi ? "reportingComponent" : "reportingController";
  if (isZeroTime(e.eventTime)) {
    if (involvedNs === "") {
      if (namespace !== "" && namespace !== "default") out.push(invalid("involvedObject.namespace", involvedNs, "does not match event.namespace"));
    } else if (namespace !== involvedNs) out.push(invalid("involvedObject.namespace", involvedNs, "does not match event.namespace"));
  } else {
    if (involvedNs === "" && namespace !== "default" && namespace !== "kube-system")
      out.push(invalid("involvedObject.namespace", involvedNs, "does not match event.namespace"));
    const controller = str(e.reportingComponent);
    if (controller === "") out.push(required(controllerField));
    for (const m of qualifiedNameErrors(controller)) out.push(invalid(controllerField, controller, m));
    if (str(e.reportingInstance) === "") out.push(required("reportingInstance"));
    if (str(e.reportingInstance).length > REPORTING_INSTANCE_LIMIT)
      out.push(invalid("reportingInstance", "", `can have at most ${REPORTING_INSTANCE_LIMIT} characters`));
    if (str(e.action) === "") out.push(required("action"));
    if (str(e.action).length > ACTION_LIMIT) out.push(invalid("action", "", `can have at most ${ACTION_LIMIT} characters`));
    if (str(e.reason) === "") out.push(required("reason"));
    if (str(e.reason).length > REASON_LIMIT) out.push(invalid("reason", "", `can have at most ${REASON_LIMIT} characters`));
    if (str(e.message).length > NOTE_LIMIT) out.push(invalid("message", "", `can have at most ${NOTE_LIMIT} characters`));
  }
  if (namespace !== "" && !DNS1123_SUBDOMAIN.test(namespace))
    out.push(
      invalid(
        "namespace",
        namespace,
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
      ),
    );
  return out;
}

/** ValidateEventCreate's strict part, for events.k8s.io/v1 writes. */
function strictCauses(e: KubeObject): StatusCause[] {
  const out: StatusCause[] = [];
  if (isObj(e.series)) {
    const count = typeof e.series.count === "number" ? e.series.count : 0;
    if (count < 2) out.push(invalid("series.count", "", "should be at least 2"));
    if (isZeroTime(e.series.lastObservedTime)) out.push(required("series.lastObservedTime"));
  }
  if (isZeroTime(e.eventTime)) out.push(required("eventTime"));
  if (e.type !== "Normal" && e.type !== "Warning") out.push(invalid("type", "", `has invalid value: ${str(e.type)}`));
  if (!isZeroTime(e.firstTimestamp)) out.push(invalid("firstTimestamp", "", "needs to be unset"));
  if (!isZeroTime(e.lastTimestamp)) out.push(invalid("lastTimestamp", "", "needs to be unset"));
  if (typeof e.count === "number" && e.count !== 0) out.push(invalid("count", "", "needs to be unset"));
  const src = isObj(e.source) ? e.source : {};
  if (str(src.component) !== "" || str(src.host) !== "") out.push(invalid("source", "", "needs to be unset"));
  return out;
}

/**
 * A write through either Event API, in place: an events.k8s.io/v1 body becomes the stored core
 * Event; both are validated as the real registry does (422 naming the core kind). `old` is the
 * stored object of an update (events.k8s.io/v1 updates skip the create-only strict rules).
 */
export function eventForStorage(group: string, info: ResourceInfo, namespace: string | undefined, obj: KubeObject, old?: KubeObject): void {
  if (!isCoreEvents(group, info)) return;
  const v1 = group === EVENTS_GROUP;
  const stored = v1 ? eventFromV1(obj) : { ...obj, metadata: renameManagedFields(obj.metadata, V1_TO_CORE) as KubeObject["metadata"] };
  const ns = namespace ?? str(stored.metadata?.namespace);
  const causes = [...legacyCauses(stored, ns, !v1), ...(v1 && !old ? strictCauses(stored) : [])];
  if (causes.length > 0) throw errors.invalid("Event", { group: "", resource: "events", name: str(stored.metadata?.name) }, causes);
  replaceInPlace(obj, stored);
}

const FIELD_LABELS: Record<string, string> = {
  reason: "reason",
  "regarding.kind": "involvedObject.kind",
  "regarding.namespace": "involvedObject.namespace",
  "regarding.name": "involvedObject.name",
  "regarding.uid": "involvedObject.uid",
  "regarding.apiVersion": "involvedObject.apiVersion",
  "regarding.resourceVersion": "involvedObject.resourceVersion",
  "regarding.fieldPath": "involvedObject.fieldPath",
  reportingController: "reportingComponent",
  type: "type",
  "metadata.namespace": "metadata.namespace",
  "metadata.name": "metadata.name",
};

/** An events.k8s.io/v1 field selector in core terms (the conversion func of the events API). */
export function eventsFieldSelector(selector: string): string {
  if (selector.trim() === "") return selector;
  return selector
    .split(",")
    .map((term) => {
      const m = /^\s*([^=!]+?)\s*(==|=|!=)(.*)$/.exec(term);
      if (!m) return term;
      const mapped = FIELD_LABELS[m[1]!];
      if (mapped === undefined) throw new ApiError(statusObject(400, "BadRequest", `field label not supported: ${m[1]!}`));
      return `${mapped}${m[2]!}${m[3]!}`;
    })
    .join(",");
}

/** Rewrites the request's fieldSelector for events.k8s.io/v1 (list, watch, deletecollection). */
export function adaptEventsQuery(group: string, info: ResourceInfo, q: URLSearchParams): void {
  if (group !== EVENTS_GROUP || !isCoreEvents(group, info)) return;
  const sel = q.get("fieldSelector");
  if (sel !== null) q.set("fieldSelector", eventsFieldSelector(sel));
}
