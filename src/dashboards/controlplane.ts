// The control plane: is the API server healthy (checks, errors, latency, flow control), how full
// is etcd (size against quota, the forecast, fsync/commit latency, leader changes), and are nodes
// still sending heartbeats. Sources: `watch-auditor controlplane serve` (watch_auditor_controlplane_*,
// preferred where it normalizes across Kubernetes versions), the API server's own /metrics and
// etcd's own /metrics. Recording rules pre-aggregate the API server's request series, which are
// the heaviest on large clusters (every resource × verb × code × scope × le).
import type { DashboardSpec } from "./panels.js";
import type { AlertRule, RecordingGroup, RuleGroup } from "./rules.js";

const C = "watch_auditor_controlplane_";
/** Replaced by RuleParams.nodeGracePeriodSeconds when rules are rendered. */
export const NODE_GRACE_PLACEHOLDER = "NODE_GRACE_PERIOD_SECONDS";

export const DB_SIZE = "cluster:controlplane_database_size_bytes:max";
export const DB_QUOTA = "cluster:controlplane_database_quota_bytes:max";
export const DB_USAGE = "cluster:controlplane_database_quota_usage:ratio";
export const OBJECTS = "resource:controlplane_objects:max";
export const REQUESTS = "resource_verb_code:apiserver_request:rate5m";
export const LATENCY = "resource_verb_scope_le:apiserver_request_duration_seconds_bucket:rate5m";
export const ERRORS = "cluster:apiserver_request_errors:ratio_rate5m";
export const REJECTED = "priority_level_flow_schema_reason:apiserver_flowcontrol_rejected_requests:rate5m";

/** Long-running requests whose duration says nothing about the API server's health. */
const NOT_LONG_RUNNING = `verb!~"WATCH|CONNECT", subresource!~"log|exec|attach|portforward|proxy"`;

/** p99 latency targets by request scope (the upstream API call latency SLOs). */
export const LATENCY_TARGETS = { resource: 1, namespace: 5, cluster: 30 } as const;
/** Share of requests that may fail with 5xx (a 99 % availability target). */
export const ERROR_RATIO_TARGET = 0.01;
/** The DB-size tiers: share of the quota and the severity of crossing it. */
export const DB_TIERS: { threshold: number; severity: AlertRule["severity"] }[] = [
  { threshold: 0.65, severity: "warning" },
  { threshold: 0.75, severity: "warning" },
  { threshold: 0.85, severity: "critical" },
  { threshold: 0.95, severity: "critical" },
];

export const controlPlaneRecordingGroups: RecordingGroup[] = [
  {
    name: "watch-auditor.controlplane.records",
    rules: [
      // The database size under each name it had: the auditor's normalized gauge first, then the
      // API server's (1.28+, 1.26-1.27, 1.19-1.25), then etcd's own.
      {
        record: DB_SIZE,
        expr: `max(${C}database_size_bytes) or max(apiserver_storage_size_bytes) or max(apiserver_storage_db_total_size_in_bytes) or max(etcd_db_total_size_in_bytes) or max(etcd_mvcc_db_total_size_in_bytes)`,
      },
      { record: DB_QUOTA, expr: `max(${C}database_quota_bytes) or max(etcd_server_quota_backend_bytes)` },
      { record: DB_USAGE, expr: `${DB_SIZE} / ${DB_QUOTA}` },
      // Objects stored per resource: the auditor's gauge, else the API server's (1.21+, 1.34+, ≤ 1.22;
      // -1 means the count failed). 1.34+ splits group from resource: joined as resource.group, the
      // form apiserver_storage_objects uses ("deployments.apps", "pods").
      {
        record: OBJECTS,
        expr:
          `max by (resource) (${C}objects) or max by (resource) (apiserver_storage_objects >= 0)` +
          ` or max by (resource) (label_replace(label_join(apiserver_resource_objects >= 0, "resource", ".", "resource", "group"), "resource", "$1", "resource", "(.*)[.]"))` +
          ` or max by (resource) (etcd_object_counts >= 0)`,
      },
      { record: REQUESTS, expr: `sum by (resource, verb, code) (rate(apiserver_request_total[5m]))` },
      { record: LATENCY, expr: `sum by (resource, verb, scope, le) (rate(apiserver_request_duration_seconds_bucket{${NOT_LONG_RUNNING}}[5m]))` },
      { record: ERRORS, expr: `sum(${REQUESTS}{code=~"5.."}) / sum(${REQUESTS})` },
      { record: REJECTED, expr: `sum by (priority_level, flow_schema, reason) (rate(apiserver_flowcontrol_rejected_requests_total[5m]))` },
    ],
  },
];

