// Input series (promtool's expanding notation, one sample a minute) that make each alert fire,
// and look-alike series that must not. `labels` are the firing alert's labels besides
// alertname, alertstate and severity.
import { CONTROLPLANE_ALERT_CASES } from "./controlplane-alert-cases.js";

export interface AlertCase {
  alert: string;
  fires: boolean;
  why: string;
  series: [string, string][];
  at: string;
  labels?: Record<string, string>;
}

const NS = `namespace="watch-auditor"`;
const EXP = `namespace="team-a", pod="app-0", sink="http"`;
const EXP_LABELS = { namespace: "team-a", pod: "app-0", sink: "http" };
const REQ = (code: string, cls: string, user = "serviceaccount") => `watch_auditor_apiserver_requests_total{namespace="watch-auditor", verb="get", resource="pods", code_class="${cls}", code="${code}", user_class="${user}"}`;
const HTTP = (cls: string) => `http_server_requests_total{namespace="shop", service="cart", workload="cart", method="GET", status_code_class="${cls}"}`;
const BUCKET = (le: string) => `http_server_request_duration_seconds_bucket{namespace="shop", service="cart", workload="cart", method="GET", status_code_class="2xx", le="${le}"}`;

const DROP_LABELS = (reason: string) => ({ src_namespace: "default", src_workload: "xwing", dst_namespace: "default", dst_workload: "deathstar", reason });
const DROP = (reason: string) => `watch_auditor_flows_drops_total{namespace="watch-auditor", pod="flows-x7k2p", src_namespace="default", src_workload="xwing", dst_namespace="default", dst_workload="deathstar", reason="${reason}", direction="ingress", policy="default/deny-xwing"}`;

