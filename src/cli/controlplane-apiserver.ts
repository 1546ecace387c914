// `controlplane report` and `controlplane serve`: the API-server side of the control-plane check
// (health, /metrics, nodes, days to full), wired to the flags. The work is in src/controlplane/.
import { existsSync } from "node:fs";
import { InvalidArgumentError, Option, type Command } from "commander";
import { UsageError } from "../core/errors.js";
import { KubeClient, KubeConfigError } from "../core/kube/index.js";
import { createLogger, LOG_LEVELS, type LogLevel } from "../core/logger.js";
import { durationParser, envOption, intParser, sizeParser } from "../core/options.js";
import { untilTerminated } from "../core/signals.js";
import type { EtcdConnection } from "../controlplane/etcd/index.js";
import type { HttpAuth, HttpAuthConfig } from "../core/http-auth.js";
import type { RouteHandler } from "../core/http-server.js";
import type { ReportExtra } from "../controlplane/report.js";

const E = (name: string): string => `WATCH_AUDITOR_CONTROLPLANE_${name}`;

interface CommonOptions {
  kubeconfig?: string;
  context?: string;
  inCluster?: boolean;
  etcdEndpoints?: string[];
  etcdCacert?: string;
  etcdCert?: string;
  etcdKey?: string;
  etcdQuotaBytes?: number;
  auditDb?: string;
  auditSince?: number;
  prometheus?: string;
  prometheusQuery?: string;
  forecastWindow: number;
  heartbeatGrace: number;
  timeout: number;
}

interface ReportCliOptions extends CommonOptions {
  output: "table" | "json";
  etcdUsage: boolean;
  sampleInterval: number;
  dbThreshold: number;
  top: number;
}

interface ServeCliOptions extends CommonOptions {
  auth?: "kubernetes" | "token-file" | "none";
  authTokenFile?: string;
  port: number;
  host: string;
  interval: number;
  etcdUsageInterval: number;
  logLevel: LogLevel;
}

