// CustomResourceDefinitions (apiextensions.k8s.io/v1): a CRD written to the store (through the API
// or by `installCrds`) makes the server serve its resource, as the real apiextensions-apiserver:
// - one ResourceInfo per served version (scope, plural/singular/kind/listKind/shortNames,
//   categories, status and scale subresources, additionalPrinterColumns kept for Table output);
// - the CRD's status gets acceptedNames, storedVersions and the conditions NamesAccepted and
//   Established (True), as the naming and establishing controllers set them, right after the write;
// - deleting the CRD deletes its objects and stops serving the resource;
// - objects are decoded like the real CR handler: unknown fields pruned (and reported under
//   fieldValidation), nulls of non-nullable fields without default dropped, `default`s applied,
//   then validated against the version's openAPIV3Schema with the apiextensions-apiserver's
//   messages (kube-openapi's validator mapped to field errors, kubeOpenAPIResultToFieldErrors):
//     `spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"`
//     `spec.x: Required value`, `spec.x: Unsupported value: "c": supported values: "a", "b"`
//     `spec.x: Invalid value: 0: spec.x in body must be greater than or equal to 1`
//     `spec.x: Invalid value: "A": spec.x in body should match '^[a-z]+$'`
//     `spec.x: Too long: may not be longer than 3`, `spec.x: Too many: 3: must have at most 2 items`
//     `spec.x: Invalid value: "": spec.x in body should be at least 1 chars long`
//     `spec.x: Invalid value: 0: spec.x in body should have at least 1 items`
// Not modelled: conversion between versions (each version keeps its own objects), CEL rules
// (x-kubernetes-validations), list-type map/set uniqueness, anyOf/oneOf/allOf/not beyond
// x-kubernetes-int-or-string, status.conditions on name conflicts beyond the plural.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { isIPv4, isIPv6 } from "node:net";
import YAML from "yaml";
import { decodeAs } from "./openapi.js";
import { gvrKey, resourceInfo, type ResourceInfo, type ResourceRegistry } from "./resources.js";
import { errors, type StatusCause } from "./status.js";
import { nowTimestamp, type KubeObject, type ObjectStore, type StoreEvent } from "./store.js";

export interface Schema {
  type?: string;
  format?: string;
  nullable?: boolean;
  default?: unknown;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
  required?: string[];
  enum?: unknown[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  multipleOf?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  uniqueItems?: boolean;
  minProperties?: number;
  maxProperties?: number;
  anyOf?: Schema[];
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  "x-kubernetes-embedded-resource"?: boolean;
  "x-kubernetes-int-or-string"?: boolean;
}

export interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
  description?: string;
  format?: string;
  priority?: number;
}

/** What a ResourceInfo served from a CRD carries (`info.crd`). */
export interface CustomResourceInfo {
  /** metadata.name of the CRD: "<plural>.<group>". */
  crdName: string;
  schema?: Schema;
  preserveUnknownFields: boolean;
  storage: boolean;
  categories?: string[];
  scale?: { specReplicasPath: string; statusReplicasPath: string; labelSelectorPath?: string };
  printerColumns: PrinterColumn[];
}

export const CRD_GROUP = "apiextensions.k8s.io";
export const CRD_RESOURCE = "customresourcedefinitions";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

interface CrdVersion {
  name: string;
  served?: boolean;
  storage?: boolean;
  schema?: { openAPIV3Schema?: Schema };
  subresources?: { status?: object; scale?: { specReplicasPath: string; statusReplicasPath: string; labelSelectorPath?: string } };
  additionalPrinterColumns?: PrinterColumn[];
}

interface CrdSpec {
  group: string;
  names: { plural: string; singular?: string; kind: string; listKind?: string; shortNames?: string[]; categories?: string[] };
  scope: "Namespaced" | "Cluster";
  versions: CrdVersion[];
  preserveUnknownFields?: boolean;
}

// ---- the CRD object itself: defaults and validation (the CRD registry strategy) ----------------

