import { parse as parseYaml } from "yaml";
import { UsageError } from "../../core/errors.js";
import { BUILTIN_RULES_YAML } from "./builtin-rules.js";

import { SEVERITIES, type Severity } from "./severity.js";
export { SEVERITIES, type Severity };

/** Event columns a condition can test with `field:` (see docs/audit.md, "Detections"). */
export const FIELDS = [
  "verb", "resource", "subresource", "namespace", "name", "user", "groups", "userKind", "impersonatedUser",
  "userAgent", "sourceIP", "code", "apiGroup", "apiVersion", "requestURI", "stage",
] as const;
export type FieldName = (typeof FIELDS)[number];
/** Roots of `path:` conditions. */
export const PATH_ROOTS = ["object", "requestObject", "responseObject", "podSpec"] as const;

const OPS = ["equals", "notEquals", "in", "notIn", "exists", "matches", "gt", "gte", "lt", "lte"] as const;
type Op = (typeof OPS)[number];

/** One audit event as rules see it: columns plus request/response objects (secret values already redacted). */
export interface DetectEvent {
  auditId: string;
  stage: string;
  ts: string | null;
  verb: string | null;
  resource: string | null;
  subresource: string | null;
  namespace: string | null;
  name: string | null;
  user: string | null;
  groups: string[];
  impersonatedUser: string | null;
  userAgent: string | null;
  sourceIP: string | null;
  code: number | null;
  apiGroup: string | null;
  apiVersion: string | null;
  requestURI: string | null;
  requestObject: unknown;
  responseObject: unknown;
}

export type Condition =
  | { kind: "test"; field?: FieldName; path?: { root: (typeof PATH_ROOTS)[number]; steps: (string | "*")[] }; op: Op; value: unknown }
  | { kind: "any" | "all"; of: Condition[] }
  | { kind: "not"; of: Condition };

export interface Rule {
  name: string;
  severity: Severity;
  description: string;
  enabled: boolean;
  when: Condition[];
  /** Where the rule came from: "builtin" or the user file. */
  source: string;
}

/** A bad rule file: names the file, the rule and the field. The CLI exits 2. */
export class RuleFileError extends UsageError {
  constructor(file: string, rule: string | undefined, field: string, problem: string) {
    super(`${file}: ${rule !== undefined ? `rule "${rule}": ` : ""}${field}: ${problem}`);
    this.name = "RuleFileError";
  }
}

/**
 * "System component": a `system:` user other than system:anonymous, where service accounts count
 * only in kube-system (system:serviceaccount:kube-system:*, the controllers). Service accounts of
 * other namespaces are "serviceaccount", an empty username, system:anonymous or the group
 * system:unauthenticated is "anonymous", anyone else "user".
 */
export function userKind(user: string | null, groups: string[]): "system" | "serviceaccount" | "user" | "anonymous" {
  const u = user ?? "";
  if (u === "" || u === "system:anonymous" || groups.includes("system:unauthenticated")) return "anonymous";
  if (u.startsWith("system:serviceaccount:")) return u.startsWith("system:serviceaccount:kube-system:") ? "system" : "serviceaccount";
  if (u.startsWith("system:")) return "system";
  return "user";
}

// ---------- parsing ----------

type Ctx = { file: string; rule: string | undefined };

function fail(c: Ctx, field: string, problem: string): never {
  throw new RuleFileError(c.file, c.rule, field, problem);
}

