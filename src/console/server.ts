// `watch-auditor console`: the web console on its own (a laptop with a copy of the audit store, or
// beside Prometheus and the auditor). On a loopback address it needs no token; anywhere else the
// same bearer-token gate as the JSON APIs is mandatory (the CLI refuses --auth=none there).
import { readFileSync } from "node:fs";
import { Registry } from "prom-client";
import { OpsServer } from "../core/http-server.js";
import { createHttpAuth, type HttpAuthConfig } from "../core/http-auth.js";
import { UsageError } from "../core/errors.js";
import { isLoopbackHost } from "../core/loopback.js";
import type { Logger } from "../core/logger.js";
import { openAuditStoreReadOnlyConnections, type AuditStore } from "../audit/public.js";
import type { ConsoleContext } from "./context.js";
import { consoleRoutes } from "./routes.js";
import { SECURITY_HEADERS } from "./static.js";

export interface ConsoleOptions {
  auditDb?: string;
  listen: { host: string; port: number };
  prometheus?: string;
  auditor?: { url: string; tokenFile?: string };
  etcdUsageFile?: string;
  auth: HttpAuthConfig;
  tls?: { certFile: string; keyFile: string };
  fetchTimeoutMs: number;
  /** DuckDB's memory cap for the store (default: DuckDB's, 80 % of the machine's or cgroup's memory). */
  memoryLimitBytes?: number;
  log: Logger;
}


export interface RunningConsole {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** One bearer token from a file (trailing newline allowed); errors name the flag and file. */
export function readTokenFile(file: string, flag: string): string {
  let text: string;
  try {
    text = readFileSync(file, "utf8").trim();
  } catch (err) {
    throw new UsageError(`${flag} ${file}: ${(err as Error).message}`);
  }
  if (text === "" || /\s/.test(text)) throw new UsageError(`${flag} ${file}: expected one token (no spaces or newlines)`);
  return text;
}

export async function startConsole(opts: ConsoleOptions): Promise<RunningConsole> {
  if (opts.auth.mode === "none" && !isLoopbackHost(opts.listen.host)) {
    throw new UsageError(`--listen ${opts.listen.host}: not a loopback address, so the console needs authentication (--auth=kubernetes or --auth-token-file FILE), not --auth=none`);
  }
  if (!opts.auditDb && !opts.prometheus && !opts.auditor && !opts.etcdUsageFile) {
    throw new UsageError("console: nothing to show: give at least one of --audit-db FILE, --prometheus URL, --auditor URL");
  }
  const registry = new Registry();
  const gate = opts.auth.mode === "none" ? { close: () => {}, describe: { auth: "none (loopback)" } } : await createHttpAuth(opts.auth, registry, opts.log);
  let store: AuditStore | undefined;
  let aggregateStore: AuditStore | undefined;
  const closeStores = (): void => {
    aggregateStore?.close();
    store?.close();
  };
  try {
    if (opts.auditDb) {
      [store, aggregateStore] = await openAuditStoreReadOnlyConnections(opts.auditDb, 2, opts.memoryLimitBytes !== undefined ? { memoryLimitBytes: opts.memoryLimitBytes } : {});
    }
    const ctx: ConsoleContext = {
      log: opts.log,
      fetchTimeoutMs: opts.fetchTimeoutMs,
      ...(store ? { store } : {}),
      ...(aggregateStore ? { aggregateStore } : {}),
      ...(opts.prometheus ? { prometheus: opts.prometheus } : {}),
      ...(opts.auditor ? { auditor: { url: opts.auditor.url, ...(opts.auditor.tokenFile ? { token: readTokenFile(opts.auditor.tokenFile, "--auditor-token-file") } : {}) } } : {}),
      ...(opts.etcdUsageFile ? { etcdUsageFile: opts.etcdUsageFile } : {}),
    };
    const r = consoleRoutes(ctx, registry);
    const server = new OpsServer({
      registry,
      host: opts.listen.host,
      port: opts.listen.port,
      routes: r.routes,
      publicRoutes: r.publicRoutes,
      headers: SECURITY_HEADERS,
      ...("auth" in gate && gate.auth ? { auth: gate.auth } : {}),
      ...(opts.tls ? { tls: { cert: readFileSync(opts.tls.certFile), key: readFileSync(opts.tls.keyFile) } } : {}),
    });
    const port = await server.listen();
    const host = opts.listen.host.includes(":") ? `[${opts.listen.host}]` : opts.listen.host;
    const url = `${opts.tls ? "https" : "http"}://${host === "0.0.0.0" || host === "[::]" ? "127.0.0.1" : host}:${port}/`;
    opts.log.info({ url, ...gate.describe, auditDb: opts.auditDb, prometheus: opts.prometheus, auditor: opts.auditor?.url, pageBytes: r.size }, "console listening");
    if (!opts.tls && opts.auth.mode !== "none" && !isLoopbackHost(opts.listen.host)) {
      opts.log.warn("the console takes bearer tokens over plain HTTP: pass --tls-cert/--tls-key unless a mesh (mTLS) already encrypts pod traffic");
    }
    return {
      url,
      port,
      close: async () => {
        await server.close();
        gate.close();
        closeStores();
      },
    };
  } catch (err) {
    gate.close();
    closeStores();
    throw err;
  }
}
