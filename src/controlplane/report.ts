// `controlplane report`: one look at the control plane, as JSON or a table, with a verdict.
import { errorMessage } from "../core/errors.js";
import type { KubeClient } from "../core/kube/index.js";
import {
  apiserverActivity,
  databaseSize,
  fetchApiserverMetrics,
  objectCounts,
  REPORT_FAMILIES,
  VERSIONED_NAMES,
  versionedNamesFound,
  type ApiserverActivity,
  type MetricsSample,
  type ObjectCount,
} from "./apiserver-metrics.js";
import { linearForecast, prometheusHistory, type Forecast, type SizeSample } from "./forecast.js";
import { probeHealth, type EndpointHealth } from "./health.js";
import { formatAge, readNodes, type NodesReport } from "./nodes.js";

/** etcd's default --quota-backend-bytes: past it the cluster goes read-only (alarm NOSPACE). */
export const ETCD_DEFAULT_QUOTA_BYTES = 2 * 1024 * 1024 * 1024;

export const EXIT_HEALTHY = 0;
export const EXIT_UNHEALTHY = 1;
export const EXIT_USAGE = 2;
export const EXIT_UNREACHABLE = 3;

export type Source = "livez" | "readyz" | "metrics" | "nodes" | "leases" | "etcd" | "prometheus" | "audit";

export interface QuotaInfo {
  bytes: number;
  /** etcd: etcd_server_quota_backend_bytes; flag: --etcd-quota-bytes; assumed: etcd's 2 GiB default. */
  source: "etcd" | "flag" | "assumed";
}

export interface DatabaseReport {
  sizeBytes?: number;
  /** Which metric (or etcd) the size came from. */
  sizeSource?: string;
  members?: { id: string; bytes: number }[];
  /** Only when known (etcd or --etcd-quota-bytes). */
  quotaBytes?: number;
  quotaSource: QuotaInfo["source"];
  /** size / quota (against the assumed default when the quota is not known). */
  usedRatio?: number;
  forecast: Forecast;
}

export interface ReportOptions {
  /** > 0: a second /metrics sample this much later, for rates instead of totals. */
  sampleIntervalMs?: number;
  heartbeatGraceMs?: number;
  /** --etcd-quota-bytes. */
  quotaBytes?: number;
  /** Fraction of the quota at which the database is a problem (default 0.85). */
  dbThreshold?: number;
  prometheus?: { url: string; query?: string; windowMs: number };
  timeoutMs?: number;
  /** Extra sources (etcd, audit) contribute through these hooks. */
  extras?: ReportExtra[];
}

/** A part of the report another module fills in (etcd status, who loads it). */
export interface ReportExtra {
  key: string;
  source: Source;
  collect(): Promise<{ value: unknown; problems?: string[]; quota?: QuotaInfo; dbSize?: { bytes: number; source: string } }>;
  /** Its part of the table (after the report's own sections). */
  render?(value: unknown): string;
  renderMore?(value: unknown, top: number): Promise<string>;
}

