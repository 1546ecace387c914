/**
 * Lease-based leader election with client-go semantics (k8s.io/client-go/tools/leaderelection):
 * a coordination.k8s.io/v1 Lease records holderIdentity, leaseDurationSeconds, acquireTime,
 * renewTime and leaseTransitions. A candidate takes the lease when it is absent, released
 * (holderIdentity ""), or not renewed for leaseDuration *as observed on our own clock*
 * (clock-skew safe: we time how long the record stayed unchanged, we never compare
 * timestamps written by another machine). Writes are conditional on resourceVersion, so
 * two candidates can never both win. The leader renews every retryPeriod; if it cannot
 * renew within renewDeadline it steps down (onStoppedLeading) before anyone else may take
 * over (renewDeadline < leaseDuration).
 */
import type { Lease } from "kubernetes-types/coordination/v1.js";
import type { Logger } from "../logger.js";
import { sleep } from "./backoff.js";
import type { KubeClient } from "./client.js";
import { isNotFound, KubeApiError } from "./errors.js";
import { LEASES } from "./gvr.js";

export interface LeaderElectionOptions {
  name: string;
  namespace: string;
  identity: string;
  /** How long a non-renewed lease blocks other candidates (default 15 s; stored as whole seconds, min 1). */
  leaseDurationMs?: number;
  /** A leader that cannot renew for this long steps down (default 10 s). */
  renewDeadlineMs?: number;
  /** Interval between acquire attempts and renewals (default 2 s). */
  retryPeriodMs?: number;
  /** Called when this candidate becomes leader; the signal aborts when leadership ends. */
  onStartedLeading?: (signal: AbortSignal) => void;
  onStoppedLeading?: () => void;
  /** Called when the observed leader changes (including to ourselves). */
  onNewLeader?: (identity: string) => void;
  /** Release the lease when run()'s signal aborts (default true). */
  releaseOnCancel?: boolean;
  logger?: Logger;
}

interface Observed {
  holder: string;
  renewTime: string;
  resourceVersion: string;
  leaseDurationSeconds: number;
  /** Our clock when we saw this record change. */
  at: number;
}

/** Lease times are MicroTime: RFC 3339 with exactly six fractional digits. */
export function microTime(d = new Date()): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

export class LeaderElector {
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private observed?: Observed;
  private lease?: Lease;
  private leading = false;
  private reportedLeader?: string;
  private leaderAbort?: AbortController;

  constructor(
    private readonly client: KubeClient,
    private readonly opts: LeaderElectionOptions,
  ) {
    this.leaseDurationMs = opts.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = opts.retryPeriodMs ?? 2_000;
    if (!opts.identity) throw new TypeError("leader election: identity must not be empty");
    if (this.renewDeadlineMs >= this.leaseDurationMs) throw new TypeError("leader election: renewDeadline must be shorter than leaseDuration");
    if (this.retryPeriodMs >= this.renewDeadlineMs) throw new TypeError("leader election: retryPeriod must be shorter than renewDeadline");
  }

