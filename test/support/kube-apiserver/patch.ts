// The four PATCH flavours the API server accepts. Strategic merge is pragmatic: maps merge,
// lists of objects merge by their patch merge key (name for containers/env/volumes, …), other
// lists are replaced; `$patch: delete|replace` directives on list items and maps are honoured.
import { ApiError, errors, statusObject } from "./status.js";

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

function isObject(v: unknown): v is JsonObject {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: Json | undefined, patch: Json): Json {
  if (!isObject(patch)) return patch;
  const out: JsonObject = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** patchMergeKey of list fields in the Kubernetes API, by field name. */
const MERGE_KEYS: Record<string, string | ((item: JsonObject) => string)> = {
  containers: "name",
  initContainers: "name",
  ephemeralContainers: "name",
  env: "name",
  volumes: "name",
  imagePullSecrets: "name",
  volumeMounts: "mountPath",
  volumeDevices: "devicePath",
  conditions: "type",
  ownerReferences: "uid",
  hostAliases: "ip",
  topologySpreadConstraints: "topologyKey",
  containerStatuses: "name",
  initContainerStatuses: "name",
  // Container ports merge by containerPort, Service ports by port.
  ports: (item) => ("containerPort" in item ? "containerPort" : "port"),
};
/** Primitive lists with patchStrategy=merge: union rather than replace. */
const SET_LISTS = new Set(["finalizers"]);

function mergeKeyFor(field: string, items: Json[]): string | undefined {
  const k = MERGE_KEYS[field];
  const first = items.find(isObject);
  if (k !== undefined && first) return typeof k === "string" ? k : k(first);
  if (items.length > 0 && items.every((i) => isObject(i) && typeof i.name === "string")) return "name";
  return undefined;
}

export function strategicMergePatch(target: Json | undefined, patch: Json): Json {
  if (!isObject(patch)) return patch;
  if (patch.$patch === "replace") {
    const { $patch: _p, ...rest } = patch;
    return stripDirectives(rest);
  }
  if (patch.$patch === "delete") return null;
  const out: JsonObject = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith("$")) continue; // $setElementOrder, $retainKeys: ordering hints only
    if (k.startsWith("$deleteFromPrimitiveList/")) continue;
    if (v === null) {
      delete out[k];
      continue;
    }
    const cur = out[k];
    if (Array.isArray(v)) out[k] = mergeList(k, Array.isArray(cur) ? cur : undefined, v);
    else if (isObject(v)) {
      const merged = strategicMergePatch(cur, v);
      if (merged === null) delete out[k];
      else out[k] = merged;
    } else out[k] = v;
  }
  for (const [k, v] of Object.entries(patch)) {
    if (!k.startsWith("$deleteFromPrimitiveList/") || !Array.isArray(v)) continue;
    const field = k.slice("$deleteFromPrimitiveList/".length);
    const cur = out[field];
    if (Array.isArray(cur)) out[field] = cur.filter((x) => !v.includes(x));
  }
  return out;
}

function stripDirectives(v: Json): Json {
  if (Array.isArray(v)) return v.map(stripDirectives);
  if (!isObject(v)) return v;
  const out: JsonObject = {};
  for (const [k, x] of Object.entries(v)) if (!k.startsWith("$")) out[k] = stripDirectives(x);
  return out;
}

function mergeList(field: string, cur: Json[] | undefined, patch: Json[]): Json[] {
  if (SET_LISTS.has(field)) {
    const out = [...(cur ?? [])];
    for (const x of patch) if (!out.includes(x)) out.push(x);
    return out;
  }
  const replaceDirective = patch.find((i) => isObject(i) && i.$patch === "replace" && Object.keys(i).length === 1);
  if (replaceDirective) return stripDirectives(patch.filter((i) => i !== replaceDirective)) as Json[];
  const key = mergeKeyFor(field, [...patch, ...(cur ?? [])]);
  if (!key || !cur) return stripDirectives(patch.filter((i) => !(isObject(i) && i.$patch === "delete"))) as Json[];
  const out = [...cur];
  for (const item of patch) {
    if (!isObject(item) || item[key] === undefined) {
      out.push(item);
      continue;
    }
    const idx = out.findIndex((o) => isObject(o) && o[key] === item[key]);
    if (item.$patch === "delete") {
      if (idx >= 0) out.splice(idx, 1);
    } else if (idx >= 0) out[idx] = strategicMergePatch(out[idx], item);
    else out.push(stripDirectives(item));
  }
  return out;
}

// ---- RFC 6902 JSON patch -----------------------------------------------------------------------

interface Op {
  op: string;
  path: string;
  value?: Json;
  from?: string;
}

