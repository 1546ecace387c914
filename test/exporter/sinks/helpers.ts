import http from "node:http";
import https from "node:https";
import { gunzipSync } from "node:zlib";
import type { AddressInfo } from "node:net";
import type { SinkRecord } from "../../../src/exporter/sink.js";

export function records(from: number, n: number, fill = ""): SinkRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    seq: BigInt(from + i),
    data: Buffer.from(JSON.stringify({ n: from + i, msg: `record ${from + i}`, fill })),
  }));
}

export interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  /** Decoded (gunzipped when Content-Encoding says so). */
  body: Buffer;
}

export type Responder = (req: Received, res: http.ServerResponse) => void;

/** A real HTTP(S) server on loopback that records every request and answers via `respond`. */
export class RecordingServer {
  readonly requests: Received[] = [];
  respond: Responder = (_req, res) => res.writeHead(204).end();
  private server!: http.Server;
  url = "";

  static async start(tls?: { key: Buffer; cert: Buffer }): Promise<RecordingServer> {
    const s = new RecordingServer();
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      const parts: Buffer[] = [];
      req.on("data", (d: Buffer) => parts.push(d));
      req.on("end", () => {
        let body = Buffer.concat(parts);
        if (req.headers["content-encoding"] === "gzip") body = gunzipSync(body);
        const r = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body };
        s.requests.push(r);
        s.respond(r, res);
      });
    };
    s.server = tls ? https.createServer(tls, handler) : http.createServer(handler);
    await new Promise<void>((resolve) => s.server.listen(0, "127.0.0.1", resolve));
    const port = (s.server.address() as AddressInfo).port;
    s.url = `${tls ? "https" : "http"}://127.0.0.1:${port}`;
    return s;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export function ndjsonLines(body: Buffer): unknown[] {
  return body
    .toString("utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l));
}
