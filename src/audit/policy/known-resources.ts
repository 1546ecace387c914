// Built-in Kubernetes API groups and the resources they serve (current and recently removed
// versions), for spotting a resource listed under the wrong group. Only these groups are checked:
// any other group may be an aggregated API or a CRD group we know nothing about.
export const BUILTIN_GROUP_RESOURCES: Readonly<Record<string, readonly string[]>> = {
  "": [
    "bindings", "componentstatuses", "configmaps", "endpoints", "events", "limitranges", "namespaces", "nodes",
    "persistentvolumeclaims", "persistentvolumes", "pods", "podtemplates", "replicationcontrollers", "resourcequotas",
    "secrets", "serviceaccounts", "services",
  ],
  apps: ["controllerrevisions", "daemonsets", "deployments", "replicasets", "statefulsets"],
  batch: ["cronjobs", "jobs"],
  autoscaling: ["horizontalpodautoscalers"],
  policy: ["poddisruptionbudgets", "podsecuritypolicies"],
  "networking.k8s.io": ["ingressclasses", "ingresses", "networkpolicies", "ipaddresses", "servicecidrs"],
  "rbac.authorization.k8s.io": ["clusterrolebindings", "clusterroles", "rolebindings", "roles"],
  "coordination.k8s.io": ["leases", "leasecandidates"],
  "authentication.k8s.io": ["tokenreviews", "selfsubjectreviews"],
  "authorization.k8s.io": ["localsubjectaccessreviews", "selfsubjectaccessreviews", "selfsubjectrulesreviews", "subjectaccessreviews"],
  "certificates.k8s.io": ["certificatesigningrequests", "clustertrustbundles"],
  "storage.k8s.io": ["csidrivers", "csinodes", "csistoragecapacities", "storageclasses", "volumeattachments", "volumeattributesclasses"],
  "scheduling.k8s.io": ["priorityclasses"],
  "node.k8s.io": ["runtimeclasses"],
  "discovery.k8s.io": ["endpointslices"],
  "events.k8s.io": ["events"],
  "apiextensions.k8s.io": ["customresourcedefinitions"],
  "apiregistration.k8s.io": ["apiservices"],
  "admissionregistration.k8s.io": [
    "mutatingwebhookconfigurations", "validatingwebhookconfigurations", "validatingadmissionpolicies",
    "validatingadmissionpolicybindings", "mutatingadmissionpolicies", "mutatingadmissionpolicybindings",
  ],
  "flowcontrol.apiserver.k8s.io": ["flowschemas", "prioritylevelconfigurations"],
  "resource.k8s.io": ["deviceclasses", "resourceclaims", "resourceclaimtemplates", "resourceslices"],
  // Deprecated group: served deployments, daemonsets, replicasets, ingresses, networkpolicies,
  // podsecuritypolicies until 1.16–1.22; policies written for old clusters still list it.
  extensions: ["daemonsets", "deployments", "ingresses", "networkpolicies", "podsecuritypolicies", "replicasets"],
  "metrics.k8s.io": ["nodes", "pods"],
};

/** Built-in groups serving `resource` (without subresource), sorted with the canonical group first. */
export function groupsServing(resource: string): string[] {
  const out: string[] = [];
  for (const [group, resources] of Object.entries(BUILTIN_GROUP_RESOURCES)) {
    if (resources.includes(resource)) out.push(group);
  }
  // extensions and metrics.k8s.io are never the answer we want to suggest first.
  return out.sort((a, b) => rank(a) - rank(b));
}

function rank(group: string): number {
  return group === "extensions" || group === "metrics.k8s.io" || group === "events.k8s.io" ? 1 : 0;
}

export function isBuiltinGroup(group: string): boolean {
  return Object.hasOwn(BUILTIN_GROUP_RESOURCES, group);
}

/** Request verbs the API server puts in audit events (resource and non-resource requests). */
export const KNOWN_VERBS = new Set([
  "get", "list", "watch", "create", "update", "patch", "delete", "deletecollection",
  // non-resource requests use the lower-cased HTTP method
  "post", "put", "head", "options",
  // deprecated proxy verb of old API servers
  "proxy",
]);

/** Verbs whose requests carry no object name (list/watch do when they use fieldSelector=metadata.name=…). */
export const NAMELESS_VERBS = new Set(["list", "watch", "create", "deletecollection"]);

/** Resources that live outside namespaces: a rule restricting namespaces to non-"" never matches them. */
export const CLUSTER_SCOPED = new Set([
  "namespaces", "nodes", "persistentvolumes", "componentstatuses", "clusterroles", "clusterrolebindings",
  "customresourcedefinitions", "apiservices", "storageclasses", "csidrivers", "csinodes", "volumeattachments",
  "priorityclasses", "runtimeclasses", "certificatesigningrequests", "mutatingwebhookconfigurations",
  "validatingwebhookconfigurations", "validatingadmissionpolicies", "validatingadmissionpolicybindings",
  "flowschemas", "prioritylevelconfigurations", "ingressclasses", "tokenreviews", "selfsubjectaccessreviews",
  "selfsubjectrulesreviews", "subjectaccessreviews", "podsecuritypolicies", "deviceclasses", "resourceslices",
  "clustertrustbundles", "ipaddresses", "servicecidrs", "volumeattributesclasses", "selfsubjectreviews",
]);
