import http from "node:http";
import https from "node:https";
import { readFile, stat } from "node:fs/promises";
import { gzip as gzipCb } from "node:zlib";
import { promisify } from "node:util";
import type { Sink, SinkOutcome, SinkRecord } from "../sink.js";
import { PASSTHROUGH_PREFIX, SinkConfigError, readOptionFile, type ParsedSinkUrl } from "./options.js";

const gzip = promisify(gzipCb);

export const HTTP_DEFAULTS = { timeoutMs: 10_000, batchRecords: 500, batchBytes: 4 * 1024 * 1024 } as const;
/** How much of an error response we keep as the dead-letter reason. */
const REASON_BYTES = 512;
const MAX_TOKEN_BYTES = 64 * 1024;
/** We never need more of a response than this; a larger body is cut off. */
const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * POSTs batches to an HTTP(S) endpoint. Records go into the body byte for byte (NDJSON or
 * a JSON array); sequence numbers travel in headers so the receiver can de-duplicate:
 * `Idempotency-Key: <first>-<last>`, `X-Watch-Auditor-First-Seq`, `X-Watch-Auditor-Last-Seq`, and
 * `X-Watch-Auditor-Seq-Ranges` (every record's sequence number, as ranges).
 *
 * 413 handling: the batch is split in halves and re-sent within the same send() call, and
 * the sink remembers the smaller size for later batches; a single record that still gets
 * 413 is refused for good (permanent).
 *
 * 400/422 (the receiver refuses the content) on a batch of several records: the receiver does
 * not say which record, so the sink bisects within the same send() call until one record alone
 * is refused, and reports only that one as permanent (log2(batch) + 1 extra requests per refused
 * record). Good records sent beside a bad one are delivered, not dead-lettered. Other 4xx
 * (401, 403, 404, …) are about the request, not a record: the batch is refused as a whole.
 */
export class HttpSink implements Sink {
  readonly name: string;
  readonly maxBatchRecords: number;
  readonly maxBatchBytes: number;
  private readonly target: URL;
  private readonly agent: http.Agent;
  private readonly request: typeof http.request;
  private readonly timeoutMs: number;
  private readonly format: "ndjson" | "array";
  private readonly gzip: boolean;
  private readonly extraHeaders: Record<string, string>;
  private readonly basicAuth: string | undefined;
  private readonly tokenFile: string | undefined;
  private token: { key: string; value: string } | undefined;
  /** Largest batch the endpoint accepted after a 413; later batches are cut to it. */
  private learnedMaxRecords = Infinity;

  constructor(parsed: ParsedSinkUrl) {
    const { url, options } = parsed;
    this.name = parsed.name;
    this.maxBatchRecords = options.batchRecords ?? HTTP_DEFAULTS.batchRecords;
    this.maxBatchBytes = options.batchBytes ?? HTTP_DEFAULTS.batchBytes;
    this.timeoutMs = options.timeout ?? HTTP_DEFAULTS.timeoutMs;
    this.format = options.format ?? "ndjson";
    this.gzip = options.gzip ?? false;
    this.extraHeaders = options.headers ?? {};
    this.tokenFile = options.tokenFile;
    if (this.tokenFile && Object.keys(this.extraHeaders).some((h) => h.toLowerCase() === "authorization")) {
      throw new SinkConfigError(this.name, `options "tokenFile" and header "Authorization" exclude each other`);
    }
    this.basicAuth = url.username ? "Basic " + Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString("base64") : undefined;

    this.target = new URL(url.href);
    this.target.username = "";
    this.target.password = "";
    this.target.hash = "";
    const passthrough = [...url.searchParams].filter(([k]) => k.startsWith(PASSTHROUGH_PREFIX));
    this.target.search = "";
    for (const [k, v] of passthrough) this.target.searchParams.append(k.slice(PASSTHROUGH_PREFIX.length), v);

    if (url.protocol === "https:") {
      const ca = options.caFile ? readOptionFile(this.name, "caFile", options.caFile) : undefined;
      this.agent = new https.Agent({ keepAlive: true, maxSockets: 4, ca });
      this.request = https.request;
    } else {
      if (options.caFile) throw new SinkConfigError(this.name, `option "caFile" needs an https:// URL`);
      this.agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
      this.request = http.request;
    }
  }

  async send(batch: SinkRecord[], signal: AbortSignal): Promise<SinkOutcome> {
    if (batch.length === 0) return { kind: "ok" };
    let done = 0;
    // While isolating a refused record: it is among the `suspects` records from `done` on.
    let suspects = 0;
    while (done < batch.length) {
      let n = Math.min(batch.length - done, this.learnedMaxRecords, recordsWithinRangeLimit(batch, done));
      if (suspects > 0) n = Math.min(n, Math.ceil(suspects / 2));
      const outcome = await this.sendChunk(batch.slice(done, done + n), signal);
      if (outcome === "too-large") {
        if (n === 1) return { kind: "permanent", reason: "HTTP 413 Payload Too Large for a single record", accepted: done, rejected: 1 };
        this.learnedMaxRecords = Math.max(1, Math.floor(n / 2));
        continue;
      }
      if (outcome.kind === "refused") {
        if (n === 1) return { kind: "permanent", reason: outcome.reason, accepted: done, rejected: 1 };
        suspects = n;
        continue;
      }
      if (outcome.kind !== "ok") return n === batch.length ? outcome : withOffset(outcome, done, n);
      done += n;
      // The first half went through: the refused record is in the other half (or, if the receiver
      // only refused the combination, nowhere: suspects reaches 0 and sending goes on as usual).
      if (suspects > 0) suspects -= n;
    }
    return { kind: "ok" };
  }

  private async sendChunk(chunk: SinkRecord[], signal: AbortSignal): Promise<SinkOutcome | "too-large" | { kind: "refused"; reason: string }> {
    let auth: string | undefined;
    try {
      auth = this.basicAuth ?? (await this.bearer());
    } catch (err) {
      // The token may appear a moment later (projected volumes); retrying is right.
      return { kind: "transient", reason: `token file ${this.tokenFile}: ${errText(err)}` };
    }
    let body = encodeBody(chunk, this.format);
    if (this.gzip) body = await gzip(body);
    const first = chunk[0]!.seq.toString();
    const last = chunk[chunk.length - 1]!.seq.toString();
    const headers: Record<string, string> = {
      "Content-Type": this.format === "array" ? "application/json" : "application/x-ndjson",
      ...this.extraHeaders,
      "Content-Length": String(body.length),
      "Idempotency-Key": `${first}-${last}`,
      "X-Watch-Auditor-First-Seq": first,
      "X-Watch-Auditor-Last-Seq": last,
      "X-Watch-Auditor-Seq-Ranges": seqRanges(chunk),
    };
    if (this.gzip) headers["Content-Encoding"] = "gzip";
    if (auth) headers.Authorization = auth;

    let res: { status: number; statusText: string; retryAfter: string | undefined; body: Buffer };
    try {
      res = await this.post(body, headers, signal);
    } catch (err) {
      return { kind: "transient", reason: errText(err) };
    }
    const { status } = res;
    if (status >= 200 && status < 300) return { kind: "ok" };
    const reason = `HTTP ${status}${res.statusText ? " " + res.statusText : ""}${describeBody(res.body)}`;
    if (status === 413) return "too-large";
    if (status === 400 || status === 422) return { kind: "refused", reason };
    if (status === 408 || status === 429 || status >= 500) {
      const retryAfterMs = parseRetryAfter(res.retryAfter);
      return retryAfterMs === undefined ? { kind: "transient", reason } : { kind: "transient", reason, retryAfterMs };
    }
    if (status >= 300 && status < 400) return { kind: "permanent", reason: `${reason} (redirects are not followed; point the sink at the final URL)` };
    return { kind: "permanent", reason };
  }

  private post(
    body: Buffer,
    headers: Record<string, string>,
    outer: AbortSignal,
  ): Promise<{ status: number; statusText: string; retryAfter: string | undefined; body: Buffer }> {
    // Not AbortSignal.any([outer, AbortSignal.timeout()]): on Node 20 the composite signal can be
    // garbage-collected while the request waits, and a hung request then never times out.
    const controller = new AbortController();
    const signal = controller.signal;
    const timer = setTimeout(() => controller.abort(), this.timeoutMs);
    const onOuterAbort = (): void => controller.abort();
    outer.addEventListener("abort", onOuterAbort, { once: true });
    const cleanup = (): void => {
      clearTimeout(timer);
      outer.removeEventListener("abort", onOuterAbort);
    };
    if (outer.aborted) controller.abort();
    return new Promise<{ status: number; statusText: string; retryAfter: string | undefined; body: Buffer }>((resolve, reject) => {
      if (signal.aborted) return reject(abortReason(outer, this.timeoutMs));
      const req = this.request(this.target, { method: "POST", headers, agent: this.agent, signal }, (res) => {
        const parts: Buffer[] = [];
        let size = 0;
        res.on("data", (d: Buffer) => {
          if (size >= MAX_RESPONSE_BYTES) return;
          parts.push(d);
          size += d.length;
        });
        res.on("end", () => {
          const retryAfter = res.headers["retry-after"];
          resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? "", retryAfter, body: Buffer.concat(parts) });
        });
        res.on("error", (err) => reject(signal.aborted ? abortReason(outer, this.timeoutMs) : err));
      });
      req.on("error", (err) => reject(signal.aborted ? abortReason(outer, this.timeoutMs) : err));
      req.end(body);
    }).finally(cleanup);
  }

  /** Reads the token file again only when it changed (Kubernetes swaps projected tokens in place). */
  private async bearer(): Promise<string | undefined> {
    if (!this.tokenFile) return undefined;
    const st = await stat(this.tokenFile);
    if (st.size > MAX_TOKEN_BYTES) throw new Error(`file is ${st.size} bytes, more than a token (${MAX_TOKEN_BYTES})`);
    const key = `${st.ino}:${st.size}:${st.mtimeMs}`;
    if (this.token?.key !== key) {
      const value = (await readFile(this.tokenFile, "utf8")).trim();
      if (!value) throw new Error("file is empty");
      if (/[\r\n\0]/.test(value)) throw new Error("file holds more than one line");
      this.token = { key, value };
    }
    return `Bearer ${this.token.value}`;
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }
}

