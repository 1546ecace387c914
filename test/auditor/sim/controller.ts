// A simulated watch-based controller acting on the test API server's store, behaving like
// UDS Core's Pepr sidecar killer: for a pod labelled batch.kubernetes.io/job-name and
// service.istio.io/canonical-name whose main container has terminated while istio-proxy
// still runs, it "kills the sidecar" (istio-proxy terminated, pod Succeeded).
// Modes: healthy (reacts at once), dead (watch silently hung: never reacts), slow (reacts
// after slowDelayMs), flapping (follows `pattern`, one entry per canary).
// It also owns its workload (Deployment → ReplicaSet → Pods, or bare pods) and notices rolls.
import type { KubeObject, ObjectStore, StoreEvent } from "../../support/kube-apiserver/store.js";

export type ControllerMode = "healthy" | "dead" | "slow" | "flapping";

export interface SimControllerOptions {
  mode: ControllerMode;
  namespace: string;
  /** Labels of the controller's own pods (what the auditor's --controller-selector matches). */
  podLabels?: Record<string, string>;
  /** "deployment": Deployment → ReplicaSet → Pods; "bare": pods without an owner. */
  workload?: "deployment" | "bare" | "none";
  replicas?: number;
  sidecar?: string;
  reactDelayMs?: number;
  slowDelayMs?: number;
  /** flapping: whether it reacts to the 1st, 2nd, ... canary (cycled). */
  pattern?: boolean[];
  /** A roll (restart or pod deletion) fixes the controller: it becomes healthy. */
  recoverOnRoll?: boolean;
}

const JOB_LABEL = "batch.kubernetes.io/job-name";
const CANONICAL_LABEL = "service.istio.io/canonical-name";
export const DEPLOYMENT_NAME = "pepr-uds-core-watcher";

interface ContainerStatus {
  name: string;
  state?: { running?: unknown; terminated?: unknown; waiting?: unknown };
}

export class SimController {
  mode: ControllerMode;
  /** Canaries whose sidecar this controller killed. */
  readonly killed: string[] = [];
  /** Canaries seen with main exited (each counted once). */
  private readonly seen = new Set<string>();
  restarts = 0;
  /** Wall-clock time of each rollout restart seen. */
  readonly restartTimes: number[] = [];
  private selfDeleting = false;
  podDeletions = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly unsubscribe: () => void;
  private readonly podLabels: Record<string, string>;

  constructor(
    private readonly store: ObjectStore,
    private readonly opts: SimControllerOptions,
  ) {
    this.mode = opts.mode;
    this.podLabels = opts.podLabels ?? { "pepr.dev/controller": "watcher", app: DEPLOYMENT_NAME };
    this.installWorkload();
    this.unsubscribe = store.onChange((e) => this.onEvent(e));
  }

  stop(): void {
    this.unsubscribe();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private installWorkload(): void {
    const ns = this.opts.namespace;
    const workload = this.opts.workload ?? "deployment";
    if (workload === "none") return;
    const replicas = this.opts.replicas ?? 2;
    if (workload === "bare") {
      for (let i = 0; i < replicas; i++) this.createPod(`pepr-watcher-bare-${i}`, undefined);
      return;
    }
    const dep = this.store.create({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: DEPLOYMENT_NAME, namespace: ns, labels: this.podLabels },
      spec: {
        replicas,
        selector: { matchLabels: this.podLabels },
        template: { metadata: { labels: this.podLabels }, spec: { containers: [{ name: "watcher", image: "pepr:latest" }] } },
      },
    });
    this.createReplicaSet(dep, "1");
  }

  private createReplicaSet(dep: KubeObject, gen: string): void {
    const ns = this.opts.namespace;
    const rs = this.store.create({
      apiVersion: "apps/v1",
      kind: "ReplicaSet",
      metadata: {
        name: `${DEPLOYMENT_NAME}-rs${gen}`,
        namespace: ns,
        labels: this.podLabels,
        ownerReferences: [{ apiVersion: "apps/v1", kind: "Deployment", name: dep.metadata.name, uid: dep.metadata.uid, controller: true }],
      },
      spec: { replicas: this.opts.replicas ?? 2, selector: { matchLabels: this.podLabels }, template: { metadata: { labels: this.podLabels }, spec: { containers: [{ name: "watcher", image: "pepr:latest" }] } } },
    });
    for (let i = 0; i < (this.opts.replicas ?? 2); i++) this.createPod(`${rs.metadata.name}-${i}`, rs);
  }

