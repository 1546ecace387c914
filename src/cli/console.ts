import { spawn } from "node:child_process";
import { Option, type Command } from "commander";
import { UsageError } from "../core/errors.js";
import { createLogger, type LogLevel } from "../core/logger.js";
import { durationParser, httpUrlParser, sizeParser } from "../core/options.js";
import { untilTerminated } from "../core/signals.js";
import { isLoopbackHost } from "../core/loopback.js";
import { parseListen } from "../audit/time-arg.js";
import { addAuthOptions, authConfigFrom, type AuthCliOpts } from "./http-auth-flags.js";

/** The Service deploy/ would create for a console in the cluster: the SubjectAccessReview's default name. */
const CONSOLE_SERVICE = "watch-auditor-console";

interface ConsoleCliOpts extends AuthCliOpts {
  auditDb?: string;
  listen: { host: string; port: number };
  prometheus?: string;
  auditor?: string;
  auditorTokenFile?: string;
  etcdUsage?: string;
  tlsCert?: string;
  tlsKey?: string;
  fetchTimeout: number;
  memoryLimit?: number;
  open?: boolean;
  logLevel: LogLevel;
}



/** Opens the page in the desktop's browser; a failure is only logged (a server has no desktop). */
function openBrowser(url: string, warn: (msg: string) => void): void {
  const cmd = process.platform === "darwin" ? "open" : process.platform === "win32" ? "explorer" : "xdg-open";
  try {
    const child = spawn(cmd, [url], { stdio: "ignore", detached: true });
    child.on("error", (err) => warn(`--open: ${cmd}: ${err.message}`));
    child.unref();
  } catch (err) {
    warn(`--open: ${cmd}: ${(err as Error).message}`);
  }
}

export function register(program: Command): void {
  addAuthOptions(
    program
      .command("console")
      .description("Web console: investigate the audit store (search, timeline, diffs), the auditor's checks, the control plane and workload traffic in a browser")
      .option("--audit-db <file>", "audit store to investigate (opened read-only; `audit serve` serves the console itself next to its JSON API)")
      .option("--listen <addr>", "listen address HOST:PORT; on a loopback address no token is needed, on any other one --auth is required", parseListen, { host: "127.0.0.1", port: 8088 })
      .option("--prometheus <url>", "Prometheus HTTP API base URL: the traffic (flows) and control-plane views", httpUrlParser("--prometheus"))
      .option("--auditor <url>", "the auditor's /status URL (watch-auditor serve), for the auditor view", httpUrlParser("--auditor"))
      .option("--auditor-token-file <file>", "bearer token to read --auditor with (when serve runs with --auth)")
      .option("--etcd-usage <file>", "JSON of `controlplane etcd-usage --output json`: etcd usage by namespace and the largest objects")
      .option("--tls-cert <file>", "TLS certificate (PEM); with --tls-key serves HTTPS")
      .option("--tls-key <file>", "TLS private key (PEM)")
      .option("--fetch-timeout <duration>", "timeout of each call to Prometheus or the auditor", durationParser({ min: 100 }), 10_000)
      .option("--memory-limit <size>", "cap on the audit store's query memory (DuckDB's buffer cache; a query needing more fails with an error) (default: DuckDB's, 80 % of the machine's or container's memory)", sizeParser)
      .option("--open", "open the page in the desktop's browser")
      .addOption(new Option("--log-level <level>", "log level").choices(["debug", "info", "warn", "error"]).default("info")),
    CONSOLE_SERVICE,
  ).action(async (o: ConsoleCliOpts) => {
    if ((o.tlsCert === undefined) !== (o.tlsKey === undefined)) throw new UsageError("--tls-cert and --tls-key must be given together");
    if (o.auditorTokenFile !== undefined && o.auditor === undefined) throw new UsageError("--auditor-token-file needs --auditor URL");
    if (o.memoryLimit !== undefined && o.memoryLimit < 16 * 1024 * 1024) throw new UsageError("--memory-limit: at least 16MiB (DuckDB needs room for one query's blocks)");
    if (o.memoryLimit !== undefined && o.auditDb === undefined) throw new UsageError("--memory-limit applies to the audit store: give --audit-db FILE");
    // Loopback without auth flags: no token (a laptop). Otherwise the gate, kubernetes by default.
    const loopbackOpen = isLoopbackHost(o.listen.host) && o.auth === undefined && o.authTokenFile === undefined;
    const auth = loopbackOpen ? ({ mode: "none" } as const) : authConfigFrom(o, CONSOLE_SERVICE);
    const log = createLogger(o.logLevel, "console");
    const { startConsole } = await import("../console/server.js");
    const running = await startConsole({
      ...(o.auditDb ? { auditDb: o.auditDb } : {}),
      listen: o.listen,
      ...(o.prometheus ? { prometheus: o.prometheus } : {}),
      ...(o.auditor ? { auditor: { url: o.auditor, ...(o.auditorTokenFile ? { tokenFile: o.auditorTokenFile } : {}) } } : {}),
      ...(o.etcdUsage ? { etcdUsageFile: o.etcdUsage } : {}),
      ...(o.tlsCert && o.tlsKey ? { tls: { certFile: o.tlsCert, keyFile: o.tlsKey } } : {}),
      auth,
      fetchTimeoutMs: o.fetchTimeout,
      ...(o.memoryLimit !== undefined ? { memoryLimitBytes: o.memoryLimit } : {}),
      log,
    });
    // The address for a person at a terminal (the JSON log on stderr has it too).
    process.stdout.write(`watch-auditor console: ${running.url}\n`);
    if (o.open) openBrowser(running.url, (m) => log.warn(m));
    log.info({ signal: await untilTerminated() }, "shutting down");
    await running.close();
  });
}
