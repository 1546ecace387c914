import { createWriteStream, type WriteStream } from "node:fs";
import { Gauge, Registry } from "prom-client";
import type { Logger } from "../core/logger.js";
import { OpsServer } from "../core/http-server.js";
import type { NamedCidr } from "../core/kube-metadata/cidr.js";
import { Enricher, type IpResolver } from "./enrich.js";
import { FlowProcessor, type FlowSource } from "./processor.js";
import { FileFollower, readLines, type LineHandlers } from "./lines.js";
import { InvalidEventError } from "./events.js";
import { KeyedCounter } from "./series.js";

export interface FlowsOptions {
  tetragon?: string;
  hubble?: string;
  node?: string;
  port: number;
  host?: string;
  podLabels: boolean;
  maxSeries: number;
  cidrNames: NamedCidr[];
  flowsOut?: string;
  flowsIntervalMs: number;
  fromStart: boolean;
  maxLineBytes: number;
  keepRunning: boolean;
  pollMs: number;
}

/** The cache the service may use; connect is called once, its result is used as soon as it reports ready. */
export interface KubeConnector {
  connect(onStat?: (stat: string, gvr: { resource: string }) => void): Promise<(IpResolver & { stop(): Promise<void>; waitReady(ms: number): Promise<boolean> }) | undefined>;
}

/** At most `burst` messages per window, then one line saying how many were suppressed. */
class RateLimitedLog {
  private windowStart = 0;
  private count = 0;
  private suppressed = 0;
  constructor(
    private readonly log: Logger,
    private readonly burst = 10,
    private readonly windowMs = 10_000,
  ) {}

  warn(obj: Record<string, unknown>, msg: string): void {
    const now = Date.now();
    if (now - this.windowStart >= this.windowMs) {
      if (this.suppressed > 0) this.log.warn({ suppressed: this.suppressed }, "invalid lines not logged individually (rate limit)");
      this.windowStart = now;
      this.count = 0;
      this.suppressed = 0;
    }
    if (this.count++ < this.burst) this.log.warn(obj, msg);
    else this.suppressed++;
  }
}

/**
 * `watch-auditor flows`: follows Tetragon and/or Hubble JSON exports, enriches with the metadata
 * cache (or what events carry), serves /metrics and optionally writes aggregated flows.
 */
export class FlowsService {
  readonly registry = new Registry();
  readonly processor: FlowProcessor;
  private readonly server: OpsServer;
  private readonly followers: FileFollower[] = [];
  private readonly readyGauge: Gauge;
  private resolver: (IpResolver & { stop(): Promise<void>; waitReady(ms: number): Promise<boolean> }) | undefined;
  private flowsTimer: NodeJS.Timeout | undefined;
  private flowsStream: WriteStream | NodeJS.WriteStream | undefined;
  private readonly invalidLog: RateLimitedLog;
  private stopping: Promise<void> | undefined;
  private stdinDone: Promise<void> | undefined;
  private readonly enricherRef: { current: IpResolver | undefined } = { current: undefined };
  private readonly informerStats: KeyedCounter;

  constructor(
    private readonly opts: FlowsOptions,
    private readonly log: Logger,
    private readonly kube?: KubeConnector,
  ) {
    const ref = this.enricherRef;
    // The enricher sees the cache through a proxy so it can be attached after start.
    const resolver: IpResolver = {
      get ready() {
        return ref.current?.ready ?? false;
      },
      get version() {
        return ref.current?.version ?? -1;
      },
      lookup: (ip) => ref.current?.lookup(ip),
      lookupPod: (ns, name) => ref.current?.lookupPod(ns, name),
      serviceFor: (ip, port) => ref.current?.serviceFor(ip, port),
    };
    this.processor = new FlowProcessor({
      registry: this.registry,
      enricher: new Enricher(resolver, opts.cidrNames),
      maxSeries: opts.maxSeries,
      podLabels: opts.podLabels,
      flowsOut: !!opts.flowsOut,
      ...(opts.node ? { node: opts.node } : {}),
    });
    this.readyGauge = new Gauge({
      name: "watch_auditor_flows_kube_cache_ready",
      help: "1 when the Kubernetes metadata cache has synced and enriches flows; 0 when labels come from the events alone.",
      registers: [this.registry],
      collect: () => this.readyGauge.set(ref.current?.ready ? 1 : 0),
    });
    this.informerStats = new KeyedCounter(this.registry, "watch_auditor_flows_kube_informer_total", "Metadata cache list/watch activity by resource: list, relist (after 410 Gone), restart (reconnect), event, error.", ["resource", "stat"]);
    this.invalidLog = new RateLimitedLog(log);
    this.server = new OpsServer({
      registry: this.registry,
      port: opts.port,
      ...(opts.host ? { host: opts.host } : {}),
      readyz: () => ({ ok: true, detail: { kubeCacheReady: ref.current?.ready ?? false } }),
    });
  }

