// Small watch-based controllers for the reaction-probe examples, driven by the product's own
// client (src/core/kube Informer: list + watch over HTTP), each "deployed" as a workload the
// auditor can roll. Paused, a reactor keeps its watch but ignores every event: a silently hung
// controller. A roll of its workload (rollout restart or pod deletion) resumes it when
// `recoverOnRoll`, and it then acts on everything it missed, as a restarted controller would.
import { Informer, KubeClient, NAMESPACES, SECRETS, isAlreadyExists, isNotFound, type GVR, type KubeObject } from "../../../src/core/kube/index.js";
import type { KubeObject as StoredObject, ObjectStore, StoreEvent } from "../../support/kube-apiserver/store.js";
import { startControllers, type RunningControllers } from "../../support/kube-apiserver/controllers/index.js";

export const NETWORKPOLICIES: GVR = { group: "networking.k8s.io", version: "v1", resource: "networkpolicies", kind: "NetworkPolicy", namespaced: true };
export const WIDGETS: GVR = { group: "example.com", version: "v1", resource: "widgets", kind: "Widget", namespaced: true };

export const WIDGET_CRD = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "widgets.example.com" },
  spec: {
    group: "example.com",
    scope: "Namespaced",
    names: { plural: "widgets", singular: "widget", kind: "Widget", listKind: "WidgetList" },
    versions: [
      {
        name: "v1",
        served: true,
        storage: true,
        subresources: { status: {} },
        schema: {
          openAPIV3Schema: {
            type: "object",
            properties: {
              spec: { type: "object", properties: { size: { type: "integer" } } },
              status: { type: "object", properties: { phase: { type: "string" }, pong: { type: "string" } } },
            },
          },
        },
      },
    ],
  },
};

/** Where a simulated controller "runs": a Deployment (→ ReplicaSet → pods), a StatefulSet (→ pods) or bare pods. */
export interface Workload {
  namespace: string;
  name: string;
  kind: "Deployment" | "StatefulSet" | "bare";
  podLabels: Record<string, string>;
}

/** Installs the workload's objects in the store, with owner references as the real controllers set them. */
export function installWorkload(store: ObjectStore, w: Workload): void {
  const tmpl = { metadata: { labels: w.podLabels }, spec: { containers: [{ name: "c", image: "controller:1" }] } };
  const pod = (name: string, owner?: StoredObject, kind?: string) =>
    store.create({
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name,
        namespace: w.namespace,
        labels: w.podLabels,
        ...(owner ? { ownerReferences: [{ apiVersion: "apps/v1", kind: kind!, name: owner.metadata.name, uid: owner.metadata.uid, controller: true }] } : {}),
      },
      spec: tmpl.spec,
    });
  if (w.kind === "bare") {
    pod(`${w.name}-0`);
    return;
  }
  const top: StoredObject = store.create({
    apiVersion: "apps/v1",
    kind: w.kind,
    metadata: { name: w.name, namespace: w.namespace, labels: w.podLabels },
    spec: { replicas: 1, selector: { matchLabels: w.podLabels }, template: tmpl, ...(w.kind === "StatefulSet" ? { serviceName: w.name } : {}) },
  });
  if (w.kind === "StatefulSet") {
    pod(`${w.name}-0`, top, "StatefulSet");
    return;
  }
  const rs = store.create({
    apiVersion: "apps/v1",
    kind: "ReplicaSet",
    metadata: { name: `${w.name}-abc`, namespace: w.namespace, labels: w.podLabels, ownerReferences: [{ apiVersion: "apps/v1", kind: "Deployment", name: w.name, uid: top.metadata.uid, controller: true }] },
    spec: { replicas: 1, selector: { matchLabels: w.podLabels }, template: tmpl },
  });
  pod(`${w.name}-abc-0`, rs, "ReplicaSet");
}

const restartedAt = (o: StoredObject | undefined) =>
  (o?.spec as { template?: { metadata?: { annotations?: Record<string, string> } } } | undefined)?.template?.metadata?.annotations?.["kubectl.kubernetes.io/restartedAt"];

