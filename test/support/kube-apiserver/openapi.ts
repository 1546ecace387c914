// Built-in kinds validated against the OpenAPI v2 document a real kube-apiserver v1.25 served
// (../shared/kube/recorded-v1.25/openapi-v2.json.gz, see its README), the way the real server's
// decoder and registry see a request body:
//
// - decoding (sigs.k8s.io/json into the Go types, which the definitions mirror): a JSON value of the
//   wrong type is `json: cannot unmarshal <json type> into Go struct field <Struct>.<path> of type
//   <go type>` (encoding/json's UnmarshalTypeError: the path has no list indices and no map keys;
//   the first such error wins, decoding goes on); custom unmarshalers (IntOrString, Quantity, Time,
//   MicroTime) fail with their own text and stop the decode at once;
// - strict decoding: fields the Go type lacks (`unknown field "spec.foo"`, path with `[i]` and map
//   keys) and keys given twice (`duplicate field "data"`), only reported when decoding succeeded;
//   unknown fields are always dropped (the Go struct has nowhere to keep them);
// - validation (after defaulting): the definitions' `required` lists (absent, null, "" or [];
//   a zero number is a value) -> 422 `<field>: Required value`.
//
// The document is read once per process, lazily (gunzip + JSON.parse of 3.2 MB: ~45 ms), and each
// definition is compiled on first use.
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import type { StatusCause } from "./status.js";

/**
 * `../shared/kube` next to the repository (resolved from this file: test/support/kube-apiserver/),
 * or WATCH_AUDITOR_SHARED_KUBE. The one definition of where the recordings live.
 */
export const SHARED_KUBE_DIR = process.env.WATCH_AUDITOR_SHARED_KUBE
  ? `${process.env.WATCH_AUDITOR_SHARED_KUBE.replace(/\/+$/, "")}/`
  : fileURLToPath(new URL("../../../../shared/kube/", import.meta.url));
export const RECORDED_DIR = `${SHARED_KUBE_DIR}recorded-v1.25/`;
export const OPENAPI_FILE = `${RECORDED_DIR}openapi-v2.json.gz`;

/** Throws (naming the folder) when the recorded Kubernetes API data is not where it must be. */
export function requireSharedKube(file = OPENAPI_FILE): string {
  if (!existsSync(file))
    throw new Error(
      `test API server: ${file} is missing. The recorded Kubernetes v1.25 API lives in ${SHARED_KUBE_DIR} (the shared/kube folder beside the repository); it is needed to validate objects like a real server.`,
    );
  return file;
}

/** A definition of the OpenAPI v2 document, with the Kubernetes extensions the test server reads. */
export interface OpenApiSchema {
  type?: string;
  format?: string;
  $ref?: string;
  properties?: Record<string, OpenApiSchema>;
  additionalProperties?: OpenApiSchema | boolean;
  items?: OpenApiSchema;
  required?: string[];
  "x-kubernetes-group-version-kind"?: { group: string; version: string; kind: string }[];
  "x-kubernetes-list-type"?: string;
  "x-kubernetes-list-map-keys"?: string[];
  "x-kubernetes-map-type"?: string;
  "x-kubernetes-patch-strategy"?: string;
  "x-kubernetes-patch-merge-key"?: string;
}
type RawSchema = OpenApiSchema;

interface Doc {
  definitions: Record<string, RawSchema>;
  byGvk: Map<string, string>;
}

let doc: Doc | undefined;
/** Milliseconds the one load of the OpenAPI document took in this process (undefined before it). */
export let openApiLoadMs: number | undefined;

export function openApi(): Doc {
  if (doc) return doc;
  const t0 = performance.now();
  const raw = JSON.parse(gunzipSync(readFileSync(requireSharedKube())).toString("utf8")) as { definitions: Record<string, RawSchema> };
  const byGvk = new Map<string, string>();
  for (const [name, d] of Object.entries(raw.definitions)) {
    for (const g of d["x-kubernetes-group-version-kind"] ?? []) {
      const key = `${g.group}/${g.version}/${g.kind}`;
      // Options kinds (DeleteOptions, ...) carry every group's GVK; real kinds come first.
      if (!byGvk.has(key)) byGvk.set(key, name);
    }
  }
  doc = { definitions: raw.definitions, byGvk };
  openApiLoadMs = performance.now() - t0;
  return doc;
}

