import type { DashboardSpec } from "./panels.js";

// namespace/workload are the flows' own Kubernetes labels (not the scrape's): the workload that
// served an HTTP request, or the source side of a TCP flow.
const H = `namespace=~"$namespace", workload=~"$workload"`;
const SRC = `src_namespace=~"$namespace", src_workload=~"$workload"`;
const HTTP = "http_server_requests_total";
const HTTP_DUR = "http_server_request_duration_seconds_bucket";
const TCP = "watch_auditor_flows_tcp_";
const BY_SVC = "namespace, service";

export const flowsDashboard: DashboardSpec = {
  uid: "watch-auditor-flows",
  title: "Watch auditor: workload traffic",
  description: "Which workloads talk to which, how their HTTP services behave (RED), what leaves the cluster and how much workloads read and write.",
  tags: ["watch-auditor", "flows"],
  variables: [
    { name: "namespace", label: "Namespace", metric: "watch_auditor_flows_io_bytes_total" },
    { name: "workload", label: "Workload", metric: "watch_auditor_flows_io_bytes_total" },
  ],
  rows: [
    {
      title: "Services (RED)",
      panels: [
        {
          title: "Request rate",
          description: "HTTP requests per second each service serves (Hubble L7).",
          unit: "reqps",
          width: 8,
          queries: [{ expr: `sum by (${BY_SVC}) (rate(${HTTP}{${H}}[$__rate_interval]))`, legend: "{{namespace}}/{{service}}" }],
        },
        {
          title: "Error ratio",
          description: "Share of each service's requests answered 5xx (0 when there are none).",
          unit: "percentunit",
          width: 8,
          queries: [
            {
              // "or ... * 0" keeps services without any 5xx at 0 instead of dropping them.
              expr: `(sum by (${BY_SVC}) (rate(${HTTP}{${H}, status_code_class="5xx"}[$__rate_interval])) or sum by (${BY_SVC}) (rate(${HTTP}{${H}}[$__rate_interval])) * 0) / sum by (${BY_SVC}) (rate(${HTTP}{${H}}[$__rate_interval]))`,
              legend: "{{namespace}}/{{service}}",
            },
          ],
        },
        {
          title: "Latency",
          description: "p50 and p99 time to serve a request, per service.",
          unit: "s",
          width: 8,
          queries: [
            { expr: `histogram_quantile(0.5, sum by (${BY_SVC}, le) (rate(${HTTP_DUR}{${H}}[$__rate_interval])))`, legend: "p50 {{namespace}}/{{service}}" },
            { expr: `histogram_quantile(0.99, sum by (${BY_SVC}, le) (rate(${HTTP_DUR}{${H}}[$__rate_interval])))`, legend: "p99 {{namespace}}/{{service}}" },
          ],
        },
        {
          title: "Responses by method and status class",
          description: "Requests per second by HTTP method and status class (2xx … 5xx): what kind of traffic and answers.",
          unit: "reqps",
          width: 24,
          queries: [{ expr: `sum by (method, status_code_class) (rate(${HTTP}{${H}}[$__rate_interval]))`, legend: "{{method}} {{status_code_class}}" }],
        },
      ],
    },
    {
      title: "Workload to workload",
      panels: [
        {
          title: "Connections between workloads",
          description: "TCP connections per second from each source workload to each destination workload (and service): the live dependency map.",
          kind: "table",
          unit: "ops",
          queries: [{ expr: `sum by (src_namespace, src_workload, dst_namespace, dst_workload, dst_service) (rate(${TCP}connections_total{${SRC}}[$__range]))` }],
        },
        {
          title: "Bytes between workloads",
          description: "Bytes per second sent by each source workload to each destination workload.",
          unit: "Bps",
          queries: [{ expr: `topk(20, sum by (src_namespace, src_workload, dst_namespace, dst_workload) (rate(${TCP}sent_bytes_total{${SRC}}[$__rate_interval])))`, legend: "{{src_namespace}}/{{src_workload}} → {{dst_namespace}}/{{dst_workload}}" }],
        },
      ],
    },
    {
      title: "External traffic",
      panels: [
        {
          title: "Egress to outside the cluster",
          description: "Bytes per second workloads send to peers outside the cluster: \"world\" or a named network (--cidr-name).",
          unit: "Bps",
          queries: [{ expr: `sum by (src_namespace, src_workload, dst_workload) (rate(${TCP}sent_bytes_total{${SRC}, dst_namespace=""}[$__rate_interval]))`, legend: "{{src_namespace}}/{{src_workload}} → {{dst_workload}}" }],
        },
        {
          title: "Ingress from outside the cluster",
          description: "Bytes per second workloads receive back from peers outside the cluster.",
          unit: "Bps",
          queries: [{ expr: `sum by (src_namespace, src_workload, dst_workload) (rate(${TCP}received_bytes_total{${SRC}, dst_namespace=""}[$__rate_interval]))`, legend: "{{src_namespace}}/{{src_workload}} ← {{dst_workload}}" }],
        },
      ],
    },
    {
      title: "Read / write",
      panels: [
        {
          title: "I/O by workload",
          description: "Bytes per second each workload reads and writes through read/write syscalls.",
          unit: "Bps",
          queries: [{ expr: `sum by (namespace, workload, direction) (rate(watch_auditor_flows_io_bytes_total{${H}}[$__rate_interval]))`, legend: "{{namespace}}/{{workload}} {{direction}}" }],
        },
        {
          title: "Pipeline health",
          description: "Events read by source and type, lines rejected, and observations folded into overflow series (raise --max-series).",
          unit: "ops",
          queries: [
            { expr: `sum by (source, type) (rate(watch_auditor_flows_events_total[$__rate_interval]))`, legend: "{{source}} {{type}}" },
            { expr: `sum by (source, reason) (rate(watch_auditor_flows_events_invalid_total[$__rate_interval]))`, legend: "invalid {{source}} {{reason}}" },
            { expr: `sum by (metric) (rate(watch_auditor_flows_series_overflow_total[$__rate_interval]))`, legend: "overflow {{metric}}" },
          ],
        },
      ],
    },
  ],
};
