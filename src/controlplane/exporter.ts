// `controlplane serve`: the report's figures as Prometheus metrics, refreshed every --interval.
// Every source is read on its own: one that fails (the API server down, /metrics forbidden, etcd
// stopped) counts in watch_auditor_controlplane_scrape_errors_total{source} and leaves the others
// alone; /metrics keeps being served. The API server's own request/latency/APF series are not
// re-exported: dashboards read them from the API server's scrape.
import { Counter, Gauge, Registry } from "prom-client";
import { errorMessage } from "../core/errors.js";
import type { HttpAuth } from "../core/http-auth.js";
import { OpsServer, type RouteHandler } from "../core/http-server.js";
import type { KubeClient } from "../core/kube/index.js";
import type { Logger } from "../core/logger.js";
import { databaseSize, fetchApiserverMetrics, objectCounts, SERVE_FAMILIES, versionedNamesFound } from "./apiserver-metrics.js";
import { linearForecast, prometheusHistory, type Forecast, type SizeSample } from "./forecast.js";
import { HEALTH_ENDPOINTS, probeHealth } from "./health.js";
import { PRESSURE_CONDITIONS, readNodes } from "./nodes.js";
import { effectiveQuota, quotaWords, type QuotaInfo, type Source } from "./report.js";

export const SCRAPE_SOURCES: readonly Source[] = ["livez", "readyz", "metrics", "nodes", "leases", "etcd", "prometheus"];

/** An extra source refreshed with the others (etcd): may give the DB size and quota. */
export interface ExporterExtra {
  source: Source;
  refresh(): Promise<{ quota?: QuotaInfo; dbSize?: { bytes: number; source: string } } | void>;
}

export interface ExporterOptions {
  port: number;
  host?: string;
  intervalMs: number;
  timeoutMs?: number;
  heartbeatGraceMs?: number;
  quotaBytes?: number;
  prometheus?: { url: string; query?: string; windowMs: number };
  /** How far back the own size samples reach for the forecast (default 6 h). */
  forecastWindowMs?: number;
  extras?: ExporterExtra[];
  registry?: Registry;
  /** Extra GET routes (/who-loads) and the bearer-token gate in front of them. */
  routes?: Record<string, RouteHandler>;
  auth?: HttpAuth;
}

const P = "watch_auditor_controlplane_";

/**
 * A gauge without labels that can be absent: prom-client prints an unlabelled gauge as 0 even
 * after reset(), and "0 seconds to full" or "quota 0" would be a lie. It is registered while it
 * has a value.
 */
class OptionalGauge {
  private readonly gauge: Gauge;
  private registered = false;
  private readonly name: string;
  constructor(
    private readonly registry: Registry,
    config: { name: string; help: string },
  ) {
    this.name = config.name;
    this.gauge = new Gauge({ ...config, registers: [] });
  }
  set(v: number): void {
    this.gauge.set(v);
    if (!this.registered) this.registry.registerMetric(this.gauge);
    this.registered = true;
  }
  clear(): void {
    if (this.registered) this.registry.removeSingleMetric(this.name);
    this.registered = false;
  }
}
const MAX_OWN_SAMPLES = 10_000;
/** Prometheus is asked for history at most this often. */
const PROMETHEUS_EVERY_MS = 5 * 60_000;

export class ControlplaneExporter {
  readonly registry: Registry;
  private readonly server: OpsServer;
  private readonly up: Gauge;
  private readonly check: Gauge;
  private readonly statusCode: Gauge;
  private readonly objects: Gauge;
  private readonly dbSize: OptionalGauge;
  private readonly dbQuota: OptionalGauge;
  private readonly dbFull: OptionalGauge;
  private readonly nodeReady: Gauge;
  private readonly nodeCondition: Gauge;
  private readonly scrapeErrors: Counter;
  private readonly namesFound: Gauge;
  private readonly lastSuccess: Gauge;
  private readonly ownSamples: SizeSample[] = [];
  private renewTimes = new Map<string, number>();
  private prometheusSamples: SizeSample[] | undefined;
  private prometheusAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private refreshes = 0;
  private lastRefreshStart = 0;
  private quota: QuotaInfo;
  forecast: Forecast | undefined;

