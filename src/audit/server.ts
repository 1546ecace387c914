import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { Counter, Histogram, Registry } from "prom-client";
import { OpsServer, type RouteHandler } from "../core/http-server.js";
import { createLogger, type LogLevel, type Logger } from "../core/logger.js";
import { openStore, type AuditStore } from "./store.js";
import { ingestEvents } from "./ingest.js";
import { StreamMetrics } from "./stream-metrics.js";
import { KEEP_SECRET_DATA_WARNING, RedactionMetrics } from "./redaction-metrics.js";
import { apiRoutes } from "./http-api.js";
import { untilTerminated } from "../core/signals.js";
import { isLoopbackHost } from "../core/loopback.js";
import { createHttpAuth, type HttpAuthConfig } from "../core/http-auth.js";
import { DetectionMetrics } from "./detect/metrics.js";
import { loadRules, type Rule } from "./detect/rules.js";

export interface AuditServerOptions {
  db: string;
  listen: { host: string; port: number };
  /** When set (audit serve): /metrics, /healthz, /readyz and the JSON API on this address. */
  httpListen?: { host: string; port: number };
  tls?: { certFile: string; keyFile: string; clientCaFile?: string };
  /** HTTPS for httpListen (the JSON API, metrics and probes). */
  httpTls?: { certFile: string; keyFile: string };
  maxBodyBytes: number;
  /** Store Secret data and tokens in bodies unredacted (--keep-secret-data); warned at start. */
  keepSecretData?: boolean;
  logLevel?: LogLevel;
  /** Who may call the JSON API on httpListen (required with httpListen; {mode:"none"} opens it). */
  auth?: HttpAuthConfig;
  /** audit serve: detection rules counted live in watch_auditor_audit_detections_total (default: the built-ins). */
  detectRules?: Rule[];
  /**
   * audit serve: more routes on httpListen over the reader connection (the web console, wired by
   * the CLI so that audit does not import it): public ones (the page) skip the gate, the rest
   * are behind it like /api/v1; headers go on every response.
   */
  extraRoutes?: (reader: AuditStore, registry: Registry) => Promise<{ routes: Record<string, RouteHandler>; publicRoutes?: Record<string, RouteHandler>; headers?: Record<string, string> }>;
}

class BodyTooLarge extends Error {}


function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"]);
    if (Number.isFinite(declared) && declared > max) {
      reject(new BodyTooLarge());
      return;
    }
    const parts: Buffer[] = [];
    let n = 0;
    req.on("data", (c: Buffer) => {
      n += c.length;
      if (n > max) {
        req.removeAllListeners("data");
        reject(new BodyTooLarge());
        req.resume();
        return;
      }
      parts.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(parts)));
    req.on("error", reject);
  });
}

function reply(res: ServerResponse, status: number, body: Record<string, unknown>): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Receives the API server's audit webhook backend: each POST carries an audit.k8s.io EventList
 * (the API server batches events). Concurrent batches are group-committed: while one write to
 * DuckDB runs, the next requests' events accumulate and go in as one insert. A request is answered
 * 200 only after its events are in the store, so the API server retries anything we lost.
 */
export class AuditWebhook {
  readonly registry: Registry;
  private readonly pending: { items: unknown[]; done: (err?: unknown) => void }[] = [];
  private writing = false;
  private readonly server: Server;
  private readonly m;
  private readonly redactions: RedactionMetrics;
  /** Set by runAuditServer for `audit serve`: detection rules evaluated on each received event. */
  detections?: DetectionMetrics;

