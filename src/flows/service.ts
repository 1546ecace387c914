import { createWriteStream, type WriteStream } from "node:fs";
import { Gauge } from "prom-client";
import type { Logger } from "../core/logger.js";
import type { IncomingMessage, ServerResponse } from "node:http";
import { OpsServer, sendJson } from "../core/http-server.js";
import { createHttpAuth, type HttpAuth, type HttpAuthConfig } from "../core/http-auth.js";
import { parseDuration } from "../core/duration.js";
import type { NamedCidr } from "../core/kube-metadata/cidr.js";
import { Enricher, type IpResolver } from "./enrich.js";
import { FlowProcessor, type FlowSource } from "./processor.js";
import { FileFollower, readLines, type LineHandlers } from "./lines.js";
import { InvalidEventError } from "./events.js";
import { KeyedCounter, TableRegistry } from "./series.js";
import type { GrpcInput, GrpcTls } from "./grpc-input.js";

export interface FlowsOptions {
  tetragon?: string;
  hubble?: string;
  node?: string;
  port: number;
  host?: string;
  podLabels: boolean;
  maxSeries: number;
  cidrNames: NamedCidr[];
  flowsOut?: string;
  flowsIntervalMs: number;
  fromStart: boolean;
  maxLineBytes: number;
  keepRunning: boolean;
  pollMs: number;
  /**
   * How long input is held while the metadata cache makes its first sync (default 30 s). Events
   * read before the sync would be labelled from the events alone for good (counters cannot be
   * relabelled), so inputs start only once the cache is ready or this has passed.
   */
  cacheSyncTimeoutMs?: number;
  /**
   * Who may call the data endpoints (/drops). `implicit`: the mode was not chosen by the user, so
   * failing to set it up (no credentials for TokenReview) disables /drops instead of failing.
   */
  auth?: { config: HttpAuthConfig; implicit: boolean };
  /** Tetragon's gRPC API (unix:///… or host:port): GetEvents instead of the export file. */
  tetragonGrpc?: string;
  /** Hubble Relay (or a Cilium agent's Hubble server): Observer/GetFlows with follow. */
  hubbleRelay?: string;
  hubbleTls?: GrpcTls;
  /** Reconnect backoff of the gRPC inputs (default 200 ms doubling to 30 s). */
  grpcBackoff?: { initialMs: number; maxMs: number };
}

/** Default and longest /drops window. */
const DROPS_DEFAULT_WINDOW_S = 900;
const DROPS_MAX_LIMIT = 1000;

/** Where the metadata cache stands, for /readyz and the unenriched counter. */
export type CacheState = "disabled" | "connecting" | "waiting" | "synced" | "timed_out" | "unavailable";

/** The cache the service may use; connect is called once, its result is used as soon as it reports ready. */
export interface KubeConnector {
  connect(onStat?: (stat: string, gvr: { resource: string }) => void): Promise<(IpResolver & { stop(): Promise<void>; waitReady(ms: number): Promise<boolean> }) | undefined>;
}

/** At most `burst` messages per window, then one line saying how many were suppressed. */
class RateLimitedLog {
  private windowStart = 0;
  private count = 0;
  private suppressed = 0;
  constructor(
    private readonly log: Logger,
    private readonly burst = 10,
    private readonly windowMs = 10_000,
  ) {}

  warn(obj: Record<string, unknown>, msg: string): void {
    const now = Date.now();
    if (now - this.windowStart >= this.windowMs) {
      if (this.suppressed > 0) this.log.warn({ suppressed: this.suppressed }, "invalid lines not logged individually (rate limit)");
      this.windowStart = now;
      this.count = 0;
      this.suppressed = 0;
    }
    if (this.count++ < this.burst) this.log.warn(obj, msg);
    else this.suppressed++;
  }
}

/**
 * `watch-auditor flows`: follows Tetragon and/or Hubble JSON exports, enriches with the metadata
 * cache (or what events carry), serves /metrics and optionally writes aggregated flows.
 */
