import { createConnection, type Socket } from "node:net";

// The producer side of the exporter protocol: one JSON object per line over a unix socket
// (or loopback TCP); the exporter answers `{"ack":N}` (N = records from this connection that
// are durable, cumulative) and `{"error":"…","line":L}` for a line it refused.
//
// Delivery is at-least-once: after a disconnect, every record not yet acknowledged is sent
// again on the next connection, so the exporter may store a record twice when the ack was
// lost with the connection. Records resent after a reconnect keep their order among
// themselves; they may land after records that were already durable.

export interface ExporterClientOptions {
  /** `unix:///var/run/decisions/export.sock` or `tcp://127.0.0.1:9095` (a bare absolute path means unix). */
  address: string;
  /** Records written to the socket and not yet acknowledged (default 10000). */
  maxInFlight?: number;
  /** Records held by the client, written or not; send() rejects beyond it rather than growing without bound (default 100000). */
  maxBuffered?: number;
  /** Largest serialized record; must not exceed the exporter's --max-record-bytes (default 1 MiB). */
  maxRecordBytes?: number;
  /** Reconnect backoff: exponential with full jitter, from initialMs up to maxMs (defaults 50ms, 5s). */
  reconnect?: { initialMs?: number; maxMs?: number };
  /** Connect attempt timeout (default 5s). */
  connectTimeoutMs?: number;
  /** Called for connection problems that the client handles itself (reconnects); for logging. */
  onWarning?: (message: string) => void;
}

/** The exporter refused a record for good (not a JSON object, too large, dropped because the queue was full). */
export class ExporterRejectedError extends Error {
  constructor(
    message: string,
    /** Line number on the connection, as the exporter reported it. */
    readonly line: number,
  ) {
    super(message);
    this.name = "ExporterRejectedError";
  }
}

/** The client cannot take or keep the record (closed, buffer full, not serializable). */
export class ExporterClientError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ExporterClientError";
  }
}

interface Entry {
  bytes: Buffer;
  resolve: () => void;
  reject: (err: Error) => void;
  settled: boolean;
}

interface Connection {
  socket: Socket;
  connected: boolean;
  /** Entries written on this connection, in order, not yet acked (settled ones are skipped). */
  inflight: Entry[];
  inflightHead: number;
  /** line number → entry, for error lines. */
  byLine: Map<number, Entry>;
  lines: number;
  acked: number;
  readBuf: string;
  sawAnswer: boolean;
}

type Address = { path: string } | { host: string; port: number };

/**
 * A producer for `watch-auditor exporter`. `send()` resolves once the record is durable in
 * the exporter's queue (fsynced) and rejects with ExporterRejectedError if the exporter refused
 * it. Disconnects are handled inside: reconnect with backoff and resend what was not acked.
 */
export class ExporterClient {
  private readonly addr: Address;
  private readonly maxInFlight: number;
  private readonly maxBuffered: number;
  private readonly maxRecordBytes: number;
  private readonly backoffInitialMs: number;
  private readonly backoffMaxMs: number;
  private readonly connectTimeoutMs: number;
  private readonly warn: (m: string) => void;
  /** Waiting to be written, in order (records to resend go first). */
  private unsent: Entry[] = [];
  private conn: Connection | undefined;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private flushScheduled = false;
  private closing = false;
  private destroyed = false;
  private idleWaiters: Array<() => void> = [];
  /** Counters for tests and diagnostics. */
  readonly stats = { connects: 0, disconnects: 0, resent: 0 };

  constructor(opts: ExporterClientOptions) {
    this.addr = parseAddress(opts.address);
    this.maxInFlight = positive(opts.maxInFlight ?? 10_000, "maxInFlight");
    this.maxBuffered = positive(opts.maxBuffered ?? 100_000, "maxBuffered");
    this.maxRecordBytes = positive(opts.maxRecordBytes ?? 1024 * 1024, "maxRecordBytes");
    this.backoffInitialMs = positive(opts.reconnect?.initialMs ?? 50, "reconnect.initialMs");
    this.backoffMaxMs = positive(opts.reconnect?.maxMs ?? 5000, "reconnect.maxMs");
    this.connectTimeoutMs = positive(opts.connectTimeoutMs ?? 5000, "connectTimeoutMs");
    this.warn = opts.onWarning ?? (() => undefined);
    this.connect();
  }

  private outstanding = 0;

  /** Records given to send() and not yet acknowledged or refused. */
  get pending(): number {
    return this.outstanding;
  }

