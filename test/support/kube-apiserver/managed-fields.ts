// metadata.managedFields and server-side apply (SSA), as kube-apiserver v1.25 computes them
// (k8s.io/apiserver fieldmanager over sigs.k8s.io/structured-merge-diff v4, "SMD"), checked against
// ../shared/kube/recorded-v1.25 (test/support/kube-apiserver-managed-fields.test.ts).
//
// CONTRACT FOR THE SERVER (where to call what):
// - Update-type writes (POST create, PUT, merge / strategic / JSON patch, on the main resource or a
//   subresource): call `trackUpdate(gvk, live, next, ctx)` with `next` = the object as decoded from
//   the request (or patched) AND DEFAULTED, but BEFORE admission plugins (ServiceAccount volumes,
//   tolerations, priority, ...) and before the registry strategy and REST storage
//   (PrepareForCreate/ForUpdate: dropping status on create, namespace spec.finalizers, the job
//   selector and batch.kubernetes.io labels, a service's allocated clusterIP(s); the
//   deployment.kubernetes.io annotations are the controller's own writes). The real server tracks fields at
//   that point: `pods/create-minimal` owns imagePullPolicy, terminationMessagePath, dnsPolicy,
//   restartPolicy, schedulerName, securityContext, terminationGracePeriodSeconds,
//   enableServiceLinks and resources, but not the admission-added volumes, volumeMounts,
//   tolerations, priority, preemptionPolicy, serviceAccountName, nor status. Copy the returned
//   `metadata.managedFields` onto the object you finally store. `live` is the stored object
//   (undefined for a create); `ctx.time` the request's time (RFC 3339, seconds).
// - Server-side apply (PATCH application/apply-patch+yaml): `serverSideApply(gvk, live, applied,
//   ctx)` with `applied` = the parsed YAML/JSON body and `live` = the stored object (undefined when
//   the object does not exist: the result is then the applied object, to be created). It returns
//   the merged object (to be defaulted, admitted and validated like an update) or throws an
//   ApiError: 409 conflicts (exact real message and causes), 400 wrong apiVersion or
//   managedFields in the body, 500 fields the schema does not declare. A result deep-equal to
//   `live` (managedFields aside) is a no-op for the object (managedFields may still differ).
// - Status subresource writes pass `ctx.subresource: "status"`; the scale subresource passes
//   `"scale"` with the PARENT object (live and next Deployment/ReplicaSet/StatefulSet with the new
//   spec.replicas): only spec.replicas is tracked, under an entry with the parent's apiVersion and,
//   as v1.25 does, no `time`.
// - Reset fields (what the strategy overwrites, excluded from ownership): main resource → status,
//   status subresource → spec (+ pod metadata.deletionTimestamp/ownerReferences, deployment
//   metadata.labels). Built-in kinds only by default; pass `ctx.resetFields` for custom resources.
// - The manager name of non-apply requests without `fieldManager` is `defaultFieldManager(UA)`.
// - `ctx.operation` is informative: trackUpdate always records an Update, serverSideApply an Apply.
// - An apply body's metadata.resourceVersion ends up in the merged object: treat it as the usual
//   optimistic-concurrency precondition (409 when stale), as the real server does.
//
// Modelled: FieldsV1 encoding with SMD's ordering, `"."` markers, Update ownership transfer of
// changed fields and removal of deleted ones, entry merging per (manager, operation, apiVersion
// [Update only], subresource), entry order, at most 10 Update entries ("ancient-changes" buckets),
// apply merge (associative lists by key, sets, atomic values), pruning of fields the applier no
// longer applies unless someone else owns them, conflicts and force, "before-first-apply" for
// objects without managedFields, managedFields given in a request (reset with [] or [{}]).
// Not modelled: version conversion of entries (one version per kind), the
// last-applied-configuration annotation interplay with client-side apply, unions, SMD errors for
// list items without key fields (a partial key is used), type errors in apply bodies.
import { ApiError, statusObject, type StatusCause, type StatusObject } from "./status.js";
import type { KubeObject } from "./store.js";
import { childType, definitionName, rootType, type Gvk, type StructNode, type StructuralSchema, type TypeNode } from "./field-schema.js";

export type { Gvk, StructuralSchema } from "./field-schema.js";

export interface ManagerContext {
  manager: string;
  operation: "Update" | "Apply";
  /** The apiVersion of the request (group/version the object was written in). */
  apiVersion: string;
  subresource?: string;
  /** RFC 3339 with seconds, e.g. 2026-12-07T11:43:11Z. */
  time: string;
  /** Paths (field names) the strategy resets for this (sub)resource; default: see defaultResetFields. */
  resetFields?: string[][];
  /** Structural schema (a CRD's openAPIV3Schema) for kinds the built-in OpenAPI does not describe. */
  schema?: StructuralSchema;
  /** scale subresource only: field path of replicas in the parent (default spec.replicas). */
  replicasPath?: string[];
}

export interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  apiVersion?: string;
  time?: string;
  fieldsType?: string;
  fieldsV1?: Record<string, unknown>;
  subresource?: string;
}

/** Longest fieldManager the API accepts (validation.FieldManagerMaxLength). */
export const FIELD_MANAGER_MAX_LENGTH = 128;
/** Update entries kept before the oldest are merged into "ancient-changes" buckets. */
export const MAX_UPDATE_MANAGERS = 10;

type JsonObject = Record<string, unknown>;

