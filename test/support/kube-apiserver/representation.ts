// How answers are represented, as the real kube-apiserver v1.25 negotiates and writes them:
//
// - go-restful's route check first (resource routes of built-in kinds only): an Accept header none
//   of whose media ranges (parameters ignored) is `*/*` or one the route produces gets
//   406 `406: Not Acceptable\n\nAvailable representations: application/json, application/yaml,
//   application/vnd.kubernetes.protobuf` (lists also name the two `;stream=watch` types), details {};
// - then the handler's negotiation (apiserver negotiation.NegotiateMediaTypeOptions): the Accept
//   clauses sorted by q (goautoneg), the first one naming a serializer (json, yaml, protobuf) whose
//   parameters are acceptable wins: `as=Table|PartialObjectMetadata|PartialObjectMetadataList` with
//   `g=meta.k8s.io` and `v=v1|v1beta1` (Table only for json/yaml), `pretty=1`, `stream=watch`;
//   nothing acceptable falls back to plain JSON (never a 406 here). Protobuf is not spoken: a
//   protobuf clause is skipped as if the server lacked it;
// - watches need a stream serializer: YAML gets 406 `only the following media types are
//   accepted: application/json;stream=watch, application/vnd.kubernetes.protobuf;stream=watch`;
// - Status objects are never transformed; objects and lists are (`transformResponseObject`), for
//   every verb: PartialObjectMetadata (406 for a list), PartialObjectMetadataList (406 for a
//   non-list), Table (tables.ts; `includeObject` None|Metadata|Object, else 400);
// - JSON as Go's encoding/json writes it (`<`, `>`, `&`, U+2028/9 escaped, a final newline;
//   `?pretty=true`, `pretty=1` or a curl/Wget/Mozilla User-Agent: two-space indent, no newline);
//   YAML as sigs.k8s.io/yaml (go-yaml v2) writes it: keys in its natural order, block style,
//   sequences not indented under their key, strings quoted only when they would read back as
//   something else (double quotes) or cannot be plain (single quotes), multi-line strings as `|`
//   blocks, long values folded at column 80;
// - request bodies in YAML are read as go-yaml v2 does (YAML 1.1 booleans such as `on`/`yes`,
//   timestamps kept as strings).
import type { IncomingMessage, ServerResponse } from "node:http";
import YAML from "yaml";
import { deprecationWarning, warningHeader } from "./deprecation.js";
import { adaptEventsQuery, EVENTS_GROUP, eventsToExternal } from "./events.js";
import { isBuiltinGroup, type ResourceInfo } from "./resources.js";
import { ApiError, statusObject, type StatusObject } from "./status.js";
import type { KubeObject } from "./store.js";
import { toTable, validateTableOptions } from "./tables.js";

const JSON_TYPE = "application/json";
const YAML_TYPE = "application/yaml";
const PROTOBUF_TYPE = "application/vnd.kubernetes.protobuf";
/** The serializers of the real server, in its order (the first is the fallback). */
const SERIALIZERS = [JSON_TYPE, YAML_TYPE, PROTOBUF_TYPE];
const STREAM_TYPES = [`${JSON_TYPE};stream=watch`, `${PROTOBUF_TYPE};stream=watch`];

export type TargetKind = "Table" | "PartialObjectMetadata" | "PartialObjectMetadataList";

export interface Negotiated {
  mediaType: typeof JSON_TYPE | typeof YAML_TYPE;
  /** `as=…;g=meta.k8s.io;v=…`: what the object is turned into before it is written. */
  target?: { kind: TargetKind; version: "v1" | "v1beta1" };
  pretty: boolean;
}

export interface AcceptClause {
  type: string;
  subType: string;
  q: number;
  params: Record<string, string>;
}

