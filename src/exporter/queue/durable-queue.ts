import { EventEmitter } from "node:events";
import { constants as fsc } from "node:fs";
import { copyFile, mkdir, open, readFile, readdir, rename, stat, statfs, unlink, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "../../core/logger.js";
import { fsyncDir } from "../fsutil.js";
import { ExporterMetrics } from "../metrics.js";
import { CursorStore } from "./cursor-store.js";
import {
  FORMAT_VERSION,
  FRAME_HEADER_BYTES,
  MAX_PAYLOAD_BYTES,
  SEGMENT_HEADER_BYTES,
  decodeFrame,
  decodeSegmentHeader,
  encodeFrame,
  encodeSegmentHeader,
  frameBytes,
  parseSegmentFileName,
  segmentFileName,
} from "./format.js";

export type WhenFull = "block" | "drop-newest" | "drop-oldest";
export const WHEN_FULL: readonly WhenFull[] = ["block", "drop-newest", "drop-oldest"];

export interface QueueOptions {
  /** The exporter's data directory; the queue lives in `queue/`, cursors in `cursors/`. */
  dataDir: string;
  /** Names of the sinks; each has its own cursor. */
  sinks: string[];
  /** Bound on the queue's segment files on disk. */
  maxBytes: number;
  whenFull: WhenFull;
  /** Free space on the data dir's file system that the queue never eats into. */
  diskReserveBytes: number;
  /** Rotation size; default maxBytes/8 capped to 64 MiB. */
  segmentBytes?: number;
  /**
   * Cursor files are written at most this often (default 100 ms): each write costs two
   * fsyncs that would compete with the group commits. A crash re-sends at most this much.
   * 0 writes on every ack (and ack() resolves after the write).
   */
  cursorSyncMs?: number;
  /** Payload bytes of the last committed batches kept in memory for readers that keep up (default 8 MiB; 0: always read from disk). */
  recentBytes?: number;
  metrics?: ExporterMetrics;
  logger?: Logger;
  now?: () => number;
}

export interface AppendResult {
  /** The first `accepted` records were admitted and are durable. */
  accepted: number;
  /** The rest were dropped (drop-newest policy, or disk reserve under drop-newest). */
  dropped: number;
  dropReason?: string;
}

export interface QueuedRecord {
  seq: bigint;
  data: Buffer;
  appendedAtMs: number;
  /** Where the record ends on disk; passed back with ack() to track per-sink backlog bytes. */
  segFirst: bigint;
  end: number;
}

interface Segment {
  firstSeq: bigint;
  path: string;
  /** Durable bytes (header + fsynced frames). */
  size: number;
  /** Last record's seq, known for segments this process wrote or scanned. */
  lastSeq?: bigint;
}

/** One append() call: it resolves when its last admitted record was written. */
interface AppendCall {
  outstanding: number;
  failed?: Error;
  waiter?: Deferred;
}

interface RecentBatch {
  firstSeq: bigint;
  segFirst: bigint;
  appendedAtMs: number;
  datas: Buffer[];
  /** Segment offset where each record's frame ends. */
  ends: Float64Array;
  bytes: number;
}

/** Payload bytes of recently committed batches kept for readers that keep up. */
const RECENT_MAX_BYTES = 8 * 1024 * 1024;

interface Pending {
  data: Buffer;
  call: AppendCall;
  /** Admission decided this record opens a new segment (its header is already reserved). */
  startsSegment: boolean;
}

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: Error) => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A rejected flush is reported through append(); nobody else awaits it.
  promise.catch(() => {});
  return { promise, resolve, reject };
}

export class StorageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StorageError";
  }
}

export class QueueClosedError extends Error {
  constructor() {
    super("queue is closed");
    this.name = "QueueClosedError";
  }
}

const MAX_SEGMENT_BYTES = 64 * 1024 * 1024;
const STATFS_INTERVAL_MS = 250;
/** Bounds one group commit, so that one fsync never has to flush an unbounded amount. */
const MAX_WRITE_BYTES = 8 * 1024 * 1024;
/** A batch holds up to MAX_WRITE_BYTES plus one record; a buffer that size is kept for reuse. */
const MAX_RETAINED_WRITE_BUFFER = 16 * 1024 * 1024;

/**
 * A durable, segmented append-only log with one read cursor per sink.
 *
 * Appends are group-committed: whatever arrives while a write+fdatasync runs goes into
 * the next one. Sequence numbers are assigned at write time, so a failed write leaves no
 * gap. A segment is deleted once every sink's persisted cursor passed it.
 */