const p99 = (scope: string) => `histogram_quantile(0.99, sum by (verb, scope, le) (${LATENCY}{scope="${scope}"}))`;

export const controlPlaneAlertGroups: RuleGroup[] = [
  {
    name: "watch-auditor.controlplane",
    rules: [
      // One alert, one instance at a time: each tier's expression stops where the next begins, so
      // crossing 75 % resolves the 65 % instance and starts the 75 % one (a new notification).
      ...DB_TIERS.map(({ threshold, severity }, i): AlertRule => {
        const next = DB_TIERS[i + 1]?.threshold;
        return {
          alert: "ControlPlaneDatabaseNearQuota",
          expr: `${DB_USAGE} >= ${threshold}${next === undefined ? "" : ` < ${next}`}`,
          for: "5m",
          severity,
          labels: { threshold: `${Math.round(threshold * 100)}%` },
          summary: `The control plane's etcd database uses {{ $value | humanizePercentage }} of its quota (≥ ${Math.round(threshold * 100)} %).`,
          description: "At the quota etcd raises a NOSPACE alarm and refuses every write: the cluster becomes read-only until the database is compacted, defragmented and the alarm disarmed.",
        };
      }),
      {
        alert: "ControlPlaneDatabaseFillingUp",
        expr: `predict_linear(${DB_SIZE}[1h], 4 * 3600) >= ${DB_QUOTA}`,
        for: "15m",
        severity: "critical",
        summary: "At the last hour's rate the etcd database reaches its quota within 4 hours.",
        description: "A linear fit of the database size over the last hour crosses the quota within 4 hours; at the quota the cluster becomes read-only. `watch-auditor controlplane etcd-usage` says which resources and namespaces grow.",
      },
      {
        alert: "ControlPlaneEtcdAlarm",
        expr: `max by (alarm) (${C}etcd_alarm) == 1`,
        for: "1m",
        severity: "critical",
        summary: "etcd alarm {{ $labels.alarm }} is active.",
        description: "etcd raised the {{ $labels.alarm }} alarm (read by `controlplane serve --etcd-endpoints`). NOSPACE: the database hit its quota and etcd refuses every write until space is freed and the alarm disarmed. CORRUPT: a member's data differs from the others'.",
      },
      {
        alert: "ControlPlaneHealthCheckFailing",
        expr: `min by (endpoint, check) (${C}health_check) == 0`,
        for: "3m",
        severity: "critical",
        summary: "API server /{{ $labels.endpoint }} check {{ $labels.check }} fails.",
        description: "The API server reports its internal check {{ $labels.check }} as failed on /{{ $labels.endpoint }}?verbose for 3 minutes (readyz: load balancers stop sending it traffic; livez: the kubelet restarts it).",
      },
      {
        alert: "ControlPlaneNodeHeartbeatStale",
        expr: `max by (node) (${C}node_heartbeat_age_seconds) > ${NODE_GRACE_PLACEHOLDER}`,
        for: "1m",
        severity: "warning",
        summary: "Node {{ $labels.node }} last renewed its heartbeat Lease {{ $value | humanizeDuration }} ago.",
        description: "The node's kubelet stopped renewing its Lease in kube-node-lease for longer than the node-monitor grace period: the node controller marks it NotReady and, 5 minutes later, evicts its pods.",
      },
      {
        alert: "ControlPlaneAPFRejecting",
        expr: `(sum by (priority_level, flow_schema) (${REJECTED}) > 0) or (sum by (request_kind) (rate(apiserver_dropped_requests_total[5m])) > 0)`,
        for: "10m",
        severity: "warning",
        summary: "The API server rejects requests of priority level {{ $labels.priority_level }} (flow schema {{ $labels.flow_schema }}) with 429.",
        description: "API Priority and Fairness has been rejecting {{ $value | humanize }} requests/s for 10 minutes: the level's queues are full or its concurrency share is exhausted. Clients retry, which adds load.",
      },
      {
        alert: "ControlPlaneAPIServerErrorsHigh",
        expr: `(${ERRORS} > ${ERROR_RATIO_TARGET}) and (sum(${REQUESTS}) > 1)`,
        for: "15m",
        severity: "warning",
        summary: "{{ $value | humanizePercentage }} of API server requests fail with 5xx.",
        description: `More than ${ERROR_RATIO_TARGET * 100} % of the API server's requests answered 5xx for 15 minutes (availability target ${100 - ERROR_RATIO_TARGET * 100} %).`,
      },
      {
        alert: "ControlPlaneAPIServerLatencyHigh",
        expr: Object.entries(LATENCY_TARGETS)
          .map(([scope, target]) => `(${p99(scope)} > ${target})`)
          .join(" or "),
        for: "15m",
        severity: "warning",
        summary: "API server {{ $labels.verb }} requests at {{ $labels.scope }} scope: p99 latency is {{ $value | humanizeDuration }}.",
        description: `The 99th percentile of non-streaming requests is above its target for 15 minutes (resource scope ${LATENCY_TARGETS.resource} s, namespace ${LATENCY_TARGETS.namespace} s, cluster ${LATENCY_TARGETS.cluster} s).`,
      },
    ],
  },
];

