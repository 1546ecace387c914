// etcd's KV.Range as a gRPC call on node:http2 directly, for the usage scan only (status and
// alarms keep the etcd3 client). gRPC over HTTP/2 is small: a POST to /etcdserverpb.KV/Range with
// `content-type: application/grpc`, a body of one message framed as 1 byte "compressed" (0) + 4
// bytes big-endian length + the protobuf, the answer framed the same way, and the outcome in the
// trailers (`grpc-status`, `grpc-message`) — or in the headers when there is no body
// ("trailers-only"). See https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md.
//
// Why not @grpc/grpc-js (which the etcd3 client uses): loading it and its channel machinery costs
// ~13 MB of RSS before the first call, and every answer is gathered into a fresh Buffer. Here the
// answer's DATA chunks are copied once into a receive buffer that is reused from page to page, the
// stream window is large enough that a whole page arrives without waiting for WINDOW_UPDATEs, and
// there is nothing else: one session, one stream per call, a deadline per call.
import * as http2 from "node:http2";
import { isIP } from "node:net";
import { MAX_RECEIVE_BYTES, type TlsMaterial } from "./connection.js";
import { minorGc } from "./gc.js";
import { decodeRangeResponse, type KvVisitor, type RangePage } from "./wire.js";

/** gRPC status codes used here (https://grpc.github.io/grpc/core/md_doc_statuscodes.html). */
export const GrpcStatus = { OK: 0, CANCELLED: 1, UNKNOWN: 2, DEADLINE_EXCEEDED: 4, RESOURCE_EXHAUSTED: 8, INTERNAL: 13, UNAVAILABLE: 14 } as const;

const STATUS_NAMES = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
];

/** A failed call: `code` is the gRPC status, the message reads like grpc-js's ("14 UNAVAILABLE: …"). */
export class GrpcError extends Error {
  constructor(
    readonly code: number,
    detail: string,
  ) {
    super(`${code} ${STATUS_NAMES[code] ?? "UNKNOWN"}: ${detail}`);
    this.name = "GrpcError";
  }
}

/**
 * HTTP/2 stream and connection window: a whole page (~4 MiB) may be in flight without waiting for
 * a WINDOW_UPDATE round trip (node's default, 64 KiB, would cost ~64 round trips per page on a
 * real network; on loopback the bench measured no difference between 64 KiB, 1 MiB and 8 MiB).
 */
const STREAM_WINDOW = 4 << 20;
/** A receive buffer is dropped (not kept for the next page) when a page needed more than this. */
const KEEP_BUFFER_BYTES = 8 << 20;
/** A minor GC after this many bytes of answers (see afterAnswer; 8 and 16 MiB measured 75–78 and 84–99 MB). */
const GC_EVERY_BYTES = 4 << 20;
const EMPTY = Buffer.alloc(0);

/** An answer's bytes, valid until release(). */
export interface RawAnswer {
  bytes: Buffer;
  release(): void;
}

/**
 * One HTTP/2 session to one etcd endpoint, Range calls one at a time (the scan awaits each page;
 * the probe has its own caller and therefore its own connection). The session is opened on the
 * first call and again after it failed.
 */
export class H2RangeCaller {
  private session: http2.ClientHttp2Session | undefined;
  private connecting: Promise<http2.ClientHttp2Session> | undefined;
  /** Receive buffers not in use (one per call in flight at most), reused from page to page. */
  private free: Buffer[] = [];
  private closed = false;
  private receivedSinceGc = 0;

  constructor(
    private readonly endpoint: URL,
    private readonly tls: TlsMaterial,
  ) {}

