import { Counter, Gauge, Histogram, Registry } from "prom-client";

const P = "watch_auditor_exporter_";

/** Every metric of one exporter, in its own registry so several can live in one process (tests). */
export class ExporterMetrics {
  readonly registry = new Registry();
  readonly received = new Counter({ name: `${P}records_received_total`, help: "Records read from producers that passed validation.", registers: [this.registry] });
  readonly persisted = new Counter({ name: `${P}records_persisted_total`, help: "Records written to the queue and fsynced.", registers: [this.registry] });
  readonly acked = new Counter({ name: `${P}records_acked_total`, help: "Records acknowledged to producers as durable.", registers: [this.registry] });
  readonly sent = new Counter({ name: `${P}records_sent_total`, help: "Records a sink accepted.", labelNames: ["sink"], registers: [this.registry] });
  readonly retries = new Counter({ name: `${P}send_retries_total`, help: "Failed sends that will be retried (transient errors).", labelNames: ["sink"], registers: [this.registry] });
  readonly dropped = new Counter({
    name: `${P}records_dropped_total`,
    help: "Records dropped by the exporter, by reason (queue_full, disk_reserve, storage_error, dead_letter_rotated).",
    labelNames: ["reason"],
    registers: [this.registry],
  });
  readonly deadLettered = new Counter({ name: `${P}records_dead_lettered_total`, help: "Records a sink refused for good, written to the dead-letter file.", labelNames: ["sink"], registers: [this.registry] });
  readonly corrupt = new Counter({ name: `${P}records_corrupt_total`, help: "Records lost to corruption, torn or missing segments found on disk (an estimate where the damage hides the count).", registers: [this.registry] });
  readonly protocolErrors = new Counter({
    name: `${P}protocol_errors_total`,
    help: "Producer lines rejected, by reason (not_object, invalid_json, invalid_utf8, too_large).",
    labelNames: ["reason"],
    registers: [this.registry],
  });
  private readonly refreshers: Array<() => void> = [];
  private refreshedAt = 0;
  /** Gauges computed from state are refreshed when scraped (at most every 50 ms). */
  private readonly refresh = (): void => {
    const now = Date.now();
    if (now - this.refreshedAt < 50) return;
    this.refreshedAt = now;
    for (const r of this.refreshers) r();
  };
  readonly queueRecords = new Gauge({ name: `${P}queue_records`, help: "Records waiting for a sink.", labelNames: ["sink"], registers: [this.registry], collect: this.refresh });
  readonly queueBytes = new Gauge({ name: `${P}queue_bytes`, help: "Bytes on disk waiting for a sink.", labelNames: ["sink"], registers: [this.registry], collect: this.refresh });
  readonly oldestUnsentAge = new Gauge({
    name: `${P}oldest_unsent_age_seconds`,
    help: "Age of the oldest record a sink has not accepted yet (0 when caught up).",
    labelNames: ["sink"],
    registers: [this.registry],
    collect: this.refresh,
  });
  readonly diskFree = new Gauge({ name: `${P}disk_free_bytes`, help: "Free bytes (for unprivileged users) on the data directory's file system.", registers: [this.registry] });
  readonly diskUsed = new Gauge({ name: `${P}queue_disk_bytes`, help: "Bytes of queue segments on disk (bounded by --max-bytes).", registers: [this.registry] });
  readonly connections = new Gauge({ name: `${P}producer_connections`, help: "Open producer connections.", registers: [this.registry] });
  readonly sendDuration = new Histogram({
    name: `${P}send_duration_seconds`,
    help: "Time a sink took to answer one batch.",
    labelNames: ["sink"],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly ackLatency = new Histogram({
    name: `${P}ack_latency_seconds`,
    help: "Time from reading records off a producer's socket to their durable ack (one observation per socket read).",
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  readonly fsyncDuration = new Histogram({
    name: `${P}fsync_duration_seconds`,
    help: "Time one group commit (write + fdatasync) took.",
    buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });

  /** Registers a function that sets state-derived gauges before a scrape. */
  onScrape(fn: () => void): void {
    this.refreshers.push(fn);
  }
}