/** Name of the definition of a kind ("io.k8s.api.apps.v1.Deployment"), if the document has it. */
export function definitionFor(group: string, version: string, kind: string): string | undefined {
  return openApi().byGvk.get(`${group}/${version}/${kind}`);
}

// ---- compiled schema nodes ---------------------------------------------------------------------

type Node =
  | { k: "any" }
  | { k: "string"; go: string }
  | { k: "int"; go: "int32" | "int64"; min: number; max: number }
  | { k: "number"; go: string }
  | { k: "bool" }
  | { k: "bytes" }
  | { k: "intstr" }
  | { k: "quantity" }
  | { k: "time"; micro: boolean }
  | { k: "arr"; item: Node; go: string }
  | { k: "map"; value: Node; go: string }
  | { k: "obj"; name: string; go: string; props: Map<string, Node>; required: string[] };

const compiled = new Map<string, Node>();

// Fields the registry strategies require although the OpenAPI document does not list them.
const EXTRA_REQUIRED: Record<string, string[]> = {
  "io.k8s.api.core.v1.Container": ["image"], // validateContainers: image Required (pods/create-invalid)
};

const CUSTOM: Record<string, Node> = {
  "io.k8s.apimachinery.pkg.util.intstr.IntOrString": { k: "intstr" },
  "io.k8s.apimachinery.pkg.api.resource.Quantity": { k: "quantity" },
  "io.k8s.apimachinery.pkg.apis.meta.v1.Time": { k: "time", micro: false },
  "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime": { k: "time", micro: true },
};

function goName(def: string): string {
  const parts = def.split(".");
  return `${parts[parts.length - 2]}.${parts[parts.length - 1]}`;
}

function refNode(def: string): Node {
  const hit = compiled.get(def);
  if (hit) return hit;
  const custom = CUSTOM[def];
  if (custom) return custom;
  const s = openApi().definitions[def];
  if (!s) return { k: "any" };
  if (s.type === "object" && s.properties) {
    const node: Node = { k: "obj", name: def, go: goName(def), props: new Map(), required: [...(s.required ?? []), ...(EXTRA_REQUIRED[def] ?? [])] };
    compiled.set(def, node); // before the properties: JSONSchemaProps refers to itself
    for (const [p, ps] of Object.entries(s.properties)) node.props.set(p, inlineNode(ps));
    return node;
  }
  const node = inlineNode(s);
  compiled.set(def, node);
  return node;
}

function inlineNode(s: RawSchema): Node {
  if (s.$ref) return refNode(s.$ref.replace("#/definitions/", ""));
  switch (s.type) {
    case "string":
      if (s.format === "byte") return { k: "bytes" };
      if (s.format === "int-or-string") return { k: "intstr" };
      return { k: "string", go: "string" };
    case "integer":
      return s.format === "int32"
        ? { k: "int", go: "int32", min: -2147483648, max: 2147483647 }
        : { k: "int", go: "int64", min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER };
    case "number":
      return { k: "number", go: s.format === "float" ? "float32" : "float64" };
    case "boolean":
      return { k: "bool" };
    case "array": {
      const item = s.items ? inlineNode(s.items) : ({ k: "any" } as Node);
      return { k: "arr", item, go: `[]${goOf(item)}` };
    }
    case "object":
      if (s.additionalProperties && typeof s.additionalProperties === "object") {
        const value = inlineNode(s.additionalProperties);
        return { k: "map", value, go: `map[string]${goOf(value)}` };
      }
      if (s.properties) return { k: "obj", name: "", go: "struct", props: new Map(Object.entries(s.properties).map(([p, ps]) => [p, inlineNode(ps)])), required: s.required ?? [] };
      return { k: "any" }; // RawExtension, FieldsV1: free-form
    default:
      return { k: "any" }; // JSON, JSONSchemaPropsOr*: free-form
  }
}

function goOf(n: Node): string {
  switch (n.k) {
    case "string":
    case "number":
    case "arr":
    case "map":
    case "obj":
      return n.go;
    case "int":
      return n.go;
    case "bool":
      return "bool";
    case "bytes":
      return "[]uint8";
    case "intstr":
      return "intstr.IntOrString";
    case "quantity":
      return "resource.Quantity";
    case "time":
      return n.micro ? "v1.MicroTime" : "v1.Time";
    default:
      return "interface {}";
  }
}

// ---- the decode walk ---------------------------------------------------------------------------

function jsonType(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "boolean") return "bool";
  return typeof v === "object" ? "object" : typeof v; // string, number
}

class Fatal extends Error {}