  private connect(deadline: number): Promise<http2.ClientHttp2Session> {
    if (this.session !== undefined && !this.session.closed && !this.session.destroyed) return Promise.resolve(this.session);
    if (this.connecting !== undefined) return this.connecting;
    const host = this.endpoint.hostname.replace(/^\[|\]$/g, "");
    const secure = this.endpoint.protocol === "https:";
    const p = new Promise<http2.ClientHttp2Session>((resolve, reject) => {
      const s = http2.connect(this.endpoint.origin, {
        settings: { initialWindowSize: STREAM_WINDOW, enablePush: false },
        // SNI carries host names only (RFC 6066): none for an IP address.
        ...(secure ? { ca: this.tls.ca, cert: this.tls.cert, key: this.tls.key, servername: isIP(host) ? "" : host } : {}),
      });
      const timer = setTimeout(() => fail(new GrpcError(GrpcStatus.DEADLINE_EXCEEDED, `no connection to ${this.endpoint.host} within the deadline`)), Math.max(1, deadline - Date.now()));
      const fail = (err: Error): void => {
        clearTimeout(timer);
        s.destroy();
        reject(err instanceof GrpcError ? err : new GrpcError(GrpcStatus.UNAVAILABLE, err.message));
      };
      s.once("error", fail);
      s.once("connect", () => {
        clearTimeout(timer);
        s.removeListener("error", fail);
        // the whole connection may carry a page per stream: widen the connection window too
        s.setLocalWindowSize(STREAM_WINDOW);
        s.on("error", () => undefined); // reported to the streams; the next call reconnects
        s.once("close", () => {
          if (this.session === s) this.session = undefined;
        });
        this.session = s;
        resolve(s);
      });
    }).finally(() => {
      this.connecting = undefined;
    });
    this.connecting = p;
    return p;
  }

  /**
   * One Range call; the answer is decoded (and counted) only once the call succeeded, so a page
   * that arrives and then fails (deadline, trailers with an error) and is retried is never counted
   * twice.
   */
  async range(req: Buffer, visit: KvVisitor, timeoutMs: number): Promise<RangePage> {
    const a = await this.fetch(req, timeoutMs);
    try {
      return decodeRangeResponse(a.bytes, visit);
    } finally {
      a.release();
    }
  }

  /**
   * One Range call; resolves with the raw RangeResponse in a receive buffer of this caller, valid
   * until `release()` (then reused by a later call). Several calls may be in flight at once.
   */
  async fetch(req: Buffer, timeoutMs: number): Promise<RawAnswer> {
    if (this.closed) throw new GrpcError(GrpcStatus.CANCELLED, "caller closed");
    const deadline = Date.now() + timeoutMs;
    const session = await this.connect(deadline);
    const lease: { buf: Buffer } = { buf: this.free.pop() ?? EMPTY };
    let len: number;
    try {
      len = await this.call(session, req, deadline, lease);
    } catch (err) {
      this.giveBack(lease.buf);
      throw err;
    }
    this.afterAnswer(len);
    let released = false;
    return {
      bytes: lease.buf.subarray(0, len),
      release: () => {
        if (released) return;
        released = true;
        this.giveBack(lease.buf);
      },
    };
  }

  private giveBack(buf: Buffer): void {
    if (!this.closed && buf.length > 0 && buf.length <= KEEP_BUFFER_BYTES && this.free.length < 4) this.free.push(buf);
  }

  /**
   * node:http2 hands every socket read to JavaScript as a new ArrayBuffer (the DATA chunks are
   * views into it). They die young, but only a scavenge frees them, and the scan makes almost no
   * other garbage, so V8's young generation fills slowly: measured, 25–45 MB of dead read buffers
   * were pending at the peak (peak RSS of the 200k-key bench scan 100–105 MB without, 70–72 MB
   * with a minor GC every 4 MiB). A minor GC takes ~1 ms here (almost nothing survives).
   */
  private afterAnswer(len: number): void {
    this.receivedSinceGc += len;
    if (this.receivedSinceGc < GC_EVERY_BYTES) return;
    this.receivedSinceGc = 0;
    minorGc();
  }

