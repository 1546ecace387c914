// The API server's own /metrics, read through the API (a nonResourceURL) and parsed with
// parse-prometheus-text-format, then read version-aware:
//
//   objects per resource   apiserver_resource_objects{group,resource} (1.34+)
//                          apiserver_storage_objects{resource="<plural>.<group>"} (1.21+)
//                          etcd_object_counts{resource} (≤ 1.24)
//   database size          apiserver_storage_size_bytes{storage_cluster_id} (1.28+)
//                          apiserver_storage_db_total_size_in_bytes{endpoint} (1.26–1.27)
//                          etcd_db_total_size_in_bytes{endpoint} (1.19–1.25)
//   APF rejections         apiserver_flowcontrol_rejected_requests_total{flow_schema,priority_level,reason}
//                          apiserver_dropped_requests_total{request_kind} (≤ 1.24)
//   requests, latency      apiserver_request_total, apiserver_request_duration_seconds
//   in flight              apiserver_current_inflight_requests{request_kind},
//                          apiserver_flowcontrol_current_executing_requests / _inqueue_requests
//
// A count of -1 is the server saying it could not count (fetch error): reported as such, never as
// a number. From one sample the request figures are totals since the server started; from two,
// rates over the interval between them.
import parsePrometheusTextFormat, { type PromFamily } from "parse-prometheus-text-format";
import { errorMessage } from "../core/errors.js";
import type { KubeClient } from "../core/kube/index.js";

export const OBJECT_COUNT_NAMES = ["apiserver_resource_objects", "apiserver_storage_objects", "etcd_object_counts"] as const;
export const DB_SIZE_NAMES = ["apiserver_storage_size_bytes", "apiserver_storage_db_total_size_in_bytes", "etcd_db_total_size_in_bytes"] as const;
export const REJECTION_NAMES = ["apiserver_flowcontrol_rejected_requests_total", "apiserver_dropped_requests_total"] as const;
/** The version-dependent source names whose presence the report states. */
export const VERSIONED_NAMES: readonly string[] = [...OBJECT_COUNT_NAMES, ...DB_SIZE_NAMES, ...REJECTION_NAMES];

/** What `serve` reads from /metrics: the versioned names only. */
export const SERVE_FAMILIES: ReadonlySet<string> = new Set(VERSIONED_NAMES);
/** What `report` reads: also requests, latency, in flight. */
export const REPORT_FAMILIES: ReadonlySet<string> = new Set([
  ...VERSIONED_NAMES,
  "apiserver_request_total",
  "apiserver_request_duration_seconds",
  "apiserver_current_inflight_requests",
  "apiserver_flowcontrol_current_executing_requests",
  "apiserver_flowcontrol_current_inqueue_requests",
]);

/**
 * Only the lines of the families in `keep` (their HELP/TYPE lines, samples, and a histogram's
 * _bucket/_sum/_count): a big cluster's /metrics is mostly families nobody here reads, and
 * parsing them costs time and memory.
 */
export function selectFamilies(text: string, keep: ReadonlySet<string>): string {
  const out: string[] = [];
  const kept = (name: string) => keep.has(name) || keep.has(name.replace(/_(bucket|sum|count)$/, ""));
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    let name: string;
    if (line.startsWith("#")) {
      const m = /^#\s+(?:HELP|TYPE)\s+(\S+)/.exec(line);
      if (!m) continue;
      name = m[1]!;
    } else {
      const cut = line.search(/[{ \t]/);
      name = cut < 0 ? line.trim() : line.slice(0, cut);
      // Unparseable lines are kept: the parser names them.
      if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) {
        if (line.trim() !== "") out.push(line);
        continue;
      }
    }
    if (kept(name)) out.push(line);
  }
  return out.join("\n") + "\n";
}

/** The largest /metrics body read (a big cluster's is tens of MB). */
export const MAX_METRICS_BYTES = 128 * 1024 * 1024;

type Labels = Record<string, string>;

interface ScalarSeries {
  labels: Labels;
  value: number;
}

interface HistogramSeries {
  labels: Labels;
  /** Sorted by le; cumulative counts. */
  buckets: { le: number; count: number }[];
  count: number;
  sum: number;
}

