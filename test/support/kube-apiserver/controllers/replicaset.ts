// kube-controller-manager's replicaset controller (pkg/controller/replicaset, v1.25): claims the
// pods its selector matches (adopting orphans, releasing owned pods that no longer match),
// creates missing pods from the template (`<rs>-<5 random>` by generateName, the controller
// reference, SuccessfulCreate events) and deletes surplus ones in the order of
// controller.ActivePodsWithRanks (unscheduled, pending, not ready first; then newer first on a
// logarithmic age scale; SuccessfulDelete events), then writes status (replicas,
// fullyLabeledReplicas, readyReplicas, availableReplicas, observedGeneration).
//
// Differences from the real one: pods are listed from the store, so there are no expectations
// and no stale caches; ages are compared with the precise creation time (creationTimestamp has
// whole seconds), and equal log-scale ages are ordered by name (the real controller orders them
// by UID: both are random).
import type { KubeObject, StoreEvent } from "../store.js";
import {
  type Controller,
  type ControllerRuntime,
  type Enqueue,
  type LabelSelector,
  controllerOf,
  controllerRef,
  isObj,
  keyFor,
  selectorMatches,
  splitKey,
} from "./runtime.js";
import { ApiError } from "../status.js";

const BURST_REPLICAS = 500;

interface Condition {
  type: string;
  status: string;
  lastTransitionTime?: string;
}

export function podReady(pod: KubeObject): boolean {
  const conds = ((pod.status as { conditions?: Condition[] } | undefined)?.conditions ?? []) as Condition[];
  return conds.some((c) => c.type === "Ready" && c.status === "True");
}

function readySince(pod: KubeObject): number | undefined {
  const conds = ((pod.status as { conditions?: Condition[] } | undefined)?.conditions ?? []) as Condition[];
  const c = conds.find((x) => x.type === "Ready" && x.status === "True");
  const t = Date.parse(c?.lastTransitionTime ?? "");
  return Number.isNaN(t) ? undefined : t;
}

/** podutil.IsPodAvailable */
export function podAvailable(pod: KubeObject, minReadySeconds: number, now: number): boolean {
  if (!podReady(pod)) return false;
  if (minReadySeconds === 0) return true;
  const since = readySince(pod);
  return since !== undefined && since + minReadySeconds * 1000 <= now;
}

/** controller.IsPodActive */
export function podActive(pod: KubeObject): boolean {
  const ph = (pod.status as { phase?: string } | undefined)?.phase;
  return ph !== "Succeeded" && ph !== "Failed" && !pod.metadata.deletionTimestamp;
}

function restarts(pod: KubeObject): number {
  const cs = ((pod.status as { containerStatuses?: { restartCount?: number }[] } | undefined)?.containerStatuses ?? []) as { restartCount?: number }[];
  return Math.max(0, ...cs.map((c) => c.restartCount ?? 0));
}

const PHASE_ORDINAL: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };

function logRank(since: number, now: number): number {
  const d = (now - since) * 1e6; // nanoseconds, as time.Duration
  return d > 0 ? Math.floor(Math.log2(d)) : -1;
}

export interface RsSpec {
  replicas?: number;
  minReadySeconds?: number;
  selector?: LabelSelector;
  template?: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string>; finalizers?: string[] }; spec?: unknown };
}

export interface RsStatus {
  replicas?: number;
  fullyLabeledReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  observedGeneration?: number;
  conditions?: { type: string; status: string; lastTransitionTime?: string; reason?: string; message?: string }[];
}

export class ReplicaSetController implements Controller {
  readonly name = "replicaset-controller";
  private readonly enqueue: Enqueue;

  constructor(private readonly rt: ControllerRuntime) {
    this.enqueue = rt.enqueuer(this);
  }

  observe(e: StoreEvent): void {
    const r = e.resource;
    if (r.group === "apps" && r.resource === "replicasets") {
      if (e.type !== "DELETED") this.enqueue(keyFor(e.object));
      return;
    }
    if (r.group !== "" || r.resource !== "pods") return;
    // Pod changes: the owning ReplicaSet, or for orphans every ReplicaSet that selects them.
    const pods = [e.object, ...(e.oldObject ? [e.oldObject] : [])];
    for (const pod of pods) {
      const ref = controllerOf(pod);
      if (ref) {
        if (ref.kind === "ReplicaSet") this.enqueue(`${pod.metadata.namespace}/${ref.name}`);
        continue;
      }
      if (e.type === "DELETED") continue;
      for (const rs of this.rt.store.list("apps/v1/replicasets", pod.metadata.namespace))
        if (selectorMatches((rs.spec as RsSpec | undefined)?.selector, pod.metadata.labels)) this.enqueue(keyFor(rs));
    }
  }

