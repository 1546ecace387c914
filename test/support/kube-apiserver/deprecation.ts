// API versions a v1.25 server still serves but has deprecated, and those it no longer serves.
// - A request for a deprecated version gets a `Warning: 299 - "<text>"` header whatever its
//   verb or answer (the real installer wraps the whole handler), with the text of
//   k8s.io/apiserver/pkg/endpoints/deprecation.WarningMessage:
//   `autoscaling/v2beta2 HorizontalPodAutoscaler is deprecated in v1.23+, unavailable in v1.26+; use autoscaling/v2 HorizontalPodAutoscaler`.
// - Versions removed by v1.25 (policy/v1beta1, batch/v1beta1, …) are simply not in the resource
//   table: their paths fall under the group's web service and get the JSON 404
//   `the server could not find the requested resource`. `removedIn` tells which release removed one.

interface Lifecycle {
  group: string;
  version: string;
  kind: string;
  deprecated: string;
  removed: string;
  replacement?: string;
}

/** Served by v1.25 and deprecated (APILifecycleDeprecated ≤ 1.25 < APILifecycleRemoved). */
const DEPRECATED: Lifecycle[] = [
  { group: "autoscaling", version: "v2beta2", kind: "HorizontalPodAutoscaler", deprecated: "1.23", removed: "1.26", replacement: "autoscaling/v2 HorizontalPodAutoscaler" },
  { group: "flowcontrol.apiserver.k8s.io", version: "v1beta1", kind: "FlowSchema", deprecated: "1.23", removed: "1.26", replacement: "flowcontrol.apiserver.k8s.io/v1beta2 FlowSchema" },
  {
    group: "flowcontrol.apiserver.k8s.io",
    version: "v1beta1",
    kind: "PriorityLevelConfiguration",
    deprecated: "1.23",
    removed: "1.26",
    replacement: "flowcontrol.apiserver.k8s.io/v1beta2 PriorityLevelConfiguration",
  },
  { group: "storage.k8s.io", version: "v1beta1", kind: "CSIStorageCapacity", deprecated: "1.24", removed: "1.27", replacement: "storage.k8s.io/v1 CSIStorageCapacity" },
];

/** Group/versions that v1.22–v1.25 stopped serving (for messages and tests; nothing serves them). */
const REMOVED: Record<string, string> = {
  "policy/v1beta1": "1.25",
  "batch/v1beta1": "1.25",
  "discovery.k8s.io/v1beta1": "1.25",
  "events.k8s.io/v1beta1": "1.25",
  "autoscaling/v2beta1": "1.25",
  "node.k8s.io/v1beta1": "1.25",
  "extensions/v1beta1": "1.22",
  "apps/v1beta1": "1.16",
  "apps/v1beta2": "1.16",
  "networking.k8s.io/v1beta1": "1.22",
  "rbac.authorization.k8s.io/v1beta1": "1.22",
  "admissionregistration.k8s.io/v1beta1": "1.22",
  "apiextensions.k8s.io/v1beta1": "1.22",
  "apiregistration.k8s.io/v1beta1": "1.22",
  "authentication.k8s.io/v1beta1": "1.22",
  "authorization.k8s.io/v1beta1": "1.22",
  "certificates.k8s.io/v1beta1": "1.22",
  "coordination.k8s.io/v1beta1": "1.22",
  "scheduling.k8s.io/v1beta1": "1.22",
  "storage.k8s.io/v1alpha1": "1.24",
};

/** The release that stopped serving a group/version, if one did. */
export function removedIn(group: string, version: string): string | undefined {
  return REMOVED[`${group}/${version}`];
}

/** The Warning text for a request to a deprecated kind, or undefined. */
export function deprecationWarning(group: string, version: string, kind: string): string | undefined {
  const d = DEPRECATED.find((x) => x.group === group && x.version === version && x.kind === kind);
  if (!d) return undefined;
  const gv = group === "" ? version : `${group}/${version}`;
  return `${gv} ${kind} is deprecated in v${d.deprecated}+, unavailable in v${d.removed}+${d.replacement ? `; use ${d.replacement}` : ""}`;
}

/** A Warning header value (`299 - "<text>"`, quotes and backslashes escaped). */
export function warningHeader(text: string): string {
  return `299 - "${text.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}
