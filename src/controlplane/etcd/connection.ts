// Connection options for etcd: endpoint URLs, TLS / mTLS files, deadlines, /metrics over http(s),
// errors as one line. (The etcd3 client is opened in client.ts, loaded only where it is used.)
import { readFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { isIP } from "node:net";
import type { EtcdConnection } from "./types.js";

export const DEFAULT_TIMEOUT_MS = 5000;
/** A response larger than this is refused by the client (grpc-js's own default is 4 MiB). */
export const MAX_RECEIVE_BYTES = 64 << 20;

export interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** An etcd endpoint URL checked and normalised: `scheme://host:port`, no path. */
export function parseEndpoint(raw: string, what = "--etcd-endpoints"): URL {
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    throw new Error(`${what}: "${raw}" is not a URL (expected https://host:2379 or http://host:2379)`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error(`${what}: "${raw}": scheme must be http or https, not ${u.protocol.replace(/:$/, "")}`);
  if (u.pathname !== "/" && u.pathname !== "") throw new Error(`${what}: "${raw}": an endpoint has no path`);
  if (u.port === "") u.port = "2379";
  return u;
}

/** Checks the endpoints and the TLS options of a connection; throws naming the bad one. */
export function checkConnection(conn: EtcdConnection): URL[] {
  if (conn.endpoints.length === 0) throw new Error("--etcd-endpoints: no endpoint given");
  const urls = conn.endpoints.map((e) => parseEndpoint(e));
  const secure = urls.filter((u) => u.protocol === "https:").length;
  if (secure !== 0 && secure !== urls.length) throw new Error("--etcd-endpoints: mixes http and https endpoints; use one scheme for all");
  if ((conn.cert === undefined) !== (conn.key === undefined)) throw new Error(conn.cert === undefined ? "--etcd-key given without --etcd-cert" : "--etcd-cert given without --etcd-key");
  if (secure === 0 && (conn.cacert !== undefined || conn.cert !== undefined)) throw new Error("--etcd-cacert/--etcd-cert/--etcd-key need https:// endpoints");
  if (conn.metricsUrls !== undefined && conn.metricsUrls.length !== conn.endpoints.length)
    throw new Error(`--etcd-metrics-urls: ${conn.metricsUrls.length} URLs for ${conn.endpoints.length} endpoints (give one per endpoint, in the same order)`);
  return urls;
}

function readPem(file: string, flag: string): Buffer {
  let b: Buffer;
  try {
    b = readFileSync(file);
  } catch (err) {
    throw new Error(`${flag} ${file}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`);
  }
  if (b.length > 1 << 20) throw new Error(`${flag} ${file}: larger than 1 MiB, not a PEM file`);
  if (!b.includes("-----BEGIN ")) throw new Error(`${flag} ${file}: not a PEM file (no -----BEGIN line)`);
  return b;
}

/** Reads the PEM files named by the connection (errors name the flag and the file). */
export function readTls(conn: EtcdConnection): TlsMaterial {
  return {
    ...(conn.cacert !== undefined ? { ca: readPem(conn.cacert, "--etcd-cacert") } : {}),
    ...(conn.cert !== undefined ? { cert: readPem(conn.cert, "--etcd-cert") } : {}),
    ...(conn.key !== undefined ? { key: readPem(conn.key, "--etcd-key") } : {}),
  };
}

/** GET over http(s) with the connection's TLS material and a deadline; the body as text (≤ maxBytes). */
export function httpGet(url: string, tls: TlsMaterial, timeoutMs = DEFAULT_TIMEOUT_MS, maxBytes = 32 << 20): Promise<string> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = (u.protocol === "https:" ? httpsRequest : httpRequest)(
      u,
      {
        method: "GET",
        timeout: timeoutMs,
        // SNI carries host names only (RFC 6066): none for an IP address.
        ...(u.protocol === "https:" ? { ca: tls.ca, cert: tls.cert, key: tls.key, servername: isIP(u.hostname.replace(/^\[|\]$/g, "")) ? "" : u.hostname } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size > maxBytes) req.destroy(new Error(`${url}: answer larger than ${maxBytes} bytes`));
          else chunks.push(c);
        });
        res.on("end", () => {
          const body = Buffer.concat(chunks).toString("utf8");
          if (res.statusCode !== 200) reject(new Error(`${url}: HTTP ${res.statusCode}: ${body.slice(0, 200).trim()}`));
          else resolve(body);
        });
        res.on("error", reject);
      },
    );
    const timer = setTimeout(() => req.destroy(new Error(`${url}: no answer within ${timeoutMs} ms`)), timeoutMs);
    req.on("close", () => clearTimeout(timer));
    req.on("timeout", () => req.destroy(new Error(`${url}: no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}

/** A gRPC/etcd3/TLS error as one line, with a hint for the usual TLS mistakes. */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  let msg = err.message
    .replace(/^\d+ ([A-Z_]+): /, "$1: ")
    .replace(/\s*\(\d{4}-\d\d-\d\dT[\d:.]+Z\)/g, "")
    .replace(/\.? ?Resolution note: ?$/, "")
    .replace(/[0-9A-F]{8,}:error:[0-9A-F]+:SSL routines:[^:]*:([^:]+):\S*/g, "TLS: $1")
    .replace(/\s+/g, " ")
    .trim();
  if (/bad certificate|certificate required|alert number 4[26]|alert number 116/.test(msg))
    msg += " (etcd refused the client certificate: give --etcd-cert/--etcd-key signed by etcd's --trusted-ca-file)";
  else if (/self[- ]signed|unable to (get|verify)|UNABLE_TO_VERIFY|certificate verify failed/i.test(msg))
    msg += " (etcd's serving certificate is not trusted: give --etcd-cacert with the CA that signed it)";
  return msg;
}
