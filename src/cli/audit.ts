import { readFile } from "node:fs/promises";
import { InvalidArgumentError, Option, type Command } from "commander";
import { UsageError } from "../core/errors.js";
import { durationParser, httpUrlParser, intParser, sizeParser } from "../core/options.js";
import { registerPolicy } from "./audit-policy.js";
import { registerHistory } from "./audit-history.js";
import { openStore, type AuditStore } from "../audit/store.js";
import { ingestPaths, type IngestReport } from "../audit/ingest.js";
import * as q from "../audit/queries.js";
import { NO_MATCH, OUTPUT_FORMATS, render, renderSections, type OutputFormat } from "../audit/format.js";
import { NO_SPLIT_STDERR, renderLatency } from "../audit/latency-format.js";
import { parseListen, parseTimeArg } from "../audit/time-arg.js";
import type { runAuditServer } from "../audit/server.js";
import { KEEP_SECRET_DATA_WARNING } from "../audit/redact.js";
import { registerDetect } from "../audit/detect/cli.js";
import { addAuthOptions, authConfigFrom, type AuthCliOpts } from "./http-auth-flags.js";
import { registerRbac } from "../audit/rbac/command.js";

/** The Service deploy/audit-webhook/ creates: the default name in the SubjectAccessReview. */
const AUDIT_SERVICE = "watch-auditor-audit-webhook";

const DB_ENV = "WATCH_AUDITOR_AUDIT_DB";
const KEEP_SECRET_HELP =
  "store Secret data/stringData values and TokenRequest/TokenReview tokens in bodies as received (default: replaced by \"<redacted>\", key names kept); warns";

interface CommonOpts {
  db: string;
  since?: Date;
  until?: Date;
  namespace?: string;
  user?: string;
  output: OutputFormat;
  limit?: number;
}

function dbOption(): Option {
  return new Option("--db <file>", "DuckDB audit store").env(DB_ENV).default("./audit.duckdb");
}

function withQueryOptions(cmd: Command): Command {
  return cmd
    .addOption(dbOption())
    .option("--since <time>", "only events at or after this RFC3339 time or duration ago (e.g. 1h)", (v) => parseTimeArg(v))
    .option("--until <time>", "only events before this RFC3339 time or duration ago", (v) => parseTimeArg(v))
    .option("-n, --namespace <ns>", "only this namespace")
    .option("--user <name>", "only this user (user.username)")
    .addOption(new Option("-o, --output <format>", "output format").choices(OUTPUT_FORMATS).default("table"))
    .option("--limit <n>", "maximum rows", intParser(1, 10_000_000));
}

function filterOf(o: CommonOpts): q.QueryFilter {
  return { since: o.since, until: o.until, namespace: o.namespace, user: o.user, limit: o.limit };
}

async function withReadOnlyStore<T>(db: string, fn: (s: AuditStore) => Promise<T>): Promise<T> {
  const store = await openStore(db, { readOnly: true });
  try {
    // Queries never need to touch other files; this also fences `audit sql`.
    await store.run("SET enable_external_access = false");
    await store.run("SET lock_configuration = true");
    return await fn(store);
  } finally {
    store.close();
  }
}

function print(result: q.QueryResult, o: CommonOpts, text?: string): void {
  if (result.rows.length === 0 && o.output !== "table") process.stderr.write(`${NO_MATCH}\n`);
  process.stdout.write(text ?? render(result, o.output));
}

function choice<T extends string>(allowed: readonly T[], what: string): (v: string) => T {
  return (v) => {
    if (!(allowed as readonly string[]).includes(v)) throw new InvalidArgumentError(`${what} must be one of ${allowed.join(", ")}, got "${v}".`);
    return v as T;
  };
}

function latencyDims(v: string): q.LatencyDimension[] {
  const dims = v.split(",").map((s) => s.trim()).filter(Boolean);
  if (dims.length === 0) throw new InvalidArgumentError(`expected a comma-separated list of ${q.LATENCY_DIMENSIONS.join(", ")}.`);
  return dims.map(choice(q.LATENCY_DIMENSIONS, "each --by dimension"));
}

