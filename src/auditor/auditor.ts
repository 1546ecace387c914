// The long-running auditor: leader election decides who checks and rolls; the leader
// sweeps orphans, then runs one sequential loop per probe until shutdown or lost leadership.
import type { IncomingMessage, ServerResponse } from "node:http";
import { errorMessage } from "../core/errors.js";
import { OpsServer, sendJson, type ProbeResult } from "../core/http-server.js";
import type { Logger } from "../core/logger.js";
import { isReaction, type AnyProbe } from "./reaction-probe.js";
import type { ReactionApi } from "./reaction-cycle.js";
import type { CanaryApi } from "./cycle.js";
import { AuditorMetrics } from "./metrics.js";
import { ProbeRunner } from "./probe-runner.js";
import type { ControllerApi } from "./roller.js";

/** Leader election as the auditor needs it; backed by a coordination.k8s.io Lease in production. */
export interface Leadership {
  /**
   * Campaigns until `signal` aborts, then releases the lease. Each time leadership is
   * gained it calls `lead` with a signal that aborts when leadership is lost.
   */
  run(signal: AbortSignal, lead: (leaderSignal: AbortSignal) => Promise<void>): Promise<void>;
  readonly identity: string;
}

/** `--leader-elect=false`: a single replica that is always the leader. */
export class AlwaysLeader implements Leadership {
  readonly identity = "single-replica";
  async run(signal: AbortSignal, lead: (leaderSignal: AbortSignal) => Promise<void>): Promise<void> {
    await lead(signal);
  }
}

export interface PingApi {
  /** A cheap authorised call: is the API reachable with our credentials? */
  ping(): Promise<void>;
}

export interface AuditorOptions {
  probes: AnyProbe[];
  canaryApi: CanaryApi;
  controllerApi: ControllerApi;
  reactionApi?: ReactionApi;
  pingApi: PingApi;
  leadership: Leadership;
  logger: Logger;
  port: number;
  host?: string;
  metrics?: AuditorMetrics;
  now?: () => number;
}

const PING_CACHE_MS = 2000;

export class Auditor {
  readonly metrics: AuditorMetrics;
  private readonly runners: ProbeRunner[];
  private readonly server: OpsServer;
  private readonly stopping = new AbortController();
  private leadingSince?: number;
  private running?: Promise<void>;
  private lastPing?: { at: number; ok: boolean; error?: string };
  private readonly now: () => number;

  constructor(private readonly opts: AuditorOptions) {
    this.metrics = opts.metrics ?? new AuditorMetrics();
    this.now = opts.now ?? Date.now;
    this.runners = opts.probes.map((p) => new ProbeRunner(p, { canaryApi: opts.canaryApi, controllerApi: opts.controllerApi, reactionApi: opts.reactionApi, metrics: this.metrics, logger: opts.logger }));
    this.metrics.isLeader.set(0);
    this.server = new OpsServer({
      registry: this.metrics.registry,
      port: opts.port,
      host: opts.host,
      healthz: () => ({ ok: true }),
      readyz: () => this.readiness(),
      routes: { "/status": (req, res) => this.sendStatus(req, res) },
    });
  }

  /** Longest time a healthy leader can go without completing a check of this probe. */
  static expectedCheckIntervalMs(p: AnyProbe): number {
    // A reaction check: discovery, the stimulus, polls until the deadline, cleanup.
    if (isReaction(p)) return p.everyMs + p.deadlineMs + 2 * p.pollIntervalMs + 30_000;
    const c = p.canary;
    return p.everyMs + c.startTimeoutMs + c.lifetimeMs + c.deadlineMs + 2 * c.pollIntervalMs + 10_000;
  }

  async start(): Promise<number> {
    const port = await this.server.listen();
    this.running = this.opts.leadership
      .run(this.stopping.signal, (leaderSignal) => this.lead(leaderSignal))
      .catch((err: unknown) => this.opts.logger.error({ err: errorMessage(err) }, "leader election stopped"));
    return port;
  }

  /** Aborts the cycles (each deletes its canary), releases the lease, closes the HTTP server. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.running;
    await this.server.close();
  }

  private async lead(leaderSignal: AbortSignal): Promise<void> {
    this.leadingSince = this.now();
    this.metrics.isLeader.set(1);
    this.opts.logger.info({ identity: this.opts.leadership.identity, probes: this.runners.map((r) => r.probe.name) }, "leading: starting checks");
    try {
      // Each loop sweeps its probe's leftovers before every cycle, starting with this term's first.
      await Promise.all(this.runners.map((r) => r.run(leaderSignal)));
    } finally {
      this.leadingSince = undefined;
      this.metrics.isLeader.set(0);
      this.opts.logger.info({ identity: this.opts.leadership.identity }, "stopped leading");
    }
  }

  private async apiReachable(): Promise<{ ok: boolean; error?: string }> {
    const t = this.now();
    if (this.lastPing && t - this.lastPing.at < PING_CACHE_MS) return this.lastPing;
    try {
      await this.opts.pingApi.ping();
      this.lastPing = { at: t, ok: true };
    } catch (err) {
      this.lastPing = { at: t, ok: false, error: errorMessage(err) };
    }
    return this.lastPing;
  }

  /**
   * Ready = the API answers our credentials, and, on the leader, every probe completed a
   * check within its expected interval (counted from when leadership began).
   * A non-leader is ready when the API answers: it is a warm standby.
   */
  async readiness(): Promise<ProbeResult> {
    const api = await this.apiReachable();
    if (!api.ok) return { ok: false, detail: { api: `unreachable: ${api.error}` } };
    if (this.leadingSince === undefined) return { ok: true, detail: { leader: false } };
    const t = this.now();
    const late = this.runners
      .filter((r) => t - Math.max(r.completedAt ?? 0, this.leadingSince!) > Auditor.expectedCheckIntervalMs(r.probe))
      .map((r) => r.probe.name);
    if (late.length > 0) return { ok: false, detail: { leader: true, noRecentCheck: late } };
    return { ok: true, detail: { leader: true } };
  }

  status(): unknown {
    return {
      identity: this.opts.leadership.identity,
      leader: this.leadingSince !== undefined,
      ...(this.leadingSince !== undefined ? { leadingSince: new Date(this.leadingSince).toISOString() } : {}),
      probes: Object.fromEntries(this.runners.map((r) => [r.probe.name, r.status()])),
    };
  }

  private sendStatus(_req: IncomingMessage, res: ServerResponse): void {
    sendJson(res, 200, this.status());
  }
}
