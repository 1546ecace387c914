/**
 * Test Kubernetes API server: real REST + watch over HTTP(S) on loopback, for tests and benches.
 *
 *   const api = await startTestApiServer({ tls?, authz?, tokens?, compactionWindow?, validation?, ... });
 *   api.url                     "http://127.0.0.1:PORT" (https:// when tls; trust api.caFile / api.caPem)
 *   api.writeKubeconfig(dir, { token?, user?, namespace? }) -> path of a kubeconfig (0600) for the server
 *   api.store                   direct access for simulated cluster actors; writes bump resourceVersion
 *                               and emit watch events exactly like API writes (no validation, no authz):
 *                                 get(gvr, ns, name) list(gvr, ns?) create(obj) update(obj)
 *                                 patchStatus(gvr, ns, name, statusMergePatch | (old) => new)
 *                                 delete(gvr, ns, name) onChange(fn) -> unsubscribe
 *                               gvr: "pods" | "deployments.apps" | "apps/v1/deployments" | "v1/pods" | {group,version,resource}
 *                               Errors are thrown as ApiError (err.code, err.status = the Status object).
 *   api.faults.inject({ method?, pathRegex?, verb?, status?, count?, delayMs?, hang?, retryAfterSeconds? }); api.faults.clear()
 *   api.cutWatches()            reset every open watch socket mid-stream (no final chunk); returns how many
 *   api.stallWatches()          keep open watches open but send nothing more on them; returns how many
 *   api.openWatches             number of watch streams currently open
 *   api.compact()               forget history: watches from older RVs get an in-stream 410 ERROR event,
 *                               exact lists / continue tokens at older RVs get 410 Expired
 *   api.metrics.setMetrics(text | () => text)   what GET /metrics answers (default: the recorded v1.25 kube-apiserver.prom)
 *   api.requests                log of { method, path, query, user, verb, resource, namespace, name, status }
 *   api.close()
 *
 * Semantics follow the real kube-apiserver (see docs in the file headers of store/watch/patch/rbac/validation):
 * global resourceVersion counter, generation bump on spec change (apps, batch, CRDs), Status errors
 * (404 NotFound, 409 AlreadyExists/Conflict, 422 Invalid, 400 BadRequest, 403 Forbidden, 410 Expired),
 * PATCH merge/strategic/json/apply, dryRun=All, label/field selectors, limit/continue, watch bookmarks,
 * timeoutSeconds, selector-aware watch (object leaving the selector -> DELETED), RBAC from stored
 * Roles/Bindings (group system:masters bypasses), fieldValidation Strict/Warn (default)/Ignore against the
 * recorded v1.25 OpenAPI document (openapi.ts), CustomResourceDefinitions served as the real apiextensions
 * server does (crds.ts: schema validation, pruning, defaults, status and scale subresources).
 * Authentication: "Authorization: Bearer T" looked up in `tokens` (unknown -> 401); no header ->
 * system:anonymous. Namespaces need not exist unless requireNamespaces. Deleting a namespace deletes
 * its contents. Objects with finalizers get a deletionTimestamp and go when the finalizers are removed.
 * Not modelled: garbage collection by ownerReferences, admission, defaulting beyond pod/namespace status,
 * protobuf, aggregated discovery, server-side apply field ownership (apply = create-or-strategic-merge).
 */
import { writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { Faults } from "./faults.js";
import { RbacAuthorizer } from "./rbac.js";
import { installCrdController } from "./crds.js";
import { versionInfo, type VersionInfo } from "./discovery.js";
import { requireSharedKube } from "./openapi.js";
import { ResourceRegistry, type ResourceSpec } from "./resources.js";
import { ApiHandler, type RequestRecord } from "./server.js";
import { startControllers, type ControllersOption, type RunningControllers } from "./controllers/index.js";
import { ObjectStore } from "./store.js";
import { generateTls } from "./tls.js";
import { WatchHub } from "./watch.js";
import { HealthChecks, type EtcdHealthProbe } from "./health.js";
import { MetricsEndpoint } from "./metrics.js";

export { ApiError } from "./status.js";
export type { StatusObject } from "./status.js";
export type { KubeObject, ObjectMeta, StoreEvent } from "./store.js";
export type { FaultSpec, ActiveFault, Verb } from "./faults.js";
export type { RequestRecord } from "./server.js";
export type { ResourceInfo, ResourceSpec, GvrRef } from "./resources.js";
export { ObjectStore } from "./store.js";
export { installCrds } from "./crds.js";
export type { CustomResourceInfo } from "./crds.js";
export { SHARED_KUBE_DIR, RECORDED_DIR } from "./openapi.js";
export { DEFAULT_VERSION, RECORDED_VERSION, type VersionInfo } from "./discovery.js";
export { MetricsEndpoint, RECORDED_METRICS_FILE } from "./metrics.js";
export { HealthChecks, HEALTH_CHECKS, ETCD_HEALTHCHECK_TIMEOUT_MS, type EtcdHealthProbe, type HealthEndpoint } from "./health.js";

export interface TestApiServerOptions {
  /** Serve HTTPS with a freshly generated CA (default false). */
  tls?: boolean;
  /** "allow-all" (default) skips authorization; "rbac" evaluates stored RBAC objects. */
  authz?: "allow-all" | "rbac";
  /** Bearer tokens the server accepts, mapped to the user and groups they authenticate as. */
  tokens?: Record<string, { user: string; groups?: string[] }>;
  /** How many change events are kept for watch replay (default 10000); older RVs get 410. */
  compactionWindow?: number;
  /** "strict" (default): unknown fields rejected unless fieldValidation says otherwise, schemas checked. */
  validation?: "strict" | "off";
  /** Interval of BOOKMARK events on watches with allowWatchBookmarks=true (default 1000 ms). */
  bookmarkIntervalMs?: number;
  /** "interval" (default): a bookmark every bookmarkIntervalMs; "kube-apiserver": the real schedule (deadline - 2 s, then every second; else every minute). */
  bookmarkTiming?: "interval" | "kube-apiserver";
  /** Clock of the watch cache's 75 s window (tests advance it instead of waiting). */
  now?: () => number;
  /** Namespaced creates need an existing Namespace object (default false: every namespace exists). */
  requireNamespaces?: boolean;
  /** Request body limit (default 3 MiB, as the real server). */
  maxBodyBytes?: number;
  /** How long a list at a future resourceVersion waits before its 504 (default 3000 ms, as the real watch cache). */
  futureResourceVersionWaitMs?: number;
  /** Extra resource types to know up front, accepted as-is (for CRDs prefer creating the CustomResourceDefinition, or installCrds). */
  resources?: ResourceSpec[];
  /** Serve any unknown group/resource, learning kind and scope from its first create (default false: 404, as the real server). */
  learnUnknownResources?: boolean;
  /**
   * The ServerSideFieldValidation feature (default true: released Kubernetes, GA in 1.27). false
   * imitates the recorded pre-release v1.25 build, whose gate was off: fieldValidation is ignored
   * (unknown fields silently dropped, duplicates merged), only an unknown value is still a 422.
   */
  serverSideFieldValidation?: boolean;
  /** What `GET /version` claims, over DEFAULT_VERSION (v1.25.0); RECORDED_VERSION is the recorded build. */
  kubernetesVersion?: Partial<VersionInfo>;
  /**
   * Simulated control-plane controllers (controllers/index.ts; default off): true for all, or the
   * names / options of those to run (namespace, serviceaccount, root-ca-cert-publisher, scheduler,
   * deployment, replicaset, garbage-collector).
   */
  controllers?: ControllersOption;
  /**
   * The etcd health check (health.ts): absent, always ok; `{ healthUrl: etcd.clientUrl + "/health" }`
   * probes a real etcd (test/support/etcd.ts) on every run with the real 2 s timeout.
   */
  etcd?: EtcdHealthProbe;
}

export interface KubeconfigOptions {
  token?: string;
  /** Name of the kubeconfig user entry (default "test-user"). */
  user?: string;
  namespace?: string;
}

export interface TestApiServer {
  readonly url: string;
  readonly caFile?: string;
  readonly caPem?: string;
  readonly store: ObjectStore;
  readonly faults: Faults;
  readonly requests: RequestRecord[];
  /** The simulated controllers, when started with `controllers`. */
  readonly controllers?: RunningControllers;
  /** /healthz, /livez, /readyz: `setCheck("etcd" | "informer-sync" | "shutdown" | …, ok | errorText, { delayMs })`, `resetCheck()`. */
  readonly health: HealthChecks;
  /** GET /metrics: the recorded v1.25 text unless `setMetrics(text | () => text)`. */
  readonly metrics: MetricsEndpoint;
  readonly openWatches: number;
  writeKubeconfig(dir: string, opts?: KubeconfigOptions): string;
  cutWatches(): number;
  stallWatches(): number;
  compact(): void;
  /** What `etcdctl compact` does: lists at older revisions get 410, the watch caches keep their windows. */
  compactEtcd(): void;
  close(): Promise<void>;
}

let kubeconfigCounter = 0;

export async function startTestApiServer(options: TestApiServerOptions = {}): Promise<TestApiServer> {
  const registry = new ResourceRegistry(options.resources ?? []);
  const store = new ObjectStore(registry, {
    compactionWindow: options.compactionWindow ?? 10_000,
    requireNamespaces: options.requireNamespaces ?? false,
    now: options.now,
  });
  const hub = new WatchHub();
  const faults = new Faults();
  const rbac = new RbacAuthorizer(store, registry);
  const health = new HealthChecks({ etcd: options.etcd });
  const metrics = new MetricsEndpoint();
  let url = "";
  const handler = new ApiHandler(
    store,
    registry,
    hub,
    faults,
    rbac,
    {
      authz: options.authz ?? "allow-all",
      tokens: options.tokens ?? {},
      validation: options.validation ?? "strict",
      bookmarkIntervalMs: options.bookmarkIntervalMs ?? 1000,
      bookmarkTiming: options.bookmarkTiming ?? "interval",
      maxBodyBytes: options.maxBodyBytes ?? 3 * 1024 * 1024,
      futureResourceVersionWaitMs: options.futureResourceVersionWaitMs ?? 3000,
      kubernetesVersion: versionInfo(options.kubernetesVersion),
      learnUnknownResources: options.learnUnknownResources ?? false,
      serverSideFieldValidation: options.serverSideFieldValidation ?? true,
      health,
      metrics,
    },
    () => url,
  );
  // Validation reads the recorded v1.25 OpenAPI document (lazily): fail now, naming the folder.
  if ((options.validation ?? "strict") !== "off") requireSharedKube();
  installCrdController(store, registry);

  let tlsDir: string | undefined;
  let server: Server;
  let tls: Awaited<ReturnType<typeof generateTls>> | undefined;
  const onRequest = (req: Parameters<ApiHandler["handle"]>[0], res: Parameters<ApiHandler["handle"]>[1]) => {
    handler.handle(req, res).catch((err: unknown) => {
      // Last resort: never let one request take the server (and the test process) down.
      console.error("kube-apiserver: unhandled error", err);
      res.destroy();
    });
  };
  if (options.tls) {
    tlsDir = await mkdtemp(join(tmpdir(), "kube-apiserver-tls-"));
    tls = await generateTls(tlsDir);
    server = createHttpsServer({ cert: tls.certPem, key: tls.keyPem }, onRequest);
  } else server = createHttpServer(onRequest);
  // Before listening: a bad `controllers` option throws without leaving a server behind.
  const controllers = startControllers(store, options.controllers, { caPem: tls?.caPem });
  // Watches are long-lived: no request/headers timeouts cutting them off.
  server.requestTimeout = 0;
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  url = `${options.tls ? "https" : "http"}://127.0.0.1:${port}`;

  let closed = false;
  return {
    url,
    caFile: tls?.caFile,
    caPem: tls?.caPem,
    store,
    faults,
    requests: handler.requests,
    controllers,
    health,
    metrics,
    get openWatches() {
      return hub.count;
    },
    writeKubeconfig(dir, opts = {}) {
      const user = opts.user ?? "test-user";
      const cluster: Record<string, unknown> = { server: url };
      if (tls) cluster["certificate-authority-data"] = Buffer.from(tls.caPem).toString("base64");
      const context: Record<string, unknown> = { cluster: "test-apiserver", user };
      if (opts.namespace) context.namespace = opts.namespace;
      const doc = {
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "test-apiserver", cluster }],
        users: [{ name: user, user: opts.token ? { token: opts.token } : {} }],
        contexts: [{ name: "test", context }],
        "current-context": "test",
      };
      const path = join(dir, `kubeconfig-${process.pid}-${++kubeconfigCounter}.yaml`);
      writeFileSync(path, YAML.stringify(doc), { mode: 0o600 });
      return path;
    },
    cutWatches: () => hub.cutAll(),
    stallWatches: () => hub.stallAll(),
    compact: () => store.compact(),
    compactEtcd: () => store.compactEtcd(),
    async close() {
      if (closed) return;
      closed = true;
      controllers?.stop();
      hub.closeAll();
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await done;
      if (tlsDir) await rm(tlsDir, { recursive: true, force: true });
    },
  };
}