  constructor(
    private readonly store: AuditStore,
    private readonly opts: AuditServerOptions,
    private readonly log: Logger,
    private readonly stream?: StreamMetrics,
    registry = new Registry(),
  ) {
    this.registry = registry;
    this.m = {
      requests: new Counter({ name: "watch_auditor_audit_webhook_requests_total", help: "Webhook requests by HTTP response code.", labelNames: ["code"], registers: [registry] }),
      rejected: new Counter({ name: "watch_auditor_audit_webhook_rejected_total", help: "Webhook requests rejected, by reason.", labelNames: ["reason"], registers: [registry] }),
      received: new Counter({ name: "watch_auditor_audit_events_received_total", help: "Audit events received by the webhook.", registers: [registry] }),
      inserted: new Counter({ name: "watch_auditor_audit_events_inserted_total", help: "Audit events written to the store.", registers: [registry] }),
      duplicates: new Counter({ name: "watch_auditor_audit_events_duplicate_total", help: "Audit events already in the store (same auditID and stage).", registers: [registry] }),
      malformed: new Counter({ name: "watch_auditor_audit_events_malformed_total", help: "Audit events in a batch that are not valid audit events (no auditID, stage or timestamp).", registers: [registry] }),
      writeErrors: new Counter({ name: "watch_auditor_audit_store_write_errors_total", help: "Failed writes to the store (the batch is answered 500 so the API server retries).", registers: [registry] }),
      writeSeconds: new Histogram({ name: "watch_auditor_audit_store_write_duration_seconds", help: "Time to write one group of batches to the store.", buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [registry] }),
    };
    this.redactions = new RedactionMetrics(registry, opts.keepSecretData !== true);
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      void this.handle(req, res).catch((err: unknown) => {
        this.log.error({ err: String(err) }, "webhook request failed");
        if (!res.headersSent) this.respond(res, 500, { error: "internal error" });
      });
    };
    if (opts.tls) {
      const ca = opts.tls.clientCaFile ? readFileSync(opts.tls.clientCaFile) : undefined;
      this.server = createHttpsServer(
        { cert: readFileSync(opts.tls.certFile), key: readFileSync(opts.tls.keyFile), ca, requestCert: ca !== undefined, rejectUnauthorized: ca !== undefined, minVersion: "TLSv1.2" },
        handler,
      );
    } else {
      this.server = createHttpServer(handler);
    }
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 60_000;
  }

  private respond(res: ServerResponse, code: number, body: Record<string, unknown>, reason?: string): void {
    this.m.requests.inc({ code: String(code) });
    if (reason) this.m.rejected.inc({ reason });
    reply(res, code, body);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== "POST") {
      res.setHeader("allow", "POST");
      this.respond(res, 405, { error: "the audit webhook accepts POST only" }, "method");
      return;
    }
    let body: Buffer;
    try {
      body = await readBody(req, this.opts.maxBodyBytes);
    } catch (err) {
      if (err instanceof BodyTooLarge) {
        res.setHeader("connection", "close");
        this.respond(res, 413, { error: `request body larger than ${this.opts.maxBodyBytes} bytes (--max-body-bytes)` }, "body_too_large");
        return;
      }
      throw err;
    }
    let doc: unknown;
    try {
      doc = JSON.parse(body.toString("utf8"));
    } catch (err) {
      this.respond(res, 400, { error: `malformed JSON: ${(err as Error).message}` }, "invalid_json");
      return;
    }
    const d = doc as { kind?: unknown; items?: unknown } | null;
    let items: unknown[];
    if (d !== null && typeof d === "object" && !Array.isArray(d) && d.kind === "EventList" && Array.isArray(d.items)) items = d.items;
    else if (d !== null && typeof d === "object" && !Array.isArray(d) && d.kind === "Event") items = [d];
    else {
      this.respond(res, 400, { error: 'expected an audit.k8s.io EventList ({"kind":"EventList","items":[...]}) or Event' }, "not_eventlist");
      return;
    }
    this.m.received.inc(items.length);
    for (const it of items) {
      if (it === null || typeof it !== "object") continue;
      this.stream?.observe(it as Record<string, unknown>);
      this.detections?.observe(it);
    }
    try {
      await this.enqueue(items);
    } catch (err) {
      this.m.writeErrors.inc();
      this.log.error({ err: String(err), events: items.length }, "store write failed");
      this.respond(res, 500, { error: "store write failed" });
      return;
    }
    this.respond(res, 200, { accepted: items.length });
  }

  private enqueue(items: unknown[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ items, done: (err) => (err ? reject(err) : resolve()) });
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    try {
      while (this.pending.length > 0) {
        const group = this.pending.splice(0, this.pending.length);
        const end = this.m.writeSeconds.startTimer();
        try {
          const r = await ingestEvents(this.store, group.flatMap((g) => g.items), "webhook", undefined, { keepSecretData: this.opts.keepSecretData });
          this.redactions.add(r.redactions);
          this.m.inserted.inc(r.inserted);
          this.m.duplicates.inc(r.duplicates);
          this.m.malformed.inc(r.malformed);
          if (r.malformed > 0) this.log.warn({ malformed: r.malformed, first: r.malformedLines.slice(0, 5) }, "malformed events in webhook batch");
          for (const g of group) g.done();
        } catch (err) {
          for (const g of group) g.done(err);
        } finally {
          end();
        }
      }
    } finally {
      this.writing = false;
    }
  }

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.opts.listen.port, this.opts.listen.host, () => {
        this.server.off("error", reject);
        resolve((this.server.address() as AddressInfo).port);
      });
    });
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
    });
    while (this.writing || this.pending.length > 0) await new Promise((r) => setTimeout(r, 10));
  }
}