function isObject(v: unknown): v is JsonObject {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

/** JSON equality (key order ignored, numbers by value). */
function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => jsonEqual(x, bb[i]));
  }
  const ao = a as JsonObject;
  const bo = b as JsonObject;
  const ak = Object.keys(ao);
  return ak.length === Object.keys(bo).length && ak.every((k) => Object.hasOwn(bo, k) && jsonEqual(ao[k], bo[k]));
}

// ---- path elements ----------------------------------------------------------------------------
// A path element is kept in its FieldsV1 spelling: `f:<name>`, `k:<json of the sorted key fields>`,
// `v:<json value>`, `i:<index>`.

function goCompareStrings(a: string, b: string): number {
  if (a === b) return 0;
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/** SMD's total order of values: numbers < strings < booleans < lists < maps < null. */
function compareValues(a: unknown, b: unknown): number {
  const rank = (v: unknown): number =>
    typeof v === "number" ? 0 : typeof v === "string" ? 1 : typeof v === "boolean" ? 2 : Array.isArray(v) ? 3 : isObject(v) ? 4 : 5;
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  switch (ra) {
    case 0:
      return (a as number) - (b as number);
    case 1:
      return goCompareStrings(a as string, b as string);
    case 2:
      return Number(a) - Number(b);
    case 3: {
      const al = a as unknown[];
      const bl = b as unknown[];
      for (let i = 0; i < Math.min(al.length, bl.length); i++) {
        const c = compareValues(al[i], bl[i]);
        if (c !== 0) return c;
      }
      return al.length - bl.length;
    }
    case 4: {
      const ao = a as JsonObject;
      const bo = b as JsonObject;
      const keys = [...new Set([...Object.keys(ao), ...Object.keys(bo)])].sort(goCompareStrings);
      for (const k of keys) {
        if (!Object.hasOwn(ao, k)) return 1;
        if (!Object.hasOwn(bo, k)) return -1;
        const c = compareValues(ao[k], bo[k]);
        if (c !== 0) return c;
      }
      return 0;
    }
    default:
      return 0;
  }
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (isObject(v))
    return `{${Object.keys(v)
      .sort(goCompareStrings)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`)
      .join(",")}}`;
  return JSON.stringify(v) ?? "null";
}

const parsedPe = new Map<string, unknown>();
function peValue(pe: string): unknown {
  let v = parsedPe.get(pe);
  if (v === undefined && !parsedPe.has(pe)) {
    v = JSON.parse(pe.slice(2)) as unknown;
    if (parsedPe.size > 10000) parsedPe.clear();
    parsedPe.set(pe, v);
  }
  return v;
}

const PE_RANK: Record<string, number> = { f: 0, k: 1, v: 2, i: 3 };

function comparePe(a: string, b: string): number {
  const ka = a[0] ?? "";
  const kb = b[0] ?? "";
  if (ka !== kb) return (PE_RANK[ka] ?? 9) - (PE_RANK[kb] ?? 9);
  switch (ka) {
    case "f":
      return goCompareStrings(a.slice(2), b.slice(2));
    case "k": {
      // Key field lists, each sorted by name: compare name, then value, pairwise; shorter first.
      const fa = Object.entries(peValue(a) as JsonObject);
      const fb = Object.entries(peValue(b) as JsonObject);
      for (let i = 0; i < Math.min(fa.length, fb.length); i++) {
        const c = goCompareStrings(fa[i]![0], fb[i]![0]) || compareValues(fa[i]![1], fb[i]![1]);
        if (c !== 0) return c;
      }
      return fa.length - fb.length;
    }
    case "v":
      return compareValues(peValue(a), peValue(b));
    case "i":
      return Number(a.slice(2)) - Number(b.slice(2));
    default:
      return goCompareStrings(a, b);
  }
}

function canonicalPe(pe: string): string {
  if (pe.startsWith("k:") || pe.startsWith("v:")) return pe.slice(0, 2) + canonicalJson(JSON.parse(pe.slice(2)));
  return pe;
}

/** value.ToString of SMD (strings quoted like Go's %q). */
function valueToString(v: unknown): string {
  if (v === null || v === undefined) return "null";
  if (typeof v === "string") return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(valueToString).join(", ")}]`;
  if (isObject(v))
    return `{${Object.keys(v)
      .sort(goCompareStrings)
      .map((k) => `${k}=${valueToString(v[k])}`)
      .join(", ")}}`;
  return String(v);
}

/** fieldpath.Path.String(): `.spec.containers[name="web"].image`, `[="x"]` for sets. */
export function pathToString(path: readonly string[]): string {
  return path
    .map((pe) => {
      if (pe.startsWith("f:")) return `.${pe.slice(2)}`;
      if (pe.startsWith("k:"))
        return `[${Object.entries(peValue(pe) as JsonObject)
          .map(([k, v]) => `${k}=${valueToString(v)}`)
          .join(",")}]`;
      if (pe.startsWith("v:")) return `[=${valueToString(peValue(pe))}]`;
      if (pe.startsWith("i:")) return `[${pe.slice(2)}]`;
      return pe;
    })
    .join("");
}

// ---- field sets -------------------------------------------------------------------------------

/** A set of field paths (SMD fieldpath.Set) stored as a trie; `member` marks the path itself. */
export class FieldSet {
  member = false;
  readonly children = new Map<string, FieldSet>();

  static of(...paths: (readonly string[])[]): FieldSet {
    const s = new FieldSet();
    for (const p of paths) s.insert(p);
    return s;
  }

