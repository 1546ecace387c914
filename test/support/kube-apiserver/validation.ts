// Object validation like the real API server's decoder, field validation and registry strategies:
// - built-in kinds: decoded against the recorded v1.25 OpenAPI v2 document (openapi.ts): JSON type
//   errors (400), unknown and duplicate fields (fieldValidation), required fields (422);
// - custom resources (crds.ts): pruning, schema defaults, openAPIV3Schema validation (422);
// - CustomResourceDefinitions: defaults and the CRD checks (crds.ts);
// - metadata.name rules (DNS-1123 subdomain/label, path segment) and label syntax.
// fieldValidation follows RELEASED Kubernetes (server-side field validation GA in 1.27; "Warn ...
// This is the default in v1.23+" in the API reference): Strict -> 400 `<Kind> in version "v1"
// cannot be handled as a <Kind>: strict decoding error: unknown field "spec.foo", duplicate field
// "data"`; Warn (the default) -> one `Warning: 299 - "unknown field \"spec.foo\""` header per
// field; Ignore -> silently dropped. Unknown fields are never stored. The recorded pre-release
// build had the gate off (it ignored the parameter): see recorded-v1.25/README.md item 14.
import { CRD_GROUP, CRD_RESOURCE, crdCauses, customResourceCauses, decodeCustomResource, defaultCrd } from "./crds.js";
import { decodeAs, definitionFor, duplicateFields } from "./openapi.js";
import type { ResourceInfo } from "./resources.js";
import { kindCauses, podUpdateCauses } from "./kind-validation.js";
import { addWarnings, ApiError, errors, statusObject, type StatusCause } from "./status.js";
import type { KubeObject } from "./store.js";

export type FieldValidation = "Strict" | "Warn" | "Ignore";

/** What a request without fieldValidation gets (released Kubernetes: Warn since v1.23). */
export const DEFAULT_FIELD_VALIDATION: FieldValidation = "Warn";

/**
 * The query parameter; an unknown value is the 422 the real server answers
 * (recorded: validation/fieldvalidation-invalid-value).
 */
export function parseFieldValidation(v: string | null, dflt: FieldValidation = DEFAULT_FIELD_VALIDATION, options = "CreateOptions"): FieldValidation {
  if (v === null || v === "") return dflt;
  if (v === "Strict" || v === "Warn" || v === "Ignore") return v;
  const message = `Unsupported value: ${JSON.stringify(v)}: supported values: "", "Ignore", "Strict", "Warn"`;
  throw new ApiError(
    statusObject(422, "Invalid", `${options}.meta.k8s.io "" is invalid: fieldValidation: ${message}`, {
      group: "meta.k8s.io",
      kind: options,
      causes: [{ reason: "FieldValueNotSupported", message, field: "fieldValidation" }],
    }),
  );
}

/** Paths of fields the kind's type does not have, in the strict decoder's notation (`a.b[0].c`). */
export function unknownFields(info: ResourceInfo, obj: KubeObject, prune: boolean): string[] {
  if (info.crd) return prune ? decodeCustomResource(info, obj).unknown : decodeCustomResource(info, structuredClone(obj)).unknown;
  const def = definitionFor(info.group, info.version, info.kind);
  return def ? decodeAs(def, obj, prune).unknown : [];
}

/** Schema causes (422): required fields of built-in kinds, the openAPIV3Schema of custom resources. */
export async function schemaCauses(info: ResourceInfo, obj: KubeObject): Promise<StatusCause[]> {
  if (info.crd) return customResourceCauses(info, obj);
  const def = definitionFor(info.group, info.version, info.kind);
  return def ? decodeAs(def, structuredClone(obj), true).required : [];
}

function goJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(goJson).join(",")}]`;
  if (v !== null && typeof v === "object")
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${goJson((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  return JSON.stringify(v);
}

const isCrd = (info: ResourceInfo) => info.group === CRD_GROUP && info.resource === CRD_RESOURCE;

/**
 * The whole write path of a body after the server's own defaulting: decode (type errors -> 400),
 * strict decoding per fieldValidation, pruning, CR/CRD defaults, then 422 validation. Mutates obj.
 * Returns the response headers to send (one Warning per unknown/duplicate field under Warn).
 */
export async function validateWrite(
  info: ResourceInfo,
  obj: KubeObject,
  fieldValidation: string | null,
  verb: "create" | "update" | "patch" = "create",
  /** false: the ServerSideFieldValidation gate off (the recorded build): the value is checked, then ignored. */
  gate = true,
  /** The stored object, for update rules (immutable pod fields). */
  old?: KubeObject,
  scope: "main" | "status" = "main",
): Promise<Record<string, string[]>> {
  const asked = parseFieldValidation(fieldValidation, DEFAULT_FIELD_VALIDATION, verb === "patch" ? "PatchOptions" : verb === "update" ? "UpdateOptions" : "CreateOptions");
  const mode: FieldValidation = gate ? asked : "Ignore";
  const cannot = (why: string) => `${info.kind} in version "${info.version}" cannot be handled as a ${info.kind}: ${why}`;
  const decodeFailed = (why: string): ApiError =>
    verb === "patch"
      ? // patch.go: a patched object that does not decode is a 422 on the field "patch".
        errors.invalid("", { group: "", resource: "", name: "" }, [{ reason: "FieldValueInvalid", field: "patch", message: `Invalid value: ${JSON.stringify(goJson(obj))}: ${why}` }])
      : errors.badRequest(cannot(why));
  let unknown: string[] = [];
  let schema: StatusCause[] = [];
  if (info.crd) {
    const r = decodeCustomResource(info, obj);
    if (r.error) throw decodeFailed(r.error);
    unknown = r.unknown;
  } else {
    const def = definitionFor(info.group, info.version, info.kind);
    if (def) {
      const r = decodeAs(def, obj, true);
      if (r.error) throw decodeFailed(r.error);
      unknown = r.unknown;
      schema = r.required;
    }
  }
  const strict = [...duplicateFields(obj).map((p) => `duplicate field ${JSON.stringify(p)}`), ...unknown.map((p) => `unknown field ${JSON.stringify(p)}`)];
  if (strict.length > 0 && mode === "Strict") {
    const msg = `strict decoding error: ${strict.join(", ")}`;
    throw errors.badRequest(verb === "patch" ? msg : cannot(msg));
  }
  if (isCrd(info)) {
    defaultCrd(obj);
    schema = [...schema, ...crdCauses(obj)];
  }
  if (info.crd) schema = customResourceCauses(info, obj);
  const name = obj.metadata.name;
  // The registry's own rules (kind-validation.ts) in the real order: object metadata, then the
  // kind's rules, then what only the schema catches (not twice when both see the same field).
  const own = kindCauses(info, obj);
  if (verb !== "create" && old && info.group === "" && info.resource === "pods" && scope === "main") own.push(...podUpdateCauses(old, obj));
  const causes = [
    ...(typeof name === "string" && name !== "" ? nameCauses(info, name) : []),
    ...(obj.metadata.generateName && !name ? nameCauses(info, `${obj.metadata.generateName}x`) : []),
    ...labelCauses(obj),
    ...own,
    ...schema.filter((c) => !own.some((o) => o.field === c.field && o.reason === c.reason)),
  ];
  // events.k8s.io Events are validated as the internal core Event: no group in the 422
  // (recorded: events/create-events-k8s-io-v1-invalid).
  const group = info.group === "events.k8s.io" ? "" : info.group;
  if (causes.length > 0) throw errors.invalid(info.kind, { group, resource: info.resource, name: String(name ?? "") }, causes);
  const headers: Record<string, string[]> = {};
  if (mode === "Warn") addWarnings(headers, strict);
  return headers;
}

// ---- names and labels --------------------------------------------------------------------------

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

/** A DNS-1123 label (names of namespaces, services, containers…) with the real messages. */
export function dns1123LabelCauses(field: string, value: string): StatusCause[] {
  const bad = (message: string): StatusCause[] => [{ reason: "FieldValueInvalid", field, message: `Invalid value: ${JSON.stringify(value)}: ${message}` }];
  if (value.length > 63) return bad("must be no more than 63 characters");
  if (!DNS1123_LABEL.test(value))
    return bad(
      "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
    );
  return [];
}

export function nameCauses(info: ResourceInfo, name: string): StatusCause[] {
  const bad = (message: string): StatusCause[] => [
    { reason: "FieldValueInvalid", field: "metadata.name", message: `Invalid value: ${JSON.stringify(name)}: ${message}` },
  ];
  switch (info.nameRule) {
    case "label":
      return dns1123LabelCauses("metadata.name", name);
    case "subdomain":
      if (name.length > 253) return bad("must be no more than 253 characters");
      if (!DNS1123_SUBDOMAIN.test(name))
        return bad(
          "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        );
      return [];
    case "path-segment":
      if (name === "." || name === "..") return bad(`may not be '${name}'`);
      if (/[/%]/.test(name)) return bad("may not contain '/' or '%'");
      return [];
  }
}

export function labelCauses(obj: KubeObject): StatusCause[] {
  const out: StatusCause[] = [];
  const labels = obj.metadata?.labels;
  if (!labels || typeof labels !== "object") return out;
  for (const [k, v] of Object.entries(labels)) {
    const slash = k.lastIndexOf("/");
    const prefix = slash < 0 ? "" : k.slice(0, slash);
    const name = slash < 0 ? k : k.slice(slash + 1);
    if ((prefix && !DNS1123_SUBDOMAIN.test(prefix)) || !LABEL_NAME.test(name) || name.length > 63)
      out.push({ reason: "FieldValueInvalid", field: "metadata.labels", message: `Invalid value: ${JSON.stringify(k)}: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')` });
    if (typeof v !== "string" || !LABEL_VALUE.test(v) || v.length > 63)
      out.push({ reason: "FieldValueInvalid", field: `metadata.labels`, message: `Invalid value: ${JSON.stringify(v)}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')` });
  }
  return out;
}
