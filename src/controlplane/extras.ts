// The parts of `controlplane report|serve` other modules provide: etcd status and usage
// (src/controlplane/etcd, with --etcd-endpoints) and who loads the API server (src/controlplane/load,
// with --audit-db). Loaded only when asked for: etcd3/gRPC and DuckDB stay out of the default path.
import type { Registry } from "prom-client";
import { parseDuration } from "../core/duration.js";
import { errorMessage } from "../core/errors.js";
import { sendJson, type RouteHandler } from "../core/http-server.js";
import type { EtcdConnection, EtcdStatusReport, EtcdUsage } from "./etcd/index.js";
import type { ExporterExtra } from "./exporter.js";
import type { ReportExtra } from "./report.js";

/** Problems of an etcd status, in words. */
export function etcdProblems(s: EtcdStatusReport): string[] {
  const out: string[] = [];
  for (const e of s.endpoints) if (!e.ok) out.push(`etcd ${e.endpoint}: ${e.error ?? "not answering"}`);
  for (const a of s.alarms) out.push(`etcd alarm ${a.alarm} raised by member ${a.memberId}`);
  return out;
}

/** `report`'s etcd part: status, alarms, quota, and (unless skipped) the usage scan as `etcd.usage`. */
export function etcdReportExtra(conn: EtcdConnection, opts: { usage: boolean; top: number }): ReportExtra {
  return {
    key: "etcd",
    source: "etcd",
    async collect() {
      const { etcdStatus, scanEtcdUsage } = await import("./etcd/index.js");
      const status = await etcdStatus(conn);
      const problems = etcdProblems(status);
      let usage: EtcdUsage | undefined;
      let usageError: string | undefined;
      if (opts.usage) {
        try {
          usage = await scanEtcdUsage(conn, { top: opts.top });
          if (!usage.complete) problems.push(`etcd usage scan stopped early: ${usage.error ?? "incomplete"}`);
        } catch (err) {
          usageError = errorMessage(err);
          problems.push(`etcd usage scan failed: ${usageError}`);
        }
      }
      return {
        value: { ...status, ...(usage ? { usage } : {}), ...(usageError ? { usageError } : {}) },
        problems,
        ...(status.quotaBytes !== undefined ? { quota: { bytes: status.quotaBytes, source: "etcd" as const } } : {}),
        ...(status.dbSizeBytes !== undefined ? { dbSize: { bytes: status.dbSizeBytes, source: "etcd status (dbSize)" } } : {}),
      };
    },
    render(value) {
      const v = value as EtcdStatusReport & { usage?: EtcdUsage; usageError?: string };
      const lines = ["etcd"];
      for (const e of v.endpoints) {
        lines.push(
          e.ok
            ? `  ${e.endpoint}  ${e.isLeader ? "leader" : "follower"}  v${e.version ?? "?"}  db ${mib(e.dbSizeBytes)} (in use ${mib(e.dbSizeInUseBytes)})  raft index ${e.raftIndex ?? "?"}${e.quotaBytes !== undefined ? `  quota ${mib(e.quotaBytes)}` : ""}`
            : `  ${e.endpoint}  DOWN: ${e.error ?? "no answer"}`,
        );
      }
      lines.push(v.alarms.length === 0 ? "  alarms: none" : `  alarms: ${v.alarms.map((a) => `${a.alarm} (member ${a.memberId})`).join(", ")}`);
      return lines.join("\n") + "\n";
    },
    async renderMore(value, top) {
      const v = value as { usage?: EtcdUsage; usageError?: string };
      if (v.usage) return (await import("./etcd/render.js")).renderUsage(v.usage, top);
      return v.usageError ? `etcd usage: scan failed: ${v.usageError}\n` : "";
    },
  };
}

function mib(b: number | undefined): string {
  return b === undefined ? "?" : `${(b / 1024 / 1024).toFixed(1)} MiB`;
}

/** `report`'s who-loads part from the audit store: key `whoLoads`. */
export function whoLoadsReportExtra(auditDb: string, opts: { top: number; since?: Date }): ReportExtra {
  return {
    key: "whoLoads",
    source: "audit",
    async collect() {
      const { whoLoads } = await import("./load/index.js");
      const value = await whoLoads(auditDb, { top: Math.min(opts.top, 100), ...(opts.since ? { since: opts.since } : {}) });
      return { value };
    },
    async renderMore(value) {
      const { renderWhoLoads } = await import("./load/index.js");
      return renderWhoLoads(value as Parameters<typeof renderWhoLoads>[0]);
    },
  };
}

/**
 * `serve`'s etcd part: the etcd side's own gauges (watch_auditor_controlplane_etcd_*), plus the DB
 * size and quota for watch_auditor_controlplane_database_*; a usage scan every `usageIntervalMs`
 * (0: never) feeds the per-resource usage gauges.
 */
export async function etcdExporterExtra(registry: Registry, conn: EtcdConnection, opts: { usageIntervalMs: number }): Promise<ExporterExtra & { stop(): void }> {
  const { registerEtcdMetrics, scanEtcdUsage } = await import("./etcd/index.js");
  const metrics = registerEtcdMetrics(registry, conn);
  let lastScan = 0;
  let scanning: Promise<void> | undefined;
  let stopped = false;
  const abort = new AbortController();
  return {
    source: "etcd",
    async refresh() {
      // The etcd side's gauges; the status it read gives the database figures.
      const status = await metrics.refresh();
      if (!status) throw new Error("etcd status could not be read");
      if (opts.usageIntervalMs > 0 && !scanning && !stopped && Date.now() - lastScan >= opts.usageIntervalMs) {
        lastScan = Date.now();
        scanning = scanEtcdUsage(conn, { signal: abort.signal })
          .then((u) => metrics.recordUsage(u))
          .catch(() => undefined)
          .finally(() => (scanning = undefined));
      }
      const down = status.endpoints.filter((e) => !e.ok);
      if (down.length === status.endpoints.length) throw new Error(etcdProblems(status).join("; ") || "no etcd endpoint answered");
      return {
        ...(status.quotaBytes !== undefined ? { quota: { bytes: status.quotaBytes, source: "etcd" as const } } : {}),
        ...(status.dbSizeBytes !== undefined ? { dbSize: { bytes: status.dbSizeBytes, source: "etcd status (dbSize)" } } : {}),
      };
    },
    stop() {
      stopped = true;
      abort.abort();
    },
  };
}

/**
 * `serve --audit-db`: GET /who-loads[?since=1h&top=5] answers the who-loads ranking as JSON (behind
 * the bearer-token gate: it names users). Bad parameters are a 400 naming the parameter.
 */
export function whoLoadsRoute(auditDb: string, defaults: { top: number }): RouteHandler {
  return async (req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const bad = (message: string) => sendJson(res, 400, { error: message });
    let since: Date | undefined;
    const s = url.searchParams.get("since");
    if (s !== null) {
      let ms: number;
      try {
        ms = parseDuration(s);
      } catch (err) {
        return bad(`since: ${errorMessage(err)}`);
      }
      since = new Date(Date.now() - ms);
    }
    const t = url.searchParams.get("top");
    const top = t === null ? defaults.top : Number(t);
    if (!Number.isInteger(top) || top < 1 || top > 100) return bad(`top: expected an integer from 1 to 100, got ${JSON.stringify(t)}`);
    try {
      const { whoLoads } = await import("./load/index.js");
      sendJson(res, 200, await whoLoads(auditDb, { top, ...(since ? { since } : {}) }));
    } catch (err) {
      sendJson(res, 500, { error: `audit store ${auditDb}: ${errorMessage(err)}` });
    }
  };
}
