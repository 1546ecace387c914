import { mkdir, open, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { fsyncDir } from "../fsutil.js";
import type { Sink, SinkOutcome, SinkRecord } from "../sink.js";
import { SinkConfigError, type ParsedSinkUrl } from "./options.js";
import { encodeBody } from "./http.js";

export const FILE_DEFAULTS = { batchRecords: 1000, batchBytes: 8 * 1024 * 1024, maxFileBytes: 64 * 1024 * 1024 } as const;

/**
 * Appends NDJSON to `DIR/records-<UTC timestamp>-<n, 6 digits>.ndjson` (names sort in write order), starting a new file before
 * one would grow past maxFileBytes. A batch is reported ok only after fdatasync (and, for
 * a new file, an fsync of the directory), because the forwarder deletes what we accept.
 * A failed write is cut back off the file so a retry never leaves a torn or doubled batch.
 */
export class FileSink implements Sink {
  readonly name: string;
  readonly maxBatchRecords: number;
  readonly maxBatchBytes: number;
  readonly dir: string;
  private readonly maxFileBytes: number;
  private current: { fh: FileHandle; path: string; size: number } | undefined;
  private counter = 0;
  private dirReady = false;
  /** send() is called one batch at a time, but close() may race with it. */
  private busy: Promise<unknown> = Promise.resolve();

  constructor(parsed: ParsedSinkUrl) {
    this.name = parsed.name;
    if (parsed.url.host && parsed.url.host !== "localhost") {
      throw new SinkConfigError(this.name, `file:// URLs name a local directory: use file:///path (three slashes), not host "${parsed.url.host}"`);
    }
    this.dir = fileURLToPath(new URL(parsed.url.pathname, "file://"));
    if (this.dir === "/" || this.dir === "") throw new SinkConfigError(this.name, "needs a directory path, e.g. file:///var/lib/decisions");
    this.maxBatchRecords = parsed.options.batchRecords ?? FILE_DEFAULTS.batchRecords;
    this.maxBatchBytes = parsed.options.batchBytes ?? FILE_DEFAULTS.batchBytes;
    this.maxFileBytes = parsed.options.maxFileBytes ?? FILE_DEFAULTS.maxFileBytes;
  }

  send(batch: SinkRecord[], _signal: AbortSignal): Promise<SinkOutcome> {
    const run = this.busy.then(() => this.write(batch));
    this.busy = run.catch(() => undefined);
    return run;
  }

  private async write(batch: SinkRecord[]): Promise<SinkOutcome> {
    if (batch.length === 0) return { kind: "ok" };
    const body = encodeBody(batch, "ndjson");
    let file: { fh: FileHandle; path: string; size: number };
    try {
      file = await this.fileFor(body.length);
    } catch (err) {
      return { kind: "transient", reason: `cannot open a file in ${this.dir}: ${errText(err)}` };
    }
    const before = file.size;
    try {
      let off = 0;
      while (off < body.length) {
        const { bytesWritten } = await file.fh.write(body, off, body.length - off, before + off);
        off += bytesWritten;
      }
      await file.fh.datasync();
      file.size = before + body.length;
      return { kind: "ok" };
    } catch (err) {
      // ENOSPC and friends: remove the partial batch so the retry starts clean; if even that
      // fails, abandon the file (the next batch opens a new one) rather than append after garbage.
      try {
        await file.fh.truncate(before);
        await file.fh.datasync();
      } catch {
        await this.closeCurrent();
      }
      return { kind: "transient", reason: `writing ${file.path}: ${errText(err)}` };
    }
  }

  private async fileFor(bytes: number): Promise<{ fh: FileHandle; path: string; size: number }> {
    if (this.current && this.current.size > 0 && this.current.size + bytes > this.maxFileBytes) await this.closeCurrent();
    if (this.current) return this.current;
    if (!this.dirReady) {
      await mkdir(this.dir, { recursive: true, mode: 0o750 });
      this.dirReady = true;
    }
    const stamp = new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
    for (;;) {
      const path = join(this.dir, `records-${stamp}-${String(this.counter++).padStart(6, "0")}.ndjson`);
      try {
        // "wx": never append to a file another writer (or an earlier run) owns.
        const fh = await open(path, "wx", 0o640);
        await fsyncDir(this.dir);
        this.current = { fh, path, size: 0 };
        return this.current;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
    }
  }

  private async closeCurrent(): Promise<void> {
    const cur = this.current;
    this.current = undefined;
    if (cur) await cur.fh.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.busy;
    await this.closeCurrent();
  }
}

function errText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e?.code ? `${e.code} (${e.message})` : String(err);
}
