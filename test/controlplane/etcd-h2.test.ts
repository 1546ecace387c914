// The usage scan's gRPC-over-node:http2 caller (src/controlplane/etcd/h2.ts) against a small
// node:http2 server that answers KV.Range the way a gRPC server frames it: answers split at any
// byte (across the 5-byte prefix too), a status in the trailers or trailers-only, HTTP errors,
// resets, oversized answers, a server that never answers. The real etcd paths (plain, mTLS,
// frozen, compaction) are in etcd-usage*.test.ts.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { H2RangeCaller } from "../../src/controlplane/etcd/h2.js";
import { MAX_RECEIVE_BYTES } from "../../src/controlplane/etcd/connection.js";
import { encodeRangeRequest } from "../../src/controlplane/etcd/wire.js";

/** A RangeResponse with `n` key-values (keys k0.., values of `size` bytes) and count = n. */
function rangeResponse(n: number, size: number): Buffer {
  const varint = (v: number): number[] => {
    const out: number[] = [];
    while (v >= 0x80) {
      out.push((v & 0x7f) | 0x80);
      v = Math.floor(v / 128);
    }
    out.push(v);
    return out;
  };
  const field = (no: number, payload: Buffer): Buffer => Buffer.concat([Buffer.from([(no << 3) | 2, ...varint(payload.length)]), payload]);
  const parts = [field(1, Buffer.from([(3 << 3) | 0, 42]))]; // header { revision: 42 }
  for (let i = 0; i < n; i++) parts.push(field(2, Buffer.concat([field(1, Buffer.from(`/registry/pods/ns/k${i}`)), field(5, Buffer.alloc(size, 0x61))])));
  parts.push(Buffer.from([(4 << 3) | 0, ...varint(n)]));
  return Buffer.concat(parts);
}

const framed = (msg: Buffer): Buffer => {
  const h = Buffer.alloc(5);
  h.writeUInt32BE(msg.length, 1);
  return Buffer.concat([h, msg]);
};

type Behaviour = (stream: http2.ServerHttp2Stream, body: Buffer) => void;

