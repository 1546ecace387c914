// The contract between the exporter's forwarder (queue side) and its sinks.

/** One durable record as the forwarder hands it to a sink. */
export interface SinkRecord {
  /** Unique, monotonically increasing; sinks use it as an idempotency key. */
  seq: bigint;
  /** The record exactly as the producer sent it: one JSON object, UTF-8, no trailing newline. */
  data: Buffer;
}

export type SinkOutcome =
  /** Every record of the batch was accepted. */
  | { kind: "ok" }
  /** Nothing (or only a prefix, see `accepted`) was accepted; retry the rest later with backoff. */
  | { kind: "transient"; reason: string; accepted?: number; retryAfterMs?: number }
  /**
   * The sink refused the batch (or the record at index `accepted`) for good, e.g. HTTP 400.
   * The forwarder dead-letters the refused record(s) with `reason` and goes on.
   * `accepted` records before it were delivered; `rejected` says how many after them are refused
   * (default: the rest of the batch when the sink cannot tell which record was at fault).
   */
  | { kind: "permanent"; reason: string; accepted?: number; rejected?: number };

export interface Sink {
  /** Stable name for metrics and the sink's cursor file, e.g. "http://collector:8080/ingest". */
  readonly name: string;
  /** Largest batch the sink wants, in records and bytes. */
  readonly maxBatchRecords: number;
  readonly maxBatchBytes: number;
  /** Delivers a batch in order. Never throws: failures are outcomes. */
  send(batch: SinkRecord[], signal: AbortSignal): Promise<SinkOutcome>;
  close(): Promise<void>;
}

export interface SinkFactoryOptions {
  /** Per-request timeout for network sinks. */
  timeoutMs: number;
}