export const ALERT_CASES: AlertCase[] = [
  { alert: "WatchControllerFailing", fires: true, why: "two consecutive failures for 5m", series: [[`watch_auditor_consecutive_failures{${NS}, probe="default"}`, "0 1 2x15"]], at: "12m", labels: { namespace: "watch-auditor", probe: "default" } },
  { alert: "WatchControllerFailing", fires: false, why: "a single failure, then a pass", series: [[`watch_auditor_consecutive_failures{${NS}, probe="default"}`, "0 1x5 0x10"]], at: "12m" },

  { alert: "WatchControllerRolled", fires: true, why: "a rollout restart 3 minutes ago", series: [[`watch_auditor_rolls_total{${NS}, probe="default", method="rollout_restart"}`, "0 0 1x10"]], at: "5m", labels: { namespace: "watch-auditor", probe: "default", method: "rollout_restart" } },
  { alert: "WatchControllerRolled", fires: false, why: "the last roll was over 15 minutes ago", series: [[`watch_auditor_rolls_total{${NS}, probe="default", method="rollout_restart"}`, "0 0 1x40"]], at: "40m" },

  {
    alert: "WatchAuditorInconclusive",
    fires: true,
    why: "every check inconclusive for 50m",
    series: [
      [`watch_auditor_checks_total{${NS}, probe="default", result="inconclusive"}`, "0+1x60"],
      [`watch_auditor_checks_total{${NS}, probe="default", result="pass"}`, "0x60"],
    ],
    at: "50m",
    labels: { namespace: "watch-auditor", probe: "default" },
  },
  {
    alert: "WatchAuditorInconclusive",
    fires: false,
    why: "a third of the checks inconclusive",
    series: [
      [`watch_auditor_checks_total{${NS}, probe="default", result="inconclusive"}`, "0+1x60"],
      [`watch_auditor_checks_total{${NS}, probe="default", result="pass"}`, "0+2x60"],
    ],
    at: "50m",
  },

  {
    alert: "ExporterBacklogGrowing",
    fires: true,
    why: "queue grows and the oldest record ages",
    series: [
      [`watch_auditor_exporter_queue_bytes{${EXP}}`, "0+1000x40"],
      [`watch_auditor_exporter_oldest_unsent_age_seconds{${EXP}}`, "0+60x40"],
    ],
    at: "35m",
    labels: EXP_LABELS,
  },
  {
    alert: "ExporterBacklogGrowing",
    fires: false,
    why: "queue bytes grow but the sink keeps up (oldest record fresh)",
    series: [
      [`watch_auditor_exporter_queue_bytes{${EXP}}`, "0+1000x40"],
      [`watch_auditor_exporter_oldest_unsent_age_seconds{${EXP}}`, "0x40"],
    ],
    at: "35m",
  },

  { alert: "ExporterOldestRecordTooOld", fires: true, why: "oldest unsent record over 15m old", series: [[`watch_auditor_exporter_oldest_unsent_age_seconds{${EXP}}`, "0+60x30"]], at: "25m", labels: EXP_LABELS },
  { alert: "ExporterOldestRecordTooOld", fires: false, why: "oldest unsent record 5m old", series: [[`watch_auditor_exporter_oldest_unsent_age_seconds{${EXP}}`, "0+10x30"]], at: "25m" },

  { alert: "ExporterDiskNearlyFull", fires: true, why: "under 256MiB free", series: [[`watch_auditor_exporter_disk_free_bytes{namespace="team-a", pod="app-0"}`, "100000000x30"]], at: "20m", labels: { namespace: "team-a", pod: "app-0" } },
  { alert: "ExporterDiskNearlyFull", fires: true, why: "10GB free but filling within 4h", series: [[`watch_auditor_exporter_disk_free_bytes{namespace="team-a", pod="app-0"}`, "10000000000-50000000x90"]], at: "80m", labels: { namespace: "team-a", pod: "app-0" } },
  { alert: "ExporterDiskNearlyFull", fires: false, why: "10GB free and stable", series: [[`watch_auditor_exporter_disk_free_bytes{namespace="team-a", pod="app-0"}`, "10000000000x90"]], at: "80m" },

  { alert: "ExporterDropping", fires: true, why: "records dropped for queue_full", series: [[`watch_auditor_exporter_records_dropped_total{namespace="team-a", pod="app-0", reason="queue_full"}`, "0 0 5 10x5"]], at: "4m", labels: { namespace: "team-a", pod: "app-0", reason: "queue_full" } },
  { alert: "ExporterDropping", fires: false, why: "no drops", series: [[`watch_auditor_exporter_records_dropped_total{namespace="team-a", pod="app-0", reason="queue_full"}`, "0x10"]], at: "8m" },

  {
    alert: "ExporterSinkFailing",
    fires: true,
    why: "retries and nothing sent",
    series: [
      [`watch_auditor_exporter_send_retries_total{${EXP}}`, "0+5x30"],
      [`watch_auditor_exporter_records_sent_total{${EXP}}`, "0x30"],
    ],
    at: "25m",
    labels: EXP_LABELS,
  },
  {
    alert: "ExporterSinkFailing",
    fires: true,
    why: "the sink refuses records for good",
    series: [
      [`watch_auditor_exporter_records_dead_lettered_total{${EXP}}`, "0+1x30"],
      [`watch_auditor_exporter_records_sent_total{${EXP}}`, "0+100x30"],
    ],
    at: "25m",
    labels: EXP_LABELS,
  },
  {
    alert: "ExporterSinkFailing",
    fires: false,
    why: "transient retries while records still get through",
    series: [
      [`watch_auditor_exporter_send_retries_total{${EXP}}`, "0+5x30"],
      [`watch_auditor_exporter_records_sent_total{${EXP}}`, "0+100x30"],
      [`watch_auditor_exporter_records_dead_lettered_total{${EXP}}`, "0x30"],
    ],
    at: "25m",
  },

  { alert: "APIServerAuthFailuresHigh", fires: true, why: "10 401s a second", series: [[REQ("401", "4xx", "anonymous"), "0+600x30"]], at: "25m", labels: { namespace: "watch-auditor", user_class: "anonymous" } },
  {
    alert: "APIServerAuthFailuresHigh",
    fires: false,
    why: "a 401 every 10s, and many 403s (not authentication)",
    series: [
      [REQ("401", "4xx", "anonymous"), "0+6x30"],
      [REQ("403", "4xx", "anonymous"), "0+6000x30"],
    ],
    at: "25m",
  },

  {
    alert: "APIServerForbiddenHigh",
    fires: true,
    why: "1 403/s, 9% of the class's requests",
    series: [
      [REQ("403", "4xx"), "0+60x30"],
      [REQ("200", "2xx"), "0+600x30"],
    ],
    at: "25m",
    labels: { namespace: "watch-auditor", user_class: "serviceaccount" },
  },
  {
    alert: "APIServerForbiddenHigh",
    fires: false,
    why: "1 403/s but under 1% of a busy class, and 401s do not count",
    series: [
      [REQ("403", "4xx"), "0+60x30"],
      [REQ("200", "2xx"), "0+6000x30"],
      [REQ("401", "4xx"), "0+6000x30"],
    ],
    at: "25m",
  },

  {
    alert: "AuditCriticalDetection",
    fires: true,
    why: "one privileged pod 3 minutes ago (the series starts at 0, as audit serve exports it)",
    series: [[`watch_auditor_audit_detections_total{${NS}, rule="privileged-container", severity="critical"}`, "0x10 1x10"]],
    at: "13m",
    labels: { namespace: "watch-auditor", rule: "privileged-container" },
  },
  {
    alert: "AuditCriticalDetection",
    fires: false,
    why: "high-severity hits (exec) do not page, and the last critical hit is over 10 minutes old",
    series: [
      [`watch_auditor_audit_detections_total{${NS}, rule="pod-exec-attach-portforward", severity="high"}`, "0+1x30"],
      [`watch_auditor_audit_detections_total{${NS}, rule="cluster-admin-binding", severity="critical"}`, "0 1x30"],
    ],
    at: "25m",
  },

  {
    alert: "ServiceErrorRateHigh",
    fires: true,
    why: "9% of requests 5xx",
    series: [
      [HTTP("5xx"), "0+60x30"],
      [HTTP("2xx"), "0+600x30"],
    ],
    at: "25m",
    labels: { namespace: "shop", service: "cart" },
  },
  {
    alert: "ServiceErrorRateHigh",
    fires: false,
    why: "1% of requests 5xx",
    series: [
      [HTTP("5xx"), "0+6x30"],
      [HTTP("2xx"), "0+600x30"],
    ],
    at: "25m",
  },

  {
    alert: "ServiceLatencyHigh",
    fires: true,
    why: "p99 between 1s and 2.5s",
    series: [
      [BUCKET("0.5"), "0+10x30"],
      [BUCKET("1"), "0+10x30"],
      [BUCKET("2.5"), "0+100x30"],
      [BUCKET("+Inf"), "0+100x30"],
    ],
    at: "25m",
    labels: { namespace: "shop", service: "cart" },
  },
  {
    alert: "ServiceLatencyHigh",
    fires: false,
    why: "every request under 0.5s",
    series: [
      [BUCKET("0.5"), "0+100x30"],
      [BUCKET("1"), "0+100x30"],
      [BUCKET("2.5"), "0+100x30"],
      [BUCKET("+Inf"), "0+100x30"],
    ],
    at: "25m",
  },
  ...CONTROLPLANE_ALERT_CASES,

  { alert: "FlowsNewlyDropped", fires: true, why: "a pair that never dropped starts dropping (new series, growing)", series: [[DROP("POLICY_DENIED"), "_x60 1+2x20"]], at: "70m", labels: DROP_LABELS("POLICY_DENIED") },
  { alert: "FlowsNewlyDropped", fires: true, why: "one drop, the pair's first ever (the series appears at 1)", series: [[DROP("POLICY_DENIED"), "_x65 1x10"]], at: "70m", labels: DROP_LABELS("POLICY_DENIED") },
  {
    alert: "FlowsNewlyDropped",
    fires: false,
    why: "the same pair has been dropped for 80 minutes (a known default deny), and another reason stopped long ago",
    series: [
      [DROP("POLICY_DENIED"), "0+2x80"],
      [DROP("CT_MAP_INSERTION_FAILED"), "0+1x30 30x50"],
    ],
    at: "75m",
  },
];