export class FlowsService {
  readonly registry: TableRegistry = new TableRegistry();
  readonly processor: FlowProcessor;
  private server: OpsServer | undefined;
  private authClose: (() => void) | undefined;
  private dropsDisabled: string | undefined;
  private readonly followers: FileFollower[] = [];
  private readonly grpcInputs: GrpcInput[] = [];
  private readonly grpcStats: { errors: KeyedCounter; reconnects: KeyedCounter; lost: KeyedCounter; duplicates: KeyedCounter; connected: Map<string, boolean> };
  private readonly readyGauge: Gauge;
  private resolver: (IpResolver & { stop(): Promise<void>; waitReady(ms: number): Promise<boolean> }) | undefined;
  private flowsTimer: NodeJS.Timeout | undefined;
  private flowsStream: WriteStream | NodeJS.WriteStream | undefined;
  private readonly invalidLog: RateLimitedLog;
  private stopping: Promise<void> | undefined;
  private stdinDone: Promise<void> | undefined;
  private readonly enricherRef: { current: IpResolver | undefined } = { current: undefined };
  private readonly informerStats: KeyedCounter;
  private cacheState: CacheState;
  private readonly inputsStarted: Promise<void>;
  private startInputs!: () => void;
  private inputsRunning = false;

  constructor(
    private readonly opts: FlowsOptions,
    private readonly log: Logger,
    private readonly kube?: KubeConnector,
  ) {
    const ref = this.enricherRef;
    // The enricher sees the cache through a proxy so it can be attached after start.
    const resolver: IpResolver = {
      get ready() {
        return ref.current?.ready ?? false;
      },
      get version() {
        return ref.current?.version ?? -1;
      },
      lookup: (ip) => ref.current?.lookup(ip),
      lookupPod: (ns, name) => ref.current?.lookupPod(ns, name),
      serviceFor: (ip, port) => ref.current?.serviceFor(ip, port),
    };
    this.cacheState = kube ? "connecting" : "disabled";
    this.inputsStarted = new Promise((resolve) => (this.startInputs = resolve));
    this.processor = new FlowProcessor({
      registry: this.registry,
      enricher: new Enricher(resolver, opts.cidrNames),
      maxSeries: opts.maxSeries,
      podLabels: opts.podLabels,
      flowsOut: !!opts.flowsOut,
      ...(opts.node ? { node: opts.node } : {}),
    });
    this.readyGauge = new Gauge({
      name: "watch_auditor_flows_kube_cache_ready",
      help: "1 when the Kubernetes metadata cache has synced and enriches flows; 0 when labels come from the events alone.",
      registers: [this.registry],
      collect: () => this.readyGauge.set(ref.current?.ready ? 1 : 0),
    });
    this.informerStats = new KeyedCounter(this.registry, "watch_auditor_flows_kube_informer_total", "Metadata cache list/watch activity by resource: list, relist (after 410 Gone), restart (reconnect), event, error.", ["resource", "stat"]);
    this.invalidLog = new RateLimitedLog(log);
    const connected = new Map<string, boolean>();
    this.grpcStats = {
      errors: new KeyedCounter(this.registry, "watch_auditor_flows_grpc_stream_errors_total", "gRPC input streams that ended with an error, by source and gRPC status code.", ["source", "code"]),
      reconnects: new KeyedCounter(this.registry, "watch_auditor_flows_grpc_reconnects_total", "gRPC input streams opened again after they ended.", ["source"]),
      lost: new KeyedCounter(this.registry, "watch_auditor_flows_grpc_lost_events_total", "Events the agent reports it lost (Hubble lost_events by source, Tetragon rate_limit_info).", ["source", "reason"]),
      duplicates: new KeyedCounter(this.registry, "watch_auditor_flows_grpc_duplicates_skipped_total", "Flows a resumed Hubble stream sent again (at or before the resume time) and that were not counted twice.", ["source"]),
      connected,
    };
    if (opts.tetragonGrpc || opts.hubbleRelay) {
      const g: Gauge = new Gauge({
        name: "watch_auditor_flows_grpc_connected",
        help: "1 while the gRPC input stream of this source is open.",
        labelNames: ["source"],
        registers: [this.registry],
        collect: () => {
          for (const src of ["tetragon", "hubble"] as const) if ((src === "tetragon" ? opts.tetragonGrpc : opts.hubbleRelay) !== undefined) g.set({ source: src }, connected.get(src) ? 1 : 0);
        },
      });
    }
  }