/** goautoneg.ParseAccept: clauses sorted by q, then concrete types before wildcards (stable). */
export function parseAccept(header: string): AcceptClause[] {
  const out: AcceptClause[] = [];
  for (const raw of header.split(",")) {
    const parts = raw.trim().split(";");
    const range = parts[0]!.split("/");
    const type = range[0]!.trim();
    let subType: string;
    if (range.length === 1 && type === "*") subType = "*";
    else if (range.length === 2) subType = range[1]!.trim();
    else continue;
    const clause: AcceptClause = { type, subType, q: 1, params: {} };
    for (const p of parts.slice(1)) {
      const eq = p.indexOf("=");
      if (eq < 0) continue;
      const key = p.slice(0, eq).trim();
      const value = p.slice(eq + 1);
      if (key === "q") {
        const q = Number.parseFloat(value);
        clause.q = Number.isNaN(q) ? 0 : q;
      } else clause.params[key] = value.trim();
    }
    out.push(clause);
  }
  const less = (a: AcceptClause, b: AcceptClause): boolean =>
    a.q > b.q || (a.type !== "*" && b.type === "*") || (a.subType !== "*" && b.subType === "*");
  // Insertion sort, as Go's sort.Sort does for short slices: stable for equal clauses.
  for (let i = 1; i < out.length; i++) for (let j = i; j > 0 && less(out[j]!, out[j - 1]!); j--) [out[j - 1], out[j]] = [out[j]!, out[j - 1]!];
  return out;
}

/** go-restful's matchesAccept: any comma-separated range (parameters dropped) equal to a produced type, or `*∕*`. */
function restfulAccepts(accept: string, produces: string[]): boolean {
  for (const raw of accept.split(",")) {
    const mime = raw.split(";")[0]!.trim();
    if (mime === "*/*" || produces.includes(mime)) return true;
  }
  return false;
}

export function notAcceptable(message: string): ApiError {
  return new ApiError(statusObject(406, "NotAcceptable", message));
}

/**
 * The route check go-restful makes before a built-in resource's handler runs (CRDs are not served
 * by go-restful and skip it). `verb` is the request's verb; list routes also produce watch streams.
 */
export function checkRouteAccepts(accept: string | undefined, verb: string): void {
  const produces = verb === "list" || verb === "watch" ? [...SERIALIZERS, ...STREAM_TYPES] : SERIALIZERS;
  if (restfulAccepts(accept === undefined || accept === "" ? "*/*" : accept, produces)) return;
  const st = statusObject(406, "NotAcceptable", `406: Not Acceptable\n\nAvailable representations: ${produces.join(", ")}`, {});
  throw new ApiError(st);
}

function isPrettyPrint(req: IncomingMessage, q: URLSearchParams): boolean {
  const p = q.get("pretty");
  if (p !== null && p !== "") return ["1", "t", "T", "true", "TRUE", "True"].includes(p);
  const ua = req.headers["user-agent"] ?? "";
  return ua.startsWith("curl") || ua.startsWith("Wget") || ua.startsWith("Mozilla/5.0");
}

/**
 * negotiation.NegotiateOutputMediaType for a resource endpoint (conversions allowed). With
 * `stream`, the chosen serializer must also stream (watch), else 406.
 */
export function negotiate(req: IncomingMessage, q: URLSearchParams, opts: { stream?: boolean } = {}): Negotiated {
  const header = req.headers.accept ?? "";
  let chosen: Negotiated | undefined;
  let chosenType = JSON_TYPE;
  if (header !== "") {
    outer: for (const c of parseAccept(header)) {
      for (const mediaType of SERIALIZERS) {
        const [type, subType] = mediaType.split("/") as [string, string];
        if (!((c.type === type && c.subType === subType) || (c.type === type && c.subType === "*") || (c.type === "*" && c.subType === "*"))) continue;
        const n = acceptOptions(c.params, mediaType);
        if (!n) continue;
        // Protobuf is not spoken here: as if the server had no such serializer.
        if (mediaType === PROTOBUF_TYPE) continue;
        chosen = n;
        chosenType = mediaType;
        break outer;
      }
    }
  }
  const n = chosen ?? { mediaType: JSON_TYPE, pretty: false };
  if (opts.stream && chosenType === YAML_TYPE) throw notAcceptable(`only the following media types are accepted: ${STREAM_TYPES.join(", ")}`);
  if (!n.pretty && isPrettyPrint(req, q)) n.pretty = true;
  return n;
}

