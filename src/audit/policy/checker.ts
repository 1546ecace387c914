// The API server's audit policy evaluation, port of k8s.io/apiserver/pkg/audit/policy/checker.go:
// rules are tried top-down, the first match wins, no match → level None with the policy's omitStages.
// Every rule's omitStages is the union of its own and the policy's.
import type { Level, Policy, PolicyRule, Stage } from "./types.js";

/** The authorizer attributes the policy sees (the authenticated user, before impersonation). */
export interface RequestAttributes {
  /** Undefined for requests without an authenticated user (e.g. failed authentication). */
  user?: string;
  groups: readonly string[];
  verb: string;
  resourceRequest: boolean;
  /** Resource requests: "" for cluster-scoped. */
  namespace: string;
  apiGroup: string;
  resource: string;
  subresource: string;
  /** "" when the request names no object (create on a collection, list without metadata.name field selector). */
  name: string;
  /** URL path without the query string (non-resource requests are matched on it). */
  path: string;
}

export interface Decision {
  level: Level;
  omitStages: ReadonlySet<Stage>;
  /** Index of the matching rule, -1 when none matched. */
  rule: number;
}

export function ruleMatches(r: PolicyRule, a: RequestAttributes): boolean {
  if (r.users.length > 0 && (a.user === undefined || !r.users.includes(a.user))) return false;
  if (r.userGroups.length > 0) {
    if (a.user === undefined) return false;
    if (!a.groups.some((g) => r.userGroups.includes(g))) return false;
  }
  if (r.verbs.length > 0 && !r.verbs.includes(a.verb)) return false;
  // A rule with namespaces or resources only ever matches resource requests; its nonResourceURLs
  // (which validation forbids alongside) would be ignored.
  if (r.namespaces.length > 0 || r.resources.length > 0) return ruleMatchesResource(r, a);
  if (r.nonResourceURLs.length > 0) return ruleMatchesNonResource(r, a);
  return true;
}

export function ruleMatchesNonResource(r: PolicyRule, a: RequestAttributes): boolean {
  if (a.resourceRequest) return false;
  return r.nonResourceURLs.some((spec) => pathMatches(a.path, spec));
}

export function pathMatches(path: string, spec: string): boolean {
  if (spec === "*" || spec === path) return true;
  // Go's strings.TrimRight(spec, "*") strips every trailing "*".
  return spec.endsWith("*") && path.startsWith(spec.replace(/\*+$/, ""));
}

export function ruleMatchesResource(r: PolicyRule, a: RequestAttributes): boolean {
  if (!a.resourceRequest) return false;
  if (r.namespaces.length > 0 && !r.namespaces.includes(a.namespace)) return false;
  if (r.resources.length === 0) return true;
  const combined = a.subresource !== "" ? `${a.resource}/${a.subresource}` : a.resource;
  for (const gr of r.resources) {
    if (gr.group !== a.apiGroup) continue;
    if (gr.resources.length === 0) return true;
    if (gr.resourceNames.length > 0 && !gr.resourceNames.includes(a.name)) continue;
    for (const res of gr.resources) {
      if (res === combined || res === "*") return true;
      if (a.subresource !== "" && res.startsWith("*/") && a.subresource === res.slice(2)) return true;
      // "pods/*" matches pods itself as well as every pods subresource.
      if (res.endsWith("/*") && a.resource === res.slice(0, -2)) return true;
    }
  }
  return false;
}

export class PolicyChecker {
  private readonly ruleStages: ReadonlySet<Stage>[];
  private readonly policyStages: ReadonlySet<Stage>;

  constructor(readonly policy: Policy) {
    this.policyStages = new Set(policy.omitStages);
    this.ruleStages = policy.rules.map((r) => new Set([...policy.omitStages, ...r.omitStages]));
  }

  decide(a: RequestAttributes): Decision {
    for (let i = 0; i < this.policy.rules.length; i++) {
      if (ruleMatches(this.policy.rules[i]!, a)) return { level: this.policy.rules[i]!.level, omitStages: this.ruleStages[i]!, rule: i };
    }
    return { level: "None", omitStages: this.policyStages, rule: -1 };
  }
}