function pointer(path: string): string[] {
  if (path === "") return [];
  if (!path.startsWith("/")) throw invalidPatch(`invalid JSON pointer ${JSON.stringify(path)}`);
  return path
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

/**
 * A JSON patch operation that cannot apply (failed `test`, `remove` of a missing path…): the real
 * server answers 422 with a generic message and empty details, naming nothing. `why` is kept for
 * our own debugging only (never sent).
 */
function invalidPatch(why: string): ApiError {
  const err = new ApiError(statusObject(422, "Invalid", "the server rejected our request due to an error in our request", {}));
  err.cause = why;
  return err;
}

function parentOf(doc: Json, tokens: string[], path: string): { parent: JsonObject | Json[]; last: string } {
  let cur: Json = doc;
  for (const t of tokens.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[Number(t)] as Json;
    else if (isObject(cur)) cur = cur[t] as Json;
    else cur = undefined as unknown as Json;
    if (cur === undefined || cur === null || typeof cur !== "object")
      throw invalidPatch(`doc is missing path: "${path}": missing value`);
  }
  return { parent: cur as JsonObject | Json[], last: tokens[tokens.length - 1]! };
}

function getAt(doc: Json, path: string): Json {
  let cur: Json | undefined = doc;
  for (const t of pointer(path)) {
    if (Array.isArray(cur)) cur = cur[Number(t)];
    else if (isObject(cur)) cur = cur[t];
    else cur = undefined;
    if (cur === undefined) throw invalidPatch(`doc is missing path: "${path}": missing value`);
  }
  return cur;
}

function arrayIndex(arr: Json[], token: string, path: string, forInsert: boolean): number {
  if (forInsert && token === "-") return arr.length;
  if (!/^(0|[1-9][0-9]*)$/.test(token)) throw invalidPatch(`invalid array index in path "${path}"`);
  const i = Number(token);
  if (i > arr.length || (!forInsert && i === arr.length)) throw invalidPatch(`index out of range in path "${path}"`);
  return i;
}

function addAt(doc: Json, path: string, value: Json): Json {
  const tokens = pointer(path);
  if (tokens.length === 0) return value;
  const { parent, last } = parentOf(doc, tokens, path);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, last, path, true), 0, value);
  else parent[last] = value;
  return doc;
}

function removeAt(doc: Json, path: string): Json {
  const tokens = pointer(path);
  if (tokens.length === 0) throw invalidPatch("cannot remove the whole document");
  const { parent, last } = parentOf(doc, tokens, path);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, last, path, false), 1);
  else {
    if (!(last in parent)) throw invalidPatch(`unable to remove nonexistent key: ${last}: missing value`);
    delete parent[last];
  }
  return doc;
}

export function jsonPatch(target: Json, ops: unknown): Json {
  if (!Array.isArray(ops)) throw errors.badRequest("json: cannot unmarshal object into Go value of type jsonpatch.Patch");
  let doc = structuredClone(target);
  for (const raw of ops as Op[]) {
    if (!isObject(raw as unknown) || typeof raw.path !== "string") throw errors.badRequest(`invalid JSON patch operation ${JSON.stringify(raw)}`);
    switch (raw.op) {
      case "add":
        doc = addAt(doc, raw.path, structuredClone(raw.value as Json));
        break;
      case "remove":
        doc = removeAt(doc, raw.path);
        break;
      case "replace":
        getAt(doc, raw.path);
        doc = removeAt(doc, raw.path);
        doc = addAt(doc, raw.path, structuredClone(raw.value as Json));
        break;
      case "move": {
        const v = getAt(doc, raw.from ?? "");
        doc = removeAt(doc, raw.from ?? "");
        doc = addAt(doc, raw.path, v);
        break;
      }
      case "copy":
        doc = addAt(doc, raw.path, structuredClone(getAt(doc, raw.from ?? "")));
        break;
      case "test":
        if (JSON.stringify(getAt(doc, raw.path)) !== JSON.stringify(raw.value))
          throw invalidPatch(`testing value ${raw.path} failed: test failed`);
        break;
      default:
        throw errors.badRequest(`Unexpected kind: ${String(raw.op)}`);
    }
  }
  return doc;
}

export type PatchType = "merge" | "strategic" | "json" | "apply";

export function patchTypeOf(contentType: string | undefined): PatchType {
  const ct = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
  switch (ct) {
    case "application/merge-patch+json":
      return "merge";
    case "application/strategic-merge-patch+json":
      return "strategic";
    case "application/json-patch+json":
      return "json";
    case "application/apply-patch+yaml":
    case "application/apply-patch+cbor":
      return "apply";
    default:
      throw errors.unsupportedMediaType(ct);
  }
}

export function applyPatch(type: PatchType, target: Json, patch: Json): Json {
  switch (type) {
    case "merge":
      return mergePatch(target, patch);
    case "strategic":
    case "apply":
      return strategicMergePatch(target, patch);
    case "json":
      return jsonPatch(target, patch);
  }
}

export type { Json };
