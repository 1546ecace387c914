/**
 * A small Kubernetes REST client over node:http(s). It exists because the official client
 * costs ~115 MB RSS (and 2.x breaks on Node 20); this one keeps a watch auditor under
 * 60 MB. Every call has a timeout and an AbortSignal, response bodies are bounded, and all
 * failures are KubeApiError.
 */
import http from "node:http";
import https from "node:https";
import type { IncomingMessage } from "node:http";
import type { Logger } from "../logger.js";
import { credentialsFor, type CredentialSource } from "./auth.js";
import { KubeApiError, parseRetryAfter, retryAfterFromDetails, statusFields } from "./errors.js";
import { apiVersionOf, collectionPath, objectPath, type GVR } from "./gvr.js";
import { resolveConnection, type ConnectionConfig, type ResolveOptions } from "./kubeconfig.js";

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  query?: Query;
  /** Serialised as JSON unless it is a string or Buffer. */
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
  /** Overrides the client's requestTimeoutMs for this call (headers + body). */
  timeoutMs?: number;
  /** Accept header (default application/json). */
  accept?: string;
}

/** What getText answers: any HTTP status, with the body as text. */
export interface TextResponse {
  status: number;
  contentType: string;
  body: string;
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
  resourceVersionMatch?: "Exact" | "NotOlderThan";
  signal?: AbortSignal;
}

export interface ListResult<T> {
  items: T[];
  metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number };
}

export interface WriteOptions {
  namespace?: string;
  dryRun?: boolean;
  fieldValidation?: "Ignore" | "Warn" | "Strict";
  fieldManager?: string;
  signal?: AbortSignal;
}

export type PatchType = "merge" | "strategic" | "json" | "apply";

export interface PatchOptions {
  namespace?: string;
  type: PatchType;
  fieldManager?: string;
  /** Only for type "apply": take ownership of conflicting fields. */
  force?: boolean;
  subresource?: string;
  dryRun?: boolean;
  signal?: AbortSignal;
}

export interface DeleteOptions {
  namespace?: string;
  gracePeriodSeconds?: number;
  propagationPolicy?: "Foreground" | "Background" | "Orphan";
  preconditionUid?: string;
  preconditionResourceVersion?: string;
  dryRun?: boolean;
  signal?: AbortSignal;
}

export interface WatchOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  resourceVersion?: string;
  /** Server-side end of the watch. */
  timeoutSeconds?: number;
  allowWatchBookmarks?: boolean;
  /** Aborting ends the iteration quietly (no error). */
  signal?: AbortSignal;
  /** Abort with KubeApiError code EIDLE if no byte arrives for this long (detects silently hung connections). */
  idleTimeoutMs?: number;
}

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK";

export interface WatchEvent<T> {
  type: WatchEventType;
  object: T;
}

/** One `Warning:` response header entry (RFC 7234 form `299 - "text"`, as the apiserver sends them). */
export interface KubeWarning {
  /** 299 for apiserver warnings; 0 when the header could not be parsed (text is then the raw value). */
  code: number;
  /** The warn-agent, "-" from the apiserver. */
  agent: string;
  /** The warning text, unquoted (PodSecurity "would violate ...", deprecated API notices). */
  text: string;
  method: string;
  path: string;
}

export interface KubeClientOptions {
  /** Per-request timeout (default 10 s). */
  requestTimeoutMs?: number;
  /** Largest response body accepted (default 64 MiB); also bounds one watch event. */
  maxBodyBytes?: number;
  /** Cap on pooled sockets for ordinary requests (default 8; watches use their own connections). */
  maxSockets?: number;
  /** How often a token file is re-read (default 60 s, as client-go). */
  tokenRefreshMs?: number;
  /** Value of the User-Agent header. */
  userAgent?: string;
  logger?: Logger;
  /**
   * Called for every warning the API server attaches to a response (any status, watches
   * included), like client-go's WarningHandler. Without it, each distinct warning is logged
   * once at warn level.
   */
  onWarning?: (warning: KubeWarning) => void;
}

/** Where the connection comes from (see resolveConnection) plus how the client behaves. */
export type LoadOptions = KubeClientOptions & ResolveOptions;

