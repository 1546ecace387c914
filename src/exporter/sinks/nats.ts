import {
  connect,
  credsAuthenticator,
  InvalidArgumentError,
  tokenAuthenticator,
  usernamePasswordAuthenticator,
  type Authenticator,
  type NatsConnection,
  type TlsOptions,
} from "@nats-io/transport-node";
import { jetstream, JetStreamApiError, type JetStreamClient, type PubAck } from "@nats-io/jetstream";
import type { Sink, SinkOutcome, SinkRecord } from "../sink.js";
import { SinkConfigError, readOptionFile, type ParsedSinkUrl } from "./options.js";

export const NATS_DEFAULTS = { timeoutMs: 10_000, batchRecords: 256, batchBytes: 4 * 1024 * 1024, port: 4222 } as const;
/** Publishes in flight at once; more buys little and makes a reconnect replay longer. */
const WINDOW = 64;
/** JetStream's "message size exceeds maximum allowed" (the stream's max_msg_size). */
const JS_MESSAGE_TOO_LARGE = 10054;

/**
 * Publishes each record to a JetStream subject and waits for the stream's PubAck. The
 * header Nats-Msg-Id carries the record's sequence number, so a record re-sent after a
 * timeout or a reconnect is dropped by the stream as a duplicate (within its
 * duplicate_window, 2 minutes by default). Publishes are pipelined in a window; if one
 * fails, the ones after it may already be stored, and the retry then hits de-duplication.
 *
 * The connection is opened on the first send and reconnects forever; while the server is
 * away, sends time out and come back as transient.
 */
export class NatsSink implements Sink {
  readonly name: string;
  readonly maxBatchRecords: number;
  readonly maxBatchBytes: number;
  readonly subject: string;
  private readonly server: string;
  private readonly timeoutMs: number;
  private readonly authenticator: Authenticator | undefined;
  private conn: Promise<{ nc: NatsConnection; js: JetStreamClient }> | undefined;
  private closed = false;
  private readonly tls: TlsOptions | undefined;

