// Policy semantics, one case per documented rule of k8s.io/apiserver/pkg/audit/policy/checker.go.
import { test } from "node:test";
import assert from "node:assert/strict";
import { PolicyChecker, pathMatches, type RequestAttributes } from "../../../src/audit/policy/checker.js";
import { lintPolicy } from "../../../src/audit/policy/lint.js";
import type { Policy } from "../../../src/audit/policy/types.js";

function policyOf(yaml: string): Policy {
  const r = lintPolicy(`apiVersion: audit.k8s.io/v1\nkind: Policy\n${yaml}`);
  assert.deepEqual(r.findings.filter((f) => f.severity === "error"), [], "test policy must be valid");
  return r.policy!;
}

function req(over: Partial<RequestAttributes>): RequestAttributes {
  return {
    user: "alice",
    groups: ["system:authenticated"],
    verb: "get",
    resourceRequest: true,
    namespace: "default",
    apiGroup: "",
    resource: "pods",
    subresource: "",
    name: "web-1",
    path: "/api/v1/namespaces/default/pods/web-1",
    ...over,
  };
}

const nonResource = (path: string, over: Partial<RequestAttributes> = {}): RequestAttributes =>
  req({ resourceRequest: false, namespace: "", resource: "", name: "", path, ...over });

interface Case {
  name: string;
  rules: string;
  request: RequestAttributes;
  level: string;
  rule: number;
}

const cases: Case[] = [
  // first match wins
  { name: "first matching rule wins", rules: "- level: Request\n  verbs: [get]\n- level: Metadata", request: req({}), level: "Request", rule: 0 },
  { name: "later rule applies when earlier does not match", rules: "- level: Request\n  verbs: [list]\n- level: Metadata", request: req({}), level: "Metadata", rule: 1 },
  { name: "no rule matches → None", rules: "- level: Request\n  verbs: [list]", request: req({}), level: "None", rule: -1 },
  // groups
  { name: "group omitted means core", rules: "- level: Metadata\n  resources:\n  - resources: [pods]", request: req({}), level: "Metadata", rule: 0 },
  { name: 'group "" is core', rules: '- level: Metadata\n  resources:\n  - group: ""\n    resources: [pods]', request: req({}), level: "Metadata", rule: 0 },
  { name: "group omitted does not match apps", rules: "- level: Metadata\n  resources:\n  - resources: [deployments]", request: req({ apiGroup: "apps", resource: "deployments" }), level: "None", rule: -1 },
  { name: "core resource listed under apps never matches", rules: "- level: Metadata\n  resources:\n  - group: apps\n    resources: [pods]", request: req({}), level: "None", rule: -1 },
  { name: "group without resources matches every resource of the group", rules: "- level: Request\n  resources:\n  - group: apps", request: req({ apiGroup: "apps", resource: "statefulsets", subresource: "scale" }), level: "Request", rule: 0 },
  // resources and subresources
  { name: '"pods" does not match pods/log', rules: "- level: Metadata\n  resources:\n  - resources: [pods]", request: req({ subresource: "log" }), level: "None", rule: -1 },
  { name: '"pods/log" matches pods/log', rules: '- level: Metadata\n  resources:\n  - resources: ["pods/log"]', request: req({ subresource: "log" }), level: "Metadata", rule: 0 },
  { name: '"pods/*" matches pods itself', rules: '- level: Metadata\n  resources:\n  - resources: ["pods/*"]', request: req({}), level: "Metadata", rule: 0 },
  { name: '"pods/*" matches pods/exec', rules: '- level: Metadata\n  resources:\n  - resources: ["pods/*"]', request: req({ subresource: "exec" }), level: "Metadata", rule: 0 },
  { name: '"pods/*" does not match services', rules: '- level: Metadata\n  resources:\n  - resources: ["pods/*"]', request: req({ resource: "services" }), level: "None", rule: -1 },
  { name: '"*/scale" matches deployments/scale', rules: '- level: Metadata\n  resources:\n  - group: apps\n    resources: ["*/scale"]', request: req({ apiGroup: "apps", resource: "deployments", subresource: "scale" }), level: "Metadata", rule: 0 },
  { name: '"*/scale" does not match deployments', rules: '- level: Metadata\n  resources:\n  - group: apps\n    resources: ["*/scale"]', request: req({ apiGroup: "apps", resource: "deployments" }), level: "None", rule: -1 },
  { name: '"*" matches any resource and subresource of the group', rules: '- level: Metadata\n  resources:\n  - resources: ["*"]', request: req({ subresource: "status" }), level: "Metadata", rule: 0 },
  { name: '"*" stays within its group', rules: '- level: Metadata\n  resources:\n  - resources: ["*"]', request: req({ apiGroup: "batch", resource: "jobs" }), level: "None", rule: -1 },
  // resourceNames
  { name: "resourceNames match the named object", rules: "- level: None\n  resources:\n  - resources: [configmaps]\n    resourceNames: [leader]\n- level: Metadata", request: req({ resource: "configmaps", name: "leader" }), level: "None", rule: 0 },
  { name: "resourceNames skip other names", rules: "- level: None\n  resources:\n  - resources: [configmaps]\n    resourceNames: [leader]\n- level: Metadata", request: req({ resource: "configmaps", name: "other" }), level: "Metadata", rule: 1 },
  { name: "resourceNames never match a nameless request (create)", rules: "- level: None\n  resources:\n  - resources: [configmaps]\n    resourceNames: [leader]\n- level: Metadata", request: req({ verb: "create", resource: "configmaps", name: "" }), level: "Metadata", rule: 1 },
  // namespaces
  { name: "namespaces restrict resource requests", rules: "- level: Request\n  namespaces: [kube-system]\n- level: Metadata", request: req({ namespace: "kube-system" }), level: "Request", rule: 0 },
  { name: "namespaces skip other namespaces", rules: "- level: Request\n  namespaces: [kube-system]\n- level: Metadata", request: req({}), level: "Metadata", rule: 1 },
  { name: 'namespace "" selects cluster-scoped requests', rules: '- level: Request\n  namespaces: [""]\n- level: Metadata', request: req({ namespace: "", resource: "nodes", name: "n1" }), level: "Request", rule: 0 },
  { name: "namespaces never match non-resource requests", rules: '- level: Request\n  namespaces: [""]', request: nonResource("/healthz"), level: "None", rule: -1 },
  // non-resource URLs
  { name: "nonResourceURLs exact", rules: "- level: Metadata\n  nonResourceURLs: [/healthz]", request: nonResource("/healthz"), level: "Metadata", rule: 0 },
  { name: "nonResourceURLs exact does not match a sub-path", rules: "- level: Metadata\n  nonResourceURLs: [/healthz]", request: nonResource("/healthz/etcd"), level: "None", rule: -1 },
  { name: "nonResourceURLs /healthz* prefix", rules: '- level: Metadata\n  nonResourceURLs: ["/healthz*"]', request: nonResource("/healthz/etcd"), level: "Metadata", rule: 0 },
  { name: "nonResourceURLs * matches every path", rules: '- level: Metadata\n  nonResourceURLs: ["*"]', request: nonResource("/metrics"), level: "Metadata", rule: 0 },
  { name: "nonResourceURLs never match resource requests", rules: '- level: Metadata\n  nonResourceURLs: ["*"]', request: req({}), level: "None", rule: -1 },
  { name: "resources never match non-resource requests", rules: '- level: Metadata\n  resources:\n  - resources: ["*"]', request: nonResource("/api"), level: "None", rule: -1 },
  { name: "rule without resource fields matches non-resource requests", rules: "- level: Metadata\n  verbs: [get]", request: nonResource("/version"), level: "Metadata", rule: 0 },
  // users, groups, verbs
  { name: "users match the username", rules: "- level: Request\n  users: [alice]", request: req({}), level: "Request", rule: 0 },
  { name: "users skip other users", rules: "- level: Request\n  users: [bob]", request: req({}), level: "None", rule: -1 },
  { name: "users never match an unauthenticated request", rules: '- level: Request\n  users: [""]', request: req({ user: undefined, groups: [] }), level: "None", rule: -1 },
  { name: "userGroups match when any group intersects", rules: "- level: Request\n  userGroups: [system:nodes, system:authenticated]", request: req({ groups: ["system:masters", "system:authenticated"] }), level: "Request", rule: 0 },
  { name: "userGroups skip users in no listed group", rules: "- level: Request\n  userGroups: [system:nodes]", request: req({}), level: "None", rule: -1 },
  { name: "users and userGroups must both match", rules: "- level: Request\n  users: [alice]\n  userGroups: [system:nodes]", request: req({}), level: "None", rule: -1 },
  { name: "verbs match", rules: "- level: Request\n  verbs: [get, list]", request: req({ verb: "list", name: "" }), level: "Request", rule: 0 },
  { name: "verbs are case-sensitive", rules: "- level: Request\n  verbs: [GET]", request: req({}), level: "None", rule: -1 },
];

