import type { DashboardSpec } from "./panels.js";

const S = `namespace=~"$namespace", pod=~"$pod"`;
const M = "watch_auditor_exporter_";

export const exporterDashboard: DashboardSpec = {
  uid: "watch-auditor-exporter",
  title: "Watch auditor: exporter",
  description: "Are decision-log records getting from producers to their sinks, and how close is the on-disk queue to its limits?",
  tags: ["watch-auditor", "exporter"],
  variables: [
    { name: "namespace", label: "Namespace", metric: `${M}records_received_total` },
    { name: "pod", label: "Pod", metric: `${M}records_received_total` },
  ],
  rows: [
    {
      title: "Throughput",
      panels: [
        {
          title: "Records in and out",
          description: "Records per second accepted from producers, made durable (fsynced) and accepted by sinks: in = out means the exporter keeps up.",
          unit: "ops",
          queries: [
            { expr: `sum(rate(${M}records_received_total{${S}}[$__rate_interval]))`, legend: "received" },
            { expr: `sum(rate(${M}records_persisted_total{${S}}[$__rate_interval]))`, legend: "persisted" },
            { expr: `sum by (sink) (rate(${M}records_sent_total{${S}}[$__rate_interval]))`, legend: "sent {{sink}}" },
          ],
        },
        {
          title: "Sink latency",
          description: "Time a sink takes to answer one batch (p50, p99): a slow sink is the first sign of a backlog.",
          unit: "s",
          queries: [
            { expr: `histogram_quantile(0.5, sum by (sink, le) (rate(${M}send_duration_seconds_bucket{${S}}[$__rate_interval])))`, legend: "p50 {{sink}}" },
            { expr: `histogram_quantile(0.99, sum by (sink, le) (rate(${M}send_duration_seconds_bucket{${S}}[$__rate_interval])))`, legend: "p99 {{sink}}" },
          ],
        },
      ],
    },
    {
      title: "Backlog",
      panels: [
        {
          title: "Queue depth",
          description: "Records waiting for each sink, per pod.",
          width: 8,
          queries: [{ expr: `sum by (pod, sink) (${M}queue_records{${S}})`, legend: "{{pod}} {{sink}}" }],
        },
        {
          title: "Oldest unsent record",
          description: "Age of the oldest record a sink has not accepted yet (0 when caught up): how stale the sink's view is.",
          unit: "s",
          width: 8,
          queries: [{ expr: `max by (pod, sink) (${M}oldest_unsent_age_seconds{${S}})`, legend: "{{pod}} {{sink}}" }],
        },
        {
          title: "Queue bytes",
          description: "Bytes waiting for each sink.",
          unit: "bytes",
          width: 8,
          queries: [{ expr: `sum by (pod, sink) (${M}queue_bytes{${S}})`, legend: "{{pod}} {{sink}}" }],
        },
      ],
    },
    {
      title: "Failures and loss",
      panels: [
        {
          title: "Send retries",
          description: "Failed sends that will be retried (transient sink errors), per sink.",
          unit: "ops",
          width: 8,
          queries: [{ expr: `sum by (sink) (rate(${M}send_retries_total{${S}}[$__rate_interval]))`, legend: "{{sink}}" }],
        },
        {
          title: "Drops by reason",
          description: "Records the exporter dropped (queue_full, disk_reserve, storage_error): data lost on purpose under pressure.",
          unit: "ops",
          width: 8,
          queries: [{ expr: `sum by (reason) (rate(${M}records_dropped_total{${S}}[$__rate_interval]))`, legend: "{{reason}}" }],
        },
        {
          title: "Dead letters",
          description: "Records a sink refused for good, written to the dead-letter file for inspection.",
          unit: "ops",
          width: 8,
          queries: [{ expr: `sum by (sink) (rate(${M}records_dead_lettered_total{${S}}[$__rate_interval]))`, legend: "{{sink}}" }],
        },
        {
          title: "Rejected producer lines",
          description: "Producer lines rejected by reason (not_object, invalid_json, invalid_utf8, too_large): a producer bug.",
          unit: "ops",
          queries: [{ expr: `sum by (reason) (rate(${M}protocol_errors_total{${S}}[$__rate_interval]))`, legend: "{{reason}}" }],
        },
        {
          title: "Corrupt records",
          description: "Records lost to torn or missing queue segments found on disk (an estimate).",
          unit: "ops",
          queries: [{ expr: `sum(rate(${M}records_corrupt_total{${S}}[$__rate_interval]))`, legend: "corrupt" }],
        },
      ],
    },
    {
      title: "Disk",
      panels: [
        {
          title: "Disk free",
          description: "Free bytes on the data directory's file system; below --disk-reserve the exporter drops records.",
          unit: "bytes",
          width: 8,
          queries: [{ expr: `min by (pod) (${M}disk_free_bytes{${S}})`, legend: "{{pod}}" }],
        },
        {
          title: "Queue on disk",
          description: "Bytes of queue segments on disk (bounded by --max-bytes).",
          unit: "bytes",
          width: 8,
          queries: [{ expr: `max by (pod) (${M}queue_disk_bytes{${S}})`, legend: "{{pod}}" }],
        },
        {
          title: "fsync latency",
          description: "Time one group commit (write + fdatasync) takes (p99): slow storage slows every producer.",
          unit: "s",
          width: 8,
          queries: [{ expr: `histogram_quantile(0.99, sum by (le) (rate(${M}fsync_duration_seconds_bucket{${S}}[$__rate_interval])))`, legend: "p99" }],
        },
        {
          title: "Producer connections",
          description: "Open producer connections per pod (0 means nothing feeds this exporter).",
          queries: [{ expr: `sum by (pod) (${M}producer_connections{${S}})`, legend: "{{pod}}" }],
        },
      ],
    },
  ],
};