export class DurableQueue extends EventEmitter {
  readonly metrics: ExporterMetrics;
  readonly queueDir: string;
  readonly segmentBytes: number;
  private readonly log: Logger | undefined;
  private readonly now: () => number;
  private segments: Segment[] = [];
  private activeFh!: FileHandle;
  private nextSeq = 1n;
  private pending: Pending[] = [];
  private pendingBytes = 0;
  /** Bytes on disk plus bytes admitted and not yet written (segment headers included). */
  private usedBytes = 0;
  /** Size the active segment will have once everything admitted is written. */
  private tailFill = 0;
  private flushing: Promise<void> | undefined;
  private flushScheduled = false;
  private closed = false;
  private roomWaiters: Array<() => void> = [];
  private diskFree = Number.POSITIVE_INFINITY;
  private diskFreeAt = 0;
  private bytesSinceStatfs = 0;
  private readonly cursors: CursorStore;
  /** Records below this seq were dropped on purpose (drop-oldest); readers skip them silently. */
  droppedBelowSeq = 0n;
  /** Records found lost during recovery whose gap readers must not count again. */
  private pendingLost = 0;
  /** Gaps already counted as lost, keyed by the seq that follows the gap. */
  private readonly countedGaps = new Set<bigint>();
  private maxPendingBytes: number;
  private statfsTimer: NodeJS.Timeout | undefined;

  private constructor(private readonly opts: QueueOptions) {
    super();
    this.setMaxListeners(0);
    this.metrics = opts.metrics ?? new ExporterMetrics();
    this.log = opts.logger;
    this.now = opts.now ?? Date.now;
    this.queueDir = join(opts.dataDir, "queue");
    this.segmentBytes = opts.segmentBytes ?? Math.max(4096, Math.min(MAX_SEGMENT_BYTES, Math.floor(opts.maxBytes / 8)));
    this.maxPendingBytes = Math.max(64 * 1024, Math.min(64 * 1024 * 1024, Math.floor(opts.maxBytes / 4)));
    this.cursors = new CursorStore(join(opts.dataDir, "cursors"));
  }

  static async open(opts: QueueOptions): Promise<DurableQueue> {
    const q = new DurableQueue(opts);
    await q.recover();
    return q;
  }

  get sinkNames(): readonly string[] {
    return this.opts.sinks;
  }

  /** The seq the next written record gets. */
  get headSeq(): bigint {
    return this.nextSeq;
  }

  get diskBytes(): number {
    return this.segments.reduce((n, s) => n + s.size, 0);
  }

  get firstRetainedSeq(): bigint {
    return this.segments[0]?.firstSeq ?? this.nextSeq;
  }

  ackedSeq(sink: string): bigint {
    return this.cursors.get(sink)?.acked ?? 0n;
  }

  // ---------------------------------------------------------------- recovery