/** One /metrics answer, parsed: scalar families (counter, gauge, untyped) and histograms. */
export interface MetricsSample {
  /** ms since the epoch, when the answer arrived. */
  takenAt: number;
  scalars: Map<string, ScalarSeries[]>;
  histograms: Map<string, HistogramSeries[]>;
  /** Every family name present (with or without series). */
  names: Set<string>;
}

export class MetricsParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MetricsParseError";
  }
}

function num(v: string | undefined): number {
  if (v === undefined || v.trim() === "") return NaN;
  if (v === "+Inf") return Infinity;
  if (v === "-Inf") return -Infinity;
  return Number(v);
}

/** The 1-based number of the first line for which `match` holds (only on the error path). */
function lineWhere(text: string, match: (line: string) => boolean): number | undefined {
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) if (match(lines[i]!)) return i + 1;
  return undefined;
}

/**
 * Parses the text format. Bad input throws MetricsParseError naming `source` and the line; a
 * sample whose value is not a number (the library keeps it as a string) is an error too.
 *
 * parse-prometheus-text-format tokenizes the lines (labels, escapes, HELP/TYPE), but its histogram
 * grouping only handles a histogram without labels: labelled series (every API-server histogram)
 * come out merged into one bucket map, without their labels, count or sum. So histogram TYPE lines
 * are hidden from it, `<name>_bucket{le}`, `_sum` and `_count` come back as plain series with their
 * labels, and are grouped into histograms here.
 */
export function parseMetricsText(text: string, source: string, takenAt = Date.now(), keep?: ReadonlySet<string>): MetricsSample {
  const histogramNames = new Set<string>();
  const hidden = (keep ? selectFamilies(text, keep) : text).replace(/^# TYPE (\S+) histogram[ \t]*$/gm, (_m, name: string) => {
    histogramNames.add(name);
    return `# (histogram ${name})`;
  });
  let families: PromFamily[];
  try {
    families = parsePrometheusTextFormat(hidden);
  } catch (err) {
    const msg = errorMessage(err);
    const m = /^Encountered invalid line: (.*)$/s.exec(msg);
    const bad = m?.[1];
    const line = bad !== undefined ? lineWhere(text, (l) => l.trim() === bad) : undefined;
    throw new MetricsParseError(`${source}${line ? `:${line}` : ""}: not Prometheus text format: ${msg.slice(0, 200)}`);
  }
  const sample: MetricsSample = { takenAt, scalars: new Map(), histograms: new Map(), names: new Set() };
  const hist = new Map<string, Map<string, HistogramSeries>>();
  const histSeries = (name: string, labels: Labels): HistogramSeries => {
    let byKey = hist.get(name);
    if (!byKey) hist.set(name, (byKey = new Map()));
    const key = seriesKey(labels);
    let h = byKey.get(key);
    if (!h) byKey.set(key, (h = { labels, buckets: [], count: NaN, sum: NaN }));
    return h;
  };
  for (const f of families) {
    if (f.type === "SUMMARY") continue; // no summary is read
    const base = /^(.*)_(bucket|sum|count)$/.exec(f.name);
    const histogram = base && histogramNames.has(base[1]!) ? { name: base[1]!, part: base[2]! } : undefined;
    if (!histogram) sample.names.add(f.name);
    const series: ScalarSeries[] = [];
    for (const m of f.metrics) {
      const value = num(m.value);
      if (Number.isNaN(value) && m.value !== "NaN") {
        const line = lineWhere(text, (l) => (l.startsWith(`${f.name}{`) || l.startsWith(`${f.name} `) || l === f.name) && Number.isNaN(num(l.includes(" ") ? l.trim().split(/[ \t]+/)[1] : "")));
        throw new MetricsParseError(`${source}${line ? `:${line}` : ""}: ${f.name}: value ${JSON.stringify(m.value ?? "")} is not a number`);
      }
      const labels = m.labels ?? {};
      if (!histogram) {
        series.push({ labels, value });
        continue;
      }
      if (histogram.part === "bucket") {
        const { le, ...rest } = labels;
        const bound = num(le);
        if (le === undefined || Number.isNaN(bound)) {
          const line = lineWhere(text, (l) => l.startsWith(`${f.name}{`) && !/[{,]le="/.test(l));
          throw new MetricsParseError(`${source}${line ? `:${line}` : ""}: ${f.name}: bucket without a numeric le label`);
        }
        histSeries(histogram.name, rest).buckets.push({ le: bound, count: value });
      } else if (histogram.part === "sum") histSeries(histogram.name, labels).sum = value;
      else histSeries(histogram.name, labels).count = value;
    }
    // A family split in two places (not what a server prints, but valid input) is one family.
    if (!histogram && !histogramNames.has(f.name)) sample.scalars.set(f.name, [...(sample.scalars.get(f.name) ?? []), ...series]);
  }
  for (const [name, byKey] of hist) {
    sample.names.add(name);
    const list = [...byKey.values()];
    for (const h of list) {
      h.buckets.sort((a, b) => a.le - b.le);
      // A histogram without _count/_sum lines: its +Inf bucket is the count.
      if (Number.isNaN(h.count)) h.count = h.buckets.find((b) => b.le === Infinity)?.count ?? NaN;
    }
    sample.histograms.set(name, list);
  }
  for (const name of histogramNames) sample.names.add(name);
  return sample;
}

/** GET /metrics through the API and parse it. Throws KubeApiError (network, HTTP status) or MetricsParseError. */
export async function fetchApiserverMetrics(kube: KubeClient, opts: { timeoutMs?: number; signal?: AbortSignal; keep?: ReadonlySet<string> } = {}): Promise<MetricsSample> {
  const res = await kube.getText("/metrics", { accept: "text/plain;version=0.0.4", maxBytes: MAX_METRICS_BYTES, timeoutMs: opts.timeoutMs, signal: opts.signal });
  if (res.status !== 200) {
    let message = res.body.trim().slice(0, 200);
    try {
      const s = JSON.parse(res.body) as { message?: unknown };
      if (typeof s.message === "string") message = s.message;
    } catch {
      // plain text
    }
    throw new MetricsHttpError(res.status, `GET /metrics: HTTP ${res.status}${message ? `: ${message}` : ""}`);
  }
  return parseMetricsText(res.body, "GET /metrics", Date.now(), opts.keep);
}

export class MetricsHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "MetricsHttpError";
  }
}