export function encodeBody(records: SinkRecord[], format: "ndjson" | "array"): Buffer {
  if (format === "ndjson") {
    const parts: Buffer[] = [];
    for (const r of records) parts.push(r.data, NEWLINE);
    return Buffer.concat(parts);
  }
  const parts: Buffer[] = [OPEN];
  records.forEach((r, i) => {
    if (i > 0) parts.push(COMMA);
    parts.push(r.data);
  });
  parts.push(CLOSE);
  return Buffer.concat(parts);
}

const NEWLINE = Buffer.from("\n");
const OPEN = Buffer.from("[");
const COMMA = Buffer.from(",");
const CLOSE = Buffer.from("]");

/** Longest X-Watch-Auditor-Seq-Ranges value we send; servers commonly limit a header to 8 KiB. */
const MAX_RANGES_CHARS = 4000;

/**
 * The sequence numbers of a batch as ranges, "41-43,45,47-50": consecutive except where the
 * forwarder skipped records, so this stays short and lets a receiver map every record of the
 * body to its sequence number.
 */
export function seqRanges(records: SinkRecord[], from = 0, to = records.length): string {
  const out: string[] = [];
  let i = from;
  while (i < to) {
    let j = i;
    while (j + 1 < to && records[j + 1]!.seq === records[j]!.seq + 1n) j++;
    out.push(i === j ? `${records[i]!.seq}` : `${records[i]!.seq}-${records[j]!.seq}`);
    i = j + 1;
  }
  return out.join(",");
}