const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  merge: "application/merge-patch+json",
  strategic: "application/strategic-merge-patch+json",
  json: "application/json-patch+json",
  apply: "application/apply-patch+yaml",
};

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_BODY = 64 * 1024 * 1024;

interface ObjectWithMeta {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

export class KubeClient {
  /** Namespace of the kubeconfig context, or the pod's namespace in-cluster. */
  readonly namespace: string;
  readonly server: string;
  /** Where the configuration came from (never contains credentials). */
  readonly source: string;
  private readonly requestTimeoutMs: number;
  private readonly maxBodyBytes: number;
  private readonly agent: http.Agent;
  private readonly watchAgent: http.Agent;
  private readonly credentials: CredentialSource;
  private readonly isHttps: boolean;
  private readonly baseUrl: URL;
  private readonly userAgent: string;
  private readonly logger?: Logger;
  private readonly onWarning?: (warning: KubeWarning) => void;
  private readonly loggedWarnings = new Set<string>();

  /**
   * Precedence: kubeconfig path > inCluster=true > $KUBECONFIG (merged) > in-cluster when
   * KUBERNETES_SERVICE_HOST is set > ~/.kube/config. Throws KubeConfigError naming the file and field.
   */
  static async load(opts: LoadOptions = {}): Promise<KubeClient> {
    const conn = resolveConnection(opts);
    const client = new KubeClient(conn, opts);
    opts.logger?.debug({ server: conn.server, source: conn.source, namespace: conn.namespace }, "kubernetes client configured");
    if (!conn.server.startsWith("https:") && (conn.token || conn.tokenFile || conn.exec || conn.password)) {
      opts.logger?.warn({ server: conn.server }, "credentials will be sent over plain http");
    }
    return client;
  }

  constructor(conn: ConnectionConfig, opts: KubeClientOptions = {}) {
    this.namespace = conn.namespace;
    this.server = conn.server;
    this.source = conn.source;
    this.baseUrl = new URL(conn.server);
    this.isHttps = this.baseUrl.protocol === "https:";
    this.requestTimeoutMs = opts.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY;
    this.userAgent = opts.userAgent ?? "watch-auditor";
    this.logger = opts.logger;
    this.onWarning = opts.onWarning;
    this.credentials = credentialsFor(conn, { tokenRefreshMs: opts.tokenRefreshMs, logger: opts.logger });
    const tls: https.AgentOptions = {
      ca: conn.ca,
      cert: conn.cert,
      key: conn.key,
      rejectUnauthorized: !conn.insecureSkipTlsVerify,
      servername: conn.tlsServerName,
    };
    const pooled = { keepAlive: true, maxSockets: opts.maxSockets ?? 8, maxFreeSockets: 2, scheduling: "lifo" as const };
    this.agent = this.isHttps ? new https.Agent({ ...tls, ...pooled }) : new http.Agent(pooled);
    // Watches hold their connection for minutes: they must not starve the pool.
    this.watchAgent = this.isHttps ? new https.Agent({ ...tls, keepAlive: false }) : new http.Agent({ keepAlive: false });
  }

  /** Closes pooled connections. In-flight requests are not aborted. */
  close(): void {
    this.agent.destroy();
    this.watchAgent.destroy();
  }

  /** Namespaced GVR → given namespace or the client's default one; cluster-scoped → undefined. */
  private ns(gvr: GVR, namespace: string | undefined): string | undefined {
    return gvr.namespaced ? namespace || this.namespace : undefined;
  }

  async get<T>(gvr: GVR, name: string, namespace?: string, opts: { signal?: AbortSignal; resourceVersion?: string } = {}): Promise<T> {
    const res = await this.request("GET", objectPath(gvr, name, this.ns(gvr, namespace)), { signal: opts.signal, query: { resourceVersion: opts.resourceVersion } });
    return res.body as T;
  }

