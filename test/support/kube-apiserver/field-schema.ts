// Field-level schema of Kubernetes kinds as server-side apply (structured-merge-diff, "SMD") sees
// them: for every field, whether it is a struct, a granular map, an associative list (keyed "map"
// list or "set"), or an atomic value. Built from the OpenAPI v2 document a real kube-apiserver v1.25
// served (../shared/kube/recorded-v1.25/openapi-v2.json.gz), the way k8s.io/kube-openapi's
// schemaconv converts it for the built-in types:
//
// - `type: object` with `properties` → struct; with `additionalProperties` → map; a definition or
//   property with `x-kubernetes-map-type: atomic` → atomic (a leaf: owned and replaced as a whole);
// - `type: array` → atomic list, unless `x-kubernetes-list-type` says `set` or `map` (keys from
//   `x-kubernetes-list-map-keys`) or, without a list type, `x-kubernetes-patch-strategy: merge`
//   makes it associative: keyed by `x-kubernetes-patch-merge-key`, or a set when there is none;
// - RawExtension and schema-less objects are "untyped" (SMD's deduced type: objects are granular
//   maps, lists atomic).
//
// Kinds the document does not know (custom resources learned on the fly) get a root struct with
// apiVersion, kind and an ObjectMeta `metadata`; every other value is untyped with objects treated
// as structs (their keys are not owned on their own, as with a CRD's `properties`) and lists
// atomic. A caller may pass the kind's structural schema (a CRD's `openAPIV3Schema`) instead.
//
// The document is openapi.ts's one parsed copy (`fieldSchemaLoadMs`: how long indexing it took);
// definitions are compiled on first use.
import { openApi, type OpenApiSchema } from "./openapi.js";

export interface Gvk {
  group: string;
  version: string;
  kind: string;
}

/** A CRD-style structural schema (the subset of JSONSchemaProps SMD looks at). */
export interface StructuralSchema {
  type?: string;
  format?: string;
  properties?: Record<string, StructuralSchema>;
  additionalProperties?: StructuralSchema | boolean;
  items?: StructuralSchema;
  required?: string[];
  "x-kubernetes-list-type"?: string;
  "x-kubernetes-list-map-keys"?: string[];
  "x-kubernetes-map-type"?: string;
  "x-kubernetes-preserve-unknown-fields"?: boolean;
  "x-kubernetes-int-or-string"?: boolean;
  "x-kubernetes-embedded-resource"?: boolean;
}

export interface ScalarNode {
  kind: "scalar";
  type?: string;
  format?: string;
}

/** A value present in the Go zero value of a struct (what the real server compares against). */
export interface ZeroField {
  name: string;
  make: () => unknown;
  /** Set for struct-valued zero fields: the type whose own zero fields fill it. */
  node?: TypeNode;
}

export interface StructNode {
  kind: "struct";
  /** Definition name (or a path-like name for inline schemas). */
  name: string;
  atomic: boolean;
  field(name: string): TypeNode | undefined;
  readonly fieldNames: readonly string[];
  /** Type of keys that are not declared fields (preserve-unknown-fields); undefined: not allowed. */
  readonly unknownFields?: TypeNode;
  /** Fields the Go struct always serializes (non-pointer structs, non-omitempty values). */
  zeroFields(): readonly ZeroField[];
}

export interface MapNode {
  kind: "map";
  atomic: boolean;
  elem: TypeNode;
}

export interface ListNode {
  kind: "list";
  relation: "atomic" | "set" | "map";
  keys: readonly string[];
  elem: TypeNode;
}

export interface UntypedNode {
  kind: "untyped";
  /** "map": SMD's deduced type (object keys are map entries); "struct": keys are like declared fields. */
  objects: "map" | "struct";
}

export type TypeNode = ScalarNode | StructNode | MapNode | ListNode | UntypedNode;

/** What a field is, in the words of the FieldsV1 encoding. Scalars are atomic leaves. */
export type FieldShape =
  | { shape: "struct" }
  | { shape: "map" }
  | { shape: "list-map"; keys: string[] }
  | { shape: "set" }
  | { shape: "atomic"; scalar?: true }
  | { shape: "untyped" };