interface Walk {
  /** First saved decode error (UnmarshalTypeError, base64): reported if nothing fatal comes. */
  saved?: string;
  unknown: string[];
  required: StatusCause[];
  prune: boolean;
  /** encoding/json's error context: innermost struct and the field names (no indices, no map keys). */
  struct: string;
  fields: string[];
}

function typeError(w: Walk, value: string, goType: string): string {
  return w.fields.length > 0 || w.struct
    ? `json: cannot unmarshal ${value} into Go struct field ${w.struct}.${w.fields.join(".")} of type ${goType}`
    : `json: cannot unmarshal ${value} into Go value of type ${goType}`;
}

function save(w: Walk, msg: string): void {
  w.saved ??= msg;
}

function numberLiteral(v: number): string {
  return String(v).replace(/e\+/, "e+");
}

/**
 * A `required` field counts as missing when absent, null, an empty string or an empty list. A
 * zero number is a value: `restartCount: 0` in a container status is valid (recorded:
 * pods/status-merge-patch-running), and the real server never rejects a 0 for being "required".
 */
function isMissing(v: unknown, _n: Node | undefined): boolean {
  return v === undefined || v === null || v === "" || (Array.isArray(v) && v.length === 0);
}

function walk(v: unknown, n: Node, path: string, w: Walk): void {
  // null decodes to the zero value of anything, never an error; undefined is not in the JSON at all.
  if (v === null || v === undefined) return;
  switch (n.k) {
    case "any":
      return;
    case "string":
      if (typeof v !== "string") save(w, typeError(w, jsonType(v), n.go));
      return;
    case "bool":
      if (typeof v !== "boolean") save(w, typeError(w, jsonType(v), "bool"));
      return;
    case "number":
      if (typeof v !== "number") save(w, typeError(w, jsonType(v), n.go));
      return;
    case "int":
      if (typeof v !== "number") save(w, typeError(w, jsonType(v), n.go));
      else if (!Number.isInteger(v) || v < n.min || v > n.max) save(w, typeError(w, `number ${numberLiteral(v)}`, n.go));
      return;
    case "bytes":
      if (typeof v === "string") {
        const bad = base64Error(v);
        if (bad) save(w, bad);
      } else if (Array.isArray(v)) {
        for (const x of v) walk(x, { k: "int", go: "int32", min: 0, max: 255 }, path, w);
      } else save(w, typeError(w, jsonType(v), "[]uint8"));
      return;
    case "intstr":
      // IntOrString.UnmarshalJSON: a string, else json.Unmarshal into its int32 (error returned, so
      // fatal; the outer decoder then adds its struct/field context to the UnmarshalTypeError).
      if (typeof v === "string") return;
      if (typeof v !== "number") throw new Fatal(typeError(w, jsonType(v), "int32"));
      if (!Number.isInteger(v) || v < -2147483648 || v > 2147483647) throw new Fatal(typeError(w, `number ${numberLiteral(v)}`, "int32"));
      return;
    case "quantity": {
      const err = quantityError(typeof v === "string" ? v.trim() : JSON.stringify(v));
      if (err) throw new Fatal(err);
      return;
    }
    case "time":
      if (typeof v !== "string") throw new Fatal(typeError(w, jsonType(v), "string"));
      {
        const err = goTimeParseError(v, n.micro ? RFC3339_MICRO : RFC3339);
        if (err) throw new Fatal(err);
      }
      return;
    case "arr":
      if (!Array.isArray(v)) {
        save(w, typeError(w, jsonType(v), n.go));
        return;
      }
      v.forEach((x, i) => walk(x, n.item, `${path}[${i}]`, w));
      return;
    case "map":
      if (typeof v !== "object" || Array.isArray(v)) {
        save(w, typeError(w, jsonType(v), n.go));
        return;
      }
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) walk(x, n.value, path ? `${path}.${k}` : k, w);
      return;
    case "obj": {
      if (typeof v !== "object" || Array.isArray(v)) {
        save(w, typeError(w, jsonType(v), n.go));
        return;
      }
      const rec = v as Record<string, unknown>;
      const struct = w.struct;
      const depth = w.fields.length;
      for (const k of Object.keys(rec)) {
        if (rec[k] === undefined) continue;
        const sub = n.props.get(k);
        const p = path ? `${path}.${k}` : k;
        if (!sub) {
          w.unknown.push(p);
          if (w.prune) delete rec[k];
          continue;
        }
        w.struct = n.go.split(".").pop()!;
        w.fields.push(k);
        walk(rec[k], sub, p, w);
        w.fields.length = depth;
        w.struct = struct;
      }
      for (const r of n.required) if (isMissing(rec[r], n.props.get(r))) w.required.push({ reason: "FieldValueRequired", message: "Required value", field: path ? `${path}.${r}` : r });
      return;
    }
  }
}