  private handlers(source: FlowSource, where: string): LineHandlers {
    return {
      line: (text, lineNo) => {
        const err = this.processor.handleLine(source, text);
        if (err) this.logInvalid(source, where, lineNo, err);
      },
      tooLong: (lineNo, bytes) => {
        const err = this.processor.reject(source, new InvalidEventError("too_long", `line of ${bytes} bytes exceeds --max-line-bytes ${this.opts.maxLineBytes}`));
        this.logInvalid(source, where, lineNo, err);
      },
    };
  }

  private logInvalid(source: FlowSource, where: string, lineNo: number, err: InvalidEventError): void {
    this.invalidLog.warn({ source, input: `${where}:${lineNo}`, reason: err.reason, error: err.message }, "invalid event line skipped");
  }

  /** Starts everything; resolves with the bound /metrics port. */
  async start(): Promise<number> {
    const port = await this.server.listen();
    this.log.info({ port }, "listening");
    if (this.opts.flowsOut) {
      this.flowsStream = this.opts.flowsOut === "-" ? process.stdout : createWriteStream(this.opts.flowsOut, { flags: "a", mode: 0o640 });
      // A closed stdout or a full disk must not take the metrics down with it.
      this.flowsStream.on("error", (err: Error) => this.log.error({ err: err.message, path: this.opts.flowsOut }, "cannot write --flows-out"));
      this.flowsTimer = setInterval(() => this.flushFlows(), this.opts.flowsIntervalMs);
    }
    for (const [source, path] of [["tetragon", this.opts.tetragon], ["hubble", this.opts.hubble]] as const) {
      if (!path) continue;
      if (path === "-") {
        this.stdinDone = readLines(process.stdin, this.opts.maxLineBytes, this.handlers(source, "stdin")).then(() => this.log.info({ source }, "stdin ended"));
        continue;
      }
      const f = new FileFollower(path, {
        ...this.handlers(source, path),
        maxLineBytes: this.opts.maxLineBytes,
        fromStart: this.opts.fromStart,
        pollMs: this.opts.pollMs,
        notice: (event, detail) => (event === "waiting" && detail.error ? this.log.warn({ source, ...detail }, `input ${event}`) : this.log.info({ source, ...detail }, `input ${event}`)),
      });
      this.followers.push(f);
      f.start();
    }
    if (this.kube) void this.attachKube(this.kube);
    return port;
  }

  private async attachKube(kube: KubeConnector): Promise<void> {
    try {
      this.resolver = await kube.connect((stat, gvr) => this.informerStats.inc([gvr.resource, stat]));
    } catch (err) {
      this.log.warn({ error: (err as Error).message }, "no Kubernetes metadata cache: labelling flows from event data only");
      return;
    }
    if (!this.resolver) return;
    this.enricherRef.current = this.resolver;
    if (this.stopping) return;
    const synced = await this.resolver.waitReady(15_000);
    if (synced) this.log.info("Kubernetes metadata cache ready");
    else this.log.warn("Kubernetes metadata cache not synced after 15s (cluster unreachable?): labelling flows from event data until it is");
  }

  /**
   * Resolves when the command should exit by itself: stdin-only input reached its end
   * (unless --keep-running). Followed files never end.
   */
  async finished(): Promise<void> {
    if (this.stdinDone && this.followers.length === 0 && !this.opts.keepRunning) {
      await this.stdinDone;
      return;
    }
    await new Promise(() => {});
  }

  private flushFlows(): void {
    if (!this.flowsStream) return;
    const records = this.processor.drainFlows();
    if (records.length === 0) return;
    let text = "";
    for (const r of records) text += JSON.stringify(r) + "\n";
    this.flowsStream.write(text);
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await Promise.all(this.followers.map((f) => f.stop()));
      if (this.flowsTimer) clearInterval(this.flowsTimer);
      this.flushFlows();
      const s = this.flowsStream;
      if (s && s !== process.stdout) await new Promise<void>((r) => (s as WriteStream).end(() => r()));
      await this.resolver?.stop();
      await this.server.close();
    })();
    return this.stopping;
  }
}