/** Calls `onRoll` when the workload is rolled: its restartedAt annotation changes, or one of its pods is deleted. */
export function watchRolls(store: ObjectStore, w: Workload, onRoll: (how: string) => void): () => void {
  return store.onChange((e: StoreEvent) => {
    if (e.object.metadata.namespace !== w.namespace) return;
    const resource = `${w.kind.toLowerCase()}s`;
    if (e.type === "MODIFIED" && e.resource.resource === resource && e.object.metadata.name === w.name && restartedAt(e.object) !== restartedAt(e.oldObject)) onRoll(`${w.kind} restarted`);
    if (e.type === "DELETED" && e.resource.resource === "pods" && Object.entries(w.podLabels).every(([k, v]) => e.object.metadata.labels?.[k] === v)) onRoll("pod deleted");
  });
}

export interface Reacting {
  pause(): void;
  resume(): void;
  readonly paused: boolean;
  rolls: string[];
  stop(): Promise<void>;
}

/** A controller on an informer: `react` runs for each added/updated object while not paused. */
export class Reactor<T extends KubeObject> implements Reacting {
  paused = false;
  rolls: string[] = [];
  readonly reacted: string[] = [];
  private readonly informer: Informer<T>;
  private readonly timers = new Set<NodeJS.Timeout>();
  private unwatch?: () => void;

  constructor(
    private readonly kube: KubeClient,
    gvr: GVR,
    private readonly react: (kube: KubeClient, obj: T) => Promise<string | undefined>,
    private readonly opts: { labelSelector?: string; delayMs?: number; recoverOnRoll?: boolean } = {},
  ) {
    this.informer = new Informer<T>(kube, gvr, { labelSelector: opts.labelSelector, backoff: { initialMs: 50, maxMs: 500 } });
    this.informer.on("add", (o) => this.handle(o)).on("update", (_old, o) => this.handle(o));
  }

  async start(store: ObjectStore, workload: Workload): Promise<this> {
    installWorkload(store, workload);
    this.unwatch = watchRolls(store, workload, (how) => {
      this.rolls.push(how);
      if (this.opts.recoverOnRoll) this.resume();
    });
    return this.listen();
  }

  /** Only the informer (a controller in its own process: reactor-main.ts). */
  async listen(): Promise<this> {
    this.informer.start();
    await this.informer.waitForSync();
    return this;
  }

  private handle(o: T): void {
    if (this.paused) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (this.paused) return;
      this.react(this.kube, o).then(
        (what) => what && this.reacted.push(what),
        () => undefined, // retried on the next event or resume
      );
    }, this.opts.delayMs ?? 0);
    this.timers.add(t);
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    for (const o of this.informer.list()) this.handle(o);
  }

  async stop(): Promise<void> {
    this.unwatch?.();
    for (const t of this.timers) clearTimeout(t);
    await this.informer.stop();
  }
}

type Obj = KubeObject & {
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; finalizers?: string[]; deletionTimestamp?: string };
  data?: Record<string, string>;
  status?: { phase?: string; pong?: string };
};

export const WIDGET_FINALIZER = "example.com/cleanup";
export const WIDGET_PING = "example.com/ping";