  private async recover(): Promise<void> {
    const { dataDir } = this.opts;
    await mkdir(dataDir, { recursive: true, mode: 0o750 });
    await this.checkFormatVersion();
    await mkdir(this.queueDir, { recursive: true, mode: 0o750 });
    await mkdir(join(dataDir, "quarantine"), { recursive: true, mode: 0o750 });
    await this.cursors.load();

    const names = (await readdir(this.queueDir)).sort();
    for (const name of names) {
      if (name.endsWith(".tmp")) {
        await unlink(join(this.queueDir, name));
        continue;
      }
      const firstSeq = parseSegmentFileName(name);
      if (firstSeq === undefined) {
        this.log?.warn({ file: join(this.queueDir, name) }, "ignoring unknown file in the queue directory");
        continue;
      }
      const path = join(this.queueDir, name);
      const size = (await stat(path)).size;
      this.segments.push({ firstSeq, path, size });
    }
    // Headers of every segment: a segment with a bad header is quarantined whole.
    let seqFloor = 0n;
    for (const seg of [...this.segments]) {
      const buf = await readFile(seg.path);
      const check = decodeSegmentHeader(buf.subarray(0, SEGMENT_HEADER_BYTES));
      const isLast = seg === this.segments[this.segments.length - 1];
      if (check.ok && check.firstSeq === seg.firstSeq) continue;
      if (isLast && buf.length < SEGMENT_HEADER_BYTES) {
        // Crashed while creating the segment: nothing was ever written to it.
        await unlink(seg.path);
      } else {
        const reason = check.ok ? `header seq ${check.firstSeq} does not match the file name` : check.reason;
        await this.quarantine(seg.path, 0, `bad segment header: ${reason}`);
        await unlink(seg.path);
        const walk = walkAfterCorruption(buf, SEGMENT_HEADER_BYTES);
        const high = seg.firstSeq + BigInt(walk.count) - 1n;
        const top = walk.maxSeq !== undefined && walk.maxSeq > high ? walk.maxSeq : high;
        if (top + 1n > seqFloor) seqFloor = top + 1n;
        // A segment followed by others is counted by the readers (the gap to the next one).
        if (isLast) this.pendingLost += walk.count;
      }
      this.segments = this.segments.filter((s) => s !== seg);
    }
    await fsyncDir(this.queueDir);

    const last = this.segments[this.segments.length - 1];
    if (last) {
      await this.recoverTail(last);
      this.nextSeq = last.lastSeq !== undefined ? last.lastSeq + 1n : last.firstSeq;
    }
    // Never reuse a seq a sink may have seen: cursors survive the segments they passed.
    const maxCursor = this.cursors.maxAcked();
    if (maxCursor >= this.nextSeq) this.nextSeq = maxCursor + 1n;
    if (seqFloor > this.nextSeq) this.nextSeq = seqFloor;
    if (this.nextSeq < 1n) this.nextSeq = 1n;
    if (this.pendingLost > 0) {
      this.metrics.corrupt.inc(this.pendingLost);
      this.countedGaps.add(this.nextSeq);
    }

    if (!last || last.firstSeq > this.nextSeq || (last.lastSeq === undefined && last.firstSeq !== this.nextSeq)) {
      await this.createSegment(this.nextSeq);
    } else {
      this.activeFh = await open(last.path, fsc.O_WRONLY);
    }
    // A sink without a cursor starts at the oldest retained record.
    for (const sink of this.opts.sinks) {
      if (!this.cursors.get(sink)) this.cursors.set(sink, this.firstRetainedSeq - 1n);
    }
    await this.cursors.persistAll(this.opts.sinks);
    this.usedBytes = this.diskBytes;
    this.tailFill = this.segments[this.segments.length - 1]!.size;
    await this.refreshDiskFree();
    this.statfsTimer = setInterval(() => void this.refreshDiskFree().catch(() => {}), 1000);
    this.statfsTimer.unref();
    this.updateGauges();
  }

