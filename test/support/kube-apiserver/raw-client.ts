// Minimal raw HTTP helpers for tests that assert API-level behaviour without a Kubernetes client.
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";

export interface RawWatchEvent {
  type: string;
  object: { metadata?: { name?: string; resourceVersion?: string; [k: string]: unknown }; [k: string]: unknown };
}

export interface RawWatch {
  status: number;
  headers: IncomingHttpHeaders;
  /** Events received so far, in order. */
  events: RawWatchEvent[];
  /** Settles when the stream ends: "end" for a clean close, "error" for a reset/aborted stream. */
  ended: Promise<{ how: "end" | "error"; error?: Error; trailing: string }>;
  close(): void;
}

export interface RawOptions {
  token?: string;
  ca?: string;
}

/** Opens a watch (or any streaming GET) and parses newline-delimited JSON events as they arrive. */
export function openRawWatch(base: string, path: string, opts: RawOptions = {}): Promise<RawWatch> {
  const u = new URL(path, base);
  const req = (u.protocol === "https:" ? httpsRequest : httpRequest)(u, {
    method: "GET",
    headers: { Accept: "application/json", ...(opts.token && { Authorization: `Bearer ${opts.token}` }) },
    ...(opts.ca && { ca: opts.ca }),
  });
  return new Promise((resolve, reject) => {
    req.on("error", reject);
    req.on("response", (res: IncomingMessage) => {
      const events: RawWatchEvent[] = [];
      let buf = "";
      const ended = new Promise<{ how: "end" | "error"; error?: Error; trailing: string }>((done) => {
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          buf += chunk;
          let nl: number;
          while ((nl = buf.indexOf("\n")) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (line.trim()) events.push(JSON.parse(line) as RawWatchEvent);
          }
        });
        res.on("end", () => done({ how: "end", trailing: buf }));
        res.on("error", (error) => done({ how: "error", error, trailing: buf }));
        res.on("aborted", () => done({ how: "error", error: new Error("aborted"), trailing: buf }));
        req.on("error", (error) => done({ how: "error", error, trailing: buf }));
      });
      resolve({ status: res.statusCode ?? 0, headers: res.headers, events, ended, close: () => req.destroy() });
    });
    req.end();
  });
}
