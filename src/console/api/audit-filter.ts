// The audit views' shared filter (docs/console.md, "Audit API"): query parameters → a SQL WHERE
// over `events` whose values are all bound parameters (user input is never part of the SQL text).
import type { AuditStore } from "../../audit/public.js";
import { BadRequest, str, time } from "../http.js";

export interface AuditFilter {
  from?: Date;
  /** Exclusive. */
  to?: Date;
  user?: string;
  /** Case-insensitive substring of user_agent. */
  useragent?: string;
  verb?: string;
  /** `plural` (any API group) or `plural.group` (that group; the core group has no suffix). */
  resource?: string;
  /** Exact; "-" means cluster-scoped (no namespace). */
  namespace?: string;
  name?: string;
  /** `403` or a class `4xx`. */
  code?: string;
  /** Case-insensitive substring of request_uri. */
  q?: string;
}

export const FILTER_PARAMS = ["from", "to", "user", "useragent", "verb", "resource", "namespace", "name", "code", "q"] as const;

/** Reads and checks the filter parameters; a bad one is a 400 naming it. */
export function parseFilter(u: URLSearchParams): AuditFilter {
  const f: AuditFilter = {
    from: time(u, "from"),
    to: time(u, "to"),
    user: str(u, "user"),
    useragent: str(u, "useragent"),
    verb: str(u, "verb"),
    resource: str(u, "resource"),
    namespace: str(u, "namespace"),
    name: str(u, "name"),
    code: str(u, "code"),
    q: str(u, "q"),
  };
  if (f.code !== undefined && !/^([1-5]\d\d|[1-5]xx)$/i.test(f.code)) {
    throw new BadRequest(`query parameter code: expected a status code like 403 or a class like 4xx, got "${f.code}"`);
  }
  if (f.from && f.to && f.to.getTime() <= f.from.getTime()) {
    throw new BadRequest(`query parameter to: must be after from (${f.from.toISOString()}), got ${f.to.toISOString()}`);
  }
  if (f.resource !== undefined && !/^[a-z0-9][a-z0-9-]*(\.[A-Za-z0-9][A-Za-z0-9.-]*)?$/.test(f.resource)) {
    throw new BadRequest(`query parameter resource: expected a plural resource, optionally with its API group (pods, deployments.apps), got "${f.resource}"`);
  }
  return f;
}

/** A growing WHERE clause with its bound values, in order. */
export class Where {
  readonly parts: string[] = [];
  readonly values: (string | number)[] = [];
  add(sql: string, ...values: (string | number)[]): this {
    this.parts.push(sql);
    this.values.push(...values);
    return this;
  }
  sql(): string {
    return this.parts.length ? `WHERE ${this.parts.join(" AND ")}` : "";
  }
  and(): string {
    return this.parts.length ? this.parts.join(" AND ") : "true";
  }
}

export interface FilterSqlOptions {
  /** Table alias to qualify columns with (e.g. "e"). */
  alias?: string;
  /** Leave out the name condition (the timeline tests it on the name it derives). */
  skipName?: boolean;
}

/** The filter's conditions over `events` (columns qualified with opts.alias when given). */
export function filterWhere(f: AuditFilter, opts: FilterSqlOptions = {}): Where {
  const c = (col: string): string => (opts.alias ? `${opts.alias}.${col}` : col);
  const w = new Where();
  if (f.from) w.add(`${c("ts")} >= CAST(? AS TIMESTAMPTZ)`, f.from.toISOString());
  if (f.to) w.add(`${c("ts")} < CAST(? AS TIMESTAMPTZ)`, f.to.toISOString());
  if (f.user !== undefined) w.add(`${c(`"user"`)} = ?`, f.user);
  if (f.useragent !== undefined) w.add(`strpos(lower(${c("user_agent")}), lower(?)) > 0`, f.useragent);
  if (f.verb !== undefined) w.add(`${c("verb")} = ?`, f.verb);
  if (f.resource !== undefined) {
    const dot = f.resource.indexOf(".");
    if (dot > 0) w.add(`${c("resource")} = ? AND coalesce(${c("api_group")}, '') = ?`, f.resource.slice(0, dot), f.resource.slice(dot + 1));
    else w.add(`${c("resource")} = ?`, f.resource);
  }
  if (f.namespace === "-") w.add(`${c("namespace")} IS NULL`);
  else if (f.namespace !== undefined) w.add(`${c("namespace")} = ?`, f.namespace);
  if (f.name !== undefined && !opts.skipName) w.add(`${c("name")} = ?`, f.name);
  if (f.code !== undefined) {
    if (/xx$/i.test(f.code)) {
      const lo = Number(f.code[0]) * 100;
      w.add(`${c("code")} >= ? AND ${c("code")} < ?`, lo, lo + 100);
    } else w.add(`${c("code")} = ?`, Number(f.code));
  }
  if (f.q !== undefined) w.add(`strpos(lower(${c("request_uri")}), lower(?)) > 0`, f.q);
  return w;
}

/** Microsecond ISO-8601 UTC text of a timestamp column, as the audit CLI prints times. */
export const TS = (col: string): string => `strftime(CAST(${col} AS TIMESTAMP), '%Y-%m-%dT%H:%M:%S.%fZ')`;

/** `plural` for the core group, `plural.group` otherwise (what the resource filter and `audit history` accept). */
export const RESOURCE = (alias?: string): string => {
  const c = (col: string): string => (alias ? `${alias}.${col}` : col);
  return `CASE WHEN ${c("resource")} IS NULL THEN NULL WHEN coalesce(${c("api_group")}, '') = '' THEN ${c("resource")} ELSE ${c("resource")} || '.' || ${c("api_group")} END`;
};


type Row = Record<string, unknown>;

function plain(v: unknown): unknown {
  if (typeof v === "bigint") return Number(v);
  if (v instanceof Date) return v.toISOString();
  return v;
}

/**
 * store.query for large answers: the same plain rows (BIGINT as number), built from the reader's
 * columns. Measured on 20,000 rows of 11 columns: ~0.13 s against ~0.3–0.6 s for row objects.
 */
export async function queryRows(store: AuditStore, sql: string, params: (string | number)[] = []): Promise<Row[]> {
  const reader = await store.connection.runAndReadAll(sql, params);
  return columnsToRows(reader.columnNames(), reader.getColumnsJS());
}

/** Rows from column arrays (what getColumnsJS gives). */
export function columnsToRows(names: string[], cols: unknown[][]): Row[] {
  const n = cols[0]?.length ?? 0;
  const out: Row[] = new Array<Row>(n);
  for (let i = 0; i < n; i++) {
    const o: Row = {};
    for (let c = 0; c < names.length; c++) o[names[c]!] = plain(cols[c]![i]);
    out[i] = o;
  }
  return out;
}
