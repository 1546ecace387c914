import { open, type FileHandle } from "node:fs/promises";
import type { DurableQueue, QueuedRecord } from "./durable-queue.js";
import { FRAME_HEADER_BYTES, MAX_PAYLOAD_BYTES, SEGMENT_HEADER_BYTES, decodeFrame } from "./format.js";

const CHUNK_BYTES = 1024 * 1024;

/**
 * One sink's sequential reader: hands out durable records after the sink's cursor, in
 * order. It reads ahead of the cursor; the cursor moves only through DurableQueue.ack().
 */
export class QueueReader {
  private segFirst: bigint | undefined;
  private fh: FileHandle | undefined;
  private offset = 0;
  private expected: bigint;
  /** The last chunk read, kept for the next call: a batch rarely takes a whole chunk. */
  private cache: { seg: bigint; at: number; buf: Buffer } | undefined;

  constructor(
    private readonly queue: DurableQueue,
    readonly sink: string,
  ) {
    this.expected = queue.ackedSeq(sink) + 1n;
  }

  /** Restarts reading right after the sink's cursor (after a failed send, nothing is lost). */
  async rewind(): Promise<void> {
    await this.closeSegment();
    this.expected = this.queue.ackedSeq(this.sink) + 1n;
  }

  /** Waits until at least one record is available (or the signal aborts: returns []). */
  async read(maxRecords: number, maxBytes: number, signal: AbortSignal): Promise<QueuedRecord[]> {
    for (;;) {
      if (signal.aborted) return [];
      // Subscribe before reading so that a commit between the read and the wait is not missed.
      let wake!: () => void;
      const woken = new Promise<void>((r) => (wake = r));
      this.queue.once("committed", wake);
      this.queue.once("dropped", wake);
      signal.addEventListener("abort", wake, { once: true });
      try {
        const out = await this.readAvailable(maxRecords, maxBytes);
        if (out.length > 0) return out;
        await woken;
      } finally {
        this.queue.off("committed", wake);
        this.queue.off("dropped", wake);
        signal.removeEventListener("abort", wake);
      }
    }
  }

  private async closeSegment(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    this.segFirst = undefined;
    this.cache = undefined;
    await fh?.close().catch(() => {});
  }

  private async enter(first: bigint): Promise<boolean> {
    await this.closeSegment();
    const seg = this.queue.segmentList().find((s) => s.firstSeq === first);
    if (!seg) return false;
    try {
      this.fh = await open(seg.path, "r");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      this.queue.segmentMissing(first);
      return false;
    }
    this.segFirst = first;
    this.offset = SEGMENT_HEADER_BYTES;
    return true;
  }

  /** Positions on the segment holding `expected` (or the first one after it). */
  private async locate(): Promise<boolean> {
    for (let tries = 0; tries < 1000; tries++) {
      const segs = this.queue.segmentList();
      if (segs.length === 0) return false;
      let pick = segs[0]!;
      for (const s of segs) if (s.firstSeq <= this.expected) pick = s;
      if (pick.firstSeq > this.expected) {
        this.queue.reportGap(this.expected, pick.firstSeq);
        this.expected = pick.firstSeq;
      }
      if (await this.enter(pick.firstSeq)) return true;
    }
    return false;
  }

