/**
 * Bearer-token authentication and authorization for the components' HTTP endpoints, the
 * kube-rbac-proxy model:
 *
 *   - KubernetesAuth: the token is checked with a TokenReview (authentication.k8s.io/v1) and the
 *     identity it names is authorized with a SubjectAccessReview (authorization.k8s.io/v1) for one
 *     configured resource attribute (default: get services/proxy on the component's own Service).
 *     Answers are cached briefly (allowed and denied with their own TTLs, bounded size); errors
 *     are never cached.
 *   - TokenFileAuth: outside a cluster, a kube-apiserver style static token file (CSV
 *     `token,user,uid[,"group1,group2"]`, mode 0600 or stricter): every token in it is allowed.
 *
 * HttpAuth.guard() answers 401 (missing or invalid token, with `WWW-Authenticate: Bearer`), 403
 * (authenticated, not authorized) or 503 (the API server could not be asked): never the data, and
 * never a hint beyond the status which check failed.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { Counter, type Registry } from "prom-client";
import { UsageError } from "./errors.js";
import { KubeClient } from "./kube/client.js";
import type { Logger } from "./logger.js";

export type AuthResult = "allowed" | "unauthenticated" | "forbidden" | "error";
export const AUTH_RESULTS: readonly AuthResult[] = ["allowed", "unauthenticated", "forbidden", "error"];

export interface UserInfo {
  username: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

/** Decides one request from its bearer token (undefined: no usable Authorization header). */
export interface TokenAuthorizer {
  /** Resolves "error" (never throws) when the decision could not be made. */
  decide(token: string | undefined): Promise<AuthResult>;
}

// Kept in their own module so that flag parsing (every CLI start) does not load prom-client and the client.
import type { ResourceAttributes } from "./resource-attributes.js";
export { parseResourceAttributes, type ResourceAttributes } from "./resource-attributes.js";

/** A TTL cache bounded in size; the oldest entry goes first when full. */
class TtlCache<V> {
  private readonly map = new Map<string, { value: V; expires: number }>();
  constructor(private readonly maxEntries: number) {}

  get(key: string): V | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    if (e.expires <= Date.now()) {
      this.map.delete(key);
      return undefined;
    }
    return e.value;
  }

  set(key: string, value: V, ttlMs: number): void {
    if (ttlMs <= 0 || this.maxEntries <= 0) return;
    this.map.delete(key);
    while (this.map.size >= this.maxEntries) {
      const oldest = this.map.keys().next().value as string;
      this.map.delete(oldest);
    }
    this.map.set(key, { value, expires: Date.now() + ttlMs });
  }

  get size(): number {
    return this.map.size;
  }
}

const sha256 = (s: string): string => createHash("sha256").update(s).digest("hex");

export interface KubernetesAuthOptions {
  kube: KubeClient;
  attributes: ResourceAttributes;
  /** How long an allowed answer (authenticated token, allowed SAR) is reused (default 30 s). */
  allowedTtlMs?: number;
  /** How long a denied answer (invalid token, denied SAR) is reused (default 10 s). */
  deniedTtlMs?: number;
  /** Entries per cache (tokens; identities), default 1024. */
  maxEntries?: number;
  /** Audiences for the TokenReview (default: none, i.e. the API server's). */
  audiences?: string[];
  logger?: Logger;
  /** Counts cache hits and misses per review kind. */
  onCache?: (review: "tokenreview" | "subjectaccessreview", hit: boolean) => void;
}

type Authn = { ok: true; user: UserInfo } | { ok: false };

/** TokenReview + SubjectAccessReview against the API server, cached. */
export class KubernetesAuth implements TokenAuthorizer {
  private readonly authn: TtlCache<Authn>;
  private readonly authz: TtlCache<boolean>;
  private readonly inflight = new Map<string, Promise<unknown>>();
  private readonly allowedTtlMs: number;
  private readonly deniedTtlMs: number;

  constructor(private readonly opts: KubernetesAuthOptions) {
    const max = opts.maxEntries ?? 1024;
    this.authn = new TtlCache(max);
    this.authz = new TtlCache(max);
    this.allowedTtlMs = opts.allowedTtlMs ?? 30_000;
    this.deniedTtlMs = opts.deniedTtlMs ?? 10_000;
  }

  async decide(token: string | undefined): Promise<AuthResult> {
    if (!token) return "unauthenticated";
    try {
      const authn = await this.authenticate(token);
      if (!authn.ok) return "unauthenticated";
      return (await this.authorize(authn.user)) ? "allowed" : "forbidden";
    } catch (err) {
      this.opts.logger?.warn({ err: err instanceof Error ? err.message : String(err) }, "TokenReview/SubjectAccessReview failed: answering 503");
      return "error";
    }
  }