  /** One page. namespace undefined lists across all namespaces. */
  async list<T>(gvr: GVR, opts: ListOptions = {}): Promise<ListResult<T>> {
    const res = await this.request("GET", collectionPath(gvr, gvr.namespaced ? opts.namespace : undefined), {
      signal: opts.signal,
      query: {
        labelSelector: opts.labelSelector,
        fieldSelector: opts.fieldSelector,
        limit: opts.limit,
        continue: opts.continue,
        resourceVersion: opts.resourceVersion,
        resourceVersionMatch: opts.resourceVersionMatch,
      },
    });
    const body = res.body as { kind?: unknown; items?: T[] | null; metadata?: { resourceVersion?: string; continue?: string; remainingItemCount?: number } } | undefined;
    // A list always has "items" (null or an array). Anything else (a Table, a single object, a
    // proxy's JSON) must not read as an empty list: an informer would drop its whole cache.
    if (typeof body !== "object" || body === null || Array.isArray(body) || !("items" in body) || (body.items !== null && !Array.isArray(body.items))) {
      const what = typeof body === "object" && body !== null && !Array.isArray(body) && typeof body.kind === "string" ? `kind ${body.kind}` : JSON.stringify(body)?.slice(0, 80);
      throw new KubeApiError(`GET ${collectionPath(gvr, gvr.namespaced ? opts.namespace : undefined)}: response is not a list (${what})`, { code: "EBADJSON", body });
    }
    const meta = body.metadata ?? {};
    return {
      items: body.items ?? [],
      metadata: { resourceVersion: meta.resourceVersion ?? "", continue: meta.continue || undefined, remainingItemCount: meta.remainingItemCount },
    };
  }

  /**
   * Follows continue tokens (pages of opts.limit, default 500). The resourceVersion
   * returned is the one of the first page: the snapshot the pages belong to.
   */
  async listAll<T>(gvr: GVR, opts: Omit<ListOptions, "continue"> = {}): Promise<ListResult<T>> {
    const items: T[] = [];
    let token: string | undefined;
    let resourceVersion = "";
    let first = true;
    do {
      const page = await this.list<T>(gvr, { ...opts, limit: opts.limit ?? 500, continue: token, resourceVersion: first ? opts.resourceVersion : undefined, resourceVersionMatch: first ? opts.resourceVersionMatch : undefined });
      if (first) resourceVersion = page.metadata.resourceVersion;
      first = false;
      items.push(...page.items);
      token = page.metadata.continue;
    } while (token);
    return { items, metadata: { resourceVersion } };
  }

  async create<T>(gvr: GVR, obj: T, opts: WriteOptions = {}): Promise<T> {
    const namespace = this.ns(gvr, opts.namespace ?? (obj as ObjectWithMeta).metadata?.namespace);
    const body = withTypeMeta(gvr, obj);
    const res = await this.request("POST", collectionPath(gvr, namespace), { body, signal: opts.signal, query: writeQuery(opts) });
    return res.body as T;
  }

  /** PUT; the object's metadata.resourceVersion makes it conditional (409 Conflict when stale). */
  async update<T>(gvr: GVR, obj: T, opts: WriteOptions & { subresource?: string } = {}): Promise<T> {
    const meta = (obj as ObjectWithMeta).metadata;
    if (!meta?.name) throw new KubeApiError(`update ${gvr.resource}: object has no metadata.name`, { code: "EINVALID" });
    const namespace = this.ns(gvr, opts.namespace ?? meta.namespace);
    const res = await this.request("PUT", objectPath(gvr, meta.name, namespace, opts.subresource), { body: withTypeMeta(gvr, obj), signal: opts.signal, query: writeQuery(opts) });
    return res.body as T;
  }

  async patch<T>(gvr: GVR, name: string, patch: unknown, opts: PatchOptions): Promise<T> {
    if (opts.type === "apply" && !opts.fieldManager) throw new KubeApiError(`patch ${gvr.resource}/${name}: server-side apply needs a fieldManager`, { code: "EINVALID" });
    if (opts.force && opts.type !== "apply") throw new KubeApiError(`patch ${gvr.resource}/${name}: force is only valid for apply patches`, { code: "EINVALID" });
    const res = await this.request("PATCH", objectPath(gvr, name, this.ns(gvr, opts.namespace), opts.subresource), {
      body: patch,
      contentType: PATCH_CONTENT_TYPES[opts.type],
      signal: opts.signal,
      query: { fieldManager: opts.fieldManager, force: opts.force, dryRun: opts.dryRun ? "All" : undefined },
    });
    return res.body as T;
  }