/** acceptMediaTypeOptions with the RequestScope's restrictions (AllowsConversion). */
function acceptOptions(params: Record<string, string>, mediaType: string): Negotiated | undefined {
  let as: string | undefined;
  let g: string | undefined;
  let v: string | undefined;
  let pretty = false;
  let convert = false;
  for (const [k, val] of Object.entries(params)) {
    switch (k) {
      case "as":
        as = val;
        convert = true;
        break;
      case "g":
        g = val;
        convert = true;
        break;
      case "v":
        v = val;
        convert = true;
        break;
      case "stream":
        // Only JSON and protobuf stream, and only watch.
        if (val !== "" && (mediaType === YAML_TYPE || val !== "watch")) return undefined;
        break;
      case "sv":
        if (val !== "") return undefined;
        break;
      case "pretty":
        pretty = val === "1";
        break;
      default:
        break; // unrecognized parameters are ignored
    }
  }
  const n: Negotiated = { mediaType: mediaType === YAML_TYPE ? YAML_TYPE : JSON_TYPE, pretty };
  if (!convert) return n;
  if (g !== "meta.k8s.io" || (v !== "v1" && v !== "v1beta1")) return undefined;
  if (as === "Table") {
    if (mediaType !== JSON_TYPE && mediaType !== YAML_TYPE) return undefined;
  } else if (as !== "PartialObjectMetadata" && as !== "PartialObjectMetadataList") return undefined;
  n.target = { kind: as, version: v };
  return n;
}

// ---- per-response context and the one writer ---------------------------------------------------

export interface RepresentationContext {
  negotiated: Negotiated;
  info: ResourceInfo;
  /** The request's group/version (objects are written in it). */
  group: string;
  version: string;
  query: URLSearchParams;
  /** Storage → request version (events.k8s.io over core Events); identity when absent. */
  toExternal?: (o: KubeObject) => KubeObject;
}

const contexts = new WeakMap<ServerResponse, RepresentationContext>();
const PLAIN_TEXT = Symbol("plainText");

/** Remembers how this response's bodies are to be written (call once the request is routed). */
export function bindRepresentation(res: ServerResponse, ctx: RepresentationContext): void {
  contexts.set(res, ctx);
}

/** A Status the writer sends as the given text/plain body instead (the mux's `404 page not found`). */
export function plainTextStatus(st: StatusObject, text: string): StatusObject {
  Object.defineProperty(st, PLAIN_TEXT, { value: text, enumerable: false });
  return st;
}

export interface Rendered {
  code: number;
  contentType: string;
  text: string;
  /** The response's headers, Warning lines set earlier on the response first. */
  headers: Record<string, string | string[]>;
}

function isStatus(v: unknown): v is StatusObject {
  return typeof v === "object" && v !== null && (v as { kind?: unknown }).kind === "Status" && (v as { apiVersion?: unknown }).apiVersion === "v1";
}

export function isList(v: unknown): v is { kind: string; apiVersion: string; metadata?: Record<string, unknown>; items: KubeObject[] } {
  return typeof v === "object" && v !== null && Array.isArray((v as { items?: unknown }).items) && String((v as { kind?: unknown }).kind ?? "").endsWith("List");
}

/**
 * What a response body becomes on the wire: the representation negotiated for the response (JSON
 * when none was), the version conversion and the `as=` transformation. Status bodies are only
 * encoded. A transformation that fails becomes its error Status (406 or 400).
 */
export function render(res: ServerResponse, code: number, body: unknown, headers: Record<string, string | string[]> = {}): Rendered {
  const merged = mergeWarnings(res, headers);
  const plain = (body as { [PLAIN_TEXT]?: string } | null)?.[PLAIN_TEXT];
  if (typeof plain === "string") return { code, contentType: "text/plain; charset=utf-8", text: plain, headers: merged };
  const ctx = contexts.get(res);
  const n: Negotiated = ctx?.negotiated ?? { mediaType: JSON_TYPE, pretty: false };
  if (!ctx || isStatus(body)) return encode(n, code, body, merged);
  try {
    return encode(n, code, transform(ctx, externalize(ctx, body)), merged);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    return encode(n, err.code, err.status, merged);
  }
}

