import { mkdir, readFile, rename, stat } from "node:fs/promises";
import { join } from "node:path";
import { appendFileDurable, fsyncDir } from "./fsutil.js";
import type { QueuedRecord } from "./queue/durable-queue.js";
import { sinkFileStem } from "./sink-file-name.js";

export interface DeadLetterOptions {
  /**
   * Bound on the current file: when an append would pass it, the file becomes `<name>.1.ndjson`
   * (replacing the previous one, whose records are counted through onDropped), so at most about
   * twice this stays on disk per sink. Dead letters share the queue's volume: unbounded, a sink
   * refusing everything would fill it and block producers through the disk reserve.
   */
  maxBytes: number;
  /** Records of a rotated-away file that are now gone. */
  onDropped?: (records: number) => void;
}

/** data-dir/dead-letter/<sink>.ndjson: records a sink refused for good, with the reason. */
export class DeadLetterFile {
  readonly path: string;
  readonly previousPath: string;
  private size: number | undefined;

  constructor(
    dataDir: string,
    private readonly sink: string,
    private readonly opts: DeadLetterOptions,
  ) {
    const stem = sinkFileStem(sink);
    this.path = join(dataDir, "dead-letter", `${stem}.ndjson`);
    this.previousPath = join(dataDir, "dead-letter", `${stem}.1.ndjson`);
  }

  /** Appends and fsyncs before the caller moves the cursor past the records. */
  async write(records: QueuedRecord[], reason: string): Promise<void> {
    const dir = join(this.path, "..");
    await mkdir(dir, { recursive: true, mode: 0o750 });
    const sink = JSON.stringify(this.sink);
    const why = JSON.stringify(reason);
    // The record is a validated JSON object: embed its bytes as they are.
    const data = Buffer.concat(records.map((r) => Buffer.concat([Buffer.from(`{"seq":${r.seq},"sink":${sink},"reason":${why},"record":`), r.data, Buffer.from("}\n")])));
    this.size ??= await this.sizeOnDisk();
    if (this.size + data.length > this.opts.maxBytes) {
      // Look again before rotating: an operator may have moved the file away to collect it.
      this.size = await this.sizeOnDisk();
      if (this.size > 0 && this.size + data.length > this.opts.maxBytes) await this.rotate(dir);
    }
    await appendFileDurable(this.path, data);
    this.size += data.length;
  }

  private sizeOnDisk(): Promise<number> {
    return stat(this.path).then(
      (s) => s.size,
      () => 0,
    );
  }

  private async rotate(dir: string): Promise<void> {
    const lost = await readFile(this.previousPath).then(countLines, () => 0);
    await rename(this.path, this.previousPath);
    await fsyncDir(dir);
    this.size = 0;
    if (lost > 0) this.opts.onDropped?.(lost);
  }
}

function countLines(buf: Buffer): number {
  let n = 0;
  for (let i = buf.indexOf(10); i >= 0; i = buf.indexOf(10, i + 1)) n++;
  return n;
}