// ---- objects and database -------------------------------------------------------------------

export interface ObjectCount {
  resource: string;
  /** null when the server reported -1 (it could not count). */
  count: number | null;
  source: string;
}

/** `<plural>.<group>`, or the plural alone for the core group. */
function groupResource(resource: string, group: string | undefined): string {
  return group ? `${resource}.${group}` : resource;
}

/** Objects per resource from the newest name present; a resource only an older name has still counts. */
export function objectCounts(s: MetricsSample): ObjectCount[] {
  const out = new Map<string, ObjectCount>();
  for (const name of OBJECT_COUNT_NAMES) {
    for (const { labels, value } of s.scalars.get(name) ?? []) {
      if (labels.resource === undefined) continue;
      const resource = name === "apiserver_resource_objects" ? groupResource(labels.resource, labels.group) : labels.resource;
      if (out.has(resource)) continue;
      out.set(resource, { resource, count: value < 0 ? null : value, source: name });
    }
  }
  return [...out.values()].sort((a, b) => (b.count ?? -1) - (a.count ?? -1) || a.resource.localeCompare(b.resource));
}

export interface DatabaseSize {
  /** The largest member's file: the one that reaches the quota first. */
  sizeBytes: number;
  source: string;
  /** Per etcd endpoint / storage cluster, as labelled. */
  members: { id: string; bytes: number }[];
}

export function databaseSize(s: MetricsSample): DatabaseSize | undefined {
  for (const name of DB_SIZE_NAMES) {
    const series = (s.scalars.get(name) ?? []).filter((x) => Number.isFinite(x.value) && x.value >= 0);
    if (series.length === 0) continue;
    const members = series.map((x) => ({ id: x.labels.endpoint ?? x.labels.storage_cluster_id ?? "", bytes: x.value }));
    return { sizeBytes: Math.max(...members.map((m) => m.bytes)), source: name, members };
  }
  return undefined;
}

/** Which version-dependent names the answer carried (present as a family, even without series). */
export function versionedNamesFound(s: MetricsSample): string[] {
  return VERSIONED_NAMES.filter((n) => s.names.has(n) || s.scalars.has(n));
}

// ---- requests, latency, APF, in flight --------------------------------------------------------

const LONG_RUNNING = new Set(["WATCH", "WATCHLIST", "CONNECT", "PROXY"]);

