// promtool cases for the control-plane alerts (same shape as alert-cases.ts, which includes them):
// the input series are what `controlplane serve`, the API server and etcd expose, with the
// label sets a v1.25 API server gives (../shared/kube/recorded-v1.25/metrics/kube-apiserver.prom).
import type { AlertCase } from "./alert-cases.js";

const QUOTA = 2147483648; // etcd's default --quota-backend-bytes (2 GiB)
const CP = `namespace="watch-auditor", pod="controlplane-0"`;
const size = (v: string, quota = String(QUOTA)): [string, string][] => [
  [`watch_auditor_controlplane_database_size_bytes{${CP}}`, v],
  [`watch_auditor_controlplane_database_quota_bytes{${CP}}`, `${quota}x120`],
];
const REQ = (code: string, verb = "GET", resource = "pods", scope = "resource") =>
  `apiserver_request_total{code="${code}", component="apiserver", dry_run="", group="", resource="${resource}", scope="${scope}", subresource="", verb="${verb}", version="v1"}`;
const BUCKET = (le: string, verb = "GET", scope = "resource", resource = "pods") =>
  `apiserver_request_duration_seconds_bucket{component="apiserver", dry_run="", group="", resource="${resource}", scope="${scope}", subresource="", verb="${verb}", version="v1", le="${le}"}`;
const REJECTED = (fs: string, pl: string) => `apiserver_flowcontrol_rejected_requests_total{flow_schema="${fs}", priority_level="${pl}", reason="queue-full"}`;