  private createPod(name: string, owner: KubeObject | undefined): void {
    this.store.create({
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name,
        namespace: this.opts.namespace,
        labels: this.podLabels,
        ...(owner ? { ownerReferences: [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: owner.metadata.name, uid: owner.metadata.uid, controller: true }] } : {}),
      },
      spec: { containers: [{ name: "watcher", image: "pepr:latest" }] },
    });
  }

  /** Pods of the controller currently in the store. */
  pods(): KubeObject[] {
    return this.store.list("pods", this.opts.namespace).filter((p) => Object.entries(this.podLabels).every(([k, v]) => p.metadata.labels?.[k] === v));
  }

  private onRolled(): void {
    if (this.opts.recoverOnRoll) this.mode = "healthy";
  }

  private onEvent(e: StoreEvent): void {
    const r = e.resource;
    if (r.group === "apps" && r.resource === "deployments" && e.type === "MODIFIED" && e.object.metadata.namespace === this.opts.namespace) {
      const ann = (o: KubeObject | undefined) =>
        (o?.spec as { template?: { metadata?: { annotations?: Record<string, string> } } } | undefined)?.template?.metadata?.annotations?.["kubectl.kubernetes.io/restartedAt"];
      if (ann(e.object) !== ann(e.oldObject)) {
        this.restarts++;
        this.restartTimes.push(Date.now());
        // What the Deployment controller would do: a new ReplicaSet's pods replace the old ones.
        setImmediate(() => {
          this.selfDeleting = true;
          try {
            for (const p of this.pods()) this.store.delete("pods", this.opts.namespace, p.metadata.name!);
            this.createReplicaSet(e.object, String(this.restarts + 1));
          } catch {
            // The test tore the store down.
          } finally {
            this.selfDeleting = false;
          }
        });
        this.onRolled();
      }
      return;
    }
    if (r.group !== "" || r.resource !== "pods") return;
    const pod = e.object;
    if (e.type === "DELETED") {
      if (pod.metadata.namespace === this.opts.namespace && Object.entries(this.podLabels).every(([k, v]) => pod.metadata.labels?.[k] === v) && !this.selfDeleting) {
        this.podDeletions++;
        this.onRolled();
      }
      return;
    }
    const labels = pod.metadata.labels ?? {};
    if (!(JOB_LABEL in labels) || !(CANONICAL_LABEL in labels)) return;
    const sidecar = this.opts.sidecar ?? "istio-proxy";
    const statuses = ((pod.status as { containerStatuses?: ContainerStatus[] } | undefined)?.containerStatuses ?? []) as ContainerStatus[];
    const side = statuses.find((s) => s.name === sidecar);
    const others = statuses.filter((s) => s.name !== sidecar);
    if (!side?.state?.running || others.length === 0 || !others.every((s) => s.state?.terminated)) return;
    const key = `${pod.metadata.namespace}/${pod.metadata.name}/${pod.metadata.uid}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    const index = this.seen.size - 1;
    let delay: number | undefined;
    switch (this.mode) {
      case "healthy":
        delay = this.opts.reactDelayMs ?? 10;
        break;
      case "slow":
        delay = this.opts.slowDelayMs ?? 5_000;
        break;
      case "flapping": {
        const pattern = this.opts.pattern ?? [true, false];
        delay = pattern[index % pattern.length] ? (this.opts.reactDelayMs ?? 10) : undefined;
        break;
      }
      case "dead":
        delay = undefined;
    }
    if (delay === undefined) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.killSidecar(pod.metadata.namespace!, pod.metadata.name!, sidecar);
    }, delay);
    this.timers.add(t);
  }

  private killSidecar(ns: string, name: string, sidecar: string): void {
    try {
      this.store.patchStatus("pods", ns, name, (s) => {
        const statuses = ((s.containerStatuses as ContainerStatus[] | undefined) ?? []).map((cs) =>
          cs.name === sidecar ? { ...cs, ready: false, state: { terminated: { exitCode: 0, reason: "Completed", finishedAt: new Date().toISOString() } } } : cs,
        );
        return { ...s, phase: "Succeeded", containerStatuses: statuses };
      });
      this.killed.push(name);
    } catch {
      // Pod already gone.
    }
  }
}