  /** Parses a FieldsV1 object (`{"f:data": {".": {}, "f:a": {}}}`). */
  static fromFieldsV1(fields: unknown): FieldSet {
    const s = new FieldSet();
    const walk = (node: FieldSet, obj: unknown): void => {
      if (!isObject(obj)) throw new Error("FieldsV1: not an object");
      for (const [k, v] of Object.entries(obj)) {
        if (k === ".") {
          node.member = true;
          continue;
        }
        if (!/^[fkvi]:/.test(k)) throw new Error(`FieldsV1: bad path element ${JSON.stringify(k)}`);
        const pe = canonicalPe(k);
        let child = node.children.get(pe);
        if (!child) node.children.set(pe, (child = new FieldSet()));
        if (isObject(v) && Object.keys(v).length === 0) child.member = true;
        else walk(child, v);
      }
    };
    walk(s, fields);
    s.prune();
    return s;
  }

  isEmpty(): boolean {
    return !this.member && this.children.size === 0;
  }

  insert(path: readonly string[]): void {
    let node: FieldSet | undefined;
    let children = this.children;
    for (const pe of path) {
      node = children.get(pe);
      if (!node) children.set(pe, (node = new FieldSet()));
      children = node.children;
    }
    if (node) node.member = true;
    else this.member = true;
  }

  has(path: readonly string[]): boolean {
    let node: FieldSet | undefined;
    let children = this.children;
    for (const pe of path) {
      node = children.get(pe);
      if (!node) return false;
      children = node.children;
    }
    return node ? node.member : this.member;
  }

  clone(): FieldSet {
    const s = new FieldSet();
    s.member = this.member;
    for (const [k, v] of this.children) s.children.set(k, v.clone());
    return s;
  }

  union(o: FieldSet): FieldSet {
    const s = this.clone();
    const walk = (dst: FieldSet, src: FieldSet): void => {
      if (src.member) dst.member = true;
      for (const [k, v] of src.children) {
        let c = dst.children.get(k);
        if (!c) dst.children.set(k, (c = new FieldSet()));
        walk(c, v);
      }
    };
    walk(s, o);
    return s;
  }

  /** Paths of this set that are not members of `o` (exact paths, not subtrees). */
  difference(o: FieldSet): FieldSet {
    const walk = (a: FieldSet, b: FieldSet | undefined): FieldSet => {
      const s = new FieldSet();
      s.member = a.member && !b?.member;
      for (const [k, v] of a.children) {
        const c = walk(v, b?.children.get(k));
        if (!c.isEmpty()) s.children.set(k, c);
      }
      return s;
    };
    return walk(this, o);
  }

  /** Paths of this set that are neither members of `o` nor below one. */
  recursiveDifference(o: FieldSet): FieldSet {
    const walk = (a: FieldSet, b: FieldSet | undefined): FieldSet => {
      const s = new FieldSet();
      if (b?.member) return s;
      s.member = a.member;
      for (const [k, v] of a.children) {
        const c = walk(v, b?.children.get(k));
        if (!c.isEmpty()) s.children.set(k, c);
      }
      return s;
    };
    return walk(this, o);
  }

  intersection(o: FieldSet): FieldSet {
    const walk = (a: FieldSet, b: FieldSet): FieldSet => {
      const s = new FieldSet();
      s.member = a.member && b.member;
      for (const [k, v] of a.children) {
        const bc = b.children.get(k);
        if (!bc) continue;
        const c = walk(v, bc);
        if (!c.isEmpty()) s.children.set(k, c);
      }
      return s;
    };
    return walk(this, o);
  }

  /** Every member path, in SMD's Iterate order (a level's members, then its children's). */
  paths(): string[][] {
    const out: string[][] = [];
    const walk = (n: FieldSet, prefix: string[]): void => {
      const keys = [...n.children.keys()].sort(comparePe);
      for (const k of keys) if (n.children.get(k)!.member) out.push([...prefix, k]);
      for (const k of keys) {
        const c = n.children.get(k)!;
        if (c.children.size > 0) walk(c, [...prefix, k]);
      }
    };
    walk(this, []);
    return out;
  }

  /** The FieldsV1 encoding, keys in SMD's serialization order. */
  toFieldsV1(): Record<string, unknown> {
    const emit = (n: FieldSet, self: boolean): Record<string, unknown> => {
      const o: Record<string, unknown> = {};
      if (self && n.member && n.children.size > 0) o["."] = {};
      for (const k of [...n.children.keys()].sort(comparePe)) {
        const c = n.children.get(k)!;
        o[k] = c.children.size === 0 ? {} : emit(c, true);
      }
      return o;
    };
    return emit(this, false);
  }

  private prune(): void {
    for (const [k, c] of this.children) {
      c.prune();
      if (c.isEmpty()) this.children.delete(k);
    }
  }
}

// ---- walking values with the schema ----------------------------------------------------------

function fieldType(node: TypeNode, name: string): TypeNode | undefined {
  return childType(node, name);
}

function isContainerNode(node: TypeNode): boolean {
  switch (node.kind) {
    case "struct":
    case "map":
      return !node.atomic;
    case "list":
      return node.relation !== "atomic";
    case "untyped":
      return true;
    default:
      return false;
  }
}

/** The path element of a list item (`i:<index>` when a keyed item lacks every key field). */
function itemPe(node: TypeNode, item: unknown, index: number): string {
  if (node.kind === "list" && node.relation === "map") {
    if (isObject(item)) {
      const key: JsonObject = {};
      for (const k of [...node.keys].sort(goCompareStrings)) if (Object.hasOwn(item, k) && item[k] !== undefined) key[k] = item[k];
      if (Object.keys(key).length > 0) return `k:${canonicalJson(key)}`;
    }
    return `i:${index}`;
  }
  if (node.kind === "list" && node.relation === "set") return `v:${canonicalJson(item)}`;
  return `i:${index}`;
}

