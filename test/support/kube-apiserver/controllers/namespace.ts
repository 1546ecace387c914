// kube-controller-manager's namespace-scoped bootstrap and teardown (v1.25):
// - serviceaccount controller: the `default` ServiceAccount in every active namespace (recreated
//   when deleted);
// - root-ca-cert-publisher: the `kube-root-ca.crt` ConfigMap with the cluster CA in every
//   namespace (recreated when deleted, reset when edited);
// - namespace controller: a namespace deleted through the API is `Terminating` (spec.finalizers
//   ["kubernetes"] keep it); 5 s later (namespaceDeletionGracePeriod) the controller deletes all
//   of its contents, records the NamespaceDeletion*/Namespace*Remaining conditions and, once
//   nothing is left, removes the `kubernetes` finalizer, which deletes the namespace.
import { ApiError } from "../status.js";
import type { KubeObject, StoreEvent } from "../store.js";
import { type Controller, type ControllerRuntime, type Enqueue, isObj, nowTimestamp } from "./runtime.js";

/**
 * The CA bundle published when the server runs without TLS: the CA of the recorded v1.25 cluster
 * (/work/shared/kube/recorded-v1.25, configmaps/get-kube-root-ca), a public certificate whose key
 * nobody here has. With TLS the server's own CA is published instead.
 */
export const RECORDED_ROOT_CA_PEM = `-----BEGIN CERTIFICATE-----
MIIDDTCCAfWgAwIBAgIUZpUSeDU0HUpkbyTFdjLA8cpX1xcwDQYJKoZIhvcNAQEL
BQAwFjEUMBIGA1UEAwwLazhzLXJlYWwtY2EwHhcNMjYxMjA3MTEyMDQ1WhcNMzYx
MjA0MTEyMDQ1WjAWMRQwEgYDVQQDDAtrOHMtcmVhbC1jYTCCASIwDQYJKoZIhvcN
AQEBBQADggEPADCCAQoCggEBAL92p2qHEcM8/u4fuE9kIMjqKLv9EatsPgfWMIk6
qmHeI/gVJ9uz0RIBjzzyLykopkLEeg3dLAZW0XK8xfdBxNgQJ9W6lubTXxLHQRha
LmyCH5ORC2/Ik5LXT90Kh8qYq99MJKBYRayMEAH0a4JfCHIhuW/++EVsjrTURQPB
RmvS3Xjwqnwww3yikILhIiExwBYqKwBPurxflaUmProXnRck41QVDi8K4vvGiiIe
mnyw13WNiLCGzvQG78nS1kVxqJDu5pncCl3hd+eaMab3BsqpIdMCEJBj0hYoGe4a
GXXEeqo9sed/M5n2dvYoLjzwUSuMErOKCpMrDl8wu4MkMk8CAwEAAaNTMFEwHQYD
VR0OBBYEFAQn7wMX8RRDf8WH2CuKdmss59eyMB8GA1UdIwQYMBaAFAQn7wMX8RRD
f8WH2CuKdmss59eyMA8GA1UdEwEB/wQFMAMBAf8wDQYJKoZIhvcNAQELBQADggEB
AEhQNPUsGC/+h/OHj+rPY2KlUx8OZ+ftIq05V1k85rP6gDTwKmu+528hJKmyBdFE
r52GM5CkB04wBiA+iXGxKKmaLQf61WpRYN2/qWVZNccdeti9sunOIofDQlAPSZ4z
DFvxE4zyYxidiRso416Ld/ETsPGPym34W0Zki+nMpUV5fjs8JLrwHC2A1JWbpayb
TKryxCQSeaa9nkZaQol6VLleSvPkGioV6gNgmycHWEHseP7+4l5Js/T99hqzisUi
YqXsjBZ0nsVztmcHIRojM8/7iwfe17/7UIo9Wu+fXNeCb3x38/vqaAdHT9vrcq8u
KVTaXuQugxmIvpcuSi+G5kk=
-----END CERTIFICATE-----
`;

export const ROOT_CA_CONFIGMAP = "kube-root-ca.crt";
export const ROOT_CA_DESCRIPTION =
  "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

function phase(ns: KubeObject | undefined): string | undefined {
  return (ns?.status as { phase?: string } | undefined)?.phase;
}

/** A create refused because the namespace is gone or terminating: the real controllers drop it. */
function ignorable(err: unknown): boolean {
  return err instanceof ApiError && (err.code === 404 || err.code === 403 || err.code === 409);
}

export class ServiceAccountsController implements Controller {
  readonly name = "serviceaccount-controller";
  private readonly enqueue: Enqueue;

