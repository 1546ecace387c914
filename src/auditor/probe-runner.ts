// One probe's sequential loop: a cycle starts on a tick of `every`; a tick that falls
// while a cycle still runs is skipped, so cycles never overlap whatever `every` is.
import type { Logger } from "../core/logger.js";
import { describeExpectation, describeStimulus, isReaction, type AnyProbe } from "./reaction-probe.js";
import { runReactionCycle, sweepReaction, type ReactionApi } from "./reaction-cycle.js";
import { abortableSleep, runCycle, type CanaryApi, type CheckResult } from "./cycle.js";
import type { AuditorMetrics } from "./metrics.js";
import { RollPolicy } from "./roll-policy.js";
import { rollController, rollWorkload, type ControllerApi, type RollOutcome } from "./roller.js";
import { errorMessage } from "../core/errors.js";
import { MANAGED_SELECTOR, PROBE_LABEL } from "./canary.js";

export interface RollRecord {
  at: string;
  method: RollOutcome["method"];
  deployments: string[];
  workloads?: string[];
  podsDeleted: string[];
  errors: string[];
}

export interface ProbeStatus {
  name: string;
  kind: "sidecar" | "reaction";
  /** Reaction probes: what the stimulus does and each expected reaction. */
  stimulus?: string;
  expect?: string[];
  mode: AnyProbe["mode"];
  every: number;
  consecutiveFailures: number;
  failureThreshold: number;
  lastSuccess?: string;
  lastCompleted?: string;
  rollsLastHour: number;
  /** Most recent first (up to 10). */
  rolls: RollRecord[];
  checks: CheckResult[];
}

export interface ProbeRunnerDeps {
  canaryApi: CanaryApi;
  controllerApi: ControllerApi;
  /** Needed by reaction probes. */
  reactionApi?: ReactionApi;
  metrics: AuditorMetrics;
  logger: Logger;
  historySize?: number;
  now?: () => number;
}

export class ProbeRunner {
  readonly policy: RollPolicy;
  private history: CheckResult[] = [];
  private lastSuccessAt?: number;
  private lastCompletedAt?: number;
  private rolls: RollRecord[] = [];
  private readonly now: () => number;
  private readonly log: Logger;

  constructor(
    readonly probe: AnyProbe,
    private readonly deps: ProbeRunnerDeps,
  ) {
    this.policy = new RollPolicy(probe);
    this.now = deps.now ?? Date.now;
    this.log = deps.logger.child({ probe: probe.name });
    deps.metrics.initProbe(probe.name);
  }

  get completedAt(): number | undefined {
    return this.lastCompletedAt;
  }

  /** Runs cycles until `signal` aborts; the cycle in flight is aborted and its canary deleted. */
  async run(signal: AbortSignal): Promise<void> {
    const every = this.probe.everyMs;
    let next = this.now();
    while (!signal.aborted) {
      await this.sweep();
      const p = this.probe;
      const result = isReaction(p) ? await runReactionCycle(p, signal, { api: this.reactionApi() }) : await runCycle(p, signal, { api: this.deps.canaryApi });
      await this.handle(result);
      if (signal.aborted) break;
      next += every;
      const t = this.now();
      if (next < t) {
        const missed = Math.ceil((t - next) / every);
        this.deps.metrics.ticksSkipped.inc({ probe: this.probe.name }, missed);
        next += missed * every;
      }
      await abortableSleep(next - t, signal);
    }
  }

  /**
   * Deletes every pod of this probe that is still there. Cycles of a probe never overlap and
   * only the leader runs them, so any such pod is a leftover: of a crashed predecessor, of a
   * failed delete, or of a create that timed out on our side but succeeded on the server.
   */
  private reactionApi(): ReactionApi {
    if (!this.deps.reactionApi) throw new Error(`probe ${this.probe.name}: reaction probes need a reaction API`);
    return this.deps.reactionApi;
  }

  async sweep(): Promise<number> {
    const p = this.probe;
    if (isReaction(p)) {
      let n = 0;
      await sweepReaction(
        p,
        this.reactionApi(),
        `${MANAGED_SELECTOR},${PROBE_LABEL}=${p.name}`,
        (what) => {
          n++;
          this.deps.metrics.orphansDeleted.inc();
          this.log.info({ object: what }, "orphan sweep: deleted leftover stimulus");
        },
        (what, err) => this.log.warn({ object: what, err: errorMessage(err) }, "orphan sweep: cannot list or delete leftovers"),
      );
      return n;
    }
    const ns = p.canary.namespace;
    let deleted = 0;
    let pods: { metadata?: { name?: string } }[];
    try {
      pods = await this.deps.canaryApi.listPods(ns, `${MANAGED_SELECTOR},${PROBE_LABEL}=${p.name}`);
    } catch (err) {
      this.log.warn({ namespace: ns, err: errorMessage(err) }, "orphan sweep: cannot list canaries");
      return 0;
    }
    for (const pod of pods) {
      const name = pod.metadata?.name;
      if (!name) continue;
      try {
        await this.deps.canaryApi.deletePod(ns, name);
        deleted++;
        this.deps.metrics.orphansDeleted.inc();
        this.log.info({ namespace: ns, canary: name }, "orphan sweep: deleted leftover canary");
      } catch (err) {
        this.log.warn({ namespace: ns, canary: name, err: errorMessage(err) }, "orphan sweep: delete failed");
      }
    }
    return deleted;
  }

