import type { Registry } from "prom-client";
import { InvalidEventError, parseJsonLine, type FlowEvent, type HttpEvent, type HubbleFlowEvent, type IoEvent, type SkippedEvent, type TcpEvent } from "./events.js";
import { DropLog } from "./drops.js";
import { parseTetragonEvent, TetragonLineParser } from "./tetragon.js";
import { parseHubbleFlow } from "./hubble.js";
import type { Enricher, Peer } from "./enrich.js";
import { HistogramTable, KeyedCounter, registerHistogram, registerTableCounter, SeriesTable, type Row, type RowSource } from "./series.js";

export type FlowSource = "tetragon" | "hubble";

/** OpenTelemetry's default explicit buckets for http.server.request.duration, in seconds. */
export const HTTP_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10] as const;

/** Buckets of watch_auditor_flows_dns_request_duration_seconds (a DNS answer takes 0.1 ms to seconds). */
export const DNS_DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] as const;

// Query types kept as label values; anything else is "other".
const DNS_QTYPES = new Set(["A", "AAAA", "CNAME", "SRV", "PTR", "MX", "TXT", "NS", "SOA", "HTTPS", "SVCB", "CAA", "ANY"]);
// Requests waiting for their answer (DNS latency by pairing when Hubble gives none).
const DNS_PENDING_MAX = 10_000;

const HTTP_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]);

export interface FlowProcessorOptions {
  registry: Registry;
  enricher: Enricher;
  /** Cap on distinct label sets per metric (and per flows-out interval). */
  maxSeries: number;
  /** Add src_pod/dst_pod (and pod) labels: opt-in because pods churn. */
  podLabels: boolean;
  /** Keep only events from this node (a DaemonSet agent's own node). */
  node?: string;
  /** Aggregate per-interval flow records for --flows-out (default true). */
  flowsOut?: boolean;
}

/** One aggregated flow of an interval, as written by --flows-out. */
export interface FlowRecord {
  ts: string;
  interval_s: number;
  src: FlowPeer;
  dst: FlowPeer;
  dst_port: number;
  protocol: "TCP";
  connections: number;
  bytes_sent: number;
  bytes_received: number;
}

export interface FlowPeer {
  namespace: string;
  workload: string;
  kind: string;
  pod?: string;
  release?: string;
  service?: string;
}

const SEP = "\u0000";
// Connections we saw this side open (tcp_connect): their later sends/receives are the client's.
const CLIENT_SOCKETS_MAX = 200_000;

// Bounds the identity cache of tcp rows (source peers); peers are memoised per generation, so
// this only matters with more source peers than the enricher's memo holds.
const ROW_CACHE_MAX = 100_000;
// Destinations remembered per source peer (most talk to a few; beyond, the label key finds the row).
const ROW_WAYS = 4;

/**
 * The tcp rows a source peer reached lately: up to ROW_WAYS (destination, service, row) triples
 * in one flat array, replaced round-robin. One small array per source instead of two nested Maps
 * per source (~450 B each, which at 100k processes was the largest part of the heap after the
 * remembered heads).
 */
interface RowWays {
  /** dst0, service0, row0, dst1, service1, row1, ... */
  e: (Peer | string | Row)[];
  /** The next way to replace once all are used. */
  next: number;
}

function socketKey(ev: TcpEvent): string {
  return `${ev.localIp}:${ev.localPort}>${ev.remoteIp}:${ev.remotePort}`;
}

function statusClass(code: number): string {
  return code >= 100 && code < 600 ? `${Math.floor(code / 100)}xx` : "unknown";
}

/**
 * Events in, aggregates out. All per-event work is plain Map operations; prom-client only sees
 * the tables when /metrics is scraped.
 */