export interface DecodeResult {
  /** The 400 decode error text (after "<Kind> in version ... cannot be handled as a <Kind>: "). */
  error?: string;
  /** Strict-decoding paths of fields the type does not have (already removed when prune). */
  unknown: string[];
  /** 422 causes for required fields that are missing. */
  required: StatusCause[];
}

/** Decodes `obj` as the Go type of definition `def` would be, in place (unknown fields pruned). */
export function decodeAs(def: string, obj: unknown, prune = true): DecodeResult {
  const w: Walk = { unknown: [], required: [], prune, struct: "", fields: [] };
  try {
    walk(obj, refNode(def), "", w);
  } catch (err) {
    if (err instanceof Fatal) return { error: err.message, unknown: [], required: [] };
    throw err;
  }
  if (w.saved) return { error: w.saved, unknown: [], required: [] };
  return { unknown: w.unknown, required: w.required };
}

// ---- Go's time.Parse, for RFC 3339 (metav1.Time) and RFC 3339 with microseconds (MicroTime) ---

export const RFC3339 = "2006-01-02T15:04:05Z07:00";
export const RFC3339_MICRO = "2006-01-02T15:04:05.000000Z07:00";

type Chunk = { lit: string } | { std: "2006" | "01" | "02" | "15" | "04" | "05" | ".000000" | "Z07:00" };
const CHUNKS: Record<string, Chunk[]> = {};
for (const layout of [RFC3339, RFC3339_MICRO]) {
  const out: Chunk[] = [];
  let rest = layout;
  while (rest) {
    const m = /^(2006|01|02|15|04|05|\.000000|Z07:00)/.exec(rest);
    if (m) {
      out.push({ std: m[1] as never });
      rest = rest.slice(m[1]!.length);
    } else {
      out.push({ lit: rest[0]! });
      rest = rest.slice(1);
    }
  }
  CHUNKS[layout] = out;
}

const isDigit = (s: string, i: number): boolean => i < s.length && s[i]! >= "0" && s[i]! <= "9";

/** Two digits (fixed) or one-or-two; undefined if it does not start with a digit. */
function getnum(s: string, fixed: boolean): [number, string] | undefined {
  if (!isDigit(s, 0)) return undefined;
  if (!isDigit(s, 1)) return fixed ? undefined : [Number(s[0]), s.slice(1)];
  return [Number(s.slice(0, 2)), s.slice(2)];
}

