// GET /api/console/controlplane/overview[?at=TIME]: what `controlplane serve` exports
// (watch_auditor_controlplane_*), read back from Prometheus — health checks, API server up, DB size
// against the quota with the forecast, etcd usage by resource — plus, with --etcd-usage FILE (the
// JSON of `controlplane etcd-usage -o json`), usage by namespace and the largest objects.
// Several exporters (replicas, or one per cluster behind one Prometheus) are folded conservatively:
// a check is failed when any says so, the largest DB size and quota, the nearest forecast.
import { readFile, stat } from "node:fs/promises";
import { errorMessage } from "../../core/errors.js";
import type { RouteHandler } from "../../core/http-server.js";
import type { ConsoleContext } from "../context.js";
import { jsonRoute, NotConfigured, time, UpstreamError } from "../http.js";
import { PrometheusClient, type PromSample } from "./prometheus.js";
import type { HealthCheckRow, UsageRow, LargestObject, EtcdUsageSummary, ControlPlaneOverview } from "../shapes.js";
export type { HealthCheckRow, UsageRow, LargestObject, EtcdUsageSummary, ControlPlaneOverview };

const P = "watch_auditor_controlplane_";
/** Rows of the etcd-usage file's lists sent to the page. */
export const USAGE_ROWS = 100;
/** The etcd-usage report is small (--top rows); a file larger than this is refused. */
export const MAX_USAGE_FILE_BYTES = 32 * 1024 * 1024;
/** The DB size history drawn next to the bar. */
export const HISTORY_SECONDS = 6 * 3600;
export const HISTORY_POINTS = 120;

function single(rows: PromSample[]): number | null {
  const v = rows[0]?.value;
  return v === undefined || Number.isNaN(v) ? null : v;
}

const byValueDesc = <T extends { bytes: number }>(a: T, b: T): number => b.bytes - a.bytes;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function usageRows(v: unknown, what: string, file: string): UsageRow[] {
  if (!Array.isArray(v)) throw new UpstreamError(`--etcd-usage ${file}: "${what}" is not a list (is it the JSON of controlplane etcd-usage -o json?)`);
  return v.map((r, i) => {
    if (!isObject(r) || typeof r.keys !== "number" || typeof r.bytes !== "number") throw new UpstreamError(`--etcd-usage ${file}: ${what}[${i}] has no keys/bytes numbers`);
    return {
      ...(typeof r.resource === "string" ? { resource: r.resource } : {}),
      ...(typeof r.namespace === "string" ? { namespace: r.namespace } : {}),
      keys: r.keys,
      bytes: r.bytes,
    };
  });
}

/** Reads and checks the etcd-usage report (read at each request: a cron job may rewrite it). */
export async function readEtcdUsageFile(file: string): Promise<EtcdUsageSummary> {
  let text: string;
  let modifiedAt: Date;
  try {
    const st = await stat(file);
    if (st.size > MAX_USAGE_FILE_BYTES) throw new Error(`${st.size} bytes, larger than the limit of ${MAX_USAGE_FILE_BYTES}`);
    modifiedAt = st.mtime;
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new UpstreamError(`--etcd-usage ${file}: ${errorMessage(err)}`);
  }
  let u: unknown;
  try {
    u = JSON.parse(text);
  } catch (err) {
    throw new UpstreamError(`--etcd-usage ${file}: not JSON: ${errorMessage(err)}`);
  }
  if (!isObject(u) || typeof u.scannedKeys !== "number" || typeof u.complete !== "boolean") throw new UpstreamError(`--etcd-usage ${file}: not the JSON of controlplane etcd-usage -o json (no scannedKeys/complete)`);
  const namespaces = usageRows(u.namespaces, "namespaces", file).sort(byValueDesc);
  const pairs = usageRows(u.pairs, "pairs", file).sort(byValueDesc);
  if (!Array.isArray(u.largest)) throw new UpstreamError(`--etcd-usage ${file}: "largest" is not a list`);
  const largest: LargestObject[] = u.largest.map((o, i) => {
    if (!isObject(o) || typeof o.key !== "string" || typeof o.resource !== "string" || typeof o.name !== "string" || typeof o.bytes !== "number") {
      throw new UpstreamError(`--etcd-usage ${file}: largest[${i}] has no key/resource/name/bytes`);
    }
    return { key: o.key, resource: o.resource, ...(typeof o.namespace === "string" ? { namespace: o.namespace } : {}), name: o.name, bytes: o.bytes };
  });
  largest.sort(byValueDesc);
  const cs = isObject(u.clusterScoped) ? u.clusterScoped : {};
  return {
    file,
    modifiedAt: modifiedAt.toISOString(),
    endpoint: typeof u.endpoint === "string" ? u.endpoint : "",
    prefix: typeof u.prefix === "string" ? u.prefix : "",
    revision: typeof u.revision === "number" ? u.revision : null,
    complete: u.complete,
    error: typeof u.error === "string" ? u.error : null,
    warnings: Array.isArray(u.warnings) ? u.warnings.filter((w): w is string => typeof w === "string") : [],
    scannedKeys: u.scannedKeys,
    scannedBytes: typeof u.scannedBytes === "number" ? u.scannedBytes : 0,
    clusterScoped: { keys: typeof cs.keys === "number" ? cs.keys : 0, bytes: typeof cs.bytes === "number" ? cs.bytes : 0 },
    namespaces: namespaces.slice(0, USAGE_ROWS),
    pairs: pairs.slice(0, USAGE_ROWS),
    largest: largest.slice(0, USAGE_ROWS),
    totals: { namespaces: namespaces.length, pairs: pairs.length, largest: largest.length },
  };
}