function printIngest(r: IngestReport, format: OutputFormat): void {
  for (const m of r.malformedLines) process.stderr.write(`${m.file}:${m.line}: malformed: ${m.reason}\n`);
  if (r.malformed > r.malformedLines.length) process.stderr.write(`... and ${r.malformed - r.malformedLines.length} more malformed lines\n`);
  for (const m of r.malformedAnnotationList) {
    const where = `${m.file}:${m.line}${m.item === undefined ? "" : `#items[${m.item}]`}`;
    process.stderr.write(`${where}: malformed annotation ${m.annotation}: ${JSON.stringify(m.value)} is not a Go duration (stored as NULL)\n`);
  }
  if (r.malformedAnnotations > r.malformedAnnotationList.length) process.stderr.write(`... and ${r.malformedAnnotations - r.malformedAnnotationList.length} more malformed annotations\n`);
  if (format === "json") {
    process.stdout.write(JSON.stringify(r, null, 2) + "\n");
    return;
  }
  process.stdout.write(
    `read ${r.eventsRead} events from ${r.files} file(s): ${r.inserted} inserted, ${r.duplicates} duplicates, ${r.malformed} malformed lines\n`,
  );
  if (r.malformedAnnotations > 0) process.stdout.write(`${r.malformedAnnotations} malformed apiserver.latency.k8s.io annotation value(s) stored as NULL\n`);
  const redacted = Object.entries(r.redactions);
  if (redacted.length > 0) process.stdout.write(`redacted ${redacted.map(([k, n]) => `${n} ${k}`).join(", ")} value(s) in stored bodies\n`);
}

