// `controlplane etcd-usage`: a paced scan of a key prefix (default /registry/) that counts keys and
// value bytes without keeping values. Pages: bounded key count and bounded bytes (the page limit
// shrinks when values are large), serializable reads (the member answers from its own store, no
// raft round), all pages at one revision (a consistent snapshot while it is not compacted), a token
// bucket on keys per second, a deadline on every call. A probe on its own connection measures
// etcd's answer time before (idle) and during the scan.
import { DEFAULT_TIMEOUT_MS, checkConnection, describeError, readTls, type TlsMaterial } from "./connection.js";
import { parseRoot } from "./keys.js";
import { AdaptiveWindow } from "./window.js";
import { GrpcStatus, H2RangeCaller } from "./h2.js";
import { UsageAggregator } from "./usage.js";
import { encodeRangeRequest, type KvVisitor, type RangePage } from "./wire.js";
import type { EtcdConnection, EtcdUsage, LatencySummary, ScanOptions } from "./types.js";

export const SCAN_DEFAULTS = {
  prefix: "/registry/",
  pageSize: 500,
  maxPageSize: 5000,
  maxKeysPerSecond: 20_000,
  maxMaxKeysPerSecond: 1_000_000,
  /** A page is cut to about this many value bytes (from the mean value size seen so far). */
  pageBytes: 4 << 20,
  top: 20,
  probeIntervalMs: 50,
  idleProbeMs: 1000,
  retries: 1,
} as const;

/** etcd's "every key starting with prefix" range end. */
export function prefixRangeEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i] = end[i]! + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

/** Keys-per-second pacing: `take(n)` returns how long to wait before the next page. */
export class TokenBucket {
  private tokens: number;
  private last: number;
  constructor(
    private readonly rate: number,
    private readonly capacity: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = capacity;
    this.last = now();
  }
  take(n: number): number {
    const t = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((t - this.last) * this.rate) / 1000);
    this.last = t;
    this.tokens -= n;
    return this.tokens >= 0 ? 0 : (-this.tokens * 1000) / this.rate;
  }
}

export function summarize(samples: number[], failures: number): LatencySummary {
  const s = [...samples].sort((a, b) => a - b);
  const q = (p: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
  const r = (x: number): number => Math.round(x * 1000) / 1000;
  return s.length === 0 ? { samples: 0, failures } : { samples: s.length, failures, p50Ms: r(q(0.5)), p99Ms: r(q(0.99)), maxMs: r(s[s.length - 1]!) };
}

/** A small serializable single-key get (keys_only) every `intervalMs` on its own connection. */
class LatencyProbe {
  private samples: number[] = [];
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private inFlight = false;
  private readonly request: Buffer;
  constructor(
    private readonly caller: RangeCaller,
    private readonly key: Buffer,
    private readonly intervalMs: number,
    private readonly timeoutMs: number,
  ) {
    this.request = encodeRangeRequest({ key: this.key, serializable: true, keysOnly: true });
  }
  start(): void {
    if (this.intervalMs <= 0) return;
    this.timer = setInterval(() => void this.once(), this.intervalMs);
    void this.once();
  }
  private async once(): Promise<void> {
    if (this.inFlight) return; // a frozen etcd: one probe waits for its deadline, no pile-up
    this.inFlight = true;
    const t0 = performance.now();
    try {
      await this.caller.range(this.request, () => undefined, this.timeoutMs);
      this.samples.push(performance.now() - t0);
    } catch {
      this.failures++;
    } finally {
      this.inFlight = false;
    }
  }
  /** Stops and returns what was measured since start(). */
  stop(): LatencySummary {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const s = summarize(this.samples, this.failures);
    this.samples = [];
    this.failures = 0;
    return s;
  }
}

/** The Range calls of the scan and of the probe (node:http2; see h2.ts). */
type RangeCaller = H2RangeCaller;
const newCaller = (endpoint: URL, tls: TlsMaterial): RangeCaller => new H2RangeCaller(endpoint, tls);

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (ms <= 0 || signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });

function boundedInt(v: number | undefined, def: number, min: number, max: number, flag: string): number {
  if (v === undefined) return def;
  if (!Number.isInteger(v) || v < min || v > max) throw new Error(`${flag}: ${v} is not an integer between ${min} and ${max}`);
  return v;
}