export class FlowProcessor {
  readonly tcp: SeriesTable;
  readonly io: SeriesTable;
  readonly httpRequests: SeriesTable;
  readonly httpDuration: HistogramTable;
  readonly drops: SeriesTable;
  readonly dnsRequests: SeriesTable;
  readonly dnsDuration: HistogramTable;
  /** Recent drops by pair, reason, port and policy (the /drops endpoint). */
  readonly dropLog: DropLog;
  private readonly verdicts: KeyedCounter;
  private readonly dnsPending = new Map<string, number>();
  private readonly dnsUnpaired: KeyedCounter;
  /** Current --flows-out interval, cleared by drainFlows(). */
  readonly flows: SeriesTable;
  private flowPeers = new Map<string, { src: FlowPeer; dst: FlowPeer; port: number }>();
  private readonly events: KeyedCounter;
  private readonly invalid: KeyedCounter;
  private readonly ignored: KeyedCounter;
  private readonly overflow: KeyedCounter;
  private readonly unenriched: KeyedCounter;
  private unenrichedReason: string | undefined;
  private unenrichedTotal = 0;
  private readonly clientSockets = new Map<string, true>();
  private rowCache = new Map<Peer, RowWays>();
  private rowCacheGeneration = -1;
  readonly tetragon = new TetragonLineParser();
  private readonly enricher: Enricher;
  private readonly podLabels: boolean;
  private readonly node: string | undefined;
  private readonly flowsOut: boolean;
  private lastFlush = Date.now();

  constructor(opts: FlowProcessorOptions) {
    const r = opts.registry;
    this.enricher = opts.enricher;
    this.podLabels = opts.podLabels;
    this.node = opts.node;
    this.flowsOut = opts.flowsOut ?? true;
    const pod = (names: string[], ...extra: string[]): string[] => (opts.podLabels ? [...names, ...extra] : names);
    this.tcp = new SeriesTable("tcp", pod(["src_namespace", "src_workload", "dst_namespace", "dst_workload", "dst_service"], "src_pod", "dst_pod"), 3, opts.maxSeries);
    registerTableCounter(r, this.tcp, 0, "watch_auditor_flows_tcp_connections_total", "TCP connections opened (tcp_connect) from source to destination workload.");
    registerTableCounter(r, this.tcp, 1, "watch_auditor_flows_tcp_sent_bytes_total", "Bytes sent by the client (source) to the server (destination) over TCP.");
    registerTableCounter(r, this.tcp, 2, "watch_auditor_flows_tcp_received_bytes_total", "Bytes the client (source) received from the server (destination) over TCP.");
    this.io = new SeriesTable("io", pod(["namespace", "workload", "direction"], "pod"), 1, opts.maxSeries);
    registerTableCounter(r, this.io, 0, "watch_auditor_flows_io_bytes_total", "Bytes read or written by workloads through read/write syscalls.");
    const httpLabels = pod(["namespace", "service", "workload", "method", "status_code_class"], "pod");
    this.httpRequests = new SeriesTable("http_requests", httpLabels, 1, opts.maxSeries);
    registerTableCounter(r, this.httpRequests, 0, "http_server_requests_total", "HTTP requests served, from Hubble L7 responses.");
    this.httpDuration = new HistogramTable("http_duration", httpLabels, HTTP_DURATION_BUCKETS, opts.maxSeries);
    registerHistogram(r, this.httpDuration, "http_server_request_duration_seconds", "Duration of HTTP server requests as measured by Hubble (latency_ns).");
    this.drops = new SeriesTable("drops", pod(["src_namespace", "src_workload", "dst_namespace", "dst_workload", "reason", "direction", "policy"], "src_pod", "dst_pod"), 1, opts.maxSeries);
    registerTableCounter(r, this.drops, 0, "watch_auditor_flows_drops_total", "Flows Hubble reported DROPPED, by source and destination workload, drop reason (drop_reason_desc), traffic direction and denying policy (empty when the flow names none).");
    const dnsLabels = pod(["src_namespace", "src_workload", "dst_namespace", "dst_workload", "qtype", "rcode"], "src_pod", "dst_pod");
    this.dnsRequests = new SeriesTable("dns_requests", dnsLabels, 1, opts.maxSeries);
    registerTableCounter(r, this.dnsRequests, 0, "watch_auditor_flows_dns_requests_total", "DNS queries answered (Hubble L7 DNS responses), by client (src) and server (dst) workload, query type and response code.");
    this.dnsDuration = new HistogramTable("dns_duration", dnsLabels, DNS_DURATION_BUCKETS, opts.maxSeries);
    registerHistogram(r, this.dnsDuration, "watch_auditor_flows_dns_request_duration_seconds", "Time from a DNS query to its answer: Hubble's latency_ns, else the difference of the two flows' times.");
    this.dropLog = new DropLog({ maxRows: opts.maxSeries });
    this.verdicts = new KeyedCounter(r, "watch_auditor_flows_hubble_verdicts_total", "Hubble flows by verdict (FORWARDED, DROPPED, ERROR, AUDIT, REDIRECTED, …), protocol and traffic direction.", ["verdict", "protocol", "direction"]);
    this.dnsUnpaired = new KeyedCounter(r, "watch_auditor_flows_dns_unpaired_total", "DNS answers without a latency: no latency_ns and no request seen (or it was evicted).", ["source"]);
    this.flows = new SeriesTable("flows", [], 3, opts.maxSeries);
    this.events = new KeyedCounter(r, "watch_auditor_flows_events_total", "Events read, by source and type.", ["source", "type"]);
    this.invalid = new KeyedCounter(r, "watch_auditor_flows_events_invalid_total", "Lines rejected, by source and reason (json, shape, field, too_long).", ["source", "reason"]);
    this.ignored = new KeyedCounter(r, "watch_auditor_flows_events_ignored_total", "Events dropped on purpose: ignore annotations, other nodes.", ["source", "reason"]);
    this.overflow = new KeyedCounter(r, "watch_auditor_flows_series_overflow_total", "Observations folded into the overflow series because the metric hit --max-series.", ["metric"]);
    this.unenriched = new KeyedCounter(r, "watch_auditor_flows_events_unenriched_total", "Events labelled without cluster metadata because the metadata cache had not synced (cache_not_synced: past --cache-sync-timeout) or could not start (no_cache).", ["reason"]);
    registerTableCounter(r, this.seriesCounts(), 0, "watch_auditor_flows_series", "Distinct label sets per metric table.", "gauge");
  }

