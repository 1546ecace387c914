// Prometheus metrics of the etcd side, for `controlplane serve`: status gauges per endpoint
// (refreshed on demand), alarms, and the last usage scan per resource. Labels are bounded: the
// endpoints given, etcd's alarm types, and the resource types found by a scan.
import { Counter, Gauge, type Registry } from "prom-client";
import { checkConnection } from "./connection.js";
import { etcdStatus } from "./status.js";
import type { EtcdConnection, EtcdStatusReport, EtcdUsage } from "./types.js";

const P = "watch_auditor_controlplane_etcd_";
/** The alarm types of etcd 3.4 (etcdserverpb.AlarmType), always exported so that 0 is visible. */
export const ALARM_TYPES = ["NOSPACE", "CORRUPT"] as const;

export interface EtcdMetrics {
  /**
   * Reads the status of every endpoint and sets the gauges; never rejects. Resolves to the status
   * it read (so a caller that also needs it does not ask etcd twice), undefined when it failed.
   */
  refresh(): Promise<EtcdStatusReport | undefined>;
  /** Sets the per-resource usage gauges from a scan (a partial scan too: see _etcd_usage_complete). */
  recordUsage(usage: EtcdUsage): void;
}

export function registerEtcdMetrics(registry: Registry, conn: EtcdConnection): EtcdMetrics {
  const reg = [registry];
  const endpoints = checkConnection(conn).map((u) => u.origin);
  const g = (name: string, help: string, labelNames: string[] = ["endpoint"]): Gauge => new Gauge({ name: P + name, help, labelNames, registers: reg });
  const up = g("up", "1 when the etcd endpoint answered the Status call of the last refresh");
  const dbSize = g("db_size_bytes", "Size of the etcd backend database file (Status dbSize)");
  const dbInUse = g("db_size_in_use_bytes", "Bytes of the etcd backend database in use (Status dbSizeInUse; the rest is freed by defragmentation)");
  const quota = g("quota_backend_bytes", "etcd backend quota (etcd_server_quota_backend_bytes from the endpoint's /metrics)");
  const leader = g("is_leader", "1 when this endpoint is the raft leader");
  const raftIndex = g("raft_index", "Raft index of the endpoint");
  const alarm = g("alarm", "1 when the alarm is active on the cluster (etcd Alarm GET)", ["endpoint", "alarm"]);
  const errors = new Counter({ name: P + "errors_total", help: "Failed reads of an etcd endpoint (Status/Alarm or /metrics)", labelNames: ["endpoint", "what"], registers: reg });
  const usageBytes = g("usage_bytes", "Value bytes per resource type in the last etcd-usage scan", ["resource"]);
  const usageKeys = g("usage_keys", "Keys per resource type in the last etcd-usage scan", ["resource"]);
  const usageComplete = new Gauge({ name: P + "usage_complete", help: "1 when the last etcd-usage scan covered the whole prefix, 0 when it stopped early", registers: reg });
  const usageTime = new Gauge({ name: P + "usage_scan_timestamp_seconds", help: "When the last etcd-usage scan ended (Unix time)", registers: reg });
  /** Alarm types ever seen (etcd's two, plus any a newer etcd reports): 0 once cleared, not dropped. */
  const seenAlarms = new Set<string>(ALARM_TYPES);
  for (const e of endpoints) {
    up.set({ endpoint: e }, 0);
    errors.inc({ endpoint: e, what: "status" }, 0);
    errors.inc({ endpoint: e, what: "metrics" }, 0);
  }

  return {
    async refresh() {
      let report;
      try {
        report = await etcdStatus(conn);
      } catch {
        // bad options are caught when the command starts; anything else counts against every endpoint
        for (const e of endpoints) {
          up.set({ endpoint: e }, 0);
          errors.inc({ endpoint: e, what: "status" });
        }
        return undefined;
      }
      const active = new Set(report.alarms.map((a) => a.alarm));
      for (const s of report.endpoints) {
        const l = { endpoint: s.endpoint };
        up.set(l, s.ok ? 1 : 0);
        if (!s.ok) {
          errors.inc({ endpoint: s.endpoint, what: "status" });
          // stale values would read as current: drop them
          for (const m of [dbSize, dbInUse, leader, raftIndex]) m.remove(l);
          for (const a of seenAlarms) alarm.remove({ endpoint: s.endpoint, alarm: a });
        } else {
          dbSize.set(l, s.dbSizeBytes ?? 0);
          dbInUse.set(l, s.dbSizeInUseBytes ?? 0);
          leader.set(l, s.isLeader ? 1 : 0);
          raftIndex.set(l, s.raftIndex ?? 0);
          for (const a of active) seenAlarms.add(a);
          for (const a of seenAlarms) alarm.set({ endpoint: s.endpoint, alarm: a }, active.has(a) ? 1 : 0);
        }
        if (s.quotaBytes !== undefined) quota.set(l, s.quotaBytes);
        else {
          quota.remove(l);
          errors.inc({ endpoint: s.endpoint, what: "metrics" });
        }
      }
      return report;
    },
    recordUsage(usage) {
      usageBytes.reset();
      usageKeys.reset();
      for (const r of usage.resources) {
        if (r.resource === undefined) continue;
        usageBytes.set({ resource: r.resource }, r.bytes);
        usageKeys.set({ resource: r.resource }, r.keys);
      }
      usageComplete.set(usage.complete ? 1 : 0);
      usageTime.set(Date.now() / 1000);
    },
  };
}
