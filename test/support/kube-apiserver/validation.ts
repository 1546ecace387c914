// Object validation like the real API server's decoder + registry strategies:
// - unknown fields (fieldValidation=Strict|Warn|Ignore), found by walking the field tree of the
//   official API types as published in kubernetes-types' .d.ts files (parsed, not type-checked);
// - schema checks (types, required fields) with the OpenAPI validators kubernetes-models ships;
// - metadata.name rules (DNS-1123 subdomain/label, path segment) and label syntax.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { isBuiltinGroup, type ResourceInfo } from "./resources.js";
import { errors, type StatusCause } from "./status.js";
import type { KubeObject } from "./store.js";

type Shape =
  | { t: "any" }
  | { t: "leaf" }
  | { t: "arr"; item: () => Shape }
  | { t: "map"; value: () => Shape }
  | { t: "obj"; props: Map<string, () => Shape> };

const require = createRequire(import.meta.url);
const TYPES_ROOT = dirname(require.resolve("kubernetes-types/package.json"));

// kubernetes-types' .d.ts files are generated and regular: `import { A } from "../m";`,
// `export interface X { readonly? name?: T; }`, `export type X = T;` with T built from names,
// Array<T>, T[], `{ [name: string]: T; }`, unions and literals. A small parser is enough (and far
// faster to load than the TypeScript compiler).
interface Module {
  decls: Map<string, { kind: "interface" | "alias"; body: string }>;
  imports: Map<string, string>; // local name -> module path relative to TYPES_ROOT (no extension)
}
const modules = new Map<string, Module | null>();
const shapes = new Map<string, Shape>();

/** Index of the brace closing the one at `open`. */
function matchBrace(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === "{") depth++;
    else if (text[i] === "}" && --depth === 0) return i;
  }
  return text.length;
}

function loadModule(path: string): Module | null {
  if (modules.has(path)) return modules.get(path)!;
  let text: string;
  try {
    text = readFileSync(join(TYPES_ROOT, `${path}.d.ts`), "utf8");
  } catch {
    modules.set(path, null);
    return null;
  }
  text = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const m: Module = { decls: new Map(), imports: new Map() };
  for (const im of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*"([^"]+)"/g)) {
    const target = join(dirname(path), im[2]!);
    for (const n of im[1]!.split(",")) if (n.trim()) m.imports.set(n.trim(), target);
  }
  const re = /export\s+(interface|type)\s+(\w+)\s*(=|\{)/g;
  for (let d = re.exec(text); d; d = re.exec(text)) {
    const from = d.index + d[0].length;
    if (d[1] === "interface") {
      const close = matchBrace(text, from - 1);
      m.decls.set(d[2]!, { kind: "interface", body: text.slice(from, close) });
    } else {
      const semi = text.indexOf(";", from);
      m.decls.set(d[2]!, { kind: "alias", body: text.slice(from, semi) });
    }
  }
  modules.set(path, m);
  return m;
}