describe("etcd Range over node:http2 (h2.ts)", () => {
  let server: http2.Http2Server;
  let url: URL;
  let behave: Behaviour = () => undefined;
  const requests: Array<{ path: string; headers: http2.IncomingHttpHeaders; body: Buffer }> = [];
  before(async () => {
    server = http2.createServer();
    server.on("stream", (stream, headers) => {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        const body = Buffer.concat(chunks);
        requests.push({ path: String(headers[":path"]), headers, body });
        behave(stream, body);
      });
      stream.on("error", () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  });
  after(async () => {
    await new Promise((r) => server.close(r));
  });

  const ok = (msg: Buffer, splits: number[] = []): Behaviour => (stream) => {
    stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
    stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
    const all = framed(msg);
    let at = 0;
    for (const s of [...splits, all.length]) {
      stream.write(all.subarray(at, s));
      at = s;
    }
    stream.end();
  };

  test("a unary call: gRPC request framing and headers, an answer split at every kind of boundary", async () => {
    const msg = rangeResponse(50, 3000);
    const caller = new H2RangeCaller(url, {});
    try {
      for (const splits of [[], [1], [3, 4, 5, 6], [5, 100, 16_385, 70_000]]) {
        behave = ok(msg, splits);
        const seen: Array<[string, number]> = [];
        const page = await caller.range(encodeRangeRequest({ key: Buffer.from("/registry/"), limit: 7, serializable: true }), (b, s, e, n) => seen.push([b.toString("utf8", s, e), n]), 2000);
        assert.equal(page.kvCount, 50);
        assert.equal(page.count, 50);
        assert.equal(page.header.revision, 42);
        assert.equal(seen.length, 50);
        assert.deepEqual(seen[49], ["/registry/pods/ns/k49", 3000]);
        assert.equal(page.lastKey?.toString(), "/registry/pods/ns/k49");
      }
      const r = requests.at(-1)!;
      assert.equal(r.path, "/etcdserverpb.KV/Range");
      assert.equal(r.headers["content-type"], "application/grpc");
      assert.equal(r.headers["te"], "trailers");
      assert.match(String(r.headers["grpc-timeout"]), /^\d+m$/);
      const req = encodeRangeRequest({ key: Buffer.from("/registry/"), limit: 7, serializable: true });
      assert.deepEqual(r.body, framed(req), "1 byte uncompressed + 4 bytes length + the RangeRequest");
    } finally {
      caller.close();
    }
  });

  test("the receive buffer is reused between pages and grown for a larger one; the visitor's view is only valid during the call", async () => {
    const caller = new H2RangeCaller(url, {});
    try {
      const bufs: ArrayBufferLike[] = [];
      for (const [n, size] of [[10, 100], [10, 100], [300, 10_000], [10, 100]] as const) {
        behave = ok(rangeResponse(n, size));
        let total = 0;
        await caller.range(encodeRangeRequest({ key: Buffer.from("a") }), (b, _s, _e, len) => {
          total += len;
          bufs.push(b.buffer);
        }, 2000);
        assert.equal(total, n * size);
      }
      // pages 1 and 2 share one buffer; page 3 needed a larger one, which page 4 reuses
      assert.equal(bufs[0], bufs[10]);
      assert.notEqual(bufs[10], bufs[20]);
      assert.equal(bufs[20], bufs[320]);
    } finally {
      caller.close();
    }
  });

  test("a non-OK grpc-status (in trailers, or trailers-only) is the call's error, with code and message", async () => {
    const caller = new H2RangeCaller(url, {});
    try {
      behave = (stream) => {
        stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
        stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "11", "grpc-message": "etcdserver: mvcc: required revision has been compacted" }));
        stream.end();
      };
      await assert.rejects(caller.range(encodeRangeRequest({ key: Buffer.from("a") }), () => undefined, 2000), (err: Error & { code?: number }) => {
        assert.equal(err.code, 11);
        assert.equal(err.message, "11 OUT_OF_RANGE: etcdserver: mvcc: required revision has been compacted");
        return true;
      });
      behave = (stream) => stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": "7", "grpc-message": "etcdserver%3A permission denied" }, { endStream: true });
      await assert.rejects(caller.range(encodeRangeRequest({ key: Buffer.from("a") }), () => undefined, 2000), (err: Error & { code?: number }) => err.code === 7 && err.message === "7 PERMISSION_DENIED: etcdserver: permission denied");
      // after failed calls the same caller still works
      behave = ok(rangeResponse(2, 5));
      assert.equal((await caller.range(encodeRangeRequest({ key: Buffer.from("a") }), () => undefined, 2000)).kvCount, 2);
    } finally {
      caller.close();
    }
  });

  test("HTTP errors, resets, answers cut short or too large, and silence are errors, never a hang", async () => {
    const caller = new H2RangeCaller(url, {});
    const call = (ms = 2000): Promise<unknown> => caller.range(encodeRangeRequest({ key: Buffer.from("a") }), () => undefined, ms);
    try {
      behave = (stream) => stream.respond({ ":status": 503 }, { endStream: true });
      await assert.rejects(call(), (err: Error & { code?: number }) => err.code === 14 && /^14 UNAVAILABLE: HTTP 503/.test(err.message));
      behave = (stream) => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
      await assert.rejects(call(), /UNAVAILABLE/);
      behave = (stream) => {
        // 5-byte prefix says 100 bytes, 10 arrive, then OK
        stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
        stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
        stream.end(framed(Buffer.alloc(100)).subarray(0, 15));
      };
      await assert.rejects(call(), /13 INTERNAL: answer cut short: 10 of 100 bytes/);
      behave = (stream) => {
        stream.respond({ ":status": 200, "content-type": "application/grpc" });
        const h = Buffer.alloc(5);
        h.writeUInt32BE(MAX_RECEIVE_BYTES + 1, 1);
        stream.write(h);
      };
      await assert.rejects(call(), /8 RESOURCE_EXHAUSTED: answer of \d+ bytes is larger than/);
      behave = () => undefined; // never answers
      const t0 = Date.now();
      await assert.rejects(call(300), (err: Error & { code?: number }) => err.code === 4 && /DEADLINE_EXCEEDED: no answer within 300 ms/.test(err.message));
      assert.ok(Date.now() - t0 < 2000);
    } finally {
      caller.close();
    }
  });

  test("nothing listening: UNAVAILABLE naming the refused connection; a closed caller refuses calls", async () => {
    const srv = http2.createServer();
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    const port = (srv.address() as AddressInfo).port;
    await new Promise((r) => srv.close(r));
    const caller = new H2RangeCaller(new URL(`http://127.0.0.1:${port}`), {});
    await assert.rejects(caller.range(encodeRangeRequest({ key: Buffer.from("a") }), () => undefined, 1000), (err: Error & { code?: number }) => err.code === 14 && /ECONNREFUSED/.test(err.message));
    caller.close();
    await assert.rejects(caller.range(encodeRangeRequest({ key: Buffer.from("a") }), () => undefined, 1000), /CANCELLED/);
  });
});