function isObj(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function parsePath(c: Ctx, where: string, text: unknown): { root: (typeof PATH_ROOTS)[number]; steps: string[] } {
  if (typeof text !== "string" || text === "") fail(c, where, "must be a non-empty string such as object.spec.containers[*].image");
  const steps: string[] = [];
  const re = /([^.[\]]+)|\[(\*|\d+)\]/g;
  let m: RegExpExecArray | null;
  let consumed = "";
  while ((m = re.exec(text)) !== null) {
    steps.push(m[1] ?? m[2]!);
    consumed += m[0];
  }
  if (consumed.length !== text.replace(/\./g, "").length) fail(c, where, `cannot parse path "${text}" (use dots and [*] or [N], e.g. object.spec.containers[*].image)`);
  const root = steps.shift();
  if (!(PATH_ROOTS as readonly string[]).includes(root ?? "")) fail(c, where, `path "${text}" must start with one of ${PATH_ROOTS.join(", ")}`);
  return { root: root as (typeof PATH_ROOTS)[number], steps };
}

function parseCondition(c: Ctx, where: string, raw: unknown): Condition {
  if (!isObj(raw)) fail(c, where, "a condition must be a mapping (field/path with an operator, or any/all/not)");
  for (const k of ["any", "all"] as const) {
    if (k in raw) {
      if (Object.keys(raw).length !== 1) fail(c, where, `"${k}" must be alone in its condition`);
      const list = raw[k];
      if (!Array.isArray(list) || list.length === 0) fail(c, `${where}.${k}`, "must be a non-empty list of conditions");
      return { kind: k, of: list.map((x, i) => parseCondition(c, `${where}.${k}[${i}]`, x)) };
    }
  }
  if ("not" in raw) {
    if (Object.keys(raw).length !== 1) fail(c, where, `"not" must be alone in its condition`);
    return { kind: "not", of: parseCondition(c, `${where}.not`, raw.not) };
  }
  const hasField = "field" in raw;
  const hasPath = "path" in raw;
  if (hasField === hasPath) fail(c, where, "needs exactly one of field or path");
  const ops = Object.keys(raw).filter((k) => k !== "field" && k !== "path");
  const unknown = ops.filter((k) => !(OPS as readonly string[]).includes(k));
  if (unknown.length > 0) fail(c, `${where}.${unknown[0]}`, `unknown operator (use one of ${OPS.join(", ")})`);
  if (ops.length !== 1) fail(c, where, `needs exactly one operator (${OPS.join(", ")})`);
  const op = ops[0] as Op;
  const value = raw[op];
  const at = `${where}.${op}`;
  switch (op) {
    case "in":
    case "notIn":
      if (!Array.isArray(value) || value.length === 0 || !value.every((v) => v === null || ["string", "number", "boolean"].includes(typeof v))) fail(c, at, "must be a non-empty list of scalars");
      break;
    case "exists":
      if (typeof value !== "boolean") fail(c, at, "must be true or false");
      break;
    case "matches":
      if (typeof value !== "string") fail(c, at, "must be a regular expression string");
      try {
        new RegExp(value);
      } catch (err) {
        fail(c, at, `invalid regular expression: ${(err as Error).message}`);
      }
      break;
    case "gt":
    case "gte":
    case "lt":
    case "lte":
      if (typeof value !== "number") fail(c, at, "must be a number");
      break;
    default:
      if (value !== null && !["string", "number", "boolean"].includes(typeof value)) fail(c, at, "must be a scalar (string, number, boolean or null)");
  }
  const out: Condition = { kind: "test", op, value: op === "matches" ? new RegExp(value as string) : value };
  if (hasField) {
    if (!(FIELDS as readonly string[]).includes(raw.field as string)) fail(c, `${where}.field`, `unknown field "${String(raw.field)}" (use one of ${FIELDS.join(", ")})`);
    out.field = raw.field as FieldName;
  } else {
    out.path = parsePath(c, `${where}.path`, raw.path);
  }
  return out;
}

const RULE_KEYS = ["name", "severity", "description", "enabled", "when"];

/**
 * Parses a rule file. A user file may give only `name` and `enabled: false` to silence a rule,
 * or a full rule (severity, description, when) to add one or replace a built-in of that name.
 */
export function parseRules(text: string, file: string): { partial: Partial<Rule> & { name: string }; full: boolean }[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new RuleFileError(file, undefined, "YAML", (err as Error).message.split("\n")[0]!);
  }
  const c: Ctx = { file, rule: undefined };
  if (!isObj(doc) || !Array.isArray(doc.rules)) fail(c, "rules", "the file must be a mapping with a list `rules:`");
  const seen = new Set<string>();
  return doc.rules.map((raw, i) => {
    c.rule = undefined;
    if (!isObj(raw)) fail(c, `rules[${i}]`, "must be a mapping");
    if (typeof raw.name !== "string" || !/^[a-z0-9][a-z0-9-]{0,62}$/.test(raw.name)) fail(c, `rules[${i}].name`, "must be lowercase letters, digits and '-' (at most 63), starting with a letter or digit");
    c.rule = raw.name;
    if (seen.has(raw.name)) fail(c, "name", "defined twice in this file");
    seen.add(raw.name);
    for (const k of Object.keys(raw)) if (!RULE_KEYS.includes(k)) fail(c, k, `unknown key (use ${RULE_KEYS.join(", ")})`);
    const partial: Partial<Rule> & { name: string } = { name: raw.name, source: file };
    if ("enabled" in raw) {
      if (typeof raw.enabled !== "boolean") fail(c, "enabled", "must be true or false");
      partial.enabled = raw.enabled;
    }
    if ("severity" in raw) {
      if (!(SEVERITIES as readonly unknown[]).includes(raw.severity)) fail(c, "severity", `must be one of ${SEVERITIES.join(", ")}`);
      partial.severity = raw.severity as Severity;
    }
    if ("description" in raw) {
      if (typeof raw.description !== "string" || raw.description.trim() === "") fail(c, "description", "must be a non-empty string");
      partial.description = raw.description;
    }
    if ("when" in raw) {
      if (!Array.isArray(raw.when) || raw.when.length === 0) fail(c, "when", "must be a non-empty list of conditions");
      partial.when = raw.when.map((x, j) => parseCondition(c, `when[${j}]`, x));
    }
    return { partial, full: partial.when !== undefined };
  });
}