const DNS1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Defaults the real server gives a v1 CRD (conversion None, singular, listKind). */
export function defaultCrd(obj: KubeObject): void {
  const spec = obj.spec;
  if (!isObj(spec)) return;
  if (spec.conversion === undefined) spec.conversion = { strategy: "None" };
  const names = spec.names;
  if (isObj(names) && typeof names.kind === "string") {
    if (!names.singular) names.singular = names.kind.toLowerCase();
    if (!names.listKind) names.listKind = `${names.kind}List`;
  }
  for (const v of Array.isArray(spec.versions) ? spec.versions : []) {
    if (!isObj(v)) continue;
    const cols = v.additionalPrinterColumns;
    if (Array.isArray(cols)) for (const c of cols) if (isObj(c) && c.priority === undefined) c.priority = 0;
  }
}

/** 422 causes of an invalid CRD (a subset of apiextensions' ValidateCustomResourceDefinition). */
export function crdCauses(obj: KubeObject): StatusCause[] {
  const out: StatusCause[] = [];
  const spec = (isObj(obj.spec) ? obj.spec : {}) as Partial<CrdSpec>;
  const req = (field: string, detail = "") => out.push({ reason: "FieldValueRequired", field, message: detail ? `Required value: ${detail}` : "Required value" });
  const inv = (field: string, value: string, detail: string) => out.push({ reason: "FieldValueInvalid", field, message: `Invalid value: ${value}: ${detail}` });
  const names = (isObj(spec.names) ? spec.names : {}) as Partial<CrdSpec["names"]>;
  if (obj.metadata.name !== `${names.plural}.${spec.group}`)
    inv("metadata.name", JSON.stringify(obj.metadata.name ?? ""), 'must be spec.names.plural+"."+spec.group');
  if (!spec.group) req("spec.group");
  else if (!spec.group.includes(".")) inv("spec.group", JSON.stringify(spec.group), "should be a domain with at least one dot");
  if (!spec.scope) req("spec.scope");
  else if (spec.scope !== "Cluster" && spec.scope !== "Namespaced")
    out.push({ reason: "FieldValueNotSupported", field: "spec.scope", message: `Unsupported value: ${JSON.stringify(spec.scope)}: supported values: "Cluster", "Namespaced"` });
  if (!names.plural) req("spec.names.plural");
  else if (!DNS1123_LABEL.test(names.plural)) inv("spec.names.plural", JSON.stringify(names.plural), "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')");
  if (!names.kind) req("spec.names.kind");
  const versions = Array.isArray(spec.versions) ? spec.versions : [];
  if (versions.length === 0) req("spec.versions", "must have exactly one version marked as storage version");
  else if (versions.filter((v) => v?.storage === true).length !== 1)
    inv("spec.versions", "[]apiextensions.CustomResourceDefinitionVersion{...}", "must have exactly one version marked as storage version");
  versions.forEach((v, i) => {
    const p = `spec.versions[${i}]`;
    if (!v?.name) req(`${p}.name`);
    else if (!DNS1035.test(v.name)) inv(`${p}.name`, JSON.stringify(v.name), "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')");
    const schema = v?.schema?.openAPIV3Schema;
    if (!schema) req(`${p}.schema.openAPIV3Schema`, "schemas are required");
    else structuralCauses(schema, `${p}.schema.openAPIV3Schema`, out, true);
  });
  return out;
}

/** A structural schema has a type at every level (apiextensions' structural schema check, subset). */
function structuralCauses(s: Schema, path: string, out: StatusCause[], root = false): void {
  const free = s["x-kubernetes-preserve-unknown-fields"] || s["x-kubernetes-int-or-string"];
  if (!s.type && !free && !root)
    out.push({ reason: "FieldValueRequired", field: `${path}.type`, message: "Required value: must not be empty for specified object fields" });
  if (root && s.type !== "object") out.push({ reason: "FieldValueInvalid", field: `${path}.type`, message: `Invalid value: ${JSON.stringify(s.type ?? "")}: must be object at the root` });
  for (const [k, p] of Object.entries(s.properties ?? {})) structuralCauses(p, `${path}.properties[${k}]`, out);
  if (s.items) structuralCauses(s.items, `${path}.items`, out);
  if (isObj(s.additionalProperties)) structuralCauses(s.additionalProperties as Schema, `${path}.additionalProperties`, out);
}

