// Days to full: a least-squares line through (time, database size) samples, extended to the quota.
// The samples come from Prometheus' history (--prometheus URL, the HTTP API's query_range) or from
// the sizes this process read itself. It is a straight line: compaction, defragmentation, a
// one-off import or a deleted namespace all break it, and the report says what it is based on.
import http from "node:http";
import https from "node:https";

export interface SizeSample {
  /** ms since the epoch. */
  t: number;
  bytes: number;
}

export type ForecastStatus = "growing" | "not-growing" | "insufficient-data" | "at-or-over-quota";

export interface Forecast {
  status: ForecastStatus;
  source: "prometheus" | "samples";
  samples: number;
  /** Seconds between the first and the last sample. */
  spanSeconds: number;
  /** Fitted growth, bytes per second (absent below 2 samples). */
  slopeBytesPerSecond?: number;
  quotaBytes: number;
  /** Seconds from now until the fitted line reaches the quota (only when growing). */
  secondsToFull?: number;
  /** ISO time of that moment. */
  fullAt?: string;
  /** The forecast in one plain sentence, for the report. */
  statement: string;
}

export interface ForecastOptions {
  quotaBytes: number;
  /** Where the quota came from, for the statement. */
  quotaSource: string;
  source: "prometheus" | "samples";
  now?: number;
  /** Fewer samples or a shorter span than this gives insufficient-data (defaults 2 and 60 s). */
  minSamples?: number;
  minSpanSeconds?: number;
}

function days(seconds: number): string {
  const d = seconds / 86400;
  if (d >= 2) return `${d.toFixed(1)} days`;
  const h = seconds / 3600;
  if (h >= 2) return `${h.toFixed(1)} hours`;
  return `${Math.max(1, Math.round(seconds / 60))} minutes`;
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** Fits the line and extends it to the quota. The current size is the last sample's. */
export function linearForecast(samplesIn: SizeSample[], opts: ForecastOptions): Forecast {
  const samples = samplesIn.filter((s) => Number.isFinite(s.t) && Number.isFinite(s.bytes)).sort((a, b) => a.t - b.t);
  const now = opts.now ?? Date.now();
  const base = { source: opts.source, samples: samples.length, quotaBytes: opts.quotaBytes };
  const spanSeconds = samples.length > 1 ? (samples[samples.length - 1]!.t - samples[0]!.t) / 1000 : 0;
  const from = opts.source === "prometheus" ? "Prometheus history" : "the samples taken so far";
  const last = samples[samples.length - 1];
  if (last && last.bytes >= opts.quotaBytes) {
    return { ...base, status: "at-or-over-quota", spanSeconds, secondsToFull: 0, statement: `The database (${mib(last.bytes)}) is at or over its quota (${mib(opts.quotaBytes)}, ${opts.quotaSource}).` };
  }
  const minSamples = opts.minSamples ?? 2;
  const minSpan = opts.minSpanSeconds ?? 60;
  if (samples.length < minSamples || spanSeconds < minSpan) {
    return {
      ...base,
      status: "insufficient-data",
      spanSeconds,
      statement: `No forecast: ${samples.length} size sample(s) over ${Math.round(spanSeconds)} s from ${from}; a trend needs at least ${minSamples} over ${minSpan} s (give --prometheus URL for history, or let serve run).`,
    };
  }
  // Least squares in seconds relative to the first sample (keeps the numbers small).
  const t0 = samples[0]!.t;
  const xs = samples.map((s) => (s.t - t0) / 1000);
  const ys = samples.map((s) => s.bytes);
  const n = samples.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
  }
  const slope = sxx > 0 ? sxy / sxx : 0;
  if (!(slope > 0)) {
    return {
      ...base,
      status: "not-growing",
      spanSeconds,
      slopeBytesPerSecond: slope,
      statement: `Not growing: the size did not increase over ${days(spanSeconds)} of ${from} (${n} samples, ${(slope * 86400 / 1024 / 1024).toFixed(2)} MiB/day).`,
    };
  }
  const secondsToFull = Math.max(0, (opts.quotaBytes - last!.bytes) / slope - (now - last!.t) / 1000);
  const fullAt = new Date(now + secondsToFull * 1000).toISOString();
  return {
    ...base,
    status: "growing",
    spanSeconds,
    slopeBytesPerSecond: slope,
    secondsToFull,
    fullAt,
    statement: `At the rate of the last ${days(spanSeconds)} (${((slope * 86400) / 1024 / 1024).toFixed(2)} MiB/day, ${n} samples from ${from}), the database reaches its quota (${mib(opts.quotaBytes)}, ${opts.quotaSource}) in ${days(secondsToFull)}, around ${fullAt}. A straight line: compaction, defragmentation and bulk changes break it.`,
  };
}

