/**
 * Turns a kubeconfig (or the in-cluster service-account mount) into the connection
 * settings the client needs. Merging follows kubectl: with several files in $KUBECONFIG
 * the first file to define a cluster/user/context name or current-context wins, and
 * relative paths resolve against the file that contains them. Errors name the file and
 * the field so an operator can fix the config without reading our code.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { delimiter, dirname, isAbsolute, join, resolve } from "node:path";
import type * as Yaml from "yaml";

// Loaded only when a kubeconfig is read: in a pod (in-cluster config) the YAML parser's
// ~2.5 MB RSS would be pure waste against the auditor's 60 MB budget.
const requireLazily = createRequire(import.meta.url);
function parseYaml(text: string): unknown {
  return (requireLazily("yaml") as typeof Yaml).parse(text);
}

export interface ExecConfig {
  apiVersion: string;
  command: string;
  args: string[];
  env: { name: string; value: string }[];
  provideClusterInfo: boolean;
  /** Directory of the kubeconfig that defined it: relative commands resolve against it. */
  baseDir: string;
  /** "kubeconfig <file>: users[name=x].user.exec" — for error messages. */
  where: string;
}

export interface ConnectionConfig {
  /** Base URL of the API server, no trailing slash. */
  server: string;
  ca?: Buffer;
  /** Client certificate and key (PEM) for mTLS. */
  cert?: Buffer;
  key?: Buffer;
  insecureSkipTlsVerify: boolean;
  tlsServerName?: string;
  token?: string;
  tokenFile?: string;
  username?: string;
  password?: string;
  exec?: ExecConfig;
  /** Namespace of the context (or the pod's namespace in-cluster); "default" otherwise. */
  namespace: string;
  /** Where the config came from, for logs and errors ("kubeconfig /x context y", "in-cluster"). */
  source: string;
  inCluster: boolean;
}

export interface InClusterPaths {
  tokenFile: string;
  caFile: string;
  namespaceFile: string;
}

export const DEFAULT_IN_CLUSTER_PATHS: InClusterPaths = {
  tokenFile: "/var/run/secrets/kubernetes.io/serviceaccount/token",
  caFile: "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
  namespaceFile: "/var/run/secrets/kubernetes.io/serviceaccount/namespace",
};

export interface ResolveOptions {
  kubeconfig?: string;
  context?: string;
  inCluster?: boolean;
  /** Defaults to process.env (tests pass their own). */
  env?: NodeJS.ProcessEnv;
  /** Defaults to os.homedir(). */
  home?: string;
  inClusterPaths?: Partial<InClusterPaths>;
}

/** Thrown for unusable configuration; the CLI maps it to exit 2. */
export class KubeConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KubeConfigError";
  }
}

const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

/** Applies the precedence: --kubeconfig > --in-cluster > $KUBECONFIG > in-cluster env > ~/.kube/config. */
export function resolveConnection(opts: ResolveOptions = {}): ConnectionConfig {
  const env = opts.env ?? process.env;
  if (opts.kubeconfig) return fromKubeconfigFiles([opts.kubeconfig], opts.context, true);
  if (opts.inCluster) return fromInCluster(env, { ...DEFAULT_IN_CLUSTER_PATHS, ...opts.inClusterPaths });
  const list = (env.KUBECONFIG ?? "").split(delimiter).filter((p) => p !== "");
  if (list.length > 0) {
    // kubectl ignores listed files that do not exist, but not an entirely missing set.
    const present = list.filter((p) => existsSync(p));
    if (present.length === 0) throw new KubeConfigError(`$KUBECONFIG: none of the files exist: ${list.join(", ")}`);
    return fromKubeconfigFiles(present, opts.context, false);
  }
  if (env.KUBERNETES_SERVICE_HOST) return fromInCluster(env, { ...DEFAULT_IN_CLUSTER_PATHS, ...opts.inClusterPaths });
  const fallback = join(opts.home ?? homedir(), ".kube", "config");
  if (!existsSync(fallback)) {
    throw new KubeConfigError(`no Kubernetes configuration: pass --kubeconfig or --in-cluster, set $KUBECONFIG, or create ${fallback}`);
  }
  return fromKubeconfigFiles([fallback], opts.context, false);
}

export function fromInCluster(env: NodeJS.ProcessEnv, paths: InClusterPaths): ConnectionConfig {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) throw new KubeConfigError("in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set (not running in a pod?)");
  if (!/^\d+$/.test(port)) throw new KubeConfigError(`in-cluster: KUBERNETES_SERVICE_PORT ${JSON.stringify(port)} is not a port number`);
  const hostPart = host.includes(":") ? `[${host}]` : host;
  const ca = readRequired(paths.caFile, "in-cluster: CA certificate");
  if (!existsSync(paths.tokenFile)) throw new KubeConfigError(`in-cluster: service account token ${paths.tokenFile} does not exist`);
  let namespace = "default";
  if (existsSync(paths.namespaceFile)) namespace = readFileSync(paths.namespaceFile, "utf8").trim() || "default";
  return {
    server: `https://${hostPart}:${port}`,
    ca,
    insecureSkipTlsVerify: false,
    tokenFile: paths.tokenFile,
    namespace,
    source: "in-cluster",
    inCluster: true,
  };
}