for (const c of cases) {
  test(`checker: ${c.name}`, () => {
    const d = new PolicyChecker(policyOf(`rules:\n${c.rules}\n`)).decide(c.request);
    assert.equal(d.level, c.level);
    assert.equal(d.rule, c.rule);
  });
}

test("checker: omitStages of the matching rule are unioned with the policy's", () => {
  const p = policyOf("omitStages: [RequestReceived]\nrules:\n- level: Request\n  verbs: [get]\n  omitStages: [ResponseStarted]\n- level: Metadata\n");
  const c = new PolicyChecker(p);
  assert.deepEqual([...c.decide(req({})).omitStages].sort(), ["RequestReceived", "ResponseStarted"]);
  assert.deepEqual([...c.decide(req({ verb: "list", name: "" })).omitStages], ["RequestReceived"]);
});

test("checker: no match returns the policy-level omitStages", () => {
  const d = new PolicyChecker(policyOf("omitStages: [Panic]\nrules:\n- level: Request\n  verbs: [delete]\n")).decide(req({}));
  assert.equal(d.level, "None");
  assert.deepEqual([...d.omitStages], ["Panic"]);
});

test("pathMatches: Go's TrimRight strips every trailing *", () => {
  assert.equal(pathMatches("/apis/apps", "/api**"), true);
  assert.equal(pathMatches("/version", "/api*"), false);
  assert.equal(pathMatches("/api", "/api*"), true);
});
