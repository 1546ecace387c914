// The table of API resources the test server knows by name, plus the resources of installed
// CustomResourceDefinitions (crds.ts) and, only with `learnUnknownResources`, on-the-fly
// registration of anything else a test creates (accepted as-is, like a CRD without schema).
import type { CustomResourceInfo } from "./crds.js";

export interface ResourceInfo {
  group: string; // "" for the core group
  version: string;
  resource: string; // plural, lower case: "pods"
  kind: string;
  listKind: string;
  singular: string;
  namespaced: boolean;
  shortNames?: string[];
  /** Kinds whose spec changes bump metadata.generation. */
  generation: boolean;
  /** Has a /status subresource: main-resource writes keep the old status and vice versa. */
  statusSubresource: boolean;
  /** Name rule: most kinds need a DNS-1123 subdomain; some a DNS-1123 label; RBAC any path segment. */
  nameRule: "subdomain" | "label" | "path-segment";
  /** Fields usable in fieldSelector besides metadata.name/metadata.namespace. */
  fields: string[];
  /** Set for resources served from a CustomResourceDefinition (crds.ts). */
  crd?: CustomResourceInfo;
  /** Built-in `scale` subresource (scale.ts): where replicas and the selector live. */
  scale?: { specReplicasPath: string; statusReplicasPath: string; labelSelectorPath?: string };
}

type Spec = Omit<ResourceInfo, "listKind" | "singular" | "generation" | "statusSubresource" | "nameRule" | "fields"> &
  Partial<Pick<ResourceInfo, "generation" | "statusSubresource" | "nameRule" | "fields">>;

const POD_FIELDS = [
  "spec.nodeName",
  "spec.restartPolicy",
  "spec.schedulerName",
  "spec.serviceAccountName",
  "spec.hostNetwork",
  "status.phase",
  "status.podIP",
  "status.nominatedNodeName",
];
const EVENT_FIELDS = [
  "involvedObject.kind",
  "involvedObject.namespace",
  "involvedObject.name",
  "involvedObject.uid",
  "involvedObject.apiVersion",
  "involvedObject.resourceVersion",
  "involvedObject.fieldPath",
  "reason",
  "reportingComponent",
  "source",
  "type",
];