  /** 404 surfaces as KubeApiError (status 404): callers decide whether that is fine. */
  async delete(gvr: GVR, name: string, opts: DeleteOptions = {}): Promise<void> {
    const preconditions =
      opts.preconditionUid !== undefined || opts.preconditionResourceVersion !== undefined
        ? { uid: opts.preconditionUid, resourceVersion: opts.preconditionResourceVersion }
        : undefined;
    const body = {
      kind: "DeleteOptions",
      apiVersion: "v1",
      gracePeriodSeconds: opts.gracePeriodSeconds,
      propagationPolicy: opts.propagationPolicy,
      preconditions,
      dryRun: opts.dryRun ? ["All"] : undefined,
    };
    await this.request("DELETE", objectPath(gvr, name, this.ns(gvr, opts.namespace)), { body, signal: opts.signal });
  }

  /**
   * Streams watch events. ERROR events become a thrown KubeApiError (410 Gone → status 410);
   * the iteration ends when the server closes the stream; opts.signal ends it quietly;
   * idleTimeoutMs throws KubeApiError code EIDLE when the connection goes silent.
   */
  async *watch<T>(gvr: GVR, opts: WatchOptions = {}): AsyncGenerator<WatchEvent<T>, void, undefined> {
    const path = collectionPath(gvr, gvr.namespaced ? opts.namespace : undefined);
    const query: Query = {
      watch: "true",
      labelSelector: opts.labelSelector,
      fieldSelector: opts.fieldSelector,
      resourceVersion: opts.resourceVersion,
      timeoutSeconds: opts.timeoutSeconds,
      allowWatchBookmarks: opts.allowWatchBookmarks,
    };
    if (opts.signal?.aborted) return;
    // One controller for the whole stream: the caller's abort, and the deadline for response headers.
    const ctl = new AbortController();
    const onCallerAbort = () => ctl.abort();
    opts.signal?.addEventListener("abort", onCallerAbort, { once: true });
    let headersTimedOut = false;
    const headersTimer = setTimeout(() => {
      headersTimedOut = true;
      ctl.abort();
    }, this.requestTimeoutMs);
    let res: IncomingMessage;
    try {
      res = await this.open("GET", path, { query, signal: ctl.signal }, this.watchAgent);
      if (res.statusCode !== 200) {
        const body = await this.readBody(res, "GET", path, ctl.signal);
        // Not retried here (the caller's loop restarts watches), but the next attempt gets fresh credentials.
        if (res.statusCode === 401) this.credentials.invalidate();
        throw errorFromResponse("GET", path, res, body);
      }
    } catch (err) {
      opts.signal?.removeEventListener("abort", onCallerAbort);
      if (opts.signal?.aborted) return;
      if (headersTimedOut) throw new KubeApiError(`watch ${path}: no response within ${this.requestTimeoutMs} ms`, { code: "ETIMEDOUT", cause: err });
      if (err instanceof KubeApiError) throw err;
      throw networkError("GET", path, err);
    } finally {
      clearTimeout(headersTimer);
    }
    let idle: NodeJS.Timeout | undefined;
    const armIdle = () => {
      if (!opts.idleTimeoutMs) return;
      clearTimeout(idle);
      idle = setTimeout(() => {
        res.destroy(new KubeApiError(`watch ${path}: no data for ${opts.idleTimeoutMs} ms`, { code: "EIDLE" }));
      }, opts.idleTimeoutMs);
    };
    res.setEncoding("utf8");
    let buffered = "";
    try {
      armIdle();
      for await (const chunk of res as AsyncIterable<string>) {
        armIdle();
        buffered += chunk;
        if (buffered.length > this.maxBodyBytes) throw new KubeApiError(`watch ${path}: event larger than ${this.maxBodyBytes} bytes`, { code: "EBODYTOOLARGE" });
        let nl: number;
        while ((nl = buffered.indexOf("\n")) >= 0) {
          const line = buffered.slice(0, nl).trim();
          buffered = buffered.slice(nl + 1);
          if (line === "") continue;
          // The consumer's processing time is not the server's silence.
          clearTimeout(idle);
          yield parseWatchLine<T>(line, path);
          armIdle();
        }
      }
      if (buffered.trim() !== "" && !opts.signal?.aborted) yield parseWatchLine<T>(buffered.trim(), path);
    } catch (err) {
      if (opts.signal?.aborted) return;
      if (err instanceof KubeApiError) throw err;
      throw networkError("GET", path, err);
    } finally {
      clearTimeout(idle);
      opts.signal?.removeEventListener("abort", onCallerAbort);
      res.destroy();
    }
  }