/** Checks scan options (errors name the flag) and fills the defaults. */
export function scanSettings(opts: ScanOptions): Required<Pick<ScanOptions, "prefix" | "pageSize" | "maxKeysPerSecond" | "top" | "probeIntervalMs" | "idleProbeMs">> {
  const prefix = opts.prefix ?? SCAN_DEFAULTS.prefix;
  if (prefix === "") throw new Error("--prefix: must not be empty");
  return {
    prefix,
    pageSize: boundedInt(opts.pageSize, SCAN_DEFAULTS.pageSize, 1, SCAN_DEFAULTS.maxPageSize, "--page-size"),
    maxKeysPerSecond: boundedInt(opts.maxKeysPerSecond, SCAN_DEFAULTS.maxKeysPerSecond, 1, SCAN_DEFAULTS.maxMaxKeysPerSecond, "--max-keys-per-second"),
    top: boundedInt(opts.top, SCAN_DEFAULTS.top, 0, 10_000, "--top"),
    probeIntervalMs: boundedInt(opts.probeIntervalMs, SCAN_DEFAULTS.probeIntervalMs, 0, 60_000, "probeIntervalMs"),
    idleProbeMs: boundedInt(opts.idleProbeMs, SCAN_DEFAULTS.idleProbeMs, 0, 60_000, "idleProbeMs"),
  };
}

const isCompacted = (err: unknown): boolean => err instanceof Error && /required revision has been compacted/.test(err.message);
const isRetryable = (err: unknown): boolean => {
  const code = (err as { code?: number }).code;
  return code === GrpcStatus.UNAVAILABLE || code === GrpcStatus.DEADLINE_EXCEEDED;
};

/** The first endpoint that answers a serializable one-key read within the deadline. */
async function firstAnswering(urls: URL[], tls: TlsMaterial, key: Buffer, timeoutMs: number): Promise<{ endpoint?: URL; caller?: RangeCaller; failures: string[] }> {
  const failures: string[] = [];
  const req = encodeRangeRequest({ key, serializable: true, keysOnly: true });
  for (const u of urls) {
    const caller = newCaller(u, tls);
    try {
      await caller.range(req, () => undefined, timeoutMs);
      return { endpoint: u, caller, failures };
    } catch (err) {
      caller.close();
      failures.push(`etcd ${u.origin}: ${describeError(err)}`);
    }
  }
  return { failures };
}

function failedBeforeStart(endpoint: string, cfg: ReturnType<typeof scanSettings>, error: string): EtcdUsage {
  const none = { samples: 0, failures: 0 };
  return {
    endpoint,
    prefix: cfg.prefix,
    complete: false,
    error: `${error} (after 0 keys in 0 pages)`,
    warnings: [],
    scannedKeys: 0,
    scannedBytes: 0,
    unparsedKeys: 0,
    clusterScoped: { keys: 0, bytes: 0 },
    pages: 0,
    durationMs: 0,
    keysPerSecond: 0,
    pageSize: cfg.pageSize,
    maxKeysPerSecond: cfg.maxKeysPerSecond,
    resources: [],
    namespaces: [],
    pairs: [],
    largest: [],
    latency: { probeIntervalMs: cfg.probeIntervalMs, idle: none, during: none },
  };
}

/**
 * Scans `opts.prefix` on the first endpoint of `conn` that answers (a serializable read is
 * answered by that member alone; endpoints that did not answer are named in `warnings`). Never
 * throws for etcd failures: the result says `complete: false` and why. Throws only for bad options.
 */
