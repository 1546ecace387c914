// Placeholder until the core leader election lands.
import type { KubeClient } from "../core/kube/index.js";
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
  constructor(_kube: KubeClient, opts: LeaseLeadershipOptions) {
    this.identity = opts.identity;
  }
  async run(): Promise<void> {
    throw new Error("leader election not available yet");
  }
}
