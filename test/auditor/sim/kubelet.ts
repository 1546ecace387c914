// A simulated kubelet acting on the test API server's store: pods in the namespaces it
// serves go Pending → Running (all containers running) → each container whose command is
// `sh -c "sleep N"` terminates after N seconds; the pod completes only when every container
// has terminated. A sidecar that sleeps for a day therefore keeps the pod Running until
// someone (the simulated controller) terminates it or deletes the pod.
import type { KubeObject, ObjectStore, StoreEvent } from "../../support/kube-apiserver/store.js";

export interface KubeletOptions {
  namespaces: string[];
  /** Pending → Running delay. */
  startDelayMs?: number;
  /** Pods stay Pending forever (image pull never finishes). */
  neverStart?: boolean;
  /** The main container reports this waiting reason instead of starting. */
  waitingReason?: string;
}

interface ContainerSpec {
  name: string;
  command?: string[];
  args?: string[];
}

/** RFC 3339 with milliseconds: finer than a real kubelet (whole seconds) so reaction times are measurable in fast tests. */
const ts = (): string => new Date().toISOString();

export function sleepSecondsOf(c: ContainerSpec): number | undefined {
  const line = [...(c.command ?? []), ...(c.args ?? [])].join(" ");
  const m = /sleep\s+(\d+(?:\.\d+)?)/.exec(line);
  return m ? Number(m[1]) : undefined;
}

export class SimKubelet {
  private readonly timers = new Map<string, NodeJS.Timeout[]>();
  private readonly unsubscribe: () => void;
  started = 0;

  constructor(
    private readonly store: ObjectStore,
    private readonly opts: KubeletOptions,
  ) {
    this.unsubscribe = store.onChange((e) => this.onEvent(e));
  }

  stop(): void {
    this.unsubscribe();
    for (const ts of this.timers.values()) ts.forEach(clearTimeout);
    this.timers.clear();
  }

  private key(o: KubeObject): string {
    return `${o.metadata.namespace}/${o.metadata.name}/${o.metadata.uid}`;
  }

  private later(o: KubeObject, ms: number, fn: () => void): void {
    const k = this.key(o);
    const t = setTimeout(() => {
      try {
        fn();
      } catch {
        // The pod was deleted or changed under us: a real kubelet would also just move on.
      }
    }, ms);
    this.timers.set(k, [...(this.timers.get(k) ?? []), t]);
  }

  private onEvent(e: StoreEvent): void {
    if (e.resource.resource !== "pods" || e.resource.group !== "") return;
    const pod = e.object;
    if (!this.opts.namespaces.includes(pod.metadata.namespace ?? "")) return;
    if (e.type === "DELETED") {
      const k = this.key(pod);
      this.timers.get(k)?.forEach(clearTimeout);
      this.timers.delete(k);
      return;
    }
    if (e.type !== "ADDED") return;
    const ns = pod.metadata.namespace!;
    const name = pod.metadata.name!;
    const containers = ((pod.spec as { containers?: ContainerSpec[] } | undefined)?.containers ?? []) as ContainerSpec[];
    this.store.patchStatus("pods", ns, name, { phase: "Pending", conditions: [{ type: "PodScheduled", status: "True" }] });
    if (this.opts.neverStart) return;
    if (this.opts.waitingReason) {
      this.later(pod, this.opts.startDelayMs ?? 20, () =>
        this.store.patchStatus("pods", ns, name, (s) => ({
          ...s,
          containerStatuses: containers.map((c, i) => ({ name: c.name, ready: false, restartCount: 0, image: "busybox", imageID: "", state: i === 0 ? { waiting: { reason: this.opts.waitingReason } } : { waiting: { reason: "PodInitializing" } } })),
        })),
      );
      return;
    }
    this.later(pod, this.opts.startDelayMs ?? 20, () => {
      const startedAt = ts();
      this.started++;
      this.store.patchStatus("pods", ns, name, (s) => ({
        ...s,
        phase: "Running",
        startTime: startedAt,
        containerStatuses: containers.map((c) => ({ name: c.name, ready: true, started: true, restartCount: 0, image: "busybox", imageID: "", state: { running: { startedAt } } })),
      }));
      for (const c of containers) {
        const secs = sleepSecondsOf(c);
        if (secs === undefined || secs > 3600) continue;
        this.later(pod, secs * 1000, () => this.terminate(ns, name, c.name, startedAt));
      }
    });
  }

  /** Marks one container terminated (exit 0) and completes the pod when none is left running. */
  private terminate(ns: string, name: string, container: string, startedAt: string): void {
    this.store.patchStatus("pods", ns, name, (s) => {
      const statuses = (s.containerStatuses as { name: string; state?: Record<string, unknown> }[] | undefined) ?? [];
      const next = statuses.map((cs) =>
        cs.name === container && !cs.state?.terminated
          ? { ...cs, ready: false, started: false, state: { terminated: { exitCode: 0, reason: "Completed", startedAt, finishedAt: ts() } } }
          : cs,
      );
      const allDone = next.every((cs) => cs.state?.terminated);
      return { ...s, containerStatuses: next, ...(allDone ? { phase: "Succeeded" } : {}) };
    });
  }
}