  private seriesCounts(): RowSource {
    const tables = [this.tcp, this.io, this.httpRequests, this.httpDuration, this.drops, this.dnsRequests, this.dnsDuration];
    return {
      labelNames: ["metric"],
      *all() {
        for (const t of tables) yield { labels: [t.name], values: Float64Array.of(t.rows.size + (t.overflowRow ? 1 : 0)) };
      },
    };
  }

  /** Parses and processes one line. Returns the error for the caller to log (with the line number), or undefined. */
  handleLine(source: FlowSource, line: string): InvalidEventError | undefined {
    let ev: FlowEvent | SkippedEvent;
    try {
      ev = source === "tetragon" ? this.tetragon.parse(line) : parseHubbleFlow(parseJsonLine(line));
    } catch (err) {
      if (err instanceof InvalidEventError) return this.reject(source, err);
      throw err;
    }
    this.handleEvent(source, ev);
    return undefined;
  }

  /** Processes one already-parsed event object (a gRPC message in the export files' JSON shape). */
  handleObject(source: FlowSource, obj: unknown): InvalidEventError | undefined {
    let ev: FlowEvent | SkippedEvent;
    try {
      ev = source === "tetragon" ? parseTetragonEvent(obj) : parseHubbleFlow(obj);
    } catch (err) {
      if (err instanceof InvalidEventError) return this.reject(source, err);
      throw err;
    }
    this.handleEvent(source, ev);
    return undefined;
  }

  /** Counts a line rejected before parsing (e.g. longer than --max-line-bytes). */
  reject(source: FlowSource, err: InvalidEventError): InvalidEventError {
    this.invalid.inc([source, err.reason]);
    return err;
  }

  /**
   * From now on, count events labelled while the cluster cache is not ready under this reason
   * (the service sets it when it stops waiting for the cache); undefined: count nothing.
   */
  setUnenrichedReason(reason: string | undefined): void {
    this.unenrichedReason = reason;
  }

  /** Events labelled without cluster metadata so far. */
  unenrichedCount(): number {
    return this.unenrichedTotal;
  }

  handleEvent(source: FlowSource, ev: FlowEvent | SkippedEvent): void {
    if (ev.kind === "not-tracked") {
      this.events.inc2(source, ev.type);
      return;
    }
    this.events.inc2(source, ev.kind === "tcp" ? ev.fn : ev.kind === "io" ? ev.direction : ev.kind === "hubble" ? ev.type : "http_response");
    if (this.node !== undefined && ev.node !== undefined && ev.node !== this.node) {
      this.ignored.inc([source, "other_node"]);
      return;
    }
    if (this.unenrichedReason !== undefined && !this.enricher.clusterReady) {
      this.unenriched.inc([this.unenrichedReason]);
      this.unenrichedTotal++;
    }
    if (ev.kind === "tcp") this.onTcp(ev);
    else if (ev.kind === "io") this.onIo(ev);
    else if (ev.kind === "hubble") this.onHubble(ev);
    else this.onHttp(ev);
  }