  private async startGrpc(source: FlowSource, address: string): Promise<void> {
    const s = this.grpcStats;
    // Loaded only when used: @grpc/grpc-js and protobufjs cost ~10 MiB of RSS a file-only agent does not need.
    const { GrpcInput } = await import("./grpc-input.js");
    if (this.stopping) return;
    const input = new GrpcInput({
      source,
      address,
      ...(source === "hubble" && this.opts.hubbleTls ? { tls: this.opts.hubbleTls } : {}),
      ...(this.opts.grpcBackoff ? { backoff: this.opts.grpcBackoff } : {}),
      log: this.log,
      onEvent: (obj) => {
        const err = this.processor.handleObject(source, obj);
        if (err) this.invalidLog.warn({ source, input: address, reason: err.reason, error: err.message }, "invalid gRPC event skipped");
      },
      onLost: (reason, n) => s.lost.inc([source, reason], n),
      onStreamError: (code) => s.errors.inc([source, code]),
      onReconnect: () => s.reconnects.inc([source]),
      onDuplicate: () => s.duplicates.inc([source]),
      onConnected: (up) => {
        if (up && !s.connected.get(source)) this.log.info({ source, address }, "gRPC input connected");
        s.connected.set(source, up);
      },
    });
    this.grpcInputs.push(input);
    input.start();
  }

  /** The gate of the data endpoints; undefined with --auth=none or when /drops is disabled. */
  private async setupAuth(): Promise<HttpAuth | undefined> {
    const a = this.opts.auth;
    if (!a) {
      this.dropsDisabled = "no --auth configured";
      return undefined;
    }
    try {
      const gate = await createHttpAuth(a.config, this.registry, this.log);
      this.authClose = gate.close;
      this.log.info(gate.describe, "data endpoints (/drops) authentication");
      return gate.auth;
    } catch (err) {
      if (!a.implicit) throw err;
      this.dropsDisabled = "no credentials to review tokens with (set --auth token-file or --auth kubernetes with a kubeconfig)";
      this.log.warn({ error: (err as Error).message }, "data endpoint /drops disabled: cannot check bearer tokens (TokenReview needs a kubeconfig or in-cluster credentials); /metrics, /healthz and /readyz are served");
      return undefined;
    }
  }

  /** GET /drops?window=15m&limit=20: the top dropped pairs of the recent past (JSON). */
  private drops(req: IncomingMessage, res: ServerResponse): void {
    if (this.dropsDisabled) {
      sendJson(res, 503, { error: `/drops is disabled: ${this.dropsDisabled}` });
      return;
    }
    const q = new URL(req.url ?? "/", "http://x").searchParams;
    const horizon = this.processor.dropLog.horizonSeconds;
    let windowS = DROPS_DEFAULT_WINDOW_S;
    let limit = 20;
    const w = q.get("window");
    if (w !== null) {
      let ms: number;
      try {
        ms = parseDuration(w);
      } catch (err) {
        sendJson(res, 400, { error: `window: ${(err as Error).message}` });
        return;
      }
      if (ms < 1000 || ms > horizon * 1000) {
        sendJson(res, 400, { error: `window: must be between 1s and ${horizon / 60}m, got "${w}"` });
        return;
      }
      windowS = Math.round(ms / 1000);
    }
    const l = q.get("limit");
    if (l !== null) {
      if (!/^\d+$/.test(l) || Number(l) < 1 || Number(l) > DROPS_MAX_LIMIT) {
        sendJson(res, 400, { error: `limit: must be an integer between 1 and ${DROPS_MAX_LIMIT}, got "${l.slice(0, 20)}"` });
        return;
      }
      limit = Number(l);
    }
    sendJson(res, 200, this.processor.dropLog.report(Date.now(), windowS, limit));
  }

