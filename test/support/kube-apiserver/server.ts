// HTTP handling: routing of Kubernetes REST paths, authentication, authorization, faults,
// request bodies, and the verbs (get/list/watch/create/update/patch/delete/deletecollection).
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { admitNamespace, admitPodCreate, admitPodSecurity, seccompAnnotations } from "./admission.js";
import { nowTimestamp } from "./store.js";
import { defaultFieldManager, serverSideApply, trackUpdate, type ManagerContext, type StructuralSchema } from "./managed-fields.js";
import { applyDefaults, jobLabels, qosClass } from "./defaults.js";
import type { Faults } from "./faults.js";
import { FlowControl } from "./flowcontrol.js";
import { applyPatch, patchTypeOf, type Json, type PatchType } from "./patch.js";
import { forbiddenError, type RbacAuthorizer, type RequestAttributes, type UserInfo } from "./rbac.js";
import { AuthApi, bearerToken } from "./reviews.js";
import { groupVersion, isBuiltinGroup, resourceInfo, type ResourceInfo, type ResourceRegistry } from "./resources.js";
import { fieldMatcher, labelMatcher } from "./selectors.js";
import { addWarnings, ApiError, errors, statusObject } from "./status.js";
import type { DeleteOptions, KubeObject, ObjectStore, PropagationPolicy } from "./store.js";
import { defaultOnRead } from "./crds.js";
import { parseJsonBody } from "./openapi.js";
import { scaleRequest } from "./scale.js";
import { validateWrite } from "./validation.js";
import type { WatchHub } from "./watch.js";
import { Discovery, type VersionInfo } from "./discovery.js";
import { eventForStorage, storedAs } from "./events.js";
import { inRequestVersion, parseYaml, render, represent, watchTransform } from "./representation.js";
import { serveHealth, type HealthChecks } from "./health.js";
import type { MetricsEndpoint } from "./metrics.js";

export interface RequestRecord {
  method: string;
  path: string;
  query: Record<string, string>;
  user: string;
  verb?: string;
  resource?: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  status: number;
  time: number;
}

export interface HandlerOptions {
  authz: "allow-all" | "rbac";
  tokens: Record<string, { user: string; groups?: string[] }>;
  validation: "strict" | "off";
  bookmarkIntervalMs: number;
  bookmarkTiming: "interval" | "kube-apiserver";
  maxBodyBytes: number;
  /** How long a list at a future resourceVersion waits for it before the 504 (real: 3 s). */
  futureResourceVersionWaitMs: number;
  kubernetesVersion: VersionInfo;
  /** Serve unknown group/resources, learning kind and scope from the first create (default false). */
  learnUnknownResources?: boolean;
  /** false: the ServerSideFieldValidation gate off, as the recorded build (fieldValidation ignored). */
  serverSideFieldValidation?: boolean;
  /** /healthz, /livez, /readyz and their checks (health.ts); absent: every check ok. */
  health?: HealthChecks;
  /** GET /metrics (metrics.ts); absent: 404 as an unserved path. */
  metrics?: MetricsEndpoint;
}

interface ResourceRoute {
  group: string;
  version: string;
  info: ResourceInfo;
  known: boolean;
  namespace?: string;
  name?: string;
  subresource?: string;
  legacyWatch: boolean;
}

/** Registries with ReturnDeletedObject: a DELETE that removes the object at once still answers with it. */
const RETURNS_DELETED_OBJECT = new Set(["/pods", "/services", "/namespaces", "/replicationcontrollers", "apps/deployments", "apps/replicasets", "apps/statefulsets", "apps/daemonsets"]);

const ANONYMOUS: UserInfo = { user: "system:anonymous", groups: ["system:unauthenticated"] };

function reasonFor(code: number): string {
  return (
    {
      400: "BadRequest",
      401: "Unauthorized",
      403: "Forbidden",
      404: "NotFound",
      405: "MethodNotAllowed",
      409: "Conflict",
      410: "Expired",
      413: "RequestEntityTooLarge",
      422: "Invalid",
      429: "TooManyRequests",
      500: "InternalError",
      503: "ServiceUnavailable",
      504: "Timeout",
    } as Record<number, string>
  )[code] ?? "Unknown";
}

/** labels/annotations are omitempty maps in Go: an emptied one disappears from the object. */
function dropEmptyMetadataMaps(obj: KubeObject): void {
  for (const k of ["labels", "annotations"] as const) {
    const m = obj.metadata[k];
    if (m !== undefined && (m === null || Object.keys(m).length === 0)) delete obj.metadata[k];
  }
}

function gvkOf(info: ResourceInfo): { group: string; version: string; kind: string } {
  return { group: info.group, version: info.version, kind: info.kind };
}

/** Go's encoding/json wording for the common JSON syntax errors JSON.parse reports. */
function goJsonError(err: Error): string {
  const m = err.message;
  if (/end of JSON input|Unterminated|Unexpected end/i.test(m)) return "unexpected end of JSON input";
  const c = /Unexpected token '?(.)'?|Unexpected (?:non-whitespace )?character/.exec(m);
  return c?.[1] ? `invalid character '${c[1]}' looking for beginning of value` : "invalid character looking for beginning of value";
}