  private onTcp(ev: TcpEvent): void {
    const local = this.enricher.local(ev.localIp, ev.pod, ev.node);
    const remote = this.enricher.remote(ev.remoteIp);
    if (local.ignored || remote.ignored) {
      this.ignored.inc(["tetragon", "annotation"]);
      return;
    }
    let localIsClient: boolean;
    if (ev.type === "connect") {
      localIsClient = true;
      if (this.clientSockets.size >= CLIENT_SOCKETS_MAX) this.clientSockets.delete(this.clientSockets.keys().next().value!);
      this.clientSockets.set(socketKey(ev), true);
    } else if (ev.type === "close") {
      const sock = socketKey(ev);
      localIsClient = this.clientSockets.delete(sock) || ev.localPort > ev.remotePort;
    } else {
      // Without a tcp_connect for this socket, the side on the ephemeral (higher) port is the client.
      localIsClient = ev.localPort > ev.remotePort || (this.clientSockets.size > 0 && this.clientSockets.has(socketKey(ev)));
    }
    const src = localIsClient ? local : remote;
    const dst = localIsClient ? remote : local;
    const dstIp = localIsClient ? ev.remoteIp : ev.localIp;
    const dstPort = localIsClient ? ev.remotePort : ev.localPort;
    const service = this.enricher.service(dst, dstIp, dstPort);
    const conn = ev.type === "connect" ? 1 : 0;
    const sent = (ev.type === "send") === localIsClient && (ev.type === "send" || ev.type === "recv") ? ev.bytes : 0;
    const received = (ev.type === "recv") === localIsClient && (ev.type === "send" || ev.type === "recv") ? ev.bytes : 0;

    const row = this.tcpRow(src, dst, service);
    this.add(row, this.tcp, conn, sent, received);
    if (!this.flowsOut) return;
    const key = this.tcpKey(src, dst, service);

    const fkey = key + SEP + src.kind + SEP + dst.kind + SEP + (src.release ?? "") + SEP + (dst.release ?? "") + SEP + dstPort;
    const frow = this.flows.row(fkey, () => []);
    if (frow !== this.flows.overflowRow && !this.flowPeers.has(fkey)) {
      this.flowPeers.set(fkey, { src: this.flowPeer(src, ""), dst: this.flowPeer(dst, service), port: dstPort });
    }
    frow.values[0]! += conn;
    frow.values[1]! += sent;
    frow.values[2]! += received;
  }

  private tcpKey(src: Peer, dst: Peer, service: string): string {
    const key = src.namespace + SEP + src.workload + SEP + dst.namespace + SEP + dst.workload + SEP + service;
    return this.podLabels ? key + SEP + (src.pod ?? "") + SEP + (dst.pod ?? "") : key;
  }

  /**
   * The tcp table's row for a peer pair. Peers are the enricher's memoised objects, so the row is
   * found by identity first, which spares building and hashing the label key on every event;
   * the identity cache is dropped whenever the enricher starts a new memo generation.
   */
  private tcpRow(src: Peer, dst: Peer, service: string): Row {
    // Transient peers (first sightings) are new objects: find the row by its labels, and keep them
    // out of the identity cache, which they would only churn.
    if (src.memo !== true || dst.memo !== true) {
      return this.tcp.row(this.tcpKey(src, dst, service), () => (this.podLabels ? [src.namespace, src.workload, dst.namespace, dst.workload, service, src.pod ?? "", dst.pod ?? ""] : [src.namespace, src.workload, dst.namespace, dst.workload, service]));
    }
    if (this.rowCacheGeneration !== this.enricher.generation || this.rowCache.size >= ROW_CACHE_MAX) {
      this.rowCache = new Map();
      this.rowCacheGeneration = this.enricher.generation;
    }
    const ways = this.rowCache.get(src);
    if (ways !== undefined) {
      const e = ways.e;
      for (let i = 0; i < e.length; i += 3) if (e[i] === dst && e[i + 1] === service) return e[i + 2] as Row;
    }
    const srcPod = src.pod ?? "";
    const dstPod = dst.pod ?? "";
    const row = this.tcp.row(this.tcpKey(src, dst, service), () => (this.podLabels ? [src.namespace, src.workload, dst.namespace, dst.workload, service, srcPod, dstPod] : [src.namespace, src.workload, dst.namespace, dst.workload, service]));
    if (ways === undefined) {
      this.rowCache.set(src, { e: [dst, service, row], next: 0 });
    } else if (ways.e.length < ROW_WAYS * 3) {
      ways.e.push(dst, service, row);
    } else {
      const i = ways.next * 3;
      ways.e[i] = dst;
      ways.e[i + 1] = service;
      ways.e[i + 2] = row;
      ways.next = (ways.next + 1) % ROW_WAYS;
    }
    return row;
  }

