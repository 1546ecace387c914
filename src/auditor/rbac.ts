// `serve --print-rbac`: the least RBAC the probes of a configuration need, as Roles (per
// namespace) and a ClusterRole only for what cannot be namespaced (cluster-scoped resources,
// objects in per-run namespaces), each bound to the auditor's ServiceAccount. Resources are
// resolved through discovery, so custom resources get their real plural and scope.
import { stringify } from "yaml";
import type { GVR } from "../core/kube/gvr.js";
import { isReaction, stimulusRef, type AnyProbe, type ObjectRef } from "./reaction-probe.js";

export interface RbacOptions {
  serviceAccount: { namespace: string; name: string };
  /** Namespace of the leader-election Lease; undefined without leader election. */
  leaseNamespace?: string;
  /** Name of the Roles/ClusterRole and bindings. */
  name?: string;
}

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}

const VERB_ORDER = ["get", "list", "create", "update", "patch", "delete"];
const PLACEHOLDER = /\{\{/;

/** Collects (scope, group, resource, resourceName?) → verbs. Scope "" is cluster-wide. */
class RuleSet {
  private readonly byScope = new Map<string, Map<string, Set<string>>>();

  add(scope: string, group: string, resource: string, verbs: string[], resourceName?: string): void {
    const m = this.byScope.get(scope) ?? new Map<string, Set<string>>();
    this.byScope.set(scope, m);
    const key = JSON.stringify([group, resource, resourceName ?? null]);
    const set = m.get(key) ?? new Set<string>();
    for (const v of verbs) set.add(v);
    m.set(key, set);
  }

  scopes(): string[] {
    return [...this.byScope.keys()].sort();
  }

  rules(scope: string): Rule[] {
    const out: Rule[] = [];
    for (const [key, verbs] of [...(this.byScope.get(scope) ?? new Map<string, Set<string>>())].sort(([a], [b]) => a.localeCompare(b))) {
      const [group, resource, resourceName] = JSON.parse(key) as [string, string, string | null];
      out.push({
        apiGroups: [group],
        resources: [resource],
        verbs: [...verbs].sort((a, b) => VERB_ORDER.indexOf(a) - VERB_ORDER.indexOf(b)),
        ...(resourceName ? { resourceNames: [resourceName] } : {}),
      });
    }
    return out;
  }
}

/** Where a rule on this object must live: its namespace, or cluster-wide ("") when it cannot be namespaced. */
function scopeOf(gvr: GVR, namespace: string | undefined): string {
  if (!gvr.namespaced || !namespace || PLACEHOLDER.test(namespace)) return "";
  return namespace;
}

/**
 * Renders the RBAC objects (YAML, several documents). `resolve` maps apiVersion/kind to the
 * served resource (discovery); an unknown one is an error naming the probe.
 */
export async function renderRbac(probes: AnyProbe[], resolve: (apiVersion: string, kind: string) => Promise<GVR>, opts: RbacOptions): Promise<string> {
  const rules = new RuleSet();
  const res = async (probe: string, r: { apiVersion: string; kind: string }): Promise<GVR> => {
    try {
      return await resolve(r.apiVersion, r.kind);
    } catch (err) {
      throw new Error(`probe ${probe}: ${(err as Error).message}`);
    }
  };
  const roll = (namespace: string, target: { selector: string } | { kind: string; name: string }) => {
    if ("selector" in target) {
      rules.add(namespace, "", "pods", ["list", "delete"]);
      rules.add(namespace, "apps", "replicasets", ["get"]);
      // The pods' owner decides which kind is restarted.
      for (const r of ["deployments", "statefulsets", "daemonsets"]) rules.add(namespace, "apps", r, ["patch"]);
    } else {
      rules.add(namespace, "apps", `${target.kind.toLowerCase()}s`, ["patch"], target.name);
    }
    rules.add(namespace, "", "events", ["create"]);
  };
  for (const p of probes) {
    if (!isReaction(p)) {
      rules.add(p.canary.namespace, "", "pods", ["create", "get", "list", "delete"]);
      if (p.mode === "enforcing" && p.maxRollsPerHour > 0) roll(p.controller.namespace, { selector: p.controller.selector });
      continue;
    }
    const ref = stimulusRef(p, { name: "{{name}}", runId: "{{runId}}" });
    const gvr = await res(p.name, ref);
    const sScope = scopeOf(gvr, ref.namespace);
    const onStimulus = p.expect.some((e) => !e.object);
    const verbs: Record<typeof p.stimulus.action, string[]> = { create: ["create", "delete"], update: ["patch"], delete: ["delete"] };
    const sVerbs = [...verbs[p.stimulus.action], ...(onStimulus ? ["get"] : [])];
    // The sweep lists leftovers of created stimuli when their namespace is fixed.
    const rawNs = (p.stimulus.template.metadata as { namespace?: unknown } | undefined)?.namespace;
    if (p.stimulus.action === "create" && !(typeof rawNs === "string" && PLACEHOLDER.test(rawNs))) sVerbs.push("list");
    const fixedName = !PLACEHOLDER.test(ref.name) && p.stimulus.action !== "create" ? ref.name : undefined;
    rules.add(sScope, gvr.group, gvr.resource, sVerbs, fixedName);
    for (const e of p.expect) {
      if (!e.object) continue;
      const g = await res(p.name, e.object);
      rules.add(scopeOf(g, e.object.namespace), g.group, g.resource, [e.object.name !== undefined ? "get" : "list"]);
    }
    for (const c of p.cleanup as ObjectRef[]) {
      const g = await res(p.name, c);
      rules.add(scopeOf(g, c.namespace), g.group, g.resource, c.name !== undefined ? ["delete"] : ["list", "delete"]);
    }
    if (p.roll && p.mode === "enforcing" && p.maxRollsPerHour > 0) roll(p.roll.namespace, "selector" in p.roll ? { selector: p.roll.selector } : { kind: p.roll.kind, name: p.roll.name });
  }
  if (opts.leaseNamespace) {
    rules.add(opts.leaseNamespace, "coordination.k8s.io", "leases", ["get", "create", "update"]);
    rules.add(opts.leaseNamespace, "", "events", ["create"]);
  }

  const name = opts.name ?? "watch-auditor-probes";
  const labels = { "app.kubernetes.io/name": "watch-auditor" };
  const subject = { kind: "ServiceAccount", name: opts.serviceAccount.name, namespace: opts.serviceAccount.namespace };
  const docs: unknown[] = [];
  for (const scope of rules.scopes()) {
    const cluster = scope === "";
    const meta = cluster ? { name, labels } : { name, namespace: scope, labels };
    docs.push({ apiVersion: "rbac.authorization.k8s.io/v1", kind: cluster ? "ClusterRole" : "Role", metadata: meta, rules: rules.rules(scope) });
    docs.push({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: cluster ? "ClusterRoleBinding" : "RoleBinding",
      metadata: meta,
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: cluster ? "ClusterRole" : "Role", name },
      subjects: [subject],
    });
  }
  const head = "# Rendered by `watch-auditor serve --print-rbac`: the least RBAC these probes need.\n";
  return head + docs.map((d) => `---\n${stringify(d, { lineWidth: 0 })}`).join("");
}
