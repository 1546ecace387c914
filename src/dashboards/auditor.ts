import type { DashboardSpec } from "./panels.js";

// Every query filters on the scrape's namespace (where the auditor runs) and on the probe.
const S = `namespace=~"$namespace", probe=~"$probe"`;

export const auditorDashboard: DashboardSpec = {
  uid: "watch-auditor-controller",
  title: "Watch auditor: controller checks",
  description: "Does the audited watch-based controller still react to canary pods, and what did the auditor do about it?",
  tags: ["watch-auditor", "auditor"],
  variables: [
    { name: "namespace", label: "Namespace", metric: "watch_auditor_checks_total" },
    { name: "probe", label: "Probe", metric: "watch_auditor_checks_total" },
  ],
  rows: [
    {
      title: "Is the controller reacting?",
      panels: [
        {
          title: "Pass ratio",
          description: "Share of checks in the time range that passed (the controller reacted to the canary in time).",
          kind: "stat",
          unit: "percentunit",
          width: 6,
          queries: [{ expr: `sum(increase(watch_auditor_checks_total{${S}, result="pass"}[$__range])) / sum(increase(watch_auditor_checks_total{${S}}[$__range]))` }],
        },
        {
          title: "Consecutive failures",
          description: "Current run of failed checks per probe; the auditor rolls the controller when it reaches --failure-threshold.",
          kind: "stat",
          width: 6,
          queries: [{ expr: `max by (probe) (watch_auditor_consecutive_failures{${S}})`, legend: "{{probe}}" }],
        },
        {
          title: "Time since last pass",
          description: "How long ago each probe last saw the controller react (grows without bound while it is broken).",
          kind: "stat",
          unit: "s",
          width: 6,
          queries: [{ expr: `time() - max by (probe) (watch_auditor_last_success_timestamp_seconds{${S}})`, legend: "{{probe}}" }],
        },
        {
          title: "Leader",
          description: "Which auditor replica holds the leader lease (only the leader runs checks).",
          kind: "stat",
          width: 6,
          queries: [{ expr: `max by (pod, instance) (watch_auditor_leader{namespace=~"$namespace"})`, legend: "{{pod}}{{instance}}" }],
        },
        {
          title: "Checks by result",
          description: "Completed checks per second by result: pass, fail (controller did not react) or inconclusive (the check itself could not run).",
          unit: "ops",
          queries: [{ expr: `sum by (probe, result) (rate(watch_auditor_checks_total{${S}}[$__rate_interval]))`, legend: "{{probe}} {{result}}" }],
        },
        {
          title: "Controller failures",
          description: "Failed checks per second: the controller did not terminate the canary's sidecar before the deadline.",
          unit: "ops",
          queries: [{ expr: `sum by (probe) (rate(watch_controller_failures_total{${S}}[$__rate_interval]))`, legend: "{{probe}}" }],
        },
        {
          title: "Inconclusive checks by reason",
          description: "Why checks could not conclude (API errors, canary never scheduled, …): the auditor cannot vouch for the controller meanwhile.",
          unit: "ops",
          queries: [{ expr: `sum by (probe, reason) (rate(watch_auditor_inconclusive_total{${S}}[$__rate_interval]))`, legend: "{{probe}} {{reason}}" }],
        },
        {
          title: "Reaction time",
          description: "Time from the canary's main container exit to the sidecar's termination: how fast the controller acts (p50, p95).",
          unit: "s",
          queries: [
            { expr: `histogram_quantile(0.5, sum by (probe, le) (rate(watch_auditor_reaction_seconds_bucket{${S}}[$__rate_interval])))`, legend: "p50 {{probe}}" },
            { expr: `histogram_quantile(0.95, sum by (probe, le) (rate(watch_auditor_reaction_seconds_bucket{${S}}[$__rate_interval])))`, legend: "p95 {{probe}}" },
          ],
        },
      ],
    },
    {
      title: "What did the auditor do?",
      panels: [
        {
          title: "Rolls by method",
          description: "Controller rolls performed in the time range (rollout_restart of its Deployment, or delete_pods).",
          kind: "stat",
          width: 8,
          queries: [{ expr: `sum by (probe, method) (increase(watch_auditor_rolls_total{${S}}[$__range]))`, legend: "{{probe}} {{method}}" }],
        },
        {
          title: "Rolls skipped by reason",
          description: "Rolls the failure threshold asked for but policy prevented (audit_mode, cooldown, hourly_cap).",
          kind: "stat",
          width: 8,
          queries: [{ expr: `sum by (probe, reason) (increase(watch_auditor_rolls_skipped_total{${S}}[$__range]))`, legend: "{{probe}} {{reason}}" }],
        },
        {
          title: "Roll errors",
          description: "Roll attempts that failed (RBAC, API errors): the controller stays broken.",
          kind: "stat",
          width: 8,
          queries: [{ expr: `sum by (probe) (increase(watch_auditor_roll_errors_total{${S}}[$__range]))`, legend: "{{probe}}" }],
        },
        {
          title: "Controller pods deleted",
          description: "Controller pods deleted per second (plus one per rollout restart): the disruption the auditor caused.",
          unit: "ops",
          queries: [{ expr: `sum by (probe) (rate(watch_controller_deletions_total{${S}}[$__rate_interval]))`, legend: "{{probe}}" }],
        },
        {
          title: "Canary hygiene",
          description: "Canary deletions that failed, leftover canaries swept, and ticks skipped because a cycle overran.",
          unit: "ops",
          queries: [
            { expr: `sum by (probe) (rate(watch_auditor_canary_cleanup_failures_total{${S}}[$__rate_interval]))`, legend: "cleanup failures {{probe}}" },
            { expr: `sum(rate(watch_auditor_orphans_deleted_total{namespace=~"$namespace"}[$__rate_interval]))`, legend: "orphans deleted" },
            { expr: `sum by (probe) (rate(watch_auditor_ticks_skipped_total{${S}}[$__rate_interval]))`, legend: "ticks skipped {{probe}}" },
          ],
        },
      ],
    },
  ],
};