/** Continue tokens as the v1.25 storage layer writes them: unpadded base64url of {"v","rv","start"}. */
export function encodeContinueToken(rv: number, start: string): string {
  return Buffer.from(JSON.stringify({ v: "meta.k8s.io/v1", rv, start })).toString("base64url");
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;

function decodeContinueToken(token: string): { rv: number; start: string } {
  const bad = (why: string) => errors.badRequest(`invalid continue token: continue key is not valid: ${why}`);
  // Go's base64.RawURLEncoding: the first byte outside the alphabet is named (padding included).
  if (!BASE64URL.test(token)) throw bad(`illegal base64 data at input byte ${[...token].findIndex((c) => !BASE64URL.test(c))}`);
  if (token.length % 4 === 1) throw bad(`illegal base64 data at input byte ${token.length - 1}`);
  let t: { v?: unknown; rv?: unknown; start?: unknown };
  try {
    t = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as typeof t;
  } catch (err) {
    throw bad((err as Error).message);
  }
  if (t.v !== "meta.k8s.io/v1") throw bad(`incorrect encoded start resourceVersion (version meta.k8s.io/v1)`);
  if (typeof t.rv !== "number" || typeof t.start !== "string") throw bad("incorrect encoded start resourceVersion (version meta.k8s.io/v1)");
  return { rv: t.rv, start: t.start };
}

/** resourceVersion that is not a number: the real server fails deep in storage, with a 500 and no reason. */
export function invalidResourceVersion(rv: string): ApiError {
  return new ApiError(statusObject(500, "", `resourceVersion: Invalid value: ${JSON.stringify(rv)}: strconv.ParseUint: parsing ${JSON.stringify(rv)}: invalid syntax`));
}

function tooLargeResourceVersion(want: number, current: number): ApiError {
  const st = statusObject(504, "Timeout", `Timeout: Too large resource version: ${want}, current: ${current}`, {
    causes: [{ reason: "ResourceVersionTooLarge", message: "Too large resource version" }],
    retryAfterSeconds: 1,
  });
  return new ApiError(st, { "Retry-After": "1" });
}



function stripTypeMeta(o: KubeObject): KubeObject {
  const { apiVersion: _a, kind: _k, ...rest } = o;
  return rest as KubeObject;
}

export class ApiHandler {
  readonly requests: RequestRecord[] = [];
  private readonly flow = new FlowControl();

  constructor(
    private readonly store: ObjectStore,
    private readonly registry: ResourceRegistry,
    private readonly hub: WatchHub,
    private readonly faults: Faults,
    private readonly rbac: RbacAuthorizer,
    private readonly opts: HandlerOptions,
    private readonly serverUrl: () => string,
  ) {
    // Token/TokenReview/access-review endpoints and ServiceAccount tokens (reviews.ts, tokens.ts),
    // and the bootstrap ClusterRoles/Bindings every real cluster has (rbac.ts).
    this.auth = new AuthApi(store, registry, rbac, opts);
    rbac.installBootstrapPolicy();
  }

  /** Authentication/authorization endpoints and ServiceAccount token issuing/verification. */
  readonly auth: AuthApi;

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url: URL;
    try {
      // Concatenate rather than resolve: a path starting with "//" must not become a host.
      url = new URL(`http://localhost${req.url?.startsWith("/") ? req.url : `/${req.url ?? ""}`}`);
    } catch {
      this.json(res, 400, errors.badRequest(`malformed request URL ${JSON.stringify(req.url)}`).status);
      return;
    }
    const method = (req.method ?? "GET").toUpperCase();
    const path = url.pathname.replace(/\/+$/, "") || "/";
    const record: RequestRecord = { method, path, query: Object.fromEntries(url.searchParams), user: "", status: 0, time: Date.now() };
    this.requests.push(record);
    // Bounded, so long benches cannot grow it without limit; tests look at recent requests.
    if (this.requests.length > 100_000) this.requests.splice(0, this.requests.length - 50_000);
    res.setHeader("Audit-Id", randomUUID());
    res.on("close", () => {
      if (record.status === 0 && res.headersSent) record.status = res.statusCode;
    });
    try {
      const user = this.authenticate(req);
      record.user = user.user;
      for (const [k, v] of Object.entries(this.flow.headers(user, path, false))) res.setHeader(k, v);
      const route = this.route(path);
      const attrs = this.attributes(method, path, url.searchParams, route);
      Object.assign(record, {
        verb: attrs.verb,
        ...(route && { resource: route.info.resource, subresource: route.subresource, namespace: route.namespace, name: route.name }),
      });
      const fault = this.faults.take(method, path, attrs.verb);
      if (fault) {
        if (fault.hang) return; // never answered; the socket closes with the server or the client
        if (fault.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
        if (fault.status !== undefined) {
          const headers: Record<string, string> = {};
          const st = statusObject(fault.status, reasonFor(fault.status), fault.message ?? `injected fault: ${reasonFor(fault.status)}`);
          if (fault.status === 429 || fault.retryAfterSeconds !== undefined) {
            const secs = fault.retryAfterSeconds ?? 1;
            headers["Retry-After"] = String(secs);
            st.details = { retryAfterSeconds: secs };
          }
          throw new ApiError(st, headers);
        }
      }
      attrs.user = user;
      if (this.opts.authz === "rbac") {
        const decision = this.rbac.decide(user, attrs);
        if (!decision.allowed) throw forbiddenError(user, attrs, decision.reason);
      }
      if (!route) return this.nonResource(method, path, res, record);
      if (this.auth.handles({ ...route, resource: route.info.resource }, attrs.verb)) {
        const body = this.objectBody(this.decode(await this.readBody(req), req.headers["content-type"], "create", route.info.kind));
        const answer = this.auth.serve({ ...route, resource: route.info.resource }, user, body);
        record.status = answer.code;
        const out = answer.body as KubeObject;
        // Reviews and TokenRequests are never stored, yet the real server runs its field manager
        // over the request and answers with that entry (recorded: tokenreview/*, tokenrequest/*).
        // A SelfSubjectRulesReview's answer is a new object, without one.
        if (answer.code === 201 && out?.metadata && out.kind !== "SelfSubjectRulesReview") {
          const ctx = this.managerContext(req, url.searchParams, route, "Update");
          const [g, v] = String(out.apiVersion).includes("/") ? String(out.apiVersion).split("/") : ["", String(out.apiVersion)];
          const gvk = { group: g!, version: v!, kind: String(out.kind) };
          const mf = trackUpdate(gvk, undefined, { ...body, kind: out.kind, apiVersion: out.apiVersion } as KubeObject, { ...ctx, apiVersion: String(out.apiVersion) }).metadata.managedFields;
          if (mf) out.metadata = { ...out.metadata, managedFields: mf };
        }
        return this.json(res, answer.code, out);
      }
      await this.resource(req, res, method, url.searchParams, route, attrs, record);
    } catch (err) {
      const e =
        err instanceof ApiError ? err : new ApiError(statusObject(500, "InternalError", `Internal error occurred: ${(err as Error).message}`));
      if (!(err instanceof ApiError)) console.error("kube-apiserver: internal error", err);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      record.status = e.code;
      this.json(res, e.code, e.status, e.headers);
    }
  }

  private json(res: ServerResponse, code: number, body: unknown, headers: Record<string, string | string[]> = {}): void {
    // The negotiated representation (JSON/YAML, Table, PartialObjectMetadata, API version): representation.ts.
    const out = render(res, code, body, headers);
    res.writeHead(out.code, { "Content-Type": out.contentType, "Content-Length": Buffer.byteLength(out.text), ...out.headers });
    res.end(out.text);
  }

  private discoveryDocs?: Discovery;
  /** Discovery, /version, /openapi and the 404s of unserved paths (discovery.ts). */
  private get discovery(): Discovery {
    return (this.discoveryDocs ??= new Discovery(this.registry, this.opts.kubernetesVersion, this.serverUrl));
  }

  private authenticate(req: IncomingMessage): UserInfo {
    // No bearer token (no header, another scheme): anonymous. A token: static tokens, then
    // ServiceAccount tokens (TokenRequest); an unknown one is a 401.
    const token = bearerToken(req.headers.authorization);
    if (token === undefined) return ANONYMOUS;
    const user = this.auth.authenticateToken(token);
    if (!user) throw errors.unauthorized();
    return user;
  }

  /** Parses a resource path; undefined for non-resource paths (discovery, health, version). */
  private route(path: string): ResourceRoute | undefined {
    const segs = path
      .split("/")
      .filter(Boolean)
      .map((seg) => {
        try {
          return decodeURIComponent(seg);
        } catch {
          throw errors.badRequest(`malformed URL path segment ${JSON.stringify(seg)}`);
        }
      });
    let group: string;
    let version: string;
    let rest: string[];
    if (segs[0] === "api" && segs.length >= 3) {
      group = "";
      version = segs[1]!;
      rest = segs.slice(2);
    } else if (segs[0] === "apis" && segs.length >= 4) {
      group = segs[1]!;
      version = segs[2]!;
      rest = segs.slice(3);
    } else return undefined;
    let legacyWatch = false;
    if (rest[0] === "watch") {
      legacyWatch = true;
      rest = rest.slice(1);
    }
    let namespace: string | undefined;
    if (rest[0] === "namespaces" && rest.length >= 3 && !(rest.length === 3 && (rest[2] === "status" || rest[2] === "finalize"))) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    if (rest.length === 0 || rest.length > 3) throw this.discovery.notFound(path);
    const [resource, name, subresource] = rest as [string, string | undefined, string | undefined];
    // events.k8s.io Events are served from the core Event storage (events.ts).
    let info = storedAs(this.registry, this.registry.get(group, version, resource));
    const known = info !== undefined;
    if (!info) {
      if (!this.opts.learnUnknownResources) throw this.discovery.notFound(path);
      if (group === "" || (isBuiltinGroup(group) && [...this.registry.groups().keys()].includes(group))) throw errors.notFoundPath();
      // An unknown (CRD-like) resource: provisional until a create teaches us its kind and scope.
      const kind = resource.replace(/s$/, "").replace(/^./, (c) => c.toUpperCase());
      info = resourceInfo({ group, version, resource, kind, namespaced: namespace !== undefined, generation: true });
    }
    if (info.namespaced === false && namespace !== undefined && known) throw errors.notFoundPath();
    if (subresource !== undefined && !(subresource === "status" && info.statusSubresource) && !(subresource === "scale" && (info.crd?.scale ?? info.scale)) && !(subresource === "token" && group === "" && resource === "serviceaccounts")) throw errors.notFoundPath();
    return { group, version, info, known, namespace, name, subresource, legacyWatch };
  }

  private attributes(method: string, path: string, q: URLSearchParams, r: ResourceRoute | undefined): RequestAttributes {
    if (!r) return { verb: method.toLowerCase(), resourceRequest: false, apiGroup: "", resource: "", subresource: "", namespace: "", name: "", path };
    // ?watch on a single object's path is ignored (a plain GET); /watch/…/name watches that object.
    const watch = r.legacyWatch || ((q.get("watch") === "1" || q.get("watch") === "true") && !r.name);
    let verb: string;
    switch (method) {
      case "GET":
      case "HEAD":
        verb = watch ? "watch" : r.name ? "get" : "list";
        break;
      case "POST":
        verb = "create";
        break;
      case "PUT":
        verb = "update";
        break;
      case "PATCH":
        verb = "patch";
        break;
      case "DELETE":
        verb = r.name ? "delete" : "deletecollection";
        break;
      default:
        throw errors.methodNotAllowed(`the server does not allow this method on the requested resource`);
    }
    let name = r.name ?? "";
    if (!name && (verb === "list" || verb === "watch")) {
      // As the real authorizer does: a list/watch narrowed to one name is authorized as that name.
      const m = /(?:^|,)metadata\.name==?([^,]+)/.exec(q.get("fieldSelector") ?? "");
      if (m) name = m[1]!;
    }
    return {
      verb,
      resourceRequest: true,
      apiGroup: r.group,
      resource: r.info.resource,
      subresource: r.subresource ?? "",
      // RequestInfo: a namespace object's own path (/api/v1/namespaces/<n>[/status]) is in namespace <n>.
      namespace: r.namespace ?? (r.group === "" && r.info.resource === "namespaces" && r.name ? r.name : ""),
      name,
      path,
    };
  }

  // ---- non-resource endpoints ----------------------------------------------------------------

  private nonResource(method: string, path: string, res: ServerResponse, record: RequestRecord): void {
    // /healthz, /livez, /readyz[/<check>] with any method, as the real handlers (health.ts).
    if (serveHealth(this.opts.health, res, record)) return;
    if (method !== "GET" && method !== "HEAD") throw errors.methodNotAllowed("the server does not allow this method on the requested resource");
    if (this.opts.metrics?.serve(method, path, res, record)) return;
    const ok = (body: unknown): void => {
      record.status = 200;
      this.json(res, 200, body);
    };
    const oidc = this.auth.discoveryDocument(path, this.serverUrl()); // ServiceAccount issuer discovery (reviews.ts)
    if (oidc) {
      record.status = 200;
      res.writeHead(200, { "Content-Type": oidc.contentType });
      res.end(oidc.body);
      return;
    }
    // Discovery, /version, /openapi/v3 root, /openapi/v2 (discovery.ts).
    const doc = this.discovery.document(path);
    const raw = doc?.contentType ? doc.body : path === "/openapi/v2" ? this.discovery.openApiV2(undefined)?.body : undefined;
    if (raw !== undefined) {
      record.status = 200;
      res.writeHead(200, { "Content-Type": doc?.contentType ?? "application/json" });
      res.end(raw);
      return;
    }
    if (doc) return ok(doc.body);
    throw this.discovery.notFound(path);
  }

  // ---- resources -------------------------------------------------------------------------------

  private async readBody(req: IncomingMessage): Promise<Buffer> {
    const declared = Number(req.headers["content-length"] ?? "0");
    if (declared > this.opts.maxBodyBytes) {
      req.resume();
      throw errors.tooLarge(this.opts.maxBodyBytes);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req as AsyncIterable<Buffer>) {
      size += c.length;
      if (size > this.opts.maxBodyBytes) {
        req.resume();
        throw errors.tooLarge(this.opts.maxBodyBytes);
      }
      chunks.push(c);
    }
    return Buffer.concat(chunks);
  }

  private decode(body: Buffer, contentType: string | undefined, what: string, kind?: string): unknown {
    const ct = (contentType ?? "application/json").split(";")[0]!.trim().toLowerCase();
    const text = body.toString("utf8");
    if (text.trim() === "") throw errors.badRequest(`${what}: the request body is empty`);
    try {
      if (ct === "application/yaml" || ct === "application/apply-patch+yaml") return parseYaml(text);
      if (ct === "application/json" || ct.endsWith("+json") || ct === "") return parseJsonBody(text);
    } catch (err) {
      if (kind && ct === "application/json") {
        // The real decoder first sniffs apiVersion/kind, and fails there on broken JSON.
        const snippet = text.length > 30 ? `${text.slice(0, 30)} ...` : text;
        throw errors.badRequest(`the object provided is unrecognized (must be of type ${kind}): couldn't get version/kind; json parse error: ${goJsonError(err as Error)} (${snippet})`);
      }
      throw errors.badRequest(`${what}: couldn't decode the request body as ${ct}: ${(err as Error).message}`);
    }
    throw errors.unsupportedMediaType(ct);
  }

  private async resource(
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    q: URLSearchParams,
    r: ResourceRoute,
    attrs: RequestAttributes,
    record: RequestRecord,
  ): Promise<void> {
    if (attrs.verb !== "list" && attrs.verb !== "watch" && attrs.verb !== "deletecollection" && attrs.verb !== "create" && r.info.namespaced && !r.namespace && r.known)
      throw errors.notFoundPath();
    // Deprecation warning, 406, events.k8s.io selectors, the answer's representation (representation.ts).
    represent(req, res, r, attrs.verb, q);
    const dryRun = this.dryRun(q, attrs.verb);
    const send = (code: number, body: unknown, headers: Record<string, string | string[]> = {}): void => {
      record.status = code;
      this.json(res, code, body, headers);
    };
    if (r.subresource === "scale") {
      // The scale subresource of workloads and custom resources (scale.ts): an autoscaling/v1 Scale.
      const body = attrs.verb === "get" ? undefined : this.decode(await this.readBody(req), req.headers["content-type"], attrs.verb);
      const patchType = attrs.verb === "patch" ? patchTypeOf(req.headers["content-type"]) : undefined;
      const manager = attrs.verb === "get" ? undefined : this.managerContext(req, q, r, "Update");
      return send(200, scaleRequest(this.store, r.info, r.namespace, r.name!, attrs.verb, body, { dryRun, patchType, ...(manager && { manager }) }));
    }
    switch (attrs.verb) {
      case "get": {
        const o = this.store.getRaw(r.info, r.namespace, r.name!);
        if (!o) throw errors.notFound({ group: r.group, resource: r.info.resource, name: r.name });
        return send(200, r.info.crd ? defaultOnRead(r.info, o) : o);
      }
      case "list":
        return send(200, r.info.crd ? defaultOnRead(r.info, await this.list(r, q)) : await this.list(r, q));
      case "watch": {
        const sendInitial = q.get("sendInitialEvents");
        const bookmarks = q.get("allowWatchBookmarks") === "true" || q.get("allowWatchBookmarks") === "1";
        const rvMatch = q.get("resourceVersionMatch");
        // The real server's watch option validation (apimachinery/pkg/apis/meta/internalversion/validation).
        if (sendInitial !== null) {
          if (rvMatch !== "NotOlderThan")
            throw errors.badRequest('resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan');
          if (!bookmarks) throw errors.badRequest("allowWatchBookmarks: Forbidden: sendInitialEvents requires setting allowWatchBookmarks to true");
        } else if (rvMatch) throw errors.badRequest("resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided");
        const ts = q.get("timeoutSeconds");
        if (ts !== null && !/^[0-9]+$/.test(ts)) throw errors.badRequest(`timeoutSeconds: invalid value ${JSON.stringify(ts)}`);
        this.hub.serve(req, res, this.store, {
          info: r.info,
          namespace: r.namespace,
          name: r.name,
          label: labelMatcher(q.get("labelSelector")),
          field: fieldMatcher(q.get("fieldSelector"), r.info.fields),
          resourceVersion: q.get("resourceVersion") ?? undefined,
          allowBookmarks: bookmarks,
          sendInitialEvents: sendInitial === "true",
          timeoutSeconds: ts === null ? undefined : Number(ts),
          bookmarkIntervalMs: this.opts.bookmarkIntervalMs,
          bookmarkTiming: this.opts.bookmarkTiming,
          transform: watchTransform(res),
        });
        record.status = res.statusCode;
        return;
      }
      case "create": {
        if (r.name) throw errors.methodNotAllowed("the server does not allow this method on the requested resource");
        const obj = this.objectBody(this.decode(await this.readBody(req), req.headers["content-type"], "create", r.info.kind));
        const info = this.resolveForWrite(r, obj);
        this.checkIdentity(info, r, obj);
        if (this.opts.authz === "rbac") this.rbac.admitWrite(attrs.user!, info, r.namespace, obj); // RBAC escalation check
        const { created, headers } = await this.admitAndCreate(info, r, obj, q, dryRun, this.managerContext(req, q, r, "Update"));
        return send(201, created, headers);
      }
      case "update": {
        if (!r.name) throw errors.methodNotAllowed("the server does not allow this method on the requested resource");
        const obj = this.objectBody(this.decode(await this.readBody(req), req.headers["content-type"], "update", r.info.kind));
        const info = this.resolveForWrite(r, obj);
        this.checkIdentity(info, r, obj);
        if (obj.metadata?.name !== r.name)
          throw errors.badRequest(`the name of the object (${String(obj.metadata?.name)}) does not match the name on the URL (${r.name})`);
        if (this.opts.authz === "rbac") this.rbac.admitWrite(attrs.user!, info, r.namespace, obj, this.store.getRaw(info, r.namespace, r.name)); // RBAC escalation check
        const live = this.store.getRaw(info, r.namespace, r.name);
        applyDefaults(info, obj, live);
        const scope = r.subresource === "status" ? "status" : "main";
        const warnings = await this.validate(info, obj, q, "update", live, scope);
        if (live) obj.metadata.managedFields = trackUpdate(gvkOf(info), live, obj, this.managerContext(req, q, r, "Update")).metadata.managedFields;
        return send(200, this.store.replace(info, r.namespace, r.name, obj, { dryRun, scope }), warnings);
      }
      case "patch":
        return this.patch(req, q, r, dryRun, send, attrs.user);
      case "delete": {
        const opts = await this.deleteOptions(req, q);
        const out = this.store.removeWithOutcome(r.info, r.namespace, r.name!, { ...opts, dryRun, api: true });
        // Deleted at once: a Status, unless the kind's registry returns deleted objects.
        if (out.deleted && !RETURNS_DELETED_OBJECT.has(`${r.info.group}/${r.info.resource}`))
          return send(200, {
            kind: "Status",
            apiVersion: "v1",
            metadata: {},
            status: "Success",
            details: { name: out.object.metadata.name, ...(r.group && { group: r.group }), kind: r.info.resource, uid: out.object.metadata.uid },
          });
        return send(200, out.object);
      }
      case "deletecollection": {
        const opts = await this.deleteOptions(req, q);
        const label = labelMatcher(q.get("labelSelector"));
        const field = fieldMatcher(q.get("fieldSelector"), r.info.fields);
        const victims = this.store.listCurrent(r.info, r.namespace).filter((o) => label(o) && field(o));
        // The answer lists the objects as they were listed for deletion, not as the deletes left them.
        const items = victims.map((o) => {
          const before = structuredClone(o);
          this.store.remove(r.info, o.metadata.namespace, o.metadata.name!, { ...opts, dryRun, api: true });
          return before;
        });
        return send(200, {
          kind: r.info.listKind,
          apiVersion: groupVersion(r.info.group, r.info.version),
          metadata: { resourceVersion: String(this.store.resourceVersion) },
          items: isBuiltinGroup(r.group) ? items.map(stripTypeMeta) : items,
        });
      }
    }
    void method;
  }

  private dryRun(q: URLSearchParams, verb: string): boolean {
    const vals = q.getAll("dryRun");
    if (vals.some((v) => v !== "All")) {
      const options = { create: "CreateOptions", update: "UpdateOptions", patch: "PatchOptions", delete: "DeleteOptions", deletecollection: "DeleteOptions" }[verb] ?? "ListOptions";
      // Go's %#v of the []string, as the real validation prints it.
      const message = `Unsupported value: []string{${vals.map((v) => JSON.stringify(v)).join(", ")}}: supported values: "All"`;
      throw errors.invalid(options, { group: "meta.k8s.io", resource: "" }, [{ reason: "FieldValueNotSupported", message, field: "dryRun" }]);
    }
    return vals.length > 0;
  }

  private objectBody(v: unknown): KubeObject {
    if (v === null || typeof v !== "object" || Array.isArray(v)) throw errors.badRequest("the request body must be a JSON object");
    const o = v as KubeObject;
    if (o.metadata !== undefined && (o.metadata === null || typeof o.metadata !== "object" || Array.isArray(o.metadata)))
      throw errors.badRequest("metadata: must be an object");
    o.metadata = o.metadata ?? {};
    return o;
  }

  /** Checks apiVersion/kind in the body against the URL, learning unknown (CRD-like) resources. */
  private resolveForWrite(r: ResourceRoute, obj: KubeObject): ResourceInfo {
    if (typeof obj.kind !== "string" || obj.kind === "") throw errors.badRequest(`Object 'Kind' is missing in '${JSON.stringify(obj).slice(0, 200)}'`);
    const gv = groupVersion(r.group, r.version);
    if (obj.apiVersion !== gv)
      throw errors.badRequest(`the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${gv})`);
    if (!r.known) {
      const learned = this.registry.learn(r.group, r.version, r.info.resource, obj.kind, r.namespace !== undefined);
      r.info = learned;
      r.known = true;
    }
    if (obj.kind !== r.info.kind) {
      // The decoder finds the body's kind and fails converting it to the internal type of the URL's.
      const internal = r.group === "" ? "core" : r.group.split(".")[0];
      throw errors.badRequest(
        `${obj.kind} in version ${JSON.stringify(r.version)} cannot be handled as a ${r.info.kind}: converting (${r.version}.${obj.kind}) to (${internal}.${r.info.kind}): unknown conversion`,
      );
    }
    // Events: events.k8s.io bodies become the stored core Event; both APIs' validation (events.ts).
    eventForStorage(r.group, r.info, r.namespace, obj, r.name ? this.store.getRaw(r.info, r.namespace, r.name) : undefined);
    return r.info;
  }

  private checkIdentity(info: ResourceInfo, r: ResourceRoute, obj: KubeObject): void {
    const ns = obj.metadata.namespace;
    if (info.namespaced && ns !== undefined && ns !== "" && ns !== r.namespace)
      throw errors.badRequest("the namespace of the provided object does not match the namespace sent on the request");
    if (info.namespaced && !r.namespace) throw errors.notFoundPath();
  }

  /** Who is writing, for metadata.managedFields: ?fieldManager, else the User-Agent up to its first "/". */
  private managerContext(req: IncomingMessage, q: URLSearchParams, r: ResourceRoute, operation: "Update" | "Apply"): ManagerContext {
    return {
      manager: q.get("fieldManager") ?? defaultFieldManager(req.headers["user-agent"]),
      operation,
      apiVersion: groupVersion(r.group, r.version),
      ...(r.subresource && { subresource: r.subresource }),
      time: nowTimestamp(),
      ...(r.info.crd?.schema && { schema: r.info.crd.schema as StructuralSchema }),
    };
  }

  /**
   * The create pipeline after decoding, in the real server's order: defaulting, mutating admission
   * (NamespaceLifecycle, ServiceAccount, Priority, DefaultTolerationSeconds), validation,
   * validating admission (PodSecurity, also for dry runs), then storage.
   */
  private async admitAndCreate(
    info: ResourceInfo,
    r: ResourceRoute,
    obj: KubeObject,
    q: URLSearchParams,
    dryRun: boolean,
    manager: ManagerContext | undefined,
  ): Promise<{ created: KubeObject; headers: Record<string, string | string[]> }> {
    applyDefaults(info, obj);
    // Field ownership is tracked on the defaulted object, before admission adds its own fields.
    if (manager) obj.metadata.managedFields = trackUpdate(gvkOf(info), undefined, obj, manager).metadata.managedFields;
    admitNamespace(this.store, info, r.namespace, String(obj.metadata.name ?? obj.metadata.generateName ?? ""));
    if (info.group === "" && info.resource === "pods") admitPodCreate(obj);
    const headers: Record<string, string | string[]> = { ...(await this.validate(info, obj, q)) };
    const psa = admitPodSecurity(this.store, info, { ...obj, metadata: { ...obj.metadata, namespace: r.namespace } });
    addWarnings(headers, psa);
    if (info.statusSubresource) this.resetStatusOnCreate(info, obj);
    const created = this.store.createIn(info, r.namespace, obj, { dryRun, prepare: (o) => this.prepareCreate(info, o) });
    return { created, headers };
  }

  private prepareCreate(info: ResourceInfo, obj: KubeObject): void {
    if (info.group === "" && info.resource === "pods") seccompAnnotations(obj);
    if (info.group === "batch" && info.resource === "jobs") jobLabels(obj);
  }

  private resetStatusOnCreate(info: ResourceInfo, obj: KubeObject): void {
    // As the registry strategies do in PrepareForCreate: clients cannot create an object with a status.
    // Built-in kinds have a non-pointer status struct: it encodes as {} when empty.
    if (info.group !== "") {
      if (isBuiltinGroup(info.group)) obj.status = {};
      else delete obj.status;
    } else if (info.resource === "pods") obj.status = { phase: "Pending", qosClass: qosClass(obj) };
    else if (info.resource === "namespaces") {
      // The registry's PrepareForCreate: the "kubernetes" finalizer (not owned by the writer).
      obj.status = { phase: "Active" };
      obj.spec = { ...((obj.spec as object | undefined) ?? {}), finalizers: ["kubernetes"] };
    }
    else if (info.resource === "services") obj.status = { loadBalancer: {} };
  }

  /**
   * Decoding (OpenAPI types, 400), fieldValidation (unknown/duplicate fields; default Warn), pruning,
   * CRD/CR defaults and 422 checks (validation.ts); returns the Warning headers to send.
   */
  private async validate(
    info: ResourceInfo,
    obj: KubeObject,
    q: URLSearchParams,
    verb: "create" | "update" | "patch" = "create",
    old?: KubeObject,
    scope: "main" | "status" = "main",
  ): Promise<Record<string, string[]>> {
    if (this.opts.validation === "off") return {};
    return validateWrite(info, obj, q.get("fieldValidation"), verb, this.opts.serverSideFieldValidation !== false, old, scope);
  }

  private async patch(
    req: IncomingMessage,
    q: URLSearchParams,
    r: ResourceRoute,
    dryRun: boolean,
    send: (code: number, body: unknown, headers?: Record<string, string | string[]>) => void,
    user?: UserInfo,
  ): Promise<void> {
    if (!r.name) throw errors.methodNotAllowed("the server does not allow this method on the requested resource");
    const type: PatchType = patchTypeOf(req.headers["content-type"]);
    if (q.get("force") !== null && type !== "apply")
      throw errors.invalid("PatchOptions", { group: "meta.k8s.io", resource: "" }, [
        { reason: "FieldValueForbidden", message: "Forbidden: may not be specified for non-apply patch", field: "force" },
      ]);
    let patch: Json;
    try {
      patch = this.decode(await this.readBody(req), req.headers["content-type"], "patch") as Json;
    } catch (err) {
      // The patch libraries' own words (evanphx/json-patch for merge patches).
      if (err instanceof ApiError && err.code === 400 && (type === "merge" || type === "strategic")) throw errors.badRequest("Invalid JSON Patch");
      throw err;
    }
    if (type === "json" && !Array.isArray(patch))
      throw errors.badRequest(`json: cannot unmarshal ${patch === null ? "null" : typeof patch === "object" ? "object" : typeof patch} into Go value of type jsonpatch.Patch`);
    const cur = this.store.getRaw(r.info, r.namespace, r.name);
    if (type === "apply") {
      const manager = q.get("fieldManager");
      if (!manager)
        throw errors.invalid("PatchOptions", { group: "meta.k8s.io", resource: "" }, [
          { reason: "FieldValueRequired", message: "Required value: is required for apply patch", field: "fieldManager" },
        ]);
      const body = this.objectBody(patch);
      const info = this.resolveForWrite(r, body);
      if (body.metadata.name !== r.name)
        throw errors.badRequest(`the name of the object (${String(body.metadata.name)}) does not match the name on the URL (${r.name})`);
      this.checkIdentity(info, r, body);
      if (!cur) {
        if (r.subresource) throw errors.notFound({ group: r.group, resource: r.info.resource, name: r.name });
        if (this.opts.authz === "rbac" && user) this.rbac.admitWrite(user, info, r.namespace, body); // RBAC escalation check
        const applied = serverSideApply(gvkOf(info), undefined, body, { ...this.managerContext(req, q, r, "Apply"), force: q.get("force") === "true" });
        const { created, headers } = await this.admitAndCreate(info, r, applied, q, dryRun, undefined);
        return send(201, created, headers);
      }
    }
    if (!cur) throw errors.notFound({ group: r.group, resource: r.info.resource, name: r.name });
    if (type === "merge" || type === "strategic" || type === "apply") this.objectBody(patch);
    const gvk = gvkOf(r.info);
    const patched =
      type === "apply"
        ? serverSideApply(gvk, cur, this.objectBody(patch), { ...this.managerContext(req, q, r, "Apply"), force: q.get("force") === "true" })
        : (applyPatch(type, structuredClone(inRequestVersion(r, cur)) as unknown as Json, patch) as unknown as KubeObject);
    const obj = this.objectBody(patched);
    dropEmptyMetadataMaps(obj);
    if (obj.metadata.name !== r.name) throw errors.badRequest("metadata.name: the name of an object cannot be changed by a patch");
    const info = this.resolveForWrite(r, obj);
    if (this.opts.authz === "rbac" && user) this.rbac.admitWrite(user, info, r.namespace, obj, cur); // RBAC escalation check
    applyDefaults(info, obj, cur);
    const scope = r.subresource === "status" ? "status" : "main";
    const warnings = await this.validate(info, obj, q, type === "apply" ? "create" : "patch", cur, scope);
    if (type !== "apply") obj.metadata.managedFields = trackUpdate(gvk, cur, obj, this.managerContext(req, q, r, "Update")).metadata.managedFields;
    send(200, this.store.replace(info, r.namespace, r.name, obj, { dryRun, scope }), warnings);
  }

  private async deleteOptions(req: IncomingMessage, q: URLSearchParams): Promise<DeleteOptions> {
    const body = await this.readBody(req);
    const fromQuery: Record<string, unknown> = {};
    if (q.get("propagationPolicy")) fromQuery.propagationPolicy = q.get("propagationPolicy");
    if (q.get("gracePeriodSeconds")) fromQuery.gracePeriodSeconds = Number(q.get("gracePeriodSeconds"));
    const o =
      body.length === 0 || body.toString().trim() === ""
        ? fromQuery
        : ({ ...fromQuery, ...(this.decode(body, req.headers["content-type"], "DeleteOptions") as object) } as Record<string, unknown>);
    if (o === null || typeof o !== "object" || Array.isArray(o)) throw errors.badRequest("DeleteOptions: must be a JSON object");
    const policy = o.propagationPolicy;
    if (policy !== undefined && policy !== null && !["Orphan", "Background", "Foreground"].includes(String(policy)))
      throw errors.badRequest(`DeleteOptions.propagationPolicy: Unsupported value: ${JSON.stringify(policy)}: supported values: "Foreground", "Background", "Orphan"`);
    const grace = o.gracePeriodSeconds;
    if (grace !== undefined && grace !== null && (typeof grace !== "number" || grace < 0 || !Number.isInteger(grace)))
      throw errors.badRequest(`DeleteOptions.gracePeriodSeconds: Invalid value: ${JSON.stringify(grace)}: must be a non-negative integer`);
    const out: DeleteOptions = {};
    if (typeof grace === "number") out.gracePeriodSeconds = grace;
    const pre = o.preconditions as DeleteOptions["preconditions"];
    if (pre) out.preconditions = pre;
    if (policy) out.propagationPolicy = policy as PropagationPolicy;
    return out;
  }

  /**
   * LIST with the v1.25 semantics of resourceVersion / resourceVersionMatch / limit / continue
   * (README item 7 and 8 of the recordings): resourceVersion=0 and NotOlderThan are served from
   * the watch cache (limit ignored for 0); Exact, a paged list with an RV, and continue tokens
   * read storage at that revision (410 once etcd compacted it); pages are cut over storage keys,
   * so with a selector the page that ends the set still carries a continue token.
   */
  private async list(r: ResourceRoute, q: URLSearchParams): Promise<Record<string, unknown>> {
    const label = labelMatcher(q.get("labelSelector"));
    const field = fieldMatcher(q.get("fieldSelector"), r.info.fields);
    const limitRaw = q.get("limit");
    if (limitRaw !== null && !/^-?[0-9]+$/.test(limitRaw)) throw errors.badRequest(`limit: invalid value ${JSON.stringify(limitRaw)}`);
    let limit = limitRaw === null ? 0 : Math.max(0, Number(limitRaw));
    const rvParam = q.get("resourceVersion") ?? "";
    const match = q.get("resourceVersionMatch") ?? "";
    const cont = q.get("continue") ?? "";
    const listOptionsInvalid = (reason: string, message: string) =>
      errors.invalid("ListOptions", { group: "meta.k8s.io", resource: "" }, [{ reason, message, field: "resourceVersionMatch" }]);
    if (match !== "" && rvParam === "") throw listOptionsInvalid("FieldValueForbidden", "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided");
    if (match !== "" && match !== "Exact" && match !== "NotOlderThan")
      throw listOptionsInvalid("FieldValueNotSupported", `Unsupported value: ${JSON.stringify(match)}: supported values: "Exact", "NotOlderThan", ""`);
    if (match === "Exact" && rvParam === "0") throw listOptionsInvalid("FieldValueForbidden", 'Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"');
    if (rvParam !== "" && !/^[0-9]+$/.test(rvParam)) throw invalidResourceVersion(rvParam);
    const current = this.store.resourceVersion;
    let at = current;
    let after = "";
    let fromStorage = false;
    if (cont) {
      if (rvParam !== "" && rvParam !== "0") throw errors.badRequest("specifying resource version is not allowed when using continue");
      const token = decodeContinueToken(cont);
      after = token.start;
      if (token.rv > 0 && token.rv < this.store.etcdCompactedResourceVersion) {
        // Storage forgot that revision: say so, and offer an inconsistent continuation (rv -1).
        const gone = errors.gone(
          "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
        );
        gone.status.metadata = { continue: encodeContinueToken(-1, token.start) };
        throw gone;
      }
      at = token.rv > 0 ? token.rv : current;
      fromStorage = true;
    } else if (rvParam === "0") {
      limit = 0; // served whole from the watch cache
    } else if (rvParam !== "") {
      const want = Number(rvParam);
      if (match === "Exact" || (match === "" && limit > 0)) {
        at = want;
        fromStorage = true;
      } else if (want > current) {
        // The watch cache waits up to 3 s to catch up with a future RV, then gives up.
        await new Promise((res) => setTimeout(res, this.opts.futureResourceVersionWaitMs));
        if (want > this.store.resourceVersion) throw tooLargeResourceVersion(want, this.store.resourceVersion);
        at = this.store.resourceVersion;
      }
    }
    const all = fromStorage && at !== current ? this.store.snapshot(r.info, r.namespace, at) : this.store.listCurrent(r.info, r.namespace);
    // Storage keys are relative to the list's prefix: "name" within a namespace, "ns/name" across.
    const keyOf = (o: KubeObject) => (r.namespace || !o.metadata.namespace ? String(o.metadata.name) : `${o.metadata.namespace}/${o.metadata.name}`);
    const rest = after ? all.filter((o) => keyOf(o) >= after) : all;
    let items: KubeObject[] = [];
    let last = -1;
    for (let i = 0; i < rest.length; i++) {
      if (limit > 0 && items.length === limit) break;
      if (label(rest[i]!) && field(rest[i]!)) items.push(rest[i]!);
      last = i;
    }
    const metadata: Record<string, unknown> = { resourceVersion: String(at) };
    const keysLeft = rest.length - 1 - last;
    if (limit > 0 && items.length === limit && keysLeft > 0) {
      metadata.continue = encodeContinueToken(at, `${keyOf(items[items.length - 1]!)}\u0000`);
      if (!q.get("labelSelector") && !q.get("fieldSelector")) metadata.remainingItemCount = keysLeft;
    }
    items = items.map((o) => structuredClone(o));
    return {
      kind: r.info.listKind,
      apiVersion: groupVersion(r.info.group, r.info.version),
      metadata,
      // Typed lists of built-in kinds carry no apiVersion/kind on their items; CRD lists do.
      items: isBuiltinGroup(r.group) ? items.map(stripTypeMeta) : items,
    };
  }

}
