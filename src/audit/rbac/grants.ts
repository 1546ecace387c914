// `audit rbac --kubeconfig`: what the identity is granted now (its RoleBindings/ClusterRoleBindings
// and their roles, read through the project's client) against what it used in the window.
import { KubeClient, type GVR } from "../../core/kube/index.js";
import { pathOf, rbacResource, type Identity, type KubeObject, type PolicyRule, type RequestAttributes, identityUsername } from "./derive.js";

const rbacGvr = (resource: string, kind: string, namespaced: boolean): GVR =>
  Object.freeze({ group: "rbac.authorization.k8s.io", version: "v1", resource, kind, namespaced });
const ROLES = rbacGvr("roles", "Role", true);
const ROLEBINDINGS = rbacGvr("rolebindings", "RoleBinding", true);
const CLUSTERROLES = rbacGvr("clusterroles", "ClusterRole", false);
const CLUSTERROLEBINDINGS = rbacGvr("clusterrolebindings", "ClusterRoleBinding", false);

/** Groups every authenticated (or anonymous) caller has: grants reached only through them are not the identity's own. */
export const EVERYONE_GROUPS: ReadonlySet<string> = new Set(["system:authenticated", "system:unauthenticated"]);

export interface RbacState {
  roles: KubeObject[];
  roleBindings: KubeObject[];
  clusterRoles: KubeObject[];
  clusterRoleBindings: KubeObject[];
}

export async function readRbacState(kubeconfig: string | undefined, context: string | undefined): Promise<RbacState> {
  const kube = await KubeClient.load({ ...(kubeconfig ? { kubeconfig } : {}), ...(context ? { context } : {}) });
  try {
    const [roles, roleBindings, clusterRoles, clusterRoleBindings] = await Promise.all(
      [ROLES, ROLEBINDINGS, CLUSTERROLES, CLUSTERROLEBINDINGS].map(async (g) => (await kube.listAll<KubeObject>(g)).items),
    );
    return { roles: roles!, roleBindings: roleBindings!, clusterRoles: clusterRoles!, clusterRoleBindings: clusterRoleBindings! };
  } finally {
    kube.close();
  }
}

/** One permission granted now: a binding's role rule, expanded to one verb × group × resource (or URL). */
export interface Grant {
  binding: string;
  role: string;
  /** The binding's namespace; "" for a ClusterRoleBinding (all namespaces and cluster scope). */
  namespace: string;
  apiGroup?: string;
  resource?: string;
  resourceNames?: string[];
  nonResourceURL?: string;
  verb: string;
  /** The subject that matched: `User eve`, `Group dev`, `ServiceAccount shop/deployer`. */
  via: string;
}

function subjectMatch(s: KubeObject, bindingNs: string, username: string, groups: ReadonlySet<string>, id: Identity): string | null {
  if (s.kind === "User" && s.name === username) return `User ${s.name}`;
  if (s.kind === "Group" && groups.has(s.name) && !EVERYONE_GROUPS.has(s.name)) return `Group ${s.name}`;
  if (s.kind === "ServiceAccount" && id.kind === "ServiceAccount" && s.name === id.name && (s.namespace || bindingNs) === id.namespace) {
    return `ServiceAccount ${id.namespace}/${id.name}`;
  }
  return null;
}

/** Groups a ServiceAccount always has, besides those seen in its events. */
function identityGroups(id: Identity, seen: string[]): Set<string> {
  const g = new Set(seen);
  if (id.kind === "ServiceAccount") {
    g.add("system:serviceaccounts");
    g.add(`system:serviceaccounts:${id.namespace}`);
  }
  return g;
}

export function grantsOf(state: RbacState, id: Identity, seenGroups: string[]): Grant[] {
  const username = identityUsername(id);
  const groups = identityGroups(id, seenGroups);
  const out: Grant[] = [];
  const bindings = [
    ...state.clusterRoleBindings.map((b) => ({ b, ns: "" })),
    ...state.roleBindings.map((b) => ({ b, ns: String(b.metadata?.namespace ?? "") })),
  ];
  for (const { b, ns } of bindings) {
    const via = ((b.subjects as KubeObject[] | undefined) ?? []).map((s) => subjectMatch(s, ns, username, groups, id)).find((v) => v !== null);
    if (!via) continue;
    const ref = b.roleRef as KubeObject | undefined;
    const role =
      ref?.kind === "Role"
        ? state.roles.find((r) => r.metadata?.name === ref.name && r.metadata?.namespace === ns)
        : state.clusterRoles.find((r) => r.metadata?.name === ref?.name);
    if (!role) continue;
    const binding = ns ? `RoleBinding ${ns}/${b.metadata.name}` : `ClusterRoleBinding ${b.metadata.name}`;
    const roleName = `${ref!.kind} ${ref!.name}`;
    for (const rule of (role.rules as PolicyRule[] | undefined) ?? []) {
      for (const verb of rule.verbs ?? []) {
        for (const url of rule.nonResourceURLs ?? []) out.push({ binding, role: roleName, namespace: ns, nonResourceURL: url, verb, via });
        for (const apiGroup of rule.apiGroups ?? []) {
          for (const resource of rule.resources ?? []) {
            out.push({ binding, role: roleName, namespace: ns, apiGroup, resource, ...(rule.resourceNames?.length ? { resourceNames: rule.resourceNames } : {}), verb, via });
          }
        }
      }
    }
  }
  return out;
}

function resourceMatches(granted: string, requested: string): boolean {
  if (granted === "*" || granted === requested) return true;
  // "*/scale" covers every resource's scale subresource.
  return granted.startsWith("*/") && requested.includes("/") && requested.slice(requested.indexOf("/")) === granted.slice(1);
}

/** Whether the request is allowed by the grant, as Kubernetes' RBAC authorizer decides it. */
export function grantCovers(g: Grant, r: RequestAttributes): boolean {
  if (g.verb !== "*" && g.verb !== r.verb) return false;
  if (r.resource === null) {
    if (g.namespace !== "" || g.nonResourceURL === undefined) return false;
    const path = pathOf(r.requestUri);
    const u = g.nonResourceURL;
    return u === "*" || u === path || (u.endsWith("*") && path.startsWith(u.slice(0, -1)));
  }
  if (g.resource === undefined) return false;
  if (g.namespace !== "" && g.namespace !== r.namespace) return false;
  if (g.apiGroup !== "*" && g.apiGroup !== (r.apiGroup ?? "")) return false;
  if (!resourceMatches(g.resource, rbacResource(r))) return false;
  return !g.resourceNames || (r.name !== null && g.resourceNames.includes(r.name));
}

/** Grants no request of the window used. */
export function unusedGrants(grants: Grant[], used: RequestAttributes[]): Grant[] {
  return grants.filter((g) => !used.some((r) => grantCovers(g, r)));
}