  constructor(
    private readonly kube: KubeClient,
    private readonly opts: ExporterOptions,
    private readonly log: Logger,
  ) {
    const r = (this.registry = opts.registry ?? new Registry());
    this.quota = effectiveQuota(undefined, opts.quotaBytes);
    // With etcd given, its size is the one (the API server's only stands in when etcd stops answering).
    if (opts.extras?.some((x) => x.source === "etcd")) this.etcdSizeAt = Date.now();
    this.up = new Gauge({ name: `${P}apiserver_up`, help: "1 when the API server answered /livez at all (any HTTP status), 0 when it could not be reached.", registers: [r] });
    this.check = new Gauge({ name: `${P}health_check`, help: "One /livez or /readyz check: 1 ok (excluded counts as ok), 0 failed.", labelNames: ["endpoint", "check"], registers: [r] });
    this.statusCode = new Gauge({ name: `${P}health_status_code`, help: "HTTP status of the last /livez or /readyz answer (0: no answer).", labelNames: ["endpoint"], registers: [r] });
    this.objects = new Gauge({ name: `${P}objects`, help: "Objects stored per resource, from the API server's object-count metric of its version.", labelNames: ["resource"], registers: [r] });
    this.dbSize = new OptionalGauge(r, { name: `${P}database_size_bytes`, help: "Size of the database file (the largest member), from the API server's metric or etcd." });
    this.dbQuota = new OptionalGauge(r, { name: `${P}database_quota_bytes`, help: "The database quota, when known (etcd's etcd_server_quota_backend_bytes or --etcd-quota-bytes)." });
    this.dbFull = new OptionalGauge(r, { name: `${P}database_full_seconds`, help: "Linear forecast of the seconds until the database reaches its quota; absent when not growing or unknown." });
    if (this.quota.source !== "assumed") this.dbQuota.set(this.quota.bytes); // known from the start with --etcd-quota-bytes
    this.nodeReady = new Gauge({ name: `${P}node_ready`, help: "1 when the node's Ready condition is True, else 0.", labelNames: ["node"], registers: [r] });
    this.nodeCondition = new Gauge({ name: `${P}node_condition`, help: "Pressure condition of a node: 1 when True.", labelNames: ["node", "condition"], registers: [r] });
    const renewTimes = () => this.renewTimes;
    new Gauge({
      name: `${P}node_heartbeat_age_seconds`,
      help: "Seconds since the node's Lease in kube-node-lease was renewed (at scrape time).",
      labelNames: ["node"],
      registers: [r],
      collect() {
        this.reset();
        const now = Date.now();
        for (const [node, t] of renewTimes()) this.set({ node }, Math.max(0, (now - t) / 1000));
      },
    });
    this.scrapeErrors = new Counter({ name: `${P}scrape_errors_total`, help: "Failed reads per source.", labelNames: ["source"], registers: [r] });
    for (const s of SCRAPE_SOURCES) this.scrapeErrors.inc({ source: s }, 0);
    this.namesFound = new Gauge({ name: `${P}metric_names_found`, help: "1 for each version-dependent source metric name the API server's /metrics carried.", labelNames: ["name"], registers: [r] });
    this.lastSuccess = new Gauge({ name: `${P}last_success_timestamp_seconds`, help: "When each source was last read successfully (Unix seconds).", labelNames: ["source"], registers: [r] });
    this.server = new OpsServer({
      registry: r,
      port: opts.port,
      host: opts.host,
      healthz: () => {
        const late = this.lastRefreshStart > 0 && Date.now() - this.lastRefreshStart > 3 * opts.intervalMs + (opts.timeoutMs ?? 10_000) * 3;
        return { ok: !late, detail: { refreshes: this.refreshes } };
      },
      // Ready once the first round was attempted: a failing source is a metric, not unreadiness.
      readyz: () => ({ ok: this.refreshes > 0, detail: { refreshes: this.refreshes } }),
      ...(opts.routes ? { routes: opts.routes } : {}),
      ...(opts.auth ? { auth: opts.auth } : {}),
    });
  }

  private failed(source: Source, err: unknown): void {
    this.scrapeErrors.inc({ source });
    this.log.warn({ source, err: errorMessage(err) }, "control-plane source failed");
  }

  private ok(source: Source): void {
    this.lastSuccess.set({ source }, Date.now() / 1000);
  }

