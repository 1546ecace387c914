import { open, stat, type FileHandle } from "node:fs/promises";
import type { Readable } from "node:stream";

export interface LineHandlers {
  /** A complete line (without its newline); lineNo counts from 1 within the current file. */
  line(text: string, lineNo: number): void;
  /** A line longer than the limit was dropped. */
  tooLong(lineNo: number, bytes: number): void;
}

/**
 * Splits a byte stream into lines with a bound on line length: a longer line is dropped (and
 * reported) without buffering more than maxLineBytes of it.
 */
export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingLen = 0;
  private discarding = false;
  private discarded = 0;
  private lineNo = 0;

  constructor(
    private readonly maxLineBytes: number,
    private readonly h: LineHandlers,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl < 0) break;
      this.lineNo++;
      if (this.discarding) {
        this.h.tooLong(this.lineNo, this.discarded + nl - start);
        this.discarding = false;
        this.discarded = 0;
      } else if (this.pendingLen > 0) {
        const len = this.pendingLen + nl - start;
        if (len > this.maxLineBytes) this.h.tooLong(this.lineNo, len);
        else this.emit(Buffer.concat([...this.pending, chunk.subarray(start, nl)]).toString("utf8"));
        this.pending = [];
        this.pendingLen = 0;
      } else if (nl - start > this.maxLineBytes) {
        this.h.tooLong(this.lineNo, nl - start);
      } else if (nl > start) {
        this.emit(chunk.toString("utf8", start, chunk[nl - 1] === 13 ? nl - 1 : nl));
      }
      start = nl + 1;
    }
    if (start < chunk.length) {
      const rest = chunk.length - start;
      if (this.discarding) this.discarded += rest;
      else if (this.pendingLen + rest > this.maxLineBytes) {
        this.discarding = true;
        this.discarded = this.pendingLen + rest;
        this.pending = [];
        this.pendingLen = 0;
      } else {
        // Copy: the caller may reuse its read buffer.
        this.pending.push(Buffer.from(chunk.subarray(start)));
        this.pendingLen += rest;
      }
    }
  }

  private emit(text: string): void {
    const t = text.endsWith("\r") ? text.slice(0, -1) : text;
    if (t.length > 0) this.h.line(t, this.lineNo);
  }

  /** End of input: a final line without a newline still counts. */
  end(): void {
    if (this.discarding) {
      this.lineNo++;
      this.h.tooLong(this.lineNo, this.discarded);
    } else if (this.pendingLen > 0) {
      this.lineNo++;
      this.emit(Buffer.concat(this.pending).toString("utf8"));
    }
    this.reset();
  }

  /** Continue numbering after lines that were skipped (starting at the end of an existing file). */
  skipLines(n: number): void {
    this.lineNo += n;
  }

  /** Drops a partial line (the file was truncated under us). */
  reset(): void {
    this.pending = [];
    this.pendingLen = 0;
    this.discarding = false;
    this.discarded = 0;
  }
}

/** Reads a stream (stdin) to its end through a splitter. */
export function readLines(stream: Readable, maxLineBytes: number, h: LineHandlers): Promise<void> {
  const splitter = new LineSplitter(maxLineBytes, h);
  return new Promise((resolve, reject) => {
    stream.on("data", (d: Buffer | string) => splitter.push(typeof d === "string" ? Buffer.from(d) : d));
    stream.once("end", () => {
      splitter.end();
      resolve();
    });
    stream.once("error", reject);
  });
}

export interface FollowOptions extends LineHandlers {
  maxLineBytes: number;
  /** Read what the file already holds (default: start at its end, like tail -F -n0). */
  fromStart: boolean;
  pollMs: number;
  /** Lifecycle notices for the log: opened, rotated, truncated, missing. */
  notice(event: "opened" | "rotated" | "truncated" | "waiting", detail: Record<string, unknown>): void;
}

const CHUNK = 1 << 20;

/**
 * `tail -F` for one path: follows appends, reopens the path when it is replaced (rotation by
 * rename: the old file is drained first), restarts at 0 when it shrinks (rotation by truncate),
 * and waits for a file that does not exist yet. Files that appear after start are read from
 * their beginning. Polls, because inotify misses renames across directories and NFS/hostPath
 * quirks; the poll interval bounds the added latency.
 */
export class FileFollower {
  private fh: FileHandle | undefined;
  private ino = 0;
  private position = 0;
  private first = true;
  private stopped = false;
  private splitter: LineSplitter;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private readonly buf = Buffer.allocUnsafe(CHUNK);
  private waitingNoticed = false;

  constructor(
    readonly path: string,
    private readonly opts: FollowOptions,
  ) {
    this.splitter = new LineSplitter(opts.maxLineBytes, opts);
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    await this.fh?.close().catch(() => {});
    this.fh = undefined;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let progressed = false;
      try {
        progressed = await this.step();
      } catch (err) {
        this.opts.notice("waiting", { path: this.path, error: (err as Error).message });
        await this.fh?.close().catch(() => {});
        this.fh = undefined;
      }
      if (!progressed && !this.stopped) {
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, this.opts.pollMs);
          this.wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        this.wake = undefined;
      } else if (progressed) {
        // Let /metrics scrapes and timers run between 1 MiB chunks of a backlog.
        await new Promise((r) => setImmediate(r));
      }
    }
  }

  private newSplitter(): void {
    this.splitter = new LineSplitter(this.opts.maxLineBytes, this.opts);
  }

  private async countLines(fh: FileHandle, end: number): Promise<number> {
    let n = 0;
    for (let pos = 0; pos < end; ) {
      const { bytesRead } = await fh.read(this.buf, 0, Math.min(CHUNK, end - pos), pos);
      if (bytesRead === 0) break;
      for (let i = this.buf.indexOf(10, 0); i >= 0 && i < bytesRead; i = this.buf.indexOf(10, i + 1)) n++;
      pos += bytesRead;
    }
    return n;
  }

  private async step(): Promise<boolean> {
    if (!this.fh) {
      let fh: FileHandle;
      try {
        fh = await open(this.path, "r");
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
        if (!this.waitingNoticed) this.opts.notice("waiting", { path: this.path });
        this.waitingNoticed = true;
        this.first = false;
        return false;
      }
      const st = await fh.stat();
      this.fh = fh;
      this.ino = st.ino;
      this.position = this.first && !this.opts.fromStart ? st.size : 0;
      this.first = false;
      this.waitingNoticed = false;
      this.newSplitter();
      // Count the lines we skip so that reported line numbers match the file.
      if (this.position > 0) this.splitter.skipLines(await this.countLines(fh, this.position));
      this.opts.notice("opened", { path: this.path, position: this.position });
      return true;
    }
    const { bytesRead } = await this.fh.read(this.buf, 0, CHUNK, this.position);
    if (bytesRead > 0) {
      this.position += bytesRead;
      this.splitter.push(this.buf.subarray(0, bytesRead));
      return true;
    }
    let st;
    try {
      st = await stat(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return false; // renamed away, new one not there yet
      throw err;
    }
    if (st.ino !== this.ino) {
      // Replaced: what was appended to the old file before the switch was read above.
      this.splitter.end();
      await this.fh.close();
      this.fh = undefined;
      this.opts.notice("rotated", { path: this.path });
      return true;
    }
    if (st.size < this.position) {
      this.splitter.reset();
      this.newSplitter();
      this.position = 0;
      this.opts.notice("truncated", { path: this.path });
      return true;
    }
    return false;
  }
}
