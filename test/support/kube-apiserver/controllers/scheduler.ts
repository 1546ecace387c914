// kube-scheduler (v1.25, default-scheduler) reduced to what a cluster without kubelets shows:
// every pending pod of `schedulerName: default-scheduler` without a nodeName is tried once when it
// appears, and again when Nodes change. With no Node that fits, the scheduler records a
// FailedScheduling event (events.k8s.io, reportingController default-scheduler) and patches
// `PodScheduled=False, reason Unschedulable` onto the pod's status; with one, it binds the pod
// (spec.nodeName, PodScheduled=True) and records `Scheduled`.
import type { KubeObject, StoreEvent } from "../store.js";
import { type Controller, type ControllerRuntime, type Enqueue, isObj, keyFor, nowTimestamp, splitKey } from "./runtime.js";

const MANAGER = "kube-scheduler";

interface PodCondition {
  type: string;
  status: string;
  lastProbeTime?: string | null;
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

interface Taint {
  key: string;
  value?: string;
  effect: string;
}

interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
}

function tolerates(tols: Toleration[], t: Taint): boolean {
  return tols.some(
    (tol) =>
      (!tol.effect || tol.effect === t.effect) &&
      (tol.operator === "Exists" ? !tol.key || tol.key === t.key : tol.key === t.key && (tol.value ?? "") === (t.value ?? "")),
  );
}

function nodeReady(node: KubeObject): boolean {
  const conds = ((node.status as { conditions?: PodCondition[] } | undefined)?.conditions ?? []) as PodCondition[];
  return conds.some((c) => c.type === "Ready" && c.status === "True");
}

export class Scheduler implements Controller {
  readonly name = "default-scheduler";
  private readonly enqueue: Enqueue;

  constructor(
    private readonly rt: ControllerRuntime,
    private readonly instance: string,
  ) {
    this.enqueue = rt.enqueuer(this);
  }

  private pending(pod: KubeObject): boolean {
    const spec = (pod.spec ?? {}) as { nodeName?: string; schedulerName?: string };
    const ph = (pod.status as { phase?: string } | undefined)?.phase;
    return !spec.nodeName && (spec.schedulerName ?? "default-scheduler") === "default-scheduler" && !pod.metadata.deletionTimestamp && ph !== "Succeeded" && ph !== "Failed";
  }

  observe(e: StoreEvent): void {
    const r = e.resource;
    if (r.group === "" && r.resource === "pods" && e.type === "ADDED" && this.pending(e.object)) this.enqueue(keyFor(e.object));
    if (r.group === "" && r.resource === "nodes" && e.type !== "DELETED") {
      // A cluster event: unschedulable pods are moved back to the active queue.
      for (const p of this.rt.store.list("pods")) if (this.pending(p)) this.enqueue(keyFor(p));
    }
  }