  get identity(): string {
    return this.opts.identity;
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** The last observed holder ("" when released or unknown). */
  get leader(): string {
    return this.observed?.holder ?? "";
  }

  /**
   * Campaigns until the signal aborts: acquire, lead while renewals succeed, step down when
   * they fail for renewDeadline, then campaign again. On abort the lease is released
   * (unless releaseOnCancel is false) so a successor takes over immediately.
   */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      if (!(await this.acquire(signal))) break;
      await this.renewLoop(signal);
    }
    if (this.leading) this.stepDown();
    if (this.opts.releaseOnCancel ?? true) await this.release();
  }

  /** Gives the lease up if we hold it: holderIdentity "" and leaseDurationSeconds 1. */
  async release(): Promise<boolean> {
    const lease = this.lease;
    if (!lease || lease.spec?.holderIdentity !== this.opts.identity) return false;
    const now = microTime();
    const released: Lease = {
      ...lease,
      spec: { ...lease.spec, holderIdentity: "", leaseDurationSeconds: 1, acquireTime: now, renewTime: now, leaseTransitions: lease.spec?.leaseTransitions ?? 0 },
    };
    try {
      this.lease = await this.client.update<Lease>(LEASES, released, { namespace: this.opts.namespace, fieldManager: "watch-auditor-leader-election" });
      if (this.leading) this.stepDown();
      this.opts.logger?.info({ lease: this.leaseRef(), identity: this.opts.identity }, "released the leader lease");
      return true;
    } catch (err) {
      this.opts.logger?.warn({ lease: this.leaseRef(), err: (err as Error).message }, "could not release the leader lease");
      return false;
    }
  }

  private leaseRef(): string {
    return `${this.opts.namespace}/${this.opts.name}`;
  }

  private async acquire(signal: AbortSignal): Promise<boolean> {
    while (!signal.aborted) {
      if (await this.tryAcquireOrRenew(signal)) {
        this.leading = true;
        this.leaderAbort = new AbortController();
        this.opts.logger?.info({ lease: this.leaseRef(), identity: this.opts.identity }, "became leader");
        const s = this.leaderAbort.signal;
        this.safely(() => this.opts.onStartedLeading?.(s));
        return true;
      }
      await sleep(jittered(this.retryPeriodMs), signal);
    }
    return false;
  }

  private async renewLoop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted && this.leading) {
      await sleep(this.retryPeriodMs, signal);
      if (signal.aborted) return;
      const deadline = Date.now() + this.renewDeadlineMs;
      let renewed = false;
      while (!signal.aborted && Date.now() < deadline) {
        if (await this.tryAcquireOrRenew(signal, deadline - Date.now())) {
          renewed = true;
          break;
        }
        if (!this.leading) break;
        await sleep(Math.min(this.retryPeriodMs, Math.max(0, deadline - Date.now())), signal);
      }
      if (signal.aborted) return;
      if (!renewed) {
        this.opts.logger?.warn({ lease: this.leaseRef(), identity: this.opts.identity, renewDeadlineMs: this.renewDeadlineMs }, "failed to renew the leader lease in time; stepping down");
        this.stepDown();
      }
    }
  }

  private stepDown(): void {
    this.leading = false;
    this.leaderAbort?.abort();
    this.safely(() => this.opts.onStoppedLeading?.());
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.opts.logger?.error({ err: (err as Error)?.message }, "leader election callback threw");
    }
  }

  private observe(lease: Lease): void {
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? "";
    const rec = { holder, renewTime: spec.renewTime ?? "", resourceVersion: lease.metadata?.resourceVersion ?? "", leaseDurationSeconds: spec.leaseDurationSeconds ?? 0 };
    const o = this.observed;
    if (!o || o.holder !== rec.holder || o.renewTime !== rec.renewTime || o.resourceVersion !== rec.resourceVersion) {
      this.observed = { ...rec, at: Date.now() };
    }
    this.lease = lease;
    if (holder !== this.reportedLeader) {
      this.reportedLeader = holder;
      if (holder !== "") this.safely(() => this.opts.onNewLeader?.(holder));
    }
  }

  /** One attempt; true when we hold the lease afterwards. Never throws. */
  private async tryAcquireOrRenew(signal: AbortSignal, timeoutMs?: number): Promise<boolean> {
    const ns = this.opts.namespace;
    const durationSeconds = Math.max(1, Math.ceil(this.leaseDurationMs / 1000));
    const now = microTime();
    // Inside the renew loop no single attempt may outlive the renew deadline.
    if (timeoutMs !== undefined) signal = AbortSignal.any([signal, AbortSignal.timeout(Math.max(1, timeoutMs))]);
    let current: Lease;
    try {
      current = await this.client.get<Lease>(LEASES, this.opts.name, ns, { signal });
    } catch (err) {
      if (!isNotFound(err)) return this.failed("get", err);
      const fresh: Lease = {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name: this.opts.name, namespace: ns },
        spec: { holderIdentity: this.opts.identity, leaseDurationSeconds: durationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 },
      };
      try {
        this.observe(await this.client.create<Lease>(LEASES, fresh, { namespace: ns, signal }));
        return true;
      } catch (e) {
        return this.failed("create", e);
      }
    }
    this.observe(current);
    const spec = current.spec ?? {};
    const holder = spec.holderIdentity ?? "";
    const iHold = holder === this.opts.identity;
    if (!iHold && holder !== "") {
      const o = this.observed!;
      const expiresAt = o.at + o.leaseDurationSeconds * 1000;
      if (Date.now() < expiresAt) {
        if (this.leading) {
          // Someone else holds it: we must have lost it (e.g. our renewals were too late).
          this.stepDown();
        }
        return false;
      }
    }
    const next: Lease = {
      ...current,
      spec: {
        ...spec,
        holderIdentity: this.opts.identity,
        leaseDurationSeconds: durationSeconds,
        renewTime: now,
        acquireTime: iHold ? (spec.acquireTime ?? now) : now,
        leaseTransitions: iHold ? (spec.leaseTransitions ?? 0) : (spec.leaseTransitions ?? 0) + 1,
      },
    };
    try {
      this.observe(await this.client.update<Lease>(LEASES, next, { namespace: ns, signal }));
      return true;
    } catch (err) {
      return this.failed("update", err);
    }
  }

  private failed(op: string, err: unknown): false {
    const e = err as KubeApiError;
    // 409 is the normal outcome of a race with another candidate: not worth a warning.
    const level = e instanceof KubeApiError && e.status === 409 ? "debug" : "warn";
    this.opts.logger?.[level]({ lease: this.leaseRef(), op, err: e?.message }, "leader lease attempt failed");
    return false;
  }
}

function jittered(ms: number): number {
  // client-go's JitterUntil with factor 1.2: spread candidates so they do not collide forever.
  return Math.round(ms * (1 + Math.random() * 1.2));
}