/** Warning lines already set on the response come first (writeHead would replace them otherwise). */
function mergeWarnings(res: ServerResponse, headers: Record<string, string | string[]>): Record<string, string | string[]> {
  const key = Object.keys(headers).find((k) => k.toLowerCase() === "warning");
  const early = res.getHeader("Warning");
  if (key === undefined || early === undefined) return headers;
  const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : [String(v)]);
  const { [key]: later, ...rest } = headers;
  return { ...rest, Warning: [...list(early), ...list(later)] };
}

function encode(n: Negotiated, code: number, body: unknown, headers: Record<string, string | string[]>): Rendered {
  if (n.mediaType === YAML_TYPE) return { code, contentType: YAML_TYPE, text: toYaml(body), headers };
  return { code, contentType: JSON_TYPE, text: goJson(body, n.pretty), headers };
}

/** encoding/json output: HTML-safe escapes; the compact encoder ends with a newline, MarshalIndent does not. */
export function goJson(body: unknown, pretty = false): string {
  const text = JSON.stringify(body, null, pretty ? 2 : undefined).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  return pretty ? text : `${text}\n`;
}

function externalize(ctx: RepresentationContext, body: unknown): unknown {
  const conv = ctx.toExternal;
  if (!conv || typeof body !== "object" || body === null) return body;
  if (isList(body)) return { ...body, apiVersion: gv(ctx.group, ctx.version), items: body.items.map(conv) };
  return conv(body as KubeObject);
}

function gv(group: string, version: string): string {
  return group === "" ? version : `${group}/${version}`;
}

/** The object (or list) as the negotiated `as=` target; throws 406/400 as the real transform does. */
function transform(ctx: RepresentationContext, body: unknown): unknown {
  const target = ctx.negotiated.target;
  if (!target || typeof body !== "object" || body === null) return body;
  const apiVersion = `meta.k8s.io/${target.version}`;
  const list = isList(body);
  switch (target.kind) {
    case "PartialObjectMetadata":
      if (list) throw notAcceptable(`you requested PartialObjectMetadata, but the requested object is a list (${goTypeName(ctx, body.kind)})`);
      return asPartialObjectMetadata(body as KubeObject, apiVersion);
    case "PartialObjectMetadataList": {
      if (!list) throw notAcceptable(`you requested PartialObjectMetadataList, but the requested object is not a list (${goTypeName(ctx, String((body as KubeObject).kind ?? ctx.info.kind))})`);
      const items = body.items.map((o) => asPartialObjectMetadata(o, apiVersion));
      return { kind: "PartialObjectMetadataList", apiVersion, metadata: body.metadata ?? {}, items: items.length > 0 ? items : null };
    }
    case "Table": {
      const includeObject = ctx.query.get("includeObject") ?? "";
      validateTableOptions(includeObject);
      return toTable(body, { info: ctx.info, apiVersion, includeObject, group: ctx.group, version: ctx.version, noHeaders: false });
    }
  }
}

export function asPartialObjectMetadata(o: KubeObject, apiVersion = "meta.k8s.io/v1"): KubeObject {
  return { kind: "PartialObjectMetadata", apiVersion, metadata: o.metadata ?? {} };
}

/** The Go type the real server names in transform errors (`*core.PodList`). */
function goTypeName(ctx: RepresentationContext, kind: string): string {
  if (ctx.info.crd || !ctx.info.group.endsWith(".k8s.io") && ctx.info.group.includes(".")) return kind.endsWith("List") ? "*unstructured.UnstructuredList" : "*unstructured.Unstructured";
  const g = ctx.info.group;
  const pkg = g === "" || g === "events.k8s.io" ? "core" : g.replace(/\.k8s\.io$/, "").replace(/\.authorization$/, "").replace(/\.apiserver$/, "").split(".")[0]!;
  return `*${pkg}.${kind}`;
}

/**
 * A transformer for watch frames: each event's object as the response's objects are written
 * (version conversion, `as=` target; a Table watch has column definitions on its first frame only).
 */