/** Items by path element, first occurrence wins (duplicates are ignored as SMD does). */
function indexItems(node: TypeNode, list: unknown[] | undefined): { order: string[]; items: Map<string, unknown> } {
  const order: string[] = [];
  const items = new Map<string, unknown>();
  (list ?? []).forEach((item, i) => {
    const pe = itemPe(node, item, i);
    if (items.has(pe)) return;
    items.set(pe, item);
    order.push(pe);
  });
  return { order, items };
}

/** Deep copy with the fields a Go object always carries (see field-schema.ts) filled in. */
function withGoZeroes(v: unknown, node: TypeNode | undefined): unknown {
  if (!node) return clone(v);
  if (node.kind === "struct" && isObject(v)) {
    const out: JsonObject = {};
    for (const [k, x] of Object.entries(v)) out[k] = withGoZeroes(x, fieldType(node, k));
    for (const z of node.zeroFields()) {
      if (Object.hasOwn(out, z.name)) continue;
      const zv = z.make();
      out[z.name] = z.node && isObject(zv) ? withGoZeroes(zv, z.node) : zv;
    }
    return out;
  }
  if (node.kind === "map" && isObject(v)) {
    const out: JsonObject = {};
    for (const [k, x] of Object.entries(v)) out[k] = withGoZeroes(x, node.elem);
    return out;
  }
  if (node.kind === "list" && Array.isArray(v)) return v.map((x) => withGoZeroes(x, node.elem));
  return clone(v);
}

interface Comparison {
  added: FieldSet;
  modified: FieldSet;
  removed: FieldSet;
}

/** SMD TypedValue.Compare: leaves added/modified/removed, plus containers that appeared/vanished. */
function compare(lhs: unknown, rhs: unknown, root: TypeNode): Comparison {
  const c: Comparison = { added: new FieldSet(), modified: new FieldSet(), removed: new FieldSet() };
  const path: string[] = [];
  const leaf = (l: unknown, r: unknown): void => {
    if (l === undefined) c.added.insert(path);
    else if (r === undefined) c.removed.insert(path);
    else if (!jsonEqual(l, r)) c.modified.insert(path);
  };
  const post = (l: unknown, r: unknown): void => {
    if (l === undefined) c.added.insert(path);
    else if (r === undefined) c.removed.insert(path);
  };
  const walk = (l: unknown, r: unknown, node: TypeNode): void => {
    if (l === undefined && r === undefined) return;
    if (!isContainerNode(node)) return leaf(l, r);
    if (node.kind === "list") {
      const okL = l === undefined || l === null || Array.isArray(l);
      const okR = r === undefined || r === null || Array.isArray(r);
      if (!okL || !okR) return leaf(l, r);
      const la = Array.isArray(l) ? l : undefined;
      const ra = Array.isArray(r) ? r : undefined;
      if ((!la || la.length === 0) && (!ra || ra.length === 0)) return leaf(l, r);
      const li = indexItems(node, la);
      const ri = indexItems(node, ra);
      for (const pe of li.order) {
        path.push(pe);
        walk(li.items.get(pe), ri.items.get(pe), node.elem);
        path.pop();
      }
      for (const pe of ri.order) {
        if (li.items.has(pe)) continue;
        path.push(pe);
        walk(undefined, ri.items.get(pe), node.elem);
        path.pop();
      }
      return post(l, r);
    }
    // struct, map or untyped object
    if (node.kind === "untyped" && (Array.isArray(l) || Array.isArray(r))) return leaf(l, r);
    const okL = l === undefined || l === null || isObject(l);
    const okR = r === undefined || r === null || isObject(r);
    if (!okL || !okR) return leaf(l, r);
    const lo = isObject(l) ? l : undefined;
    const ro = isObject(r) ? r : undefined;
    if ((!lo || Object.keys(lo).length === 0) && (!ro || Object.keys(ro).length === 0)) return leaf(l, r);
    const keys = new Set([...Object.keys(lo ?? {}), ...Object.keys(ro ?? {})]);
    for (const k of keys) {
      const t = fieldType(node, k);
      if (!t) continue; // not in the Go type: the real server never sees it
      path.push(`f:${k}`);
      walk(lo?.[k], ro?.[k], t);
      path.pop();
    }
    return post(l, r);
  };
  walk(lhs, rhs, root);
  return c;
}

/** SMD TypedValue.ToFieldSet of an applied configuration, with its validation errors. */
function toFieldSet(config: unknown, root: TypeNode): { set: FieldSet; errors: string[] } {
  const set = new FieldSet();
  const errors: string[] = [];
  const path: string[] = [];
  const walk = (v: unknown, node: TypeNode): void => {
    switch (node.kind) {
      case "scalar":
        set.insert(path);
        return;
      case "list":
        if (node.relation === "atomic") return set.insert(path);
        if (!Array.isArray(v)) {
          if (v !== null) set.insert(path);
          return;
        }
        v.forEach((item, i) => {
          path.push(itemPe(node, item, i));
          walk(item, node.elem);
          set.insert(path);
          path.pop();
        });
        return;
      case "struct":
      case "map":
      case "untyped": {
        if (node.kind !== "untyped" && node.atomic) return set.insert(path);
        if (node.kind === "untyped" && Array.isArray(v)) return set.insert(path);
        if (!isObject(v)) {
          if (v !== null || node.kind === "untyped") set.insert(path);
          return;
        }
        for (const [k, x] of Object.entries(v)) {
          const declared = node.kind === "struct" && node.field(k) !== undefined;
          const t = fieldType(node, k);
          path.push(`f:${k}`);
          if (!t) errors.push(`${pathToString(path)}: field not declared in schema`);
          else {
            walk(x, t);
            const entry = node.kind === "map" || (node.kind === "untyped" && node.objects === "map") || (node.kind === "struct" && !declared && node.unknownFields?.kind === "untyped" && node.unknownFields.objects === "map");
            if (entry) set.insert(path);
          }
          path.pop();
        }
        return;
      }
    }
  };
  walk(config, root);
  return { set, errors };
}