  /** One request to the API server per key at a time; concurrent callers share it. */
  private once<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const running = this.inflight.get(key) as Promise<T> | undefined;
    if (running) return running;
    const p = fn().finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  private async authenticate(token: string): Promise<Authn> {
    const key = sha256(token);
    const cached = this.authn.get(key);
    this.opts.onCache?.("tokenreview", cached !== undefined);
    if (cached) return cached;
    return this.once(`authn:${key}`, async () => {
      const res = await this.opts.kube.request("POST", "/apis/authentication.k8s.io/v1/tokenreviews", {
        body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: { token, ...(this.opts.audiences?.length ? { audiences: this.opts.audiences } : {}) } },
      });
      const status = (res.body as { status?: { authenticated?: boolean; user?: UserInfo } } | undefined)?.status;
      if (typeof status !== "object" || status === null) throw new Error("TokenReview answer without a status");
      const user = status.user;
      const result: Authn = status.authenticated === true && user && typeof user.username === "string" && user.username !== "" ? { ok: true, user } : { ok: false };
      this.authn.set(key, result, result.ok ? this.allowedTtlMs : this.deniedTtlMs);
      return result;
    });
  }

  private async authorize(user: UserInfo): Promise<boolean> {
    const key = sha256(JSON.stringify([user.username, user.uid ?? "", user.groups ?? [], user.extra ?? {}]));
    const cached = this.authz.get(key);
    this.opts.onCache?.("subjectaccessreview", cached !== undefined);
    if (cached !== undefined) return cached;
    return this.once(`authz:${key}`, async () => {
      const spec: Record<string, unknown> = { user: user.username, resourceAttributes: this.opts.attributes };
      if (user.groups?.length) spec.groups = user.groups;
      if (user.uid) spec.uid = user.uid;
      if (user.extra && Object.keys(user.extra).length > 0) spec.extra = user.extra;
      const res = await this.opts.kube.request("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", {
        body: { apiVersion: "authorization.k8s.io/v1", kind: "SubjectAccessReview", spec },
      });
      const status = (res.body as { status?: { allowed?: boolean; denied?: boolean } } | undefined)?.status;
      if (typeof status !== "object" || status === null) throw new Error("SubjectAccessReview answer without a status");
      const allowed = status.allowed === true && status.denied !== true;
      this.authz.set(key, allowed, allowed ? this.allowedTtlMs : this.deniedTtlMs);
      return allowed;
    });
  }
}

/**
 * Reads a kube-apiserver static token file: one `token,user,uid[,"group1,group2"]` per line
 * (CSV; the group list is quoted when it has several groups; blank lines and lines starting
 * with # are skipped). The file must not be accessible by group or others (mode 0600 or 0400).
 */
export function loadTokenFile(path: string): Map<string, UserInfo> {
  const st = statSync(path);
  if (!st.isFile()) throw new Error(`${path}: not a regular file`);
  if ((st.mode & 0o077) !== 0) throw new Error(`${path}: mode ${(st.mode & 0o777).toString(8).padStart(4, "0")} lets group or others read it; chmod 0600 ${path}`);
  const tokens = new Map<string, UserInfo>();
  const lines = readFileSync(path, "utf8").split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const fields = parseCsvLine(line);
    const where = `${path}:${i + 1}`;
    if (!fields) throw new Error(`${where}: unbalanced quotes`);
    if (fields.length < 3) throw new Error(`${where}: expected token,user,uid[,"group1,group2"], got ${fields.length} field(s)`);
    const [token, username, uid, groups] = fields as [string, string, string, string | undefined];
    if (token === "") throw new Error(`${where}: empty token`);
    if (username === "") throw new Error(`${where}: empty user name`);
    const key = sha256(token);
    if (tokens.has(key)) throw new Error(`${where}: token given twice`);
    tokens.set(key, { username, uid, groups: groups ? groups.split(",").map((g) => g.trim()).filter(Boolean) : [] });
  });
  if (tokens.size === 0) throw new Error(`${path}: no tokens`);
  return tokens;
}

function parseCsvLine(line: string): string[] | undefined {
  const out: string[] = [];
  let cur = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      out.push(cur.trim());
      cur = "";
    } else cur += c;
  }
  if (quoted) return undefined;
  out.push(cur.trim());
  return out;
}

/** Static tokens: a token in the file is authenticated and allowed; anything else is 401. */
export class TokenFileAuth implements TokenAuthorizer {
  private readonly digests: Buffer[];
  constructor(readonly tokens: Map<string, UserInfo>) {
    this.digests = [...tokens.keys()].map((k) => Buffer.from(k, "hex"));
  }

  decide(token: string | undefined): Promise<AuthResult> {
    if (!token) return Promise.resolve("unauthenticated");
    const d = createHash("sha256").update(token).digest();
    let found = false;
    for (const k of this.digests) if (timingSafeEqual(k, d)) found = true;
    return Promise.resolve(found ? "allowed" : "unauthenticated");
  }
}

/** The token of an `Authorization: Bearer <token>` header, else undefined. */
export function bearerToken(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (typeof h !== "string") return undefined;
  const m = /^bearer\s+(\S+)\s*$/i.exec(h);
  return m ? m[1] : undefined;
}

export interface HttpAuthOptions {
  authorizer: TokenAuthorizer;
  registry: Registry;
  /** Also require the token on /metrics (health endpoints always stay open). */
  protectMetrics?: boolean;
}