  /** Resolves once the exporter has the record on disk; rejects if it refused the record. */
  send(record: object): Promise<void> {
    if (this.closing || this.destroyed) return Promise.reject(new ExporterClientError("client is closed"));
    if (record === null || typeof record !== "object" || Array.isArray(record)) {
      return Promise.reject(new ExporterClientError("a record must be a JSON object"));
    }
    let text: string;
    try {
      text = JSON.stringify(record);
    } catch (err) {
      return Promise.reject(new ExporterClientError(`record is not serializable as JSON: ${(err as Error).message}`));
    }
    const bytes = Buffer.from(text + "\n", "utf8");
    if (bytes.length - 1 > this.maxRecordBytes) {
      return Promise.reject(new ExporterClientError(`record is ${bytes.length - 1} bytes, over maxRecordBytes (${this.maxRecordBytes})`));
    }
    if (this.pending >= this.maxBuffered) {
      return Promise.reject(new ExporterClientError(`${this.pending} records are waiting for the exporter (maxBuffered ${this.maxBuffered}); slow down or wait for send() to resolve`));
    }
    return new Promise<void>((resolve, reject) => {
      this.outstanding++;
      const done = (): void => {
        this.outstanding--;
      };
      this.unsent.push({
        bytes,
        resolve: () => (done(), resolve()),
        reject: (err) => (done(), reject(err)),
        settled: false,
      });
      this.scheduleFlush();
    });
  }

  /**
   * Sends records in order; resolves when all are durable. If the exporter refused some,
   * rejects with an AggregateError of ExporterRejectedError after the others are durable.
   */
  async sendMany(records: Iterable<object>): Promise<void> {
    const results = await Promise.allSettled([...records].map((r) => this.send(r)));
    const errors = results.filter((r): r is PromiseRejectedResult => r.status === "rejected").map((r) => r.reason as Error);
    if (errors.length > 0) throw new AggregateError(errors, `${errors.length} of ${results.length} records were not accepted: ${errors[0]!.message}`);
  }