  constructor(private readonly rt: ControllerRuntime) {
    this.enqueue = rt.enqueuer(this);
  }

  observe(e: StoreEvent): void {
    const r = e.resource;
    if (r.group === "" && r.resource === "namespaces" && e.type !== "DELETED") this.enqueue(String(e.object.metadata.name));
    if (r.group === "" && r.resource === "serviceaccounts" && e.type === "DELETED" && e.object.metadata.name === "default")
      this.enqueue(String(e.object.metadata.namespace));
  }

  sync(ns: string): void {
    const namespace = this.rt.store.get("namespaces", undefined, ns);
    // Not in a terminating namespace (a namespace a store actor wrote without status counts as active).
    if (!namespace || (phase(namespace) ?? "Active") !== "Active" || namespace.metadata.deletionTimestamp) return;
    if (this.rt.store.get("serviceaccounts", ns, "default")) return;
    try {
      this.rt.create({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "default", namespace: ns } });
    } catch (err) {
      if (!ignorable(err)) throw err;
    }
  }
}

export class RootCaCertPublisher implements Controller {
  readonly name = "root-ca-cert-publisher";
  private readonly enqueue: Enqueue;

  constructor(
    private readonly rt: ControllerRuntime,
    private readonly caPem: string,
  ) {
    this.enqueue = rt.enqueuer(this);
  }

  observe(e: StoreEvent): void {
    const r = e.resource;
    if (r.group === "" && r.resource === "namespaces" && e.type !== "DELETED") this.enqueue(String(e.object.metadata.name));
    if (r.group === "" && r.resource === "configmaps" && e.type !== "ADDED" && e.object.metadata.name === ROOT_CA_CONFIGMAP)
      this.enqueue(String(e.object.metadata.namespace));
  }

  sync(ns: string): void {
    const namespace = this.rt.store.get("namespaces", undefined, ns);
    if (!namespace || namespace.metadata.deletionTimestamp) return;
    const data = { "ca.crt": this.caPem };
    const cm = this.rt.store.get("configmaps", ns, ROOT_CA_CONFIGMAP);
    try {
      if (!cm) {
        this.rt.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: ROOT_CA_CONFIGMAP, namespace: ns, annotations: { "kubernetes.io/description": ROOT_CA_DESCRIPTION } }, data });
        return;
      }
      const cur = isObj(cm.data) ? cm.data : {};
      const same = Object.keys(cur).length === 1 && cur["ca.crt"] === this.caPem;
      if (same && cm.metadata.annotations?.["kubernetes.io/description"]) return;
      this.rt.update("configmaps", ns, ROOT_CA_CONFIGMAP, (o) => {
        o.data = data;
        o.metadata.annotations = { ...(o.metadata.annotations ?? {}), "kubernetes.io/description": ROOT_CA_DESCRIPTION };
      });
    } catch (err) {
      if (!ignorable(err)) throw err;
    }
  }
}

/** The NamespaceCondition types the deleter maintains, in its order. */
const CONDITIONS = [
  ["NamespaceDeletionDiscoveryFailure", "ResourcesDiscovered", "All resources successfully discovered"],
  ["NamespaceDeletionGroupVersionParsingFailure", "ParsedGroupVersions", "All legacy kube types successfully parsed"],
  ["NamespaceDeletionContentFailure", "ContentDeleted", "All content successfully deleted, may be waiting on finalization"],
  ["NamespaceContentRemaining", "ContentRemoved", "All content successfully removed"],
  ["NamespaceFinalizersRemaining", "ContentHasNoFinalizers", "All content-preserving finalizers finished"],
] as const;

interface NamespaceCondition {
  type: string;
  status: string;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

export interface NamespaceControllerOptions {
  /** Delay before a deleted namespace is processed (namespaceDeletionGracePeriod, real: 5000 ms). */
  deletionGracePeriodMs: number;
  /** Retry while content remains with finalizers (real: finalizerEstimateSeconds, 15 s). */
  finalizerRetryMs: number;
}

export class NamespaceController implements Controller {
  readonly name = "namespace-controller";
  private readonly enqueue: Enqueue;
  /** Terminating namespaces past their grace period that still had content. */
  private readonly waiting = new Set<string>();

  constructor(
    private readonly rt: ControllerRuntime,
    private readonly opts: NamespaceControllerOptions,
  ) {
    this.enqueue = rt.enqueuer(this);
    // From now on a namespace DELETE leaves a Terminating namespace for this controller.
    rt.store.namespaceFinalizer = "controller";
  }