// ---- serving: registration from the CRD, its status, deletion ---------------------------------

function resourcesOf(crd: KubeObject): ResourceInfo[] {
  const spec = crd.spec as CrdSpec;
  const n = spec.names;
  return spec.versions
    .filter((v) => v.served !== false)
    .map((v) => {
      const info = resourceInfo({
        group: spec.group,
        version: v.name,
        resource: n.plural,
        kind: n.kind,
        namespaced: spec.scope !== "Cluster",
        ...(n.shortNames && { shortNames: n.shortNames }),
        generation: true,
        statusSubresource: v.subresources?.status !== undefined,
      });
      info.listKind = n.listKind ?? `${n.kind}List`;
      info.singular = n.singular ?? n.kind.toLowerCase();
      info.crd = {
        crdName: crd.metadata.name!,
        schema: v.schema?.openAPIV3Schema,
        preserveUnknownFields: spec.preserveUnknownFields === true,
        storage: v.storage === true,
        ...(n.categories && { categories: n.categories }),
        ...(v.subresources?.scale && { scale: v.subresources.scale }),
        printerColumns: v.additionalPrinterColumns ?? [],
      };
      return info;
    });
}

function condition(type: string, status: string, reason: string, message: string, old: unknown): Obj {
  const prev = (Array.isArray(old) ? old : []).find((c: Obj) => c?.type === type) as Obj | undefined;
  const lastTransitionTime = prev && prev.status === status ? prev.lastTransitionTime : nowTimestamp();
  return { type, status, lastTransitionTime, reason, message };
}

/**
 * Serves the resources of CRDs as they are written: call once per server (startTestApiServer does).
 * Runs as a store listener, so store actors' CRDs are served too.
 */
export function installCrdController(store: ObjectStore, registry: ResourceRegistry): void {
  const served = new Map<string, ResourceInfo[]>(); // CRD name -> what it registered
  const unserve = (name: string, keep: ResourceInfo[] = []): void => {
    const keepKeys = new Set(keep.map(gvrKey));
    for (const info of served.get(name) ?? []) {
      if (keepKeys.has(gvrKey(info))) continue;
      // As the CRD finalizer does: the objects go with the resource.
      for (const o of [...store.listCurrent(info)]) {
        try {
          store.remove(info, o.metadata.namespace, o.metadata.name!, { propagationPolicy: "Background" });
        } catch {
          // already gone (garbage collected with an owner)
        }
      }
      registry.remove(info);
    }
    if (keep.length === 0) served.delete(name);
  };
  store.onChange((e: StoreEvent) => {
    if (e.resource.group !== CRD_GROUP || e.resource.resource !== CRD_RESOURCE) return;
    const name = e.object.metadata.name!;
    if (e.type === "DELETED") return unserve(name);
    if (e.object.metadata.deletionTimestamp) return;
    const spec = e.object.spec as CrdSpec | undefined;
    if (!spec?.names?.plural || !Array.isArray(spec.versions)) return;
    // A plural another resource of the group already uses is not accepted (NamingConditionController).
    const mine = new Set((served.get(name) ?? []).map(gvrKey));
    const conflict = registry.all().some((r) => r.group === spec.group && r.resource === spec.names.plural && !mine.has(gvrKey(r)));
    const infos = conflict ? [] : resourcesOf(e.object);
    unserve(name, infos);
    for (const info of infos) registry.add(info);
    if (infos.length > 0) served.set(name, infos);
    const old = (e.object.status ?? {}) as Obj;
    const n = spec.names;
    const status: Obj = {
      conditions: conflict
        ? [
            condition("NamesAccepted", "False", "PluralConflict", `"${n.plural}" is already in use`, old.conditions),
            condition("Established", "False", "NotAccepted", "not all names are accepted", old.conditions),
          ]
        : [
            condition("NamesAccepted", "True", "NoConflicts", "no conflicts found", old.conditions),
            condition("Established", "True", "InitialNamesAccepted", "the initial names have been accepted", old.conditions),
          ],
      acceptedNames: conflict
        ? { plural: "", kind: "" }
        : {
            plural: n.plural,
            singular: n.singular ?? n.kind.toLowerCase(),
            ...(n.shortNames && { shortNames: n.shortNames }),
            kind: n.kind,
            listKind: n.listKind ?? `${n.kind}List`,
            ...(n.categories && { categories: n.categories }),
          },
      storedVersions: [...new Set([...((old.storedVersions as string[] | undefined) ?? []), ...spec.versions.filter((v) => v.storage).map((v) => v.name)])],
    };
    if (JSON.stringify(status) !== JSON.stringify(old)) store.patchStatus(e.resource, undefined, name, () => status);
  });
}