  sync(key: string): void {
    const [ns, name] = splitKey(key);
    const rs = this.rt.store.get("apps/v1/replicasets", ns, name);
    if (!rs) return;
    const spec = (rs.spec ?? {}) as RsSpec;
    const filtered = this.claimPods(rs, spec);
    let manageErr: ApiError | undefined;
    if (!rs.metadata.deletionTimestamp) {
      try {
        this.manageReplicas(rs, spec, filtered);
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        manageErr = err;
      }
    }
    this.updateStatus(ns, String(name), filtered, manageErr);
    // A failed create/delete is retried (with backoff) like the real workqueue does.
    if (manageErr) throw manageErr;
  }

  /** ControllerRefManager.ClaimPods over the active pods of the namespace. */
  private claimPods(rs: KubeObject, spec: RsSpec): KubeObject[] {
    const ns = rs.metadata.namespace;
    const uid = rs.metadata.uid;
    const out: KubeObject[] = [];
    for (const pod of this.rt.store.list("pods", ns)) {
      if (!podActive(pod)) continue;
      const ref = controllerOf(pod);
      const matches = selectorMatches(spec.selector, pod.metadata.labels);
      if (ref) {
        if (ref.uid !== uid) continue;
        if (matches) out.push(pod);
        else if (!rs.metadata.deletionTimestamp)
          // Release: drop our controller reference.
          this.rt.update("pods", ns, String(pod.metadata.name), (o) => {
            const refs = ((o.metadata.ownerReferences ?? []) as { uid?: string }[]).filter((r) => r?.uid !== uid);
            if (refs.length) o.metadata.ownerReferences = refs;
            else delete o.metadata.ownerReferences;
          });
        continue;
      }
      if (!matches || rs.metadata.deletionTimestamp || pod.metadata.deletionTimestamp) continue;
      // Adopt an orphan.
      const adopted = this.rt.update("pods", ns, String(pod.metadata.name), (o) => {
        o.metadata.ownerReferences = [...(o.metadata.ownerReferences ?? []), controllerRef(rs)];
      });
      if (adopted) out.push(adopted);
    }
    return out;
  }

  private manageReplicas(rs: KubeObject, spec: RsSpec, pods: KubeObject[]): void {
    const want = spec.replicas ?? 1;
    const ns = String(rs.metadata.namespace);
    let diff = pods.length - want;
    if (diff < 0) {
      diff = Math.min(-diff, BURST_REPLICAS);
      for (let i = 0; i < diff; i++) this.createPod(rs, spec);
    } else if (diff > 0) {
      diff = Math.min(diff, BURST_REPLICAS);
      for (const pod of this.podsToDelete(rs, pods, diff)) {
        if (this.rt.delete("pods", ns, String(pod.metadata.name), { preconditions: { uid: pod.metadata.uid } }))
          this.rt.events.event("replicaset-controller", rs, "Normal", "SuccessfulDelete", `Deleted pod: ${pod.metadata.name}`);
      }
    }
  }