/** The built-in rules merged with a user file: by name, a user entry replaces or (with only enabled) toggles. */
export function loadRules(user?: { text: string; file: string }): Rule[] {
  const rules = new Map<string, Rule>();
  for (const { partial } of parseRules(BUILTIN_RULES_YAML, "builtin")) {
    rules.set(partial.name, { enabled: true, ...partial, source: "builtin" } as Rule);
  }
  if (user) {
    for (const { partial, full } of parseRules(user.text, user.file)) {
      const base = rules.get(partial.name);
      const c: Ctx = { file: user.file, rule: partial.name };
      if (base && !full) {
        // An override of a built-in without `when`: change enabled/severity/description only.
        rules.set(partial.name, { ...base, ...partial, source: base.source });
        continue;
      }
      if (!full) fail(c, "when", "required for a new rule (only built-in rules can be overridden with enabled/severity/description alone)");
      if (partial.severity === undefined) fail(c, "severity", `required (one of ${SEVERITIES.join(", ")})`);
      if (partial.description === undefined) fail(c, "description", "required");
      rules.set(partial.name, { enabled: true, ...partial } as Rule);
    }
  }
  return [...rules.values()];
}

// ---------- evaluation ----------

const WORKLOAD_TEMPLATE = new Set(["deployments", "daemonsets", "statefulsets", "replicasets", "jobs", "replicationcontrollers"]);

/**
 * The object a create/update/patch leaves behind: the response object when it is one (not a
 * Status, as in a failed request), else the request object (for a patch, the patch itself).
 */
export function effectiveObject(ev: DetectEvent): unknown {
  const r = ev.responseObject;
  if (isObj(r) && r.kind !== "Status") return r;
  return ev.requestObject ?? (isObj(r) ? undefined : r);
}

/** The pod spec of a Pod, of a workload's template, or of a CronJob's jobTemplate. */
export function podSpecOf(ev: DetectEvent): unknown {
  const o = effectiveObject(ev);
  if (!isObj(o) || !isObj(o.spec)) return undefined;
  const spec = o.spec;
  const res = ev.resource ?? "";
  if (res === "pods" || o.kind === "Pod") return spec;
  if (res === "cronjobs" || o.kind === "CronJob") {
    const jt = spec.jobTemplate;
    return isObj(jt) && isObj(jt.spec) && isObj(jt.spec.template) ? jt.spec.template.spec : undefined;
  }
  if (WORKLOAD_TEMPLATE.has(res) || isObj(spec.template)) return isObj(spec.template) ? spec.template.spec : undefined;
  return undefined;
}

function walk(v: unknown, steps: readonly string[], i: number, out: unknown[]): void {
  if (v === undefined) return;
  if (i === steps.length) {
    out.push(v);
    return;
  }
  const s = steps[i]!;
  if (s === "*") {
    if (Array.isArray(v)) for (const x of v) walk(x, steps, i + 1, out);
    else if (isObj(v)) for (const x of Object.values(v)) walk(x, steps, i + 1, out);
    return;
  }
  if (Array.isArray(v)) {
    if (/^\d+$/.test(s)) walk(v[Number(s)], steps, i + 1, out);
    return;
  }
  if (isObj(v)) walk(v[s], steps, i + 1, out);
}