/** A policy engine's generate rule: every new namespace labelled for it gets a default-deny NetworkPolicy. */
export function networkPolicyGenerator(kube: KubeClient, opts: { delayMs?: number; recoverOnRoll?: boolean } = {}): Reactor<Obj> {
  return new Reactor<Obj>(
    kube,
    NAMESPACES,
    async (k, ns) => {
      if (ns.metadata.deletionTimestamp) return undefined;
      try {
        await k.create(NETWORKPOLICIES, { apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy", metadata: { name: "default-deny", namespace: ns.metadata.name, labels: { "generate.example.com/rule": "default-deny" } }, spec: { podSelector: {}, policyTypes: ["Ingress"] } }, { namespace: ns.metadata.name });
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
        return undefined;
      }
      return ns.metadata.name;
    },
    { labelSelector: "policy.example.com/default-deny=true", ...opts },
  );
}

/**
 * An operator: every Widget reaches status.phase Ready (status subresource) and answers its
 * example.com/ping annotation in status.pong; a deleted Widget's example.com/cleanup finalizer is removed.
 */
export function widgetOperator(kube: KubeClient, opts: { delayMs?: number; recoverOnRoll?: boolean } = {}): Reactor<Obj> {
  return new Reactor<Obj>(
    kube,
    WIDGETS,
    async (k, w) => {
      if (w.metadata.deletionTimestamp) {
        if (!w.metadata.finalizers?.includes(WIDGET_FINALIZER)) return undefined;
        await k.patch(WIDGETS, w.metadata.name, { metadata: { finalizers: w.metadata.finalizers.filter((f) => f !== WIDGET_FINALIZER) } }, { namespace: w.metadata.namespace, type: "merge" });
        return `finalized ${w.metadata.name}`;
      }
      const ping = w.metadata.annotations?.[WIDGET_PING];
      if (w.status?.phase === "Ready" && w.status.pong === ping) return undefined;
      await k.patch(WIDGETS, w.metadata.name, { status: { phase: "Ready", ...(ping !== undefined ? { pong: ping } : {}) } }, { namespace: w.metadata.namespace, type: "merge", subresource: "status" });
      return w.metadata.name;
    },
    opts,
  );
}

/** A replicator: a Secret labelled replicator.example.com/to=<ns> is copied there (data and type). */
export function secretReplicator(kube: KubeClient, opts: { delayMs?: number; recoverOnRoll?: boolean } = {}): Reactor<Obj> {
  return new Reactor<Obj>(
    kube,
    SECRETS,
    async (k, s) => {
      const to = s.metadata.labels?.["replicator.example.com/to"];
      if (!to || to === s.metadata.namespace || s.metadata.deletionTimestamp) return undefined;
      // The source may be gone since the event (the auditor's cleanup): never copy a deleted Secret.
      try {
        await k.get(SECRETS, s.metadata.name, s.metadata.namespace);
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
      try {
        await k.create(SECRETS, { apiVersion: "v1", kind: "Secret", metadata: { name: s.metadata.name, namespace: to, labels: { "replicator.example.com/from": s.metadata.namespace! } }, type: (s as { type?: string }).type, data: s.data ?? {} }, { namespace: to });
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
        return undefined;
      }
      return `${to}/${s.metadata.name}`;
    },
    { labelSelector: "replicator.example.com/to", ...opts },
  );
}

/** kube-controller-manager's deployment controller (the test API server's simulated one), stoppable and restartable. */
export class DeploymentControllerProcess implements Reacting {
  rolls: string[] = [];
  private running?: RunningControllers;
  private unwatch?: () => void;

  constructor(
    private readonly store: ObjectStore,
    private readonly opts: { recoverOnRoll?: boolean } = {},
  ) {}

  get paused(): boolean {
    return this.running === undefined;
  }

  start(workload: Workload): this {
    installWorkload(this.store, workload);
    this.unwatch = watchRolls(this.store, workload, (how) => {
      this.rolls.push(how);
      // A static pod comes back at once (the kubelet recreates the mirror pod).
      setImmediate(() => {
        try {
          if (this.store.list("pods", workload.namespace).length === 0) installWorkload(this.store, workload);
        } catch {
          // store closed
        }
      });
      if (this.opts.recoverOnRoll) this.resume();
    });
    this.resume();
    return this;
  }

  pause(): void {
    this.running?.stop();
    this.running = undefined;
  }

  resume(): void {
    this.running ??= startControllers(this.store, ["deployment"]);
  }

  async stop(): Promise<void> {
    this.unwatch?.();
    this.pause();
  }
}

export async function adminClient(kubeconfig: string): Promise<KubeClient> {
  return KubeClient.load({ kubeconfig });
}