  private handlers(source: FlowSource, where: string): LineHandlers {
    return {
      line: (text, lineNo) => {
        const err = this.processor.handleLine(source, text);
        if (err) this.logInvalid(source, where, lineNo, err);
      },
      tooLong: (lineNo, bytes) => {
        const err = this.processor.reject(source, new InvalidEventError("too_long", `line of ${bytes} bytes exceeds --max-line-bytes ${this.opts.maxLineBytes}`));
        this.logInvalid(source, where, lineNo, err);
      },
    };
  }

  private logInvalid(source: FlowSource, where: string, lineNo: number, err: InvalidEventError): void {
    this.invalidLog.warn({ source, input: `${where}:${lineNo}`, reason: err.reason, error: err.message }, "invalid event line skipped");
  }

  /**
   * /readyz: not ready while input is held for the first cache sync; ready afterwards, saying when
   * events are being labelled without cluster metadata (and how many so far).
   */
  private readiness(): { ok: boolean; detail: Record<string, unknown> } {
    const ready = this.enricherRef.current?.ready ?? false;
    const state: CacheState = ready && this.cacheState !== "disabled" ? "synced" : this.cacheState;
    const detail: Record<string, unknown> = { kubeCacheReady: ready, kubeCache: state, inputs: this.inputsRunning ? "reading" : "held until the metadata cache syncs" };
    if (state === "timed_out" || state === "unavailable") {
      detail.warning = state === "timed_out" ? `metadata cache not synced after --cache-sync-timeout ${this.syncTimeoutMs()} ms: events are labelled without cluster metadata until it syncs` : "no Kubernetes metadata cache: events are labelled without cluster metadata";
    }
    const unenriched = this.processor.unenrichedCount();
    if (unenriched > 0) detail.unenrichedEvents = unenriched;
    return { ok: this.inputsRunning, detail };
  }

  private syncTimeoutMs(): number {
    return this.opts.cacheSyncTimeoutMs ?? 30_000;
  }

  /** Starts everything; resolves with the bound /metrics port. Inputs start once the cache has synced (or could not). */
  async start(): Promise<number> {
    const auth = await this.setupAuth();
    this.server = new OpsServer({
      registry: this.registry,
      port: this.opts.port,
      ...(this.opts.host ? { host: this.opts.host } : {}),
      readyz: () => this.readiness(),
      routes: { "/drops": (req, res) => this.drops(req, res) },
      // Streamed in ~64 KiB pieces: at 10 000 series per table the text is ~4 MB (docs/flows.md, Memory).
      writeMetrics: (write) => this.registry.writeMetrics(write),
      ...(auth ? { auth } : {}),
    });
    const port = await this.server.listen();
    this.log.info({ port }, "listening");
    if (this.kube) void this.attachKube(this.kube);
    else this.openInputs();
    return port;
  }

  /** Starts reading inputs (once). */
  private openInputs(): void {
    if (this.inputsRunning || this.stopping) return;
    this.inputsRunning = true;
    if (this.opts.flowsOut) {
      this.flowsStream = this.opts.flowsOut === "-" ? process.stdout : createWriteStream(this.opts.flowsOut, { flags: "a", mode: 0o640 });
      // A closed stdout or a full disk must not take the metrics down with it.
      this.flowsStream.on("error", (err: Error) => this.log.error({ err: err.message, path: this.opts.flowsOut }, "cannot write --flows-out"));
      this.flowsTimer = setInterval(() => this.flushFlows(), this.opts.flowsIntervalMs);
    }
    for (const [source, path] of [["tetragon", this.opts.tetragon], ["hubble", this.opts.hubble]] as const) {
      if (!path) continue;
      if (path === "-") {
        this.stdinDone = readLines(process.stdin, this.opts.maxLineBytes, this.handlers(source, "stdin")).then(() => this.log.info({ source }, "stdin ended"));
        continue;
      }
      const f = new FileFollower(path, {
        ...this.handlers(source, path),
        maxLineBytes: this.opts.maxLineBytes,
        fromStart: this.opts.fromStart,
        pollMs: this.opts.pollMs,
        notice: (event, detail) => (event === "waiting" && detail.error ? this.log.warn({ source, ...detail }, `input ${event}`) : this.log.info({ source, ...detail }, `input ${event}`)),
      });
      this.followers.push(f);
      f.start();
    }
    const failed = (err: unknown): void => this.log.error({ error: (err as Error).message }, "cannot start the gRPC input");
    if (this.opts.tetragonGrpc) this.startGrpc("tetragon", this.opts.tetragonGrpc).catch(failed);
    if (this.opts.hubbleRelay) this.startGrpc("hubble", this.opts.hubbleRelay).catch(failed);
    this.startInputs();
  }

