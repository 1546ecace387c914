/**
 * Where the Authorization header comes from. Sources that can change under us (a rotated
 * token file, an exec plugin's short-lived token) are "refreshable": the client calls
 * invalidate() after a 401 and retries once with fresh credentials.
 */
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { isAbsolute, join } from "node:path";
import type { Logger } from "../logger.js";
import { KubeApiError } from "./errors.js";
import type { ConnectionConfig, ExecConfig } from "./kubeconfig.js";

export interface CredentialSource {
  /** The Authorization header value, or undefined for none (client certs / anonymous). */
  authorization(): Promise<string | undefined>;
  /** Drop cached credentials; the next authorization() fetches fresh ones. */
  invalidate(): void;
  readonly refreshable: boolean;
}

export class StaticCredentials implements CredentialSource {
  readonly refreshable = false;
  constructor(private readonly header: string | undefined) {}
  async authorization(): Promise<string | undefined> {
    return this.header;
  }
  invalidate(): void {}
}

/**
 * A token read from a file and re-read every refreshMs (client-go re-reads projected
 * service-account tokens about once a minute) or after a 401. If a re-read fails the last
 * good token is kept: the kubelet replaces the file atomically, so a failure is transient.
 */
const MAX_TOKEN_BYTES = 64 * 1024;

export class FileTokenCredentials implements CredentialSource {
  readonly refreshable = true;
  private token?: string;
  private readAt = 0;
  constructor(
    private readonly path: string,
    private readonly refreshMs = 60_000,
    private readonly logger?: Logger,
  ) {}

