import type { Logger } from "../core/logger.js";
import { backoffDelayMs, sleep } from "./backoff.js";
import { DeadLetterFile } from "./dead-letter.js";
import type { DurableQueue, QueuedRecord } from "./queue/durable-queue.js";
import { QueueReader } from "./queue/queue-reader.js";
import type { Sink, SinkOutcome } from "./sink.js";

export const DEAD_LETTER_MAX_BYTES = 64 * 1024 * 1024;

export interface ForwarderOptions {
  queue: DurableQueue;
  sink: Sink;
  dataDir: string;
  backoffInitialMs: number;
  backoffMaxMs: number;
  /** Further caps on the sink's own batch limits. */
  batchRecords?: number;
  batchBytes?: number;
  /**
   * Upper bound on one send, whatever the sink's own timeout does (default 60 s): a sink whose
   * request never settles must not stall the forwarder forever. The attempt counts as transient.
   */
  sendTimeoutMs?: number;
  /** Bound on the sink's dead-letter file before it is rotated (default 64 MiB). */
  deadLetterMaxBytes?: number;
  logger?: Logger;
  random?: () => number;
  now?: () => number;
}

/**
 * Moves one sink's records from the queue head to the sink, in order: send, and only
 * after success move the sink's cursor. Transient failures are retried forever with
 * backoff; permanent refusals go to the dead-letter file.
 */
export class Forwarder {
  private readonly reader: QueueReader;
  private readonly deadLetters: DeadLetterFile;
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  private inHand: QueuedRecord[] = [];
  /** Last time the sink took records, or we had nothing to send. */
  private lastProgressAt: number;
  private attempt = 0;
  private readonly now: () => number;

  constructor(private readonly opts: ForwarderOptions) {
    this.reader = new QueueReader(opts.queue, opts.sink.name);
    this.deadLetters = new DeadLetterFile(opts.dataDir, opts.sink.name, {
      maxBytes: opts.deadLetterMaxBytes ?? DEAD_LETTER_MAX_BYTES,
      onDropped: (n) => {
        opts.queue.metrics.dropped.inc({ reason: "dead_letter_rotated" }, n);
        opts.logger?.warn({ sink: opts.sink.name, records: n, file: this.deadLetters.previousPath }, "dead-letter file rotated: the oldest dead letters were removed");
      },
    });
    this.now = opts.now ?? Date.now;
    this.lastProgressAt = this.now();
  }

  get sinkName(): string {
    return this.opts.sink.name;
  }

  start(): void {
    this.running ??= this.loop().catch((err: unknown) => {
      this.opts.logger?.fatal({ sink: this.sinkName, err: (err as Error).message }, "forwarder failed");
      throw err;
    });
  }

  /** Age of the oldest record the sink has not accepted, 0 when caught up. */
  oldestUnsentAgeMs(): number {
    const first = this.inHand[0];
    return first ? Math.max(0, this.now() - first.appendedAtMs) : 0;
  }

  /** How long the sink made no progress while records waited (0 when fine). */
  stalledForMs(): number {
    if (this.inHand.length === 0) return 0;
    return this.now() - this.lastProgressAt;
  }

  caughtUp(): boolean {
    return this.inHand.length === 0 && this.opts.queue.ackedSeq(this.sinkName) >= this.opts.queue.headSeq - 1n;
  }

  /** Stops after the current attempt; an in-flight send is aborted (its records stay queued). */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.running?.catch(() => {});
    await this.reader.close();
  }

  private maxRecords(): number {
    return Math.max(1, Math.min(this.opts.sink.maxBatchRecords, this.opts.batchRecords ?? Number.MAX_SAFE_INTEGER));
  }

  private maxBytes(): number {
    return Math.max(1, Math.min(this.opts.sink.maxBatchBytes, this.opts.batchBytes ?? Number.MAX_SAFE_INTEGER));
  }

  private async loop(): Promise<void> {
    const signal = this.abort.signal;
    const { metrics } = this.opts.queue;
    const sink = this.opts.sink;
    while (!signal.aborted) {
      this.inHand = await this.reader.read(this.maxRecords(), this.maxBytes(), signal);
      // The stall clock starts when records are in hand, not when we began waiting for them.
      this.lastProgressAt = this.now();
      while (this.inHand.length > 0 && !signal.aborted) {
        const batch = this.inHand;
        const t0 = performance.now();
        const outcome = await this.sendWithDeadline(batch, signal);
        metrics.sendDuration.observe({ sink: sink.name }, (performance.now() - t0) / 1000);
        if (signal.aborted) break;
        if (outcome.kind === "ok") {
          await this.delivered(batch.length);
          this.attempt = 0;
          continue;
        }
        const accepted = Math.max(0, Math.min(outcome.accepted ?? 0, batch.length));
        if (accepted > 0) await this.delivered(accepted);
        if (outcome.kind === "permanent") {
          const n = Math.max(1, Math.min(outcome.rejected ?? this.inHand.length, this.inHand.length));
          const refused = this.inHand.slice(0, n);
          await this.deadLetters.write(refused, outcome.reason);
          metrics.deadLettered.inc({ sink: sink.name }, n);
          this.opts.logger?.warn({ sink: sink.name, records: n, firstSeq: String(refused[0]!.seq), reason: outcome.reason }, "sink refused records for good: dead-lettered");
          await this.commit(refused[refused.length - 1]!);
          this.inHand = this.inHand.slice(n);
          this.attempt = 0;
          continue;
        }
        metrics.retries.inc({ sink: sink.name });
        const backoff = backoffDelayMs(this.attempt++, this.opts.backoffInitialMs, this.opts.backoffMaxMs, this.opts.random);
        const delay = outcome.retryAfterMs !== undefined ? Math.min(this.opts.backoffMaxMs, Math.max(backoff, outcome.retryAfterMs)) : backoff;
        if (this.attempt === 1 || this.attempt % 10 === 0) {
          this.opts.logger?.warn({ sink: sink.name, attempt: this.attempt, delayMs: delay, reason: outcome.reason, records: this.inHand.length }, "send failed; retrying");
        }
        await sleep(delay, signal);
      }
    }
  }

  private async sendWithDeadline(batch: QueuedRecord[], outer: AbortSignal): Promise<SinkOutcome> {
    const limitMs = this.opts.sendTimeoutMs ?? 60_000;
    const ac = new AbortController();
    const onAbort = (): void => ac.abort();
    outer.addEventListener("abort", onAbort, { once: true });
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<SinkOutcome>((resolve) => {
      timer = setTimeout(() => {
        ac.abort();
        resolve({ kind: "transient", reason: `send did not finish within ${limitMs} ms` });
      }, limitMs);
    });
    try {
      return await Promise.race([
        this.opts.sink.send(
          batch.map((r) => ({ seq: r.seq, data: r.data })),
          ac.signal,
        ),
        deadline,
      ]);
    } catch (err) {
      // The contract says send() never throws; treat a bug in a sink as transient.
      return { kind: "transient", reason: `sink threw: ${(err as Error).message}` };
    } finally {
      clearTimeout(timer);
      outer.removeEventListener("abort", onAbort);
    }
  }

  private async delivered(n: number): Promise<void> {
    const done = this.inHand.slice(0, n);
    this.opts.queue.metrics.sent.inc({ sink: this.sinkName }, n);
    await this.commit(done[done.length - 1]!);
    this.inHand = this.inHand.slice(n);
  }

  private async commit(last: QueuedRecord): Promise<void> {
    this.lastProgressAt = this.now();
    await this.opts.queue.ack(this.sinkName, last.seq, { segFirst: last.segFirst, end: last.end });
  }
}