/**
 * Installs every CRD (`*.yaml`, `*.yml`, `*.json`, multi-document) in `dir` on a test server, as a
 * privileged actor, after the checks and defaults the API would apply; their resources are served
 * when this returns. Returns the CRD names.
 */
export function installCrds(api: { store: ObjectStore }, dir: string): string[] {
  const names: string[] = [];
  for (const file of readdirSync(dir).filter((f) => /\.(ya?ml|json)$/.test(f)).sort()) {
    for (const parsed of parsedDocuments(join(dir, file))) {
      const obj = structuredClone(parsed);
      if (obj.apiVersion !== `${CRD_GROUP}/v1` || obj.kind !== "CustomResourceDefinition")
        throw new Error(`${join(dir, file)}: not an ${CRD_GROUP}/v1 CustomResourceDefinition (${obj.apiVersion} ${obj.kind})`);
      defaultCrd(obj);
      const causes = crdCauses(obj);
      if (causes.length > 0) throw errors.invalid("CustomResourceDefinition", { group: CRD_GROUP, resource: CRD_RESOURCE, name: obj.metadata.name ?? "" }, causes);
      delete obj.status;
      api.store.create(obj);
      names.push(obj.metadata.name!);
    }
  }
  return names;
}

// Parsing the CRD files (YAML, ~150 KB) costs more than installing them: once per process and file.
const parsedFiles = new Map<string, { mtimeMs: number; docs: KubeObject[] }>();

function parsedDocuments(path: string): KubeObject[] {
  const mtimeMs = statSync(path).mtimeMs;
  const hit = parsedFiles.get(path);
  if (hit && hit.mtimeMs === mtimeMs) return hit.docs;
  const docs: KubeObject[] = [];
  for (const d of YAML.parseAllDocuments(readFileSync(path, "utf8"))) {
    if (d.errors.length > 0) throw new Error(`${path}: ${d.errors[0]!.message}`);
    const obj = d.toJS() as KubeObject | null;
    if (obj) docs.push(obj);
  }
  parsedFiles.set(path, { mtimeMs, docs });
  return docs;
}

// ---- custom resources: decode (prune, nulls, defaults) and validate ----------------------------

const META_FIELDS = new Set(["apiVersion", "kind", "metadata"]);
const OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

function appendKey(path: string, k: string): string {
  return path ? `${path}.${k}` : k;
}

function prune(x: unknown, s: Schema | undefined, path: string, unknown: string[]): void {
  if (s?.["x-kubernetes-preserve-unknown-fields"] || s?.additionalProperties === true) return skipPrune(x, s, path, unknown);
  if (Array.isArray(x)) {
    x.forEach((v, i) => prune(v, s?.items, `${path}[${i}]`, unknown));
    return;
  }
  if (!isObj(x)) return;
  for (const k of Object.keys(x)) {
    if (x[k] === undefined) continue;
    if (s?.["x-kubernetes-embedded-resource"] && ((k === "apiVersion" || k === "kind") && typeof x[k] === "string" || (k === "metadata" && x[k] !== undefined))) continue;
    const prop = s?.properties?.[k];
    if (prop) prune(x[k], prop, appendKey(path, k), unknown);
    else if (s && isObj(s.additionalProperties)) prune(x[k], s.additionalProperties as Schema, appendKey(path, k), unknown);
    else {
      if (!(META_FIELDS.has(k) && path === "")) unknown.push(appendKey(path, k));
      delete x[k];
    }
  }
}

