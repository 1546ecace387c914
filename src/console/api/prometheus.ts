// A small client for Prometheus' HTTP API (/api/v1/query and /api/v1/query_range), for the console's
// control-plane and traffic routes. Every query is built on the server from a fixed template; the
// only values from the browser that reach PromQL are label values that passed labelValue() and
// durations that passed promDuration(). Any failure (unreachable, timeout, non-2xx, an answer that
// is not Prometheus' JSON, an error status) is an UpstreamError naming the URL (502).
import { BadRequest, UpstreamError } from "../http.js";
import { fetchUpstream } from "./upstream.js";

/** One series of an instant vector. */
export interface PromSample {
  metric: Record<string, string>;
  value: number;
}

/** One series of a range query. */
export interface PromSeries {
  metric: Record<string, string>;
  /** [unix seconds, value] */
  values: [number, number][];
}

/** An answer larger than this is refused (a runaway query must not exhaust the console's memory). */
export const MAX_PROMETHEUS_BYTES = 16 * 1024 * 1024;

interface PromAnswer {
  status?: string;
  error?: string;
  errorType?: string;
  data?: { resultType?: string; result?: unknown };
}

function toNumber(v: unknown): number {
  // Prometheus sends sample values as strings: "1.5", "NaN", "+Inf".
  if (typeof v !== "string" && typeof v !== "number") return Number.NaN;
  return Number(v);
}

export class PrometheusClient {
  private readonly base: string;
  constructor(
    base: string,
    private readonly timeoutMs: number,
  ) {
    this.base = base.replace(/\/+$/, "");
  }

  /** Base URL (no trailing slash), for messages. */
  get url(): string {
    return this.base;
  }

  private async call(path: "/api/v1/query" | "/api/v1/query_range", params: Record<string, string>): Promise<PromAnswer["data"]> {
    const where = `Prometheus ${this.base}${path}`;
    // POST: long queries do not hit URL length limits (Prometheus accepts form-encoded POSTs).
    const { status, text } = await fetchUpstream(this.base + path, {
      where,
      timeoutMs: this.timeoutMs,
      maxBytes: MAX_PROMETHEUS_BYTES,
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body: new URLSearchParams(params),
    });
    let answer: PromAnswer;
    try {
      answer = JSON.parse(text) as PromAnswer;
    } catch {
      throw new UpstreamError(`${where}: HTTP ${status}, not JSON: ${JSON.stringify(text.slice(0, 200))}`);
    }
    if (answer === null || typeof answer !== "object") throw new UpstreamError(`${where}: HTTP ${status}, not a Prometheus answer`);
    if (answer.status !== "success") throw new UpstreamError(`${where}: HTTP ${status}, ${answer.errorType ?? "error"}: ${answer.error ?? "no error message"}`);
    if (!answer.data || !Array.isArray(answer.data.result)) throw new UpstreamError(`${where}: answer without data.result`);
    return answer.data;
  }

  /** An instant query; `at` defaults to Prometheus' now. Scalars come back as one series without labels. */
  async query(promql: string, at?: Date): Promise<PromSample[]> {
    const data = await this.call("/api/v1/query", { query: promql, ...(at ? { time: String(at.getTime() / 1000) } : {}) });
    const result = data!.result as unknown[];
    if (data!.resultType === "scalar") {
      const v = result as unknown as [number, string];
      return [{ metric: {}, value: toNumber(v[1]) }];
    }
    if (data!.resultType !== "vector") throw new UpstreamError(`Prometheus ${this.base}/api/v1/query: expected a vector, got ${String(data!.resultType)}`);
    return (result as { metric?: Record<string, string>; value?: [number, string] }[]).map((s) => ({ metric: s.metric ?? {}, value: toNumber(s.value?.[1]) }));
  }

  /** A range query from start to end every stepSeconds. */
  async queryRange(promql: string, start: Date, end: Date, stepSeconds: number): Promise<PromSeries[]> {
    const data = await this.call("/api/v1/query_range", { query: promql, start: String(start.getTime() / 1000), end: String(end.getTime() / 1000), step: String(stepSeconds) });
    if (data!.resultType !== "matrix") throw new UpstreamError(`Prometheus ${this.base}/api/v1/query_range: expected a matrix, got ${String(data!.resultType)}`);
    return (data!.result as { metric?: Record<string, string>; values?: [number, string][] }[]).map((s) => ({
      metric: s.metric ?? {},
      values: (s.values ?? []).map(([t, v]) => [Number(t), toNumber(v)] as [number, number]),
    }));
  }
}

/** A Kubernetes namespace name (RFC 1123 label), the only shape a namespace filter may have. */
const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Validates a namespace from the browser before it goes into a PromQL label matcher. */
export function namespaceParam(name: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (!NAMESPACE.test(value)) throw new BadRequest(`query parameter ${name}: not a Kubernetes namespace name (lower-case letters, digits and "-", at most 63): ${JSON.stringify(value.slice(0, 80))}`);
  return value;
}

const DURATION = /^([1-9]\d{0,4})(s|m|h|d)$/;
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** A PromQL range like 5m, between minSeconds and maxSeconds; returned in its canonical text. */
export function durationParam(name: string, value: string | undefined, dflt: string, minSeconds: number, maxSeconds: number): { text: string; seconds: number } {
  const v = value ?? dflt;
  const m = DURATION.exec(v);
  if (!m) throw new BadRequest(`query parameter ${name}: not a duration like 30s, 5m, 1h or 1d: ${JSON.stringify(v.slice(0, 80))}`);
  const seconds = Number(m[1]) * UNIT_SECONDS[m[2]!]!;
  if (seconds < minSeconds || seconds > maxSeconds) throw new BadRequest(`query parameter ${name}: must be between ${minSeconds}s and ${maxSeconds}s, got ${v}`);
  return { text: v, seconds };
}

/** A label value inside a double-quoted PromQL string (defence in depth: callers validate first). */
export function promString(value: string): string {
  return JSON.stringify(value);
}
