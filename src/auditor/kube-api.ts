// Binds the auditor's small API interfaces to the real Kubernetes client.
import type { Pod } from "kubernetes-types/core/v1.js";
import type { ReplicaSet } from "kubernetes-types/apps/v1.js";
import { DAEMONSETS, DEPLOYMENTS, PODS, REPLICASETS, STATEFULSETS, isNotFound, type KubeClient } from "../core/kube/index.js";
import { recordEvent } from "../core/kube/events.js";
import type { CanaryApi } from "./cycle.js";
import type { ControllerApi, RollEventTarget } from "./roller.js";
import type { PingApi } from "./auditor.js";

export const REPORTING_COMPONENT = "watch-auditor";

export class KubeAuditorApi implements CanaryApi, ControllerApi, PingApi {
  constructor(
    private readonly kube: KubeClient,
    /** Namespace whose pods `ping` lists (one the auditor is allowed to read). */
    private readonly pingNamespace: string | undefined,
  ) {}

  async createPod(namespace: string, pod: Pod, signal?: AbortSignal): Promise<void> {
    await this.kube.create<Pod>(PODS, pod, { namespace, signal });
  }

  async getPod(namespace: string, name: string, signal?: AbortSignal): Promise<Pod | undefined> {
    try {
      return await this.kube.get<Pod>(PODS, name, namespace, { signal });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async deletePod(namespace: string, name: string): Promise<void> {
    try {
      await this.kube.delete(PODS, name, { namespace, gracePeriodSeconds: 0 });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }

  async listPods(namespace: string, labelSelector: string): Promise<Pod[]> {
    return (await this.kube.list<Pod>(PODS, { namespace, labelSelector })).items;
  }

  async getReplicaSet(namespace: string, name: string): Promise<ReplicaSet | undefined> {
    try {
      return await this.kube.get<ReplicaSet>(REPLICASETS, name, namespace);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async restartDeployment(namespace: string, name: string, restartedAt: string): Promise<void> {
    // Exactly what `kubectl rollout restart` sends.
    const patch = { spec: { template: { metadata: { annotations: { "kubectl.kubernetes.io/restartedAt": restartedAt } } } } };
    await this.kube.patch(DEPLOYMENTS, name, patch, { namespace, type: "strategic", fieldManager: REPORTING_COMPONENT });
  }

  async restartWorkload(kind: "StatefulSet" | "DaemonSet", namespace: string, name: string, restartedAt: string): Promise<void> {
    const patch = { spec: { template: { metadata: { annotations: { "kubectl.kubernetes.io/restartedAt": restartedAt } } } } };
    await this.kube.patch(kind === "StatefulSet" ? STATEFULSETS : DAEMONSETS, name, patch, { namespace, type: "strategic", fieldManager: REPORTING_COMPONENT });
  }

  async recordEvent(target: RollEventTarget, reason: string, message: string, type: "Normal" | "Warning"): Promise<void> {
    const r = await recordEvent(this.kube, {
      involvedObject: { apiVersion: target.kind === "Pod" ? "v1" : "apps/v1", kind: target.kind, name: target.name, namespace: target.namespace, uid: target.uid },
      reason,
      message,
      type,
      component: REPORTING_COMPONENT,
    });
    if (r.error) throw r.error;
  }

  async ping(): Promise<void> {
    // Reaction probes only (no canary namespace): discovery answers any authenticated identity.
    if (this.pingNamespace === undefined) await this.kube.request("GET", "/api");
    else await this.kube.list<Pod>(PODS, { namespace: this.pingNamespace, limit: 1 });
  }
}