  constructor(parsed: ParsedSinkUrl) {
    const { url, options } = parsed;
    this.name = parsed.name;
    this.maxBatchRecords = options.batchRecords ?? NATS_DEFAULTS.batchRecords;
    this.maxBatchBytes = options.batchBytes ?? NATS_DEFAULTS.batchBytes;
    this.timeoutMs = options.timeout ?? NATS_DEFAULTS.timeoutMs;
    if (!url.hostname) throw new SinkConfigError(this.name, "needs a host: nats://HOST:PORT/SUBJECT");
    this.server = `${url.hostname}:${url.port || NATS_DEFAULTS.port}`;
    this.subject = decodeURIComponent(url.pathname.replace(/^\//, ""));
    if (!/^[^\s*>.]+(\.[^\s*>.]+)*$/.test(this.subject)) {
      throw new SinkConfigError(this.name, `the path must be a NATS subject without wildcards, e.g. nats://nats:4222/gatekeeper.decisions (got "${this.subject}")`);
    }

    const user = options.user ?? (url.username && url.password ? decodeURIComponent(url.username) : undefined);
    const password = options.password ?? (url.password ? decodeURIComponent(url.password) : undefined);
    const token = options.token ?? (url.username && !url.password ? decodeURIComponent(url.username) : undefined);
    const methods = [user !== undefined || password !== undefined, token !== undefined, options.credsFile !== undefined].filter(Boolean).length;
    if (methods > 1) throw new SinkConfigError(this.name, "give only one of user/password, token or credsFile");
    if ((user === undefined) !== (password === undefined)) throw new SinkConfigError(this.name, `options "user" and "password" go together`);
    if (options.credsFile) {
      this.authenticator = credsAuthenticator(readOptionFile(this.name, "credsFile", options.credsFile));
    } else if (token !== undefined) this.authenticator = tokenAuthenticator(token);
    else if (user !== undefined && password !== undefined) this.authenticator = usernamePasswordAuthenticator(user, password);

    if ((options.certFile === undefined) !== (options.keyFile === undefined)) throw new SinkConfigError(this.name, `options "certFile" and "keyFile" go together`);
    if (options.tls === false && (options.caFile || options.certFile)) throw new SinkConfigError(this.name, `option "tls=false" contradicts "caFile"/"certFile"`);
    if (options.tls || options.caFile || options.certFile) {
      const pem = (option: "caFile" | "certFile" | "keyFile"): string | undefined => {
        const file = options[option];
        return file === undefined ? undefined : readOptionFile(this.name, option, file).toString("utf8");
      };
      const ca = pem("caFile");
      const cert = pem("certFile");
      const key = pem("keyFile");
      this.tls = { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
    }
  }

  async send(batch: SinkRecord[], signal: AbortSignal): Promise<SinkOutcome> {
    if (batch.length === 0) return { kind: "ok" };
    if (this.closed) return { kind: "transient", reason: "sink is closed" };
    let js: JetStreamClient;
    try {
      js = (await this.connection(signal)).js;
    } catch (err) {
      return { kind: "transient", reason: `cannot connect to nats://${this.server}: ${errText(err)}` };
    }

    const results: Promise<PubAck>[] = [];
    let next = 0;
    const launch = (): void => {
      const r = batch[next++]!;
      const p = js.publish(this.subject, r.data, { msgID: r.seq.toString(), timeout: this.timeoutMs });
      p.catch(() => undefined); // awaited below in order; this only silences early rejections
      results.push(p);
    };
    while (next < Math.min(WINDOW, batch.length)) launch();
    for (let i = 0; i < batch.length; i++) {
      try {
        await results[i];
      } catch (err) {
        if (isRecordRefused(err)) return { kind: "permanent", reason: `JetStream refused the record: ${errText(err)}`, accepted: i, rejected: 1 };
        return { kind: "transient", reason: `publish to ${this.subject}: ${errText(err)}`, accepted: i };
      }
      if (signal.aborted) return { kind: "transient", reason: "send aborted (exporter shutting down)", accepted: i + 1 };
      if (next < batch.length) launch();
    }
    return { kind: "ok" };
  }

  private connection(signal: AbortSignal): Promise<{ nc: NatsConnection; js: JetStreamClient }> {
    if (!this.conn) {
      const conn = connect({
        servers: this.server,
        name: "watch-auditor-exporter",
        authenticator: this.authenticator,
        // An object (even empty) makes the client refuse connections that are not TLS.
        ...(this.tls ? { tls: this.tls } : {}),
        // Once connected, reconnect forever: a broker outage must never turn into lost records.
        // The first connect fails fast instead (no waitOnFirstConnect), so close() is never left
        // with a connect attempt it cannot cancel; the next send simply tries again.
        maxReconnectAttempts: -1,
        reconnectTimeWait: 500,
        timeout: this.timeoutMs,
      }).then((nc) => {
        // If the client gives up for good (e.g. bad credentials), start over on the next send.
        void nc.closed().then(() => {
          if (this.conn === conn) this.conn = undefined;
        });
        return { nc, js: jetstream(nc, { timeout: this.timeoutMs }) };
      });
      conn.catch(() => {
        if (this.conn === conn) this.conn = undefined;
      });
      this.conn = conn;
    }
    const conn = this.conn;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`no connection within ${this.timeoutMs}ms`)), this.timeoutMs);
      const onAbort = (): void => done(new Error("send aborted (exporter shutting down)"));
      const done = (err?: Error, v?: { nc: NatsConnection; js: JetStreamClient }): void => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        if (err) reject(err);
        else resolve(v!);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      conn.then((v) => done(undefined, v), (err: Error) => done(err));
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const conn = this.conn;
    this.conn = undefined;
    if (!conn) return;
    const c = await conn.catch(() => undefined);
    await c?.nc.close().catch(() => undefined);
  }
}

function isRecordRefused(err: unknown): boolean {
  if (err instanceof JetStreamApiError) return err.code === JS_MESSAGE_TOO_LARGE;
  return err instanceof InvalidArgumentError && /max_payload/.test(err.message);
}

function errText(err: unknown): string {
  const e = err as Error & { code?: unknown };
  return e?.message ? `${e.message}${e.code !== undefined && !e.message.includes(String(e.code)) ? ` (${String(e.code)})` : ""}` : String(err);
}