  /** Sends the request; resolves with the answer's length, its bytes in `lease.buf[0, len)` (grown when too small). */
  private call(session: http2.ClientHttp2Session, req: Buffer, deadline: number, lease: { buf: Buffer }): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const left = Math.max(1, deadline - Date.now());
      let stream: http2.ClientHttp2Stream;
      try {
        stream = session.request(
          {
            ":method": "POST",
            ":path": "/etcdserverpb.KV/Range",
            "content-type": "application/grpc",
            te: "trailers",
            // the server gives up too (etcd cancels the read), not only this client
            "grpc-timeout": `${left}m`,
          },
          { endStream: false },
        );
      } catch (err) {
        session.destroy();
        reject(new GrpcError(GrpcStatus.UNAVAILABLE, (err as Error).message));
        return;
      }
      let settled = false;
      const finish = (err: GrpcError | undefined, len = 0): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err !== undefined) {
          if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
          reject(err);
        } else resolve(len);
      };
      const timer = setTimeout(() => finish(new GrpcError(GrpcStatus.DEADLINE_EXCEEDED, `no answer within ${Math.round(left)} ms`)), left);

      // Framing of the answer: a 5-byte prefix, then `want` bytes of protobuf (one message).
      const prefix = Buffer.alloc(5);
      let prefixGot = 0;
      let want = -1;
      let got = 0;
      let status: number | undefined;
      let message = "";
      const takeStatus = (h: http2.IncomingHttpHeaders): void => {
        const s = h["grpc-status"];
        if (s === undefined) return;
        status = Number(s);
        const m = h["grpc-message"];
        if (typeof m === "string") {
          try {
            message = decodeURIComponent(m);
          } catch {
            message = m;
          }
        }
      };
      stream.on("response", (h) => {
        const code = Number(h[":status"]);
        if (code !== 200) finish(new GrpcError(code === 503 || code === 502 || code === 504 ? GrpcStatus.UNAVAILABLE : GrpcStatus.UNKNOWN, `HTTP ${code} from ${this.endpoint.host}`));
        else takeStatus(h);
      });
      stream.on("trailers", takeStatus);
      stream.on("data", (chunk: Buffer) => {
        if (settled) return;
        let at = 0;
        if (want < 0) {
          const n = Math.min(5 - prefixGot, chunk.length);
          chunk.copy(prefix, prefixGot, 0, n);
          prefixGot += n;
          at = n;
          if (prefixGot < 5) return;
          if (prefix[0] !== 0) return finish(new GrpcError(GrpcStatus.INTERNAL, "compressed answer (none was asked for)"));
          want = prefix.readUInt32BE(1);
          if (want > MAX_RECEIVE_BYTES) return finish(new GrpcError(GrpcStatus.RESOURCE_EXHAUSTED, `answer of ${want} bytes is larger than ${MAX_RECEIVE_BYTES}`));
          if (lease.buf.length < want) lease.buf = Buffer.allocUnsafe(Math.max(want, Math.min(2 * lease.buf.length, MAX_RECEIVE_BYTES), 64 << 10));
        }
        const n = chunk.length - at;
        if (got + n > want) return finish(new GrpcError(GrpcStatus.INTERNAL, "more than one message in a unary answer"));
        chunk.copy(lease.buf, got, at);
        got += n;
      });
      stream.on("error", (err: Error) => finish(new GrpcError(GrpcStatus.UNAVAILABLE, err.message)));
      stream.on("close", () => {
        if (settled) return;
        if (status === undefined) {
          const code = stream.rstCode;
          return finish(new GrpcError(GrpcStatus.UNAVAILABLE, `stream closed without a status${code ? ` (HTTP/2 error code ${code})` : ""}`));
        }
        if (status !== GrpcStatus.OK) return finish(new GrpcError(status, message));
        if (want < 0 || got !== want) return finish(new GrpcError(GrpcStatus.INTERNAL, `answer cut short: ${got} of ${Math.max(want, 0)} bytes`));
        finish(undefined, want);
      });
      const head = Buffer.allocUnsafe(5);
      head[0] = 0;
      head.writeUInt32BE(req.length, 1);
      stream.end(Buffer.concat([head, req]));
    });
  }

  close(): void {
    this.closed = true;
    // destroy, not close: a graceful close would wait for a call in flight to a frozen etcd
    this.session?.destroy();
    this.session = undefined;
    this.free = [];
  }
}