/** The default history query: the largest DB size under any version's name. */
export const DEFAULT_PROMETHEUS_QUERY = "max(apiserver_storage_size_bytes or apiserver_storage_db_total_size_in_bytes or etcd_db_total_size_in_bytes)";
const MAX_PROMETHEUS_BYTES = 16 * 1024 * 1024;

/**
 * Reads size history with the Prometheus HTTP API (`/api/v1/query_range`). The result's series
 * are merged (max per timestamp). Throws Error naming the URL on HTTP, network or format errors.
 */
export async function prometheusHistory(baseUrl: string, opts: { query?: string; windowMs: number; now?: number; timeoutMs?: number; maxPoints?: number }): Promise<SizeSample[]> {
  const now = opts.now ?? Date.now();
  const maxPoints = opts.maxPoints ?? 500;
  const stepSeconds = Math.max(15, Math.ceil(opts.windowMs / 1000 / maxPoints));
  const url = new URL("api/v1/query_range", baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`);
  url.searchParams.set("query", opts.query ?? DEFAULT_PROMETHEUS_QUERY);
  url.searchParams.set("start", String((now - opts.windowMs) / 1000));
  url.searchParams.set("end", String(now / 1000));
  url.searchParams.set("step", String(stepSeconds));
  const where = `${url.origin}${url.pathname}`;
  const text = await httpGetText(url, opts.timeoutMs ?? 10_000, where);
  let body: { status?: string; error?: string; data?: { resultType?: string; result?: { values?: [number, string][] }[] } };
  try {
    body = JSON.parse(text.body) as typeof body;
  } catch {
    throw new Error(`${where}: HTTP ${text.status}, not JSON: ${JSON.stringify(text.body.slice(0, 120))}`);
  }
  if (text.status !== 200 || body.status !== "success") throw new Error(`${where}: HTTP ${text.status}: ${body.error ?? body.status ?? "no status"}`);
  if (body.data?.resultType !== "matrix" || !Array.isArray(body.data.result)) throw new Error(`${where}: expected a matrix result, got ${body.data?.resultType ?? "none"}`);
  const byTime = new Map<number, number>();
  for (const series of body.data.result) {
    for (const v of series.values ?? []) {
      const t = Math.round(Number(v[0]) * 1000);
      const b = Number(v[1]);
      if (!Number.isFinite(t) || !Number.isFinite(b)) continue;
      byTime.set(t, Math.max(byTime.get(t) ?? -Infinity, b));
    }
  }
  return [...byTime.entries()].sort((a, b) => a[0] - b[0]).map(([t, bytes]) => ({ t, bytes }));
}

function httpGetText(url: URL, timeoutMs: number, where: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const transport = url.protocol === "https:" ? https : url.protocol === "http:" ? http : undefined;
    if (!transport) return reject(new Error(`${where}: --prometheus must be an http(s) URL`));
    const req = transport.get(url, { headers: { accept: "application/json" }, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        size += c.length;
        if (size > MAX_PROMETHEUS_BYTES) {
          req.destroy(new Error(`${where}: answer larger than ${MAX_PROMETHEUS_BYTES} bytes`));
          return;
        }
        chunks.push(c);
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", (e) => reject(new Error(`${where}: ${e.message}`)));
    });
    req.on("timeout", () => req.destroy(new Error(`${where}: no answer within ${timeoutMs} ms`)));
    req.on("error", (e) => reject(e.message.startsWith(where) ? e : new Error(`${where}: ${e.message}`)));
  });
}