function fieldValues(ev: DetectEvent, f: FieldName): unknown[] {
  if (f === "groups") return ev.groups;
  if (f === "userKind") return [userKind(ev.user, ev.groups)];
  const v = ev[f];
  return v === null || v === undefined ? [] : [v];
}

function test(op: Op, expected: unknown, values: unknown[]): boolean {
  switch (op) {
    case "exists":
      return values.some((v) => v !== null) === expected;
    case "equals":
      return values.some((v) => v === expected);
    case "notEquals":
      return !values.some((v) => v === expected);
    case "in":
      return values.some((v) => (expected as unknown[]).includes(v));
    case "notIn":
      return !values.some((v) => (expected as unknown[]).includes(v));
    case "matches":
      return values.some((v) => typeof v === "string" && (expected as RegExp).test(v));
    case "gt":
      return values.some((v) => typeof v === "number" && v > (expected as number));
    case "gte":
      return values.some((v) => typeof v === "number" && v >= (expected as number));
    case "lt":
      return values.some((v) => typeof v === "number" && v < (expected as number));
    case "lte":
      return values.some((v) => typeof v === "number" && v <= (expected as number));
  }
}

export function evalCondition(c: Condition, ev: DetectEvent): boolean {
  switch (c.kind) {
    case "any":
      return c.of.some((x) => evalCondition(x, ev));
    case "all":
      return c.of.every((x) => evalCondition(x, ev));
    case "not":
      return !evalCondition(c.of, ev);
    case "test": {
      let values: unknown[];
      if (c.field !== undefined) values = fieldValues(ev, c.field);
      else {
        const p = c.path!;
        const root = p.root === "object" ? effectiveObject(ev) : p.root === "podSpec" ? podSpecOf(ev) : ev[p.root];
        values = [];
        walk(root, p.steps, 0, values);
      }
      return test(c.op, c.value, values);
    }
  }
}

export function matches(rule: Rule, ev: DetectEvent): boolean {
  return rule.enabled && rule.when.every((c) => evalCondition(c, ev));
}

/** One event per request for detection: ResponseComplete/Panic, and 401s (logged only at ResponseStarted). */
export function isDetectStage(stage: unknown, code: unknown): boolean {
  return stage === "ResponseComplete" || stage === "Panic" || (stage === "ResponseStarted" && code === 401);
}
export const DETECT_STAGE_SQL = `(stage IN ('ResponseComplete', 'Panic') OR (stage = 'ResponseStarted' AND code = 401))`;

/** A raw audit.k8s.io event (webhook or file) as a DetectEvent. */
export function fromRawEvent(e: Record<string, unknown>): DetectEvent {
  const s = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null);
  const o = (v: unknown): Record<string, unknown> => (isObj(v) ? v : {});
  const ref = o(e.objectRef);
  const user = o(e.user);
  const status = o(e.responseStatus);
  const ips = Array.isArray(e.sourceIPs) ? e.sourceIPs : [];
  return {
    auditId: s(e.auditID) ?? "",
    stage: s(e.stage) ?? "",
    ts: s(e.stageTimestamp) ?? s(e.timestamp),
    verb: s(e.verb),
    resource: s(ref.resource),
    subresource: s(ref.subresource),
    namespace: s(ref.namespace),
    name: s(ref.name),
    user: typeof user.username === "string" ? user.username : null,
    groups: Array.isArray(user.groups) ? user.groups.filter((g): g is string => typeof g === "string") : [],
    impersonatedUser: s(o(e.impersonatedUser).username),
    userAgent: s(e.userAgent),
    sourceIP: s(ips[0]),
    code: typeof status.code === "number" ? status.code : null,
    apiGroup: isObj(e.objectRef) ? (typeof ref.apiGroup === "string" ? ref.apiGroup : "") : null,
    apiVersion: s(ref.apiVersion),
    requestURI: s(e.requestURI),
    requestObject: e.requestObject,
    responseObject: e.responseObject,
  };
}