  /**
   * Low-level call: path like /api/v1/namespaces. Resolves with the parsed JSON body for
   * 2xx; any other status throws KubeApiError carrying status, reason and Retry-After.
   */
  async request(method: string, path: string, opts: RequestOptions = {}): Promise<{ status: number; body: unknown }> {
    const timeoutMs = opts.timeoutMs ?? this.requestTimeoutMs;
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout.signal]) : timeout.signal;
    const started = Date.now();
    try {
      let res = await this.open(method, path, { ...opts, signal }, this.agent);
      if (res.statusCode === 401 && this.credentials.refreshable) {
        // A rotated token or an expired exec credential: fetch fresh credentials and retry once.
        res.resume();
        this.credentials.invalidate();
        res = await this.open(method, path, { ...opts, signal }, this.agent);
      }
      const text = await this.readBody(res, method, path, signal);
      const status = res.statusCode ?? 0;
      this.logger?.debug({ method, path, status, ms: Date.now() - started }, "kubernetes request");
      if (status < 200 || status >= 300) throw errorFromResponse(method, path, res, text);
      return { status, body: parseJson(text, method, path) };
    } catch (err) {
      if (err instanceof KubeApiError && err.code !== "EABORTED") throw err;
      if (timeout.signal.aborted) throw new KubeApiError(`${method} ${path}: timed out after ${timeoutMs} ms`, { code: "ETIMEDOUT", cause: err });
      if (opts.signal?.aborted) throw new KubeApiError(`${method} ${path}: aborted`, { code: "EABORTED", cause: err });
      if (err instanceof KubeApiError) throw err;
      throw networkError(method, path, err);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * GET of a path whose answer is text (the nonResourceURLs /livez?verbose, /readyz/etcd, /metrics).
   * Unlike request(), every HTTP status resolves, with its body: a failing health check answers
   * 500 with the text worth reading. Network errors, timeouts and bodies over maxBytes (default
   * the client's maxBodyBytes) throw KubeApiError.
   */
  async getText(path: string, opts: { query?: Query; accept?: string; signal?: AbortSignal; timeoutMs?: number; maxBytes?: number } = {}): Promise<TextResponse> {
    const timeoutMs = opts.timeoutMs ?? this.requestTimeoutMs;
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout.signal]) : timeout.signal;
    const req: RequestOptions = { query: opts.query, signal, accept: opts.accept ?? "text/plain, */*" };
    try {
      let res = await this.open("GET", path, req, this.agent);
      if (res.statusCode === 401 && this.credentials.refreshable) {
        res.resume();
        this.credentials.invalidate();
        res = await this.open("GET", path, req, this.agent);
      }
      const body = await this.readBody(res, "GET", path, signal, opts.maxBytes);
      return { status: res.statusCode ?? 0, contentType: String(res.headers["content-type"] ?? ""), body };
    } catch (err) {
      if (err instanceof KubeApiError && err.code !== "EABORTED") throw err;
      if (timeout.signal.aborted) throw new KubeApiError(`GET ${path}: timed out after ${timeoutMs} ms`, { code: "ETIMEDOUT", cause: err });
      if (opts.signal?.aborted) throw new KubeApiError(`GET ${path}: aborted`, { code: "EABORTED", cause: err });
      if (err instanceof KubeApiError) throw err;
      throw networkError("GET", path, err);
    } finally {
      clearTimeout(timer);
    }
  }

