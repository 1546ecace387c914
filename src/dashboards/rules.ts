// Prometheus alerting rules for every component, rendered as a plain rule file
// (`promtool check rules`, Prometheus rule_files) or as a Prometheus Operator PrometheusRule.
import YAML from "yaml";
import { clusterRecordingGroups } from "./cluster.js";
import { controlPlaneAlertGroups, controlPlaneRecordingGroups, NODE_GRACE_PLACEHOLDER } from "./controlplane.js";

export interface AlertRule {
  alert: string;
  expr: string;
  for: string;
  severity: "critical" | "warning";
  summary: string;
  description: string;
  /** Static labels besides severity (e.g. the threshold of one tier of a tiered alert). */
  labels?: Record<string, string>;
}

export interface RuleGroup {
  name: string;
  rules: AlertRule[];
}

/** A Prometheus recording rule; `record` is named level:metric:operations (Prometheus' convention). */
export interface RecordingRule {
  record: string;
  expr: string;
  /** Static labels added to the recorded series. */
  labels?: Record<string, string>;
}

export interface RecordingGroup {
  name: string;
  rules: RecordingRule[];
}

/** Parameters of the rendered rules (documented in docs/dashboards.md, flags of `dashboards rules`). */
export interface RuleParams {
  /** kube-controller-manager's --node-monitor-grace-period, in seconds (Kubernetes' default: 40). */
  nodeGracePeriodSeconds: number;
}

export const DEFAULT_RULE_PARAMS: RuleParams = { nodeGracePeriodSeconds: 40 };

export const DEFAULT_RUNBOOK_BASE = "https://github.com/watch-auditor/watch-auditor/blob/main/docs/runbooks.md";

/** Recording rules, rendered before the alerts (which read some of them); the heavy panels read them too. */
export const recordingGroups: RecordingGroup[] = [...controlPlaneRecordingGroups, ...clusterRecordingGroups];

const X = "watch_auditor_exporter_";
const REQ = "watch_auditor_apiserver_requests_total";
const DROP_PAIR = "src_namespace, src_workload, dst_namespace, dst_workload, reason";