function endpointsParser(v: string): string[] {
  const list = v.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (list.length === 0) throw new InvalidArgumentError("expected URL[,URL...].");
  for (const u of list) {
    let url: URL;
    try {
      url = new URL(u);
    } catch {
      throw new InvalidArgumentError(`"${u}" is not a URL (expected https://host:2379).`);
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") throw new InvalidArgumentError(`"${u}": expected an http(s) URL.`);
  }
  return list;
}

function urlParser(v: string): string {
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw new InvalidArgumentError(`"${v}" is not a URL (expected http://prometheus:9090).`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new InvalidArgumentError(`"${v}": expected an http(s) URL.`);
  return v;
}

function percentParser(v: string): number {
  const n = Number(v.replace(/%$/, ""));
  if (!Number.isFinite(n) || n <= 0 || n > 100) throw new InvalidArgumentError(`expected a percentage between 0 and 100, got "${v}".`);
  return n / 100;
}

function quotaParser(v: string): number {
  const n = sizeParser(v);
  if (n < 1024 * 1024) throw new InvalidArgumentError(`must be at least 1MiB, got "${v}".`);
  return n;
}

function addCommonOptions(cmd: Command): Command {
  return cmd
    .addOption(envOption("--kubeconfig <file>", "kubeconfig (default: in-cluster, $KUBECONFIG, ~/.kube/config)", E("KUBECONFIG")))
    .addOption(envOption("--context <name>", "kubeconfig context (default: current-context)", E("CONTEXT")))
    .addOption(envOption("--in-cluster", "use the pod's service account", E("IN_CLUSTER")))
    .addOption(envOption("--etcd-endpoints <urls>", "etcd client URLs, comma-separated (self-managed control planes)", E("ETCD_ENDPOINTS")).argParser(endpointsParser))
    .addOption(envOption("--etcd-cacert <file>", "CA bundle that signed etcd's serving certificate", E("ETCD_CACERT")))
    .addOption(envOption("--etcd-cert <file>", "client certificate for etcd", E("ETCD_CERT")))
    .addOption(envOption("--etcd-key <file>", "client certificate's private key for etcd", E("ETCD_KEY")))
    .addOption(envOption("--etcd-quota-bytes <size>", "etcd's --quota-backend-bytes when etcd is not given (default: assume etcd's 2GiB)", E("ETCD_QUOTA_BYTES")).argParser(quotaParser))
    .addOption(envOption("--audit-db <file>", "audit store (audit ingest/serve --db) for who loads the API server (report; serve: GET /who-loads behind --auth)", E("AUDIT_DB")))
    .addOption(envOption("--audit-since <duration>", "who loads it: only audit events this recent (default: the whole store)", E("AUDIT_SINCE")).argParser(durationParser({ min: 1000 })))
    .addOption(envOption("--prometheus <url>", "Prometheus base URL: database-size history for the forecast (query_range)", E("PROMETHEUS")).argParser(urlParser))
    .addOption(envOption("--prometheus-query <promql>", "PromQL for the size history (default: the largest DB-size metric of any version)", E("PROMETHEUS_QUERY")))
    .addOption(envOption("--forecast-window <duration>", "how much history the forecast fits", E("FORECAST_WINDOW")).argParser(durationParser({ min: 60_000 })).default(6 * 3600_000, "6h"))
    .addOption(envOption("--heartbeat-grace <duration>", "a node Lease older than this is a stopped heartbeat", E("HEARTBEAT_GRACE")).argParser(durationParser({ min: 1000 })).default(40_000, "40s"))
    .addOption(envOption("--timeout <duration>", "deadline of each request to the API server, etcd or Prometheus", E("TIMEOUT")).argParser(durationParser({ min: 100 })).default(10_000, "10s"));
}

async function connect(o: CommonOptions): Promise<KubeClient> {
  if (o.inCluster && o.kubeconfig) throw new UsageError("--in-cluster and --kubeconfig are mutually exclusive");
  if ((o.etcdCert === undefined) !== (o.etcdKey === undefined)) throw new UsageError("--etcd-cert and --etcd-key go together");
  if ((o.etcdCacert || o.etcdCert) && !o.etcdEndpoints) throw new UsageError("--etcd-cacert/--etcd-cert/--etcd-key need --etcd-endpoints");
  try {
    return await KubeClient.load({
      ...(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {}),
      ...(o.context ? { context: o.context } : {}),
      ...(o.inCluster ? { inCluster: true } : {}),
      requestTimeoutMs: o.timeout,
      userAgent: "watch-auditor-controlplane",
    });
  } catch (err) {
    // A missing or broken kubeconfig is how the command was invoked: exit 2, naming the file.
    if (err instanceof KubeConfigError) throw new UsageError(err.message);
    throw err;
  }
}

export function registerControlplaneApiServer(controlplane: Command): void {
  addCommonOptions(
    controlplane
      .command("report")
      .description("one look at the control plane: /livez and /readyz check by check, objects per resource, database size and days to full, nodes and heartbeats, API requests/latency/APF; exit 1 when unhealthy, 3 when unreachable"),
  )
    .addOption(new Option("-o, --output <format>", "table or json").choices(["table", "json"]).default("table").env(E("OUTPUT")))
    .addOption(envOption("--sample-interval <duration>", "take two /metrics samples this far apart: rates instead of totals (0: one sample)", E("SAMPLE_INTERVAL")).argParser(durationParser({ allowZero: true })).default(0, "0"))
    .addOption(envOption("--db-threshold <percent>", "database size (share of the quota) from which the report is unhealthy", E("DB_THRESHOLD")).argParser(percentParser).default(0.85, "85"))
    .addOption(envOption("--top <n>", "rows in the table's request and object lists (and the etcd/who-loads rankings)", E("TOP")).argParser(intParser(1, 10_000)).default(15))
    .addOption(new Option("--no-etcd-usage", "with --etcd-endpoints: skip the /registry/ usage scan (etcd.usage)").env(E("NO_ETCD_USAGE")))
    .action(async (o: ReportCliOptions) => {
      const { collectReport, formatReport } = await import("../controlplane/report.js");
      // The etcd and audit-store parts, when their flags are given (checked before anything runs).
      const extras: ReportExtra[] = [];
      if (o.etcdEndpoints || o.auditDb) {
        const x = await import("../controlplane/extras.js");
        if (o.etcdEndpoints) extras.push(x.etcdReportExtra(await etcdConnection(o), { usage: o.etcdUsage, top: o.top }));
        if (o.auditDb) {
          if (!existsSync(o.auditDb)) throw new UsageError(`--audit-db: ${o.auditDb} does not exist`);
          extras.push(x.whoLoadsReportExtra(o.auditDb, { top: o.top, ...(o.auditSince ? { since: new Date(Date.now() - o.auditSince) } : {}) }));
        }
      }
      const kube = await connect(o);
      try {
        const report = await collectReport(kube, {
          sampleIntervalMs: o.sampleInterval,
          heartbeatGraceMs: o.heartbeatGrace,
          quotaBytes: o.etcdQuotaBytes,
          dbThreshold: o.dbThreshold,
          timeoutMs: o.timeout,
          extras,
          ...(o.prometheus ? { prometheus: { url: o.prometheus, query: o.prometheusQuery, windowMs: o.forecastWindow } } : {}),
        });
        let out = o.output === "json" ? JSON.stringify(report, null, 2) + "\n" : formatReport(report, o.top);
        if (o.output === "table") {
          for (const x of extras) {
            if (report[x.key] === undefined) continue;
            out += "\n" + (x.render?.(report[x.key]) ?? "") + ((await x.renderMore?.(report[x.key], o.top)) ?? "");
          }
        }
        process.stdout.write(out);
        process.exitCode = report.exitCode;
      } finally {
        kube.close();
      }
    });

  addCommonOptions(
    controlplane
      .command("serve")
      .description("the control-plane figures as Prometheus metrics (watch_auditor_controlplane_*), refreshed every --interval; keeps serving when a source fails"),
  )
    .addOption(envOption("--port <n>", "port for /metrics, /healthz, /readyz", E("PORT")).argParser(intParser(0, 65535)).default(9466))
    .addOption(envOption("--host <addr>", "address to listen on", E("HOST")).default("0.0.0.0"))
    .addOption(envOption("--interval <duration>", "how often every source is read", E("INTERVAL")).argParser(durationParser({ min: 100 })).default(30_000, "30s"))
    .addOption(new Option("--auth <mode>", "with --audit-db: who may call GET /who-loads: kubernetes (TokenReview + SubjectAccessReview: get services/proxy on watch-auditor-controlplane), token-file, none (default: kubernetes, token-file with --auth-token-file)").choices(["kubernetes", "token-file", "none"]).env(E("AUTH")))
    .addOption(envOption("--auth-token-file <file>", 'with --auth=token-file: CSV lines token,user,uid[,"group1,group2"]; mode 0600', E("AUTH_TOKEN_FILE")))
    .addOption(envOption("--etcd-usage-interval <duration>", "with --etcd-endpoints: how often the rate-limited /registry/ usage scan runs (0: never)", E("ETCD_USAGE_INTERVAL")).argParser(durationParser({ allowZero: true })).default(6 * 3600_000, "6h"))
    .addOption(envOption("--log-level <level>", "debug, info, warn or error", E("LOG_LEVEL")).choices(LOG_LEVELS).default("info"))
    .action(async (o: ServeCliOptions) => {
      const { ControlplaneExporter } = await import("../controlplane/exporter.js");
      const { Registry } = await import("prom-client");
      const log = createLogger(o.logLevel, "controlplane");
      if ((o.auth || o.authTokenFile) && !o.auditDb) throw new UsageError("--auth/--auth-token-file protect GET /who-loads, which needs --audit-db");
      if (o.auditDb && !existsSync(o.auditDb)) throw new UsageError(`--audit-db: ${o.auditDb} does not exist`);
      const etcdConn = o.etcdEndpoints ? await etcdConnection(o) : undefined;
      const kube = await connect(o);
      const registry = new Registry();
      const etcdExtra = etcdConn ? await (await import("../controlplane/extras.js")).etcdExporterExtra(registry, etcdConn, { usageIntervalMs: o.etcdUsageInterval }) : undefined;
      // Who loads it names users: served only behind the bearer-token gate (like audit serve's API).
      let gate: { auth?: HttpAuth; close: () => void } | undefined;
      let routes: Record<string, RouteHandler> | undefined;
      if (o.auditDb) {
        const mode = o.auth ?? (o.authTokenFile !== undefined ? "token-file" : "kubernetes");
        if (mode !== "token-file" && o.authTokenFile !== undefined) throw new UsageError(`--auth-token-file is only used with --auth=token-file, not --auth=${mode}`);
        if (mode === "token-file" && o.authTokenFile === undefined) throw new UsageError("--auth=token-file needs --auth-token-file FILE");
        const { createHttpAuth } = await import("../core/http-auth.js");
        const config: HttpAuthConfig =
          mode === "none"
            ? { mode }
            : mode === "token-file"
              ? { mode, file: o.authTokenFile!, protectMetrics: false }
              : { mode, ...(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {}), attributes: {}, defaultServiceName: "watch-auditor-controlplane", allowedTtlMs: 30_000, deniedTtlMs: 10_000, maxEntries: 1024, protectMetrics: false };
        gate = await createHttpAuth(config, registry, log);
        routes = { "/who-loads": (await import("../controlplane/extras.js")).whoLoadsRoute(o.auditDb, { top: 5 }) };
      }
      const exporter = new ControlplaneExporter(
        kube,
        {
          port: o.port,
          host: o.host,
          intervalMs: o.interval,
          timeoutMs: o.timeout,
          heartbeatGraceMs: o.heartbeatGrace,
          quotaBytes: o.etcdQuotaBytes,
          forecastWindowMs: o.forecastWindow,
          registry,
          extras: etcdExtra ? [etcdExtra] : [],
          ...(routes ? { routes } : {}),
          ...(gate?.auth ? { auth: gate.auth } : {}),
          ...(o.prometheus ? { prometheus: { url: o.prometheus, query: o.prometheusQuery, windowMs: o.forecastWindow } } : {}),
        },
        log,
      );
      await exporter.start();
      const why = await untilTerminated();
      log.info({ reason: why }, "stopping");
      etcdExtra?.stop();
      await exporter.stop();
      gate?.close();
      kube.close();
    });
}

/** The etcd connection the flags describe (the etcd side's checks: bad URLs or files exit 2). */
async function etcdConnection(o: CommonOptions): Promise<EtcdConnection> {
  const { connectionFromFlags } = await import("./controlplane-etcd-usage.js");
  return connectionFromFlags({ etcdEndpoints: o.etcdEndpoints!.join(","), etcdCacert: o.etcdCacert, etcdCert: o.etcdCert, etcdKey: o.etcdKey, etcdTimeout: Math.min(o.timeout, 30_000) });
}