  private buildUrl(path: string, query?: Query): URL {
    const url = new URL(this.baseUrl.pathname.replace(/\/$/, "") + path, this.baseUrl);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== "") url.searchParams.set(k, String(v));
    return url;
  }

  /** Sends the request and resolves once response headers arrive. */
  private async open(method: string, path: string, opts: RequestOptions, agent: http.Agent): Promise<IncomingMessage> {
    const url = this.buildUrl(path, opts.query);
    const headers: http.OutgoingHttpHeaders = { accept: opts.accept ?? "application/json", "user-agent": this.userAgent };
    const authorization = await this.credentials.authorization();
    if (authorization) headers.authorization = authorization;
    let payload: Buffer | undefined;
    if (opts.body !== undefined) {
      payload = Buffer.isBuffer(opts.body) ? opts.body : Buffer.from(typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body));
      headers["content-type"] = opts.contentType ?? "application/json";
      headers["content-length"] = payload.length;
    }
    const transport = this.isHttps ? https : http;
    return new Promise<IncomingMessage>((resolvePromise, reject) => {
      const req = transport.request(url, { method, headers, agent, signal: opts.signal }, (res) => {
        this.reportWarnings(res, method, path);
        resolvePromise(res);
      });
      req.on("error", reject);
      req.end(payload);
    });
  }

  private reportWarnings(res: IncomingMessage, method: string, path: string): void {
    const values = res.headersDistinct.warning;
    if (!values || values.length === 0) return;
    for (const w of parseWarningHeaders(values)) {
      const warning: KubeWarning = { ...w, method, path };
      if (this.onWarning) {
        try {
          this.onWarning(warning);
        } catch (err) {
          this.logger?.error({ err: (err as Error)?.message }, "onWarning hook threw");
        }
      } else if (!this.loggedWarnings.has(w.text)) {
        if (this.loggedWarnings.size < 256) this.loggedWarnings.add(w.text);
        this.logger?.warn({ method, path, warning: w.text }, "kubernetes API warning");
      }
    }
  }

  /** Reads the whole body; the signal bounds it (a server may stall after sending headers). */
  private readBody(res: IncomingMessage, method: string, path: string, signal?: AbortSignal, maxBytes?: number): Promise<string> {
    const limit = maxBytes ?? this.maxBodyBytes;
    return new Promise((resolvePromise, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let settled = false;
      const onAbort = () => {
        fail(new KubeApiError(`${method} ${path}: aborted while reading the response`, { code: "EABORTED" }));
        res.destroy();
      };
      const fail = (err: unknown) => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener("abort", onAbort);
        reject(err);
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      res.on("data", (c: Buffer) => {
        size += c.length;
        if (size > limit) {
          fail(new KubeApiError(`${method} ${path}: response body larger than ${limit} bytes`, { code: "EBODYTOOLARGE" }));
          res.destroy();
          return;
        }
        chunks.push(c);
      });
      res.on("end", () => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener("abort", onAbort);
        resolvePromise(Buffer.concat(chunks).toString("utf8"));
      });
      res.on("error", fail);
      res.on("aborted", () => fail(new KubeApiError(`${method} ${path}: connection closed mid-response`, { code: "ECONNRESET" })));
    });
  }
}

function writeQuery(opts: WriteOptions): Query {
  return { dryRun: opts.dryRun ? "All" : undefined, fieldValidation: opts.fieldValidation, fieldManager: opts.fieldManager };
}

/** Fills apiVersion/kind so callers can pass plain objects. */
function withTypeMeta<T>(gvr: GVR, obj: T): T {
  const o = obj as Record<string, unknown>;
  if (o.apiVersion && o.kind) return obj;
  return { apiVersion: apiVersionOf(gvr), kind: gvr.kind, ...o } as T;
}

function parseJson(text: string, method: string, path: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new KubeApiError(`${method} ${path}: response is not valid JSON: ${JSON.stringify(text.slice(0, 120))}`, { code: "EBADJSON" });
  }
}

