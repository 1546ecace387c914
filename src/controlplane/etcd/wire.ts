// The etcd v3 KV.Range call on the protobuf wire, for the usage scan only. etcd's Range has no
// "value sizes only" mode: without keys_only every value travels. The etcd3 client decodes each
// page into objects with one Buffer per value (protobufjs + proto-loader); this decoder walks the
// page once and hands each key (a view into the page, not a copy) and its value *length* to a
// visitor, so no value is ever materialised. Field numbers: etcd api/etcdserverpb/rpc.proto and
// api/mvccpb/kv.proto (stable since etcd 3.0).

export interface RangeRequest {
  key: Buffer;
  rangeEnd?: Buffer;
  limit?: number;
  revision?: number;
  serializable?: boolean;
  keysOnly?: boolean;
  countOnly?: boolean;
}

export interface RangeHeader {
  clusterId: bigint;
  memberId: bigint;
  revision: number;
  raftTerm: number;
}

export interface RangePage {
  header: RangeHeader;
  /** Number of key-values in this page. */
  kvCount: number;
  more: boolean;
  /** Keys in the whole range (etcd ignores limit for it). */
  count: number;
  /** The last key of the page (a copy: safe to keep), when the page is not empty. */
  lastKey?: Buffer;
}

/**
 * Called for every key-value of a page with the key's place in the page buffer (`buf[keyStart,
 * keyEnd)`) and the value's length: no per-key object is made (copy the bytes to keep them).
 */
export type KvVisitor = (buf: Buffer, keyStart: number, keyEnd: number, valueLength: number) => void;

function varintLength(v: bigint): number {
  let n = 1;
  while (v >= 0x80n) {
    v >>= 7n;
    n++;
  }
  return n;
}

function writeVarint(buf: Buffer, pos: number, v: bigint): number {
  while (v >= 0x80n) {
    buf[pos++] = Number(v & 0x7fn) | 0x80;
    v >>= 7n;
  }
  buf[pos++] = Number(v);
  return pos;
}

/** Serialises an etcdserverpb.RangeRequest. */
export function encodeRangeRequest(r: RangeRequest): Buffer {
  const fields: Array<[number, Buffer | bigint]> = [[1, r.key]];
  if (r.rangeEnd !== undefined) fields.push([2, r.rangeEnd]);
  if (r.limit !== undefined && r.limit > 0) fields.push([3, BigInt(r.limit)]);
  if (r.revision !== undefined && r.revision > 0) fields.push([4, BigInt(r.revision)]);
  if (r.serializable) fields.push([7, 1n]);
  if (r.keysOnly) fields.push([8, 1n]);
  if (r.countOnly) fields.push([9, 1n]);
  let size = 0;
  for (const [, v] of fields) size += 1 + (typeof v === "bigint" ? varintLength(v) : varintLength(BigInt(v.length)) + v.length);
  const out = Buffer.allocUnsafe(size);
  let pos = 0;
  for (const [field, v] of fields) {
    if (typeof v === "bigint") {
      out[pos++] = field << 3; // wire type 0: varint
      pos = writeVarint(out, pos, v);
    } else {
      out[pos++] = (field << 3) | 2; // wire type 2: length-delimited
      pos = writeVarint(out, pos, BigInt(v.length));
      pos += v.copy(out, pos);
    }
  }
  return out;
}