export function register(program: Command): void {
  const audit = program.command("audit").description("Ingest and query Kubernetes API-server audit logs (DuckDB store)");

  audit
    .command("ingest")
    .description("Load audit events (JSON lines, .gz, rotated files, directories, globs, EventList documents, - for stdin) into the store")
    .argument("<paths...>", "files, directories, globs or - (stdin)")
    .addOption(dbOption())
    .option("--max-event-bytes <size>", "largest single event line", sizeParser, 64 << 20)
    .option("--keep-secret-data", KEEP_SECRET_HELP)
    .addOption(new Option("-o, --output <format>", "report format").choices(["table", "json"]).default("table"))
    .action(async (paths: string[], o: { db: string; maxEventBytes: number; output: OutputFormat; keepSecretData?: boolean }) => {
      if (o.maxEventBytes < 1024) throw new UsageError(`--max-event-bytes must be at least 1KiB, got ${o.maxEventBytes}`);
      if (o.keepSecretData) process.stderr.write(`warning: ${KEEP_SECRET_DATA_WARNING}\n`);
      const store = await openStore(o.db);
      try {
        printIngest(await ingestPaths(store, paths, { maxEventBytes: o.maxEventBytes, keepSecretData: o.keepSecretData === true }), o.output);
      } finally {
        store.close();
      }
    });

  withQueryOptions(audit.command("who-deleted"))
    .description("Successful delete/deletecollection requests for RESOURCE (e.g. configmaps, deployments.apps), and failed attempts")
    .argument("<resource>", "resource (plural, optionally .group)")
    .argument("[name]", "object name")
    .action(async (resource: string, name: string | undefined, o: CommonOpts) => {
      await withReadOnlyStore(o.db, async (s) => {
        const r = await q.whoDeleted(s, resource, name, filterOf(o));
        print(r, o, renderSections(r, "outcome", { deleted: "Deleted", failed: "Failed attempts" }, o.output));
      });
    });

  withQueryOptions(audit.command("top"))
    .description("Requests, errors and share of traffic grouped by one dimension")
    .addOption(new Option("--by <dimension>", "group by").choices(q.TOP_DIMENSIONS).default("user"))
    .action(async (o: CommonOpts & { by: q.TopDimension }) => {
      await withReadOnlyStore(o.db, async (s) => print(await q.top(s, o.by, filterOf(o)), o));
    });

  withQueryOptions(audit.command("errors"))
    .description("401/403/404/409/422/429/5xx grouped by code, user, verb and resource, with reason and likely cause")
    .action(async (o: CommonOpts) => {
      await withReadOnlyStore(o.db, async (s) => print(await q.errors(s, filterOf(o)), o));
    });

  withQueryOptions(audit.command("latency"))
    .description(
      "count, p50/p95/p99/max of stageTimestamp - requestReceivedTimestamp (ResponseComplete); long-running requests apart; where the time went (etcd, APF queue, serialize, ...) from apiserver.latency.k8s.io annotations",
    )
    .option("--by <dims>", `comma-separated: ${q.LATENCY_DIMENSIONS.join(", ")}`, latencyDims, ["resource", "verb"] as q.LatencyDimension[])
    .action(async (o: CommonOpts & { by: q.LatencyDimension[] }) => {
      await withReadOnlyStore(o.db, async (s) => {
        const r = await q.latency(s, o.by, filterOf(o));
        if (o.output !== "table" && r.rows.length > 0 && r.rows.every((row) => row.split === null)) process.stderr.write(NO_SPLIT_STDERR(r.note));
        print(r, o, renderLatency(r, o.output));
      });
    });

  withQueryOptions(audit.command("timeline"))
    .description("Every request that touched one object, in order")
    .argument("<resource>", "resource (plural, optionally .group)")
    .argument("<name>", "object name")
    .action(async (resource: string, name: string, o: CommonOpts) => {
      await withReadOnlyStore(o.db, async (s) => print(await q.timeline(s, resource, name, filterOf(o)), o));
    });

  registerHistory(audit, dbOption(), withReadOnlyStore);

  withQueryOptions(audit.command("rate"))
    .description("Requests per second over time by user or group")
    .addOption(new Option("--by <dimension>", "group by").choices(q.RATE_DIMENSIONS).default("user"))
    .option("--step <duration>", "bucket width (Go duration)", durationParser({ min: 1 }), 60_000)
    .action(async (o: CommonOpts & { by: q.RateDimension; step: number }) => {
      await withReadOnlyStore(o.db, async (s) => print(await q.rate(s, o.by, o.step, filterOf(o)), o));
    });

  audit
    .command("sql")
    .description("Read-only SQL over the store (table `events`)")
    .argument("<query>", "a SELECT statement, or @FILE to read it from a file")
    .addOption(dbOption())
    .addOption(new Option("-o, --output <format>", "output format").choices(OUTPUT_FORMATS).default("table"))
    .action(async (text: string, o: CommonOpts) => {
      const sqlText = text.startsWith("@") ? await readFile(text.slice(1), "utf8") : text;
      const problem = q.checkReadOnlySql(sqlText);
      if (problem) throw new UsageError(`<query>: ${problem}`);
      await withReadOnlyStore(o.db, async (s) => print(await q.sql(s, sqlText), o));
    });

  const serverOptions = (cmd: Command): Command =>
    cmd
      .addOption(dbOption())
      .requiredOption("--listen <addr>", "webhook listen address HOST:PORT (POST EventList to /, /audit or /webhook)", parseListen)
      .option("--tls-cert <file>", "TLS certificate (PEM); with --tls-key serves HTTPS")
      .option("--tls-key <file>", "TLS private key (PEM)")
      .option("--client-ca <file>", "require client certificates signed by this CA (mTLS)")
      .option("--max-body-bytes <size>", "largest accepted request body (413 above)", sizeParser, 16 << 20)
      .option("--keep-secret-data", KEEP_SECRET_HELP)
      .addOption(new Option("--log-level <level>", "log level").choices(["debug", "info", "warn", "error"]).default("info"));

  serverOptions(audit.command("webhook"))
    .description("Receive the API server's audit webhook backend (EventList batches) into the store")
    .action(async (o: ServerCliOpts) => {
      const { runAuditServer } = await import("../audit/server.js");
      await runAuditServer(toServerOpts(o, false));
    });

  addAuthOptions(
    serverOptions(audit.command("serve"))
      .description("Webhook receiver + Prometheus metrics derived from the stream + read-only JSON API (/api/v1/..., bearer token required)")
      .requiredOption("--http-listen <addr>", "metrics, health and JSON API listen address HOST:PORT", parseListen)
      .option("--http-tls-cert <file>", "TLS certificate (PEM) for --http-listen; with --http-tls-key serves HTTPS (bearer tokens never cross the network in clear)")
      .option("--http-tls-key <file>", "TLS private key (PEM) for --http-listen")
      .option("--detect-rules <file>", "YAML rule file merged over the built-in detection rules (watch_auditor_audit_detections_total)")
      .option("--no-console", "do not serve the web console (the page at / and /api/console/...; same token as the JSON API)")
      .option("--prometheus <url>", "console: Prometheus HTTP API base URL for the traffic and control-plane views", httpUrlParser("--prometheus"))
      .option("--auditor <url>", "console: the auditor's /status URL for the auditor view", httpUrlParser("--auditor"))
      .option("--auditor-token-file <file>", "console: bearer token to read --auditor with")
      .option("--etcd-usage <file>", "console: JSON of `controlplane etcd-usage --output json`"),
    AUDIT_SERVICE,
  ).action(async (o: ServerCliOpts & AuthCliOpts & ConsoleCliOpts & { detectRules?: string }) => {
    const [{ runAuditServer }, { loadRuleFile }] = await Promise.all([import("../audit/server.js"), import("../audit/detect/run.js")]);
    const extraRoutes = o.console ? await consoleRoutesFor(o) : undefined;
    await runAuditServer({ ...toServerOpts(o, true), auth: authConfigFrom(o, AUDIT_SERVICE), detectRules: await loadRuleFile(o.detectRules), ...(extraRoutes ? { extraRoutes } : {}) });
  });

  registerDetect(audit, dbOption);
  registerPolicy(audit);
  registerRbac(audit, dbOption);
}