  private add(row: Row, table: SeriesTable, conn: number, sent: number, received: number): void {
    if (row === table.overflowRow) this.overflow.inc([table.name]);
    row.values[0]! += conn;
    row.values[1]! += sent;
    row.values[2]! += received;
  }

  private flowPeer(p: Peer, service: string): FlowPeer {
    return {
      namespace: p.namespace,
      workload: p.workload,
      kind: p.kind,
      ...(this.podLabels && p.pod ? { pod: p.pod } : {}),
      ...(p.release ? { release: p.release } : {}),
      ...(service ? { service } : {}),
    };
  }

  private onIo(ev: IoEvent): void {
    const p = this.enricher.local("", ev.pod, ev.node);
    if (p.ignored) {
      this.ignored.inc(["tetragon", "annotation"]);
      return;
    }
    const pod = p.pod ?? "";
    const key = p.namespace + SEP + p.workload + SEP + ev.direction + (this.podLabels ? SEP + pod : "");
    const row = this.io.row(key, () => (this.podLabels ? [p.namespace, p.workload, ev.direction, pod] : [p.namespace, p.workload, ev.direction]));
    if (row === this.io.overflowRow) this.overflow.inc(["io"]);
    row.values[0]! += ev.bytes;
  }

  private onHubble(ev: HubbleFlowEvent): void {
    this.verdicts.inc([ev.verdict, ev.protocol || "none", ev.direction]);
    if (ev.verdict !== "DROPPED" && !ev.dns) return;
    const src = this.enricher.hubble(ev.src);
    const dst = this.enricher.hubble(ev.dst);
    if (src.ignored || dst.ignored) {
      this.ignored.inc(["hubble", "annotation"]);
      return;
    }
    if (ev.verdict === "DROPPED") this.onDrop(ev, src, dst);
    if (ev.dns) this.onDns(ev, src, dst);
  }

  private onDrop(ev: HubbleFlowEvent, src: Peer, dst: Peer): void {
    const reason = ev.dropReason ?? "DROP_REASON_UNKNOWN";
    const policy = ev.policies ? ev.policies.join(",") : "";
    const labels = this.podLabels
      ? [src.namespace, src.workload, dst.namespace, dst.workload, reason, ev.direction, policy, src.pod ?? "", dst.pod ?? ""]
      : [src.namespace, src.workload, dst.namespace, dst.workload, reason, ev.direction, policy];
    const row = this.drops.row(labels.join(SEP), () => labels);
    if (row === this.drops.overflowRow) this.overflow.inc(["drops"]);
    row.values[0]!++;
    this.dropLog.add(
      { src_namespace: src.namespace, src_workload: src.workload, dst_namespace: dst.namespace, dst_workload: dst.workload, reason, direction: ev.direction, protocol: ev.protocol, port: ev.dst.port, policy },
      Date.now(),
      ev.time,
      ev.flags,
    );
  }

