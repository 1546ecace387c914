import type { Writable } from "node:stream";
import type { Sink, SinkOutcome, SinkRecord } from "../sink.js";
import type { ParsedSinkUrl } from "./options.js";
import { encodeBody } from "./http.js";

export const STDOUT_DEFAULTS = { batchRecords: 1000, batchBytes: 1024 * 1024 } as const;

/**
 * NDJSON to stdout (the exporter's own logs go to stderr). "ok" means the bytes were handed
 * to the kernel, which is as durable as a pipe gets. A closed reader (EPIPE) or any other
 * stream error is transient: records stay queued instead of the process crashing on an
 * unhandled 'error' event.
 */
export class StdoutSink implements Sink {
  readonly name: string;
  readonly maxBatchRecords: number;
  readonly maxBatchBytes: number;
  private broken: Error | undefined;
  private readonly onError = (err: Error): void => {
    this.broken = err;
  };

  constructor(
    parsed: ParsedSinkUrl,
    private readonly out: Writable = process.stdout,
  ) {
    this.name = parsed.name;
    this.maxBatchRecords = parsed.options.batchRecords ?? STDOUT_DEFAULTS.batchRecords;
    this.maxBatchBytes = parsed.options.batchBytes ?? STDOUT_DEFAULTS.batchBytes;
    out.on("error", this.onError);
  }

  send(batch: SinkRecord[], signal: AbortSignal): Promise<SinkOutcome> {
    if (batch.length === 0) return Promise.resolve({ kind: "ok" });
    if (this.broken || this.out.destroyed || this.out.writableEnded) return Promise.resolve(this.brokenOutcome());
    const body = encodeBody(batch, "ndjson");
    return new Promise((resolve) => {
      let settled = false;
      const finish = (o: SinkOutcome): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener("abort", onAbort);
        resolve(o);
      };
      // A stalled reader can block us forever; on abort we answer transient (the bytes may still
      // go out later, which makes a duplicate, never a loss).
      const onAbort = (): void => finish({ kind: "transient", reason: "stdout write aborted (reader not consuming)" });
      signal.addEventListener("abort", onAbort, { once: true });
      // The write callback runs once the chunk is flushed (after any 'drain' wait), or with the error.
      this.out.write(body, (err) => {
        if (err) {
          this.broken ??= err;
          finish(this.brokenOutcome());
        } else finish({ kind: "ok" });
      });
    });
  }

  private brokenOutcome(): SinkOutcome {
    const e = this.broken as NodeJS.ErrnoException | undefined;
    return { kind: "transient", reason: `stdout is closed${e ? ` (${e.code ?? e.message})` : ""}` };
  }

  async close(): Promise<void> {
    // The error listener stays: an EPIPE arriving after close must not crash the process either.
  }
}
