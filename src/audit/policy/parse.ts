// Parses an audit policy file keeping source positions, and validates it the way the API server
// does when it loads --audit-policy-file (strict field names, k8s.io/apiserver's ValidatePolicy).
// Anything the API server would refuse is an "error" finding; the semantic checks live in lint.ts.
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node, type Pair } from "yaml";
import { formatPath, type Finding, type Severity } from "./findings.js";
import { isLevel, isStage, LEVELS, STAGES, type GroupResources, type Level, type Policy, type PolicyRule, type Stage } from "./types.js";

/** Largest policy file we read; real policies are a few KiB. */
export const MAX_POLICY_BYTES = 4 * 1024 * 1024;

export type PathSeg = string | number;

export interface ParsedPolicy {
  /** Undefined when the file is not YAML or not a mapping (nothing else can be checked). */
  policy?: Policy;
  findings: Finding[];
  /** Line/col of a field path, for findings raised later (lint.ts). Falls back to the nearest parent. */
  locate(path: PathSeg[]): { line: number; col: number };
}

const TOP_FIELDS = new Set(["apiVersion", "kind", "metadata", "rules", "omitStages", "omitManagedFields"]);
const RULE_FIELDS = new Set(["level", "users", "userGroups", "verbs", "resources", "namespaces", "nonResourceURLs", "omitStages", "omitManagedFields"]);
const GROUP_RESOURCE_FIELDS = new Set(["group", "resources", "resourceNames"]);

// RFC 1123 subdomain, as validation.NameIsDNSSubdomain checks group names.
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

class Context {
  readonly findings: Finding[] = [];
  constructor(
    readonly doc: Document.Parsed,
    readonly lines: LineCounter,
  ) {}

  pos(node: Node | Pair | null | undefined): { line: number; col: number } {
    const range = node && "range" in node ? node.range : node && "key" in node ? (node.key as Node | null)?.range : undefined;
    if (!range) return { line: 0, col: 0 };
    return this.lines.linePos(range[0]);
  }

  add(severity: Severity, code: string, message: string, path: PathSeg[], node: Node | Pair | null | undefined): void {
    const rule = path[0] === "rules" && typeof path[1] === "number" ? path[1] : undefined;
    this.findings.push({ severity, code, message, path: formatPath(path), ...(rule !== undefined ? { rule } : {}), ...this.pos(node) });
  }

  resolve(node: unknown): Node | null {
    if (isAlias(node)) return (node.resolve(this.doc) as Node | undefined) ?? null;
    return (node as Node | null) ?? null;
  }
}

function isNull(node: Node | null): boolean {
  return node === null || (isScalar(node) && node.value === null);
}