export const ruleGroups: RuleGroup[] = [
  {
    name: "watch-auditor.controller",
    rules: [
      {
        alert: "WatchControllerFailing",
        expr: `max by (namespace, probe) (watch_auditor_consecutive_failures) >= 2`,
        for: "5m",
        severity: "critical",
        summary: "The watched controller stopped reacting to canary pods (probe {{ $labels.probe }}).",
        description: "{{ $value }} consecutive checks of probe {{ $labels.probe }} failed: the controller did not terminate the canary's sidecar before the deadline. Its watch is probably hung.",
      },
      {
        alert: "WatchControllerRolled",
        expr: `sum by (namespace, probe, method) (increase(watch_auditor_rolls_total[15m])) > 0`,
        for: "0m",
        severity: "warning",
        summary: "The auditor rolled the watched controller (probe {{ $labels.probe }}, {{ $labels.method }}).",
        description: "The controller failed enough consecutive checks that the auditor restarted it ({{ $labels.method }}). Find out why its watch stopped.",
      },
      {
        alert: "WatchAuditorInconclusive",
        expr: `sum by (namespace, probe) (increase(watch_auditor_checks_total{result="inconclusive"}[30m])) / sum by (namespace, probe) (increase(watch_auditor_checks_total[30m])) > 0.5`,
        for: "15m",
        severity: "warning",
        summary: "Most checks of probe {{ $labels.probe }} are inconclusive.",
        description: "{{ $value | humanizePercentage }} of the last 30 minutes' checks could not conclude: the auditor cannot vouch for the controller.",
      },
    ],
  },
  {
    name: "watch-auditor.exporter",
    rules: [
      {
        alert: "ExporterBacklogGrowing",
        expr: `(max by (namespace, pod, sink) (deriv(${X}queue_bytes[15m])) > 0) and (max by (namespace, pod, sink) (${X}oldest_unsent_age_seconds) > 120)`,
        for: "15m",
        severity: "warning",
        summary: "Exporter {{ $labels.pod }}: the backlog for sink {{ $labels.sink }} keeps growing.",
        description: "Records arrive faster than sink {{ $labels.sink }} accepts them, for 15 minutes.",
      },
      {
        alert: "ExporterOldestRecordTooOld",
        expr: `max by (namespace, pod, sink) (${X}oldest_unsent_age_seconds) > 900`,
        for: "5m",
        severity: "critical",
        summary: "Exporter {{ $labels.pod }}: sink {{ $labels.sink }} is {{ $value | humanizeDuration }} behind.",
        description: "The oldest record not yet accepted by sink {{ $labels.sink }} is older than 15 minutes.",
      },
      {
        alert: "ExporterDiskNearlyFull",
        expr: `(min by (namespace, pod) (${X}disk_free_bytes) < 268435456) or (min by (namespace, pod) (predict_linear(${X}disk_free_bytes[1h], 4 * 3600)) < 0)`,
        for: "10m",
        severity: "warning",
        summary: "Exporter {{ $labels.pod }}: its data volume is nearly full.",
        description: "Less than 256 MiB free, or at the current rate the volume fills within 4 hours; below --disk-reserve the exporter drops records.",
      },
      {
        alert: "ExporterDropping",
        expr: `sum by (namespace, pod, reason) (increase(${X}records_dropped_total[5m])) > 0`,
        for: "0m",
        severity: "critical",
        summary: "Exporter {{ $labels.pod }} is dropping records ({{ $labels.reason }}).",
        description: "{{ $value }} records dropped in 5 minutes because of {{ $labels.reason }}: they are lost.",
      },
      {
        alert: "ExporterSinkFailing",
        expr: `(sum by (namespace, pod, sink) (rate(${X}send_retries_total[5m])) > 0 unless sum by (namespace, pod, sink) (rate(${X}records_sent_total[5m])) > 0) or sum by (namespace, pod, sink) (increase(${X}records_dead_lettered_total[10m])) > 0`,
        for: "10m",
        severity: "critical",
        summary: "Exporter {{ $labels.pod }}: sink {{ $labels.sink }} fails.",
        description: "Sends to {{ $labels.sink }} are retried without any success, or the sink refuses records for good (dead letters).",
      },
    ],
  },
  {
    name: "watch-auditor.apiserver",
    rules: [
      {
        alert: "APIServerAuthFailuresHigh",
        // `code` is the exact response code (see docs/runbooks.md#apiserverauthfailureshigh).
        expr: `sum by (namespace, user_class) (rate(${REQ}{code="401"}[5m])) > 1`,
        for: "10m",
        severity: "warning",
        summary: "Many requests to the API server fail authentication (401) for {{ $labels.user_class }} callers.",
        description: "{{ $value | humanize }} requests/s answered 401 Unauthorized: expired or revoked credentials, or someone probing the API.",
      },
      {
        alert: "APIServerForbiddenHigh",
        expr: `(sum by (namespace, user_class) (rate(${REQ}{code="403"}[5m])) > 0.2) and (sum by (namespace, user_class) (rate(${REQ}{code="403"}[5m])) / sum by (namespace, user_class) (rate(${REQ}[5m])) > 0.05)`,
        for: "10m",
        severity: "warning",
        summary: "Many requests from {{ $labels.user_class }} callers are forbidden (403).",
        description: "{{ $value | humanize }} requests/s answered 403 Forbidden: an RBAC change or a workload asking for more than it was granted.",
      },
      {
        alert: "AuditCriticalDetection",
        // audit serve exports every enabled rule at 0 from the start, so increase() sees the first hit.
        expr: `sum by (namespace, rule) (increase(watch_auditor_audit_detections_total{severity="critical"}[10m])) > 0`,
        for: "0m",
        severity: "critical",
        summary: "Critical detection {{ $labels.rule }} in the audit stream.",
        description: "{{ $value | humanize }} request(s) in the last 10 minutes matched the critical detection rule {{ $labels.rule }} (a privileged pod, a binding to cluster-admin, ...). `watch-auditor audit detect --severity critical` says who, what and when.",
      },
    ],
  },
  {
    name: "watch-auditor.services",
    rules: [
      {
        alert: "ServiceErrorRateHigh",
        expr: `(sum by (namespace, service) (rate(http_server_requests_total{status_code_class="5xx"}[5m])) / sum by (namespace, service) (rate(http_server_requests_total[5m])) > 0.05) and sum by (namespace, service) (rate(http_server_requests_total[5m])) > 0.1`,
        for: "10m",
        severity: "warning",
        summary: "Service {{ $labels.namespace }}/{{ $labels.service }} answers {{ $value | humanizePercentage }} of requests with 5xx.",
        description: "More than 5% of the service's HTTP requests failed with a server error for 10 minutes.",
      },
      {
        alert: "ServiceLatencyHigh",
        expr: `histogram_quantile(0.99, sum by (namespace, service, le) (rate(http_server_request_duration_seconds_bucket[5m]))) > 1`,
        for: "10m",
        severity: "warning",
        summary: "Service {{ $labels.namespace }}/{{ $labels.service }}: p99 latency is {{ $value | humanizeDuration }}.",
        description: "The 99th percentile of the service's HTTP request duration is above 1 s for 10 minutes.",
      },
    ],
  },
  {
    name: "watch-auditor.network",
    rules: [
      {
        alert: "FlowsNewlyDropped",
        // Drops in the last 10m (a growing counter, or a pair seen for the first time) for a pair
        // and reason without any drop in the hour before: a new denial, not a known default-deny.
        expr: `(sum by (${DROP_PAIR}) (increase(watch_auditor_flows_drops_total[10m])) > 0 or (sum by (${DROP_PAIR}) (watch_auditor_flows_drops_total) unless sum by (${DROP_PAIR}) (watch_auditor_flows_drops_total offset 10m))) unless sum by (${DROP_PAIR}) (increase(watch_auditor_flows_drops_total[1h] offset 10m)) > 0`,
        for: "0m",
        severity: "warning",
        summary: "Traffic from {{ $labels.src_namespace }}/{{ $labels.src_workload }} to {{ $labels.dst_namespace }}/{{ $labels.dst_workload }} is newly dropped ({{ $labels.reason }}).",
        description: "Hubble reports drops ({{ $labels.reason }}) between these two workloads in the last 10 minutes and none in the hour before: a network policy change, a new dependency not yet allowed, or a broken peer. `watch-auditor flows drops --url ...` names the port and the denying policy.",
      },
    ],
  },
  ...controlPlaneAlertGroups,
];