  private onDns(ev: HubbleFlowEvent, src: Peer, dst: Peer): void {
    const dns = ev.dns!;
    if (!dns.response) {
      // Remember when the query left, to time the answer.
      if (ev.time === undefined) return;
      if (this.dnsPending.size >= DNS_PENDING_MAX) this.dnsPending.delete(this.dnsPending.keys().next().value!);
      this.dnsPending.set(`${ev.src.ip}:${ev.src.port}>${ev.dst.ip}:${ev.dst.port}|${dns.query}`, ev.time);
      return;
    }
    // An answer travels server → client.
    const client = dst;
    const server = src;
    const q = dns.qtypes[0] ?? "";
    const qtype = DNS_QTYPES.has(q) ? q : q ? "other" : "";
    const labels = this.podLabels
      ? [client.namespace, client.workload, server.namespace, server.workload, qtype, dns.rcode, client.pod ?? "", server.pod ?? ""]
      : [client.namespace, client.workload, server.namespace, server.workload, qtype, dns.rcode];
    const key = labels.join(SEP);
    const row = this.dnsRequests.row(key, () => labels);
    if (row === this.dnsRequests.overflowRow) this.overflow.inc(["dns_requests"]);
    row.values[0]!++;
    let latency = dns.latencySeconds;
    const pendingKey = `${ev.dst.ip}:${ev.dst.port}>${ev.src.ip}:${ev.src.port}|${dns.query}`;
    const sent = this.dnsPending.get(pendingKey);
    if (sent !== undefined) this.dnsPending.delete(pendingKey);
    if (latency === undefined && sent !== undefined && ev.time !== undefined && ev.time >= sent) latency = ev.time - sent;
    if (latency === undefined) {
      this.dnsUnpaired.inc(["hubble"]);
      return;
    }
    const hrow = this.dnsDuration.row(key, () => labels);
    if (hrow === this.dnsDuration.overflowRow) this.overflow.inc(["dns_duration"]);
    this.dnsDuration.observe(hrow, latency);
  }

  private onHttp(ev: HttpEvent): void {
    if (ev.verdict !== undefined) this.verdicts.inc([ev.verdict, ev.protocol || "none", ev.direction ?? "unknown"]);
    const server = this.enricher.hubble(ev.server);
    if (server.ignored) {
      this.ignored.inc(["hubble", "annotation"]);
      return;
    }
    const client = ev.client.ip ? this.enricher.hubble(ev.client) : undefined;
    if (client?.ignored) {
      this.ignored.inc(["hubble", "annotation"]);
      return;
    }
    const service = ev.server.service ?? this.enricher.service(server, ev.server.ip, ev.server.port);
    const method = HTTP_METHODS.has(ev.method) ? ev.method : "_OTHER";
    const cls = statusClass(ev.code);
    const pod = server.pod ?? "";
    const key = server.namespace + SEP + service + SEP + server.workload + SEP + method + SEP + cls + (this.podLabels ? SEP + pod : "");
    const labels = (): string[] => (this.podLabels ? [server.namespace, service, server.workload, method, cls, pod] : [server.namespace, service, server.workload, method, cls]);
    const row = this.httpRequests.row(key, labels);
    if (row === this.httpRequests.overflowRow) this.overflow.inc(["http_requests"]);
    row.values[0]!++;
    const hrow = this.httpDuration.row(key, labels);
    if (hrow === this.httpDuration.overflowRow) this.overflow.inc(["http_duration"]);
    this.httpDuration.observe(hrow, ev.latencySeconds);
  }

  /** The flows aggregated since the last call, as --flows-out records; starts a new interval. */
  drainFlows(now = Date.now()): FlowRecord[] {
    const ts = new Date(now).toISOString();
    const interval_s = Math.round((now - this.lastFlush) / 100) / 10;
    this.lastFlush = now;
    const out: FlowRecord[] = [];
    const record = (src: FlowPeer, dst: FlowPeer, port: number, v: Float64Array): FlowRecord => ({
      ts,
      interval_s,
      src,
      dst,
      dst_port: port,
      protocol: "TCP",
      connections: v[0]!,
      bytes_sent: v[1]!,
      bytes_received: v[2]!,
    });
    for (const [k, row] of this.flows.rows) {
      const p = this.flowPeers.get(k)!;
      out.push(record(p.src, p.dst, p.port, row.values));
    }
    if (this.flows.overflowRow) {
      const o = { namespace: "overflow", workload: "overflow", kind: "overflow" };
      out.push(record(o, o, 0, this.flows.overflowRow.values));
      this.overflow.inc(["flows"], this.flows.folded);
      this.flows.folded = 0;
    }
    this.flows.clear();
    this.flowPeers = new Map();
    return out;
  }

  counters(): { events: KeyedCounter; invalid: KeyedCounter; ignored: KeyedCounter; overflow: KeyedCounter } {
    return { events: this.events, invalid: this.invalid, ignored: this.ignored, overflow: this.overflow };
  }
}