type RawSchema = OpenApiSchema;

interface Doc {
  definitions: Record<string, RawSchema>;
  byGvk: Map<string, string>;
}

let doc: Doc | undefined;
/** Milliseconds the one load (read + gunzip + JSON.parse + GVK index) took; undefined before it. */
export let fieldSchemaLoadMs: number | undefined;

function gvkKey(g: Gvk): string {
  return `${g.group}/${g.version}/${g.kind}`;
}

function load(): Doc {
  if (doc) return doc;
  const t0 = performance.now();
  // The one parsed copy of the recorded OpenAPI document (openapi.ts reads it once per process).
  const definitions = openApi().definitions;
  const byGvk = new Map<string, string>();
  for (const [name, def] of Object.entries(definitions)) {
    const gvks = def["x-kubernetes-group-version-kind"];
    if (!gvks || !def.properties) continue;
    // Option/list kinds (DeleteOptions, WatchEvent) claim many GVKs; real kinds have exactly one.
    if (gvks.length !== 1) continue;
    const k = gvkKey(gvks[0]!);
    if (!byGvk.has(k)) byGvk.set(k, name);
  }
  doc = { definitions, byGvk };
  fieldSchemaLoadMs = performance.now() - t0;
  return doc;
}

const OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
const UNTYPED_MAP: UntypedNode = { kind: "untyped", objects: "map" };
const UNTYPED_STRUCT: UntypedNode = { kind: "untyped", objects: "struct" };
const SCALAR_DEFS = new Set([
  "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
  "io.k8s.apimachinery.pkg.api.resource.Quantity",
  "io.k8s.apimachinery.pkg.apis.meta.v1.Time",
  "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime",
]);

// ---- Go zero values ---------------------------------------------------------------------------
// The real server compares Go objects: a field the Go struct always serializes is present in the
// empty object a create starts from (so adding content under it is not "creating" it, no `"."`
// marker) and in every decoded request. OpenAPI does not say which fields those are, so:
// - `required` fields (no omitempty): structs {}, lists/maps null, scalars their zero;
// - `metadata`/`spec`/`status` and every ObjectMeta-typed field (value structs everywhere);
// - metav1.Time/MicroTime fields (they marshal a zero as null) except the pointer ones below;
// - the value-struct and non-omitempty fields of common kinds listed here.
const EXTRA_ZERO_FIELDS: Record<string, string[]> = {
  "io.k8s.api.apps.v1.DeploymentSpec": ["strategy"],
  "io.k8s.api.apps.v1.StatefulSetSpec": ["updateStrategy"],
  "io.k8s.api.apps.v1.DaemonSetSpec": ["updateStrategy"],
  "io.k8s.api.apps.v1.ReplicaSetSpec": ["template"],
  "io.k8s.api.core.v1.PodTemplate": ["template"],
  "io.k8s.api.core.v1.Container": ["resources"],
  "io.k8s.api.core.v1.EphemeralContainer": ["resources"],
  "io.k8s.api.core.v1.PersistentVolumeClaimSpec": ["resources"],
  "io.k8s.api.core.v1.ServiceStatus": ["loadBalancer"],
  "io.k8s.api.networking.v1.IngressStatus": ["loadBalancer"],
  "io.k8s.api.core.v1.NodeStatus": ["daemonEndpoints", "nodeInfo"],
  "io.k8s.api.core.v1.Event": ["source", "reportingComponent", "reportingInstance"],
  "io.k8s.api.events.v1.Event": ["deprecatedSource", "regarding"],
  "io.k8s.api.authentication.v1.TokenReviewStatus": ["user"],
};
/** metav1.Time fields that are pointers in Go (absent, not null, when unset). */
const POINTER_TIMES = new Set([
  "deletionTimestamp",
  "startTime",
  "completionTime",
  "acquireTime",
  "renewTime",
  "lastScheduleTime",
  "lastSuccessfulTime",
]);
/** Definitions with a pointer-typed `spec`/`status` (not value structs). */
const POINTER_SPEC_STATUS = new Set(["io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceSubresources"]);

