import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import type { HttpAuth } from "./http-auth.js";

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface ProbeResult {
  ok: boolean;
  detail?: unknown;
}

export interface OpsServerOptions {
  registry: Registry;
  host?: string;
  port: number;
  /** Liveness: the process is alive and its event loop turns. */
  healthz?: () => ProbeResult | Promise<ProbeResult>;
  /** Readiness: the component can do its job right now. */
  readyz?: () => ProbeResult | Promise<ProbeResult>;
  /** Extra GET routes, e.g. /status. */
  routes?: Record<string, RouteHandler>;
  /**
   * GET routes served without the auth gate: only for content that holds no data (the web
   * console's page and its script/style files, which then ask for a token themselves).
   */
  publicRoutes?: Record<string, RouteHandler>;
  /** Headers set on every response (e.g. the console's X-Content-Type-Options, Referrer-Policy). */
  headers?: Record<string, string>;
  /**
   * When set, every path except /healthz and /readyz (and /metrics unless auth.protectMetrics)
   * needs a bearer token the gate allows (401/403/503 otherwise; unknown paths too, so a caller
   * without a token learns nothing about the routes).
   */
  auth?: HttpAuth;
  /** Serve HTTPS with this certificate and key (PEM): bearer tokens then never cross the network in clear. */
  tls?: { cert: Buffer; key: Buffer };
  /**
   * Writes the /metrics text in pieces instead of `registry.metrics()` as one string (large
   * expositions: `flows`' TableRegistry.writeMetrics). Each piece's promise resolves when the socket
   * has taken it; it rejects if the client went away.
   */
  writeMetrics?: (write: (chunk: string) => Promise<void> | void) => Promise<void>;
}

/** Writes a piece of a streamed body; waits for 'drain' when the socket's buffer is full. */
function writePiece(res: ServerResponse, chunk: string): Promise<void> | void {
  if (res.destroyed) throw new Error("client closed the connection");
  if (res.write(chunk)) return;
  return new Promise<void>((resolve, reject) => {
    const onDrain = (): void => {
      res.off("close", onClose);
      resolve();
    };
    const onClose = (): void => {
      res.off("drain", onDrain);
      reject(new Error("client closed the connection"));
    };
    res.once("drain", onDrain);
    res.once("close", onClose);
  });
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/**
 * The HTTP side every long-running command shares: /metrics, /healthz, /readyz and
 * component routes. Only GET/HEAD; no request body is ever read, so there is no
 * input to bound.
 */
export class OpsServer {
  private server: Server;
  constructor(private readonly opts: OpsServerOptions) {
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      void this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) sendJson(res, 500, { error: err instanceof Error ? err.message : String(err) });
        else res.destroy();
      });
    };
    this.server = opts.tls ? createTlsServer({ cert: opts.tls.cert, key: opts.tls.key, minVersion: "TLSv1.2" }, handler) : createServer(handler);
    this.server.keepAliveTimeout = 5000;
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 30_000;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "/").split("?")[0]!;
    for (const [k, v] of Object.entries(this.opts.headers ?? {})) res.setHeader(k, v);
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    const publicRoute = Object.hasOwn(this.opts.publicRoutes ?? {}, path) ? this.opts.publicRoutes![path] : undefined;
    if (publicRoute) {
      await publicRoute(req, res);
      return;
    }
    const open = path === "/healthz" || path === "/readyz" || (path === "/metrics" && !this.opts.auth?.protectMetrics);
    if (this.opts.auth && !open && !(await this.opts.auth.guard(req, res))) return;
    if (path === "/metrics" && this.opts.writeMetrics) {
      res.writeHead(200, { "content-type": this.opts.registry.contentType });
      if (req.method !== "HEAD") await this.opts.writeMetrics((chunk) => writePiece(res, chunk));
      res.end();
      return;
    }
    if (path === "/metrics") {
      const body = await this.opts.registry.metrics();
      res.writeHead(200, { "content-type": this.opts.registry.contentType });
      res.end(body);
      return;
    }
    if (path === "/healthz" || path === "/readyz") {
      const probe = path === "/healthz" ? this.opts.healthz : this.opts.readyz;
      const r = probe ? await probe() : { ok: true };
      sendJson(res, r.ok ? 200 : 503, { ok: r.ok, ...(r.detail !== undefined ? { detail: r.detail } : {}) });
      return;
    }
    const route = Object.hasOwn(this.opts.routes ?? {}, path) ? this.opts.routes![path] : undefined;
    if (route) {
      await route(req, res);
      return;
    }
    sendJson(res, 404, { error: `no route ${path}` });
  }

  /** Resolves with the bound port (useful with port 0 in tests). */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.opts.port, this.opts.host ?? "0.0.0.0", () => {
        this.server.off("error", reject);
        resolve((this.server.address() as AddressInfo).port);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
