// RBAC as kube-apiserver runs it with --authorization-mode Node,RBAC, over the Role/ClusterRole/
// (Cluster)RoleBinding objects currently in the store:
// - the authorizer chain: members of system:masters are allowed first (no reason), then the rules
//   of every binding that applies, visited as k8s.io/kubernetes/pkg/registry/rbac/validation
//   (rule.go) does: ClusterRoleBindings, then the RoleBindings of the request's namespace. An allow
//   carries the reason `RBAC: allowed by RoleBinding "b/ns" of Role "r" to ServiceAccount "sa/ns"`;
//   a denial has no reason unless a binding that applies could not be resolved (missing role);
// - the bootstrap policy every real cluster has (bootstrappolicy/policy.go, v1.25): cluster-admin,
//   system:discovery, system:basic-user, system:public-info-viewer and
//   system:service-account-issuer-discovery, stored as real objects when the server starts;
// - escalation prevention on writes of roles and bindings (pkg/registry/rbac/*/policybased):
//   a Role/ClusterRole may only grant what its author holds (or has `escalate` on), a binding
//   only a role its author holds (or has `bind` on); system:masters is exempt;
// - the 403 Status texts of k8s.io/apiserver/pkg/endpoints/handlers/responsewriters.
import type { ResourceInfo, ResourceRegistry } from "./resources.js";
import { ApiError, statusObject } from "./status.js";
import type { KubeObject, ObjectStore } from "./store.js";

export interface UserInfo {
  user: string;
  groups: string[];
  /** The user's uid (ServiceAccount tokens carry the ServiceAccount's). */
  uid?: string;
  extra?: Record<string, string[]>;
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
  /** Who asks (authorizer.Attributes.GetUser); set by the HTTP layer once authenticated. */
  user?: UserInfo;
}