/** `audit webhook` and `audit serve`: runs until SIGTERM/SIGINT, then drains and closes the store. */
export async function runAuditServer(opts: AuditServerOptions): Promise<void> {
  const log = createLogger(opts.logLevel ?? "info", "audit");
  if (opts.keepSecretData) log.warn({ keepSecretData: true }, KEEP_SECRET_DATA_WARNING);
  const store = await openStore(opts.db);
  const registry = new Registry();
  const stream = opts.httpListen ? new StreamMetrics(registry) : undefined;
  const webhook = new AuditWebhook(store, opts, log, stream, registry);
  if (stream) webhook.detections = new DetectionMetrics(registry, opts.detectRules ?? loadRules());
  let ops: OpsServer | undefined;
  let reader: AuditStore | undefined;
  let closeAuth = (): void => {};
  try {
    let gate: Awaited<ReturnType<typeof createHttpAuth>> | undefined;
    if (opts.httpListen) {
      // The API never opens by default: no auth config is an error, {mode: "none"} an explicit choice.
      if (!opts.auth) throw new Error("audit serve: the HTTP API needs an auth configuration");
      gate = await createHttpAuth(opts.auth, registry, log);
      closeAuth = gate.close;
      log.info(gate.describe, "HTTP API authentication");
    }
    const webhookPort = await webhook.listen();
    let httpPort: number | undefined;
    if (opts.httpListen) {
      reader = await store.duplicate();
      const httpTls = opts.httpTls ? { cert: readFileSync(opts.httpTls.certFile), key: readFileSync(opts.httpTls.keyFile) } : undefined;
      const extra = await opts.extraRoutes?.(reader, registry);
      ops = new OpsServer({
        registry,
        host: opts.httpListen.host,
        port: opts.httpListen.port,
        routes: { ...extra?.routes, ...apiRoutes(reader) },
        ...(extra?.publicRoutes ? { publicRoutes: extra.publicRoutes } : {}),
        ...(extra?.headers ? { headers: extra.headers } : {}),
        readyz: () => ({ ok: true }),
        auth: gate?.auth,
        tls: httpTls,
      });
      httpPort = await ops.listen();
    }
    if (!opts.tls) log.warn("webhook listens over plain HTTP: pass --tls-cert/--tls-key (and --client-ca for mTLS) outside a test setup");
    if (opts.httpListen && !opts.httpTls && opts.auth?.mode !== "none" && !isLoopbackHost(opts.httpListen.host)) {
      log.warn("the JSON API takes bearer tokens over plain HTTP: pass --http-tls-cert/--http-tls-key unless a mesh (mTLS) already encrypts pod traffic");
    }
    log.info({ webhookPort, httpPort, db: opts.db, tls: opts.tls !== undefined, mtls: opts.tls?.clientCaFile !== undefined, httpTls: opts.httpTls !== undefined }, "audit receiver listening");
    log.info({ signal: await untilTerminated() }, "shutting down");
  } finally {
    await webhook.close();
    await ops?.close();
    closeAuth();
    reader?.close();
    store.close();
  }
}