  async handle(r: CheckResult): Promise<void> {
    const probe = this.probe.name;
    const m = this.deps.metrics;
    this.history.unshift(r);
    this.history.length = Math.min(this.history.length, this.deps.historySize ?? 20);
    if (r.cleanup === "failed") {
      m.canaryCleanupFailures.inc({ probe });
    }
    const fields = { canary: r.canary, runId: r.runId, result: r.result, reason: r.reason, durationMs: r.durationMs, reactionSeconds: r.reactionSeconds, cleanupError: r.cleanupError };
    if (r.result === "aborted") {
      this.log.info(fields, "check aborted");
      return;
    }
    const t = this.now();
    this.lastCompletedAt = t;
    m.checks.inc({ probe, result: r.result });
    if (r.result === "pass") {
      this.lastSuccessAt = t;
      m.lastSuccess.set({ probe }, t / 1000);
      if (r.reactionSeconds !== undefined) m.reaction.observe({ probe }, r.reactionSeconds);
    } else if (r.result === "fail") {
      m.controllerFailures.inc({ probe });
    } else if (r.inconclusive) {
      m.inconclusive.inc({ probe, reason: r.inconclusive });
    }
    const decision = this.policy.record(r.result, t);
    m.consecutiveFailures.set({ probe }, this.policy.consecutiveFailures);
    const level = r.result === "pass" ? "info" : "warn";
    this.log[level]({ ...fields, consecutiveFailures: this.policy.consecutiveFailures }, `check ${r.result}`);
    if (!decision.roll) {
      if (decision.skipped) {
        m.rollsSkipped.inc({ probe, reason: decision.skipped });
        this.log.warn({ consecutiveFailures: this.policy.consecutiveFailures, skipped: decision.skipped }, "failure threshold reached; not rolling");
      }
      return;
    }
    await this.roll(t);
  }

  private async roll(t: number): Promise<void> {
    const probe = this.probe.name;
    const m = this.deps.metrics;
    const p = this.probe;
    const target = isReaction(p) ? p.roll : p.controller;
    this.policy.rolled(t);
    const why = `${this.policy.consecutiveFailures} consecutive failed checks of probe ${probe} (threshold ${this.probe.failureThreshold})`;
    let out: RollOutcome;
    const namespace = target?.namespace;
    const selector = target && "selector" in target ? target.selector : target ? `${target.kind}/${target.name}` : undefined;
    try {
      if (!target) throw new Error("no controller to roll (roll: none)");
      out =
        "selector" in target
          ? await rollController(this.deps.controllerApi, target.namespace, target.selector, why, new Date(t))
          : await rollWorkload(this.deps.controllerApi, target.namespace, target.kind, target.name, why, new Date(t));
    } catch (err) {
      out = { method: "none", deployments: [], podsDeleted: [], errors: [errorMessage(err)] };
    }
    this.rolls.unshift({ at: new Date(t).toISOString(), ...out });
    this.rolls.length = Math.min(this.rolls.length, 10);
    if (out.method !== "none") m.rolls.inc({ probe, method: out.method });
    const acted = out.deployments.length + (out.workloads?.length ?? 0) + out.podsDeleted.length;
    if (acted > 0) m.controllerDeletions.inc({ probe }, acted);
    if (out.errors.length > 0) m.rollErrors.inc({ probe });
    const fields = { namespace, selector, method: out.method, deployments: out.deployments, ...(out.workloads ? { workloads: out.workloads } : {}), podsDeleted: out.podsDeleted, errors: out.errors, why };
    if (acted > 0) this.log.warn(fields, "rolled the watch controller");
    else this.log.error(fields, "could not roll the watch controller");
  }

  status(): ProbeStatus {
    const t = this.now();
    const p = this.probe;
    return {
      name: p.name,
      kind: isReaction(p) ? "reaction" : "sidecar",
      ...(isReaction(p) ? { stimulus: describeStimulus(p), expect: p.expect.map(describeExpectation) } : {}),
      mode: p.mode,
      every: this.probe.everyMs,
      consecutiveFailures: this.policy.consecutiveFailures,
      failureThreshold: this.probe.failureThreshold,
      ...(this.lastSuccessAt !== undefined ? { lastSuccess: new Date(this.lastSuccessAt).toISOString() } : {}),
      ...(this.lastCompletedAt !== undefined ? { lastCompleted: new Date(this.lastCompletedAt).toISOString() } : {}),
      rollsLastHour: this.policy.rollsInLastHour(t),
      rolls: this.rolls,
      checks: this.history,
    };
  }
}