function refName(ref: string): string {
  return ref.replace(/^#\/definitions\//, "");
}

const compiled = new Map<string, TypeNode>();

function compileDef(name: string): TypeNode {
  const hit = compiled.get(name);
  if (hit) return hit;
  if (name === "io.k8s.apimachinery.pkg.runtime.RawExtension") return UNTYPED_MAP;
  if (SCALAR_DEFS.has(name)) return { kind: "scalar", type: "string" };
  const def = load().definitions[name];
  if (!def) return UNTYPED_MAP;
  // Register before compiling children: definitions can be recursive (JSONSchemaProps).
  const node = compileSchema(def, name, true);
  compiled.set(name, node);
  return node;
}

function zeroOf(s: RawSchema | undefined, fieldName: string, required: boolean): ZeroField | undefined {
  if (!s) return undefined;
  const target = s.$ref ? load().definitions[refName(s.$ref)] : s;
  const refd = s.$ref ? refName(s.$ref) : undefined;
  if (refd === "io.k8s.apimachinery.pkg.apis.meta.v1.Time" || refd === "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime")
    return POINTER_TIMES.has(fieldName) && !required ? undefined : { name: fieldName, make: () => null };
  if (!target) return undefined;
  if (target.format === "date-time" || target.format === "date-time-micro")
    return POINTER_TIMES.has(fieldName) && !required ? undefined : { name: fieldName, make: () => null };
  if (!required) return undefined;
  if (target.type === "array" || (target.type === "object" && !target.properties)) return { name: fieldName, make: () => null };
  if (target.type === "object") return { name: fieldName, make: () => ({}), node: refd ? compileDef(refd) : undefined };
  if (target.type === "string") return { name: fieldName, make: () => (target.format === "byte" ? null : "") };
  if (target.type === "integer" || target.type === "number") return { name: fieldName, make: () => 0 };
  if (target.type === "boolean") return { name: fieldName, make: () => false };
  return undefined;
}

function valueStruct(fieldName: string, s: RawSchema | undefined): ZeroField | undefined {
  if (!s) return undefined;
  const refd = s.$ref ? refName(s.$ref) : undefined;
  const target = refd ? load().definitions[refd] : s;
  if (!target) return undefined;
  if (target.type === "object" && target.properties) return { name: fieldName, make: () => ({}), node: refd ? compileDef(refd) : undefined };
  if (target.type === "string") return { name: fieldName, make: () => "" };
  return zeroOf(s, fieldName, true);
}

function structZeroFields(def: RawSchema, name: string): ZeroField[] {
  const out: ZeroField[] = [];
  const required = new Set(def.required ?? []);
  const extra = new Set(EXTRA_ZERO_FIELDS[name] ?? []);
  for (const [field, prop] of Object.entries(def.properties ?? {})) {
    if (field === "apiVersion" || field === "kind") continue;
    let z: ZeroField | undefined;
    if (prop.$ref && refName(prop.$ref) === OBJECT_META) z = { name: field, make: () => ({}), node: compileDef(OBJECT_META) };
    else if ((field === "spec" || field === "status") && !POINTER_SPEC_STATUS.has(name)) z = valueStruct(field, prop);
    else if (extra.has(field)) z = valueStruct(field, prop);
    else z = zeroOf(prop, field, required.has(field));
    if (z) out.push(z);
  }
  return out;
}

function listNode(s: RawSchema, elem: TypeNode): ListNode {
  const lt = s["x-kubernetes-list-type"];
  if (lt === "map") return { kind: "list", relation: "map", keys: s["x-kubernetes-list-map-keys"] ?? [], elem };
  if (lt === "set") return { kind: "list", relation: elem.kind === "scalar" ? "set" : "atomic", keys: [], elem };
  if (lt === "atomic") return { kind: "list", relation: "atomic", keys: [], elem };
  const ps = s["x-kubernetes-patch-strategy"];
  if (ps !== undefined && ps.split(",").includes("merge")) {
    const key = s["x-kubernetes-patch-merge-key"];
    if (key) return { kind: "list", relation: "map", keys: [key], elem };
    return { kind: "list", relation: elem.kind === "scalar" ? "set" : "atomic", keys: [], elem };
  }
  return { kind: "list", relation: "atomic", keys: [], elem };
}

function compileSchema(s: RawSchema, name: string, isDef = false): TypeNode {
  if (s.$ref) {
    const target = compileDef(refName(s.$ref));
    // A property-level map type overrides the referenced definition's (schemaconv inlines it).
    if (s["x-kubernetes-map-type"] === "atomic" && (target.kind === "struct" || target.kind === "map"))
      return { ...target, atomic: true };
    return target;
  }
  const atomicMap = s["x-kubernetes-map-type"] === "atomic";
  if (s.type === "array") return listNode(s, s.items ? compileSchema(s.items, `${name}[]`) : UNTYPED_MAP);
  if (s.type === "object" || (s.type === undefined && s.properties)) {
    if (s.properties) {
      const props = s.properties;
      const fields = new Map<string, TypeNode>();
      let zero: ZeroField[] | undefined;
      const node: StructNode = {
        kind: "struct",
        name,
        atomic: atomicMap,
        fieldNames: Object.keys(props),
        field(f) {
          const hit = fields.get(f);
          if (hit) return hit;
          const p = props[f];
          if (!p) return undefined;
          const t = compileSchema(p, `${name}.${f}`);
          fields.set(f, t);
          return t;
        },
        zeroFields() {
          zero ??= isDef ? structZeroFields(s, name) : [];
          return zero;
        },
      };
      return node;
    }
    if (s.additionalProperties && typeof s.additionalProperties === "object")
      return { kind: "map", atomic: atomicMap, elem: compileSchema(s.additionalProperties, `${name}{}`) };
    return UNTYPED_MAP;
  }
  if (s.type === undefined) return UNTYPED_MAP;
  return { kind: "scalar", type: s.type, format: s.format };
}

// ---- custom (structural) schemas --------------------------------------------------------------

function compileStructural(s: StructuralSchema, name: string): TypeNode {
  if (s["x-kubernetes-int-or-string"]) return { kind: "scalar", type: "string", format: "int-or-string" };
  const atomicMap = s["x-kubernetes-map-type"] === "atomic";
  if (s.type === "array") {
    const elem = s.items ? compileStructural(s.items, `${name}[]`) : UNTYPED_MAP;
    const lt = s["x-kubernetes-list-type"];
    if (lt === "map") return { kind: "list", relation: "map", keys: s["x-kubernetes-list-map-keys"] ?? [], elem };
    if (lt === "set" && elem.kind === "scalar") return { kind: "list", relation: "set", keys: [], elem };
    return { kind: "list", relation: "atomic", keys: [], elem };
  }
  if (s.type === "object" || s.properties || s["x-kubernetes-preserve-unknown-fields"] || s["x-kubernetes-embedded-resource"]) {
    const props: Record<string, StructuralSchema> = { ...(s.properties ?? {}) };
    if (s["x-kubernetes-embedded-resource"]) {
      props.apiVersion ??= { type: "string" };
      props.kind ??= { type: "string" };
    }
    const hasProps = Object.keys(props).length > 0 || s["x-kubernetes-embedded-resource"];
    if (!hasProps && s.additionalProperties && typeof s.additionalProperties === "object")
      return { kind: "map", atomic: atomicMap, elem: compileStructural(s.additionalProperties, `${name}{}`) };
    if (!hasProps) return UNTYPED_MAP;
    const fields = new Map<string, TypeNode>();
    return {
      kind: "struct",
      name,
      atomic: atomicMap,
      fieldNames: Object.keys(props),
      unknownFields: s["x-kubernetes-preserve-unknown-fields"] ? UNTYPED_MAP : undefined,
      field(f) {
        const hit = fields.get(f);
        if (hit) return hit;
        if (f === "metadata" && s["x-kubernetes-embedded-resource"]) return compileDef(OBJECT_META);
        const p = props[f];
        if (!p) return undefined;
        const t = compileStructural(p, `${name}.${f}`);
        fields.set(f, t);
        return t;
      },
      zeroFields: () => [],
    };
  }
  return { kind: "scalar", type: s.type, format: s.format };
}

function customRoot(gvk: Gvk, schema: StructuralSchema | undefined): StructNode {
  const inner = schema ? compileStructural(schema, gvk.kind) : undefined;
  const fields = new Map<string, TypeNode>();
  const innerStruct = inner?.kind === "struct" ? inner : undefined;
  return {
    kind: "struct",
    name: `${gvk.group}/${gvk.version}/${gvk.kind}`,
    atomic: false,
    fieldNames: ["apiVersion", "kind", "metadata", ...(innerStruct?.fieldNames.filter((f) => !["apiVersion", "kind", "metadata"].includes(f)) ?? [])],
    unknownFields: schema ? innerStruct?.unknownFields : UNTYPED_STRUCT,
    field(f) {
      const hit = fields.get(f);
      if (hit) return hit;
      let t: TypeNode | undefined;
      if (f === "apiVersion" || f === "kind") t = { kind: "scalar", type: "string" };
      else if (f === "metadata") t = compileDef(OBJECT_META);
      else if (innerStruct) t = innerStruct.field(f);
      else t = UNTYPED_STRUCT;
      if (t) fields.set(f, t);
      return t;
    },
    // Custom resources are unstructured: the empty object a create starts from has no fields.
    zeroFields: () => [],
  };
}

const customRoots = new WeakMap<StructuralSchema, Map<string, StructNode>>();
const schemalessRoots = new Map<string, StructNode>();

/** Definition name of a GVK in the OpenAPI document (undefined when it has none). */
export function definitionName(gvk: Gvk): string | undefined {
  return load().byGvk.get(gvkKey(gvk));
}

/**
 * The root type of a kind: its OpenAPI definition when the document has one, else a root struct
 * built from `custom` (a CRD's structural schema) or, without it, the schema-less default.
 */
export function rootType(gvk: Gvk, custom?: StructuralSchema): StructNode {
  const def = definitionName(gvk);
  if (def) {
    const n = compileDef(def);
    if (n.kind === "struct") return n;
  }
  if (custom) {
    let byKind = customRoots.get(custom);
    if (!byKind) customRoots.set(custom, (byKind = new Map()));
    let r = byKind.get(gvkKey(gvk));
    if (!r) byKind.set(gvkKey(gvk), (r = customRoot(gvk, custom)));
    return r;
  }
  let r = schemalessRoots.get(gvkKey(gvk));
  if (!r) schemalessRoots.set(gvkKey(gvk), (r = customRoot(gvk, undefined)));
  return r;
}

/** Whether the OpenAPI document describes this kind (false: custom or unknown kind). */
export function isBuiltIn(gvk: Gvk): boolean {
  return definitionName(gvk) !== undefined;
}

/** The type of a child: a struct field, a map value or a list item (any segment descends). */
export function childType(node: TypeNode, segment: string): TypeNode | undefined {
  switch (node.kind) {
    case "struct":
      return node.field(segment) ?? node.unknownFields;
    case "map":
      return node.elem;
    case "list":
      return node.elem;
    case "untyped":
      return node;
    case "scalar":
      return undefined;
  }
}

export function shapeOf(node: TypeNode): FieldShape {
  switch (node.kind) {
    case "scalar":
      return { shape: "atomic", scalar: true };
    case "struct":
      return node.atomic ? { shape: "atomic" } : { shape: "struct" };
    case "map":
      return node.atomic ? { shape: "atomic" } : { shape: "map" };
    case "list":
      if (node.relation === "map") return { shape: "list-map", keys: [...node.keys] };
      if (node.relation === "set") return { shape: "set" };
      return { shape: "atomic" };
    case "untyped":
      return { shape: "untyped" };
  }
}

/**
 * What the field at `path` is: `["spec", "containers"]` → list-map keyed by name;
 * list items and map values are addressed by any segment (`["spec", "containers", "*", "ports"]`).
 * Undefined when the path leaves the schema.
 */
export function shapeAt(gvk: Gvk, path: readonly string[], custom?: StructuralSchema): FieldShape | undefined {
  let node: TypeNode | undefined = rootType(gvk, custom);
  for (const seg of path) {
    node = childType(node, seg);
    if (!node) return undefined;
  }
  return shapeOf(node);
}