  private async checkFormatVersion(): Promise<void> {
    const path = join(this.opts.dataDir, "format-version");
    let text: string | undefined;
    try {
      text = await readFile(path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    if (text === undefined) {
      const { writeFileAtomic } = await import("../fsutil.js");
      await writeFileAtomic(path, `${FORMAT_VERSION}\n`);
      return;
    }
    const v = Number(text.trim());
    if (v !== FORMAT_VERSION) {
      throw new StorageError(`${path}: queue format version "${text.trim()}" is not supported (this exporter reads version ${FORMAT_VERSION})`);
    }
  }

  /** Scans the last segment: truncates a torn tail, quarantines what follows a corrupt frame. */
  private async recoverTail(seg: Segment): Promise<void> {
    const buf = await readFile(seg.path);
    let at = SEGMENT_HEADER_BYTES;
    let lastSeq: bigint | undefined;
    for (;;) {
      const f = decodeFrame(buf, at);
      if (f.kind !== "frame") break;
      lastSeq = f.seq;
      at = f.end;
    }
    if (at < buf.length) {
      const f = decodeFrame(buf, at);
      const torn = f.kind === "incomplete";
      if (torn) {
        this.log?.warn({ segment: seg.path, offset: at, bytes: buf.length - at }, "truncating a torn tail (a write the crash interrupted; never acknowledged)");
      } else {
        // Count what the damage swallowed: walk on by the length fields while frames check out.
        const { count, maxSeq } = walkAfterCorruption(buf, at);
        this.metrics.corrupt.inc(count);
        const high = (lastSeq ?? seg.firstSeq - 1n) + BigInt(count);
        lastSeq = maxSeq !== undefined && maxSeq > high ? maxSeq : high;
        await this.quarantine(seg.path, at, `corrupt frame at offset ${at}`);
        this.log?.error({ segment: seg.path, offset: at, lostRecords: count }, "corrupt queue segment: quarantined the rest of it");
      }
      const fh = await open(seg.path, "r+");
      await fh.truncate(at);
      await fh.datasync();
      await fh.close();
    }
    seg.size = at;
    seg.lastSeq = lastSeq;
    if (lastSeq !== undefined) this.countedGaps.add(lastSeq + 1n);
  }

  /** Copies bytes [offset, end) of a segment to data-dir/quarantine for a human to look at. */
  private async quarantine(path: string, offset: number, reason: string): Promise<void> {
    const name = `${path.split("/").pop()}.${offset}.${Date.now()}.bad`;
    const dest = join(this.opts.dataDir, "quarantine", name);
    if (offset === 0) {
      await copyFile(path, dest);
    } else {
      const src = await open(path, "r");
      try {
        const size = (await src.stat()).size;
        const buf = Buffer.alloc(Math.max(0, size - offset));
        await src.read(buf, 0, buf.length, offset);
        const out = await open(dest, "w", 0o640);
        await out.writeFile(buf);
        await out.datasync();
        await out.close();
      } finally {
        await src.close();
      }
    }
    this.log?.warn({ quarantined: dest, reason }, "quarantined damaged queue data");
  }

  // ---------------------------------------------------------------- append

  /**
   * Admits records and resolves once the admitted ones are durable. Under `block` this
   * waits for room; under `drop-newest` it drops what does not fit; under `drop-oldest` it
   * deletes the oldest segment to make room. Throws StorageError when the write failed
   * (nothing of this call is durable then) and QueueClosedError after close().
   */
  async append(payloads: Buffer[]): Promise<AppendResult> {
    const r = await this.admit(payloads);
    await r.durable;
    return { accepted: r.accepted, dropped: r.dropped, ...(r.dropReason ? { dropReason: r.dropReason } : {}) };
  }

  /**
   * Like append(), but resolves as soon as the records are admitted (given seats in the
   * next group commit); `durable` resolves once they are fsynced. Callers that must keep
   * order call admit() one at a time and may let several `durable` promises overlap.
   */
  async admit(payloads: Buffer[]): Promise<AppendResult & { durable: Promise<void> }> {
    if (this.closed) throw new QueueClosedError();
    const call: AppendCall = { outstanding: 0 };
    let accepted = 0;
    for (let i = 0; i < payloads.length; i++) {
      const frame = frameBytes(payloads[i]!.length);
      // Segment boundaries are decided here so that their headers count against --max-bytes.
      let startsSegment = this.tailFill > SEGMENT_HEADER_BYTES && this.tailFill + frame > this.segmentBytes;
      let size = frame + (startsSegment ? SEGMENT_HEADER_BYTES : 0);
      let verdict = this.admit1(size);
      while (verdict !== "ok") {
        if (this.closed) throw new QueueClosedError();
        if (verdict === "pending") {
          await this.waitForRoom();
        } else if (this.opts.whenFull === "drop-newest") {
          const dropped = payloads.length - i;
          this.metrics.dropped.inc({ reason: verdict }, dropped);
          return { accepted, dropped, dropReason: verdict === "disk_reserve" ? "disk reserve reached" : "queue full", durable: this.settle(call) };
        } else if (this.opts.whenFull === "drop-oldest" && verdict === "queue_full" && (await this.dropOldest())) {
          // made room; admit again
        } else {
          // block (or drop-oldest with nothing droppable): back-pressure until room frees.
          this.emitBlocked(true);
          await this.waitForRoom();
        }
        startsSegment = this.tailFill > SEGMENT_HEADER_BYTES && this.tailFill + frame > this.segmentBytes;
        size = frame + (startsSegment ? SEGMENT_HEADER_BYTES : 0);
        verdict = this.admit1(size);
      }
      this.pending.push({ data: payloads[i]!, call, startsSegment });
      this.tailFill = startsSegment ? SEGMENT_HEADER_BYTES + frame : this.tailFill + frame;
      call.outstanding++;
      this.pendingBytes += size;
      this.usedBytes += size;
      this.bytesSinceStatfs += size;
      accepted++;
      this.scheduleFlush();
    }
    return { accepted, dropped: 0, durable: this.settle(call) };
  }

  private settle(call: AppendCall): Promise<void> {
    const p = (async () => {
      if (call.outstanding > 0) {
        call.waiter = deferred();
        await call.waiter.promise;
      }
      if (call.failed) throw call.failed;
    })();
    // Callers that only care about admission must not trip an unhandled rejection.
    p.catch(() => {});
    return p;
  }

  private finish(batch: Pending[], err?: Error): void {
    for (const p of batch) {
      if (err) p.call.failed = err;
      if (--p.call.outstanding === 0) p.call.waiter?.resolve();
    }
  }

  private admit1(size: number): "ok" | "pending" | "queue_full" | "disk_reserve" {
    if (this.pendingBytes > 0 && this.pendingBytes + size > this.maxPendingBytes) return "pending";
    if (this.usedBytes + size > this.opts.maxBytes) return "queue_full";
    if (this.diskFree - this.bytesSinceStatfs - size < this.opts.diskReserveBytes) return "disk_reserve";
    return "ok";
  }

  private blocked = false;
  private emitBlocked(b: boolean): void {
    if (this.blocked === b) return;
    this.blocked = b;
    this.emit(b ? "full" : "room");
  }

  /** True while appends wait for room (the producer server stops reading then). */
  get isBlocked(): boolean {
    return this.blocked;
  }

  private waitForRoom(): Promise<void> {
    return new Promise((resolve) => {
      this.roomWaiters.push(resolve);
      // Disk space can free up without us noticing (another process deleted files).
      if (this.roomWaiters.length === 1) void this.refreshDiskFree().catch(() => {});
    });
  }

  private notifyRoom(): void {
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const w of waiters) w();
    if (waiters.length > 0) {
      // Waiters re-check; if they still do not fit they call waitForRoom again.
      setImmediate(() => {
        if (this.roomWaiters.length === 0) this.emitBlocked(false);
      });
    } else {
      this.emitBlocked(false);
    }
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.flushing) return;
    this.flushScheduled = true;
    // setImmediate lets every socket chunk already read join this group commit.
    setImmediate(() => {
      this.flushScheduled = false;
      this.flushing = this.flushLoop().finally(() => {
        this.flushing = undefined;
        if (this.pending.length > 0) this.scheduleFlush();
      });
    });
  }