function parseWatchLine<T>(line: string, path: string): WatchEvent<T> {
  let ev: { type?: unknown; object?: unknown };
  try {
    ev = JSON.parse(line) as typeof ev;
  } catch {
    throw new KubeApiError(`watch ${path}: event is not valid JSON: ${JSON.stringify(line.slice(0, 120))}`, { code: "EBADJSON" });
  }
  if (ev.type === "ERROR") {
    // A Status: 410 Expired for a too-old resourceVersion (sent as HTTP 200 + this frame), 500s...
    const s = statusFields(ev.object);
    const head = `watch ${path}: ${s.code ?? ""} ${s.reason ?? ""}`.replace(/\s+/g, " ").trimEnd();
    throw new KubeApiError(`${head}: ${s.message ?? "error event"}`, {
      status: s.code,
      reason: s.reason,
      body: ev.object,
      statusMessage: s.message,
      details: s.details,
      retryAfterMs: retryAfterFromDetails(s.details),
    });
  }
  if (ev.type !== "ADDED" && ev.type !== "MODIFIED" && ev.type !== "DELETED" && ev.type !== "BOOKMARK") {
    throw new KubeApiError(`watch ${path}: unknown event type ${JSON.stringify(ev.type)}`, { code: "EBADJSON" });
  }
  if (typeof ev.object !== "object" || ev.object === null) throw new KubeApiError(`watch ${path}: ${ev.type} event without an object`, { code: "EBADJSON" });
  return { type: ev.type, object: ev.object as T };
}

function errorFromResponse(method: string, path: string, res: IncomingMessage, text: string): KubeApiError {
  const status = res.statusCode ?? 0;
  let body: unknown = text;
  // Proxies and load balancers answer with HTML or plain text, the apiserver itself with a
  // text/plain "404 page not found" for paths no handler serves: keep the snippet.
  let message = text.slice(0, 300).trim();
  let fields: ReturnType<typeof statusFields> = {};
  try {
    body = JSON.parse(text) as unknown;
    fields = statusFields(body);
    if (fields.message) message = fields.message;
  } catch {
    body = text;
  }
  const retryAfterHeader = res.headers["retry-after"];
  const reason = fields.reason;
  return new KubeApiError(`${method} ${path}: ${status}${reason ? ` ${reason}` : ""}${message ? `: ${message}` : ""}`, {
    status,
    reason,
    body,
    statusMessage: message || undefined,
    details: fields.details,
    retryAfterMs: parseRetryAfter(Array.isArray(retryAfterHeader) ? retryAfterHeader[0] : retryAfterHeader) ?? retryAfterFromDetails(fields.details),
  });
}

/**
 * Parses Warning header values (client-go's ParseWarningHeaders): `<code> <agent> "<text>"
 * ["<date>"]`, several per header separated by commas, backslash escapes in the text. An
 * unparseable value is kept whole as the text, with code 0.
 */
export function parseWarningHeaders(values: readonly string[]): { code: number; agent: string; text: string }[] {
  const out: { code: number; agent: string; text: string }[] = [];
  for (const value of values) {
    let rest = value.trim();
    while (rest !== "") {
      const m = /^(\d{3}) (\S+) "/.exec(rest);
      let i = m ? m[0].length : 0;
      let text = "";
      let closed = false;
      for (; m && i < rest.length; i++) {
        const c = rest[i]!;
        if (c === "\\" && i + 1 < rest.length) text += rest[++i];
        else if (c === '"') {
          closed = true;
          i++;
          break;
        } else text += c;
      }
      if (!m || !closed) {
        out.push({ code: 0, agent: "", text: rest });
        break;
      }
      out.push({ code: Number(m[1]), agent: m[2]!, text });
      rest = rest.slice(i).replace(/^ "[^"]*"/, "").replace(/^\s*,\s*/, "");
    }
  }
  return out;
}

function networkError(method: string, path: string, err: unknown): KubeApiError {
  const e = err as NodeJS.ErrnoException;
  const code = e?.code === "ABORT_ERR" ? "ECONNRESET" : (e?.code ?? "ENETWORK");
  return new KubeApiError(`${method} ${path}: ${e?.message ?? String(err)}`, { code, cause: err });
}
