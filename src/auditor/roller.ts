// Rolls the audited controller: a rollout restart of the Deployment that owns its pods
// (what `kubectl rollout restart` does), or deleting the pods when no Deployment owns them.
import type { Pod } from "kubernetes-types/core/v1.js";
import type { ReplicaSet } from "kubernetes-types/apps/v1.js";
import { errorMessage } from "../core/errors.js";

export interface RollEventTarget {
  kind: "Deployment" | "StatefulSet" | "DaemonSet" | "Pod";
  name: string;
  namespace: string;
  uid?: string;
}

export interface ControllerApi {
  listPods(namespace: string, labelSelector: string): Promise<Pod[]>;
  /** undefined when not found. */
  getReplicaSet(namespace: string, name: string): Promise<ReplicaSet | undefined>;
  restartDeployment(namespace: string, name: string, restartedAt: string): Promise<void>;
  /** The same rollout restart for a StatefulSet or DaemonSet (reaction probes' `roll`). */
  restartWorkload(kind: "StatefulSet" | "DaemonSet", namespace: string, name: string, restartedAt: string): Promise<void>;
  deletePod(namespace: string, name: string): Promise<void>;
  recordEvent(target: RollEventTarget, reason: string, message: string, type: "Normal" | "Warning"): Promise<void>;
}

export type RollMethod = "rollout_restart" | "delete_pods";

export interface RollOutcome {
  method: RollMethod | "none";
  deployments: string[];
  /** StatefulSets and DaemonSets restarted ("StatefulSet/name"). */
  workloads?: string[];
  podsDeleted: string[];
  errors: string[];
}

function controllerOwner(obj: { metadata?: { ownerReferences?: { kind: string; name: string; controller?: boolean }[] } }, kind: string): string | undefined {
  return obj.metadata?.ownerReferences?.find((o) => o.kind === kind && o.controller !== false)?.name;
}

/**
 * Rolls everything the selector matches. Pods whose owner chain ends in a Deployment get
 * that Deployment restarted (once); any other pod is deleted. Events explain each action.
 */
export async function rollController(api: ControllerApi, namespace: string, selector: string, why: string, now = new Date()): Promise<RollOutcome> {
  const out: RollOutcome = { method: "none", deployments: [], podsDeleted: [], errors: [] };
  const pods = await api.listPods(namespace, selector);
  if (pods.length === 0) {
    out.errors.push(`no pods match ${selector} in namespace ${namespace}`);
    return out;
  }
  const deployments = new Map<string, true>();
  const others = new Map<string, "StatefulSet" | "DaemonSet">();
  const orphans: Pod[] = [];
  for (const pod of pods) {
    const sts = controllerOwner(pod, "StatefulSet");
    const ds = controllerOwner(pod, "DaemonSet");
    if (sts || ds) {
      others.set(sts ?? ds!, sts ? "StatefulSet" : "DaemonSet");
      continue;
    }
    const rs = controllerOwner(pod, "ReplicaSet");
    let deployment: string | undefined;
    if (rs) {
      try {
        const replicaSet = await api.getReplicaSet(namespace, rs);
        deployment = replicaSet ? controllerOwner(replicaSet, "Deployment") : undefined;
      } catch (err) {
        out.errors.push(`get replicaset ${rs}: ${errorMessage(err)}`);
      }
    }
    if (deployment) deployments.set(deployment, true);
    else orphans.push(pod);
  }
  const at = now.toISOString();
  for (const d of deployments.keys()) {
    try {
      await api.restartDeployment(namespace, d, at);
      out.deployments.push(d);
      await api
        .recordEvent({ kind: "Deployment", name: d, namespace }, "WatchControllerRolled", `watch-auditor restarted this Deployment: ${why}`, "Warning")
        .catch((err: unknown) => out.errors.push(`event for deployment ${d}: ${errorMessage(err)}`));
    } catch (err) {
      out.errors.push(`restart deployment ${d}: ${errorMessage(err)}`);
    }
  }
  for (const [name, kind] of others) {
    const r = await rollWorkload(api, namespace, kind, name, why, now);
    out.workloads = [...(out.workloads ?? []), ...(r.workloads ?? [])];
    out.errors.push(...r.errors);
  }
  for (const pod of orphans) {
    const name = pod.metadata?.name ?? "";
    try {
      await api.deletePod(namespace, name);
      out.podsDeleted.push(name);
      await api
        .recordEvent({ kind: "Pod", name, namespace, uid: pod.metadata?.uid }, "WatchControllerRolled", `watch-auditor deleted this pod: ${why}`, "Warning")
        .catch((err: unknown) => out.errors.push(`event for pod ${name}: ${errorMessage(err)}`));
    } catch (err) {
      out.errors.push(`delete pod ${name}: ${errorMessage(err)}`);
    }
  }
  out.method = out.deployments.length > 0 || (out.workloads?.length ?? 0) > 0 ? "rollout_restart" : out.podsDeleted.length > 0 ? "delete_pods" : "none";
  return out;
}

/** Rollout restart of one named Deployment, StatefulSet or DaemonSet, with its Event. */
export async function rollWorkload(api: ControllerApi, namespace: string, kind: "Deployment" | "StatefulSet" | "DaemonSet", name: string, why: string, now = new Date()): Promise<RollOutcome> {
  const out: RollOutcome = { method: "none", deployments: [], podsDeleted: [], errors: [] };
  const at = now.toISOString();
  try {
    if (kind === "Deployment") {
      await api.restartDeployment(namespace, name, at);
      out.deployments.push(name);
    } else {
      await api.restartWorkload(kind, namespace, name, at);
      out.workloads = [`${kind}/${name}`];
    }
    out.method = "rollout_restart";
    await api
      .recordEvent({ kind, name, namespace }, "WatchControllerRolled", `watch-auditor restarted this ${kind}: ${why}`, "Warning")
      .catch((err: unknown) => out.errors.push(`event for ${kind.toLowerCase()} ${name}: ${errorMessage(err)}`));
  } catch (err) {
    out.errors.push(`restart ${kind.toLowerCase()} ${name}: ${errorMessage(err)}`);
  }
  return out;
}