/** How many records from `from` on fit in one request without the ranges header growing past MAX_RANGES_CHARS. */
function recordsWithinRangeLimit(records: SinkRecord[], from: number): number {
  let chars = 0;
  let i = from;
  while (i < records.length) {
    let j = i;
    while (j + 1 < records.length && records[j + 1]!.seq === records[j]!.seq + 1n) j++;
    chars += `${records[i]!.seq}-${records[j]!.seq},`.length;
    if (chars > MAX_RANGES_CHARS) return Math.max(1, i - from);
    i = j + 1;
  }
  return records.length - from;
}

/** Retry-After is either delta-seconds or an HTTP date. */
export function parseRetryAfter(v: string | undefined, now = Date.now()): number | undefined {
  if (!v) return undefined;
  const t = v.trim();
  if (/^\d+$/.test(t)) return Math.min(Number(t), 86_400) * 1000;
  const date = Date.parse(t);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.min(date - now, 86_400_000));
}

function describeBody(body: Buffer): string {
  if (body.length === 0) return "";
  // Control characters would garble the dead-letter file and log lines.
  // eslint-disable-next-line no-control-regex
  const text = body.subarray(0, REASON_BYTES).toString("utf8").replace(/[\u0000-\u001f\u007f]+/g, " ").trim();
  return text ? `: ${text}${body.length > REASON_BYTES ? "…" : ""}` : "";
}

/** Maps a chunk's outcome to the whole batch: records before the chunk were accepted, records after it untouched. */
function withOffset(outcome: Exclude<SinkOutcome, { kind: "ok" }>, done: number, chunkLength: number): SinkOutcome {
  if (outcome.kind === "permanent") {
    const accepted = outcome.accepted ?? 0;
    return { ...outcome, accepted: done + accepted, rejected: outcome.rejected ?? chunkLength - accepted };
  }
  return done === 0 ? outcome : { ...outcome, accepted: done + (outcome.accepted ?? 0) };
}

function abortReason(outer: AbortSignal, timeoutMs: number): Error {
  return outer.aborted ? new Error("send aborted (exporter shutting down)") : new Error(`no answer within ${timeoutMs}ms (timeout)`);
}

function errText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e?.code && e.message && !e.message.includes(e.code)) return `${e.code}: ${e.message}`;
  return e?.message ?? String(err);
}