const SPECS: Spec[] = [
  { group: "", version: "v1", resource: "pods", kind: "Pod", namespaced: true, shortNames: ["po"], statusSubresource: true, fields: POD_FIELDS },
  { group: "", version: "v1", resource: "services", kind: "Service", namespaced: true, shortNames: ["svc"], statusSubresource: true, nameRule: "label" },
  { group: "", version: "v1", resource: "endpoints", kind: "Endpoints", namespaced: true, shortNames: ["ep"] },
  { group: "", version: "v1", resource: "namespaces", kind: "Namespace", namespaced: false, shortNames: ["ns"], statusSubresource: true, nameRule: "label", fields: ["status.phase"] },
  { group: "", version: "v1", resource: "nodes", kind: "Node", namespaced: false, shortNames: ["no"], statusSubresource: true, fields: ["spec.unschedulable"] },
  { group: "", version: "v1", resource: "events", kind: "Event", namespaced: true, shortNames: ["ev"], fields: EVENT_FIELDS },
  { group: "", version: "v1", resource: "configmaps", kind: "ConfigMap", namespaced: true, shortNames: ["cm"] },
  { group: "", version: "v1", resource: "secrets", kind: "Secret", namespaced: true, fields: ["type"] },
  { group: "", version: "v1", resource: "podtemplates", kind: "PodTemplate", namespaced: true, generation: true },
  { group: "", version: "v1", resource: "serviceaccounts", kind: "ServiceAccount", namespaced: true, shortNames: ["sa"] },
  { group: "apps", version: "v1", resource: "deployments", kind: "Deployment", namespaced: true, shortNames: ["deploy"], generation: true, statusSubresource: true, scale: { specReplicasPath: ".spec.replicas", statusReplicasPath: ".status.replicas", labelSelectorPath: ".spec.selector" } },
  { group: "apps", version: "v1", resource: "replicasets", kind: "ReplicaSet", namespaced: true, shortNames: ["rs"], generation: true, statusSubresource: true, fields: ["status.replicas"], scale: { specReplicasPath: ".spec.replicas", statusReplicasPath: ".status.replicas", labelSelectorPath: ".spec.selector" } },
  { group: "apps", version: "v1", resource: "statefulsets", kind: "StatefulSet", namespaced: true, shortNames: ["sts"], generation: true, statusSubresource: true, scale: { specReplicasPath: ".spec.replicas", statusReplicasPath: ".status.replicas", labelSelectorPath: ".spec.selector" } },
  { group: "apps", version: "v1", resource: "daemonsets", kind: "DaemonSet", namespaced: true, shortNames: ["ds"], generation: true, statusSubresource: true },
  { group: "batch", version: "v1", resource: "jobs", kind: "Job", namespaced: true, generation: true, statusSubresource: true, fields: ["status.successful"] },
  { group: "batch", version: "v1", resource: "cronjobs", kind: "CronJob", namespaced: true, shortNames: ["cj"], generation: true, statusSubresource: true },
  { group: "discovery.k8s.io", version: "v1", resource: "endpointslices", kind: "EndpointSlice", namespaced: true },
  { group: "coordination.k8s.io", version: "v1", resource: "leases", kind: "Lease", namespaced: true },
  { group: "events.k8s.io", version: "v1", resource: "events", kind: "Event", namespaced: true, shortNames: ["ev"] },
  { group: "rbac.authorization.k8s.io", version: "v1", resource: "roles", kind: "Role", namespaced: true, nameRule: "path-segment" },
  { group: "rbac.authorization.k8s.io", version: "v1", resource: "rolebindings", kind: "RoleBinding", namespaced: true, nameRule: "path-segment" },
  { group: "rbac.authorization.k8s.io", version: "v1", resource: "clusterroles", kind: "ClusterRole", namespaced: false, nameRule: "path-segment" },
  { group: "rbac.authorization.k8s.io", version: "v1", resource: "clusterrolebindings", kind: "ClusterRoleBinding", namespaced: false, nameRule: "path-segment" },
  // The rest of what a v1.25 server serves (its discovery: discovery.ts).
  { group: "", version: "v1", resource: "replicationcontrollers", kind: "ReplicationController", namespaced: true, shortNames: ["rc"], generation: true, statusSubresource: true, fields: ["status.replicas"], scale: { specReplicasPath: ".spec.replicas", statusReplicasPath: ".status.replicas", labelSelectorPath: ".spec.selector" } },
  { group: "", version: "v1", resource: "limitranges", kind: "LimitRange", namespaced: true, shortNames: ["limits"] },
  { group: "", version: "v1", resource: "resourcequotas", kind: "ResourceQuota", namespaced: true, shortNames: ["quota"], statusSubresource: true },
  { group: "", version: "v1", resource: "persistentvolumes", kind: "PersistentVolume", namespaced: false, shortNames: ["pv"], statusSubresource: true },
  { group: "", version: "v1", resource: "persistentvolumeclaims", kind: "PersistentVolumeClaim", namespaced: true, shortNames: ["pvc"], statusSubresource: true },
  { group: "apps", version: "v1", resource: "controllerrevisions", kind: "ControllerRevision", namespaced: true },
  { group: "autoscaling", version: "v2", resource: "horizontalpodautoscalers", kind: "HorizontalPodAutoscaler", namespaced: true, shortNames: ["hpa"], statusSubresource: true },
  { group: "autoscaling", version: "v1", resource: "horizontalpodautoscalers", kind: "HorizontalPodAutoscaler", namespaced: true, shortNames: ["hpa"], statusSubresource: true },
  { group: "autoscaling", version: "v2beta2", resource: "horizontalpodautoscalers", kind: "HorizontalPodAutoscaler", namespaced: true, shortNames: ["hpa"], statusSubresource: true },
  { group: "policy", version: "v1", resource: "poddisruptionbudgets", kind: "PodDisruptionBudget", namespaced: true, shortNames: ["pdb"], generation: true, statusSubresource: true },
  { group: "networking.k8s.io", version: "v1", resource: "ingresses", kind: "Ingress", namespaced: true, shortNames: ["ing"], statusSubresource: true },
  { group: "networking.k8s.io", version: "v1", resource: "ingressclasses", kind: "IngressClass", namespaced: false },
  { group: "networking.k8s.io", version: "v1", resource: "networkpolicies", kind: "NetworkPolicy", namespaced: true, shortNames: ["netpol"], statusSubresource: true },
  { group: "node.k8s.io", version: "v1", resource: "runtimeclasses", kind: "RuntimeClass", namespaced: false },
  { group: "scheduling.k8s.io", version: "v1", resource: "priorityclasses", kind: "PriorityClass", namespaced: false, shortNames: ["pc"] },
  { group: "storage.k8s.io", version: "v1", resource: "storageclasses", kind: "StorageClass", namespaced: false, shortNames: ["sc"] },
  { group: "storage.k8s.io", version: "v1", resource: "csidrivers", kind: "CSIDriver", namespaced: false },
  { group: "storage.k8s.io", version: "v1", resource: "csinodes", kind: "CSINode", namespaced: false },
  { group: "storage.k8s.io", version: "v1", resource: "csistoragecapacities", kind: "CSIStorageCapacity", namespaced: true },
  { group: "storage.k8s.io", version: "v1beta1", resource: "csistoragecapacities", kind: "CSIStorageCapacity", namespaced: true },
  { group: "storage.k8s.io", version: "v1", resource: "volumeattachments", kind: "VolumeAttachment", namespaced: false, statusSubresource: true },
  { group: "certificates.k8s.io", version: "v1", resource: "certificatesigningrequests", kind: "CertificateSigningRequest", namespaced: false, shortNames: ["csr"], statusSubresource: true, fields: ["spec.signerName"] },
  { group: "admissionregistration.k8s.io", version: "v1", resource: "mutatingwebhookconfigurations", kind: "MutatingWebhookConfiguration", namespaced: false },
  { group: "admissionregistration.k8s.io", version: "v1", resource: "validatingwebhookconfigurations", kind: "ValidatingWebhookConfiguration", namespaced: false },
  { group: "apiregistration.k8s.io", version: "v1", resource: "apiservices", kind: "APIService", namespaced: false, statusSubresource: true },
  { group: "flowcontrol.apiserver.k8s.io", version: "v1beta2", resource: "flowschemas", kind: "FlowSchema", namespaced: false, statusSubresource: true },
  { group: "flowcontrol.apiserver.k8s.io", version: "v1beta2", resource: "prioritylevelconfigurations", kind: "PriorityLevelConfiguration", namespaced: false, statusSubresource: true },
  { group: "flowcontrol.apiserver.k8s.io", version: "v1beta1", resource: "flowschemas", kind: "FlowSchema", namespaced: false, statusSubresource: true },
  { group: "flowcontrol.apiserver.k8s.io", version: "v1beta1", resource: "prioritylevelconfigurations", kind: "PriorityLevelConfiguration", namespaced: false, statusSubresource: true },
  // Virtual (never stored): answered by the authorizer, as `kubectl auth can-i` uses them.
  { group: "authorization.k8s.io", version: "v1", resource: "selfsubjectaccessreviews", kind: "SelfSubjectAccessReview", namespaced: false },
  { group: "authorization.k8s.io", version: "v1", resource: "subjectaccessreviews", kind: "SubjectAccessReview", namespaced: false },
  { group: "authorization.k8s.io", version: "v1", resource: "selfsubjectrulesreviews", kind: "SelfSubjectRulesReview", namespaced: false },
  { group: "authorization.k8s.io", version: "v1", resource: "localsubjectaccessreviews", kind: "LocalSubjectAccessReview", namespaced: true },
  { group: "authentication.k8s.io", version: "v1", resource: "tokenreviews", kind: "TokenReview", namespaced: false },
  // Creating one serves its resource (crds.ts); `installCrds(api, dir)` installs files of them.
  { group: "apiextensions.k8s.io", version: "v1", resource: "customresourcedefinitions", kind: "CustomResourceDefinition", namespaced: false, shortNames: ["crd", "crds"], statusSubresource: true },
];

