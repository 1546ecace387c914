import { Option, type Command } from "commander";
import { UsageError } from "../core/errors.js";
import { intParser } from "../core/options.js";
import { SCAN_DEFAULTS, scanEtcdUsage } from "../controlplane/etcd/scanner.js";
import { progressLine, renderUsage } from "../controlplane/etcd/render.js";
import { checkConnection, readTls } from "../controlplane/etcd/connection.js";
import type { EtcdConnection, EtcdUsage } from "../controlplane/etcd/types.js";

export interface EtcdUsageCliOpts {
  etcdEndpoints?: string;
  etcdCacert?: string;
  etcdCert?: string;
  etcdKey?: string;
  etcdTimeout: number;
  prefix: string;
  pageSize: number;
  maxKeysPerSecond: number;
  top: number;
  output: "table" | "json";
}

/** The connection the flags describe; bad flags throw UsageError naming the flag. */
export function connectionFromFlags(o: Pick<EtcdUsageCliOpts, "etcdEndpoints" | "etcdCacert" | "etcdCert" | "etcdKey" | "etcdTimeout">): EtcdConnection {
  if (o.etcdEndpoints === undefined || o.etcdEndpoints.trim() === "") throw new UsageError("--etcd-endpoints is required (e.g. https://10.0.0.1:2379,https://10.0.0.2:2379)");
  const conn: EtcdConnection = {
    endpoints: o.etcdEndpoints.split(",").map((s) => s.trim()).filter((s) => s !== ""),
    ...(o.etcdCacert !== undefined ? { cacert: o.etcdCacert } : {}),
    ...(o.etcdCert !== undefined ? { cert: o.etcdCert } : {}),
    ...(o.etcdKey !== undefined ? { key: o.etcdKey } : {}),
    timeoutMs: o.etcdTimeout,
  };
  try {
    checkConnection(conn);
    readTls(conn);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return conn;
}

/** Runs the scan the flags describe and writes the result; returns the exit code (1 when the scan is partial). */
export async function runEtcdUsage(o: EtcdUsageCliOpts, io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WriteStream | NodeJS.WritableStream } = process): Promise<number> {
  const conn = connectionFromFlags(o);
  const tty = (io.stderr as NodeJS.WriteStream).isTTY === true;
  const abort = new AbortController();
  const onSigint = (): void => abort.abort();
  process.once("SIGINT", onSigint);
  let usage: EtcdUsage;
  try {
    usage = await scanEtcdUsage(conn, {
      prefix: o.prefix,
      pageSize: o.pageSize,
      maxKeysPerSecond: o.maxKeysPerSecond,
      top: o.top,
      signal: abort.signal,
      ...(tty ? { onProgress: (p) => io.stderr.write(progressLine(p)) } : {}),
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  } finally {
    process.removeListener("SIGINT", onSigint);
    if (tty) io.stderr.write("\n");
  }
  io.stdout.write(o.output === "json" ? JSON.stringify(usage, null, 2) + "\n" : renderUsage(usage, o.top));
  if (!usage.complete) {
    io.stderr.write(`error: etcd-usage is partial (${usage.scannedKeys} keys read): ${usage.error ?? "stopped early"}\n`);
    return 1;
  }
  return 0;
}

/** `controlplane etcd-usage`: src/controlplane/etcd/. */
export function registerEtcdUsage(controlplane: Command): void {
  controlplane
    .command("etcd-usage")
    .description(
      "what fills etcd: a paced, paged, serializable scan of /registry/ keys and value sizes (values are not kept) → keys and bytes per resource, namespace, (resource, namespace), and the largest objects; exit 1 when the scan could not finish",
    )
    .option("--etcd-endpoints <urls>", "etcd client URLs, comma-separated (https://host:2379,...); the scan reads from the first that answers")
    .option("--etcd-cacert <file>", "CA bundle (PEM) that signed etcd's serving certificate")
    .option("--etcd-cert <file>", "client certificate (PEM) for etcd's --client-cert-auth")
    .option("--etcd-key <file>", "private key (PEM) of --etcd-cert")
    .option("--etcd-timeout <ms>", "deadline of every etcd call", intParser(100, 120_000), 5000)
    .option("--prefix <key>", "key prefix to scan", SCAN_DEFAULTS.prefix)
    .option("--page-size <n>", "keys per range call (pages are also cut to ~4 MiB of values)", intParser(1, SCAN_DEFAULTS.maxPageSize), SCAN_DEFAULTS.pageSize)
    .option("--max-keys-per-second <n>", "rate limit of the scan (token bucket)", intParser(1, SCAN_DEFAULTS.maxMaxKeysPerSecond), SCAN_DEFAULTS.maxKeysPerSecond)
    .option("--top <n>", "rows per table and largest objects kept", intParser(1, 10_000), SCAN_DEFAULTS.top)
    .addOption(new Option("-o, --output <format>", "output format").choices(["table", "json"]).default("table"))
    .action(async (o: EtcdUsageCliOpts) => {
      process.exitCode = await runEtcdUsage(o);
    });
}
