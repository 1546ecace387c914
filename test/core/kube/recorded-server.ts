// Replays HTTP exchanges recorded from a real kube-apiserver v1.25 (../shared/kube/recorded-v1.25,
// see its README) over loopback HTTP, so the product's client decodes the server's own bytes
// rather than what our fake API server believes they are.
//
// The server does not route: a test queues the exchanges it wants answered, in order, and each
// incoming request takes the next one. Every request is kept in `seen` (method, path, query,
// headers, body, which exchange answered it) so tests can compare it with the recorded request.
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { loadExchanges, RECORDED_DIR } from "../../support/conformance/recording.js";

/** Where the recording lives, relative to the repository root (CI clones ../shared beside the repo). */
export const RECORDING_REL = "../shared/kube/recorded-v1.25";
export { RECORDED_DIR as RECORDING_DIR } from "../../support/conformance/recording.js";

export interface RecordedHeaders {
  "content-type": string;
  "audit-id"?: string;
  "retry-after"?: string;
  "x-kubernetes-pf-flowschema-uid"?: string;
  "x-kubernetes-pf-prioritylevel-uid"?: string;
  /** Always an array: one entry per Warning: header line. */
  warning?: string[];
}

export interface WatchFrame {
  type: string;
  object: unknown;
}

export interface Exchange {
  id: string;
  description: string;
  as: string;
  request: { method: string; path: string; query: Record<string, string>; headers: Record<string, string>; body: unknown };
  response: {
    status: number;
    headers: RecordedHeaders;
    /** Parsed JSON, or the text as sent (text/plain, YAML). Absent for 200 watch streams. */
    body?: unknown;
    /** 200 watch streams: the frames in order. */
    events?: WatchFrame[];
    eventOffsetsMs?: number[];
    endedBy?: "server-timeout" | "server-close" | "client-close" | "server-response";
    elapsedMs?: number;
    durationMs?: number;
  };
  during?: string[];
  notes?: Record<string, unknown>;
}

export interface Recording {
  dir: string;
  /** In file order. */
  exchanges: Exchange[];
  /** The exchange with this id; throws naming the id when the recording has none. */
  get(id: string): Exchange;
}

/** A 200 watch stream (frames recorded); every other exchange has a body. */
export function isWatchStream(ex: Exchange): boolean {
  return Array.isArray(ex.response.events);
}

let cached: Recording | undefined;

/** Loads exchanges.jsonl once (the one loader: conformance/recording.ts). A missing recording is an error naming the folder, never a skip. */
export function loadRecording(): Recording {
  if (cached) return cached;
  const exchanges = loadExchanges() as unknown as Exchange[];
  const byId = new Map(exchanges.map((ex) => [ex.id, ex]));
  cached = {
    dir: RECORDED_DIR,
    exchanges,
    get(id: string): Exchange {
      const ex = byId.get(id);
      if (!ex) throw new Error(`${RECORDING_REL}/exchanges.jsonl has no exchange with id ${JSON.stringify(id)}`);
      return ex;
    },
  };
  return cached;
}

/** The same recorded stream, but the server keeps it open after the frames (until the client goes). */
export function heldOpen(ex: Exchange): Exchange {
  if (!isWatchStream(ex)) throw new Error(`heldOpen(${ex.id}): not a watch stream`);
  return { ...ex, response: { ...ex.response, endedBy: "client-close" } };
}

export interface SeenRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  body: string;
  /** Id of the exchange that answered; undefined for a miss. */
  exchangeId?: string;
  /** Date.now() when the request arrived. */
  at: number;
}

export interface RecordedServer {
  url: string;
  /** Every request, in arrival order. */
  seen: SeenRequest[];
  /** Requests that arrived with nothing queued and no fallback (answered 500 text/plain). */
  misses: SeenRequest[];
  /** Answers used when the queue is empty. */
  fallback?: (req: SeenRequest) => Exchange | undefined;
  /** Split watch frames into writes of at most this many bytes (default: one write per frame). */
  chunkBytes?: number;
  enqueue(...exchanges: Exchange[]): void;
  /** Exchanges queued but not yet served. */
  readonly pending: number;
  /** Watch streams currently held open (endedBy client-close). */
  readonly openStreams: number;
  /** Empties the queue, `seen` and `misses`; clears fallback and chunkBytes. */
  reset(): void;
  close(): Promise<void>;
}

/** Headers as recorded (warning as one header line per entry); no Content-Length on streams. */
function recordedHeaders(ex: Exchange): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(ex.response.headers)) if (v !== undefined) out[k] = v as string | string[];
  return out;
}

/** The body re-serialised from the recording: JSON → JSON.stringify, text as-is, none → empty. */
export function recordedBodyBytes(ex: Exchange): Buffer {
  const body = ex.response.body;
  if (body === undefined || body === null) return Buffer.alloc(0);
  return Buffer.from(typeof body === "string" ? body : JSON.stringify(body), "utf8");
}

export async function startRecordedServer(): Promise<RecordedServer> {
  const queue: Exchange[] = [];
  const streams = new Set<ServerResponse>();

  const answer = (ex: Exchange, res: ServerResponse) => {
    const headers = recordedHeaders(ex);
    const frames = ex.response.events;
    if (!frames) {
      const bytes = recordedBodyBytes(ex);
      res.writeHead(ex.response.status, { ...headers, "content-length": String(bytes.length) });
      res.end(bytes);
      return;
    }
    // A watch: headers now, then each frame as one JSON line (chunked transfer encoding).
    res.writeHead(ex.response.status, headers);
    res.flushHeaders();
    for (const frame of frames) {
      const line = Buffer.from(JSON.stringify(frame) + "\n", "utf8");
      const step = state.chunkBytes && state.chunkBytes > 0 ? state.chunkBytes : line.length;
      for (let i = 0; i < line.length; i += step) res.write(line.subarray(i, i + step));
    }
    if (ex.response.endedBy === "client-close") {
      // Only the response's close means the client went (the request's fires once its body is read).
      streams.add(res);
      res.on("close", () => streams.delete(res));
      return;
    }
    // server-timeout (at timeoutSeconds) and server-close (right after an ERROR frame) both end here.
    res.end();
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://recorded.invalid");
      const seen: SeenRequest = {
        method: req.method ?? "",
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
        at: Date.now(),
      };
      state.seen.push(seen);
      const ex = queue.shift() ?? state.fallback?.(seen);
      if (!ex) {
        state.misses.push(seen);
        const text = `recorded-server: no exchange queued for ${seen.method} ${req.url}\n`;
        res.writeHead(500, { "content-type": "text/plain; charset=utf-8", "content-length": String(Buffer.byteLength(text)) });
        res.end(text);
        return;
      }
      seen.exchangeId = ex.id;
      answer(ex, res);
    });
  });
  await new Promise<void>((resolvePromise) => server.listen(0, "127.0.0.1", resolvePromise));
  const port = (server.address() as AddressInfo).port;

  const state: RecordedServer = {
    url: `http://127.0.0.1:${port}`,
    seen: [],
    misses: [],
    enqueue: (...exchanges) => void queue.push(...exchanges),
    get pending() {
      return queue.length;
    },
    get openStreams() {
      return streams.size;
    },
    reset() {
      queue.length = 0;
      state.seen.length = 0;
      state.misses.length = 0;
      state.fallback = undefined;
      state.chunkBytes = undefined;
    },
    close: () =>
      new Promise<void>((resolvePromise) => {
        for (const res of streams) res.destroy();
        streams.clear();
        server.close(() => resolvePromise());
        server.closeAllConnections();
      }),
  };
  return state;
}