export function resourceInfo(spec: Spec): ResourceInfo {
  return {
    listKind: `${spec.kind}List`,
    singular: spec.kind.toLowerCase(),
    generation: false,
    statusSubresource: false,
    nameRule: "subdomain",
    fields: [],
    ...spec,
  };
}

/** Group/version string as written in apiVersion: "v1" or "apps/v1". */
export function groupVersion(group: string, version: string): string {
  return group === "" ? version : `${group}/${version}`;
}

export function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const i = apiVersion.indexOf("/");
  return i < 0 ? { group: "", version: apiVersion } : { group: apiVersion.slice(0, i), version: apiVersion.slice(i + 1) };
}

/** Key of a resource type: "apps/v1/deployments", "/v1/pods" for core. */
export function gvrKey(r: { group: string; version: string; resource: string }): string {
  return `${r.group}/${r.version}/${r.resource}`;
}

/** Whether a CRD-like group (not built into Kubernetes) gets its objects accepted as-is. */
export function isBuiltinGroup(group: string): boolean {
  return group === "" || !group.includes(".") || group.endsWith(".k8s.io");
}

export class ResourceRegistry {
  private readonly byKey = new Map<string, ResourceInfo>();

  constructor(extra: Spec[] = []) {
    for (const s of [...SPECS, ...extra]) this.add(resourceInfo(s));
  }

