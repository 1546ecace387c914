// The auditor's Prometheus metrics, on a registry of its own (tests run several auditors
// in one process). The two watch_controller_* names are fixed: existing dashboards use them.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

const MISNAMED_DEFAULT_GAUGES = ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"];

export class AuditorMetrics {
  readonly registry = new Registry();
  /** Failed checks (a fail verdict; inconclusive checks are not failures). */
  readonly controllerFailures: Counter<"probe">;
  /** Controller pods deleted, plus one per Deployment rollout restart. */
  readonly controllerDeletions: Counter<"probe">;
  readonly checks: Counter<"probe" | "result">;
  readonly inconclusive: Counter<"probe" | "reason">;
  readonly consecutiveFailures: Gauge<"probe">;
  readonly lastSuccess: Gauge<"probe">;
  readonly reaction: Histogram<"probe">;
  readonly rolls: Counter<"probe" | "method">;
  readonly rollErrors: Counter<"probe">;
  readonly rollsSkipped: Counter<"probe" | "reason">;
  readonly canaryCleanupFailures: Counter<"probe">;
  readonly orphansDeleted: Counter;
  readonly ticksSkipped: Counter<"probe">;
  readonly isLeader: Gauge;

  constructor(opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (opts.defaultMetrics !== false) {
      // The event-loop-lag histogram samples every 10 ms by default: 100 wake-ups a second on an
      // otherwise idle process. 100 ms is plenty for a component that acts every 30 s.
      collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 100 });
      // prom-client names these gauges *_total, which promtool rejects (only counters may end in _total).
      for (const name of MISNAMED_DEFAULT_GAUGES) this.registry.removeSingleMetric(name);
    }
    this.controllerFailures = new Counter({ name: "watch_controller_failures_total", help: "Checks in which the watch controller did not react to the canary in time.", labelNames: ["probe"], registers });
    this.controllerDeletions = new Counter({
      name: "watch_controller_deletions_total",
      help: "Controller pods deleted by the auditor, plus one per Deployment rollout restart it performed.",
      labelNames: ["probe"],
      registers,
    });
    this.checks = new Counter({ name: "watch_auditor_checks_total", help: "Completed check cycles by result (pass, fail, inconclusive).", labelNames: ["probe", "result"], registers });
    this.inconclusive = new Counter({ name: "watch_auditor_inconclusive_total", help: "Inconclusive checks by reason.", labelNames: ["probe", "reason"], registers });
    this.consecutiveFailures = new Gauge({ name: "watch_auditor_consecutive_failures", help: "Current run of consecutive failed checks (reset by a pass).", labelNames: ["probe"], registers });
    this.lastSuccess = new Gauge({ name: "watch_auditor_last_success_timestamp_seconds", help: "Unix time of the last passed check.", labelNames: ["probe"], registers });
    this.reaction = new Histogram({
      name: "watch_auditor_reaction_seconds",
      help: "Reaction time: canary main container exit to sidecar termination (sidecar probes); stimulus accepted to every expected reaction holding (reaction probes).",
      labelNames: ["probe"],
      buckets: [0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 30, 60],
      registers,
    });
    this.rolls = new Counter({ name: "watch_auditor_rolls_total", help: "Controller rolls performed, by method (rollout_restart, delete_pods).", labelNames: ["probe", "method"], registers });
    this.rollErrors = new Counter({ name: "watch_auditor_roll_errors_total", help: "Roll attempts that failed.", labelNames: ["probe"], registers });
    this.rollsSkipped = new Counter({ name: "watch_auditor_rolls_skipped_total", help: "Rolls the threshold asked for but policy prevented (audit_mode, cooldown, hourly_cap).", labelNames: ["probe", "reason"], registers });
    this.canaryCleanupFailures = new Counter({ name: "watch_auditor_canary_cleanup_failures_total", help: "Canary deletions that failed (the pod is retried and swept later).", labelNames: ["probe"], registers });
    this.orphansDeleted = new Counter({ name: "watch_auditor_orphans_deleted_total", help: "Leftover canary pods deleted by the sweep.", registers });
    this.ticksSkipped = new Counter({ name: "watch_auditor_ticks_skipped_total", help: "Ticks skipped because the previous cycle was still running.", labelNames: ["probe"], registers });
    this.isLeader = new Gauge({ name: "watch_auditor_leader", help: "1 while this replica holds the leader lease.", registers });
  }

  /** Makes every probe's series visible at 0 from the start, so rate() and absent() behave. */
  initProbe(probe: string): void {
    this.controllerFailures.inc({ probe }, 0);
    this.controllerDeletions.inc({ probe }, 0);
    for (const result of ["pass", "fail", "inconclusive"]) this.checks.inc({ probe, result }, 0);
    this.consecutiveFailures.set({ probe }, 0);
  }
}
