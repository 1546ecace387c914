import type { Logger } from "../core/logger.js";
import { OpsServer, sendJson, type RouteHandler } from "../core/http-server.js";
import { createHttpAuth } from "../core/http-auth.js";
import type { ExporterConfig } from "./config.js";
import { DataDirLock } from "./data-dir-lock.js";
import { Forwarder } from "./forwarder.js";
import { ExporterMetrics } from "./metrics.js";
import { ProducerServer, formatListenAddress, type ListenAddress } from "./producer-server.js";
import { DurableQueue } from "./queue/durable-queue.js";
import type { Sink } from "./sink.js";

export type SinkFactory = (url: string, options: Record<string, unknown>) => Sink | Promise<Sink>;

/**
 * The exporter: producer sockets → durable queue → one forwarder per sink, plus the ops
 * HTTP server. start() takes the data-dir lock first so that two exporters never share
 * a queue; shutdown() is the SIGTERM path.
 */
export class Exporter {
  private stopping = false;
  private gaugeTimer: NodeJS.Timeout | undefined;
  private closeAuth: () => void = () => {};

  private constructor(
    private readonly cfg: ExporterConfig,
    private readonly log: Logger,
    readonly metrics: ExporterMetrics,
    private readonly lock: DataDirLock,
    private readonly queue: DurableQueue,
    private readonly sinks: Sink[],
    private readonly forwarders: Forwarder[],
    private readonly producers: ProducerServer,
    private readonly ops: OpsServer,
    readonly addresses: ListenAddress[],
    readonly opsPort: number,
  ) {}

  static async start(cfg: ExporterConfig, createSink: SinkFactory, log: Logger): Promise<Exporter> {
    const cleanup: Array<() => Promise<unknown>> = [];
    try {
      const sinks: Sink[] = [];
      for (const spec of cfg.sinks) {
        const sink = await createSink(spec.url, spec.options);
        cleanup.push(() => sink.close());
        if (sinks.some((s) => s.name === sink.name)) throw new Error(`--sink ${sink.name}: given twice`);
        sinks.push(sink);
      }
      const lock = await DataDirLock.acquire(cfg.dataDir);
      cleanup.push(() => lock.release());
      const metrics = new ExporterMetrics();
      const queue = await DurableQueue.open({
        dataDir: cfg.dataDir,
        sinks: sinks.map((s) => s.name),
        maxBytes: cfg.maxBytes,
        whenFull: cfg.whenFull,
        diskReserveBytes: cfg.diskReserveBytes,
        segmentBytes: cfg.segmentBytes,
        metrics,
        logger: log,
      });
      cleanup.push(() => queue.close());
      const forwarders = sinks.map(
        (sink) =>
          new Forwarder({
            queue,
            sink,
            dataDir: cfg.dataDir,
            deadLetterMaxBytes: cfg.deadLetterMaxBytes,
            backoffInitialMs: cfg.backoffInitialMs,
            backoffMaxMs: cfg.backoffMaxMs,
            batchRecords: cfg.batchRecords,
            batchBytes: cfg.batchBytes,
            logger: log,
          }),
      );
      for (const f of forwarders) {
        f.start();
        cleanup.push(() => f.stop());
      }
      const ref: { self?: Exporter } = {};
      // /status tells sink names, cursors and backlogs: served only behind the bearer-token gate.
      const gate = cfg.auth ? await createHttpAuth(cfg.auth, metrics.registry, log) : undefined;
      if (gate) {
        cleanup.push(async () => gate.close());
        log.info(gate.describe, "/status authentication");
      }
      const status: RouteHandler = gate
        ? (_req, res) => sendJson(res, 200, ref.self?.status() ?? {})
        : (_req, res) => sendJson(res, 404, { error: "/status is not served: start the exporter with --auth (kubernetes, token-file or none) to serve it" });
      const ops = new OpsServer({
        registry: metrics.registry,
        port: cfg.port,
        readyz: () => (ref.self ? ref.self.readiness() : { ok: false, detail: "starting" }),
        routes: { "/status": status },
        auth: gate?.auth,
      });
      const opsPort = await ops.listen();
      cleanup.push(() => ops.close());
      const producers = new ProducerServer({ listen: cfg.listen, queue, maxRecordBytes: cfg.maxRecordBytes, socketMode: cfg.socketMode, logger: log });
      cleanup.push(() => producers.stop(1000));
      const addresses = await producers.start();
      const self = new Exporter(cfg, log, metrics, lock, queue, sinks, forwarders, producers, ops, addresses, opsPort);
      ref.self = self;
      if (gate) self.closeAuth = gate.close;
      metrics.onScrape(() => self.updateGauges());
      self.gaugeTimer = setInterval(() => self.updateGauges(), 1000);
      self.gaugeTimer.unref();
      self.updateGauges();
      log.info(
        { listen: addresses.map(formatListenAddress), dataDir: cfg.dataDir, sinks: sinks.map((s) => s.name), metricsPort: opsPort, headSeq: String(queue.headSeq) },
        "exporter started",
      );
      return self;
    } catch (err) {
      for (const c of cleanup.reverse()) await c().catch(() => {});
      throw err;
    }
  }

  private updateGauges(): void {
    for (const f of this.forwarders) this.metrics.oldestUnsentAge.set({ sink: f.sinkName }, f.oldestUnsentAgeMs() / 1000);
    this.queue.updateGauges();
  }

  readiness(): { ok: boolean; detail?: unknown } {
    if (this.stopping) return { ok: false, detail: "shutting down" };
    const stalled = this.forwarders
      .map((f) => ({ sink: f.sinkName, stalledForMs: f.stalledForMs() }))
      .filter((s) => s.stalledForMs > this.cfg.stallTimeoutMs);
    if (stalled.length > 0) return { ok: false, detail: { stalled } };
    return { ok: true };
  }

  status(): unknown {
    return {
      headSeq: String(this.queue.headSeq),
      diskBytes: this.queue.diskBytes,
      sinks: this.forwarders.map((f) => ({
        sink: f.sinkName,
        ackedSeq: String(this.queue.ackedSeq(f.sinkName)),
        ...this.queue.backlog(f.sinkName),
        oldestUnsentAgeMs: f.oldestUnsentAgeMs(),
      })),
    };
  }

  /** SIGTERM: stop accepting, make everything read durable and acked, drain within the grace period. */
  async shutdown(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const deadline = Date.now() + this.cfg.graceMs;
    this.log.info({ graceMs: this.cfg.graceMs }, "shutting down: no new connections; draining");
    await this.producers.stop(Math.max(1000, this.cfg.graceMs / 2));
    await this.queue.flush();
    while (Date.now() < deadline && !this.forwarders.every((f) => f.caughtUp())) await new Promise((r) => setTimeout(r, 20));
    const left = this.forwarders.filter((f) => !f.caughtUp()).map((f) => ({ sink: f.sinkName, ...this.queue.backlog(f.sinkName) }));
    if (left.length > 0) this.log.warn({ left }, "grace period over: records stay queued for the next start");
    for (const f of this.forwarders) await f.stop();
    for (const s of this.sinks) await s.close().catch(() => {});
    if (this.gaugeTimer) clearInterval(this.gaugeTimer);
    await this.queue.close();
    await this.ops.close();
    this.closeAuth();
    await this.lock.release();
    this.log.info("exporter stopped");
  }
}