  private async flushLoop(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.takeBatch();
      await this.writeBatch(batch);
    }
  }

  /** Up to the next segment boundary that admission decided. */
  private takeBatch(): Pending[] {
    let bytes = 0;
    let n = 0;
    while (n < this.pending.length) {
      const p = this.pending[n]!;
      if (n > 0 && (p.startsSegment || bytes >= MAX_WRITE_BYTES)) break;
      bytes += frameBytes(p.data.length) + (p.startsSegment ? SEGMENT_HEADER_BYTES : 0);
      n++;
    }
    const batch = this.pending.splice(0, n);
    this.pendingBytes -= bytes;
    return batch;
  }

  private async writeBatch(batch: Pending[]): Promise<void> {
    let bytes = 0;
    for (const p of batch) bytes += frameBytes(p.data.length);
    if (batch[0]!.startsSegment) await this.rotate();
    const active = this.segments[this.segments.length - 1]!;
    const buf = this.frameBuffer(bytes);
    const firstSeq = this.nextSeq;
    const nowMs = this.now();
    let at = 0;
    let seq = firstSeq;
    for (const p of batch) {
      at = encodeFrame(buf, at, seq, nowMs, p.data);
      seq++;
    }
    const t0 = performance.now();
    try {
      let off = 0;
      while (off < buf.length) {
        const { bytesWritten } = await this.activeFh.write(buf, off, buf.length - off, active.size + off);
        off += bytesWritten;
      }
      await this.activeFh.datasync();
    } catch (err) {
      // Leave no partial frame behind; the seqs are reused by the next write.
      await this.activeFh.truncate(active.size).catch(() => {});
      this.usedBytes -= bytes;
      this.metrics.dropped.inc({ reason: "storage_error" }, batch.length);
      this.log?.error({ err: (err as Error).message, records: batch.length }, "queue write failed; records not acknowledged");
      this.finish(batch, new StorageError(`queue write failed: ${(err as Error).message}`));
      this.notifyRoom();
      return;
    }
    this.metrics.fsyncDuration.observe((performance.now() - t0) / 1000);
    this.remember(firstSeq, active.firstSeq, active.size, nowMs, batch);
    active.size += bytes;
    active.lastSeq = seq - 1n;
    this.nextSeq = seq;
    this.metrics.persisted.inc(batch.length);
    this.finish(batch);
    this.notifyRoom();
    this.emit("committed");
    this.updateGauges();
  }

  /**
   * The buffer one group commit is encoded into, reused across commits: a fresh multi-MiB
   * allocation per commit was the exporter's largest CPU cost (first-touch page faults while
   * copying payloads in, measured with --cpu-prof) and fed GC pauses into time-to-ack. Safe
   * because commits run one at a time and nothing keeps a view of it once the write returned.
   */
  private frameBuffer(bytes: number): Buffer {
    if (bytes > MAX_RETAINED_WRITE_BUFFER) return Buffer.allocUnsafeSlow(bytes);
    if (this.writeBuffer.length < bytes) {
      let size = Math.max(64 * 1024, this.writeBuffer.length);
      while (size < bytes) size *= 2;
      this.writeBuffer = Buffer.allocUnsafeSlow(Math.min(size, MAX_RETAINED_WRITE_BUFFER));
    }
    return this.writeBuffer.subarray(0, bytes);
  }

  private writeBuffer: Buffer = Buffer.alloc(0);

  /**
   * The last committed batches, kept in memory so that sinks that keep up are served without
   * reading back (and re-checksumming) what was just fsynced: at 1 KiB records, the read-back
   * path cost ~0.6 µs of ~5.6 µs of main-thread time per record. Bounded by payload bytes;
   * a sink that falls further behind reads from disk as before.
   */
  private recent: RecentBatch[] = [];
  private recentBytes = 0;

  private remember(firstSeq: bigint, segFirst: bigint, startOffset: number, appendedAtMs: number, batch: Pending[]): void {
    const max = this.opts.recentBytes ?? RECENT_MAX_BYTES;
    if (max <= 0) return;
    const datas: Buffer[] = new Array<Buffer>(batch.length);
    const ends = new Float64Array(batch.length);
    let at = startOffset;
    let bytes = 0;
    for (let i = 0; i < batch.length; i++) {
      const d = batch[i]!.data;
      datas[i] = d;
      at += frameBytes(d.length);
      ends[i] = at;
      bytes += d.length;
    }
    this.recent.push({ firstSeq, segFirst, appendedAtMs, datas, ends, bytes });
    this.recentBytes += bytes;
    while (this.recentBytes > max && this.recent.length > 1) this.recentBytes -= this.recent.shift()!.bytes;
  }

  /**
   * Committed records from `from` on, out of memory; [] when `from` is not among the last
   * batches (the reader goes to disk then). Stops at maxRecords / maxBytes like a disk read.
   */
  recentFrom(sink: string, from: bigint, maxRecords: number, maxBytes: number): QueuedRecord[] {
    const r = this.recent;
    if (r.length === 0 || from < r[0]!.firstSeq || from >= this.nextSeq || from < this.droppedBelowSeq) return [];
    let b = r.length - 1;
    while (r[b]!.firstSeq > from) b--;
    const out: QueuedRecord[] = [];
    let bytes = 0;
    let seq = from;
    for (; b < r.length; b++) {
      const batch = r[b]!;
      for (let i = Number(seq - batch.firstSeq); i < batch.datas.length; i++) {
        if (out.length >= maxRecords || bytes >= maxBytes) return this.served(sink, seq, out);
        const data = batch.datas[i]!;
        out.push({ seq, data, appendedAtMs: batch.appendedAtMs, segFirst: batch.segFirst, end: batch.ends[i]! });
        bytes += data.length;
        seq++;
      }
    }
    return this.served(sink, seq, out);
  }

  private servedUpTo = new Map<string, bigint>();

  /**
   * Forgets batches every sink has been handed: kept any longer, their buffers outlive young-
   * generation GCs and get promoted, which measurably lengthened GC pauses (p99 time-to-ack
   * at 10k records/s went from 6–10 ms to 11–14 ms while the tail was only bounded by bytes).
   */
  private served(sink: string, next: bigint, out: QueuedRecord[]): QueuedRecord[] {
    this.servedUpTo.set(sink, next);
    let min = next;
    for (const s of this.opts.sinks) {
      const v = this.servedUpTo.get(s) ?? 0n;
      if (v < min) min = v;
    }
    const r = this.recent;
    while (r.length > 0 && r[0]!.firstSeq + BigInt(r[0]!.datas.length) <= min) this.recentBytes -= r.shift()!.bytes;
    return out;
  }

  private async rotate(): Promise<void> {
    await this.activeFh.close();
    await this.createSegment(this.nextSeq);
  }

  private async createSegment(firstSeq: bigint): Promise<void> {
    const path = join(this.queueDir, segmentFileName(firstSeq));
    const tmp = `${path}.tmp`;
    const fh = await open(tmp, "w", 0o640);
    await fh.write(encodeSegmentHeader(firstSeq), 0, SEGMENT_HEADER_BYTES, 0);
    await fh.datasync();
    await fh.close();
    await rename(tmp, path);
    await fsyncDir(this.queueDir);
    this.activeFh = await open(path, fsc.O_WRONLY);
    // The header's bytes were reserved by admission (or are counted at start-up).
    this.segments.push({ firstSeq, path, size: SEGMENT_HEADER_BYTES });
  }

  /** Waits until everything admitted so far is durable. */
  async flush(): Promise<void> {
    while (this.pending.length > 0 || this.flushing || this.flushScheduled) {
      if (this.flushing) await this.flushing.catch(() => {});
      else await new Promise((r) => setImmediate(r));
    }
  }

  // ---------------------------------------------------------------- cursors and deletion

  /** A sink has `upTo` (and everything before it). Persisted, then fully passed segments go. */
  async ack(sink: string, upTo: bigint, position?: { segFirst: bigint; end: number }): Promise<void> {
    const cur = this.cursors.get(sink);
    if (cur && cur.acked >= upTo) return;
    this.cursors.set(sink, upTo, position);
    if ((this.opts.cursorSyncMs ?? 100) === 0) {
      await this.syncCursors();
      return;
    }
    this.cursorTimer ??= setTimeout(() => {
      this.cursorTimer = undefined;
      this.syncCursors().catch((err: unknown) => this.log?.error({ err: (err as Error).message }, "writing sink cursors failed; will retry"));
    }, this.opts.cursorSyncMs ?? 100);
  }

  private cursorTimer: NodeJS.Timeout | undefined;

  /** Writes the cursors that moved, then deletes segments every sink has passed. */
  async syncCursors(): Promise<void> {
    await this.cursors.persistAll(this.opts.sinks);
    await this.deletePassedSegments();
    this.updateGauges();
  }

  private minAcked(): bigint {
    let min: bigint | undefined;
    for (const s of this.opts.sinks) {
      const a = this.cursors.persistedAcked(s);
      if (min === undefined || a < min) min = a;
    }
    return min ?? this.nextSeq - 1n;
  }

  private deleting: Promise<void> | undefined;
  private async deletePassedSegments(): Promise<void> {
    while (this.deleting) await this.deleting;
    this.deleting = (async () => {
      const min = this.minAcked();
      let removed = 0;
      // The active (last) segment is never deleted: its header keeps the next seq.
      while (this.segments.length > 1 && this.segments[1]!.firstSeq - 1n <= min) {
        const seg = this.segments.shift()!;
        await unlink(seg.path).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== "ENOENT") throw err;
        });
        this.usedBytes -= seg.size;
        removed++;
      }
      if (removed > 0) {
        await fsyncDir(this.queueDir);
        this.notifyRoom();
      }
    })().finally(() => {
      this.deleting = undefined;
    });
    await this.deleting;
  }

  /** drop-oldest: moves every cursor past the oldest sealed segment and deletes it. */
  private async dropOldest(): Promise<boolean> {
    if (this.segments.length < 2) return false;
    const seg = this.segments[0]!;
    const through = this.segments[1]!.firstSeq - 1n;
    const min = this.minAcked();
    const from = seg.firstSeq > min + 1n ? seg.firstSeq : min + 1n;
    const lost = through >= from ? through - from + 1n : 0n;
    for (const sink of this.opts.sinks) {
      if (this.cursors.get(sink)!.acked < through) {
        this.cursors.set(sink, through, { segFirst: this.segments[1]!.firstSeq, end: SEGMENT_HEADER_BYTES });
        await this.cursors.persist(sink);
      }
    }
    if (through + 1n > this.droppedBelowSeq) this.droppedBelowSeq = through + 1n;
    if (lost > 0n) {
      this.metrics.dropped.inc({ reason: "queue_full" }, Number(lost));
      this.log?.warn({ records: Number(lost), segment: seg.path }, "queue full: dropped the oldest records (--when-full drop-oldest)");
    }
    await this.deletePassedSegments();
    this.emit("dropped", through);
    return true;
  }

  // ---------------------------------------------------------------- reading (used by QueueReader)

  /** Segments as they are now; readers look segments up by first seq. */
  segmentList(): readonly Segment[] {
    return this.segments;
  }

  isActive(seg: Segment): boolean {
    return seg === this.segments[this.segments.length - 1];
  }

  /**
   * A reader found a corrupt frame in a segment. The segment's remainder is quarantined and
   * cut off; records lost are counted when readers reach the next segment (reportGap).
   */
  async corruptionFound(segFirst: bigint, offset: number, reason: string): Promise<void> {
    const seg = this.segments.find((s) => s.firstSeq === segFirst);
    if (!seg || offset >= seg.size) return;
    if (this.isActive(seg)) {
      await this.flush();
      await this.rotate();
      this.usedBytes += SEGMENT_HEADER_BYTES;
      this.tailFill = SEGMENT_HEADER_BYTES;
    }
    await this.quarantine(seg.path, offset, reason);
    const fh = await open(seg.path, "r+");
    await fh.truncate(offset);
    await fh.datasync();
    await fh.close();
    this.usedBytes -= seg.size - offset;
    seg.size = offset;
    this.log?.error({ segment: seg.path, offset, reason }, "corrupt queue segment found while reading: quarantined the rest of it");
    this.notifyRoom();
  }

  /** A segment file vanished under us (removed by hand): forget it. */
  segmentMissing(segFirst: bigint): void {
    const seg = this.segments.find((s) => s.firstSeq === segFirst);
    if (!seg || this.isActive(seg)) return;
    this.usedBytes -= seg.size;
    this.segments = this.segments.filter((s) => s !== seg);
    this.log?.error({ segment: seg.path }, "queue segment file is missing; its records are lost");
  }

  /** Readers report seqs that were expected but not found; each gap is counted once. */
  reportGap(expected: bigint, found: bigint): void {
    if (found <= expected || this.countedGaps.has(found)) return;
    this.countedGaps.add(found);
    if (found <= this.droppedBelowSeq) return;
    const from = expected > this.droppedBelowSeq ? expected : this.droppedBelowSeq;
    const lost = Number(found - from);
    if (lost <= 0) return;
    this.metrics.corrupt.inc(lost);
    this.log?.error({ from: String(from), to: String(found - 1n), records: lost }, "queue records lost (corrupt or missing segment data)");
  }

  // ---------------------------------------------------------------- gauges and shutdown

  private async refreshDiskFree(): Promise<void> {
    if (this.closed) return;
    if (this.now() - this.diskFreeAt < STATFS_INTERVAL_MS && this.roomWaiters.length === 0) return;
    const s = await statfs(this.opts.dataDir);
    this.diskFree = s.bavail * s.bsize;
    this.diskFreeAt = this.now();
    this.bytesSinceStatfs = 0;
    this.metrics.diskFree.set(this.diskFree);
    if (this.roomWaiters.length > 0 && this.diskFree - this.opts.diskReserveBytes > 0) this.notifyRoom();
  }

  /** Records and bytes waiting for `sink`, and the append time of its next record if known. */
  backlog(sink: string): { records: number; bytes: number } {
    const cur = this.cursors.get(sink);
    const acked = cur?.acked ?? 0n;
    const records = this.nextSeq - 1n > acked ? Number(this.nextSeq - 1n - acked) : 0;
    let bytes = 0;
    const pos = cur?.position;
    for (const seg of this.segments) {
      if (pos && seg.firstSeq < pos.segFirst) continue;
      if (pos && seg.firstSeq === pos.segFirst) bytes += Math.max(0, seg.size - pos.end);
      else if (!pos && seg.lastSeq !== undefined && seg.lastSeq <= acked) continue;
      else bytes += seg.size - SEGMENT_HEADER_BYTES;
    }
    return { records: records > 0 ? records : 0, bytes: records > 0 ? bytes : 0 };
  }

  updateGauges(): void {
    for (const sink of this.opts.sinks) {
      const b = this.backlog(sink);
      this.metrics.queueRecords.set({ sink }, b.records);
      this.metrics.queueBytes.set({ sink }, b.bytes);
    }
    this.metrics.diskUsed.set(this.diskBytes);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    if (this.statfsTimer) clearInterval(this.statfsTimer);
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const w of waiters) w();
    if (this.cursorTimer) clearTimeout(this.cursorTimer);
    this.cursorTimer = undefined;
    await this.syncCursors();
    await this.activeFh.close().catch(() => {});
  }
}

function walkAfterCorruption(buf: Buffer, at: number): { count: number; maxSeq: bigint | undefined } {
  let count = 0;
  let maxSeq: bigint | undefined;
  let pos = at;
  // Step from frame to frame by the length fields while they stay plausible.
  while (buf.length - pos >= FRAME_HEADER_BYTES) {
    const len = buf.readUInt32LE(pos);
    const end = pos + FRAME_HEADER_BYTES + len;
    if (len > MAX_PAYLOAD_BYTES || end > buf.length) break;
    count++;
    const f = decodeFrame(buf, pos);
    if (f.kind === "frame" && (maxSeq === undefined || f.seq > maxSeq)) maxSeq = f.seq;
    pos = end;
  }
  return { count: Math.max(1, count), maxSeq };
}