  async authorization(): Promise<string | undefined> {
    if (this.token === undefined || Date.now() - this.readAt >= this.refreshMs) {
      try {
        const raw = await readFile(this.path, "utf8");
        const token = raw.trim();
        if (token === "") throw new Error("file is empty");
        if (token.length > MAX_TOKEN_BYTES) throw new Error(`larger than ${MAX_TOKEN_BYTES} bytes: not a token`);
        if (this.token !== undefined && token !== this.token) this.logger?.debug({ tokenFile: this.path }, "service account token rotated");
        this.token = token;
        this.readAt = Date.now();
      } catch (err) {
        if (this.token === undefined) throw new KubeApiError(`token file ${this.path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { code: "ETOKEN", cause: err });
        this.logger?.warn({ tokenFile: this.path, err: (err as Error).message }, "re-reading the token file failed; keeping the previous token");
        this.readAt = Date.now();
      }
    }
    return `Bearer ${this.token}`;
  }

  invalidate(): void {
    this.readAt = 0;
  }
}

interface ExecStatus {
  token?: string;
  expirationTimestamp?: string;
  clientCertificateData?: string;
  clientKeyData?: string;
}

const EXEC_TIMEOUT_MS = 60_000;
const EXEC_MAX_OUTPUT = 1024 * 1024;

/**
 * Runs a client.authentication.k8s.io exec plugin and caches its token until
 * expirationTimestamp (or, without one, until the server answers 401).
 */
export class ExecCredentials implements CredentialSource {
  readonly refreshable = true;
  private cached?: { header: string; expiresAt: number };
  private pending?: Promise<string>;

  constructor(
    private readonly exec: ExecConfig,
    private readonly cluster: { server: string; ca?: Buffer; insecureSkipTlsVerify: boolean; tlsServerName?: string },
    private readonly logger?: Logger,
  ) {}

  async authorization(): Promise<string | undefined> {
    if (this.cached && Date.now() < this.cached.expiresAt) return this.cached.header;
    this.pending ??= this.run().finally(() => (this.pending = undefined));
    return this.pending;
  }

  invalidate(): void {
    this.cached = undefined;
  }

  private async run(): Promise<string> {
    const status = await runExecPlugin(this.exec, this.cluster);
    if (!status.token) {
      const why = status.clientCertificateData ? "returned a client certificate, which watch-auditor does not support from exec plugins" : "returned no status.token";
      throw new KubeApiError(`${this.exec.where}: ${this.exec.command} ${why}`, { code: "EEXEC" });
    }
    let expiresAt = Number.POSITIVE_INFINITY;
    if (status.expirationTimestamp) {
      expiresAt = Date.parse(status.expirationTimestamp);
      if (Number.isNaN(expiresAt)) throw new KubeApiError(`${this.exec.where}: ${this.exec.command} returned an invalid expirationTimestamp ${JSON.stringify(status.expirationTimestamp)}`, { code: "EEXEC" });
    }
    const header = `Bearer ${status.token}`;
    this.cached = { header, expiresAt };
    this.logger?.debug({ command: this.exec.command, expiresAt: Number.isFinite(expiresAt) ? new Date(expiresAt).toISOString() : "never" }, "exec credential plugin returned a token");
    return header;
  }
}

function runExecPlugin(exec: ExecConfig, cluster: { server: string; ca?: Buffer; insecureSkipTlsVerify: boolean; tlsServerName?: string }): Promise<ExecStatus> {
  const command = exec.command.includes("/") && !isAbsolute(exec.command) ? join(exec.baseDir, exec.command) : exec.command;
  const spec: Record<string, unknown> = { interactive: false };
  if (exec.provideClusterInfo) {
    spec.cluster = {
      server: cluster.server,
      "certificate-authority-data": cluster.ca?.toString("base64"),
      "insecure-skip-tls-verify": cluster.insecureSkipTlsVerify,
      "tls-server-name": cluster.tlsServerName,
    };
  }
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const { name, value } of exec.env) env[name] = value;
  env.KUBERNETES_EXEC_INFO = JSON.stringify({ apiVersion: exec.apiVersion, kind: "ExecCredential", spec });
  const fail = (msg: string, cause?: unknown) => new KubeApiError(`${exec.where}: ${command}: ${msg}`, { code: "EEXEC", cause });

  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, exec.args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let settled = false;
    const settle = (err: Error | undefined, value?: ExecStatus) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolvePromise(value!);
    };
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      settle(fail(`timed out after ${EXEC_TIMEOUT_MS} ms`));
    }, EXEC_TIMEOUT_MS);
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      if (stdout.length > EXEC_MAX_OUTPUT) {
        child.kill("SIGKILL");
        settle(fail(`output larger than ${EXEC_MAX_OUTPUT} bytes`));
      }
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr = (stderr + d).slice(-2048)));
    child.on("error", (err) => settle(fail(`cannot run: ${(err as NodeJS.ErrnoException).code ?? err.message}`, err)));
    child.on("close", (code, signal) => {
      if (code !== 0) return settle(fail(`exited with ${code ?? signal}${stderr.trim() ? `: ${stderr.trim().slice(-512)}` : ""}`));
      let parsed: unknown;
      try {
        parsed = JSON.parse(stdout);
      } catch {
        return settle(fail("did not print an ExecCredential JSON object"));
      }
      const cred = parsed as { apiVersion?: unknown; kind?: unknown; status?: unknown };
      if (cred.kind !== "ExecCredential") return settle(fail(`printed kind ${JSON.stringify(cred.kind)}, want ExecCredential`));
      if (cred.apiVersion !== exec.apiVersion) return settle(fail(`printed apiVersion ${JSON.stringify(cred.apiVersion)}, want ${exec.apiVersion}`));
      if (typeof cred.status !== "object" || cred.status === null) return settle(fail("printed an ExecCredential without status"));
      settle(undefined, cred.status as ExecStatus);
    });
  });
}

export function credentialsFor(conn: ConnectionConfig, opts: { tokenRefreshMs?: number; logger?: Logger }): CredentialSource {
  if (conn.exec) return new ExecCredentials(conn.exec, conn, opts.logger);
  if (conn.tokenFile) return new FileTokenCredentials(conn.tokenFile, opts.tokenRefreshMs, opts.logger);
  if (conn.token) return new StaticCredentials(`Bearer ${conn.token}`);
  if (conn.username !== undefined && conn.password !== undefined) {
    return new StaticCredentials(`Basic ${Buffer.from(`${conn.username}:${conn.password}`).toString("base64")}`);
  }
  return new StaticCredentials(undefined);
}