export async function scanEtcdUsage(conn: EtcdConnection, opts: ScanOptions = {}): Promise<EtcdUsage> {
  const urls = checkConnection(conn);
  const cfg = scanSettings(opts);
  const tls = readTls(conn);
  const timeoutMs = conn.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const prefix = Buffer.from(cfg.prefix, "utf8");
  const rangeEnd = prefixRangeEnd(prefix);
  const agg = new UsageAggregator(parseRoot(cfg.prefix), cfg.top);
  const warnings: string[] = [];
  // The first endpoint that answers a one-key read is scanned; the others are named when skipped.
  const pick = await firstAnswering(urls, tls, prefix, timeoutMs);
  if (pick.endpoint === undefined) return failedBeforeStart(urls[0]!.origin, cfg, pick.failures.join("; "));
  const endpoint = pick.endpoint;
  for (const f of pick.failures) warnings.push(`${f}: scanned ${endpoint.origin} instead`);
  const caller = pick.caller!;
  // its own connection: the probe does not queue behind scan pages
  const probeCaller = newCaller(endpoint, tls);
  const probe = new LatencyProbe(probeCaller, prefix, cfg.probeIntervalMs, timeoutMs);

  let idle: LatencySummary = { samples: 0, failures: 0 };
  let revision: number | undefined;
  let pages = 0;
  let error: string | undefined;
  let complete = false;
  let t0 = performance.now();
  try {
    if (cfg.probeIntervalMs > 0 && cfg.idleProbeMs > 0) {
      probe.start();
      await sleep(cfg.idleProbeMs, opts.signal);
      idle = probe.stop();
    }
    probe.start();
    t0 = performance.now();
    const bucket = new TokenBucket(cfg.maxKeysPerSecond, cfg.pageSize);
    let start: Buffer = prefix;
    let limit = cfg.pageSize;
    let estimatedTotal: number | undefined;
    const window = new AdaptiveWindow(rangeEnd);
    const visit: KvVisitor = (buf, s, e, n) => agg.addRaw(buf, s, e, n);
    for (;;) {
      if (opts.signal?.aborted) {
        error = "stopped before the end (interrupted)";
        break;
      }
      const end = window.end(start);
      const call = (rev: number | undefined): Promise<RangePage> =>
        caller.range(encodeRangeRequest({ key: start, rangeEnd: end, limit, serializable: true, ...(rev !== undefined ? { revision: rev } : {}) }), visit, timeoutMs);
      let page: RangePage | undefined;
      for (let attempt = 0; ; attempt++) {
        try {
          page = await call(revision);
          break;
        } catch (err) {
          if (isCompacted(err) && revision !== undefined) {
            warnings.push(`revision ${revision} was compacted during the scan: pages after ${agg.keys} keys were read at the latest revision (not one consistent snapshot)`);
            revision = undefined;
            page = await call(undefined);
            break;
          }
          if (attempt < SCAN_DEFAULTS.retries && isRetryable(err)) {
            await sleep(500, opts.signal);
            continue;
          }
          throw err;
        }
      }
      pages++;
      revision ??= page.header.revision;
      estimatedTotal ??= page.count; // the first call covers the whole prefix
      opts.onProgress?.({ keys: agg.keys, bytes: agg.bytes, pages, estimatedTotal: Math.max(estimatedTotal, agg.keys) });
      window.update(start, end, page.count, limit);
      if (page.more && page.lastKey !== undefined) start = Buffer.concat([page.lastKey, Buffer.from([0])]);
      else if (Buffer.compare(end, rangeEnd) >= 0) {
        complete = true;
        break;
      } else start = end;
      // Bound the bytes of the next page by the mean value size seen so far.
      const mean = agg.keys > 0 ? agg.bytes / agg.keys : 0;
      limit = mean > 0 ? Math.max(1, Math.min(cfg.pageSize, Math.floor(SCAN_DEFAULTS.pageBytes / mean))) : cfg.pageSize;
      await sleep(bucket.take(page.kvCount), opts.signal);
    }
  } catch (err) {
    error = `etcd ${endpoint.origin}: ${describeError(err)} (after ${agg.keys} keys in ${pages} pages)`;
  } finally {
    caller.close();
  }
  const durationMs = performance.now() - t0;
  const during = probe.stop();
  probeCaller.close();
  if (error !== undefined) complete = false;
  const r = agg.result();
  return {
    endpoint: endpoint.origin,
    prefix: cfg.prefix,
    ...(revision !== undefined ? { revision } : {}),
    complete,
    ...(error !== undefined ? { error } : {}),
    warnings,
    scannedKeys: agg.keys,
    scannedBytes: agg.bytes,
    unparsedKeys: agg.unparsed,
    clusterScoped: { ...agg.clusterScoped },
    pages,
    durationMs: Math.round(durationMs),
    keysPerSecond: durationMs > 0 ? Math.round((agg.keys * 1000) / durationMs) : 0,
    pageSize: cfg.pageSize,
    maxKeysPerSecond: cfg.maxKeysPerSecond,
    ...r,
    latency: { probeIntervalMs: cfg.probeIntervalMs, idle, during },
  };
}
