import type { ObjectMeta, OwnerReference } from "kubernetes-types/meta/v1.js";

export interface Workload {
  workload: string;
  workloadKind: string;
}

export const HELM_INSTANCE_LABEL = "app.kubernetes.io/instance";
export const HELM_RELEASE_ANNOTATION = "meta.helm.sh/release-name";

export function controllerOf(meta: ObjectMeta | undefined): OwnerReference | undefined {
  const refs = meta?.ownerReferences;
  if (!refs || refs.length === 0) return undefined;
  return refs.find((r) => r.controller) ?? refs[0];
}

export function releaseOf(meta: ObjectMeta | undefined): string | undefined {
  return meta?.annotations?.[HELM_RELEASE_ANNOTATION] || meta?.labels?.[HELM_INSTANCE_LABEL] || undefined;
}

// Deployment pods are named <deployment>-<pod-template-hash>-<5 chars>; DaemonSet, StatefulSet
// and Job pods <owner>-<5 chars> or <owner>-<ordinal>. Used only when the owner objects are not
// available (no cluster, or a pod seen in an event before the cache has it).
// pod-template-hash uses Kubernetes' "safe" alphabet (no vowels, no 0/1/3), which tells it apart from
// a CronJob's scheduled-time suffix (digits).
const DEPLOYMENT_POD = /^(.+)-[bcdfghjklmnpqrstvwxz2456789]{6,10}-[a-z0-9]{5}$/;
const CRONJOB_POD = /^(.+)-\d{8,10}-[a-z0-9]{5}$/;
const GENERATED_POD = /^(.+)-[a-z0-9]{5}$/;

/** Best guess of the workload from a pod name alone, e.g. "keycloak-operator-5bc7649f79-nnpjh" → Deployment keycloak-operator. */
export function guessWorkloadFromPodName(pod: string): Workload {
  let m = CRONJOB_POD.exec(pod);
  if (m) return { workload: m[1]!, workloadKind: "CronJob" };
  m = DEPLOYMENT_POD.exec(pod);
  if (m) return { workload: m[1]!, workloadKind: "Deployment" };
  m = GENERATED_POD.exec(pod);
  if (m) return { workload: m[1]!, workloadKind: "DaemonSet" };
  return { workload: pod, workloadKind: "Pod" };
}

/** The ReplicaSet name minus its pod-template-hash suffix, when the pod carries that hash. */
export function deploymentFromReplicaSetName(rsName: string, podTemplateHash: string | undefined): string | undefined {
  if (podTemplateHash && rsName.endsWith(`-${podTemplateHash}`)) return rsName.slice(0, -(podTemplateHash.length + 1));
  return undefined;
}