/** SMD Set.EnsureNamedFieldsAreMembers: struct fields along owned paths become members too. */
function ensureNamedFieldsAreMembers(s: FieldSet, node: TypeNode | undefined): FieldSet {
  const out = new FieldSet();
  out.member = s.member;
  for (const [pe, child] of s.children) {
    const t = node && pe.startsWith("f:") ? fieldType(node, pe.slice(2)) : node?.kind === "list" ? node.elem : undefined;
    const c = ensureNamedFieldsAreMembers(child, t);
    const named =
      pe.startsWith("f:") && node !== undefined && ((node.kind === "struct" && node.field(pe.slice(2)) !== undefined) || (node.kind === "untyped" && node.objects === "struct"));
    if (named) c.member = true;
    out.children.set(pe, c);
  }
  return out;
}

/** Removes the subtrees at the member paths of `remove` from `value` (in place). */
function removePaths(value: unknown, remove: FieldSet, node: TypeNode | undefined): void {
  if (remove.children.size === 0) return;
  if (isObject(value)) {
    for (const k of Object.keys(value)) {
      const r = remove.children.get(`f:${k}`);
      if (!r) continue;
      if (r.member) delete value[k];
      else removePaths(value[k], r, node ? fieldType(node, k) : undefined);
    }
  } else if (Array.isArray(value) && node?.kind === "list") {
    const kept: unknown[] = [];
    value.forEach((item, i) => {
      const r = remove.children.get(itemPe(node, item, i));
      if (r?.member) return;
      if (r) removePaths(item, r, node.elem);
      kept.push(item);
    });
    value.splice(0, value.length, ...kept);
  }
}

/** SMD merge with "keep RHS": the applied configuration over the live object. */
function mergeApplied(l: unknown, r: unknown, node: TypeNode | undefined): unknown {
  if (r === undefined) return l;
  if (l === undefined || !node || !isContainerNode(node)) return clone(r);
  if (node.kind === "list") {
    const la = Array.isArray(l) ? l : undefined;
    const ra = Array.isArray(r) ? r : undefined;
    if ((l !== null && !la) || (r !== null && !ra)) return clone(r);
    if ((!la || la.length === 0) && (!ra || ra.length === 0)) return clone(r);
    return mergeListItems(node, la, ra);
  }
  if (node.kind === "untyped" && (Array.isArray(l) || Array.isArray(r))) return clone(r);
  if (isObject(l) && r === null) return l;
  if (!isObject(l) || !isObject(r)) return clone(r);
  if (Object.keys(l).length === 0 && Object.keys(r).length === 0) return clone(r);
  const out: JsonObject = { ...l };
  for (const [k, rv] of Object.entries(r)) {
    const merged = mergeApplied(l[k], rv, fieldType(node, k));
    // A null applied over nothing mergeable is a zero value in Go: omitted.
    if (merged === null && rv === null) delete out[k];
    else out[k] = merged;
  }
  return out;
}

/** Item order of SMD's merge: shared items in applied order, live-only items kept in place. */
function mergeListItems(node: TypeNode & { kind: "list" }, lhs: unknown[] | undefined, rhs: unknown[] | undefined): unknown[] {
  const L = indexItems(node, lhs);
  const R = indexItems(node, rhs);
  const shared = R.order.filter((pe) => L.items.has(pe));
  let nextShared = shared.shift();
  const out: unknown[] = [];
  let lI = 0;
  let rI = 0;
  while (lI < L.order.length || rI < R.order.length) {
    if (lI < L.order.length && rI < R.order.length) {
      const pe = L.order[lI]!;
      if (pe === R.order[rI]) {
        out.push(mergeApplied(L.items.get(pe), R.items.get(pe), node.elem));
        lI++;
        rI++;
        nextShared = shared.shift();
        continue;
      }
      if (R.items.has(pe) && nextShared !== undefined && nextShared !== pe) {
        lI++;
        continue;
      }
    }
    if (lI < L.order.length) {
      const pe = L.order[lI]!;
      if (!R.items.has(pe)) {
        out.push(L.items.get(pe));
        lI++;
        continue;
      }
    }
    if (rI < R.order.length) {
      const pe = R.order[rI]!;
      out.push(mergeApplied(L.items.get(pe), R.items.get(pe), node.elem));
      rI++;
      if (nextShared === pe) nextShared = shared.shift();
    }
  }
  return out;
}

// ---- managers ---------------------------------------------------------------------------------

interface Manager {
  manager: string;
  operation: "Update" | "Apply";
  apiVersion: string;
  subresource: string;
  time?: string;
  set: FieldSet;
}

type Managers = Map<string, Manager>;

/** The manager identifier (fieldmanager BuildManagerIdentifier): Apply entries ignore apiVersion. */
function managerId(manager: string, operation: string, apiVersion: string, subresource: string): string {
  const o: Record<string, string> = {};
  if (manager) o.manager = manager;
  if (operation) o.operation = operation;
  if (operation !== "Apply" && apiVersion) o.apiVersion = apiVersion;
  if (subresource) o.subresource = subresource;
  return JSON.stringify(o);
}