function skipPrune(x: unknown, s: Schema | undefined, path: string, unknown: string[]): void {
  if (!s) return;
  if (Array.isArray(x)) {
    x.forEach((v, i) => skipPrune(v, s.items, `${path}[${i}]`, unknown));
    return;
  }
  if (!isObj(x)) return;
  for (const k of Object.keys(x)) {
    if (s["x-kubernetes-embedded-resource"] && META_FIELDS.has(k)) continue;
    const prop = s.properties?.[k];
    if (prop) prune(x[k], prop, appendKey(path, k), unknown);
    else if (isObj(s.additionalProperties)) prune(x[k], s.additionalProperties as Schema, appendKey(path, k), unknown);
  }
}

/** structuraldefaulting.PruneNonNullableNullsWithoutDefaults */
function pruneNulls(x: unknown, s: Schema | undefined): void {
  if (!s) return;
  if (Array.isArray(x)) {
    for (const v of x) pruneNulls(v, s.items);
    return;
  }
  if (!isObj(x)) return;
  for (const k of Object.keys(x)) {
    const prop = s.properties?.[k] ?? (isObj(s.additionalProperties) ? (s.additionalProperties as Schema) : undefined);
    if (!prop) continue;
    if (x[k] === null && prop.default === undefined && !prop.nullable) delete x[k];
    else pruneNulls(x[k], prop);
  }
}

const nonNullableNull = (v: unknown, s: Schema | undefined): boolean => v === null && !!s && !s.nullable && s.default !== undefined;

/** structuraldefaulting.Default: defaults fill absent (and non-nullable null) fields of existing objects. */
export function applySchemaDefaults(x: unknown, s: Schema | undefined): void {
  if (!s) return;
  if (Array.isArray(x)) {
    x.forEach((v, i) => {
      if (nonNullableNull(v, s.items)) x[i] = structuredClone(s.items!.default);
      applySchemaDefaults(x[i], s.items);
    });
    return;
  }
  if (!isObj(x)) return;
  for (const [k, prop] of Object.entries(s.properties ?? {})) {
    if (prop.default === undefined) continue;
    if (!(k in x) || nonNullableNull(x[k], prop)) x[k] = structuredClone(prop.default);
  }
  for (const k of Object.keys(x)) {
    const prop = s.properties?.[k];
    if (prop) applySchemaDefaults(x[k], prop);
    else if (isObj(s.additionalProperties)) {
      const ap = s.additionalProperties as Schema;
      if (nonNullableNull(x[k], ap)) x[k] = structuredClone(ap.default);
      applySchemaDefaults(x[k], ap);
    }
  }
}

export interface CrDecodeResult {
  error?: string;
  unknown: string[];
}

/** The CR handler's decoder: metadata coerced, unknown fields pruned, nulls dropped, defaults in. */
export function decodeCustomResource(info: ResourceInfo, obj: KubeObject): CrDecodeResult {
  const crd = info.crd!;
  const meta = decodeAs(OBJECT_META, obj.metadata);
  if (meta.error) return { error: meta.error, unknown: [] };
  const unknown: string[] = [];
  if (!crd.preserveUnknownFields) {
    prune(obj, { ...(crd.schema ?? {}), "x-kubernetes-embedded-resource": true }, "", unknown);
    unknown.sort(); // PruneWithOptions sorts the paths
    pruneNulls(obj, crd.schema);
  }
  applySchemaDefaults(obj, crd.schema);
  return { unknown: [...meta.unknown.map((p) => `metadata.${p}`), ...unknown] };
}

/** Go's %v / %q / %#v of a decoded JSON value, as field.Error prints "Invalid value: X". */
export function goValue(v: unknown): string {
  if (v === null || v === undefined) return "null";
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return `[]interface {}{${v.map(goValue).join(", ")}}`;
  return `map[string]interface {}{${Object.entries(v as Obj).map(([k, x]) => `${JSON.stringify(k)}:${goValue(x)}`).join(", ")}}`;
}