  /**
   * Stops taking records and waits until every pending one is durable or refused (reconnecting
   * as needed), then closes the connection. After timeoutMs (default 30s) what is left is
   * rejected with ExporterClientError.
   */
  async close(opts: { timeoutMs?: number } = {}): Promise<void> {
    if (this.destroyed) return;
    this.closing = true;
    if (this.pending > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.idleWaiters.push(resolve)),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, opts.timeoutMs ?? 30_000))),
      ]);
      clearTimeout(timer);
    }
    this.destroy(new ExporterClientError("client closed before the exporter acknowledged the record"));
  }

  /** Closes at once; pending records are rejected with `reason`. */
  destroy(reason: Error = new ExporterClientError("client destroyed")): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.closing = true;
    clearTimeout(this.reconnectTimer);
    const conn = this.conn;
    this.conn = undefined;
    if (conn) {
      for (let i = conn.inflightHead; i < conn.inflight.length; i++) settle(conn.inflight[i]!, reason);
      if (conn.connected) conn.socket.end();
      else conn.socket.destroy();
    }
    for (const e of this.unsent) settle(e, reason);
    this.unsent = [];
    this.notifyIdle();
  }

  private connect(): void {
    if (this.destroyed) return;
    const socket = createConnection(this.addr);
    socket.setNoDelay?.(true);
    const conn: Connection = { socket, connected: false, inflight: [], inflightHead: 0, byLine: new Map(), lines: 0, acked: 0, readBuf: "", sawAnswer: false };
    this.conn = conn;
    const timer = setTimeout(() => socket.destroy(new Error(`no connection within ${this.connectTimeoutMs}ms`)), this.connectTimeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      conn.connected = true;
      this.stats.connects++;
      this.flush();
    });
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => this.onData(conn, chunk));
    socket.on("drain", () => this.flush());
    socket.on("error", (err) => this.warn(`exporter connection ${formatAddress(this.addr)}: ${err.message}`));
    socket.on("close", () => {
      clearTimeout(timer);
      this.onClose(conn);
    });
  }

  private onClose(conn: Connection): void {
    if (this.conn !== conn) return;
    this.conn = undefined;
    if (conn.connected) this.stats.disconnects++;
    // Whatever was written and not acknowledged goes out again first, in its original order.
    const unacked = conn.inflight.slice(conn.inflightHead).filter((e) => !e.settled);
    this.stats.resent += unacked.length;
    this.unsent = unacked.concat(this.unsent);
    if (this.destroyed) return;
    if (conn.sawAnswer) this.attempt = 0;
    const ceiling = Math.min(this.backoffMaxMs, this.backoffInitialMs * 2 ** Math.min(this.attempt++, 20));
    this.reconnectTimer = setTimeout(() => this.connect(), Math.floor(Math.random() * ceiling));
  }

  private onData(conn: Connection, chunk: string): void {
    conn.readBuf += chunk;
    let nl: number;
    while ((nl = conn.readBuf.indexOf("\n")) !== -1) {
      const line = conn.readBuf.slice(0, nl);
      conn.readBuf = conn.readBuf.slice(nl + 1);
      if (line.trim() === "") continue;
      if (!this.onAnswer(conn, line)) {
        // Our count of what is durable is only as good as the exporter's answers: on anything
        // unexpected, start a fresh connection and resend (duplicates, never losses).
        this.warn(`exporter ${formatAddress(this.addr)} sent an unexpected answer, reconnecting: ${line.slice(0, 200)}`);
        conn.socket.destroy();
        return;
      }
    }
    if (conn.readBuf.length > 64 * 1024) conn.socket.destroy();
  }

  private onAnswer(conn: Connection, line: string): boolean {
    let msg: { ack?: unknown; error?: unknown; line?: unknown };
    try {
      msg = JSON.parse(line) as typeof msg;
    } catch {
      return false;
    }
    conn.sawAnswer = true;
    if (typeof msg.ack === "number") {
      let n = msg.ack - conn.acked;
      if (!Number.isInteger(n) || n < 0) return false;
      conn.acked = msg.ack;
      while (n > 0) {
        const e = conn.inflight[conn.inflightHead];
        if (!e) return false; // acked more than we sent
        conn.inflightHead++;
        if (e.settled) continue; // refused earlier: not a durable record, not counted
        n--;
        settle(e);
      }
      this.compact(conn);
      this.flush();
      this.notifyIdle();
      return true;
    }
    if (typeof msg.error === "string" && typeof msg.line === "number") {
      const e = conn.byLine.get(msg.line);
      // An error for a line we never sent, or one already counted as durable, means our count is off.
      if (!e || e.settled) return false;
      conn.byLine.delete(msg.line);
      if (msg.error.startsWith("not stored:")) {
        // The exporter could not store it for now (shutting down, storage error): not the
        // record's fault, so resend it on a fresh connection.
        conn.socket.destroy();
        return true;
      }
      settle(e, new ExporterRejectedError(msg.error, msg.line));
      this.notifyIdle();
      return true;
    }
    return false;
  }

  private compact(conn: Connection): void {
    // Drop the acknowledged prefix now and then; the line map only holds unacked entries.
    if (conn.inflightHead > 1024 && conn.inflightHead * 2 > conn.inflight.length) {
      for (const [line, e] of conn.byLine) if (e.settled) conn.byLine.delete(line);
      conn.inflight = conn.inflight.slice(conn.inflightHead);
      conn.inflightHead = 0;
    }
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // Records sent in the same tick go out in one write.
    queueMicrotask(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    const conn = this.conn;
    if (!conn?.connected || conn.socket.destroyed || conn.socket.writableNeedDrain) return;
    const room = this.maxInFlight - (conn.inflight.length - conn.inflightHead);
    if (room <= 0 || this.unsent.length === 0) return;
    const batch = this.unsent.splice(0, room);
    const parts: Buffer[] = [];
    for (const e of batch) {
      if (e.settled) continue;
      conn.lines++;
      conn.byLine.set(conn.lines, e);
      conn.inflight.push(e);
      parts.push(e.bytes);
    }
    if (parts.length > 0) conn.socket.write(Buffer.concat(parts));
  }

  private notifyIdle(): void {
    if (this.pending > 0 && !this.destroyed) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}

function settle(e: Entry, err?: Error): void {
  if (e.settled) return;
  e.settled = true;
  if (err) e.reject(err);
  else e.resolve();
}

function positive(n: number, what: string): number {
  if (!Number.isFinite(n) || n <= 0) throw new ExporterClientError(`option ${what}: must be a positive number, got ${n}`);
  return n;
}

function parseAddress(address: string): Address {
  if (address.startsWith("/")) return { path: address };
  if (address.startsWith("unix://")) {
    const path = address.slice("unix://".length);
    if (!path.startsWith("/")) throw new ExporterClientError(`address "${address}": expected unix:///absolute/path.sock`);
    return { path };
  }
  const m = /^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[^:/[\]]+):(\d{1,5})$/.exec(address);
  if (m && Number(m[2]) > 0 && Number(m[2]) <= 65535) return { host: m[1]!.replace(/^\[|\]$/g, ""), port: Number(m[2]) };
  throw new ExporterClientError(`address "${address}": expected unix:///path.sock or tcp://host:port`);
}

function formatAddress(a: Address): string {
  return "path" in a ? `unix://${a.path}` : `tcp://${a.host}:${a.port}`;
}