/** The error text Go's time.Parse(layout, value) returns, or undefined if it parses. */
export function goTimeParseError(value: string, layout: string): string | undefined {
  const q = (s: string) => JSON.stringify(s);
  const fail = (layoutElem: string, valueElem: string) => `parsing time ${q(value)} as ${q(layout)}: cannot parse ${q(valueElem)} as ${q(layoutElem)}`;
  const range = (what: string) => `parsing time ${q(value)}: ${what} out of range`;
  let v = value;
  let year = 0;
  let month = 0;
  let day = 0;
  const chunks = CHUNKS[layout]!;
  for (let i = 0; i < chunks.length; i++) {
    const c = chunks[i]!;
    if ("lit" in c) {
      // Consecutive literals form one prefix in Go's layout scan.
      let prefix = c.lit;
      while (i + 1 < chunks.length && "lit" in chunks[i + 1]!) prefix += (chunks[++i] as { lit: string }).lit;
      let j = 0;
      for (; j < prefix.length; j++) if (v[j] !== prefix[j]) return fail(prefix, v.slice(j));
      v = v.slice(prefix.length);
      continue;
    }
    const hold = v;
    switch (c.std) {
      case "2006":
        if (v.length < 4 || !isDigit(v, 0)) return fail("2006", hold);
        if (!/^\d{4}$/.test(v.slice(0, 4))) return fail("2006", hold);
        year = Number(v.slice(0, 4));
        v = v.slice(4);
        break;
      case "01": {
        const r = getnum(v, true);
        if (!r) return fail("01", hold);
        [month, v] = r;
        if (month <= 0 || month > 12) return range("month");
        break;
      }
      case "02": {
        const r = getnum(v, true);
        if (!r) return fail("02", hold);
        [day, v] = r;
        break;
      }
      case "15": {
        const r = getnum(v, false);
        if (!r) return fail("15", hold);
        if (r[0] >= 24) return range("hour");
        v = r[1];
        break;
      }
      case "04": {
        const r = getnum(v, true);
        if (!r) return fail("04", hold);
        if (r[0] >= 60) return range("minute");
        v = r[1];
        break;
      }
      case "05": {
        const r = getnum(v, true);
        if (!r) return fail("05", hold);
        if (r[0] >= 60) return range("second");
        v = r[1];
        // A fractional second the layout does not have is accepted (Go's special case).
        const next = chunks[i + 1];
        if (v.length >= 2 && (v[0] === "." || v[0] === ",") && isDigit(v, 1) && !(next && "std" in next && next.std === ".000000")) {
          let n = 2;
          while (isDigit(v, n)) n++;
          v = v.slice(n);
        }
        break;
      }
      case ".000000":
        // stdFracSecond0 needs exactly the layout's digits.
        if (v.length < 7 || (v[0] !== "." && v[0] !== ",") || !/^\d{6}$/.test(v.slice(1, 7))) return fail(".000000", hold);
        v = v.slice(7);
        break;
      case "Z07:00":
        if (v.length >= 1 && v[0] === "Z") {
          v = v.slice(1);
          break;
        }
        if (v.length < 6 || v[3] !== ":" || (v[0] !== "+" && v[0] !== "-") || !getnum(v.slice(1, 3), true) || !getnum(v.slice(4, 6), true)) return fail("Z07:00", hold);
        if (Number(v.slice(1, 3)) > 24) return range("time zone offset hour");
        if (Number(v.slice(4, 6)) > 60) return range("time zone offset minute");
        v = v.slice(6);
        break;
    }
  }
  if (v.length > 0) return `parsing time ${q(value)}: extra text: ${q(v)}`;
  const dim = [31, year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]!;
  if (day < 1 || day > dim) return range("day");
  return undefined;
}

// ---- resource.Quantity ---------------------------------------------------------------------------

const QUANTITY_FORMAT = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/** The error ParseQuantity returns (k8s.io/apimachinery/pkg/api/resource), or undefined. */
export function quantityError(str: string): string | undefined {
  if (str === "") return QUANTITY_FORMAT;
  const m = /^[+-]?([0-9]*)(?:\.([0-9]*))?/.exec(str)!;
  let pos = m[0].length;
  const suffixStart = pos;
  while (pos < str.length && "eEinumkKMGTP".includes(str[pos]!)) pos++;
  if (pos < str.length && (str[pos] === "-" || str[pos] === "+")) pos++;
  while (pos < str.length && isDigit(str, pos)) pos++;
  if (pos < str.length) return QUANTITY_FORMAT;
  const suffix = str.slice(suffixStart);
  const ok = ["", "n", "u", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"].includes(suffix) || /^[eE][-+]?[0-9]+$/.test(suffix);
  return ok ? undefined : "unable to parse quantity's suffix";
}

// ---- []byte (base64, StdEncoding) --------------------------------------------------------------

function base64Error(s: string): string | undefined {
  // Go's decoder skips \r and \n; any other byte outside the alphabet, bad padding or a short
  // last quantum is a CorruptInputError at that byte.
  const clean: number[] = [];
  for (let i = 0; i < s.length; i++) if (s[i] !== "\n" && s[i] !== "\r") clean.push(i);
  let n = 0;
  for (; n < clean.length; n++) {
    const ch = s[clean[n]!]!;
    if (ch === "=") break;
    if (!/[A-Za-z0-9+/]/.test(ch)) return `illegal base64 data at input byte ${clean[n]}`;
  }
  const pad = clean.length - n;
  const rem = n % 4;
  if (pad === 0 && rem !== 0) return `illegal base64 data at input byte ${clean[n - rem] ?? 0}`;
  if (pad > 0) {
    if (rem < 2 || rem + pad !== 4) return `illegal base64 data at input byte ${clean[n] ?? 0}`;
    for (let i = n; i < clean.length; i++) if (s[clean[i]!] !== "=") return `illegal base64 data at input byte ${clean[i]}`;
  }
  return undefined;
}

// ---- request bodies: JSON with duplicate keys --------------------------------------------------

const duplicates = new WeakMap<object, string[]>();

/** Strict-decoding paths of keys a body gave twice (recorded by parseJsonBody). */
export function duplicateFields(obj: object): string[] {
  return duplicates.get(obj) ?? [];
}

/**
 * JSON.parse, plus what sigs.k8s.io/json's strict mode sees: keys given twice. Such a body is
 * parsed again the way Go decodes it into structs and maps: a repeated object merges into the
 * first one (`"data":{"a":"1"},"data":{"b":"2"}` -> both keys, validation/fieldvalidation-strict-
 * duplicate), anything else replaces it.
 */
export function parseJsonBody(text: string): unknown {
  const v = JSON.parse(text) as unknown;
  if (v === null || typeof v !== "object" || !hasDuplicateKey(text)) return v;
  const dups: string[] = [];
  const merged = new JsonScanner(text, dups).parse();
  if (dups.length === 0) return v;
  duplicates.set(merged as object, dups);
  return merged;
}

/** A quick pass over valid JSON text: does any object give a key twice? (Keys compared raw.) */
function hasDuplicateKey(s: string): boolean {
  const stack: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 34 /* " */) {
      let j = i + 1;
      for (;;) {
        j = s.indexOf('"', j);
        let bs = 0;
        for (let k = j - 1; s.charCodeAt(k) === 92; k--) bs++;
        if (bs % 2 === 0) break;
        j++;
      }
      if (expectKey) {
        const keys = stack[stack.length - 1]!;
        const key = s.slice(i + 1, j);
        const norm = key.includes("\\") ? (JSON.parse(`"${key}"`) as string) : key;
        if (keys.has(norm)) return true;
        keys.add(norm);
        expectKey = false;
      }
      i = j;
    } else if (c === 123 /* { */) {
      stack.push(new Set());
      expectKey = true;
    } else if (c === 91 /* [ */) stack.push(null);
    else if (c === 125 /* } */ || c === 93 /* ] */) stack.pop();
    else if (c === 44 /* , */) expectKey = stack[stack.length - 1] !== null && stack.length > 0;
  }
  return false;
}