function openApiType(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  if (typeof v === "boolean") return "boolean";
  return typeof v === "object" ? "object" : "string";
}

function typeMatches(v: unknown, type: string): boolean {
  switch (type) {
    case "object":
      return isObj(v);
    case "array":
      return Array.isArray(v);
    case "string":
      return typeof v === "string";
    case "integer":
      return typeof v === "number" && Number.isInteger(v);
    case "number":
      return typeof v === "number";
    case "boolean":
      return typeof v === "boolean";
    default:
      return true;
  }
}

const FORMATS: Record<string, (s: string) => boolean> = {
  "date-time": (s) => /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.test(s),
  date: (s) => /^\d{4}-\d{2}-\d{2}$/.test(s),
  uuid: (s) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s),
  ipv4: (s) => isIPv4(s),
  ipv6: (s) => isIPv6(s),
  hostname: (s) => s.length <= 255 && /^[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)*$/.test(s),
  byte: (s) => /^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s),
};

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** kube-openapi's schema validation of one value, as apiextensions reports it (field errors). */
export function schemaErrors(v: unknown, s: Schema | undefined, path: string, out: StatusCause[]): void {
  if (!s || v === undefined) return;
  const field = path;
  const invalid = (detail: string, value: unknown = v) =>
    out.push({ reason: "FieldValueInvalid", field, message: `Invalid value: ${goValue(value)}: ${path} in body ${detail}` });
  const types = s["x-kubernetes-int-or-string"] ? ["integer", "string"] : s.type ? [s.type] : [];
  if (v === null) {
    if (types.length > 0 && !s.nullable)
      out.push({ reason: "FieldValueTypeInvalid", field, message: `Invalid value: "null": ${path} in body must be of type ${types.join(",")}: "null"` });
    return;
  }
  if (types.length > 0 && !types.some((t) => typeMatches(v, t))) {
    const actual = openApiType(v);
    out.push({ reason: "FieldValueTypeInvalid", field, message: `Invalid value: ${JSON.stringify(actual)}: ${path} in body must be of type ${types.join(",")}: ${JSON.stringify(actual)}` });
    return;
  }
  if (s.enum && !s.enum.some((e) => deepEqual(e, v))) {
    const supported = s.enum.map((e) => JSON.stringify(typeof e === "string" ? e : JSON.stringify(e))).join(", ");
    out.push({ reason: "FieldValueNotSupported", field, message: `Unsupported value: ${goValue(v)}: supported values: ${supported}` });
  }
  if (typeof v === "string") {
    if (s.maxLength !== undefined && [...v].length > s.maxLength)
      out.push({ reason: "FieldValueTooLong", field, message: `Too long: may not be longer than ${s.maxLength}` });
    if (s.minLength !== undefined && [...v].length < s.minLength) invalid(`should be at least ${s.minLength} chars long`);
    if (s.pattern !== undefined && !new RegExp(s.pattern, "u").test(v)) invalid(`should match '${s.pattern}'`);
    const fmt = s.format ? FORMATS[s.format] : undefined;
    if (fmt && !fmt(v)) out.push({ reason: "FieldValueTypeInvalid", field, message: `Invalid value: ${goValue(v)}: ${path} in body must be of type ${s.format}: ${JSON.stringify(v)}` });
  }
  if (typeof v === "number") {
    if (s.maximum !== undefined && (s.exclusiveMaximum ? v >= s.maximum : v > s.maximum))
      invalid(s.exclusiveMaximum ? `must be less than ${s.maximum}` : `must be less than or equal to ${s.maximum}`);
    if (s.minimum !== undefined && (s.exclusiveMinimum ? v <= s.minimum : v < s.minimum))
      invalid(s.exclusiveMinimum ? `must be greater than ${s.minimum}` : `must be greater than or equal to ${s.minimum}`);
    if (s.multipleOf !== undefined && Math.abs(v / s.multipleOf - Math.round(v / s.multipleOf)) > 1e-9) invalid(`should be a multiple of ${s.multipleOf}`);
  }
  if (Array.isArray(v)) {
    if (s.maxItems !== undefined && v.length > s.maxItems)
      out.push({ reason: "FieldValueTooMany", field, message: `Too many: ${v.length}: must have at most ${s.maxItems} items` });
    if (s.minItems !== undefined && v.length < s.minItems) invalid(`should have at least ${s.minItems} items`, v.length);
    if (s.uniqueItems && new Set(v.map((x) => JSON.stringify(x))).size !== v.length) invalid("shouldn't contain duplicates");
    v.forEach((x, i) => schemaErrors(x, s.items, `${path}[${i}]`, out));
  }
  if (isObj(v)) {
    const n = Object.keys(v).length;
    if (s.maxProperties !== undefined && n > s.maxProperties)
      out.push({ reason: "FieldValueTooMany", field, message: `Too many: ${n}: must have at most ${s.maxProperties} items` });
    if (s.minProperties !== undefined && n < s.minProperties) invalid(`should have at least ${s.minProperties} properties`, n);
    for (const r of s.required ?? []) if (v[r] === undefined) out.push({ reason: "FieldValueRequired", field: appendKey(path, r), message: "Required value" });
    for (const [k, x] of Object.entries(v)) {
      const prop = s.properties?.[k] ?? (isObj(s.additionalProperties) ? (s.additionalProperties as Schema) : undefined);
      // The root's metadata is checked by the server (ObjectMeta validation), not the schema.
      if (path === "" && k === "metadata") continue;
      schemaErrors(x, prop, appendKey(path, k), out);
    }
  }
}

