import { chmod, lstat, unlink } from "node:fs/promises";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import type { Logger } from "../core/logger.js";
import { LineSplitter, type LineEvent } from "./ndjson-lines.js";
import { QueueClosedError, type DurableQueue } from "./queue/durable-queue.js";

export type ListenAddress = { kind: "unix"; path: string } | { kind: "tcp"; host: string; port: number };

export function formatListenAddress(a: ListenAddress): string {
  return a.kind === "unix" ? `unix://${a.path}` : `tcp://${a.host.includes(":") ? `[${a.host}]` : a.host}:${a.port}`;
}

/** Parses `unix:///path.sock` or `tcp://host:port`; throws a message naming the value. */
export function parseListenAddress(value: string): ListenAddress {
  if (value.startsWith("unix://")) {
    const path = value.slice("unix://".length);
    if (!path.startsWith("/")) throw new Error(`"${value}": expected unix:///absolute/path.sock`);
    if (Buffer.byteLength(path) > 107) throw new Error(`"${value}": unix socket paths are limited to 107 bytes`);
    return { kind: "unix", path };
  }
  const m = /^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[^:/[\]]+):(\d{1,5})$/.exec(value);
  if (m) {
    const port = Number(m[2]);
    if (port > 65535) throw new Error(`"${value}": port must be at most 65535`);
    return { kind: "tcp", host: m[1]!.replace(/^\[|\]$/g, ""), port };
  }
  throw new Error(`"${value}": expected unix:///path.sock or tcp://host:port`);
}

export interface ProducerServerOptions {
  listen: ListenAddress[];
  queue: DurableQueue;
  maxRecordBytes: number;
  /** Mode of unix socket files, e.g. 0o660. */
  socketMode: number;
  maxConnections?: number;
  logger?: Logger;
}

/** Past this much unread output we skip intermediate acks and stop reading the producer's input. */
const MAX_UNREAD_OUTPUT = 64 * 1024;
/** Records read from one connection and waiting for admission to the queue. */
const MAX_CONN_BACKLOG_BYTES = 4 * 1024 * 1024;

class ProducerConnection {
  private readonly splitter: LineSplitter;
  private admitChain: Promise<void> = Promise.resolve();
  private backlogBytes = 0;
  private durable = 0;
  private ackWritten = 0;
  private ackScheduled = false;
  private outstanding = 0;
  private ended = false;
  private pausedByUs = false;
  /** Error lines the producer has not read pile up past MAX_UNREAD_OUTPUT. */
  private outputBacklogged = false;
  closed = false;

  constructor(
    readonly socket: Socket,
    private readonly server: ProducerServer,
  ) {
    this.splitter = new LineSplitter(server.opts.maxRecordBytes);
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("end", () => this.onEnd());
    socket.on("drain", () => this.writeAck());
    socket.on("error", () => {});
    socket.on("close", () => {
      this.closed = true;
      server.forget(this);
    });
  }

  private onData(chunk: Buffer): void {
    const events: LineEvent[] = [];
    this.splitter.push(chunk, events);
    this.handle(events);
  }

  private onEnd(): void {
    const events: LineEvent[] = [];
    this.splitter.end(events);
    this.handle(events);
    this.ended = true;
    void this.admitChain.then(() => this.maybeFinish());
  }

  private handle(events: LineEvent[]): void {
    if (events.length === 0) return;
    const { metrics } = this.server.opts.queue;
    const records: Buffer[] = [];
    const lines: number[] = [];
    for (const e of events) {
      const v = e.verdict;
      if (v.ok === true) {
        records.push(v.record);
        lines.push(e.line);
      } else if (v.ok === false) {
        metrics.protocolErrors.inc({ reason: v.reason });
        this.writeError(v.message, e.line);
      }
    }
    if (records.length === 0) return;
    const readAt = performance.now();
    metrics.received.inc(records.length);
    let bytes = 0;
    for (const r of records) bytes += r.length;
    this.backlogBytes += bytes;
    this.outstanding++;
    this.updateFlow();
    // Admission is serialized per connection (order); durability waits overlap (group commit).
    this.admitChain = this.admitChain.then(async () => {
      try {
        const r = await this.server.opts.queue.admit(records);
        this.backlogBytes -= bytes;
        this.updateFlow();
        for (let i = r.accepted; i < records.length; i++) this.writeError(`${r.dropReason ?? "queue full"}: record dropped`, lines[i]!);
        void r.durable.then(
          () => {
            if (r.accepted > 0) metrics.ackLatency.observe((performance.now() - readAt) / 1000);
            this.durableDone(r.accepted);
          },
          (err: unknown) => {
            for (let i = 0; i < r.accepted; i++) this.writeError(`not stored: ${(err as Error).message}`, lines[i]!);
            this.durableDone(0);
          },
        );
      } catch (err) {
        this.backlogBytes -= bytes;
        this.updateFlow();
        const why = err instanceof QueueClosedError ? "exporter is shutting down" : (err as Error).message;
        for (const l of lines) this.writeError(`not stored: ${why}`, l);
        this.durableDone(0);
      }
    });
  }

  private durableDone(n: number): void {
    this.outstanding--;
    if (n > 0) {
      this.durable += n;
      this.server.opts.queue.metrics.acked.inc(n);
      if (!this.ackScheduled) {
        this.ackScheduled = true;
        // Records made durable by one group commit are answered with one line.
        setImmediate(() => {
          this.ackScheduled = false;
          this.writeAck();
        });
      }
    }
    this.maybeFinish();
  }