interface Named {
  name: string;
  value: Record<string, unknown>;
  file: string;
  index: number;
}

interface Merged {
  clusters: Map<string, Named>;
  users: Map<string, Named>;
  contexts: Map<string, Named>;
  currentContext?: { name: string; file: string };
}

function readRequired(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new KubeConfigError(`${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

function parseFile(file: string): Record<string, unknown> {
  const raw = readRequired(file, "kubeconfig");
  if (raw.length > MAX_CONFIG_BYTES) throw new KubeConfigError(`kubeconfig ${file}: larger than ${MAX_CONFIG_BYTES} bytes`);
  let doc: unknown;
  try {
    doc = parseYaml(raw.toString("utf8"));
  } catch (err) {
    const line = (err as { linePos?: { line: number }[] }).linePos?.[0]?.line;
    throw new KubeConfigError(`kubeconfig ${file}${line ? `:${line}` : ""}: not valid YAML: ${(err as Error).message.split("\n")[0]}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== "object" || Array.isArray(doc)) throw new KubeConfigError(`kubeconfig ${file}: expected a mapping at the top level`);
  return doc as Record<string, unknown>;
}

function collect(into: Map<string, Named>, doc: Record<string, unknown>, file: string, listKey: string, itemKey: string): void {
  const list = doc[listKey];
  if (list === undefined || list === null) return;
  if (!Array.isArray(list)) throw new KubeConfigError(`kubeconfig ${file}: ${listKey} must be a list`);
  list.forEach((entry: unknown, index) => {
    if (typeof entry !== "object" || entry === null) throw new KubeConfigError(`kubeconfig ${file}: ${listKey}[${index}] must be a mapping`);
    const e = entry as Record<string, unknown>;
    if (typeof e.name !== "string" || e.name === "") throw new KubeConfigError(`kubeconfig ${file}: ${listKey}[${index}].name is missing`);
    const value = e[itemKey] ?? {};
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new KubeConfigError(`kubeconfig ${file}: ${listKey}[${index}].${itemKey} must be a mapping`);
    }
    if (!into.has(e.name)) into.set(e.name, { name: e.name, value: value as Record<string, unknown>, file, index });
  });
}

export function mergeKubeconfigs(files: string[]): Merged {
  const merged: Merged = { clusters: new Map(), users: new Map(), contexts: new Map() };
  for (const file of files) {
    const doc = parseFile(file);
    collect(merged.clusters, doc, file, "clusters", "cluster");
    collect(merged.users, doc, file, "users", "user");
    collect(merged.contexts, doc, file, "contexts", "context");
    const cc = doc["current-context"];
    if (merged.currentContext === undefined && typeof cc === "string" && cc !== "") merged.currentContext = { name: cc, file };
  }
  return merged;
}

export function fromKubeconfigFiles(files: string[], contextName: string | undefined, explicit: boolean): ConnectionConfig {
  const label = `kubeconfig ${files.map((f) => resolve(f)).join(delimiter)}`;
  if (explicit && !existsSync(files[0]!)) throw new KubeConfigError(`kubeconfig ${files[0]}: file does not exist`);
  const merged = mergeKubeconfigs(files);
  const name = contextName ?? merged.currentContext?.name;
  if (!name) throw new KubeConfigError(`${label}: no current-context set and no --context given`);
  const ctx = merged.contexts.get(name);
  if (!ctx) throw new KubeConfigError(`${label}: context ${JSON.stringify(name)} not found`);
  const where = (n: Named, kind: string) => `kubeconfig ${n.file}: ${kind}[name=${n.name}]`;
  const ctxWhere = where(ctx, "contexts");
  const clusterName = ctx.value.cluster;
  if (typeof clusterName !== "string" || clusterName === "") throw new KubeConfigError(`${ctxWhere}.context.cluster is missing`);
  const cluster = merged.clusters.get(clusterName);
  if (!cluster) throw new KubeConfigError(`${ctxWhere}.context.cluster: cluster ${JSON.stringify(clusterName)} not found`);
  const userName = ctx.value.user;
  let user: Named | undefined;
  if (userName !== undefined && userName !== "") {
    if (typeof userName !== "string") throw new KubeConfigError(`${ctxWhere}.context.user must be a string`);
    user = merged.users.get(userName);
    if (!user) throw new KubeConfigError(`${ctxWhere}.context.user: user ${JSON.stringify(userName)} not found`);
  }
  const namespace = ctx.value.namespace;
  if (namespace !== undefined && typeof namespace !== "string") throw new KubeConfigError(`${ctxWhere}.context.namespace must be a string`);

  const conn: ConnectionConfig = {
    ...clusterSettings(cluster, where(cluster, "clusters")),
    namespace: namespace || "default",
    source: `${label} context ${name}`,
    inCluster: false,
  };
  if (user) Object.assign(conn, userSettings(user, where(user, "users")));
  return conn;
}

function str(obj: Record<string, unknown>, key: string, where: string): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v !== "string") throw new KubeConfigError(`${where}.${key} must be a string`);
  return v;
}