export function watchTransform(res: ServerResponse): ((o: KubeObject) => unknown) | undefined {
  const ctx = contexts.get(res);
  if (!ctx || (!ctx.toExternal && !ctx.negotiated.target)) return undefined;
  let first = true;
  return (o) => {
    if (isStatus(o)) return o;
    const ext = ctx.toExternal ? ctx.toExternal(o) : o;
    const target = ctx.negotiated.target;
    if (!target) return ext;
    const apiVersion = `meta.k8s.io/${target.version}`;
    if (target.kind === "Table") {
      const t = toTable(ext, { info: ctx.info, apiVersion, includeObject: ctx.query.get("includeObject") ?? "", group: ctx.group, version: ctx.version, noHeaders: !first });
      first = false;
      return t;
    }
    return asPartialObjectMetadata(ext, apiVersion);
  };
}

// ---- YAML --------------------------------------------------------------------------------------

/** Request bodies: YAML as go-yaml v2 reads it (YAML 1.1 scalars, but timestamps stay strings). */
export function parseYaml(text: string): unknown {
  const doc = YAML.parseDocument(text, {
    version: "1.1",
    // go-yaml v2 has no sexagesimal numbers and no timestamps for untyped values, and "." is a string.
    customTags: (tags) =>
      tags
        .filter((t) => typeof t === "string" || !(t.format === "TIME" || String(t.tag).endsWith(":timestamp")))
        .map((t) =>
          typeof t !== "string" && String(t.tag).endsWith(":float") && t.format === undefined && t.test?.test("1.5") === true
            ? ({ ...t, test: /^[-+]?(?:[0-9][0-9_]*\.[0-9_]*|\.[0-9][0-9_]*)$/ } as typeof t)
            : t,
        ),
  });
  if (doc.errors.length > 0) throw doc.errors[0]!;
  return doc.toJS({ maxAliasCount: 100 });
}

const BEST_WIDTH = 80;

/** sigs.k8s.io/yaml.Marshal of a JSON value (go-yaml v2's emitter). */
export function toYaml(value: unknown): string {
  const out: string[] = [];
  emitNode(value, 0, out, "top");
  return `${out.join("")}\n`;
}

/** go-yaml v2's key order: runs of digits compare as numbers, non-letters before letters. */
export function yamlKeyLess(a: string, b: string): boolean {
  const ar = [...a];
  const br = [...b];
  const isLetter = (c: string) => /\p{L}/u.test(c);
  const isDigit = (c: string | undefined) => c !== undefined && c >= "0" && c <= "9";
  for (let i = 0; i < ar.length && i < br.length; i++) {
    if (ar[i] === br[i]) continue;
    const al = isLetter(ar[i]!);
    const bl = isLetter(br[i]!);
    if (al && bl) return ar[i]! < br[i]!;
    if (al || bl) return bl;
    let an = 0;
    let bn = 0;
    if (ar[i] === "0" || br[i] === "0") {
      for (let j = i - 1; j >= 0 && isDigit(ar[j]); j--) {
        if (ar[j] !== "0") {
          an = 1;
          bn = 1;
          break;
        }
      }
    }
    let ai = i;
    let bi = i;
    for (; ai < ar.length && isDigit(ar[ai]); ai++) an = an * 10 + Number(ar[ai]);
    for (; bi < br.length && isDigit(br[bi]); bi++) bn = bn * 10 + Number(br[bi]);
    if (an !== bn) return an < bn;
    if (ai !== bi) return ai < bi;
    return ar[i]! < br[i]!;
  }
  return ar.length < br.length;
}

function sortedKeys(o: Record<string, unknown>): string[] {
  const keys = Object.keys(o).filter((k) => o[k] !== undefined);
  return keys.sort((a, b) => (yamlKeyLess(a, b) ? -1 : yamlKeyLess(b, a) ? 1 : 0));
}

type Ctx = "top" | "mapValue" | "seqItem";

/**
 * Emits `v` whose first line continues the current one (after `key:` or `- `); `indent` is the
 * indentation of the enclosing block (the mapping's keys, or the sequence's dashes).
 */