/** Gate for an OpsServer: counts decisions and writes the 401/403/503 answers. */
export class HttpAuth {
  readonly protectMetrics: boolean;
  private readonly total: Counter<"result">;
  private readonly cache: Counter<"review" | "result">;

  constructor(private readonly opts: HttpAuthOptions) {
    this.protectMetrics = opts.protectMetrics ?? false;
    this.total = new Counter({
      name: "watch_auditor_http_auth_total",
      help: "Requests to protected HTTP endpoints by authentication/authorization outcome (allowed, unauthenticated = 401, forbidden = 403, error = 503).",
      labelNames: ["result"],
      registers: [opts.registry],
    });
    for (const r of AUTH_RESULTS) this.total.inc({ result: r }, 0);
    this.cache = new Counter({
      name: "watch_auditor_http_auth_cache_total",
      help: "TokenReview and SubjectAccessReview cache lookups by review and result (hit, miss).",
      labelNames: ["review", "result"],
      registers: [opts.registry],
    });
  }

  /** For KubernetesAuthOptions.onCache. */
  readonly onCache = (review: "tokenreview" | "subjectaccessreview", hit: boolean): void => {
    this.cache.inc({ review, result: hit ? "hit" : "miss" });
  };

  /** true: go on. false: the answer (401/403/503) has been sent. */
  async guard(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    let result: AuthResult;
    try {
      result = await this.opts.authorizer.decide(bearerToken(req));
    } catch {
      result = "error";
    }
    this.total.inc({ result });
    if (result === "allowed") return true;
    const [status, message, headers] =
      result === "unauthenticated"
        ? [401, "Unauthorized", { "www-authenticate": 'Bearer realm="watch-auditor"' }]
        : result === "forbidden"
          ? [403, "Forbidden", {}]
          : [503, "authentication or authorization is unavailable, retry later", { "retry-after": "5" }];
    const text = JSON.stringify({ error: message });
    res.writeHead(status, { ...headers, "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), "cache-control": "no-store" });
    res.end(req.method === "HEAD" ? undefined : text);
    return false;
  }
}

export type HttpAuthConfig =
  | {
      mode: "kubernetes";
      /** Kubeconfig for the reviews (default: in-cluster, $KUBECONFIG, ~/.kube/config). */
      kubeconfig?: string;
      /** Given attributes; the rest default to get services/proxy on defaultServiceName in the client's namespace. */
      attributes: Partial<ResourceAttributes>;
      defaultServiceName: string;
      allowedTtlMs: number;
      deniedTtlMs: number;
      maxEntries: number;
      protectMetrics: boolean;
    }
  | { mode: "token-file"; file: string; protectMetrics: boolean }
  | { mode: "none" };

/** Builds the gate (undefined for mode "none", which it logs loudly) and what to close at exit. */
export async function createHttpAuth(config: HttpAuthConfig, registry: Registry, log: Logger): Promise<{ auth?: HttpAuth; close: () => void; describe: Record<string, unknown> }> {
  if (config.mode === "none") {
    log.warn("--auth=none: the HTTP API answers ANYONE who can reach it, without a token. Use it only behind another authenticating proxy or on a trusted loopback address.");
    return { close: () => {}, describe: { auth: "none" } };
  }
  if (config.mode === "token-file") {
    let tokens: Map<string, UserInfo>;
    try {
      tokens = loadTokenFile(config.file);
    } catch (err) {
      throw new UsageError(`--auth-token-file: ${err instanceof Error ? err.message : String(err)}`);
    }
    const auth = new HttpAuth({ authorizer: new TokenFileAuth(tokens), registry, protectMetrics: config.protectMetrics });
    return { auth, close: () => {}, describe: { auth: "token-file", tokens: tokens.size, protectMetrics: config.protectMetrics } };
  }
  const kube = await KubeClient.load({ ...(config.kubeconfig ? { kubeconfig: config.kubeconfig } : {}), logger: log, userAgent: "watch-auditor/http-auth" });
  const attributes: ResourceAttributes = {
    verb: "get",
    resource: "services",
    subresource: "proxy",
    namespace: kube.namespace,
    name: config.defaultServiceName,
    ...config.attributes,
  } as ResourceAttributes;
  for (const k of Object.keys(attributes) as (keyof ResourceAttributes)[]) if (attributes[k] === "") delete attributes[k];
  if (!attributes.verb) throw new UsageError("--auth-resource-attributes: verb must not be empty");
  const ref: { auth?: HttpAuth } = {};
  const authorizer = new KubernetesAuth({
    kube,
    attributes,
    allowedTtlMs: config.allowedTtlMs,
    deniedTtlMs: config.deniedTtlMs,
    maxEntries: config.maxEntries,
    logger: log,
    onCache: (review, hit) => ref.auth?.onCache(review, hit),
  });
  ref.auth = new HttpAuth({ authorizer, registry, protectMetrics: config.protectMetrics });
  return {
    auth: ref.auth,
    close: () => kube.close(),
    describe: { auth: "kubernetes", server: kube.server, resourceAttributes: attributes, allowedTtlMs: config.allowedTtlMs, deniedTtlMs: config.deniedTtlMs, protectMetrics: config.protectMetrics },
  };
}