export interface PolicyRule {
  verbs?: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

interface Subject {
  kind?: string;
  apiGroup?: string;
  name?: string;
  namespace?: string;
}

interface RoleRef {
  apiGroup?: string;
  kind?: string;
  name?: string;
}

export interface Decision {
  allowed: boolean;
  /** `RBAC: allowed by …` on an allow; resolution errors (`RBAC: …`) or "" on a denial. */
  reason: string;
}

const RBAC_GROUP = "rbac.authorization.k8s.io";
export const SYSTEM_MASTERS = "system:masters";

// ---- rule matching (pkg/apis/rbac/v1/evaluation_helpers.go) ------------------------------------

function has(list: string[] | undefined, v: string): boolean {
  return (list ?? []).includes(v);
}

function resourceMatches(rule: PolicyRule, combined: string, subresource: string): boolean {
  return (rule.resources ?? []).some(
    (r) =>
      r === "*" ||
      r === combined ||
      (subresource !== "" && r.length === subresource.length + 2 && r.startsWith("*/") && r.endsWith(subresource)),
  );
}

function nonResourceURLMatches(rule: PolicyRule, path: string): boolean {
  return (rule.nonResourceURLs ?? []).some((u) => u === "*" || u === path || (u.endsWith("*") && path.startsWith(u.replace(/\*+$/, ""))));
}

export function ruleAllows(rule: PolicyRule, a: RequestAttributes): boolean {
  const verb = has(rule.verbs, "*") || has(rule.verbs, a.verb);
  if (!a.resourceRequest) return verb && nonResourceURLMatches(rule, a.path);
  const combined = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const names = rule.resourceNames ?? [];
  return (
    verb &&
    (has(rule.apiGroups, "*") || has(rule.apiGroups, a.apiGroup)) &&
    resourceMatches(rule, combined, a.subresource) &&
    (names.length === 0 || names.includes(a.name))
  );
}

function appliesToUser(u: UserInfo, s: Subject, namespace: string): boolean {
  switch (s.kind) {
    case "User":
      return u.user === s.name;
    case "Group":
      return s.name !== undefined && u.groups.includes(s.name);
    case "ServiceAccount": {
      const ns = s.namespace || namespace;
      return ns !== "" && u.user === `system:serviceaccount:${ns}:${s.name ?? ""}`;
    }
    default:
      return false;
  }
}

function describeSubject(s: Subject, bindingNamespace: string): string {
  if (s.kind === "ServiceAccount") return `${s.kind} ${goQuote(`${s.name ?? ""}/${s.namespace || bindingNamespace}`)}`;
  return `${s.kind ?? ""} ${goQuote(s.name ?? "")}`;
}

/** Go's %q of a string (close enough: JSON escapes the same printable ASCII). */
export function goQuote(s: string): string {
  return JSON.stringify(s);
}

/** Go's %q of a []string: `["a" "b"]`. */
export function goQuoteList(list: readonly string[]): string {
  return `[${list.map(goQuote).join(" ")}]`;
}

/** utilerrors.NewAggregate(errs).Error(): one message alone, else `[a, b]` without repeats. */
export function aggregateMessage(messages: readonly string[]): string {
  const seen = [...new Set(messages)];
  return seen.length === 1 ? seen[0]! : `[${seen.join(", ")}]`;
}

// ---- the bootstrap policy ----------------------------------------------------------------------

const BOOTSTRAP_META = { annotations: { "rbac.authorization.kubernetes.io/autoupdate": "true" }, labels: { "kubernetes.io/bootstrapping": "rbac-defaults" } };

function clusterRole(name: string, rules: PolicyRule[]): KubeObject {
  return { apiVersion: `${RBAC_GROUP}/v1`, kind: "ClusterRole", metadata: { name, ...structuredClone(BOOTSTRAP_META) }, rules };
}

function clusterRoleBinding(name: string, groups: string[]): KubeObject {
  return {
    apiVersion: `${RBAC_GROUP}/v1`,
    kind: "ClusterRoleBinding",
    metadata: { name, ...structuredClone(BOOTSTRAP_META) },
    roleRef: { apiGroup: RBAC_GROUP, kind: "ClusterRole", name },
    subjects: groups.map((g) => ({ apiGroup: RBAC_GROUP, kind: "Group", name: g })),
  };
}

/** The part of kube-apiserver's bootstrap policy (v1.25) that decides what ordinary users may do. */
export function bootstrapPolicy(): KubeObject[] {
  // rbacv1helpers.NewRule(...).RuleOrDie() sorts every list, as the stored objects show.
  return [
    clusterRole("cluster-admin", [
      { verbs: ["*"], apiGroups: ["*"], resources: ["*"] },
      { verbs: ["*"], nonResourceURLs: ["*"] },
    ]),
    clusterRole("system:discovery", [
      { verbs: ["get"], nonResourceURLs: ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/"] },
    ]),
    clusterRole("system:basic-user", [
      { verbs: ["create"], apiGroups: ["authorization.k8s.io"], resources: ["selfsubjectaccessreviews", "selfsubjectrulesreviews"] },
    ]),
    clusterRole("system:public-info-viewer", [{ verbs: ["get"], nonResourceURLs: ["/healthz", "/livez", "/readyz", "/version", "/version/"] }]),
    clusterRole("system:service-account-issuer-discovery", [{ verbs: ["get"], nonResourceURLs: ["/.well-known/openid-configuration", "/openid/v1/jwks"] }]),
    clusterRoleBinding("cluster-admin", [SYSTEM_MASTERS]),
    clusterRoleBinding("system:discovery", ["system:authenticated"]),
    clusterRoleBinding("system:basic-user", ["system:authenticated"]),
    clusterRoleBinding("system:public-info-viewer", ["system:authenticated", "system:unauthenticated"]),
    clusterRoleBinding("system:service-account-issuer-discovery", ["system:serviceaccounts"]),
  ];
}

export function isSuperUser(u: UserInfo): boolean {
  return u.groups.includes(SYSTEM_MASTERS);
}

/** A rule source, as rule.go's describers print it. */
type Source = () => string;

// ---- escalation checks (component-helpers/auth/rbac/validation, pkg/registry/rbac/validation) ----

function breakdown(rule: PolicyRule): PolicyRule[] {
  const out: PolicyRule[] = [];
  for (const group of rule.apiGroups ?? [])
    for (const resource of rule.resources ?? [])
      for (const verb of rule.verbs ?? []) {
        if ((rule.resourceNames ?? []).length > 0)
          for (const n of rule.resourceNames!) out.push({ apiGroups: [group], resources: [resource], verbs: [verb], resourceNames: [n] });
        else out.push({ apiGroups: [group], resources: [resource], verbs: [verb] });
      }
  for (const url of rule.nonResourceURLs ?? []) for (const verb of rule.verbs ?? []) out.push({ nonResourceURLs: [url], verbs: [verb] });
  return out;
}

function hasAll(set: string[] | undefined, contains: string[] | undefined): boolean {
  const owning = new Set(set ?? []);
  return (contains ?? []).every((c) => owning.has(c));
}

function resourceCoversAll(set: string[] | undefined, covers: string[] | undefined): boolean {
  if (has(set, "*") || hasAll(set, covers)) return true;
  for (const path of covers ?? []) {
    if (has(set, path)) continue;
    if (!path.includes("/")) return false;
    if (!has(set, `*/${path.slice(path.indexOf("/") + 1)}`)) return false;
  }
  return true;
}

function nonResourceURLsCoverAll(set: string[] | undefined, covers: string[] | undefined): boolean {
  return (covers ?? []).every((p) => (set ?? []).some((o) => o === p || (o.endsWith("*") && p.startsWith(o.replace(/\*+$/, "")))));
}

function ruleCovers(owner: PolicyRule, sub: PolicyRule): boolean {
  const names = (sub.resourceNames ?? []).length === 0 ? (owner.resourceNames ?? []).length === 0 : (owner.resourceNames ?? []).length === 0 || hasAll(owner.resourceNames, sub.resourceNames);
  return (
    (has(owner.verbs, "*") || hasAll(owner.verbs, sub.verbs)) &&
    (has(owner.apiGroups, "*") || hasAll(owner.apiGroups, sub.apiGroups)) &&
    resourceCoversAll(owner.resources, sub.resources) &&
    names &&
    nonResourceURLsCoverAll(owner.nonResourceURLs, sub.nonResourceURLs)
  );
}

/** CompactRules: rules on one group/resource(/name) differing only by verb become one. */
function compactRules(rules: PolicyRule[]): PolicyRule[] {
  const out: PolicyRule[] = [];
  const simple = new Map<string, PolicyRule>();
  for (const r of rules) {
    const isSimple = (r.resourceNames ?? []).length <= 1 && (r.nonResourceURLs ?? []).length === 0 && r.apiGroups?.length === 1 && r.resources?.length === 1;
    if (!isSimple) {
      out.push(r);
      continue;
    }
    const key = JSON.stringify([r.apiGroups![0], r.resources![0], r.resourceNames?.[0] ?? null]);
    const prior = simple.get(key);
    if (prior) {
      for (const v of r.verbs ?? []) if (!prior.verbs!.includes(v)) prior.verbs!.push(v);
    } else simple.set(key, structuredClone({ ...r, verbs: [...(r.verbs ?? [])] }));
  }
  return [...out, ...simple.values()];
}

/** rbacv1helpers.CompactString: `{APIGroups:[""], Resources:["pods"], Verbs:["get"]}`. */
export function compactString(r: PolicyRule): string {
  const parts: string[] = [];
  if ((r.apiGroups ?? []).length > 0) parts.push(`APIGroups:${goQuoteList(r.apiGroups!)}`);
  if ((r.resources ?? []).length > 0) parts.push(`Resources:${goQuoteList(r.resources!)}`);
  if ((r.nonResourceURLs ?? []).length > 0) parts.push(`NonResourceURLs:${goQuoteList(r.nonResourceURLs!)}`);
  if ((r.resourceNames ?? []).length > 0) parts.push(`ResourceNames:${goQuoteList(r.resourceNames!)}`);
  if ((r.verbs ?? []).length > 0) parts.push(`Verbs:${goQuoteList(r.verbs!)}`);
  return `{${parts.join(", ")}}`;
}

/** Go's sort.Strings order (bytewise). */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** k8s.io/apimachinery errors.NewForbidden(groupResource, name, err). */
function forbiddenStatus(resource: string, group: string, name: string, message: string): ApiError {
  const qualified = group ? `${resource}.${group}` : resource;
  const text = !resource && !group ? `forbidden: ${message}` : name === "" ? `${qualified} is forbidden: ${message}` : `${qualified} ${goQuote(name)} is forbidden: ${message}`;
  return new ApiError(
    statusObject(403, "Forbidden", text, { ...(name && { name }), ...(group && { group }), ...(resource && { kind: resource }) }),
  );
}

/** Strips what IsOnlyMutatingGCFields ignores, to tell a garbage-collector-only update apart. */
function withoutGcFields(o: KubeObject): unknown {
  const { ownerReferences: _o, finalizers: _f, managedFields: _m, selfLink: _s, resourceVersion: _rv, ...meta } = o.metadata ?? {};
  return { ...o, metadata: meta };
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  return ka.length === kb.length && ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

export class RbacAuthorizer {
  constructor(
    private readonly store: ObjectStore,
    private readonly registry: ResourceRegistry,
  ) {}

  /** Stores the bootstrap ClusterRoles/ClusterRoleBindings that are not there yet. */
  installBootstrapPolicy(): void {
    for (const o of bootstrapPolicy()) {
      const info = this.info(o.kind === "ClusterRole" ? "clusterroles" : "clusterrolebindings");
      if (!this.store.getRaw(info, undefined, o.metadata.name!)) this.store.createIn(info, undefined, o);
    }
  }

  private info(resource: "roles" | "rolebindings" | "clusterroles" | "clusterrolebindings"): ResourceInfo {
    return this.registry.resolve(`${RBAC_GROUP}/v1/${resource}`);
  }

  /** GetRoleReferenceRules: the rules of a binding's role, or the lister's error text. */
  roleReferenceRules(ref: RoleRef | undefined, bindingNamespace: string): { rules: PolicyRule[] } | { error: string } {
    switch (ref?.kind) {
      case "Role": {
        const role = this.store.getRaw(this.info("roles"), bindingNamespace, ref.name ?? "");
        if (!role) return { error: `role.${RBAC_GROUP} ${goQuote(ref.name ?? "")} not found` };
        return { rules: ((role.rules as PolicyRule[] | undefined) ?? []).filter(Boolean) };
      }
      case "ClusterRole": {
        const role = this.store.getRaw(this.info("clusterroles"), undefined, ref.name ?? "");
        if (!role) return { error: `clusterrole.${RBAC_GROUP} ${goQuote(ref.name ?? "")} not found` };
        return { rules: ((role.rules as PolicyRule[] | undefined) ?? []).filter(Boolean) };
      }
      default:
        return { error: `unsupported role reference kind: ${goQuote(ref?.kind ?? "")}` };
    }
  }

  /**
   * VisitRulesFor: every rule that applies to the user in the namespace (ClusterRoleBindings first),
   * with its source, and every resolution error. The visitor returns false to stop.
   */
  visitRulesFor(u: UserInfo, namespace: string, visit: (source: Source | undefined, rule: PolicyRule | undefined, error?: string) => boolean): void {
    const scopes: [KubeObject[], string, "ClusterRoleBinding" | "RoleBinding"][] = [[this.store.listCurrent(this.info("clusterrolebindings")), "", "ClusterRoleBinding"]];
    if (namespace !== "") scopes.push([this.store.listCurrent(this.info("rolebindings"), namespace), namespace, "RoleBinding"]);
    for (const [bindings, ns, kind] of scopes) {
      for (const b of bindings) {
        const subjects = ((b.subjects as Subject[] | undefined) ?? []).filter(Boolean);
        const subject = subjects.find((s) => appliesToUser(u, s, ns));
        if (!subject) continue;
        const ref = b.roleRef as RoleRef | undefined;
        const resolved = this.roleReferenceRules(ref, ns);
        if ("error" in resolved) {
          if (!visit(undefined, undefined, resolved.error)) return;
          continue;
        }
        const source: Source = () =>
          `${kind} ${goQuote(kind === "RoleBinding" ? `${b.metadata.name}/${ns}` : String(b.metadata.name))} of ${ref?.kind ?? ""} ${goQuote(ref?.name ?? "")} to ${describeSubject(subject, ns)}`;
        for (const rule of resolved.rules) if (!visit(source, rule)) return;
      }
    }
  }

  /** RulesFor: all rules that apply, and the resolution errors. */
  rulesFor(u: UserInfo, namespace: string): { rules: PolicyRule[]; errors: string[] } {
    const rules: PolicyRule[] = [];
    const errors: string[] = [];
    this.visitRulesFor(u, namespace, (_s, rule, error) => {
      if (rule) rules.push(rule);
      if (error) errors.push(error);
      return true;
    });
    return { rules, errors };
  }

  /** The union of the privileged-group and RBAC authorizers (the Node authorizer has no opinion here). */
  decide(u: UserInfo, a: RequestAttributes): Decision {
    if (isSuperUser(u)) return { allowed: true, reason: "" };
    let reason = "";
    const errors: string[] = [];
    this.visitRulesFor(u, a.resourceRequest ? a.namespace : "", (source, rule, error) => {
      if (rule && source && ruleAllows(rule, a)) {
        reason = `RBAC: allowed by ${source()}`;
        return false;
      }
      if (error) errors.push(error);
      return true;
    });
    if (reason) return { allowed: true, reason };
    return { allowed: false, reason: errors.length > 0 ? `RBAC: ${aggregateMessage(errors)}` : "" };
  }

  authorize(u: UserInfo, a: RequestAttributes): boolean {
    return this.decide(u, a).allowed;
  }

  /** ConfirmNoEscalation: the text of the error when `rules` are not all held by the user in the namespace. */
  private escalation(u: UserInfo, namespace: string, rules: PolicyRule[]): string | undefined {
    const owner = this.rulesFor(u, namespace);
    const missing = rules.filter(Boolean).flatMap(breakdown).filter((sub) => !owner.rules.some((o) => ruleCovers(o, sub)));
    if (missing.length === 0) return undefined;
    const described = [...new Set(compactRules(missing).map(compactString))].sort(byteOrder);
    let msg = `user ${goQuote(u.user)} (groups=${goQuoteList(u.groups)}) is attempting to grant RBAC permissions not currently held:\n${described.join("\n")}`;
    if (owner.errors.length > 0) msg += `; resolution errors: [${aggregateMessage(owner.errors)}]`;
    return msg;
  }

  /**
   * The policy-based storage of roles and bindings: called for a create (no `old`) or an update/patch
   * of a Role, ClusterRole, RoleBinding or ClusterRoleBinding before it is validated and stored.
   * Throws the 403 of the real server when the writer would gain permissions it does not hold.
   */
  admitWrite(u: UserInfo, info: ResourceInfo, namespace: string | undefined, obj: KubeObject, old?: KubeObject): void {
    if (info.group !== RBAC_GROUP || isSuperUser(u)) return;
    if (old && deepEqual(withoutGcFields(obj), withoutGcFields(old))) return;
    const ns = namespace ?? "";
    const name = String(obj.metadata?.name ?? "");
    switch (info.resource) {
      case "roles":
      case "clusterroles": {
        // RoleEscalationAuthorized: the `escalate` verb on the role resource itself.
        const escalate: RequestAttributes = { verb: "escalate", resourceRequest: true, apiGroup: RBAC_GROUP, resource: info.resource, subresource: "", namespace: ns, name: old ? name : "", path: "" };
        if (this.authorize(u, escalate)) return;
        const why = this.escalation(u, ns, (obj.rules as PolicyRule[] | undefined) ?? []);
        if (why) throw forbiddenStatus(info.resource, RBAC_GROUP, name, why);
        const aggregation = obj.aggregationRule as { clusterRoleSelectors?: unknown[] } | undefined;
        if (info.resource === "clusterroles" && (aggregation?.clusterRoleSelectors ?? []).length > 0) {
          const full = this.escalation(u, ns, [
            { verbs: ["*"], apiGroups: ["*"], resources: ["*"] },
            { verbs: ["*"], nonResourceURLs: ["*"] },
          ]);
          if (full) throw forbiddenStatus(info.resource, RBAC_GROUP, name, "must have cluster-admin privileges to use the aggregationRule");
        }
        return;
      }
      case "rolebindings":
      case "clusterrolebindings": {
        const ref = (obj.roleRef ?? {}) as RoleRef;
        // BindingAuthorized: the `bind` verb on the referenced role, in the binding's namespace.
        if (ref.kind === "ClusterRole" || ref.kind === "Role") {
          const bind: RequestAttributes = {
            verb: "bind",
            resourceRequest: true,
            apiGroup: ref.apiGroup ?? "",
            resource: ref.kind === "ClusterRole" ? "clusterroles" : "roles",
            subresource: "",
            namespace: ns,
            name: ref.name ?? "",
            path: "",
          };
          if (this.authorize(u, bind)) return;
        }
        const resolved = this.roleReferenceRules(ref, ns);
        if ("error" in resolved) throw forbiddenStatus(info.resource, RBAC_GROUP, name, resolved.error);
        const why = this.escalation(u, ns, resolved.rules);
        if (why) throw forbiddenStatus(info.resource, RBAC_GROUP, name, why);
        return;
      }
    }
  }
}

/** responsewriters.forbiddenMessage, HTML-sanitized as the real server does. */
export function forbiddenMessage(u: UserInfo, a: RequestAttributes): string {
  let msg: string;
  if (!a.resourceRequest) msg = `User ${goQuote(u.user)} cannot ${a.verb} path ${goQuote(a.path)}`;
  else {
    const res = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
    const scope = a.namespace ? `in the namespace ${goQuote(a.namespace)}` : "at the cluster scope";
    msg = `User ${goQuote(u.user)} cannot ${a.verb} resource ${goQuote(res)} in API group ${goQuote(a.apiGroup)} ${scope}`;
  }
  return msg.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/**
 * The 403 a denied request gets (responsewriters.Forbidden): `pods "x" is forbidden: User …`,
 * `forbidden: User … cannot get path "/metrics"` with `details: {}`, and `: <reason>` appended
 * when the authorizer gave one.
 */
export function forbiddenError(u: UserInfo, a: RequestAttributes, reason = ""): ApiError {
  const msg = forbiddenMessage(u, a);
  const text = reason ? `${msg}: ${reason}` : msg;
  if (!a.resourceRequest) return forbiddenStatus("", "", "", text);
  return forbiddenStatus(a.resource, a.apiGroup, a.name, text);
}