  add(info: ResourceInfo): void {
    this.byKey.set(gvrKey(info), info);
  }

  /** Stops serving a resource (its CRD was deleted or no longer serves that version). */
  remove(info: { group: string; version: string; resource: string }): void {
    this.byKey.delete(gvrKey(info));
  }

  get(group: string, version: string, resource: string): ResourceInfo | undefined {
    return this.byKey.get(gvrKey({ group, version, resource }));
  }

  byKind(apiVersion: string, kind: string): ResourceInfo | undefined {
    const { group, version } = splitApiVersion(apiVersion);
    for (const r of this.byKey.values()) if (r.group === group && r.version === version && r.kind === kind) return r;
    return undefined;
  }

  /**
   * Resolves a short reference used by store callers: "pods", "deployments.apps", "apps/v1/deployments",
   * "v1/pods", or an object.
   */
  resolve(ref: GvrRef): ResourceInfo {
    if (typeof ref !== "string") {
      const found = this.get(ref.group, ref.version, ref.resource);
      if (!found) throw new Error(`unknown resource ${gvrKey(ref)}`);
      return found;
    }
    const parts = ref.split("/");
    let found: ResourceInfo | undefined;
    if (parts.length === 3) found = this.get(parts[0]!, parts[1]!, parts[2]!);
    else if (parts.length === 2) found = this.get("", parts[0]!, parts[1]!);
    else {
      const dot = ref.indexOf(".");
      const resource = dot < 0 ? ref : ref.slice(0, dot);
      const group = dot < 0 ? "" : ref.slice(dot + 1);
      // Core group first, so "events" means core v1 events as kubectl does.
      found = [...this.byKey.values()].find((r) => r.resource === resource && r.group === group);
      if (!found && dot < 0) found = [...this.byKey.values()].find((r) => r.resource === resource);
    }
    if (!found) throw new Error(`unknown resource ${ref}`);
    return found;
  }

  all(): ResourceInfo[] {
    return [...this.byKey.values()];
  }

  groups(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const r of this.byKey.values()) {
      if (r.group === "") continue;
      const versions = out.get(r.group) ?? [];
      if (!versions.includes(r.version)) versions.push(r.version);
      out.set(r.group, versions);
    }
    return out;
  }

  /** Registers a resource first seen on a request (unknown CRD), learning kind and scope from it. */
  learn(group: string, version: string, resource: string, kind: string, namespaced: boolean): ResourceInfo {
    const info = resourceInfo({ group, version, resource, kind, namespaced, generation: true });
    this.add(info);
    return info;
  }
}

export type GvrRef = string | { group: string; version: string; resource: string };
export type ResourceSpec = Spec;