export async function controlPlaneOverview(ctx: ConsoleContext, at: Date | undefined): Promise<ControlPlaneOverview> {
  if (!ctx.prometheus) throw new NotConfigured("Prometheus is not configured: start the console with --prometheus URL");
  const prom = new PrometheusClient(ctx.prometheus, ctx.fetchTimeoutMs);
  const when = at ?? new Date();
  const q = (expr: string) => prom.query(expr, when);
  const [up, codes, checks, size, quota, full, objects, usageBytes, usageKeys, complete, scanned, nodes, lastSuccess, errors, history, usageFile] = await Promise.all([
    q(`min(${P}apiserver_up)`),
    q(`max by (endpoint) (${P}health_status_code)`),
    q(`min by (endpoint, check) (${P}health_check)`),
    q(`max(${P}database_size_bytes)`),
    q(`max(${P}database_quota_bytes)`),
    q(`min(${P}database_full_seconds)`),
    q(`max by (resource) (${P}objects)`),
    q(`max by (resource) (${P}etcd_usage_bytes)`),
    q(`max by (resource) (${P}etcd_usage_keys)`),
    q(`min(${P}etcd_usage_complete)`),
    q(`max(${P}etcd_usage_scan_timestamp_seconds)`),
    q(`min by (node) (${P}node_ready)`),
    q(`max by (source) (${P}last_success_timestamp_seconds)`),
    q(`sum by (source) (${P}scrape_errors_total)`),
    prom.queryRange(`max(${P}database_size_bytes)`, new Date(when.getTime() - HISTORY_SECONDS * 1000), when, HISTORY_SECONDS / HISTORY_POINTS),
    ctx.etcdUsageFile ? readEtcdUsageFile(ctx.etcdUsageFile) : Promise.resolve(null),
  ]);
  const sizeBytes = single(size);
  const quotaBytes = single(quota);
  const fullSeconds = single(full);
  const keysBy = new Map(usageKeys.map((s) => [s.metric.resource ?? "", s.value]));
  const lastBy = new Map(lastSuccess.map((s) => [s.metric.source ?? "", s.value]));
  const errorsBy = new Map(errors.map((s) => [s.metric.source ?? "", s.value]));
  const sourceNames = [...new Set([...lastBy.keys(), ...errorsBy.keys()])].sort();
  const scannedAt = single(scanned);
  const completeV = single(complete);
  return {
    prometheus: prom.url,
    at: when.toISOString(),
    apiserverUp: single(up),
    statusCodes: codes.map((s) => ({ endpoint: s.metric.endpoint ?? "", code: s.value })).sort((a, b) => a.endpoint.localeCompare(b.endpoint)),
    health: checks
      .map((s) => ({ endpoint: s.metric.endpoint ?? "", check: s.metric.check ?? "", ok: s.value >= 1 }))
      // failed checks first, then by endpoint and name
      .sort((a, b) => Number(a.ok) - Number(b.ok) || a.endpoint.localeCompare(b.endpoint) || a.check.localeCompare(b.check)),
    database: {
      sizeBytes,
      quotaBytes,
      usedRatio: sizeBytes !== null && quotaBytes !== null && quotaBytes > 0 ? sizeBytes / quotaBytes : null,
      fullSeconds,
      fullAt: fullSeconds !== null ? new Date(when.getTime() + fullSeconds * 1000).toISOString() : null,
      history: (history[0]?.values ?? []).filter(([, v]) => Number.isFinite(v)),
    },
    objects: objects.map((s) => ({ resource: s.metric.resource ?? "", count: s.value })).sort((a, b) => b.count - a.count || a.resource.localeCompare(b.resource)),
    etcd: {
      usage: usageBytes
        .map((s) => ({ resource: s.metric.resource ?? "", bytes: s.value, keys: keysBy.get(s.metric.resource ?? "") ?? null }))
        .sort((a, b) => b.bytes - a.bytes || a.resource.localeCompare(b.resource)),
      complete: completeV === null ? null : completeV >= 1,
      scannedAt: scannedAt === null ? null : new Date(scannedAt * 1000).toISOString(),
    },
    nodes: nodes.map((s) => ({ node: s.metric.node ?? "", ready: s.value >= 1 })).sort((a, b) => Number(a.ready) - Number(b.ready) || a.node.localeCompare(b.node)),
    sources: sourceNames.map((source) => {
      const t = lastBy.get(source);
      return { source, lastSuccess: t === undefined ? null : new Date(t * 1000).toISOString(), errors: errorsBy.get(source) ?? null };
    }),
    etcdUsageFile: usageFile,
  };
}

export function controlplaneRoutes(ctx: ConsoleContext): Record<string, RouteHandler> {
  return {
    "/api/console/controlplane/overview": jsonRoute(async (u) => controlPlaneOverview(ctx, time(u, "at"))),
  };
}