function emitNode(v: unknown, indent: number, out: string[], ctx: Ctx): void {
  const pad = (n: number) => " ".repeat(n);
  if (Array.isArray(v)) {
    if (v.length === 0) return void out.push(ctx === "top" ? "[]" : " []");
    // In a mapping the sequence is "indentless": its dashes line up with the key.
    const seqIndent = ctx === "mapValue" ? indent : ctx === "seqItem" ? indent + 2 : 0;
    v.forEach((item, i) => {
      if (i === 0) out.push(ctx === "top" ? "" : ctx === "seqItem" ? " " : `\n${pad(seqIndent)}`);
      else out.push(`\n${pad(seqIndent)}`);
      out.push("-");
      emitNode(item, seqIndent, out, "seqItem");
    });
    return;
  }
  if (v !== null && typeof v === "object") {
    const o = v as Record<string, unknown>;
    const keys = sortedKeys(o);
    if (keys.length === 0) return void out.push(ctx === "top" ? "{}" : " {}");
    const mapIndent = ctx === "top" ? 0 : indent + 2;
    keys.forEach((k, i) => {
      if (ctx === "seqItem" && i === 0) out.push(" ");
      else if (!(ctx === "top" && i === 0)) out.push(`\n${pad(mapIndent)}`);
      out.push(scalar(k, mapIndent, mapIndent, true));
      out.push(":");
      emitNode(o[k], mapIndent, out, "mapValue");
    });
    return;
  }
  // A scalar after "key:" or "-": its folded lines are indented one step deeper.
  out.push(` ${scalar(v, currentColumn(out) + 1, indent + 2, false)}`);
}

function currentColumn(out: string[]): number {
  let col = 0;
  for (let i = out.length - 1; i >= 0; i--) {
    const nl = out[i]!.lastIndexOf("\n");
    if (nl >= 0) return col + [...out[i]!.slice(nl + 1)].length;
    col += [...out[i]!].length;
  }
  return col;
}

/** One scalar as go-yaml v2 writes it, starting at `column`; continuation lines at `indent`. */
function scalar(v: unknown, column: number, indent: number, key: boolean): string {
  if (v === null || v === undefined) return "null";
  if (typeof v === "boolean") return String(v);
  if (typeof v === "number") return goFloat(v);
  const s = String(v);
  const canUsePlain = resolvesToString(s) && !isBase60Float(s);
  const a = analyze(s);
  if (s.includes("\n") && !key && a.blockAllowed) return literal(s, indent);
  let style: "plain" | "single" | "double" = s.includes("\n") ? "double" : canUsePlain ? "plain" : "double";
  if (style === "plain" && (!a.blockPlainAllowed || (s.length === 0 && key))) style = "single";
  if (style === "single" && !a.singleQuotedAllowed) style = "double";
  if (style === "plain") return fold(s, column, indent, !key, "plain");
  if (style === "single") return fold(s, column, indent, !key, "single");
  return fold(s, column, indent, !key, "double");
}