  observe(e: StoreEvent): void {
    const r = e.resource;
    const o = e.object;
    if (r.group === "" && r.resource === "namespaces") {
      if (e.type === "DELETED") {
        this.waiting.delete(String(o.metadata.name));
        return;
      }
      if (o.metadata.deletionTimestamp && !e.oldObject?.metadata.deletionTimestamp) this.enqueue(String(o.metadata.name), this.opts.deletionGracePeriodMs);
      return;
    }
    // Content going away in a namespace we wait on: check again at once (the real controller
    // polls with its estimate; reacting to the deletion only makes it finish sooner).
    const ns = o.metadata.namespace;
    if (ns && this.waiting.has(ns) && (e.type === "DELETED" || e.type === "MODIFIED")) this.enqueue(ns);
  }

  sync(name: string): void {
    const ns = this.rt.store.get("namespaces", undefined, name);
    if (!ns || !ns.metadata.deletionTimestamp) return;
    if (phase(ns) !== "Terminating") this.rt.updateStatus("namespaces", undefined, name, (o) => (o.status = { ...(isObj(o.status) ? o.status : {}), phase: "Terminating" }));
    const specFinalizers = ((ns.spec as { finalizers?: string[] } | undefined)?.finalizers ?? []) as string[];
    if (!specFinalizers.includes("kubernetes")) return;

    // deleteAllContent: a DELETE collection (propagationPolicy Background) per namespaced resource.
    const remaining = new Map<string, number>();
    const finalizers = new Map<string, number>();
    let estimateMs = 0;
    for (const info of this.rt.store.registry.all()) {
      if (!info.namespaced || info.group === "authorization.k8s.io" || info.group === "authentication.k8s.io") continue;
      const gvr = `${info.group ? `${info.group}/` : ""}${info.version}/${info.resource}`;
      for (const o of this.rt.store.list(gvr, name)) {
        if (!o.metadata.deletionTimestamp) this.rt.delete(gvr, name, String(o.metadata.name), { propagationPolicy: "Background" });
      }
      const left = this.rt.store.list(gvr, name);
      if (left.length === 0) continue;
      const gr = info.group ? `${info.resource}.${info.group}` : info.resource;
      remaining.set(gr, left.length);
      for (const o of left) {
        for (const f of o.metadata.finalizers ?? []) finalizers.set(f, (finalizers.get(f) ?? 0) + 1);
        const dt = Date.parse(o.metadata.deletionTimestamp ?? "");
        if (!Number.isNaN(dt)) estimateMs = Math.max(estimateMs, dt - Date.now());
      }
    }

    const overrides = new Map<string, [string, string]>();
    if (remaining.size > 0)
      overrides.set("NamespaceContentRemaining", [
        "SomeResourcesRemain",
        `Some resources are remaining: ${[...remaining].map(([gr, n]) => `${gr} has ${n} resource instances`).sort().join(", ")}`,
      ]);
    if (finalizers.size > 0)
      overrides.set("NamespaceFinalizersRemaining", [
        "SomeFinalizersRemain",
        `Some content in the namespace has finalizers remaining: ${[...finalizers].map(([f, n]) => `${f} in ${n} resource instances`).sort().join(", ")}`,
      ]);
    this.rt.updateStatus("namespaces", undefined, name, (o) => {
      const status = isObj(o.status) ? o.status : (o.status = {});
      const old = (Array.isArray(status.conditions) ? status.conditions : []) as NamespaceCondition[];
      const now = nowTimestamp();
      const next: NamespaceCondition[] = old.filter((c) => !CONDITIONS.some(([t]) => t === c.type));
      for (const [type, reason, message] of CONDITIONS) {
        const o2 = overrides.get(type);
        const want = o2 ? { type, status: "True", reason: o2[0], message: o2[1] } : { type, status: "False", reason, message };
        const prev = old.find((c) => c.type === type);
        const same = prev && prev.status === want.status && prev.reason === want.reason && prev.message === want.message;
        next.push(same ? prev : { type: want.type, status: want.status, lastTransitionTime: now, reason: want.reason, message: want.message });
      }
      status.conditions = next;
    });

    if (remaining.size > 0) {
      this.waiting.add(name);
      this.enqueue(name, finalizers.size > 0 ? this.opts.finalizerRetryMs : Math.max(1000, estimateMs));
      return;
    }
    this.waiting.delete(name);
    // The `finalize` subresource: without the "kubernetes" finalizer the namespace goes.
    this.rt.update("namespaces", undefined, name, (o) => {
      const spec = isObj(o.spec) ? o.spec : (o.spec = {});
      const rest = ((spec.finalizers as string[] | undefined) ?? []).filter((f) => f !== "kubernetes");
      if (rest.length > 0) spec.finalizers = rest;
      else delete spec.finalizers;
    });
  }
}