  /** controller.GetPodFromTemplate + RealPodControl.CreatePods */
  private createPod(rs: KubeObject, spec: RsSpec): void {
    const t = spec.template ?? {};
    const meta = t.metadata ?? {};
    const pod: KubeObject = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        generateName: `${rs.metadata.name}-`,
        namespace: rs.metadata.namespace,
        ...(meta.labels && { labels: { ...meta.labels } }),
        ...(meta.annotations && { annotations: { ...meta.annotations } }),
        ...(meta.finalizers && { finalizers: [...meta.finalizers] }),
        ownerReferences: [controllerRef(rs)],
      },
      spec: structuredClone(t.spec ?? {}) as Record<string, unknown>,
    };
    if (Object.keys(pod.metadata.labels ?? {}).length === 0) {
      // "unable to create pods: no labels"
      throw new ApiError({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message: "unable to create pods: no labels", reason: "Invalid", code: 422 });
    }
    try {
      const created = this.rt.create(pod);
      this.rt.events.event("replicaset-controller", rs, "Normal", "SuccessfulCreate", `Created pod: ${created.metadata.name}`);
    } catch (err) {
      if (err instanceof ApiError) this.rt.events.event("replicaset-controller", rs, "Warning", "FailedCreate", `Error creating: ${err.status.message}`);
      throw err;
    }
  }

  /** getPodsToDelete: the first `diff` pods in ActivePodsWithRanks order. */
  private podsToDelete(rs: KubeObject, pods: KubeObject[], diff: number): KubeObject[] {
    if (diff >= pods.length) return pods;
    const now = Date.now();
    // Rank: active pods of ReplicaSets with the same controller (the Deployment) on the same node.
    const owner = controllerOf(rs)?.uid;
    const related = owner
      ? this.rt.store.list("apps/v1/replicasets", rs.metadata.namespace).filter((r) => controllerOf(r)?.uid === owner).map((r) => r.metadata.uid)
      : [rs.metadata.uid];
    const onNode = new Map<string, number>();
    for (const p of this.rt.store.list("pods", rs.metadata.namespace)) {
      if (!podActive(p) || !related.includes(controllerOf(p)?.uid)) continue;
      const node = (p.spec as { nodeName?: string } | undefined)?.nodeName ?? "";
      onNode.set(node, (onNode.get(node) ?? 0) + 1);
    }
    const nodeOf = (p: KubeObject) => (p.spec as { nodeName?: string } | undefined)?.nodeName ?? "";
    const rank = (p: KubeObject) => onNode.get(nodeOf(p)) ?? 0;
    const cost = (p: KubeObject) => Number(p.metadata.annotations?.["controller.kubernetes.io/pod-deletion-cost"] ?? 0) || 0;
    const phaseOf = (p: KubeObject) => PHASE_ORDINAL[(p.status as { phase?: string } | undefined)?.phase ?? ""] ?? 0;
    const cmp = (a: KubeObject, b: KubeObject): number => {
      if (nodeOf(a) !== nodeOf(b) && (nodeOf(a) === "" || nodeOf(b) === "")) return nodeOf(a) === "" ? -1 : 1;
      if (phaseOf(a) !== phaseOf(b)) return phaseOf(a) - phaseOf(b);
      if (podReady(a) !== podReady(b)) return podReady(a) ? 1 : -1;
      if (cost(a) !== cost(b)) return cost(a) - cost(b);
      if (rank(a) !== rank(b)) return rank(b) - rank(a);
      if (podReady(a) && podReady(b)) {
        const ra = readySince(a);
        const rb = readySince(b);
        if (ra !== undefined && rb !== undefined && ra !== rb) {
          const d = logRank(ra, now) - logRank(rb, now);
          if (d !== 0) return d;
        }
      }
      if (restarts(a) !== restarts(b)) return restarts(b) - restarts(a);
      const ca = this.rt.creationMs(a);
      const cb = this.rt.creationMs(b);
      const d = logRank(ca, now) - logRank(cb, now);
      if (d !== 0) return d;
      // Same logarithmic age: the real controller compares UIDs, i.e. orders at random; names
      // (random too) here, which keeps the choice deterministic for a given set of pods.
      const na = String(a.metadata.name);
      const nb = String(b.metadata.name);
      return na < nb ? -1 : na > nb ? 1 : 0;
    };
    return [...pods].sort(cmp).slice(0, diff);
  }

  private updateStatus(ns: string | undefined, name: string, pods: KubeObject[], manageErr: ApiError | undefined): void {
    const rs = this.rt.store.get("apps/v1/replicasets", ns, name);
    if (!rs) return;
    const spec = (rs.spec ?? {}) as RsSpec;
    const old = (isObj(rs.status) ? rs.status : {}) as RsStatus;
    const templateLabels = spec.template?.metadata?.labels ?? {};
    const now = Date.now();
    const fully = pods.filter((p) => Object.entries(templateLabels).every(([k, v]) => p.metadata.labels?.[k] === v)).length;
    const ready = pods.filter(podReady).length;
    const available = pods.filter((p) => podAvailable(p, spec.minReadySeconds ?? 0, now)).length;
    let conditions = old.conditions ? [...old.conditions] : undefined;
    const failure = conditions?.find((c) => c.type === "ReplicaFailure");
    if (manageErr && !failure) {
      const diff = pods.length - (spec.replicas ?? 1);
      const reason = diff < 0 ? "FailedCreate" : diff > 0 ? "FailedDelete" : "";
      conditions = [...(conditions ?? []), { type: "ReplicaFailure", status: "True", lastTransitionTime: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"), reason, message: manageErr.status.message }];
    } else if (!manageErr && failure) {
      conditions = conditions!.filter((c) => c.type !== "ReplicaFailure");
      if (conditions.length === 0) conditions = undefined;
    }
    const gen = rs.metadata.generation ?? 0;
    if (
      (old.replicas ?? 0) === pods.length &&
      (old.fullyLabeledReplicas ?? 0) === fully &&
      (old.readyReplicas ?? 0) === ready &&
      (old.availableReplicas ?? 0) === available &&
      (old.observedGeneration ?? 0) === gen &&
      JSON.stringify(old.conditions ?? []) === JSON.stringify(conditions ?? [])
    )
      return;
    // ReplicaSetStatus: replicas is always encoded, the rest only when non-zero.
    const status: RsStatus = { replicas: pods.length };
    if (fully) status.fullyLabeledReplicas = fully;
    if (ready) status.readyReplicas = ready;
    if (available) status.availableReplicas = available;
    if (gen) status.observedGeneration = gen;
    if (conditions) status.conditions = conditions;
    this.rt.updateStatus("apps/v1/replicasets", ns, name, (o) => (o.status = status as Record<string, unknown>));
  }
}