export interface RequestStat {
  /** `<plural>[.<group>][/<subresource>]`, or the path for non-resource requests (`/livez`). */
  resource: string;
  verb: string;
  requests: number;
  /** 5xx answers. */
  errors: number;
  /** 429 answers (APF or max-inflight). */
  throttled: number;
  /** Per second over the interval; only with two samples. */
  requestsPerSecond?: number;
  errorsPerSecond?: number;
  /** Seconds; absent for long-running verbs (WATCH, CONNECT…) and when nothing was observed. */
  meanLatencySeconds?: number;
  p99LatencySeconds?: number;
}

export interface RejectionStat {
  flowSchema?: string;
  priorityLevel?: string;
  reason?: string;
  /** apiserver_dropped_requests_total's request_kind (≤ 1.24). */
  requestKind?: string;
  rejected: number;
  perSecond?: number;
  source: string;
}

export interface ApiserverActivity {
  /** "totals": one sample, counts since the server started; "interval": the difference of two. */
  mode: "totals" | "interval";
  intervalSeconds?: number;
  requests: RequestStat[];
  rejections: RejectionStat[];
  inFlight: {
    /** apiserver_current_inflight_requests by request_kind (mutating, readOnly). */
    byKind: Record<string, number>;
    /** APF: executing and queued per priority level. */
    byPriorityLevel: { priorityLevel: string; executing: number; inQueue: number }[];
  };
  /** Counters that went down between the samples (a restart): their later value was used. */
  resets: number;
}

const label = (l: Labels, ...names: string[]): string | undefined => {
  for (const n of names) if (l[n] !== undefined) return l[n];
  return undefined;
};

function requestKey(l: Labels): { resource: string; verb: string } {
  const resource = l.resource ?? "";
  const sub = l.subresource ?? "";
  if (resource === "") return { resource: sub || "(none)", verb: l.verb ?? "" };
  return { resource: `${groupResource(resource, l.group)}${sub ? `/${sub}` : ""}`, verb: l.verb ?? "" };
}

function seriesKey(l: Labels): string {
  return Object.keys(l)
    .sort()
    .map((k) => `${k}=${l[k]}`)
    .join(",");
}

/** Increase of a counter between two samples (the later value after a reset). */
function increase(before: number | undefined, after: number, onReset: () => void): number {
  if (before === undefined) return after;
  if (after < before) {
    onReset();
    return after;
  }
  return after - before;
}