class Reader {
  pos: number;
  constructor(
    readonly buf: Buffer,
    start: number,
    /** Mutable: one Reader is reused for every key-value of a page (no allocation per key). */
    public end: number,
  ) {
    this.pos = start;
  }
  varint(): bigint {
    let shift = 0n;
    let result = 0n;
    for (;;) {
      if (this.pos >= this.end) throw new Error("etcd RangeResponse: truncated varint");
      const b = this.buf[this.pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return result;
      shift += 7n;
      if (shift > 63n) throw new Error("etcd RangeResponse: varint too long");
    }
  }
  /** A small varint (lengths, tags) as a number, without BigInt. */
  uvarint(): number {
    let result = 0;
    let mul = 1;
    for (;;) {
      if (this.pos >= this.end) throw new Error("etcd RangeResponse: truncated varint");
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * mul;
      if (b < 0x80) return result;
      mul *= 128;
      if (mul > 2 ** 49) throw new Error("etcd RangeResponse: length varint too long");
    }
  }
  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.uvarintSkip();
        return;
      case 1:
        this.pos += 8;
        break;
      case 2:
        this.pos += this.uvarint();
        break;
      case 5:
        this.pos += 4;
        break;
      default:
        throw new Error(`etcd RangeResponse: unexpected wire type ${wireType}`);
    }
    if (this.pos > this.end) throw new Error("etcd RangeResponse: truncated field");
  }
  private uvarintSkip(): void {
    for (;;) {
      if (this.pos >= this.end) throw new Error("etcd RangeResponse: truncated varint");
      if (this.buf[this.pos++]! < 0x80) return;
    }
  }
  /** Start and end of a length-delimited field's payload (the reader moves past it). */
  span(): [number, number] {
    const len = this.uvarint();
    const start = this.pos;
    this.pos += len;
    if (this.pos > this.end) throw new Error("etcd RangeResponse: truncated bytes field");
    return [start, this.pos];
  }
}

function decodeHeader(buf: Buffer, start: number, end: number): RangeHeader {
  const r = new Reader(buf, start, end);
  const h: RangeHeader = { clusterId: 0n, memberId: 0n, revision: 0, raftTerm: 0 };
  while (r.pos < r.end) {
    const tag = r.uvarint();
    const field = tag >>> 3;
    const wt = tag & 7;
    if (wt !== 0) {
      r.skip(wt);
      continue;
    }
    const v = r.varint();
    if (field === 1) h.clusterId = v;
    else if (field === 2) h.memberId = v;
    else if (field === 3) h.revision = Number(v);
    else if (field === 4) h.raftTerm = Number(v);
  }
  return h;
}

/** Walks an etcdserverpb.RangeResponse, calling `visit` for each key-value. */
export function decodeRangeResponse(buf: Buffer, visit: KvVisitor): RangePage {
  const r = new Reader(buf, 0, buf.length);
  const kv = new Reader(buf, 0, 0);
  const page: RangePage = { header: { clusterId: 0n, memberId: 0n, revision: 0, raftTerm: 0 }, kvCount: 0, more: false, count: 0 };
  let lastKeyStart = -1;
  let lastKeyEnd = -1;
  while (r.pos < r.end) {
    const tag = r.uvarint();
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field === 1 && wt === 2) {
      const [s, e] = r.span();
      page.header = decodeHeader(buf, s, e);
    } else if (field === 2 && wt === 2) {
      const len = r.uvarint();
      kv.pos = r.pos;
      r.pos += len;
      if (r.pos > r.end) throw new Error("etcd RangeResponse: truncated bytes field");
      kv.end = r.pos;
      let keyStart = kv.pos;
      let keyEnd = kv.pos;
      let valueLength = 0;
      while (kv.pos < kv.end) {
        const t = kv.uvarint();
        const f = t >>> 3;
        const w = t & 7;
        if (w === 2 && (f === 1 || f === 5)) {
          const len = kv.uvarint();
          const at = kv.pos;
          kv.pos += len;
          if (kv.pos > kv.end) throw new Error("etcd RangeResponse: truncated bytes field");
          if (f === 1) {
            keyStart = at;
            keyEnd = kv.pos;
          } else valueLength = len;
        } else kv.skip(w);
      }
      page.kvCount++;
      lastKeyStart = keyStart;
      lastKeyEnd = keyEnd;
      visit(buf, keyStart, keyEnd, valueLength);
    } else if (field === 3 && wt === 0) page.more = r.varint() !== 0n;
    else if (field === 4 && wt === 0) page.count = Number(r.varint());
    else r.skip(wt);
  }
  if (lastKeyStart >= 0) page.lastKey = Buffer.from(buf.subarray(lastKeyStart, lastKeyEnd));
  return page;
}