  private async readAvailable(maxRecords: number, maxBytes: number): Promise<QueuedRecord[]> {
    if (this.expected < this.queue.droppedBelowSeq) {
      // drop-oldest removed what we were about to read.
      this.expected = this.queue.droppedBelowSeq;
      await this.closeSegment();
    }
    const fresh = this.queue.recentFrom(this.sink, this.expected, maxRecords, maxBytes);
    if (fresh.length > 0) {
      const last = fresh[fresh.length - 1]!;
      this.expected = last.seq + 1n;
      // Keep the disk position in step, so that a later read from disk starts right after.
      if (this.segFirst === last.segFirst || (await this.enter(last.segFirst))) {
        this.offset = last.end;
        this.cache = undefined;
      }
      return fresh;
    }
    if (this.segFirst === undefined && !(await this.locate())) return [];
    const out: QueuedRecord[] = [];
    let bytes = 0;
    while (out.length < maxRecords && bytes < maxBytes) {
      const segs = this.queue.segmentList();
      const idx = segs.findIndex((s) => s.firstSeq === this.segFirst);
      const seg = idx >= 0 ? segs[idx]! : undefined;
      if (!seg || this.offset >= seg.size) {
        if (seg && this.queue.isActive(seg)) break;
        // Sealed and read to its end (or gone): go on with the next segment.
        const next = segs.find((s) => s.firstSeq > (this.segFirst ?? 0n));
        if (!next) break;
        if (next.firstSeq > this.expected) {
          this.queue.reportGap(this.expected, next.firstSeq);
          this.expected = next.firstSeq;
        }
        if (!(await this.enter(next.firstSeq)) && !(await this.locate())) break;
        continue;
      }
      let chunk: Buffer;
      let fromCache = false;
      const c = this.cache;
      if (c && c.seg === seg.firstSeq && this.offset >= c.at && this.offset < c.at + c.buf.length) {
        chunk = c.buf.subarray(this.offset - c.at, Math.max(this.offset - c.at, Math.min(c.buf.length, seg.size - c.at)));
        fromCache = true;
      } else {
        // A fresh buffer per read (never reused): the records handed out are views into it.
        chunk = await this.readAt(this.offset, Math.min(CHUNK_BYTES, seg.size - this.offset));
        this.cache = { seg: seg.firstSeq, at: this.offset, buf: chunk };
        if (chunk.length === 0) {
          // The file is shorter than what was fsynced into it: cut off by someone else.
          await this.queue.corruptionFound(seg.firstSeq, this.offset, "segment file shorter than its committed size");
          continue;
        }
      }
      let at = 0;
      while (at < chunk.length && out.length < maxRecords && bytes < maxBytes) {
        const f = decodeFrame(chunk, at);
        if (f.kind === "frame") {
          if (f.seq >= this.expected) {
            out.push({ seq: f.seq, data: f.payload, appendedAtMs: f.appendedAtMs, segFirst: seg.firstSeq, end: this.offset + f.end });
            bytes += f.payload.length;
            this.expected = f.seq + 1n;
          }
          at = f.end;
          continue;
        }
        if (f.kind === "incomplete") {
          // The chunk ends inside a frame: read on from that frame (from disk, not the cache).
          if (at > 0 || fromCache) {
            if (at === 0) this.cache = undefined;
            break;
          }
          // A fresh read that cannot hold the frame: the frame is larger than a chunk.
          const big = await this.readFrameAt(this.offset, seg.size);
          if (typeof big !== "string") {
            if (big.seq >= this.expected) {
              out.push({ seq: big.seq, data: big.payload, appendedAtMs: big.appendedAtMs, segFirst: seg.firstSeq, end: this.offset + big.end });
              bytes += big.payload.length;
              this.expected = big.seq + 1n;
            }
            this.offset += big.end;
            break;
          }
          await this.queue.corruptionFound(seg.firstSeq, this.offset, big);
          break;
        }
        // Damage inside durable data.
        await this.queue.corruptionFound(seg.firstSeq, this.offset + at, f.reason);
        break;
      }
      this.offset += at;
    }
    return out;
  }

  private async readAt(offset: number, length: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(length);
    let got = 0;
    while (got < length) {
      const { bytesRead } = await this.fh!.read(buf, got, length - got, offset + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return buf.subarray(0, got);
  }

  /** Reads the one frame at `offset` whatever its size; a string says why it is damaged. */
  private async readFrameAt(offset: number, segSize: number): Promise<Extract<ReturnType<typeof decodeFrame>, { kind: "frame" }> | string> {
    if (offset + FRAME_HEADER_BYTES > segSize) return "frame header runs past the end of the segment";
    const head = await this.readAt(offset, FRAME_HEADER_BYTES);
    if (head.length < FRAME_HEADER_BYTES) return "segment shorter than its committed size";
    const total = FRAME_HEADER_BYTES + head.readUInt32LE(0);
    if (total - FRAME_HEADER_BYTES > MAX_PAYLOAD_BYTES) return "impossible frame length";
    if (offset + total > segSize) return "frame runs past the end of the segment";
    const f = decodeFrame(await this.readAt(offset, total), 0);
    return f.kind === "frame" ? f : f.kind === "corrupt" ? f.reason : "segment shorter than its committed size";
  }

  async close(): Promise<void> {
    await this.closeSegment();
  }
}