function idOf(m: Manager): string {
  return managerId(m.manager, m.operation, m.apiVersion, m.subresource);
}

/** Decodes metadata.managedFields; undefined when it cannot be decoded (treated as none). */
function decodeManaged(entries: unknown): Managers | undefined {
  const out: Managers = new Map();
  if (entries === undefined || entries === null) return out;
  if (!Array.isArray(entries)) return undefined;
  try {
    for (const e of entries) {
      if (!isObject(e)) return undefined;
      if (e.fieldsType !== "FieldsV1") return undefined;
      const op = e.operation;
      if (op !== "Apply" && op !== "Update") return undefined;
      const m: Manager = {
        manager: typeof e.manager === "string" ? e.manager : "",
        operation: op,
        apiVersion: typeof e.apiVersion === "string" ? e.apiVersion : "",
        subresource: typeof e.subresource === "string" ? e.subresource : "",
        set: FieldSet.fromFieldsV1(e.fieldsV1 ?? {}),
      };
      if (typeof e.time === "string") m.time = e.time;
      out.set(idOf(m), m);
    }
  } catch {
    return undefined;
  }
  return out;
}

function seconds(time: string | undefined): number {
  if (!time) return 0;
  const t = Date.parse(time);
  return Number.isNaN(t) ? 0 : Math.floor(t / 1000);
}

/** Encodes in the real order: Apply before Update, then time, manager, apiVersion, subresource. */
function encodeManaged(managers: Managers): ManagedFieldsEntry[] {
  const list = [...managers.values()].filter((m) => !m.set.isEmpty());
  list.sort((p, q) => {
    if (p.operation !== q.operation) return p.operation < q.operation ? -1 : 1;
    const ps = seconds(p.time);
    const qs = seconds(q.time);
    if (ps !== qs) return ps - qs;
    if (p.manager !== q.manager) return goCompareStrings(p.manager, q.manager);
    if (p.apiVersion !== q.apiVersion) return goCompareStrings(p.apiVersion, q.apiVersion);
    return goCompareStrings(p.subresource, q.subresource);
  });
  return list.map((m) => {
    const e: ManagedFieldsEntry = {};
    if (m.manager) e.manager = m.manager;
    e.operation = m.operation;
    if (m.apiVersion) e.apiVersion = m.apiVersion;
    if (m.time) e.time = m.time;
    e.fieldsType = "FieldsV1";
    e.fieldsV1 = m.set.toFieldsV1();
    if (m.subresource) e.subresource = m.subresource;
    return e;
  });
}

function setManagedFields(obj: KubeObject, managers: Managers): KubeObject {
  obj.metadata ??= {};
  const entries = encodeManaged(managers);
  if (entries.length > 0) obj.metadata.managedFields = entries;
  else delete obj.metadata.managedFields;
  return obj;
}

/** Fields the server never attributes to a manager (fieldmanager stripMetaManager). */
const STRIPPED = FieldSet.of(
  ["f:apiVersion"],
  ["f:kind"],
  ["f:metadata"],
  ["f:metadata", "f:name"],
  ["f:metadata", "f:namespace"],
  ["f:metadata", "f:creationTimestamp"],
  ["f:metadata", "f:selfLink"],
  ["f:metadata", "f:uid"],
  ["f:metadata", "f:clusterName"],
  ["f:metadata", "f:generation"],
  ["f:metadata", "f:managedFields"],
  ["f:metadata", "f:resourceVersion"],
);

/** Merges the oldest Update entries into per-version "ancient-changes" buckets beyond the cap. */
function capUpdateManagers(managers: Managers, max = MAX_UPDATE_MANAGERS): void {
  const updaters = [...managers.keys()].filter((id) => managers.get(id)!.operation === "Update");
  if (updaters.length <= max) return;
  updaters.sort((a, b) => seconds(managers.get(a)!.time) - seconds(managers.get(b)!.time) || (a < b ? -1 : a > b ? 1 : 0));
  const firstOfVersion = new Map<string, string>();
  let length = updaters.length;
  for (let i = 0; i < updaters.length && length > max; i++) {
    const id = updaters[i]!;
    const m = managers.get(id)!;
    const bucket = managerId("ancient-changes", "Update", m.apiVersion, "");
    const first = firstOfVersion.get(m.apiVersion);
    if (first === undefined) {
      firstOfVersion.set(m.apiVersion, id);
      continue;
    }
    if (!managers.has(bucket)) {
      const f = managers.get(first)!;
      managers.delete(first);
      managers.set(bucket, { ...f, manager: "ancient-changes", operation: "Update", subresource: "" });
    }
    const b = managers.get(bucket)!;
    managers.set(bucket, { ...b, set: m.set.union(b.set), time: m.time });
    managers.delete(id); // as the real server does, even when the entry merged was the bucket itself
    length--;
  }
}

// ---- reset fields -----------------------------------------------------------------------------

/** What the registry strategy of a built-in kind resets (GetResetFields) for a (sub)resource. */
export function defaultResetFields(gvk: Gvk, subresource: string | undefined): string[][] {
  if (!definitionName(gvk)) return [];
  if (subresource === "status") {
    const out = [["spec"]];
    if (gvk.group === "" && gvk.kind === "Pod") out.push(["metadata", "deletionTimestamp"], ["metadata", "ownerReferences"]);
    if (gvk.group === "apps" && gvk.kind === "Deployment") out.push(["metadata", "labels"]);
    return out;
  }
  if (!subresource) {
    const root = rootType(gvk);
    return root.fieldNames.includes("status") ? [["status"]] : [];
  }
  return [];
}

