// `audit rbac`: the least RBAC that covers what one identity did (audit2rbac's model).
// Pure functions over request attributes as the authorizer saw them; the store query is in query.ts.

export const RBAC_API_GROUP = "rbac.authorization.k8s.io";
export const RBAC_API_VERSION = "rbac.authorization.k8s.io/v1";
export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
export const IDENTITY_LABEL = "watch-auditor.io/audit2rbac-for";
export const DEFAULT_MAX_RESOURCE_NAMES = 5;

/** Verbs whose authorization never carries an object name: a rule with resourceNames cannot allow them. */
export const UNNAMEABLE_VERBS: ReadonlySet<string> = new Set(["create", "list", "watch", "deletecollection"]);

/** One request of the identity, as the authorizer saw it (from an audit event). */
export interface RequestAttributes {
  verb: string;
  namespace: string | null;
  apiGroup: string | null;
  resource: string | null;
  subresource: string | null;
  name: string | null;
  /** requestURI (path and query); the path is the non-resource URL when resource is null. */
  requestUri: string | null;
}

export interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
  verbs: string[];
}

export type Identity = { kind: "User"; name: string } | { kind: "ServiceAccount"; namespace: string; name: string };

export function identityUsername(id: Identity): string {
  return id.kind === "User" ? id.name : `system:serviceaccount:${id.namespace}:${id.name}`;
}

/** NS:NAME → ServiceAccount identity. */
export function parseServiceAccount(v: string): Identity | null {
  const m = /^([^:]+):([^:]+)$/.exec(v.trim());
  return m ? { kind: "ServiceAccount", namespace: m[1]!, name: m[2]! } : null;
}

export function objectName(id: Identity): string {
  return `audit2rbac:${identityUsername(id)}`;
}

/** A label value (≤63 chars of [A-Za-z0-9._-], alphanumeric at both ends) naming the identity. */
export function identityLabel(id: Identity): string {
  const raw = id.kind === "User" ? `user.${id.name}` : `serviceaccount.${id.namespace}.${id.name}`;
  return raw.replace(/[^A-Za-z0-9._-]/g, "-").slice(0, 63).replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, "");
}

export function pathOf(uri: string | null): string {
  if (!uri) return "/";
  const q = uri.indexOf("?");
  return q >= 0 ? uri.slice(0, q) : uri;
}

/** Resource as RBAC spells it: "deployments" or "deployments/scale". */
export function rbacResource(r: { resource: string | null; subresource: string | null }): string {
  return r.subresource ? `${r.resource}/${r.subresource}` : (r.resource ?? "");
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const cmpArr = (a: string[] | undefined, b: string[] | undefined): number => cmp((a ?? []).join("\u0000"), (b ?? []).join("\u0000"));

export function sortRules(rules: PolicyRule[]): PolicyRule[] {
  return rules.sort(
    (a, b) =>
      cmp(a.nonResourceURLs ? "1" : "0", b.nonResourceURLs ? "1" : "0") ||
      cmpArr(a.apiGroups, b.apiGroups) ||
      cmpArr(a.resources, b.resources) ||
      cmpArr(a.nonResourceURLs, b.nonResourceURLs) ||
      cmpArr(a.resourceNames, b.resourceNames) ||
      cmpArr(a.verbs, b.verbs),
  );
}

/**
 * Rules covering the requests of one scope (a namespace, or the cluster). Per (apiGroup, resource,
 * verb): the names the requests named become resourceNames when every request named an object,
 * there are at most maxNames of them and the verb can be restricted by name; otherwise no
 * restriction. Then one rule per (apiGroup, resource, resourceNames) with the union of verbs.
 */
export function rulesFor(requests: RequestAttributes[], maxNames: number): PolicyRule[] {
  const byVerb = new Map<string, { group: string; resource: string; verb: string; names: Set<string>; unnamed: boolean }>();
  const nonResource = new Map<string, Set<string>>();
  for (const r of requests) {
    if (r.resource === null) {
      const path = pathOf(r.requestUri);
      const verbs = nonResource.get(path) ?? new Set<string>();
      verbs.add(r.verb);
      nonResource.set(path, verbs);
      continue;
    }
    const group = r.apiGroup ?? "";
    const resource = rbacResource(r);
    const key = JSON.stringify([group, resource, r.verb]);
    const e = byVerb.get(key) ?? { group, resource, verb: r.verb, names: new Set<string>(), unnamed: false };
    if (r.name) e.names.add(r.name);
    else e.unnamed = true;
    byVerb.set(key, e);
  }
  const merged = new Map<string, PolicyRule>();
  for (const e of byVerb.values()) {
    const named = !e.unnamed && e.names.size > 0 && e.names.size <= maxNames && !UNNAMEABLE_VERBS.has(e.verb);
    const resourceNames = named ? [...e.names].sort(cmp) : undefined;
    const key = JSON.stringify([e.group, e.resource, resourceNames ?? null]);
    const rule = merged.get(key) ?? { apiGroups: [e.group], resources: [e.resource], ...(resourceNames ? { resourceNames } : {}), verbs: [] };
    if (!rule.verbs.includes(e.verb)) rule.verbs.push(e.verb);
    merged.set(key, rule);
  }
  const rules = [...merged.values()];
  for (const [path, verbs] of nonResource) rules.push({ nonResourceURLs: [path], verbs: [...verbs] });
  for (const r of rules) r.verbs.sort(cmp);
  return sortRules(rules);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type KubeObject = Record<string, any>;

/**
 * Roles + RoleBindings per namespace (namespaced requests) and one ClusterRole + ClusterRoleBinding
 * (cluster-scoped resources, requests across all namespaces, non-resource URLs). Deterministic:
 * cluster objects first, then namespaces in order; rules sorted.
 */
export function generateRbac(id: Identity, requests: RequestAttributes[], maxNames = DEFAULT_MAX_RESOURCE_NAMES): KubeObject[] {
  const scopes = new Map<string, RequestAttributes[]>();
  for (const r of requests) {
    const scope = r.resource !== null && r.namespace ? r.namespace : "";
    const list = scopes.get(scope) ?? [];
    list.push(r);
    scopes.set(scope, list);
  }
  const name = objectName(id);
  const labels = { [MANAGED_BY_LABEL]: "watch-auditor", [IDENTITY_LABEL]: identityLabel(id) };
  const subject =
    id.kind === "User" ? { apiGroup: RBAC_API_GROUP, kind: "User", name: id.name } : { kind: "ServiceAccount", name: id.name, namespace: id.namespace };
  const out: KubeObject[] = [];
  for (const scope of [...scopes.keys()].sort(cmp)) {
    const rules = rulesFor(scopes.get(scope)!, maxNames);
    const meta = scope === "" ? { name, labels } : { name, namespace: scope, labels };
    const roleKind = scope === "" ? "ClusterRole" : "Role";
    out.push({ apiVersion: RBAC_API_VERSION, kind: roleKind, metadata: meta, rules });
    out.push({
      apiVersion: RBAC_API_VERSION,
      kind: scope === "" ? "ClusterRoleBinding" : "RoleBinding",
      metadata: meta,
      roleRef: { apiGroup: RBAC_API_GROUP, kind: roleKind, name },
      subjects: [subject],
    });
  }
  return out;
}