  private async attachKube(kube: KubeConnector): Promise<void> {
    const began = Date.now();
    try {
      this.resolver = await kube.connect((stat, gvr) => this.informerStats.inc([gvr.resource, stat]));
    } catch (err) {
      this.cacheState = "unavailable";
      this.processor.setUnenrichedReason("no_cache");
      this.log.warn({ error: (err as Error).message }, "no Kubernetes metadata cache: labelling flows from event data only (counted in watch_auditor_flows_events_unenriched_total)");
      this.openInputs();
      return;
    }
    if (!this.resolver) {
      this.cacheState = "unavailable";
      this.openInputs();
      return;
    }
    this.enricherRef.current = this.resolver;
    if (this.stopping) return;
    this.cacheState = "waiting";
    const timeout = this.syncTimeoutMs();
    this.log.info({ cacheSyncTimeoutMs: timeout }, "holding input until the Kubernetes metadata cache has synced");
    const synced = await this.resolver.waitReady(Math.max(0, timeout - (Date.now() - began)));
    if (this.stopping) return;
    if (synced) {
      this.cacheState = "synced";
      this.log.info({ waitedMs: Date.now() - began }, "Kubernetes metadata cache ready: reading input");
      this.openInputs();
      return;
    }
    this.cacheState = "timed_out";
    this.processor.setUnenrichedReason("cache_not_synced");
    this.log.warn(
      { cacheSyncTimeoutMs: timeout },
      "Kubernetes metadata cache not synced within --cache-sync-timeout (cluster unreachable or slow?): reading input anyway; events labelled without cluster metadata are counted in watch_auditor_flows_events_unenriched_total until it syncs",
    );
    this.openInputs();
    const late = await this.resolver.waitReady(2 ** 31 - 1);
    if (late && !this.stopping) {
      this.cacheState = "synced";
      this.log.info({ waitedMs: Date.now() - began, unenrichedEvents: this.processor.unenrichedCount() }, "Kubernetes metadata cache ready (late): events from now on carry cluster metadata");
    }
  }

  /**
   * Resolves when the command should exit by itself: stdin-only input reached its end
   * (unless --keep-running). Followed files never end.
   */
  async finished(): Promise<void> {
    await this.inputsStarted;
    if (this.stdinDone && this.followers.length === 0 && this.grpcInputs.length === 0 && !this.opts.keepRunning) {
      await this.stdinDone;
      return;
    }
    await new Promise(() => {});
  }

  private flushFlows(): void {
    if (!this.flowsStream) return;
    const records = this.processor.drainFlows();
    if (records.length === 0) return;
    let text = "";
    for (const r of records) text += JSON.stringify(r) + "\n";
    this.flowsStream.write(text);
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await Promise.all([...this.followers.map((f) => f.stop()), ...this.grpcInputs.map((g) => g.stop())]);
      if (this.flowsTimer) clearInterval(this.flowsTimer);
      this.flushFlows();
      const s = this.flowsStream;
      if (s && s !== process.stdout) await new Promise<void>((r) => (s as WriteStream).end(() => r()));
      await this.resolver?.stop();
      await this.server?.close();
      this.authClose?.();
    })();
    return this.stopping;
  }
}