function resetSet(gvk: Gvk, ctx: ManagerContext): FieldSet {
  const paths = ctx.resetFields ?? defaultResetFields(gvk, ctx.subresource);
  return FieldSet.of(...paths.map((p) => p.map((f) => `f:${f}`)));
}

function excluded(c: Comparison, ignored: FieldSet): Comparison {
  if (ignored.isEmpty()) return c;
  return {
    added: c.added.recursiveDifference(ignored),
    modified: c.modified.recursiveDifference(ignored),
    removed: c.removed.recursiveDifference(ignored),
  };
}

function withoutManagedFields(obj: KubeObject | undefined): JsonObject {
  if (!obj) return {};
  const o = clone(obj) as JsonObject;
  if (isObject(o.metadata)) delete o.metadata.managedFields;
  return o;
}

/** Compare live → next as the real server does: Go objects (zero fields present), reset fields out. */
function compareObjects(live: JsonObject, next: JsonObject, root: StructNode, ignored: FieldSet): Comparison {
  return excluded(compare(withGoZeroes(live, root), withGoZeroes(next, root), root), ignored);
}

/** Updater.Update of one manager: others lose changed/removed fields, the manager gains changes. */
function applyUpdate(managers: Managers, cmp: Comparison, me: Omit<Manager, "set">, ignored: FieldSet): void {
  const changed = cmp.modified.union(cmp.added);
  for (const [id, m] of managers) {
    const s = m.set.difference(changed).difference(cmp.removed);
    if (s.isEmpty()) managers.delete(id);
    else m.set = s;
  }
  const mine = changed.difference(cmp.removed).difference(ignored).difference(STRIPPED);
  if (mine.isEmpty()) return;
  const id = managerId(me.manager, "Update", me.apiVersion, me.subresource);
  const prev = managers.get(id);
  managers.set(id, { ...me, operation: "Update", set: prev ? mine.union(prev.set) : mine });
}

function gvString(gvk: Gvk): string {
  return gvk.group ? `${gvk.group}/${gvk.version}` : gvk.version;
}

function baseManagers(live: KubeObject | undefined, next: KubeObject, subresource: string): Managers {
  const fromLive = (): Managers => decodeManaged(live?.metadata?.managedFields) ?? new Map();
  if (subresource) return fromLive();
  const req = next.metadata?.managedFields;
  if (Array.isArray(req)) {
    if (req.length === 0 || (req.length === 1 && isObject(req[0]) && Object.keys(req[0]).length === 0)) return new Map();
    const decoded = decodeManaged(req);
    if (decoded && decoded.size > 0) return decoded;
  }
  return fromLive();
}

/**
 * Update-type writes (create, update, merge/strategic/JSON patch): returns a copy of `next` with
 * metadata.managedFields computed from `live`'s (undefined for a create). See the file header for
 * when to call it.
 */
export function trackUpdate(gvk: Gvk, live: KubeObject | undefined, next: KubeObject, ctx: ManagerContext): KubeObject {
  const out = clone(next);
  const subresource = ctx.subresource ?? "";
  if (subresource === "scale") return trackScale(gvk, live, out, ctx);
  const root = rootType(gvk, ctx.schema);
  const ignored = resetSet(gvk, ctx);
  const managers = baseManagers(live, next, subresource);
  const cmp = compareObjects(withoutManagedFields(live), withoutManagedFields(next), root, ignored);
  applyUpdate(managers, cmp, { manager: ctx.manager, operation: "Update", apiVersion: ctx.apiVersion, subresource, time: ctx.time }, ignored);
  capUpdateManagers(managers);
  return setManagedFields(out, managers);
}

function getPath(obj: unknown, path: readonly string[]): unknown {
  let v = obj;
  for (const f of path) {
    if (!isObject(v)) return undefined;
    v = v[f];
  }
  return v;
}

/**
 * The scale subresource (fieldmanager ScaleHandler of v1.25): when spec.replicas changes, every
 * entry loses it and the writer gets an entry `{manager, Update, <parent apiVersion>, scale}`
 * holding only spec.replicas, without `time` (v1.25 takes the time from the parent's entries,
 * where this identifier never has one).
 */
function trackScale(gvk: Gvk, live: KubeObject | undefined, out: KubeObject, ctx: ManagerContext): KubeObject {
  const replicas = ctx.replicasPath ?? ["spec", "replicas"];
  const pe = replicas.map((f) => `f:${f}`);
  const managers = decodeManaged(live?.metadata?.managedFields) ?? new Map();
  if (!jsonEqual(getPath(live, replicas), getPath(out, replicas))) {
    const only = FieldSet.of(pe);
    for (const [id, m] of managers) {
      if (!m.set.has(pe)) continue;
      const s = m.set.difference(only);
      if (s.isEmpty()) managers.delete(id);
      else m.set = s;
    }
    const me: Manager = { manager: ctx.manager, operation: "Update", apiVersion: gvString(gvk), subresource: "scale", set: only };
    managers.set(idOf(me), me);
  }
  return setManagedFields(out, managers);
}

// ---- server-side apply ------------------------------------------------------------------------

function printManager(m: Manager): string {
  let s = JSON.stringify(m.manager);
  if (m.subresource) s += ` with subresource ${JSON.stringify(m.subresource)}`;
  if (m.operation === "Update") s += ` using ${m.apiVersion}`;
  return s;
}

