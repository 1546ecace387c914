import type { DashboardSpec } from "./panels.js";

// namespace/workload are the flows' own Kubernetes labels (not the scrape's): the workload that
// served an HTTP request, or the source side of a TCP flow.
const H = `namespace=~"$namespace", workload=~"$workload"`;
const SRC = `src_namespace=~"$namespace", src_workload=~"$workload"`;
const HTTP = "http_server_requests_total";
const HTTP_DUR = "http_server_request_duration_seconds_bucket";
const TCP = "watch_auditor_flows_tcp_";
const BY_SVC = "namespace, service";
const DROPS = "watch_auditor_flows_drops_total";
const DNS = "watch_auditor_flows_dns_requests_total";
const DNS_DUR = "watch_auditor_flows_dns_request_duration_seconds_bucket";
const DST = `dst_namespace=~"$namespace", dst_workload=~"$workload"`;
const PAIR = "src_namespace, src_workload, dst_namespace, dst_workload, reason, direction, policy";
// Drops per pair where the selected workloads are on either side (or keeps one copy of a pair on both).
const DROPS_EITHER = (fn: string, range: string) => `(sum by (${PAIR}) (${fn}(${DROPS}{${SRC}}[${range}])) or sum by (${PAIR}) (${fn}(${DROPS}{${DST}}[${range}])))`;

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
      title: "Network policy drops (Hubble)",
      panels: [
        {
          title: "Dropped flows",
          description: "Which workload pairs are dropped, why (drop_reason_desc), in which direction and by which policy (empty when Hubble names none), over the dashboard's time range. `watch-auditor flows drops` gives the ports.",
          kind: "table",
          unit: "short",
          queries: [{ expr: `sort_desc(${DROPS_EITHER("increase", "$__range")})` }],
        },
        {
          title: "Drops by reason",
          description: "Dropped flows per second by drop reason and direction: a new reason or a step up is a policy or datapath change.",
          unit: "ops",
          queries: [{ expr: `sum by (reason, direction) ${DROPS_EITHER("rate", "$__rate_interval")}`, legend: "{{reason}} {{direction}}" }],
        },
        {
          title: "Flows by verdict",
          description: "Every Hubble flow by verdict (FORWARDED, DROPPED, REDIRECTED to the proxy, AUDIT = would be dropped in policy audit mode, ERROR).",
          unit: "ops",
          queries: [{ expr: `sum by (verdict) (rate(watch_auditor_flows_hubble_verdicts_total[$__rate_interval]))`, legend: "{{verdict}}" }],
        },
      ],
    },
    {
      title: "DNS (Hubble L7)",
      panels: [
        {
          title: "DNS queries by response code",
          description: "DNS answers per second the selected workloads receive, by rcode (NXDOMAIN: names that do not exist, often search-path expansion; SERVFAIL: the resolver failed).",
          unit: "reqps",
          width: 8,
          queries: [{ expr: `sum by (rcode) (rate(${DNS}{${SRC}}[$__rate_interval]))`, legend: "{{rcode}}" }],
        },
        {
          title: "DNS error ratio by client",
          description: "Share of each client workload's DNS answers that are not NOERROR.",
          unit: "percentunit",
          width: 8,
          queries: [
            {
              expr: `(sum by (src_namespace, src_workload) (rate(${DNS}{${SRC}, rcode!="NOERROR"}[$__rate_interval])) or sum by (src_namespace, src_workload) (rate(${DNS}{${SRC}}[$__rate_interval])) * 0) / sum by (src_namespace, src_workload) (rate(${DNS}{${SRC}}[$__rate_interval]))`,
              legend: "{{src_namespace}}/{{src_workload}}",
            },
          ],
        },
        {
          title: "DNS latency",
          description: "p50 and p99 time from query to answer, per DNS server workload.",
          unit: "s",
          width: 8,
          queries: [
            { expr: `histogram_quantile(0.5, sum by (dst_namespace, dst_workload, le) (rate(${DNS_DUR}{${SRC}}[$__rate_interval])))`, legend: "p50 {{dst_namespace}}/{{dst_workload}}" },
            { expr: `histogram_quantile(0.99, sum by (dst_namespace, dst_workload, le) (rate(${DNS_DUR}{${SRC}}[$__rate_interval])))`, legend: "p99 {{dst_namespace}}/{{dst_workload}}" },
          ],
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