  private writeAck(): void {
    if (this.closed || this.socket.destroyed || this.ackWritten === this.durable) return;
    // A producer that never reads must not make us buffer: only the latest cumulative ack
    // matters, so skip intermediate ones until the socket drains.
    if (this.socket.writableLength > MAX_UNREAD_OUTPUT) return;
    this.ackWritten = this.durable;
    this.socket.write(`{"ack":${this.durable}}\n`);
  }

  private writeError(message: string, line: number): void {
    if (this.closed || this.socket.destroyed || !this.socket.writable) return;
    // Unlike acks, error lines cannot be coalesced: a skipped one would let the producer's client
    // count a refused record as durable. So they are always written, and a producer that does not
    // read them is slowed down instead: we stop reading its input until it drains our output.
    this.socket.write(JSON.stringify({ error: message, line }) + "\n");
    if (this.socket.writableLength > MAX_UNREAD_OUTPUT && !this.outputBacklogged) {
      this.outputBacklogged = true;
      this.updateFlow();
      this.socket.once("drain", () => {
        this.outputBacklogged = false;
        this.updateFlow();
        this.writeAck();
      });
    }
  }

  /** Back-pressure: stop reading while the queue is blocked or this connection is far ahead. */
  updateFlow(): void {
    const stop = this.server.opts.queue.isBlocked || this.backlogBytes > MAX_CONN_BACKLOG_BYTES || this.server.stopping || this.outputBacklogged;
    if (stop && !this.pausedByUs) {
      this.pausedByUs = true;
      this.socket.pause();
    } else if (!stop && this.pausedByUs) {
      this.pausedByUs = false;
      this.socket.resume();
    }
  }

  private maybeFinish(): void {
    if (this.ended && this.outstanding === 0 && !this.closed) {
      this.writeAck();
      this.socket.end();
    }
  }

  /** Shutdown: stop reading, wait until what was read is durable and acked, then close. */
  async finish(timeoutMs: number): Promise<void> {
    this.updateFlow();
    const deadline = Date.now() + timeoutMs;
    while (this.outstanding > 0 && Date.now() < deadline && !this.closed) await new Promise((r) => setTimeout(r, 10));
    await this.admitChain.catch(() => {});
    this.writeAck();
    if (!this.closed) {
      this.socket.end();
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          this.socket.destroy();
          resolve();
        }, Math.max(100, deadline - Date.now()));
        this.socket.once("close", () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}

/** Accepts producer connections (unix sockets, loopback TCP) and feeds the durable queue. */
export class ProducerServer {
  private servers: Server[] = [];
  private readonly conns = new Set<ProducerConnection>();
  private readonly socketPaths: string[] = [];
  stopping = false;

  constructor(readonly opts: ProducerServerOptions) {
    const onFlow = (): void => {
      for (const c of this.conns) c.updateFlow();
    };
    opts.queue.on("full", onFlow);
    opts.queue.on("room", onFlow);
  }

  /** Listens on every address; resolves with the bound addresses (port 0 gets a real port). */
  async start(): Promise<ListenAddress[]> {
    const bound: ListenAddress[] = [];
    for (const addr of this.opts.listen) {
      const server = createServer({ allowHalfOpen: true, pauseOnConnect: false }, (socket) => this.accept(socket));
      server.maxConnections = this.opts.maxConnections ?? 1024;
      if (addr.kind === "unix") await removeStaleSocket(addr.path);
      await new Promise<void>((resolve, reject) => {
        server.once("error", (err: NodeJS.ErrnoException) => reject(new Error(`--listen ${formatListenAddress(addr)}: ${err.code ?? err.message}`)));
        if (addr.kind === "unix") server.listen(addr.path, () => resolve());
        else server.listen(addr.port, addr.host, () => resolve());
      });
      // Registered before chmod so that stop() closes it even if start() fails after this.
      this.servers.push(server);
      if (addr.kind === "unix") {
        this.socketPaths.push(addr.path);
        await chmod(addr.path, this.opts.socketMode);
        bound.push(addr);
      } else {
        const a = server.address();
        bound.push({ kind: "tcp", host: addr.host, port: typeof a === "object" && a ? a.port : addr.port });
      }
    }
    return bound;
  }

  private accept(socket: Socket): void {
    if (this.stopping) {
      socket.destroy();
      return;
    }
    const c = new ProducerConnection(socket, this);
    this.conns.add(c);
    this.opts.queue.metrics.connections.set(this.conns.size);
    c.updateFlow();
  }

  forget(c: ProducerConnection): void {
    this.conns.delete(c);
    this.opts.queue.metrics.connections.set(this.conns.size);
  }

  /** Stops accepting, stops reading, acks what was made durable, closes connections. */
  async stop(timeoutMs = 5000): Promise<void> {
    this.stopping = true;
    const closing = this.servers.map((s) => new Promise<void>((r) => s.close(() => r())));
    await Promise.all([...this.conns].map((c) => c.finish(timeoutMs)));
    await Promise.all(closing);
    for (const p of this.socketPaths) await unlink(p).catch(() => {});
  }
}

/**
 * A socket file left by a crashed exporter is replaced; a live one (someone answers) or a
 * file that is not a socket is refused rather than deleted.
 */
async function removeStaleSocket(path: string): Promise<void> {
  let st;
  try {
    st = await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    throw err;
  }
  if (!st.isSocket()) throw new Error(`${path}: exists and is not a socket; refusing to replace it`);
  const live = await new Promise<boolean>((resolve) => {
    const s = createConnection(path);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
  if (live) throw new Error(`--listen unix://${path}: another process is listening on this socket`);
  await unlink(path);
}
