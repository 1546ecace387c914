import { readFile } from "node:fs/promises";
import type { AuditStore, Row } from "../store.js";
import type { QueryResult } from "../queries.js";
import { DETECT_STAGE_SQL, RuleFileError, SEVERITIES, loadRules, matches, type Condition, type DetectEvent, type Rule, type Severity } from "./rules.js";

export interface DetectFilter {
  since?: Date;
  until?: Date;
  namespace?: string;
  user?: string;
  /** Only hits of rules at or above this severity. */
  severity?: Severity;
  limit?: number;
}

export const HIT_COLUMNS = ["time", "rule", "severity", "user", "verb", "resource", "name", "namespace", "code", "audit_id", "reason"];

/** Reads a user rule file and merges it over the built-ins (a missing file is a RuleFileError too). */
export async function loadRuleFile(file: string | undefined): Promise<Rule[]> {
  if (file === undefined) return loadRules();
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new RuleFileError(file, undefined, "file", `cannot read: ${(err as Error).message}`);
  }
  return loadRules({ text, file });
}

const COLUMN_SQL: Partial<Record<string, string>> = { verb: "verb", resource: "resource", subresource: "subresource", namespace: "namespace", apiGroup: "coalesce(api_group, '')" };

function lit(v: unknown): string | undefined {
  if (typeof v === "string") return `'${v.replace(/'/g, "''")}'`;
  return undefined;
}

/**
 * A SQL pre-filter that keeps every event some enabled rule could match: per rule, the AND of its
 * top-level equals/in/exists tests on plain columns (the rest is checked in JS); OR over rules.
 * Exact rules are still evaluated on every row it returns.
 */
export function prefilterSql(rules: Rule[]): string {
  const perRule: string[] = [];
  for (const r of rules) {
    if (!r.enabled) continue;
    const parts: string[] = [];
    for (const c of r.when) {
      const s = conditionSql(c);
      if (s) parts.push(s);
    }
    if (parts.length === 0) return "true";
    perRule.push(`(${parts.join(" AND ")})`);
  }
  return perRule.length ? `(${perRule.join(" OR ")})` : "false";
}

const USER_KIND_SQL: Record<string, string> = {
  anonymous: `(coalesce("user", '') IN ('', 'system:anonymous') OR list_contains(user_groups, 'system:unauthenticated'))`,
  serviceaccount: `("user" LIKE 'system:serviceaccount:%' AND "user" NOT LIKE 'system:serviceaccount:kube-system:%')`,
  user: `("user" NOT LIKE 'system:%' AND "user" <> '')`,
  system: `("user" LIKE 'system:%' AND "user" <> 'system:anonymous' AND ("user" NOT LIKE 'system:serviceaccount:%' OR "user" LIKE 'system:serviceaccount:kube-system:%'))`,
};

function conditionSql(c: Condition): string | undefined {
  if (c.kind !== "test" || c.field === undefined) return undefined;
  // userKind: a superset is enough (the exact test runs in JS); OR of the kinds listed.
  if (c.field === "userKind" && (c.op === "equals" || c.op === "in")) {
    const kinds = (c.op === "in" ? (c.value as unknown[]) : [c.value]).map((k) => USER_KIND_SQL[String(k)]);
    return kinds.every((k) => k !== undefined) ? `(${kinds.join(" OR ")})` : undefined;
  }
  if (c.field === "code" && typeof c.value === "number" && ["gt", "gte", "lt", "lte", "equals"].includes(c.op)) {
    return `code ${{ gt: ">", gte: ">=", lt: "<", lte: "<=", equals: "=" }[c.op as "gt"]} ${c.value}`;
  }
  const col = COLUMN_SQL[c.field];
  if (!col) return undefined;
  if (c.op === "exists") return `${col} IS ${c.value ? "NOT " : ""}NULL`;
  if (c.op === "equals") {
    const l = lit(c.value);
    return l === undefined ? undefined : `${col} = ${l}`;
  }
  if (c.op === "in") {
    const ls = (c.value as unknown[]).map(lit);
    return ls.every((l) => l !== undefined) ? `${col} IN (${ls.join(", ")})` : undefined;
  }
  return undefined;
}

