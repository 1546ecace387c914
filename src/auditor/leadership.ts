// Lease-based leadership for the auditor, on the core LeaderElector. The lease is released
// only after the leader's cycles have finished deleting their canaries, so a successor
// never starts while our canary still exists.
import type { KubeClient } from "../core/kube/index.js";
import { LeaderElector } from "../core/kube/leader-election.js";
import { errorMessage } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import type { Leadership } from "./auditor.js";

export interface LeaseLeadershipOptions {
  name: string;
  namespace: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  logger: Logger;
}

export class LeaseLeadership implements Leadership {
  readonly identity: string;
  constructor(
    private readonly kube: KubeClient,
    private readonly opts: LeaseLeadershipOptions,
  ) {
    this.identity = opts.identity;
  }

  async run(signal: AbortSignal, lead: (leaderSignal: AbortSignal) => Promise<void>): Promise<void> {
    // Terms of leadership run one after the other: a new term waits for the old one's cleanup.
    let terms: Promise<void> = Promise.resolve();
    const elector = new LeaderElector(this.kube, {
      name: this.opts.name,
      namespace: this.opts.namespace,
      identity: this.opts.identity,
      leaseDurationMs: this.opts.leaseDurationMs,
      renewDeadlineMs: this.opts.renewDeadlineMs,
      retryPeriodMs: this.opts.retryPeriodMs,
      releaseOnCancel: false,
      logger: this.opts.logger,
      onStartedLeading: (leaderSignal) => {
        terms = terms.then(() => (leaderSignal.aborted ? undefined : lead(leaderSignal))).catch((err: unknown) => this.opts.logger.error({ err: errorMessage(err) }, "leader term failed"));
      },
      onNewLeader: (holder) => this.opts.logger.info({ leader: holder, self: holder === this.opts.identity }, "leader observed"),
    });
    await elector.run(signal);
    await terms;
    await elector.release();
  }
}