// Filters on the namespace the auditor's controlplane exporter runs in (its scrape's namespace).
const W = `namespace=~"$namespace"`;
const R = `resource=~"$resource"`;

export const controlPlaneDashboard: DashboardSpec = {
  uid: "watch-auditor-controlplane",
  title: "Watch auditor: control plane",
  description: "Is the API server healthy, what loads and slows it, how full is etcd and when will it be full, and are nodes still sending heartbeats?",
  tags: ["watch-auditor", "controlplane"],
  variables: [
    { name: "namespace", label: "Namespace", metric: `${C}apiserver_up` },
    { name: "resource", label: "Resource", metric: "apiserver_request_total" },
  ],
  rows: [
    {
      title: "Is the API server healthy?",
      panels: [
        { title: "API server reachable", description: "1 when the controlplane exporter reached the API server on its last poll, 0 when it could not.", kind: "stat", width: 6, queries: [{ expr: `min(${C}apiserver_up{${W}})` }] },
        { title: "Failing health checks", description: "How many livez/readyz checks fail right now (0 when all pass).", kind: "stat", width: 6, queries: [{ expr: `count(${C}health_check{${W}} == 0) or on() vector(0)` }] },
        { title: "Health endpoint status", description: "The HTTP status /livez and /readyz answered (200 healthy, 500 a check failed).", kind: "stat", width: 6, queries: [{ expr: `max by (endpoint) (${C}health_status_code{${W}})`, legend: "{{endpoint}}" }] },
        { title: "Requests in flight", description: "Read-only and mutating requests the API server is executing (apiserver_current_inflight_requests).", kind: "stat", width: 6, queries: [{ expr: `sum by (request_kind) (apiserver_current_inflight_requests)`, legend: "{{request_kind}}" }] },
        { title: "Health checks", description: "Every livez/readyz check by name: 1 ok, 0 failed (table). A failed check names the subsystem: etcd, informer-sync, poststarthooks …", kind: "table", width: 24, queries: [{ expr: `min by (endpoint, check) (${C}health_check{${W}})` }] },
      ],
    },
    {
      title: "Requests",
      panels: [
        { title: "Request rate by verb", description: "Requests per second by verb for the selected resources (recording rule over apiserver_request_total).", unit: "reqps", queries: [{ expr: `sum by (verb) (${REQUESTS}{${R}})`, legend: "{{verb}}" }] },
        { title: "Responses by code", description: "Requests per second by HTTP status code: 4xx are callers' mistakes or refusals, 429 is flow control, 5xx are the server's failures.", unit: "reqps", queries: [{ expr: `sum by (code) (${REQUESTS}{${R}})`, legend: "{{code}}" }] },
        { title: "Error ratio", description: `Share of all requests answered 5xx (alert above ${ERROR_RATIO_TARGET * 100} %).`, unit: "percentunit", queries: [{ expr: ERRORS, legend: "5xx ratio" }] },
        { title: "Request latency by resource and verb", description: "p99 duration of non-streaming requests by resource and verb (WATCH, CONNECT, exec, logs and proxy excluded).", unit: "s", queries: [{ expr: `histogram_quantile(0.99, sum by (resource, verb, le) (${LATENCY}{${R}}))`, legend: "{{verb}} {{resource}}" }] },
        { title: "Latency by scope", description: "p99 by verb and scope (resource, namespace, cluster): the alert's targets are 1 s, 5 s and 30 s.", unit: "s", width: 24, queries: [{ expr: `histogram_quantile(0.99, sum by (verb, scope, le) (${LATENCY}{${R}}))`, legend: "{{verb}} {{scope}}" }] },
      ],
    },
    {
      title: "Flow control (APF)",
      panels: [
        {
          title: "APF rejections",
          description: "Requests per second API Priority and Fairness rejected (429), by priority level and flow schema; before 1.25 apiserver_dropped_requests_total. 0 when nothing was ever rejected (the counter appears with the first rejection).",
          unit: "reqps",
          width: 8,
          queries: [{ expr: `sum by (priority_level, flow_schema) (${REJECTED}) or sum by (request_kind) (rate(apiserver_dropped_requests_total[$__rate_interval])) or on() vector(0)`, legend: "{{priority_level}} {{flow_schema}}{{request_kind}}" }],
        },
        { title: "Requests waiting in APF queues", description: "Requests queued per priority level (apiserver_flowcontrol_current_inqueue_requests): a standing queue precedes rejections.", width: 8, queries: [{ expr: `sum by (priority_level) (apiserver_flowcontrol_current_inqueue_requests)`, legend: "{{priority_level}}" }] },
        { title: "APF queue wait", description: "p99 time requests waited in their APF queue, by priority level.", unit: "s", width: 8, queries: [{ expr: `histogram_quantile(0.99, sum by (priority_level, le) (rate(apiserver_flowcontrol_request_wait_duration_seconds_bucket[$__rate_interval])))`, legend: "{{priority_level}}" }] },
      ],
    },
    {
      title: "Storage (etcd)",
      panels: [
        {
          title: "Database size against quota",
          description: "The etcd database's size and its quota (etcd's --quota-backend-bytes, 2 GiB by default): at the quota the cluster becomes read-only.",
          unit: "bytes",
          queries: [
            { expr: DB_SIZE, legend: "size" },
            { expr: DB_QUOTA, legend: "quota" },
          ],
        },
        { title: "Database quota used", description: "Share of the quota the database uses; alerts at 65, 75, 85 and 95 %.", kind: "stat", unit: "percentunit", width: 6, queries: [{ expr: DB_USAGE }] },
        {
          title: "Time until the database is full",
          description: "The controlplane exporter's forecast of when the database reaches its quota (absent while it has too few samples), and Prometheus' own linear forecast over the last 6 hours (absent while the size does not grow).",
          kind: "stat",
          unit: "s",
          width: 6,
          queries: [
            { expr: `min(${C}database_full_seconds{${W}})`, legend: "exporter" },
            { expr: `(${DB_QUOTA} - ${DB_SIZE}) / (deriv(${DB_SIZE}[6h]) > 0)`, legend: "prometheus" },
          ],
        },
        { title: "Objects per resource", description: "Objects stored per resource type (the twenty largest): which resources fill etcd.", queries: [{ expr: `topk(20, ${OBJECTS})`, legend: "{{resource}}" }] },
        { title: "etcd WAL fsync latency", description: "p99 time etcd takes to fsync its write-ahead log (etcd_disk_wal_fsync_duration_seconds); above ~10 ms the disk is too slow for etcd.", unit: "s", queries: [{ expr: `histogram_quantile(0.99, sum by (instance, le) (rate(etcd_disk_wal_fsync_duration_seconds_bucket[$__rate_interval])))`, legend: "{{instance}}" }] },
        { title: "etcd backend commit latency", description: "p99 time etcd takes to commit to its bolt database (etcd_disk_backend_commit_duration_seconds); above ~25 ms the disk is too slow.", unit: "s", queries: [{ expr: `histogram_quantile(0.99, sum by (instance, le) (rate(etcd_disk_backend_commit_duration_seconds_bucket[$__rate_interval])))`, legend: "{{instance}}" }] },
        { title: "etcd leader changes", description: "Leader elections each member saw in the time range (etcd_server_leader_changes_seen_total); frequent changes mean network or disk trouble.", kind: "stat", queries: [{ expr: `max by (instance) (changes(etcd_server_leader_changes_seen_total[$__range]))`, legend: "{{instance}}" }] },
      ],
    },
    {
      title: "etcd members (controlplane serve --etcd-endpoints)",
      panels: [
        { title: "etcd members up", description: "1 for each etcd endpoint that answered the exporter's Status call (self-managed control planes, with --etcd-endpoints).", kind: "stat", width: 6, queries: [{ expr: `min by (endpoint) (${C}etcd_up{${W}})`, legend: "{{endpoint}}" }] },
        { title: "etcd leader", description: "Which endpoint is the raft leader (1); none means the cluster has no leader and refuses writes.", kind: "stat", width: 6, queries: [{ expr: `max by (endpoint) (${C}etcd_is_leader{${W}})`, legend: "{{endpoint}}" }] },
        { title: "etcd alarms", description: "Active etcd alarms (1): NOSPACE means the quota was hit and etcd refuses writes until the alarm is disarmed; CORRUPT means a member's data differs.", kind: "stat", width: 12, queries: [{ expr: `max by (alarm) (${C}etcd_alarm{${W}})`, legend: "{{alarm}}" }] },
        {
          title: "etcd space in use",
          description: "Each member's database file and the part of it in use; the difference is free pages that only a defragmentation returns (what to expect from `etcdctl defrag`).",
          unit: "bytes",
          queries: [
            { expr: `max by (endpoint) (${C}etcd_db_size_bytes{${W}})`, legend: "{{endpoint}} file" },
            { expr: `max by (endpoint) (${C}etcd_db_size_in_use_bytes{${W}})`, legend: "{{endpoint}} in use" },
          ],
        },
        { title: "etcd usage by resource", description: "Value bytes per resource type in the last `etcd-usage` scan the exporter ran (--etcd-usage-interval): which resources fill etcd, the twenty largest.", unit: "bytes", queries: [{ expr: `topk(20, max by (resource) (${C}etcd_usage_bytes{${W}}))`, legend: "{{resource}}" }] },
      ],
    },
    {
      title: "Nodes",
      panels: [
        { title: "Node heartbeat age", description: "Seconds since each node's kubelet renewed its Lease in kube-node-lease; past the node-monitor grace period (40 s by default) the node is marked NotReady.", unit: "s", queries: [{ expr: `max by (node) (${C}node_heartbeat_age_seconds{${W}})`, legend: "{{node}}" }] },
        { title: "Node conditions", description: "Each node's Ready and pressure conditions (1 true, 0 false) and whether it is Ready (table): which nodes went offline.", kind: "table", queries: [{ expr: `max by (node, condition) (${C}node_condition{${W}})` }, { expr: `min by (node) (${C}node_ready{${W}})` }] },
      ],
    },
    {
      title: "The exporter itself",
      panels: [
        { title: "Exporter scrape errors", description: "Errors the controlplane exporter met reading each source (health, metrics, nodes, etcd) in the time range.", queries: [{ expr: `sum by (source) (increase(${C}scrape_errors_total{${W}}[$__range]))`, legend: "{{source}}" }] },
        { title: "Metric names found", description: "Which of the version-dependent API server metric names the exporter found (table): tells which Kubernetes naming the cluster uses.", kind: "table", queries: [{ expr: `max by (name) (${C}metric_names_found{${W}})` }] },
      ],
    },
  ],
};