/** 422 causes of a custom resource: schema, then the scale subresource's spec replicas. */
export function customResourceCauses(info: ResourceInfo, obj: KubeObject): StatusCause[] {
  const crd = info.crd!;
  const out: StatusCause[] = [];
  if (crd.schema) schemaErrors(obj, crd.schema, "", out);
  const scale = crd.scale;
  if (scale) {
    const v = getPath(obj, scale.specReplicasPath);
    if (v !== undefined) {
      if (typeof v !== "number" || !Number.isInteger(v))
        out.push({ reason: "FieldValueInvalid", field: scale.specReplicasPath, message: `Invalid value: 0: ${scale.specReplicasPath} accessor error: ${typeof v === "string" ? v : goValue(v)} is of the type ${goTypeOf(v)}, expected int64` });
      else if (v < 0) out.push({ reason: "FieldValueInvalid", field: scale.specReplicasPath, message: `Invalid value: ${v}: should be a non-negative integer` });
      else if (v > 2147483647) out.push({ reason: "FieldValueInvalid", field: scale.specReplicasPath, message: `Invalid value: ${v}: should be less than or equal to 2147483647` });
    }
  }
  return out;
}

function goTypeOf(v: unknown): string {
  if (typeof v === "string") return "string";
  if (typeof v === "number") return "float64";
  if (typeof v === "boolean") return "bool";
  if (Array.isArray(v)) return "[]interface {}";
  return "map[string]interface {}";
}

/** Value at a JSON path of the form ".spec.replicas" (the scale subresource's paths). */
export function getPath(obj: unknown, path: string): unknown {
  let cur = obj;
  for (const seg of path.replace(/^\./, "").split(".")) {
    if (!isObj(cur)) return undefined;
    cur = cur[seg];
  }
  return cur;
}

export function setPath(obj: Obj, path: string, value: unknown): void {
  const segs = path.replace(/^\./, "").split(".");
  let cur = obj;
  for (const seg of segs.slice(0, -1)) {
    if (!isObj(cur[seg])) cur[seg] = {};
    cur = cur[seg] as Obj;
  }
  cur[segs[segs.length - 1]!] = value;
}

/**
 * Defaults stored custom resources as they are read (objects written before a default existed, or
 * by store actors): one object, or the items of a list.
 */
export function defaultOnRead<T>(info: ResourceInfo, obj: T): T {
  if (!info.crd?.schema) return obj;
  const copy = structuredClone(obj);
  const items = isObj(copy) && Array.isArray(copy.items) && !isObj(copy.spec) ? copy.items : [copy];
  for (const o of items) applySchemaDefaults(o, info.crd.schema);
  return copy;
}
