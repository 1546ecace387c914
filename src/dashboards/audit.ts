import type { DashboardSpec } from "./panels.js";

// Request metrics come from the audit stream (one series per verb/resource/code class/user class);
// namespace is the scrape's namespace, i.e. where `audit serve` runs.
const R = `namespace=~"$namespace", user_class=~"$user_class", verb=~"$verb", resource=~"$resource"`;
const D = `namespace=~"$namespace", verb=~"$verb", resource=~"$resource"`;
const N = `namespace=~"$namespace"`;
const REQ = "watch_auditor_apiserver_requests_total";
const DUR = "watch_auditor_apiserver_request_duration_seconds_bucket";

export const auditDashboard: DashboardSpec = {
  uid: "watch-auditor-apiserver-audit",
  title: "Watch auditor: API server audit",
  description: "Who calls the Kubernetes API server, how, with what outcome and latency, as seen in its audit stream.",
  tags: ["watch-auditor", "audit"],
  variables: [
    { name: "namespace", label: "Namespace", metric: REQ },
    { name: "user_class", label: "User class", metric: REQ },
    { name: "verb", label: "Verb", metric: REQ },
    { name: "resource", label: "Resource", metric: REQ },
  ],
  rows: [
    {
      title: "Traffic",
      panels: [
        {
          title: "Requests by user class",
          description: "Requests per second by kind of caller (node, serviceaccount, system, user, anonymous): who loads the API server.",
          unit: "reqps",
          width: 8,
          queries: [{ expr: `sum by (user_class) (rate(${REQ}{${R}}[$__rate_interval]))`, legend: "{{user_class}}" }],
        },
        {
          title: "Requests by verb",
          description: "Requests per second by verb (get, list, watch, create, update, patch, delete).",
          unit: "reqps",
          width: 8,
          queries: [{ expr: `sum by (verb) (rate(${REQ}{${R}}[$__rate_interval]))`, legend: "{{verb}}" }],
        },
        {
          title: "Top resources",
          description: "The ten resources receiving the most requests.",
          unit: "reqps",
          width: 8,
          queries: [{ expr: `topk(10, sum by (resource) (rate(${REQ}{${R}}[$__rate_interval])))`, legend: "{{resource}}" }],
        },
      ],
    },
    {
      title: "Errors",
      panels: [
        {
          title: "Responses by code class",
          description: "Requests per second by response code class: 4xx are refused requests (auth, not found, conflicts), 5xx are server failures.",
          unit: "reqps",
          queries: [{ expr: `sum by (code_class) (rate(${REQ}{${R}}[$__rate_interval]))`, legend: "{{code_class}}" }],
        },
        {
          title: "Error ratio by user class",
          description: "Share of each caller class's requests answered 4xx or 5xx: which callers are misconfigured or refused.",
          unit: "percentunit",
          queries: [
            {
              expr: `sum by (user_class) (rate(${REQ}{${R}, code_class=~"4xx|5xx"}[$__rate_interval])) / sum by (user_class) (rate(${REQ}{${R}}[$__rate_interval]))`,
              legend: "{{user_class}}",
            },
          ],
        },
        {
          title: "Errors by verb and resource",
          description: "Which verb/resource pairs produce 4xx and 5xx answers, and for which caller class.",
          kind: "table",
          unit: "reqps",
          width: 24,
          queries: [{ expr: `topk(20, sum by (user_class, verb, resource, code_class) (rate(${REQ}{${R}, code_class=~"4xx|5xx"}[$__range])))` }],
        },
      ],
    },
    {
      title: "Latency",
      panels: [
        {
          title: "Latency by verb",
          description: "p99 time from request received to response complete, by verb (long-running watch/exec/proxy excluded).",
          unit: "s",
          queries: [{ expr: `histogram_quantile(0.99, sum by (verb, le) (rate(${DUR}{${D}}[$__rate_interval])))`, legend: "p99 {{verb}}" }],
        },
        {
          title: "Slowest resources",
          description: "The ten resources with the highest p99 latency.",
          unit: "s",
          queries: [{ expr: `topk(10, histogram_quantile(0.99, sum by (resource, le) (rate(${DUR}{${D}}[$__rate_interval]))))`, legend: "{{resource}}" }],
        },
      ],
    },
    {
      title: "Audit pipeline",
      panels: [
        {
          title: "Webhook responses",
          description: "Webhook batches per second by the code the receiver answered the API server with (non-2xx makes the API server retry or drop).",
          unit: "reqps",
          width: 8,
          queries: [{ expr: `sum by (code) (rate(watch_auditor_audit_webhook_requests_total{${N}}[$__rate_interval]))`, legend: "{{code}}" }],
        },
        {
          title: "Events received and stored",
          description: "Audit events per second received, written, already stored (API server retries) and malformed.",
          unit: "ops",
          width: 8,
          queries: [
            { expr: `sum(rate(watch_auditor_audit_events_received_total{${N}}[$__rate_interval]))`, legend: "received" },
            { expr: `sum(rate(watch_auditor_audit_events_inserted_total{${N}}[$__rate_interval]))`, legend: "inserted" },
            { expr: `sum(rate(watch_auditor_audit_events_duplicate_total{${N}}[$__rate_interval]))`, legend: "duplicate" },
            { expr: `sum(rate(watch_auditor_audit_events_malformed_total{${N}}[$__rate_interval]))`, legend: "malformed" },
          ],
        },
        {
          title: "Store writes",
          description: "p99 time to write a group of batches, and failed writes per second (answered 500 so the API server retries).",
          unit: "s",
          width: 8,
          queries: [
            { expr: `histogram_quantile(0.99, sum by (le) (rate(watch_auditor_audit_store_write_duration_seconds_bucket{${N}}[$__rate_interval])))`, legend: "p99 write" },
            { expr: `sum(rate(watch_auditor_audit_store_write_errors_total{${N}}[$__rate_interval]))`, legend: "write errors/s" },
          ],
        },
        {
          title: "Rejected webhook requests",
          description: "Webhook requests refused by reason (too large, bad content, not an EventList …).",
          unit: "reqps",
          queries: [{ expr: `sum by (reason) (rate(watch_auditor_audit_webhook_rejected_total{${N}}[$__rate_interval]))`, legend: "{{reason}}" }],
        },
      ],
    },
  ],
};