/** Splits interface members on `;` outside nested braces. */
function members(body: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of body) {
    if (ch === "{" || ch === "<") depth++;
    if (ch === "}" || ch === ">") depth--;
    if (ch === ";" && depth === 0) {
      out.push(cur.trim());
      cur = "";
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

function namedShape(modPath: string, name: string): Shape {
  const id = `${modPath}#${name}`;
  const cached = shapes.get(id);
  if (cached) return cached;
  const m = loadModule(modPath);
  if (!m) return { t: "any" };
  const imported = m.imports.get(name);
  if (imported) return namedShape(imported, name);
  const decl = m.decls.get(name);
  if (!decl) return { t: "any" };
  let shape: Shape;
  if (decl.kind === "alias") shape = typeShape(modPath, decl.body);
  else {
    const list = members(decl.body);
    if (list.length === 0) shape = { t: "any" }; // RawExtension, FieldsV1: free-form
    else {
      const props = new Map<string, () => Shape>();
      shape = { t: "obj", props };
      shapes.set(id, shape); // before recursing: JSONSchemaProps refers to itself
      for (const mem of list) {
        const pm = /^(?:readonly\s+)?["']?([\w$-]+)["']?\??\s*:\s*([\s\S]+)$/.exec(mem);
        if (pm) {
          const t = pm[2]!.trim();
          props.set(pm[1]!, lazy(() => typeShape(modPath, t)));
        }
      }
    }
  }
  shapes.set(id, shape);
  return shape;
}

function lazy(f: () => Shape): () => Shape {
  let v: Shape | undefined;
  return () => (v ??= f());
}

function typeShape(modPath: string, raw: string): Shape {
  const t = raw.trim();
  let m: RegExpExecArray | null;
  if ((m = /^Array<([\s\S]+)>$/.exec(t))) {
    const el = m[1]!;
    return { t: "arr", item: lazy(() => typeShape(modPath, el)) };
  }
  if (t.endsWith("[]") && /^\w+\[\]$/.test(t)) return { t: "arr", item: lazy(() => typeShape(modPath, t.slice(0, -2))) };
  if (t.startsWith("{")) {
    const idx = /^\{\s*\[\w+\s*:\s*string\]\s*:\s*([\s\S]+?);?\s*\}$/.exec(t);
    if (idx) {
      const v = idx[1]!;
      return { t: "map", value: lazy(() => typeShape(modPath, v)) };
    }
    return { t: "any" };
  }
  // Unions in the API types are int-or-string or schema-or-bool: not worth checking through.
  if (t.includes("|")) return { t: "any" };
  if (t === "any" || t === "unknown" || t === "object") return { t: "any" };
  if (/^[A-Z]\w*$/.test(t)) return namedShape(modPath, t);
  return { t: "leaf" };
}

function moduleOf(info: ResourceInfo): string {
  const g = info.group === "" ? "core" : info.group.split(".")[0]!;
  return `${g}/${info.version}`;
}

/** Paths of fields that the API type does not have, in the real decoder's notation (`a.b[0].c`). */
export function unknownFields(info: ResourceInfo, obj: KubeObject, prune: boolean): string[] {
  if (!isBuiltinGroup(info.group)) return [];
  const root = namedShape(moduleOf(info), info.kind);
  if (root.t === "any") return [];
  const out: string[] = [];
  walk(obj, root, "", out, prune);
  return out;
}

function walk(v: unknown, shape: Shape, path: string, out: string[], prune: boolean): void {
  if (v === null || v === undefined) return;
  switch (shape.t) {
    case "obj": {
      if (typeof v !== "object" || Array.isArray(v)) return;
      const rec = v as Record<string, unknown>;
      for (const k of Object.keys(rec)) {
        const p = path ? `${path}.${k}` : k;
        const sub = shape.props.get(k);
        if (!sub) {
          out.push(p);
          if (prune) delete rec[k];
        } else walk(rec[k], sub(), p, out, prune);
      }
      return;
    }
    case "arr":
      if (Array.isArray(v)) v.forEach((x, i) => walk(x, shape.item(), `${path}[${i}]`, out, prune));
      return;
    case "map":
      if (typeof v === "object" && !Array.isArray(v))
        for (const [k, x] of Object.entries(v as Record<string, unknown>)) walk(x, shape.value(), `${path}.${k}`, out, prune);
      return;
    default:
      return;
  }
}

// ---- OpenAPI schema validation via kubernetes-models ---------------------------------------------

interface AjvError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}
type ModelClass = new (data: unknown) => { validate(): void };
const models = new Map<string, ModelClass | null>();

async function modelFor(info: ResourceInfo): Promise<ModelClass | null> {
  const id = `${info.group}/${info.version}/${info.kind}`;
  if (models.has(id)) return models.get(id)!;
  let cls: ModelClass | null = null;
  if (isBuiltinGroup(info.group)) {
    const spec = info.group === "" ? `kubernetes-models/${info.version}/${info.kind}` : `kubernetes-models/${info.group}/${info.version}/${info.kind}`;
    try {
      const mod = (await import(spec)) as Record<string, ModelClass>;
      cls = mod[info.kind] ?? null;
    } catch {
      cls = null;
    }
  }
  models.set(id, cls);
  return cls;
}

function fieldPath(instancePath: string): string {
  return instancePath
    .split("/")
    .slice(1)
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))
    .reduce((acc, s) => (/^[0-9]+$/.test(s) ? `${acc}[${s}]` : acc ? `${acc}.${s}` : s), "");
}

export async function schemaCauses(info: ResourceInfo, obj: KubeObject): Promise<StatusCause[]> {
  const cls = await modelFor(info);
  if (!cls) return [];
  try {
    new cls(obj).validate();
    return [];
  } catch (err) {
    const list = ((err as { errors?: AjvError[] }).errors ?? []) as AjvError[];
    if (list.length === 0) return [{ reason: "FieldValueInvalid", message: String((err as Error).message) }];
    return list.map((e) => {
      const base = fieldPath(e.instancePath);
      if (e.keyword === "required") {
        const missing = String(e.params.missingProperty);
        return { reason: "FieldValueRequired", field: base ? `${base}.${missing}` : missing, message: "Required value" };
      }
      return { reason: "FieldValueInvalid", field: base, message: `Invalid value: ${e.message ?? e.keyword}` };
    });
  }
}

// ---- names and labels --------------------------------------------------------------------------

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

export function nameCauses(info: ResourceInfo, name: string): StatusCause[] {
  const bad = (message: string): StatusCause[] => [
    { reason: "FieldValueInvalid", field: "metadata.name", message: `Invalid value: ${JSON.stringify(name)}: ${message}` },
  ];
  switch (info.nameRule) {
    case "label":
      if (name.length > 63) return bad("must be no more than 63 characters");
      if (!DNS1123_LABEL.test(name))
        return bad(
          "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
        );
      return [];
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
      out.push({ reason: "FieldValueInvalid", field: "metadata.labels", message: `Invalid value: ${JSON.stringify(k)}: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character` });
    if (typeof v !== "string" || !LABEL_VALUE.test(v) || v.length > 63)
      out.push({ reason: "FieldValueInvalid", field: `metadata.labels`, message: `Invalid value: ${JSON.stringify(v)}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character` });
  }
  return out;
}

export type FieldValidation = "Strict" | "Warn" | "Ignore";

export function parseFieldValidation(v: string | null, dflt: FieldValidation): FieldValidation {
  if (v === null || v === "") return dflt;
  if (v === "Strict" || v === "Warn" || v === "Ignore") return v;
  throw errors.badRequest(`fieldValidation must be one of "Ignore", "Warn", or "Strict", got ${JSON.stringify(v)}`);
}