function pem(obj: Record<string, unknown>, fileKey: string, dataKey: string, where: string, baseDir: string): Buffer | undefined {
  const data = str(obj, dataKey, where);
  if (data !== undefined) {
    const decoded = Buffer.from(data, "base64");
    if (!decoded.toString("latin1").includes("-----BEGIN")) throw new KubeConfigError(`${where}.${dataKey}: not base64-encoded PEM data`);
    return decoded;
  }
  const file = str(obj, fileKey, where);
  if (file === undefined) return undefined;
  const path = isAbsolute(file) ? file : join(baseDir, file);
  let content: Buffer;
  try {
    content = readFileSync(path);
  } catch (err) {
    throw new KubeConfigError(`${where}.${fileKey}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (!content.toString("latin1").includes("-----BEGIN")) throw new KubeConfigError(`${where}.${fileKey}: ${path} is not a PEM file`);
  return content;
}

function clusterSettings(n: Named, where: string): Omit<ConnectionConfig, "namespace" | "source" | "inCluster"> {
  const c = n.value;
  const w = `${where}.cluster`;
  const server = str(c, "server", w);
  if (!server) throw new KubeConfigError(`${w}.server is missing`);
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new KubeConfigError(`${w}.server: ${JSON.stringify(server)} is not a URL`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new KubeConfigError(`${w}.server: scheme ${url.protocol} is not supported (use https://)`);
  if (str(c, "proxy-url", w)) throw new KubeConfigError(`${w}.proxy-url is not supported by watch-auditor; remove it or reach the API server directly`);
  const insecure = c["insecure-skip-tls-verify"];
  if (insecure !== undefined && typeof insecure !== "boolean") throw new KubeConfigError(`${w}.insecure-skip-tls-verify must be true or false`);
  const baseDir = dirname(resolve(n.file));
  return {
    server: server.replace(/\/+$/, ""),
    ca: pem(c, "certificate-authority", "certificate-authority-data", w, baseDir),
    insecureSkipTlsVerify: insecure === true,
    tlsServerName: str(c, "tls-server-name", w),
  };
}

function userSettings(n: Named, where: string): Partial<ConnectionConfig> {
  const u = n.value;
  const w = `${where}.user`;
  const baseDir = dirname(resolve(n.file));
  if (u["auth-provider"] !== undefined) throw new KubeConfigError(`${w}.auth-provider is not supported (legacy); use an exec credential plugin instead`);
  const out: Partial<ConnectionConfig> = {
    cert: pem(u, "client-certificate", "client-certificate-data", w, baseDir),
    key: pem(u, "client-key", "client-key-data", w, baseDir),
  };
  if ((out.cert === undefined) !== (out.key === undefined)) throw new KubeConfigError(`${w}: client-certificate and client-key must be given together`);
  out.token = str(u, "token", w);
  const tokenFile = str(u, "tokenFile", w);
  if (tokenFile !== undefined) {
    out.tokenFile = isAbsolute(tokenFile) ? tokenFile : join(baseDir, tokenFile);
    if (!existsSync(out.tokenFile)) throw new KubeConfigError(`${w}.tokenFile: ${out.tokenFile} does not exist`);
  }
  out.username = str(u, "username", w);
  out.password = str(u, "password", w);
  if (u.exec !== undefined && u.exec !== null) out.exec = execSettings(u.exec, `${w}.exec`, baseDir);
  return out;
}

const EXEC_API_VERSIONS = new Set(["client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"]);

function execSettings(raw: unknown, w: string, baseDir: string): ExecConfig {
  if (typeof raw !== "object" || Array.isArray(raw)) throw new KubeConfigError(`${w} must be a mapping`);
  const e = raw as Record<string, unknown>;
  const apiVersion = str(e, "apiVersion", w);
  if (!apiVersion || !EXEC_API_VERSIONS.has(apiVersion)) {
    throw new KubeConfigError(`${w}.apiVersion: ${JSON.stringify(apiVersion ?? "")} is not supported (use client.authentication.k8s.io/v1 or v1beta1)`);
  }
  const command = str(e, "command", w);
  if (!command) throw new KubeConfigError(`${w}.command is missing`);
  const args = e.args ?? [];
  if (!Array.isArray(args) || args.some((a) => typeof a !== "string")) throw new KubeConfigError(`${w}.args must be a list of strings`);
  const envList = e.env ?? [];
  if (!Array.isArray(envList)) throw new KubeConfigError(`${w}.env must be a list`);
  const env = envList.map((item: unknown, i) => {
    const it = item as { name?: unknown; value?: unknown } | null;
    if (!it || typeof it.name !== "string" || typeof it.value !== "string") throw new KubeConfigError(`${w}.env[${i}] needs string name and value`);
    return { name: it.name, value: it.value };
  });
  if (e.interactiveMode === "Always") throw new KubeConfigError(`${w}.interactiveMode: Always is not possible for a non-interactive client`);
  return { apiVersion, command, args: args as string[], env, provideClusterInfo: e.provideClusterInfo === true, baseDir, where: w };
}