function parseJson(v: unknown): unknown {
  if (typeof v !== "string") return v ?? undefined;
  try {
    return JSON.parse(v);
  } catch {
    return undefined;
  }
}

function toEvent(r: Row): DetectEvent {
  const s = (v: unknown): string | null => (typeof v === "string" ? v : null);
  return {
    auditId: String(r.audit_id),
    stage: String(r.stage),
    ts: s(r.time),
    verb: s(r.verb),
    resource: s(r.resource),
    subresource: s(r.subresource),
    namespace: s(r.namespace),
    name: s(r.name),
    user: s(r.user),
    groups: Array.isArray(r.user_groups) ? (r.user_groups as unknown[]).filter((g): g is string => typeof g === "string") : [],
    impersonatedUser: s(r.impersonated_user),
    userAgent: s(r.user_agent),
    sourceIP: s(r.source_ip),
    code: typeof r.code === "number" ? r.code : null,
    apiGroup: s(r.api_group),
    apiVersion: s(r.api_version),
    requestURI: s(r.request_uri),
    requestObject: parseJson(r.request_object),
    responseObject: parseJson(r.response_object),
  };
}

export function hitRow(rule: Rule, ev: DetectEvent): Row {
  const res = ev.resource === null ? null : `${ev.resource}${ev.subresource ? `/${ev.subresource}` : ""}${ev.apiGroup ? `.${ev.apiGroup}` : ""}`;
  return {
    time: ev.ts, rule: rule.name, severity: rule.severity, user: ev.user, verb: ev.verb, resource: res ?? ev.requestURI,
    name: ev.name, namespace: ev.namespace, code: ev.code, audit_id: ev.auditId, reason: rule.description,
  };
}

/** Runs the rules over the store: one hit per (request, rule), in time order. */
export async function detect(store: AuditStore, rules: Rule[], f: DetectFilter): Promise<QueryResult> {
  const minSev = f.severity ? SEVERITIES.indexOf(f.severity) : 0;
  const active = rules.filter((r) => r.enabled && SEVERITIES.indexOf(r.severity) >= minSev);
  const where: string[] = [DETECT_STAGE_SQL, prefilterSql(active)];
  const values: string[] = [];
  const add = (sql: string, v: string): void => {
    where.push(sql);
    values.push(v);
  };
  if (f.since) add("ts >= CAST(? AS TIMESTAMPTZ)", f.since.toISOString());
  if (f.until) add("ts < CAST(? AS TIMESTAMPTZ)", f.until.toISOString());
  if (f.namespace !== undefined) add("namespace = ?", f.namespace);
  if (f.user !== undefined) add(`"user" = ?`, f.user);
  const rows: Row[] = [];
  const limit = f.limit ?? Infinity;
  if (active.length === 0) return { columns: HIT_COLUMNS, rows };
  // Candidates are read in key order in batches so memory stays bounded on large stores.
  const base = `
    SELECT e.audit_id, e.stage, strftime(CAST(e.ts AS TIMESTAMP), '%Y-%m-%dT%H:%M:%S.%fZ') AS time, verb, resource, subresource,
           namespace, name, "user", user_groups, impersonated_user, user_agent, source_ip, code, coalesce(api_group, '') AS api_group,
           api_version, request_uri, CAST(b.request_object AS VARCHAR) AS request_object, CAST(b.response_object AS VARCHAR) AS response_object
      FROM (SELECT * FROM events WHERE ${where.join(" AND ")}) e
      LEFT JOIN bodies b ON b.audit_id = e.audit_id AND b.stage = e.stage`;
  // Candidates are streamed chunk by chunk in time order, so memory stays bounded on large stores.
  const result = await store.connection.stream(`${base} ORDER BY e.ts, e.audit_id, e.stage`, values);
  for await (const batch of result.yieldRowObjectJs()) {
    for (const r of batch) {
      const ev = toEvent(r as Row);
      for (const rule of active) {
        if (matches(rule, ev)) {
          rows.push(hitRow(rule, ev));
          if (rows.length >= limit) return { columns: HIT_COLUMNS, rows };
        }
      }
    }
  }
  return { columns: HIT_COLUMNS, rows };
}