/** The option `value` is probably a typo of: same letters ignoring case, or at most 2 edits away. */
function closest(value: string, options: readonly string[]): string | undefined {
  const norm = (s: string): string => s.toLowerCase().replace(/[^a-z]/g, "");
  const v = norm(value);
  const exact = options.find((o) => norm(o) === v);
  if (exact) return exact;
  let best: { option: string; d: number } | undefined;
  for (const o of options) {
    const d = editDistance(v, norm(o));
    if (d <= 2 && (!best || d < best.d)) best = { option: o, d };
  }
  return best?.option;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

function readString(ctx: Context, node: Node | null, path: PathSeg[]): string | undefined {
  if (isNull(node)) return undefined;
  if (isScalar(node) && typeof node.value === "string") return node.value;
  ctx.add("error", "invalid-type", `${formatPath(path)} must be a string, got ${describe(node)}`, path, node);
  return undefined;
}

function readBool(ctx: Context, node: Node | null, path: PathSeg[]): boolean | undefined {
  if (isNull(node)) return undefined;
  if (isScalar(node) && typeof node.value === "boolean") return node.value;
  ctx.add("error", "invalid-type", `${formatPath(path)} must be true or false, got ${describe(node)}`, path, node);
  return undefined;
}

function readStringList(ctx: Context, node: Node | null, path: PathSeg[]): string[] {
  if (isNull(node)) return [];
  if (!isSeq(node)) {
    ctx.add("error", "invalid-type", `${formatPath(path)} must be a list of strings, got ${describe(node)}`, path, node);
    return [];
  }
  const out: string[] = [];
  node.items.forEach((item, i) => {
    const n = ctx.resolve(item);
    if (isScalar(n) && typeof n.value === "string") out.push(n.value);
    else ctx.add("error", "invalid-type", `${formatPath([...path, i])} must be a string, got ${describe(n)}`, [...path, i], n);
  });
  return out;
}

function describe(node: Node | null): string {
  if (node === null) return "nothing";
  if (isMap(node)) return "a mapping";
  if (isSeq(node)) return "a list";
  if (isScalar(node)) return node.value === null ? "null" : `${typeof node.value} ${JSON.stringify(node.value)}`;
  return "an unsupported node";
}

/** Iterates a mapping's pairs, reporting unknown and non-string keys. */
function fields(ctx: Context, node: Node | null, path: PathSeg[], allowed: Set<string>, what: string): Map<string, { pair: Pair; value: Node | null }> {
  const out = new Map<string, { pair: Pair; value: Node | null }>();
  if (!isMap(node)) return out;
  for (const pair of node.items as Pair[]) {
    const keyNode = ctx.resolve(pair.key);
    const key = isScalar(keyNode) ? String(keyNode.value) : undefined;
    if (key === undefined || !allowed.has(key)) {
      const hint = key ? closest(key, [...allowed]) : undefined;
      ctx.add(
        "error",
        "unknown-field",
        `unknown field "${key ?? describe(keyNode)}" in ${what}${hint ? ` (did you mean "${hint}"?)` : ""}; allowed: ${[...allowed].join(", ")}`,
        [...path, key ?? "?"],
        keyNode,
      );
      continue;
    }
    out.set(key, { pair, value: ctx.resolve(pair.value) });
  }
  return out;
}

function readStages(ctx: Context, node: Node | null, path: PathSeg[]): Stage[] {
  const out: Stage[] = [];
  const list = readStringList(ctx, node, path);
  const items = isSeq(node) ? node.items : [];
  list.forEach((s, i) => {
    if (isStage(s)) out.push(s);
    else {
      const hint = closest(s, STAGES);
      ctx.add("error", "invalid-stage", `omitStages value "${s}" is not a stage${hint ? ` (did you mean "${hint}"?)` : ""}; allowed: ${STAGES.join(", ")}`, [...path, i], ctx.resolve(items[i]));
    }
  });
  return out;
}

function readGroupResources(ctx: Context, node: Node | null, path: PathSeg[]): GroupResources[] {
  if (isNull(node)) return [];
  if (!isSeq(node)) {
    ctx.add("error", "invalid-type", `${formatPath(path)} must be a list of {group, resources, resourceNames}, got ${describe(node)}`, path, node);
    return [];
  }
  const out: GroupResources[] = [];
  node.items.forEach((item, i) => {
    const n = ctx.resolve(item);
    const p = [...path, i];
    if (!isMap(n)) {
      ctx.add("error", "invalid-type", `${formatPath(p)} must be a mapping {group, resources, resourceNames}, got ${describe(n)}`, p, n);
      return;
    }
    const f = fields(ctx, n, p, GROUP_RESOURCE_FIELDS, "resources entry (GroupResources)");
    const groupField = f.get("group");
    const group = readString(ctx, groupField?.value ?? null, [...p, "group"]) ?? "";
    const resources = readStringList(ctx, f.get("resources")?.value ?? null, [...p, "resources"]);
    const resourceNames = readStringList(ctx, f.get("resourceNames")?.value ?? null, [...p, "resourceNames"]);
    if (group === "*") {
      ctx.add("error", "wildcard-group", `group "*" is not a wildcard: the API server compares groups literally and rejects "*" (not a DNS subdomain); list each group, or omit "resources" to match every resource`, [...p, "group"], groupField?.value);
    } else if (group !== "" && !DNS_SUBDOMAIN.test(group)) {
      const why = group.includes("/") ? ` (a group has no version: use "${group.split("/")[0]}")` : "";
      ctx.add("error", "invalid-group", `group "${group}" is not a valid API group name (lower-case DNS subdomain)${why}`, [...p, "group"], groupField?.value);
    }
    if (resourceNames.length > 0 && resources.length === 0) {
      ctx.add("error", "resource-names-without-resources", "using resourceNames requires at least one resource", [...p, "resourceNames"], f.get("resourceNames")?.value);
    }
    out.push({ group, resources, resourceNames, ...(groupField === undefined ? { groupOmitted: true } : {}) });
  });
  return out;
}

function readRule(ctx: Context, node: Node | null, index: number): PolicyRule | undefined {
  const path: PathSeg[] = ["rules", index];
  if (!isMap(node)) {
    ctx.add("error", "invalid-type", `rules[${index}] must be a mapping, got ${describe(node)}`, path, node);
    return undefined;
  }
  const f = fields(ctx, node, path, RULE_FIELDS, `rules[${index}]`);
  const levelField = f.get("level");
  const levelRaw = readString(ctx, levelField?.value ?? null, [...path, "level"]);
  let level: Level = "None";
  if (levelRaw === undefined || levelRaw === "") {
    ctx.add("error", "level-required", `rules[${index}] has no level (one of ${LEVELS.join(", ")})`, levelField ? [...path, "level"] : path, levelField?.value ?? node);
  } else if (!isLevel(levelRaw)) {
    const hint = closest(levelRaw, LEVELS);
    ctx.add("error", "invalid-level", `level "${levelRaw}" is not supported${hint ? ` (did you mean "${hint}"? levels are case-sensitive)` : ""}; allowed: ${LEVELS.join(", ")}`, [...path, "level"], levelField?.value);
  } else level = levelRaw;

  const urlsField = f.get("nonResourceURLs");
  const nonResourceURLs = readStringList(ctx, urlsField?.value ?? null, [...path, "nonResourceURLs"]);
  nonResourceURLs.forEach((url, i) => {
    const at = [...path, "nonResourceURLs", i];
    const n = isSeq(urlsField?.value) ? ctx.resolve(urlsField.value.items[i]) : null;
    if (url === "*") return;
    if (!url.startsWith("/")) ctx.add("error", "invalid-nonresource-url", `non-resource URL "${url}" must begin with "/"`, at, n);
    if (url !== "" && url.slice(0, -1).includes("*")) ctx.add("error", "invalid-nonresource-url", `non-resource URL "${url}": a "*" wildcard must be the last character`, at, n);
  });
  const resources = readGroupResources(ctx, f.get("resources")?.value ?? null, [...path, "resources"]);
  const namespaces = readStringList(ctx, f.get("namespaces")?.value ?? null, [...path, "namespaces"]);
  if (nonResourceURLs.length > 0 && (resources.length > 0 || namespaces.length > 0)) {
    ctx.add(
      "error",
      "nonresource-with-resources",
      `rules[${index}] mixes nonResourceURLs with ${resources.length > 0 ? "resources" : "namespaces"}: the API server rejects such a rule ("rules cannot apply to both regular resources and non-resource URLs"); split it into two rules`,
      [...path, "nonResourceURLs"],
      urlsField?.pair,
    );
  }
  const omitManaged = f.get("omitManagedFields");
  const omitManagedFields = readBool(ctx, omitManaged?.value ?? null, [...path, "omitManagedFields"]);
  return {
    level,
    users: readStringList(ctx, f.get("users")?.value ?? null, [...path, "users"]),
    userGroups: readStringList(ctx, f.get("userGroups")?.value ?? null, [...path, "userGroups"]),
    verbs: readStringList(ctx, f.get("verbs")?.value ?? null, [...path, "verbs"]),
    resources,
    namespaces,
    nonResourceURLs,
    omitStages: readStages(ctx, f.get("omitStages")?.value ?? null, [...path, "omitStages"]),
    ...(omitManagedFields !== undefined ? { omitManagedFields } : {}),
  };
}

/** Parses and validates policy text; `file` is only used in messages. */
export function parsePolicy(text: string): ParsedPolicy {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const ctx = new Context(doc, lines);
  const locate = (path: PathSeg[]): { line: number; col: number } => {
    for (let n = path.length; n >= 0; n--) {
      const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
      if (node && typeof node === "object" && "range" in node) return ctx.pos(node as Node);
    }
    return { line: 1, col: 1 };
  };
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      const pos = lines.linePos(e.pos[0]);
      ctx.findings.push({ severity: "error", code: "yaml-syntax", message: `YAML syntax error: ${e.message.split("\n")[0]}`, path: "", line: pos.line, col: pos.col });
    }
    return { findings: ctx.findings, locate };
  }
  const root = ctx.resolve(doc.contents);
  if (!isMap(root)) {
    ctx.add("error", "invalid-type", `the policy must be a mapping with apiVersion, kind and rules, got ${describe(root)}`, [], root);
    return { findings: ctx.findings, locate };
  }
  const f = fields(ctx, root, [], TOP_FIELDS, "the Policy");

  const apiVersionField = f.get("apiVersion");
  const apiVersion = readString(ctx, apiVersionField?.value ?? null, ["apiVersion"]) ?? "";
  if (apiVersion === "audit.k8s.io/v1beta1") {
    ctx.add("warning", "deprecated-api-version", "apiVersion audit.k8s.io/v1beta1 is deprecated since Kubernetes 1.13 and kube-apiserver 1.24+ refuses to load it (no kind \"Policy\" is registered for version audit.k8s.io/v1beta1); use audit.k8s.io/v1", ["apiVersion"], apiVersionField?.value);
  } else if (apiVersion !== "audit.k8s.io/v1") {
    ctx.add("error", "invalid-api-version", apiVersion === "" ? "apiVersion is required: audit.k8s.io/v1" : `apiVersion "${apiVersion}" is not an audit policy version; use audit.k8s.io/v1`, ["apiVersion"], apiVersionField?.value ?? root);
  }
  const kindField = f.get("kind");
  const kind = readString(ctx, kindField?.value ?? null, ["kind"]) ?? "";
  if (kind !== "Policy") ctx.add("error", "invalid-kind", kind === "" ? "kind is required: Policy" : `kind "${kind}" is not Policy`, ["kind"], kindField?.value ?? root);

  const meta = f.get("metadata");
  if (meta && !isNull(meta.value) && !isMap(meta.value)) ctx.add("error", "invalid-type", `metadata must be a mapping, got ${describe(meta.value)}`, ["metadata"], meta.value);

  const rulesField = f.get("rules");
  const rules: PolicyRule[] = [];
  const rulesNode = rulesField?.value ?? null;
  if (!isNull(rulesNode) && !isSeq(rulesNode)) {
    ctx.add("error", "invalid-type", `rules must be a list, got ${describe(rulesNode)}`, ["rules"], rulesNode);
  } else if (isSeq(rulesNode)) {
    rulesNode.items.forEach((item, i) => {
      const r = readRule(ctx, ctx.resolve(item), i);
      // Keep indexes aligned with the file even when a rule is unreadable.
      rules.push(r ?? { level: "None", users: [], userGroups: [], verbs: [], resources: [], namespaces: [], nonResourceURLs: [], omitStages: [] });
    });
  }
  if (rules.length === 0) {
    ctx.add("error", "no-rules", "the policy has no rules: the API server refuses to start (\"loaded illegal policy with 0 rules\")", rulesField ? ["rules"] : [], rulesField?.pair ?? root);
  }
  const omitManaged = f.get("omitManagedFields");
  const omitManagedFields = readBool(ctx, omitManaged?.value ?? null, ["omitManagedFields"]);
  const policy: Policy = {
    apiVersion,
    rules,
    omitStages: readStages(ctx, f.get("omitStages")?.value ?? null, ["omitStages"]),
    ...(omitManagedFields !== undefined ? { omitManagedFields } : {}),
  };
  return { policy, findings: ctx.findings, locate };
}