function goFloat(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 2 ** 63) return BigInt(n).toString();
  if (n === Infinity) return ".inf";
  if (n === -Infinity) return "-.inf";
  if (Number.isNaN(n)) return ".nan";
  // strconv.FormatFloat(f, 'g', -1, 64): exponent form when exp < -4 || exp >= 6 (shortest digits).
  const [mant, expStr] = n.toExponential().split("e") as [string, string];
  const exp = Number(expStr);
  if (exp < -4 || exp >= 6) return `${mant}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  return String(n);
}

const TIMESTAMP = [
  /^\d{4}-\d{1,2}-\d{1,2}$/,
  /^\d{4}-\d{1,2}-\d{1,2}[Tt]\d{1,2}:\d{1,2}:\d{1,2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/,
  /^\d{4}-\d{1,2}-\d{1,2} \d{1,2}:\d{1,2}:\d{1,2}(\.\d+)?$/,
];
const YAML_STYLE_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const RESOLVE_MAP = new Set([
  "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON",
  "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF",
  "", "~", "null", "Null", "NULL", ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF",
  "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", "<<",
]);

/** go-yaml v2's resolve(""): whether a plain scalar with this text reads back as a string. */
function resolvesToString(s: string): boolean {
  const c = s === "" ? "" : s[0]!;
  const hint = s === "" ? "N" : /[-+]/.test(c) ? "S" : /[0-9]/.test(c) ? "D" : /[yYnNtTfFoO~]/.test(c) ? "M" : c === "." ? "." : "";
  if (hint === "") return true;
  if (RESOLVE_MAP.has(s)) return false;
  if (hint === "M") return true;
  if (hint === ".") return !/^\.[0-9]+([eE][-+]?[0-9]+)?$/.test(s);
  if (TIMESTAMP.some((re) => re.test(s))) return false;
  const plain = s.replace(/_/g, "");
  if (/^[-+]?(0[xX][0-9a-fA-F]+|0[oO]?[0-7]+|0[bB][01]+|[1-9][0-9]*|0)$/.test(plain)) return false;
  if (YAML_STYLE_FLOAT.test(plain)) return false;
  if (/^-0b[01]+$/.test(plain)) return false;
  return true;
}

function isBase60Float(s: string): boolean {
  if (s === "" || !/^[-+0-9]/.test(s) || !s.includes(":")) return false;
  return /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$/.test(s);
}

function isPrintable(cp: number): boolean {
  return cp === 0x0a || (cp >= 0x20 && cp <= 0x7e) || (cp >= 0xa0 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd && cp !== 0xfeff);
}

/** yaml_emitter_analyze_scalar (block context). */
function analyze(s: string): { blockPlainAllowed: boolean; singleQuotedAllowed: boolean; blockAllowed: boolean } {
  if (s.length === 0) return { blockPlainAllowed: true, singleQuotedAllowed: true, blockAllowed: false };
  let blockIndicators = s.startsWith("---") || s.startsWith("...");
  let leadingSpace = false;
  let leadingBreak = false;
  let trailingSpace = false;
  let trailingBreak = false;
  let breakSpace = false;
  let spaceBreak = false;
  let previousSpace = false;
  let previousBreak = false;
  let lineBreaks = false;
  let special = false;
  const chars = [...s];
  let precededByWhitespace = true;
  chars.forEach((ch, i) => {
    const next = chars[i + 1];
    const followedByWhitespace = next === undefined || next === " " || next === "\t" || next === "\n" || next === "\r";
    if (i === 0) {
      if ("#,[]{}&*!|>'\"%@`".includes(ch)) blockIndicators = true;
      else if ((ch === "?" || ch === ":" || ch === "-") && followedByWhitespace) blockIndicators = true;
    } else if (ch === ":" && followedByWhitespace) blockIndicators = true;
    else if (ch === "#" && precededByWhitespace) blockIndicators = true;
    const cp = ch.codePointAt(0)!;
    if (!isPrintable(cp)) special = true;
    const isBreak = ch === "\n" || ch === "\r" || cp === 0x85 || cp === 0x2028 || cp === 0x2029;
    if (ch === " ") {
      if (i === 0) leadingSpace = true;
      if (i === chars.length - 1) trailingSpace = true;
      if (previousBreak) breakSpace = true;
      previousSpace = true;
      previousBreak = false;
    } else if (isBreak) {
      lineBreaks = true;
      if (i === 0) leadingBreak = true;
      if (i === chars.length - 1) trailingBreak = true;
      if (previousSpace) spaceBreak = true;
      previousSpace = false;
      previousBreak = true;
    } else {
      previousSpace = false;
      previousBreak = false;
    }
    precededByWhitespace = ch === " " || ch === "\t" || isBreak;
  });
  let blockPlainAllowed = true;
  let singleQuotedAllowed = true;
  let blockAllowed = true;
  if (leadingSpace || leadingBreak || trailingSpace || trailingBreak) blockPlainAllowed = false;
  if (trailingSpace) blockAllowed = false;
  if (breakSpace) blockPlainAllowed = singleQuotedAllowed = false;
  if (spaceBreak || special) blockPlainAllowed = singleQuotedAllowed = blockAllowed = false;
  if (lineBreaks || blockIndicators) blockPlainAllowed = false;
  return { blockPlainAllowed, singleQuotedAllowed, blockAllowed };
}

