// Throwaway PKI (openssl CLI) and a loopback HTTPS "API server" whose answers each test scripts.
import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface Pki {
  dir: string;
  caFile: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCertFile: string;
  clientKeyFile: string;
  clientCert: string;
  clientKey: string;
  /** A second, unrelated CA (for "wrong CA" tests). */
  otherCaFile: string;
}

export async function makePki(dir: string, serverSan = "IP:127.0.0.1,DNS:localhost"): Promise<Pki> {
  const p = (f: string) => join(dir, f);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  const sign = async (name: string, subj: string, ext: string) => {
    await run("openssl", ["req", ...ec, "-keyout", p(`${name}.key`), "-out", p(`${name}.csr`), "-subj", subj]);
    await writeFile(p(`${name}.ext`), ext);
    await run("openssl", ["x509", "-req", "-in", p(`${name}.csr`), "-CA", p("ca.crt"), "-CAkey", p("ca.key"), "-CAcreateserial", "-out", p(`${name}.crt`), "-days", "2", "-extfile", p(`${name}.ext`)]);
  };
  await run("openssl", ["req", "-x509", ...ec, "-keyout", p("ca.key"), "-out", p("ca.crt"), "-days", "2", "-subj", "/CN=kube-test-ca"]);
  await run("openssl", ["req", "-x509", ...ec, "-keyout", p("other-ca.key"), "-out", p("other-ca.crt"), "-days", "2", "-subj", "/CN=other-ca"]);
  await sign("server", "/CN=kube-apiserver", `subjectAltName=${serverSan}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`);
  await sign("client", "/CN=alice/O=system:masters", "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n");
  const [ca, serverCert, serverKey, clientCert, clientKey] = await Promise.all(["ca.crt", "server.crt", "server.key", "client.crt", "client.key"].map((f) => readFile(p(f), "utf8")));
  return { dir, caFile: p("ca.crt"), ca: ca!, serverCert: serverCert!, serverKey: serverKey!, clientCertFile: p("client.crt"), clientKeyFile: p("client.key"), clientCert: clientCert!, clientKey: clientKey!, otherCaFile: p("other-ca.crt") };
}

export interface Seen {
  method: string;
  url: string;
  authorization?: string;
  contentType?: string;
  clientCN?: string;
  body: string;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

export interface ScriptedServer {
  url: string;
  port: number;
  seen: Seen[];
  handler: Handler;
  close(): Promise<void>;
}

export const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
};

/** HTTPS when pki is given (client certs requested but optional), plain HTTP otherwise. */
export async function startScriptedServer(pki?: Pki, opts: { requireClientCert?: boolean } = {}): Promise<ScriptedServer> {
  const seen: Seen[] = [];
  const state: ScriptedServer = {
    url: "",
    port: 0,
    seen,
    handler: (_req, res) => json(res, 200, { kind: "Status", status: "Success" }),
    close: async () => {},
  };
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const sock = req.socket as TLSSocket;
      const peer = typeof sock.getPeerCertificate === "function" ? sock.getPeerCertificate() : undefined;
      const cn = peer?.subject?.CN;
      seen.push({ method: req.method ?? "", url: req.url ?? "", authorization: req.headers.authorization, contentType: req.headers["content-type"], clientCN: Array.isArray(cn) ? cn[0] : cn, body });
      state.handler(req, res, body);
    });
  };
  const server = pki
    ? createHttpsServer({ cert: pki.serverCert, key: pki.serverKey, ca: pki.ca, requestCert: true, rejectUnauthorized: opts.requireClientCert ?? false }, onRequest)
    : createHttpServer(onRequest);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  state.port = (server.address() as AddressInfo).port;
  state.url = `${pki ? "https" : "http"}://127.0.0.1:${state.port}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return state;
}

export interface KubeconfigParts {
  server: string;
  cluster?: Record<string, unknown>;
  user?: Record<string, unknown>;
  namespace?: string;
  context?: string;
}

/** Writes a one-context kubeconfig as YAML-compatible JSON. */
export async function writeKubeconfig(path: string, parts: KubeconfigParts): Promise<string> {
  const doc = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "c", cluster: { server: parts.server, ...parts.cluster } }],
    users: [{ name: "u", user: parts.user ?? {} }],
    contexts: [{ name: parts.context ?? "ctx", context: { cluster: "c", user: "u", namespace: parts.namespace } }],
    "current-context": parts.context ?? "ctx",
  };
  await writeFile(path, JSON.stringify(doc, null, 2), { mode: 0o600 });
  return path;
}