/** GitHub's anchor for a `## AlertName` heading. */
export function runbookAnchor(alert: string): string {
  return alert.toLowerCase();
}

interface RenderedRule {
  alert: string;
  expr: string;
  for: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** Puts the parameters into an expression (the node heartbeat alert's grace period). */
export function applyParams(expr: string, params: RuleParams = DEFAULT_RULE_PARAMS): string {
  return expr.replaceAll(NODE_GRACE_PLACEHOLDER, String(params.nodeGracePeriodSeconds));
}

function renderGroups(runbookBase: string, params: RuleParams): { name: string; rules: (RenderedRule | RecordingRule)[] }[] {
  const records = recordingGroups.map((g) => ({ name: g.name, rules: g.rules.map((r): RecordingRule => ({ record: r.record, expr: applyParams(r.expr, params), ...(r.labels ? { labels: r.labels } : {}) })) }));
  const alerts = ruleGroups.map((g) => ({
    name: g.name,
    rules: g.rules.map((r) => ({
      alert: r.alert,
      expr: applyParams(r.expr, params),
      for: r.for,
      labels: { severity: r.severity, ...r.labels },
      annotations: { summary: r.summary, description: r.description, runbook_url: `${runbookBase}#${runbookAnchor(r.alert)}` },
    })),
  }));
  return [...records, ...alerts];
}

export type RulesFormat = "prometheus" | "prometheusrule";

export interface RulesOptions {
  format: RulesFormat;
  runbookBase?: string;
  /** Namespace of the PrometheusRule object. */
  namespace?: string;
  params?: RuleParams;
}

export function renderRules(opts: RulesOptions): string {
  const groups = renderGroups(opts.runbookBase ?? DEFAULT_RUNBOOK_BASE, opts.params ?? DEFAULT_RULE_PARAMS);
  const header = "# Generated by `watch-auditor dashboards rules`; do not edit by hand.\n";
  if (opts.format === "prometheus") return header + YAML.stringify({ groups }, { lineWidth: 0 });
  const obj = {
    apiVersion: "monitoring.coreos.com/v1",
    kind: "PrometheusRule",
    metadata: { name: "watch-auditor", namespace: opts.namespace ?? "watch-auditor", labels: { "app.kubernetes.io/name": "watch-auditor", "app.kubernetes.io/component": "monitoring" } },
    spec: { groups },
  };
  return header + YAML.stringify(obj, { lineWidth: 0 });
}

/** Every alert's expression (parameters at their defaults), with its group. */
export function allRuleExpressions(): { alert: string; expr: string; group: string }[] {
  return ruleGroups.flatMap((g) => g.rules.map((r) => ({ alert: r.alert, expr: applyParams(r.expr), group: g.name })));
}

/** Every recording rule's expression (parameters at their defaults), with its group. */
export function allRecordingRules(): { record: string; expr: string; group: string }[] {
  return recordingGroups.flatMap((g) => g.rules.map((r) => ({ record: r.record, expr: applyParams(r.expr), group: g.name })));
}