/** Prometheus' histogram_quantile over cumulative buckets (linear within the bucket). */
export function histogramQuantile(q: number, buckets: { le: number; count: number }[]): number | undefined {
  if (buckets.length === 0) return undefined;
  const total = buckets[buckets.length - 1]!.count;
  if (!(total > 0)) return undefined;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of buckets) {
    if (b.count >= rank) {
      if (b.le === Infinity) return prevLe; // beyond the last finite bound: its bound, as Prometheus does
      if (b.count === prevCount) return b.le;
      return prevLe + ((b.le - prevLe) * (rank - prevCount)) / (b.count - prevCount);
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return undefined;
}

/** Request, APF and in-flight figures from one sample (totals) or two (the interval between them). */
export function apiserverActivity(later: MetricsSample, earlier?: MetricsSample): ApiserverActivity {
  let resets = 0;
  const onReset = () => resets++;
  const interval = earlier ? (later.takenAt - earlier.takenAt) / 1000 : undefined;
  const rate = (v: number) => (interval && interval > 0 ? v / interval : undefined);
  const before = (name: string) => new Map((earlier?.scalars.get(name) ?? []).map((x) => [seriesKey(x.labels), x.value]));

  // Requests and errors per resource+verb.
  const stats = new Map<string, RequestStat>();
  const statFor = (l: Labels): RequestStat => {
    const k = requestKey(l);
    const key = `${k.resource} ${k.verb}`;
    let s = stats.get(key);
    if (!s) stats.set(key, (s = { resource: k.resource, verb: k.verb, requests: 0, errors: 0, throttled: 0 }));
    return s;
  };
  const prevRequests = before("apiserver_request_total");
  for (const x of later.scalars.get("apiserver_request_total") ?? []) {
    const n = increase(prevRequests.get(seriesKey(x.labels)), x.value, onReset);
    const s = statFor(x.labels);
    s.requests += n;
    const code = Number(x.labels.code);
    if (code >= 500) s.errors += n;
    if (code === 429) s.throttled += n;
  }
  // Latency: the request histograms summed per resource+verb (buckets line up: same family).
  const prevHist = new Map((earlier?.histograms.get("apiserver_request_duration_seconds") ?? []).map((h) => [seriesKey(h.labels), h]));
  const merged = new Map<string, { buckets: Map<number, number>; count: number; sum: number }>();
  for (const h of later.histograms.get("apiserver_request_duration_seconds") ?? []) {
    const k = requestKey(h.labels);
    if (LONG_RUNNING.has(k.verb)) continue;
    const key = `${k.resource} ${k.verb}`;
    let m = merged.get(key);
    if (!m) merged.set(key, (m = { buckets: new Map(), count: 0, sum: 0 }));
    const p = prevHist.get(seriesKey(h.labels));
    const reset = p !== undefined && h.count < p.count;
    if (reset) onReset();
    const base = p && !reset ? p : undefined;
    const prevBuckets = new Map(base?.buckets.map((b) => [b.le, b.count]));
    for (const b of h.buckets) m.buckets.set(b.le, (m.buckets.get(b.le) ?? 0) + b.count - (prevBuckets.get(b.le) ?? 0));
    m.count += h.count - (base?.count ?? 0);
    m.sum += h.sum - (base?.sum ?? 0);
  }
  for (const [key, m] of merged) {
    const s = stats.get(key);
    if (!s || m.count <= 0) continue;
    s.meanLatencySeconds = m.sum / m.count;
    s.p99LatencySeconds = histogramQuantile(
      0.99,
      [...m.buckets.entries()].sort((a, b) => a[0] - b[0]).map(([le, count]) => ({ le, count })),
    );
  }
  const requests = [...stats.values()]
    .filter((s) => s.requests > 0)
    .map((s) => (interval ? { ...s, requestsPerSecond: rate(s.requests), errorsPerSecond: rate(s.errors) } : s))
    .sort((a, b) => b.requests - a.requests || a.resource.localeCompare(b.resource) || a.verb.localeCompare(b.verb));

  // APF rejections (and the pre-APF dropped requests).
  const rejections: RejectionStat[] = [];
  for (const name of REJECTION_NAMES) {
    const prev = before(name);
    for (const x of later.scalars.get(name) ?? []) {
      const n = increase(prev.get(seriesKey(x.labels)), x.value, onReset);
      const r: RejectionStat =
        name === "apiserver_dropped_requests_total"
          ? { requestKind: label(x.labels, "request_kind", "requestKind"), rejected: n, source: name }
          : {
              flowSchema: label(x.labels, "flow_schema", "flowSchema"),
              priorityLevel: label(x.labels, "priority_level", "priorityLevel"),
              reason: x.labels.reason,
              rejected: n,
              source: name,
            };
      if (interval) r.perSecond = rate(n);
      rejections.push(r);
    }
  }
  rejections.sort((a, b) => b.rejected - a.rejected);

  // In flight: gauges, from the later sample.
  const byKind: Record<string, number> = {};
  for (const x of later.scalars.get("apiserver_current_inflight_requests") ?? []) {
    const k = label(x.labels, "request_kind", "requestKind") ?? "";
    byKind[k] = (byKind[k] ?? 0) + x.value;
  }
  const levels = new Map<string, { priorityLevel: string; executing: number; inQueue: number }>();
  const level = (l: Labels) => {
    const pl = label(l, "priority_level", "priorityLevel") ?? "";
    let v = levels.get(pl);
    if (!v) levels.set(pl, (v = { priorityLevel: pl, executing: 0, inQueue: 0 }));
    return v;
  };
  for (const x of later.scalars.get("apiserver_flowcontrol_current_executing_requests") ?? []) level(x.labels).executing += x.value;
  for (const x of later.scalars.get("apiserver_flowcontrol_current_inqueue_requests") ?? []) level(x.labels).inQueue += x.value;

  return {
    mode: earlier ? "interval" : "totals",
    ...(interval !== undefined ? { intervalSeconds: interval } : {}),
    requests,
    rejections,
    inFlight: { byKind, byPriorityLevel: [...levels.values()].sort((a, b) => a.priorityLevel.localeCompare(b.priorityLevel)) },
    resets,
  };
}
