import { crc32 } from "node:zlib";

// On-disk format of the exporter queue, version 1.
//
// data-dir/format-version        "1\n"
// data-dir/queue/<firstSeq>.seg  segment: 16-byte header, then frames
//   header: "WAQS" | u32 version | u64 firstSeq
//   frame:  u32 payloadLen | u32 crc32(seq..payload) | u64 seq | f64 appendedAtMs | payload
// data-dir/cursors/<sink>.json   {"sink":…,"acked":"<seq>"} written atomically
export const FORMAT_VERSION = 1;
export const SEGMENT_MAGIC = Buffer.from("WAQS", "ascii");
export const SEGMENT_HEADER_BYTES = 16;
export const FRAME_HEADER_BYTES = 24;
/** The smallest record is "{}", so no frame is shorter than this; used to bound lost sequence numbers. */
export const MIN_FRAME_BYTES = FRAME_HEADER_BYTES + 2;
/** Frames claiming more than this are corrupt whatever the configured record limit. */
export const MAX_PAYLOAD_BYTES = 64 * 1024 * 1024;

export function segmentFileName(firstSeq: bigint): string {
  return `${firstSeq.toString().padStart(20, "0")}.seg`;
}

export function parseSegmentFileName(name: string): bigint | undefined {
  const m = /^(\d{20})\.seg$/.exec(name);
  return m ? BigInt(m[1]!) : undefined;
}

export function encodeSegmentHeader(firstSeq: bigint): Buffer {
  const b = Buffer.alloc(SEGMENT_HEADER_BYTES);
  SEGMENT_MAGIC.copy(b, 0);
  b.writeUInt32LE(FORMAT_VERSION, 4);
  b.writeBigUInt64LE(firstSeq, 8);
  return b;
}

export type HeaderCheck = { ok: true; firstSeq: bigint } | { ok: false; reason: string };

export function decodeSegmentHeader(b: Buffer): HeaderCheck {
  if (b.length < SEGMENT_HEADER_BYTES) return { ok: false, reason: "segment header truncated" };
  if (!b.subarray(0, 4).equals(SEGMENT_MAGIC)) return { ok: false, reason: "bad segment magic" };
  const v = b.readUInt32LE(4);
  if (v !== FORMAT_VERSION) return { ok: false, reason: `unsupported segment version ${v}` };
  return { ok: true, firstSeq: b.readBigUInt64LE(8) };
}

/** Writes one frame into `out` at `at`; returns the offset after it. */
export function encodeFrame(out: Buffer, at: number, seq: bigint, appendedAtMs: number, payload: Buffer): number {
  out.writeUInt32LE(payload.length, at);
  out.writeBigUInt64LE(seq, at + 8);
  out.writeDoubleLE(appendedAtMs, at + 16);
  payload.copy(out, at + FRAME_HEADER_BYTES);
  const end = at + FRAME_HEADER_BYTES + payload.length;
  out.writeUInt32LE(crc32(out.subarray(at + 8, end)), at + 4);
  return end;
}

export function frameBytes(payloadLen: number): number {
  return FRAME_HEADER_BYTES + payloadLen;
}

export type FrameDecode =
  | { kind: "frame"; seq: bigint; appendedAtMs: number; payload: Buffer; end: number }
  /** Not enough bytes in `buf` for the whole frame (a torn tail, or read more). */
  | { kind: "incomplete"; need: number }
  | { kind: "corrupt"; reason: string };

/** Decodes the frame at `at` in `buf`. The payload is a view into `buf`. */
export function decodeFrame(buf: Buffer, at: number): FrameDecode {
  if (buf.length - at < FRAME_HEADER_BYTES) return { kind: "incomplete", need: FRAME_HEADER_BYTES };
  const len = buf.readUInt32LE(at);
  if (len > MAX_PAYLOAD_BYTES) return { kind: "corrupt", reason: `frame length ${len} exceeds ${MAX_PAYLOAD_BYTES}` };
  const end = at + FRAME_HEADER_BYTES + len;
  if (end > buf.length) return { kind: "incomplete", need: FRAME_HEADER_BYTES + len };
  const crc = buf.readUInt32LE(at + 4);
  if (crc32(buf.subarray(at + 8, end)) !== crc) return { kind: "corrupt", reason: "checksum mismatch" };
  return {
    kind: "frame",
    seq: buf.readBigUInt64LE(at + 8),
    appendedAtMs: buf.readDoubleLE(at + 16),
    payload: buf.subarray(at + FRAME_HEADER_BYTES, end),
    end,
  };
}
