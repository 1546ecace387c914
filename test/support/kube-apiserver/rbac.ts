// RBAC authorizer over the Role/ClusterRole/(Cluster)RoleBinding objects currently in the store,
// following k8s.io/kubernetes/plugin/pkg/auth/authorizer/rbac (no aggregation, no escalation checks).
import type { ResourceRegistry } from "./resources.js";
import type { KubeObject, ObjectStore } from "./store.js";

export interface UserInfo {
  user: string;
  groups: string[];
}

export interface RequestAttributes {
  verb: string;
  resourceRequest: boolean;
  apiGroup: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
  path: string;
}

interface PolicyRule {
  verbs?: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

interface Subject {
  kind?: string;
  name?: string;
  namespace?: string;
}

/** Paths the default bootstrap roles (system:discovery, system:public-info-viewer) open to everyone. */
const PUBLIC_PATHS = ["/healthz", "/livez", "/readyz", "/version", "/version/"];
const DISCOVERY_PREFIXES = ["/api", "/apis", "/openapi"];

function has(list: string[] | undefined, v: string): boolean {
  return (list ?? []).some((x) => x === "*" || x === v);
}

function resourceMatches(rule: PolicyRule, a: RequestAttributes): boolean {
  const combined = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  return (rule.resources ?? []).some(
    (r) => r === "*" || r === combined || (a.subresource !== "" && r === `*/${a.subresource}`),
  );
}

export function ruleAllows(rule: PolicyRule, a: RequestAttributes): boolean {
  if (!has(rule.verbs, a.verb)) return false;
  if (!a.resourceRequest) {
    return (rule.nonResourceURLs ?? []).some(
      (u) => u === "*" || u === a.path || (u.endsWith("*") && a.path.startsWith(u.slice(0, -1))),
    );
  }
  if (!has(rule.apiGroups, a.apiGroup) || !resourceMatches(rule, a)) return false;
  const names = rule.resourceNames ?? [];
  return names.length === 0 || (a.name !== "" && names.includes(a.name));
}

function subjectMatches(s: Subject, u: UserInfo, bindingNamespace: string): boolean {
  switch (s.kind) {
    case "User":
      return s.name === u.user;
    case "Group":
      return s.name !== undefined && u.groups.includes(s.name);
    case "ServiceAccount":
      return u.user === `system:serviceaccount:${s.namespace || bindingNamespace}:${s.name}`;
    default:
      return false;
  }
}

export function isSuperUser(u: UserInfo): boolean {
  return u.groups.includes("system:masters");
}

export class RbacAuthorizer {
  constructor(
    private readonly store: ObjectStore,
    private readonly registry: ResourceRegistry,
  ) {}

  private rulesOf(kind: "Role" | "ClusterRole", name: string, namespace: string): PolicyRule[] {
    const ref = kind === "Role" ? "rbac.authorization.k8s.io/v1/roles" : "rbac.authorization.k8s.io/v1/clusterroles";
    const role = this.store.getRaw(this.registry.resolve(ref), kind === "Role" ? namespace : undefined, name);
    return ((role?.rules as PolicyRule[] | undefined) ?? []).filter(Boolean);
  }

  private bindingAllows(b: KubeObject, u: UserInfo, a: RequestAttributes, bindingNs: string): boolean {
    const subjects = (b.subjects as Subject[] | undefined) ?? [];
    if (!subjects.some((s) => subjectMatches(s, u, bindingNs))) return false;
    const ref = b.roleRef as { kind?: string; name?: string } | undefined;
    if (!ref?.name || (ref.kind !== "Role" && ref.kind !== "ClusterRole")) return false;
    return this.rulesOf(ref.kind, ref.name, bindingNs).some((r) => ruleAllows(r, a));
  }

  authorize(u: UserInfo, a: RequestAttributes): boolean {
    if (isSuperUser(u)) return true;
    if (!a.resourceRequest && a.verb === "get") {
      if (PUBLIC_PATHS.includes(a.path)) return true;
      const authenticated = u.groups.includes("system:authenticated");
      if (authenticated && DISCOVERY_PREFIXES.some((p) => a.path === p || a.path.startsWith(`${p}/`))) return true;
    }
    // system:basic-user: everyone authenticated may ask what they themselves can do.
    if (
      a.resourceRequest &&
      a.verb === "create" &&
      a.apiGroup === "authorization.k8s.io" &&
      (a.resource === "selfsubjectaccessreviews" || a.resource === "selfsubjectrulesreviews") &&
      u.groups.includes("system:authenticated")
    )
      return true;
    const crbs = this.store.listCurrent(this.registry.resolve("rbac.authorization.k8s.io/v1/clusterrolebindings"));
    for (const b of crbs) {
      const ref = b.roleRef as { kind?: string } | undefined;
      if (ref?.kind === "ClusterRole" && this.bindingAllows(b, u, a, "")) return true;
    }
    if (a.resourceRequest && a.namespace !== "") {
      const rbs = this.store.listCurrent(this.registry.resolve("rbac.authorization.k8s.io/v1/rolebindings"), a.namespace);
      for (const b of rbs) if (this.bindingAllows(b, u, a, a.namespace)) return true;
    }
    return false;
  }
}

/** The message the real API server puts in a 403 (k8s.io/apiserver/pkg/endpoints/handlers/responsewriters). */
export function forbiddenMessage(u: UserInfo, a: RequestAttributes): string {
  if (!a.resourceRequest) return `forbidden: User "${u.user}" cannot ${a.verb} path "${a.path}"`;
  const qualified = a.apiGroup ? `${a.resource}.${a.apiGroup}` : a.resource;
  const subject = a.name ? `${qualified} "${a.name}"` : qualified;
  const res = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const scope = a.namespace ? `in the namespace "${a.namespace}"` : "at the cluster scope";
  return `${subject} is forbidden: User "${u.user}" cannot ${a.verb} resource "${res}" in API group "${a.apiGroup}" ${scope}`;
}