interface ConsoleCliOpts {
  console: boolean;
  prometheus?: string;
  auditor?: string;
  auditorTokenFile?: string;
  etcdUsage?: string;
}

/** `audit serve`'s web console over its reader connection (src/console, through its public entry). */
async function consoleRoutesFor(o: ConsoleCliOpts & { logLevel: "debug" | "info" | "warn" | "error" }): Promise<NonNullable<Parameters<typeof runAuditServer>[0]["extraRoutes"]>> {
  if (o.auditorTokenFile !== undefined && o.auditor === undefined) throw new UsageError("--auditor-token-file needs --auditor URL");
  const [{ consoleRoutes, SECURITY_HEADERS, readTokenFile }, { createLogger }] = await Promise.all([import("../console/public.js"), import("../core/logger.js")]);
  const token = o.auditorTokenFile !== undefined ? readTokenFile(o.auditorTokenFile, "--auditor-token-file") : undefined;
  const log = createLogger(o.logLevel, "console");
  return async (reader, registry) => {
    // The aggregate routes get a connection of their own (the process ends with the server, and it with the store).
    const aggregateStore = await reader.duplicate();
    const r = consoleRoutes({
      store: reader,
      aggregateStore,
      log,
      fetchTimeoutMs: 10_000,
      ...(o.prometheus ? { prometheus: o.prometheus } : {}),
      ...(o.auditor ? { auditor: { url: o.auditor, ...(token ? { token } : {}) } } : {}),
      ...(o.etcdUsage ? { etcdUsageFile: o.etcdUsage } : {}),
    }, registry);
    return { routes: r.routes, publicRoutes: r.publicRoutes, headers: SECURITY_HEADERS };
  };
}

interface ServerCliOpts {
  db: string;
  listen: { host: string; port: number };
  httpListen?: { host: string; port: number };
  tlsCert?: string;
  httpTlsCert?: string;
  httpTlsKey?: string;
  tlsKey?: string;
  clientCa?: string;
  maxBodyBytes: number;
  logLevel: "debug" | "info" | "warn" | "error";
  keepSecretData?: boolean;
}

function toServerOpts(o: ServerCliOpts, withApi: boolean): Parameters<typeof runAuditServer>[0] {
  if ((o.tlsCert === undefined) !== (o.tlsKey === undefined)) throw new UsageError("--tls-cert and --tls-key must be given together");
  if (o.clientCa !== undefined && o.tlsCert === undefined) throw new UsageError("--client-ca requires --tls-cert and --tls-key (mTLS needs TLS)");
  if (o.maxBodyBytes <= 0) throw new UsageError("--max-body-bytes must be greater than 0");
  if ((o.httpTlsCert === undefined) !== (o.httpTlsKey === undefined)) throw new UsageError("--http-tls-cert and --http-tls-key must be given together");
  return {
    db: o.db,
    listen: o.listen,
    httpListen: withApi ? o.httpListen : undefined,
    tls: o.tlsCert && o.tlsKey ? { certFile: o.tlsCert, keyFile: o.tlsKey, clientCaFile: o.clientCa } : undefined,
    httpTls: withApi && o.httpTlsCert && o.httpTlsKey ? { certFile: o.httpTlsCert, keyFile: o.httpTlsKey } : undefined,
    maxBodyBytes: o.maxBodyBytes,
    logLevel: o.logLevel,
    keepSecretData: o.keepSecretData === true,
  };
}