export const CONTROLPLANE_ALERT_CASES: AlertCase[] = [
  // 70 % of the quota: the 65 % tier alone (the tiers do not stack).
  { alert: "ControlPlaneDatabaseNearQuota", fires: true, why: "70% of the quota: the 65% tier, a warning", series: size(`${Math.round(QUOTA * 0.7)}x20`), at: "10m", labels: { threshold: "65%", severity: "warning" } },
  { alert: "ControlPlaneDatabaseNearQuota", fires: true, why: "96% of the quota: the 95% tier alone, critical", series: size(`${Math.round(QUOTA * 0.96)}x20`), at: "10m", labels: { threshold: "95%", severity: "critical" } },
  {
    alert: "ControlPlaneDatabaseNearQuota",
    fires: false,
    why: "a 1.9 GB database under an 8 GiB quota (large, but 22% of its quota), and etcd's own gauge is not preferred over the auditor's",
    series: [...size("1900000000x20", String(8 * QUOTA)), ["etcd_mvcc_db_total_size_in_bytes{job=\"etcd\"}", `${Math.round(QUOTA * 0.99)}x20`]],
    at: "10m",
  },

  {
    alert: "ControlPlaneDatabaseFillingUp",
    fires: true,
    why: "1 GB growing 5 MB a minute: +1.2 GB in 4 h crosses 2 GiB",
    series: size("1000000000+5000000x120"),
    at: "80m",
  },
  { alert: "ControlPlaneDatabaseFillingUp", fires: false, why: "1 GB growing 1 MB a minute: 1.24 GB in 4 h", series: size("1000000000+1000000x120"), at: "80m" },

  {
    alert: "ControlPlaneEtcdAlarm",
    fires: true,
    why: "NOSPACE raised on the cluster (every endpoint reports it)",
    series: [
      [`watch_auditor_controlplane_etcd_alarm{${CP}, endpoint="https://etcd-0:2379", alarm="NOSPACE"}`, "0 0 1x10"],
      [`watch_auditor_controlplane_etcd_alarm{${CP}, endpoint="https://etcd-1:2379", alarm="NOSPACE"}`, "0 0 1x10"],
      [`watch_auditor_controlplane_etcd_alarm{${CP}, endpoint="https://etcd-0:2379", alarm="CORRUPT"}`, "0x12"],
    ],
    at: "6m",
    labels: { alarm: "NOSPACE" },
  },
  {
    alert: "ControlPlaneEtcdAlarm",
    fires: false,
    why: "both alarm types exported at 0, and a NOSPACE disarmed 5 minutes ago",
    series: [
      [`watch_auditor_controlplane_etcd_alarm{${CP}, endpoint="https://etcd-0:2379", alarm="NOSPACE"}`, "1x3 0x10"],
      [`watch_auditor_controlplane_etcd_alarm{${CP}, endpoint="https://etcd-0:2379", alarm="CORRUPT"}`, "0x13"],
    ],
    at: "9m",
  },

  {
    alert: "ControlPlaneHealthCheckFailing",
    fires: true,
    why: "readyz's etcd check failed for 6 minutes",
    series: [
      [`watch_auditor_controlplane_health_check{${CP}, endpoint="readyz", check="etcd"}`, "1 1 0x10"],
      [`watch_auditor_controlplane_health_check{${CP}, endpoint="readyz", check="ping"}`, "1x12"],
    ],
    at: "8m",
    labels: { endpoint: "readyz", check: "etcd" },
  },
  {
    alert: "ControlPlaneHealthCheckFailing",
    fires: false,
    why: "a two-minute blip of the etcd check, then ok",
    series: [[`watch_auditor_controlplane_health_check{${CP}, endpoint="livez", check="etcd"}`, "1x3 0x2 1x10"]],
    at: "8m",
  },

  {
    alert: "ControlPlaneNodeHeartbeatStale",
    fires: true,
    why: "worker-1's Lease not renewed for 5 minutes",
    series: [
      [`watch_auditor_controlplane_node_heartbeat_age_seconds{${CP}, node="worker-1"}`, "10+60x10"],
      [`watch_auditor_controlplane_node_heartbeat_age_seconds{${CP}, node="worker-2"}`, "10 30 5 30 10 30 5 30 10 30"],
    ],
    at: "5m",
    labels: { node: "worker-1" },
  },
  {
    alert: "ControlPlaneNodeHeartbeatStale",
    fires: false,
    why: "heartbeats every 10 s seen between 5 and 30 s old (under the 40 s grace period)",
    series: [[`watch_auditor_controlplane_node_heartbeat_age_seconds{${CP}, node="worker-2"}`, "10 30 5 30 10 30 5 30 10 30"]],
    at: "8m",
  },

  {
    alert: "ControlPlaneAPFRejecting",
    fires: true,
    why: "half a request a second rejected for 25 minutes",
    series: [[REJECTED("service-accounts", "workload-low"), "0+30x30"]],
    at: "25m",
    labels: { priority_level: "workload-low", flow_schema: "service-accounts" },
  },
  { alert: "ControlPlaneAPFRejecting", fires: false, why: "one burst of rejections 20 minutes ago", series: [[REJECTED("service-accounts", "workload-low"), "0x5 100x30"]], at: "25m" },

  {
    alert: "ControlPlaneAPIServerErrorsHigh",
    fires: true,
    why: "9% of requests answered 500",
    series: [
      [REQ("500"), "0+60x40"],
      [REQ("200"), "0+600x40"],
    ],
    at: "30m",
  },
  {
    alert: "ControlPlaneAPIServerErrorsHigh",
    fires: false,
    why: "0.5% 5xx, and many 403s (refusals are not server errors)",
    series: [
      [REQ("500"), "0+3x40"],
      [REQ("200"), "0+600x40"],
      [REQ("403", "POST", "configmaps"), "0+600x40"],
    ],
    at: "30m",
  },

  {
    alert: "ControlPlaneAPIServerLatencyHigh",
    fires: true,
    why: "single-object GETs with a p99 between 1 s and 2.5 s",
    series: [
      [BUCKET("0.5"), "0+10x40"],
      [BUCKET("1"), "0+10x40"],
      [BUCKET("2.5"), "0+100x40"],
      [BUCKET("+Inf"), "0+100x40"],
    ],
    at: "30m",
    labels: { verb: "GET", scope: "resource" },
  },
  {
    alert: "ControlPlaneAPIServerLatencyHigh",
    fires: false,
    why: "cluster-wide LISTs at 2.5 s (target 30 s) and WATCHes held for minutes (streaming, excluded)",
    series: [
      [BUCKET("1", "LIST", "cluster"), "0+0x40"],
      [BUCKET("2.5", "LIST", "cluster"), "0+100x40"],
      [BUCKET("+Inf", "LIST", "cluster"), "0+100x40"],
      [BUCKET("60", "WATCH", "cluster"), "0+0x40"],
      [BUCKET("+Inf", "WATCH", "cluster"), "0+100x40"],
    ],
    at: "30m",
  },
];
