import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { appendFileDurable } from "./fsutil.js";
import type { QueuedRecord } from "./queue/durable-queue.js";
import { sinkFileStem } from "./sink-file-name.js";

/** data-dir/dead-letter/<sink>.ndjson: records a sink refused for good, with the reason. */
export class DeadLetterFile {
  readonly path: string;
  constructor(
    dataDir: string,
    private readonly sink: string,
  ) {
    this.path = join(dataDir, "dead-letter", `${sinkFileStem(sink)}.ndjson`);
  }

  /** Appends and fsyncs before the caller moves the cursor past the records. */
  async write(records: QueuedRecord[], reason: string): Promise<void> {
    await mkdir(join(this.path, ".."), { recursive: true, mode: 0o750 });
    const sink = JSON.stringify(this.sink);
    const why = JSON.stringify(reason);
    // The record is a validated JSON object: embed its bytes as they are.
    const lines = records.map((r) => Buffer.concat([Buffer.from(`{"seq":${r.seq},"sink":${sink},"reason":${why},"record":`), r.data, Buffer.from("}\n")]));
    await appendFileDurable(this.path, Buffer.concat(lines));
  }
}
