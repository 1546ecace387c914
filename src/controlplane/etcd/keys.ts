// Kubernetes' etcd key layout under /registry/ (k8s.io/apiserver storage): which resource,
// namespace and name a key belongs to.
//
//   /registry/<resource>/<namespace>/<name>            namespaced, core and most built-in groups
//                                                       (deployments, roles, leases, events, ...)
//   /registry/<resource>/<name>                        cluster-scoped (namespaces, clusterroles, ...)
//   /registry/<group>/<plural>/<namespace>/<name>      group-prefixed: CRDs' objects and a few
//   /registry/<group>/<plural>/<name>                  built-ins (apiregistration.k8s.io/apiservices,
//                                                       apiextensions.k8s.io/customresourcedefinitions)
//
// A group always contains a dot (CRD groups must), a resource never does: that tells the forms
// apart. A few built-ins are stored under historical names, mapped to their resource names:
// services/specs → services, services/endpoints → endpoints, minions → nodes,
// controllers → replicationcontrollers.

export interface RegistryKey {
  /** Resource, `plural.group` for group-prefixed keys (apiservices.apiregistration.k8s.io). */
  resource: string;
  /** Absent for cluster-scoped objects. */
  namespace?: string;
  name: string;
}

const TWO_SEGMENT: Record<string, string> = { "services/specs": "services", "services/endpoints": "endpoints" };
const RENAMED: Record<string, string> = { minions: "nodes", controllers: "replicationcontrollers" };

/**
 * The root the key layout is relative to: "/registry/" when `prefix` starts with it (a scan of
 * "/registry/pods/" still parses "pods" as the resource), else the prefix itself.
 */
export function parseRoot(prefix: string): string {
  const i = prefix.indexOf("/registry/");
  return i >= 0 ? prefix.slice(0, i + "/registry/".length) : prefix.endsWith("/") ? prefix : `${prefix}/`;
}

/** Parses `key` (relative to `root`, default "/registry/"); undefined when it is not laid out like a Kubernetes object. */
export function parseRegistryKey(key: string, root = "/registry/"): RegistryKey | undefined {
  if (!key.startsWith(root)) return undefined;
  const parts = key.slice(root.length).split("/");
  if (parts.some((p) => p === "")) return undefined;
  let resource: string;
  let rest: string[];
  const first = parts[0]!;
  const two = parts.length >= 2 ? TWO_SEGMENT[`${first}/${parts[1]}`] : undefined;
  if (two !== undefined) {
    resource = two;
    rest = parts.slice(2);
  } else if (first.includes(".")) {
    if (parts.length < 2) return undefined;
    resource = `${parts[1]}.${first}`;
    rest = parts.slice(2);
  } else {
    resource = RENAMED[first] ?? first;
    rest = parts.slice(1);
  }
  if (rest.length === 1) return { resource, name: rest[0]! };
  if (rest.length === 2) return { resource, namespace: rest[0]!, name: rest[1]! };
  return undefined;
}