class JsonScanner {
  private i = 0;
  constructor(
    private readonly s: string,
    private readonly dups: string[],
  ) {}

  parse(): unknown {
    return this.value("");
  }

  private ws(): void {
    const s = this.s;
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i);
      if (c === 32 || c === 9 || c === 10 || c === 13) this.i++;
      else break;
    }
  }

  private value(path: string): unknown {
    this.ws();
    const c = this.s[this.i];
    if (c === "{") return this.object(path);
    if (c === "[") return this.array(path);
    if (c === '"') return this.string();
    const m = /^(?:-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(this.s.slice(this.i, this.i + 400))!;
    this.i += m[0].length;
    return JSON.parse(m[0]) as unknown;
  }

  private string(): string {
    const start = this.i;
    let j = this.i + 1;
    for (;;) {
      const q = this.s.indexOf('"', j);
      let bs = 0;
      for (let k = q - 1; this.s[k] === "\\"; k--) bs++;
      if (bs % 2 === 0) {
        this.i = q + 1;
        return JSON.parse(this.s.slice(start, q + 1)) as string;
      }
      j = q + 1;
    }
  }

  private object(path: string): Record<string, unknown> {
    this.i++; // {
    const out: Record<string, unknown> = {};
    const seen = new Set<string>();
    this.ws();
    if (this.s[this.i] === "}") {
      this.i++;
      return out;
    }
    for (;;) {
      this.ws();
      const key = this.string();
      this.ws();
      this.i++; // :
      const p = path ? `${path}.${key}` : key;
      const v = this.value(p);
      if (seen.has(key)) {
        if (!this.dups.includes(p)) this.dups.push(p);
        const prev = out[key];
        out[key] = isPlain(prev) && isPlain(v) ? mergeInto(prev, v) : v;
      } else {
        seen.add(key);
        out[key] = v;
      }
      this.ws();
      if (this.s[this.i++] === "}") return out;
    }
  }

  private array(path: string): unknown[] {
    this.i++; // [
    const out: unknown[] = [];
    this.ws();
    if (this.s[this.i] === "]") {
      this.i++;
      return out;
    }
    for (;;) {
      out.push(this.value(`${path}[${out.length}]`));
      this.ws();
      if (this.s[this.i++] === "]") return out;
    }
  }
}

function isPlain(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function mergeInto(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  for (const [k, v] of Object.entries(b)) a[k] = isPlain(a[k]) && isPlain(v) ? mergeInto(a[k] as Record<string, unknown>, v) : v;
  return a;
}