  /** One round over every source. Never throws. */
  async refresh(): Promise<void> {
    this.lastRefreshStart = Date.now();
    const timeoutMs = this.opts.timeoutMs ?? 10_000;
    await Promise.all([
      ...HEALTH_ENDPOINTS.map(async (endpoint) => {
        const h = await probeHealth(this.kube, endpoint, { timeoutMs });
        if (endpoint === "livez") this.up.set(h.state === "unreachable" ? 0 : 1);
        this.statusCode.set({ endpoint }, h.status ?? 0);
        // Checks of the last answer only: a check that vanished must not keep reporting.
        for (const c of this.checkNames.get(endpoint) ?? []) this.check.remove({ endpoint, check: c });
        this.checkNames.set(endpoint, h.checks.map((c) => c.name));
        for (const c of h.checks) this.check.set({ endpoint, check: c.name }, c.ok ? 1 : 0);
        if (h.state === "unreachable" || h.state === "error") this.failed(endpoint, h.error);
        else this.ok(endpoint);
      }),
      (async () => {
        try {
          const s = await fetchApiserverMetrics(this.kube, { timeoutMs, keep: SERVE_FAMILIES });
          this.objects.reset();
          for (const o of objectCounts(s)) if (o.count !== null) this.objects.set({ resource: o.resource }, o.count);
          this.namesFound.reset();
          for (const n of versionedNamesFound(s)) this.namesFound.set({ name: n }, 1);
          const db = databaseSize(s);
          // etcd's own size wins while it is fresh; when etcd stops answering, the API server's figure.
          if (db && Date.now() - this.etcdSizeAt > 3 * this.opts.intervalMs) this.addSize({ t: s.takenAt, bytes: db.sizeBytes });
          this.ok("metrics");
        } catch (err) {
          this.failed("metrics", err);
        }
      })(),
      (async () => {
        try {
          const n = await readNodes(this.kube, { graceMs: this.opts.heartbeatGraceMs, signal: AbortSignal.timeout(timeoutMs * 3) });
          this.nodeReady.reset();
          this.nodeCondition.reset();
          for (const node of n.nodes) {
            this.nodeReady.set({ node: node.name }, node.ready === "True" ? 1 : 0);
            for (const c of PRESSURE_CONDITIONS) if (node.conditions[c] !== undefined) this.nodeCondition.set({ node: node.name, condition: c }, node.conditions[c] === "True" ? 1 : 0);
          }
          this.ok("nodes");
          if (n.leaseError) this.failed("leases", n.leaseError);
          else {
            this.renewTimes = new Map(n.nodes.filter((x) => x.renewTime).map((x) => [x.name, Date.parse(x.renewTime!)]));
            this.ok("leases");
          }
        } catch (err) {
          this.failed("nodes", err);
        }
      })(),
      ...(this.opts.extras ?? []).map(async (x) => {
        try {
          const r = await x.refresh();
          if (r?.quota) this.quota = r.quota;
          if (r?.dbSize) {
            this.etcdSizeAt = Date.now();
            this.addSize({ t: Date.now(), bytes: r.dbSize.bytes });
          }
          this.ok(x.source);
        } catch (err) {
          this.failed(x.source, err);
        }
      }),
    ]);
    await this.updateForecast();
    this.refreshes++;
  }

  private readonly checkNames = new Map<string, string[]>();
  private etcdSizeAt = 0;

  private addSize(s: SizeSample): void {
    this.ownSamples.push(s);
    this.dbSize.set(s.bytes);
    const from = s.t - (this.opts.forecastWindowMs ?? 6 * 3600_000);
    while (this.ownSamples.length > 0 && (this.ownSamples[0]!.t < from || this.ownSamples.length > MAX_OWN_SAMPLES)) this.ownSamples.shift();
  }

  private async updateForecast(): Promise<void> {
    if (this.quota.source !== "assumed") this.dbQuota.set(this.quota.bytes);
    else this.dbQuota.clear();
    const p = this.opts.prometheus;
    if (p && Date.now() - this.prometheusAt >= PROMETHEUS_EVERY_MS) {
      this.prometheusAt = Date.now();
      try {
        this.prometheusSamples = await prometheusHistory(p.url, { query: p.query, windowMs: p.windowMs, timeoutMs: this.opts.timeoutMs });
        this.ok("prometheus");
      } catch (err) {
        this.prometheusSamples = undefined;
        this.failed("prometheus", err);
      }
    }
    const fromPrometheus = this.prometheusSamples !== undefined && this.prometheusSamples.length > 0;
    this.forecast = linearForecast(fromPrometheus ? this.prometheusSamples! : this.ownSamples, {
      quotaBytes: this.quota.bytes,
      quotaSource: quotaWords(this.quota),
      source: fromPrometheus ? "prometheus" : "samples",
    });
    if (this.forecast.secondsToFull !== undefined && (this.forecast.status === "growing" || this.forecast.status === "at-or-over-quota")) this.dbFull.set(this.forecast.secondsToFull);
    else this.dbFull.clear();
  }

  async start(): Promise<number> {
    const port = await this.server.listen();
    this.log.info({ port, server: this.kube.server, intervalMs: this.opts.intervalMs }, "listening");
    const tick = () => {
      if (this.running) return;
      this.running = this.refresh()
        .catch((err: unknown) => this.log.error({ err: errorMessage(err) }, "refresh failed"))
        .finally(() => (this.running = undefined));
    };
    tick();
    this.timer = setInterval(tick, this.opts.intervalMs);
    return port;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
    await this.server.close();
  }
}