export interface Report {
  generatedAt: string;
  server: string;
  reachable: boolean;
  healthy: boolean;
  exitCode: number;
  /** Everything that makes the report unhealthy, in words. */
  problems: string[];
  checks: Record<"livez" | "readyz", EndpointHealth>;
  objects: ObjectCount[] | null;
  database: DatabaseReport;
  nodes: NodesReport | null;
  metricNames: { found: string[]; checked: readonly string[] };
  apiserver: ApiserverActivity | null;
  /** Sources that could not be read, and why. */
  errors: { source: Source; error: string }[];
  [extra: string]: unknown;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function effectiveQuota(etcdQuota: number | undefined, flagQuota: number | undefined): QuotaInfo {
  if (etcdQuota !== undefined && etcdQuota > 0) return { bytes: etcdQuota, source: "etcd" };
  if (flagQuota !== undefined) return { bytes: flagQuota, source: "flag" };
  return { bytes: ETCD_DEFAULT_QUOTA_BYTES, source: "assumed" };
}

export function quotaWords(q: QuotaInfo): string {
  return q.source === "etcd" ? "etcd's quota" : q.source === "flag" ? "--etcd-quota-bytes" : "etcd's 2 GiB default, assumed";
}

/** Collects everything once. Never throws for an unreachable or failing source: each is a state. */
export async function collectReport(kube: KubeClient, opts: ReportOptions = {}): Promise<Report> {
  const errors: Report["errors"] = [];
  const fail = (source: Source, err: unknown) => errors.push({ source, error: errorMessage(err) });
  const timeoutMs = opts.timeoutMs ?? 10_000;

  const metricsP = fetchApiserverMetrics(kube, { timeoutMs, keep: REPORT_FAMILIES }).catch((err: unknown) => (fail("metrics", err), undefined));
  const [livez, readyz, first, nodes, extras] = await Promise.all([
    probeHealth(kube, "livez", { timeoutMs }),
    probeHealth(kube, "readyz", { timeoutMs }),
    metricsP,
    readNodes(kube, { graceMs: opts.heartbeatGraceMs, signal: AbortSignal.timeout(timeoutMs * 3) }).catch((err: unknown) => (fail("nodes", err), null)),
    Promise.all(
      (opts.extras ?? []).map(async (x) => {
        try {
          return { x, r: await x.collect() };
        } catch (err) {
          fail(x.source, err);
          return { x, r: undefined };
        }
      }),
    ),
  ]);
  let second: MetricsSample | undefined;
  if (first && opts.sampleIntervalMs && opts.sampleIntervalMs > 0) {
    await sleep(opts.sampleIntervalMs);
    second = await fetchApiserverMetrics(kube, { timeoutMs, keep: REPORT_FAMILIES }).catch((err: unknown) => (fail("metrics", err), undefined));
  }
  const latest = second ?? first;
  if (nodes?.leaseError) errors.push({ source: "leases", error: nodes.leaseError });

  // Database: the API server's metric, or etcd's own figure when an extra gives one.
  const extraQuota = extras.map((e) => e.r?.quota).find((q) => q !== undefined);
  const quota = extraQuota ?? effectiveQuota(undefined, opts.quotaBytes);
  const extraSize = extras.map((e) => e.r?.dbSize).find((s) => s !== undefined);
  const db = latest ? databaseSize(latest) : undefined;
  const sizeBytes = extraSize?.bytes ?? db?.sizeBytes;
  let history: SizeSample[] = [];
  let historySource: "prometheus" | "samples" = "samples";
  if (opts.prometheus) {
    try {
      history = await prometheusHistory(opts.prometheus.url, { query: opts.prometheus.query, windowMs: opts.prometheus.windowMs, timeoutMs });
      historySource = "prometheus";
    } catch (err) {
      fail("prometheus", err);
    }
  }
  if (historySource === "samples") {
    for (const s of [first, second]) {
      const d = s ? databaseSize(s) : undefined;
      if (d) history.push({ t: s!.takenAt, bytes: d.sizeBytes });
    }
  }
  const forecast = linearForecast(history, { quotaBytes: quota.bytes, quotaSource: quotaWords(quota), source: historySource });
  const database: DatabaseReport = {
    ...(sizeBytes !== undefined ? { sizeBytes, sizeSource: extraSize?.source ?? db?.source, usedRatio: sizeBytes / quota.bytes } : {}),
    ...(db && !extraSize ? { members: db.members } : {}),
    ...(quota.source !== "assumed" ? { quotaBytes: quota.bytes } : {}),
    quotaSource: quota.source,
    forecast,
  };

  const report: Report = {
    generatedAt: new Date().toISOString(),
    server: kube.server,
    reachable: livez.state !== "unreachable" || readyz.state !== "unreachable",
    healthy: true,
    exitCode: EXIT_HEALTHY,
    problems: [],
    checks: { livez, readyz },
    objects: latest ? objectCounts(latest) : null,
    database,
    nodes,
    metricNames: { found: latest ? versionedNamesFound(latest) : [], checked: VERSIONED_NAMES },
    apiserver: latest ? apiserverActivity(latest, second ? first : undefined) : null,
    errors,
  };
  for (const e of extras) if (e.r) report[e.x.key] = e.r.value;
  judge(report, { dbThreshold: opts.dbThreshold ?? 0.85, quota, extraProblems: extras.flatMap((e) => e.r?.problems ?? []) });
  return report;
}

/** Fills problems, healthy and exitCode. */
export function judge(report: Report, opts: { dbThreshold: number; quota: QuotaInfo; extraProblems?: string[] }): void {
  const p: string[] = [];
  for (const h of [report.checks.livez, report.checks.readyz]) {
    if (h.state === "unreachable") p.push(`${h.endpoint}: API server unreachable: ${h.error}`);
    else if (h.state === "error") p.push(`${h.endpoint}: ${h.error}`);
    else if (h.state === "failed") {
      for (const c of h.checks.filter((c) => !c.ok)) p.push(`${h.endpoint}: check ${c.name} failed (HTTP ${h.status})${c.reason ? `: ${c.reason}` : ""}`);
    }
  }
  for (const n of report.nodes?.nodes ?? []) for (const why of n.problems) p.push(`node ${n.name}: ${why}`);
  const db = report.database;
  if (db.sizeBytes !== undefined && db.sizeBytes >= opts.dbThreshold * opts.quota.bytes) {
    p.push(`database ${(db.sizeBytes / 1024 / 1024).toFixed(1)} MiB is ${Math.round((db.sizeBytes / opts.quota.bytes) * 100)}% of its quota (${quotaWords(opts.quota)}), at or over the ${Math.round(opts.dbThreshold * 100)}% threshold`);
  }
  p.push(...(opts.extraProblems ?? []));
  if (report.reachable) for (const e of report.errors) p.push(`${e.source}: could not be read: ${e.error}`);
  report.problems = p;
  report.healthy = p.length === 0;
  report.exitCode = !report.reachable || report.checks.livez.state === "unreachable" ? EXIT_UNREACHABLE : p.length > 0 ? EXIT_UNHEALTHY : EXIT_HEALTHY;
}

// ---- table ------------------------------------------------------------------------------------

function pad(rows: string[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ")).join("\n");
}

function fmtSeconds(s: number | undefined): string {
  if (s === undefined) return "-";
  return s >= 1 ? `${s.toFixed(2)}s` : `${(s * 1000).toFixed(1)}ms`;
}

function fmtBytes(b: number): string {
  return b >= 1024 * 1024 * 1024 ? `${(b / 1024 ** 3).toFixed(2)} GiB` : `${(b / 1024 ** 2).toFixed(1)} MiB`;
}

/** The readable report. `top` bounds the request and object tables. */
export function formatReport(r: Report, top = 15): string {
  const out: string[] = [];
  out.push(`Control plane ${r.server} at ${r.generatedAt}: ${r.healthy ? "HEALTHY" : r.reachable ? "UNHEALTHY" : "UNREACHABLE"}`);
  for (const p of r.problems) out.push(`  ! ${p}`);
  out.push("");
  out.push("Health");
  for (const h of [r.checks.livez, r.checks.readyz]) {
    const failed = h.checks.filter((c) => !c.ok);
    const excluded = h.checks.filter((c) => c.excluded).length;
    const what =
      h.state === "ok"
        ? `ok, ${h.checks.length} checks passed${excluded ? ` (${excluded} excluded)` : ""}`
        : h.state === "failed"
          ? `FAILED: ${failed.map((c) => c.name).join(", ")}`
          : h.state === "unreachable"
            ? `UNREACHABLE: ${h.error}`
            : `ERROR: ${h.error}`;
    out.push(`  /${h.endpoint}  ${h.status !== undefined ? `HTTP ${h.status}  ` : ""}${what}  (${h.durationMs} ms)`);
    for (const c of failed) out.push(`    [-] ${c.name}: ${c.reason ?? "failed"}`);
  }
  out.push("");
  const db = r.database;
  out.push("Database");
  if (db.sizeBytes !== undefined) {
    const q = db.quotaBytes ?? ETCD_DEFAULT_QUOTA_BYTES;
    out.push(`  size ${fmtBytes(db.sizeBytes)} (${db.sizeSource}) of quota ${fmtBytes(q)} (${db.quotaSource === "assumed" ? "not known: etcd's 2 GiB default assumed" : db.quotaSource}): ${((db.sizeBytes / q) * 100).toFixed(1)}%`);
  } else out.push("  size unknown (no database-size metric was read)");
  out.push(`  ${db.forecast.statement}`);
  out.push("");
  if (r.objects) {
    out.push(`Objects stored (top ${Math.min(top, r.objects.length)} of ${r.objects.length} resources; source ${[...new Set(r.objects.map((o) => o.source))].join(", ") || "none"})`);
    out.push(pad(r.objects.slice(0, top).map((o) => ["  " + o.resource, o.count === null ? "error (-1)" : String(o.count)])));
    out.push("");
  }
  out.push(`Metric names found: ${r.metricNames.found.join(", ") || "none of the version-dependent ones"}`);
  out.push("");
  if (r.nodes) {
    out.push(`Nodes (${r.nodes.nodes.length}; heartbeat grace ${r.nodes.graceSeconds}s)`);
    if (r.nodes.nodes.length > 0) {
      out.push(
        pad([
          ["  NAME", "READY", "HEARTBEAT", "PRESSURE"],
          ...r.nodes.nodes.map((n) => [
            "  " + n.name,
            n.ready,
            n.heartbeatAgeSeconds === undefined ? "no lease" : `${formatAge(n.heartbeatAgeSeconds)} ago${n.stale ? " STALE" : ""}`,
            n.pressure.join(",") || "-",
          ]),
        ]),
      );
    }
    out.push("");
  }
  const a = r.apiserver;
  if (a) {
    out.push(a.mode === "interval" ? `API requests over ${a.intervalSeconds?.toFixed(1)} s (top ${top})` : `API requests since the server started (totals; top ${top}; give --sample-interval for rates)`);
    out.push(
      pad([
        ["  RESOURCE", "VERB", a.mode === "interval" ? "REQ/S" : "REQUESTS", "5XX", "429", "MEAN", "P99"],
        ...a.requests.slice(0, top).map((s) => [
          "  " + s.resource,
          s.verb,
          a.mode === "interval" ? (s.requestsPerSecond ?? 0).toFixed(2) : String(s.requests),
          String(s.errors),
          String(s.throttled),
          fmtSeconds(s.meanLatencySeconds),
          fmtSeconds(s.p99LatencySeconds),
        ]),
      ]),
    );
    const rej = a.rejections.filter((x) => x.rejected > 0);
    out.push(rej.length === 0 ? "  APF rejections: none" : "  APF rejections:");
    for (const x of rej) out.push(`    ${x.requestKind !== undefined ? `request_kind=${x.requestKind}` : `${x.flowSchema}/${x.priorityLevel} (${x.reason})`}: ${x.rejected}`);
    const kinds = Object.entries(a.inFlight.byKind);
    if (kinds.length > 0) out.push(`  in flight: ${kinds.map(([k, v]) => `${k} ${v}`).join(", ")}`);
    out.push("");
  }
  for (const e of r.errors) out.push(`could not read ${e.source}: ${e.error}`);
  return out.join("\n").trimEnd() + "\n";
}