  sync(key: string): void {
    const [ns, name] = splitKey(key);
    const pod = this.rt.store.get("pods", ns, name);
    if (!pod || !this.pending(pod)) return;
    const spec = (pod.spec ?? {}) as { tolerations?: Toleration[]; nodeSelector?: Record<string, string> };
    const nodes = this.rt.store.list("nodes");
    const reasons = new Map<string, number>();
    const fits: KubeObject[] = [];
    for (const n of nodes) {
      const nspec = (n.spec ?? {}) as { unschedulable?: boolean; taints?: Taint[] };
      let why: string | undefined;
      if (nspec.unschedulable) why = "node(s) were unschedulable";
      else if (!nodeReady(n)) why = "node(s) had untolerated taint {node.kubernetes.io/not-ready: }";
      else {
        const bad = (nspec.taints ?? []).find((t) => (t.effect === "NoSchedule" || t.effect === "NoExecute") && !tolerates(spec.tolerations ?? [], t));
        if (bad) why = `node(s) had untolerated taint {${bad.key}: ${bad.value ?? ""}}`;
        else if (Object.entries(spec.nodeSelector ?? {}).some(([k, v]) => n.metadata.labels?.[k] !== v)) why = "node(s) didn't match Pod's node affinity/selector";
      }
      if (why) reasons.set(why, (reasons.get(why) ?? 0) + 1);
      else fits.push(n);
    }
    if (fits.length > 0) {
      // Bind to the node with the fewest pods (a stand-in for the scoring plugins).
      const count = (n: KubeObject) => this.rt.store.list("pods").filter((p) => (p.spec as { nodeName?: string } | undefined)?.nodeName === n.metadata.name).length;
      const node = fits.reduce((best, n) => (count(n) < count(best) ? n : best));
      this.bind(pod, String(node.metadata.name));
      return;
    }
    const message =
      nodes.length === 0
        ? "no nodes available to schedule pods"
        : `0/${nodes.length} nodes are available: ${[...reasons].map(([w, n]) => `${n} ${w}`).sort().join(", ")}. preemption: 0/${nodes.length} nodes are available: ${nodes.length} Preemption is not helpful for scheduling.`;
    this.setCondition(ns, String(name), { type: "PodScheduled", status: "False", reason: "Unschedulable", message });
    // The event regards the pod as the scheduler saw it (before its own patch).
    this.rt.events.newEvent("default-scheduler", this.instance, pod, "Warning", "FailedScheduling", "Scheduling", message, MANAGER);
  }

  /** The strategic merge patch of status.conditions the scheduler sends (no-op when unchanged). */
  private setCondition(ns: string | undefined, name: string, want: Omit<PodCondition, "lastProbeTime" | "lastTransitionTime">): void {
    const pod = this.rt.store.get("pods", ns, name);
    if (!pod) return;
    const status = isObj(pod.status) ? pod.status : {};
    const conds = (Array.isArray(status.conditions) ? status.conditions : []) as PodCondition[];
    const prev = conds.find((c) => c.type === want.type);
    if (prev && prev.status === want.status && prev.reason === want.reason && prev.message === want.message) return;
    const cond: PodCondition = {
      type: want.type,
      status: want.status,
      lastProbeTime: null,
      lastTransitionTime: prev && prev.status === want.status && prev.lastTransitionTime ? prev.lastTransitionTime : nowTimestamp(),
      ...(want.reason && { reason: want.reason }),
      ...(want.message && { message: want.message }),
    };
    this.rt.updateStatus("pods", ns, name, (o) => {
      const st = isObj(o.status) ? o.status : (o.status = {});
      const list = (Array.isArray(st.conditions) ? st.conditions : []) as PodCondition[];
      const i = list.findIndex((c) => c.type === want.type);
      if (i >= 0) list[i] = cond;
      else list.push(cond);
      st.conditions = list;
      // Keep the field order the real server writes (phase, conditions, …, qosClass).
      const { phase, conditions, ...rest } = st;
      o.status = { ...(phase !== undefined && { phase }), conditions, ...rest };
    }, MANAGER);
  }

  /** POST pods/binding: spec.nodeName and PodScheduled=True. */
  private bind(pod: KubeObject, node: string): void {
    const ns = pod.metadata.namespace;
    const name = String(pod.metadata.name);
    this.rt.update("pods", ns, name, (o) => {
      (o.spec as { nodeName?: string }).nodeName = node;
      const st = isObj(o.status) ? o.status : (o.status = {});
      const list = ((Array.isArray(st.conditions) ? st.conditions : []) as PodCondition[]).filter((c) => c.type !== "PodScheduled");
      list.push({ type: "PodScheduled", status: "True", lastProbeTime: null, lastTransitionTime: nowTimestamp() });
      const { phase, ...rest } = st;
      o.status = { ...(phase !== undefined && { phase }), ...rest, conditions: list };
    }, MANAGER);
    const bound = this.rt.store.get("pods", ns, name);
    if (bound) this.rt.events.newEvent("default-scheduler", this.instance, bound, "Normal", "Scheduled", "Binding", `Successfully assigned ${ns}/${name} to ${node}`, MANAGER);
  }
}