/** A plain, single- or double-quoted scalar; spaces past column 80 become line breaks (values only). */
function fold(s: string, column: number, indent: number, allowBreaks: boolean, style: "plain" | "single" | "double"): string {
  const chars = [...s];
  let out = style === "single" ? "'" : style === "double" ? '"' : "";
  let col = column + out.length;
  let spaces = false;
  const breakLine = () => {
    out += `\n${" ".repeat(indent)}`;
    col = indent;
  };
  chars.forEach((ch, i) => {
    const next = chars[i + 1];
    if (ch === " ") {
      const canBreak =
        allowBreaks &&
        !spaces &&
        col > BEST_WIDTH &&
        (style === "plain" ? next !== " " : style === "single" ? i > 0 && i < chars.length - 1 && next !== " " : i > 0 && i < chars.length - 1);
      if (canBreak) {
        breakLine();
        if (style === "double" && next === " ") {
          out += "\\";
          col++;
        }
      } else {
        out += " ";
        col++;
      }
      spaces = true;
      return;
    }
    spaces = false;
    let piece = ch;
    if (style === "single" && ch === "'") piece = "''";
    if (style === "double") piece = doubleEscape(ch);
    out += piece;
    col += [...piece].length;
  });
  if (style === "single") out += "'";
  if (style === "double") out += '"';
  return out;
}

function doubleEscape(ch: string): string {
  const cp = ch.codePointAt(0)!;
  const named: Record<number, string> = {
    0x00: "\\0", 0x07: "\\a", 0x08: "\\b", 0x09: "\\t", 0x0a: "\\n", 0x0b: "\\v", 0x0c: "\\f", 0x0d: "\\r",
    0x1b: "\\e", 0x22: '\\"', 0x5c: "\\\\", 0x85: "\\N", 0xa0: "\\_", 0x2028: "\\L", 0x2029: "\\P",
  };
  if (named[cp] !== undefined && (cp !== 0xa0)) return named[cp]!;
  if (isPrintable(cp) && cp !== 0xfeff) return ch;
  if (cp <= 0xff) return `\\x${cp.toString(16).toUpperCase().padStart(2, "0")}`;
  if (cp <= 0xffff) return `\\u${cp.toString(16).toUpperCase().padStart(4, "0")}`;
  return `\\U${cp.toString(16).toUpperCase().padStart(8, "0")}`;
}

/** A `|` block: chomping `-` without a final newline, `+` with several; an indentation hint for a leading space. */
function literal(s: string, indent: number): string {
  let hints = "";
  if (s.startsWith(" ") || s.startsWith("\n")) hints += "2";
  if (!s.endsWith("\n")) hints += "-";
  else if (s === "\n" || s.endsWith("\n\n")) hints += "+";
  const body = s.endsWith("\n") ? s.slice(0, -1) : s;
  const lines = body.split("\n").map((l) => (l === "" ? "" : `${" ".repeat(indent)}${l}`));
  return `|${hints}\n${lines.join("\n")}`;
}

// ---- the request side: one call once a resource request is routed ----------------------------

export interface RoutedRequest {
  /** The group/version of the request's path. */
  group: string;
  version: string;
  /** The resource as stored (events.k8s.io Events: the core Event resource). */
  info: ResourceInfo;
}

/**
 * Prepares a routed resource request's answer as the real server does before its handler runs:
 * the deprecation Warning, go-restful's Accept check (406), the events.k8s.io field selector
 * translation, and the representation every body of this response is written in.
 */
export function represent(req: IncomingMessage, res: ServerResponse, r: RoutedRequest, verb: string, q: URLSearchParams): void {
  const warning = deprecationWarning(r.group, r.version, r.info.kind);
  if (warning) res.setHeader("Warning", [warningHeader(warning)]);
  if (!r.info.crd && isBuiltinGroup(r.group)) checkRouteAccepts(req.headers.accept, verb);
  adaptEventsQuery(r.group, r.info, q);
  const negotiated = negotiate(req, q, { stream: verb === "watch" });
  bindRepresentation(res, { negotiated, info: r.info, group: r.group, version: r.version, query: q, toExternal: eventsToExternal(r.group, r.info) });
}

/** The stored object in the request's version, when that differs (a patch applies to what the client sees). */
export function inRequestVersion(r: RoutedRequest, o: KubeObject): KubeObject {
  return r.group === EVENTS_GROUP ? (eventsToExternal(r.group, r.info)?.(o) ?? o) : o;
}