function conflictError(conflicts: { id: string; m: Manager; set: FieldSet }[]): ApiError {
  conflicts.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const flat = conflicts.flatMap((c) => c.set.paths().map((p) => ({ who: printManager(c.m), path: pathToString(p) })));
  const causes: StatusCause[] = flat.map((c) => ({ reason: "FieldManagerConflict", message: `conflict with ${c.who}`, field: c.path }));
  let message: string;
  if (flat.length === 1) message = `Apply failed with 1 conflict: conflict with ${flat[0]!.who}: ${flat[0]!.path}`;
  else {
    const lines: string[] = [];
    for (const c of conflicts) {
      lines.push(`conflicts with ${printManager(c.m)}:`);
      for (const p of c.set.paths()) lines.push(`- ${pathToString(p)}`);
    }
    message = `Apply failed with ${flat.length} conflicts: ${lines.join("\n")}`;
  }
  return new ApiError(statusObject(409, "Conflict", message, { causes }));
}

function internalError(message: string): ApiError {
  // A plain Go error through the API: no reason, no details.
  const s = { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, code: 500 };
  return new ApiError(s as unknown as StatusObject);
}

/**
 * Server-side apply: merges `applied` into `live` (undefined: the object is created from the
 * applied configuration), removes what this manager applied before and no longer applies unless
 * another manager owns it, and moves ownership. Throws the real 409 on conflicts unless
 * `ctx.force`. Returns the new object with metadata.managedFields.
 */
export function serverSideApply(gvk: Gvk, live: KubeObject | undefined, applied: KubeObject, ctx: ManagerContext & { force: boolean }): KubeObject {
  const gv = gvString(gvk);
  if (applied.apiVersion !== gv)
    throw new ApiError(
      statusObject(400, "BadRequest", `Incorrect version specified in apply patch. Specified patch version: ${applied.apiVersion ?? ""}, expected: ${gv}`),
    );
  if (applied.metadata?.managedFields !== undefined) throw new ApiError(statusObject(400, "BadRequest", "metadata.managedFields must be nil"));
  const root = rootType(gvk, ctx.schema);
  const { set: appliedSet, errors } = toFieldSet(applied, root);
  if (errors.length > 0) {
    const ns = applied.metadata?.namespace ?? "";
    const name = applied.metadata?.name ?? "";
    const detail = errors.length === 1 ? errors[0]! : ["errors:", ...errors.map((e) => `  ${e}`)].join("\n");
    throw internalError(`failed to create typed patch object (${ns}/${name}; ${gvk.group}/${gvk.version}, Kind=${gvk.kind}): ${detail}`);
  }
  const subresource = ctx.subresource ?? "";
  const ignored = resetSet(gvk, ctx);
  let managers: Managers = live ? (decodeManaged(live.metadata?.managedFields) ?? new Map()) : new Map();
  const liveObj = withoutManagedFields(live);

  // An existing object nobody manages: its fields go to "before-first-apply" first.
  if (live && managers.size === 0) {
    const cmp = compareObjects({}, liveObj, root, ignored);
    applyUpdate(managers, cmp, { manager: "before-first-apply", operation: "Update", apiVersion: gv, subresource, time: ctx.time }, ignored);
  }

  const id = managerId(ctx.manager, "Apply", ctx.apiVersion, subresource);
  const previous = managers.get(id);
  const lastSet = previous?.set;
  const me: Manager = {
    manager: ctx.manager,
    operation: "Apply",
    apiVersion: ctx.apiVersion,
    subresource,
    set: appliedSet.recursiveDifference(ignored),
  };
  if (previous?.time) me.time = previous.time;
  managers = new Map([...managers].map(([k, m]) => [k, { ...m }]));
  managers.set(id, me);

  let merged = mergeApplied(liveObj, clone(applied) as JsonObject, root) as JsonObject;

  // Prune: what this manager applied last time and nobody (itself included) owns any more.
  if (lastSet && !lastSet.isEmpty()) {
    let owned = new FieldSet();
    for (const m of managers.values()) owned = owned.union(m.set);
    const keep = ensureNamedFieldsAreMembers(owned, root);
    const remove = ensureNamedFieldsAreMembers(lastSet, root).difference(keep);
    merged = clone(merged);
    removePaths(merged, remove, root);
  }

  const cmp = compareObjects(liveObj, merged, root, ignored);
  const changed = cmp.modified.union(cmp.added);
  const conflicts: { id: string; m: Manager; set: FieldSet }[] = [];
  for (const [mid, m] of managers) {
    if (mid === id) continue;
    const c = m.set.intersection(changed);
    if (!c.isEmpty()) conflicts.push({ id: mid, m, set: c });
  }
  if (conflicts.length > 0 && !ctx.force) throw conflictError(conflicts);
  for (const [mid, m] of managers) {
    if (mid === id) continue;
    const s = m.set.difference(changed).difference(cmp.removed);
    if (s.isEmpty()) managers.delete(mid);
    else m.set = s;
  }
  me.set = me.set.difference(STRIPPED);
  if (me.set.isEmpty()) managers.delete(id);
  if (!jsonEqual(withGoZeroes(liveObj, root), withGoZeroes(merged, root))) me.time = ctx.time;
  return setManagedFields(merged as KubeObject, managers);
}

/** The field manager of a non-apply request without `fieldManager`: the User-Agent up to its first "/". */
export function defaultFieldManager(userAgent: string | undefined): string {
  const prefix = (userAgent ?? "").split("/")[0] ?? "";
  let out = "";
  for (const ch of prefix) {
    if (ch !== " " && /[\p{C}\p{Z}]/u.test(ch)) continue; // Go unicode.IsPrint: no controls, no spaces but " "
    if (Buffer.byteLength(out + ch, "utf8") > FIELD_MANAGER_MAX_LENGTH) break;
    out += ch;
  }
  return out;
}
