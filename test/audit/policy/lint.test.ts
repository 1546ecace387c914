import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { lintPolicy } from "../../../src/audit/policy/lint.js";
import type { Finding } from "../../../src/audit/policy/findings.js";

const HEAD = "apiVersion: audit.k8s.io/v1\nkind: Policy\n";
const DOCS_EXAMPLE = new URL("./fixtures/kubernetes-docs-audit-policy.yaml", import.meta.url);

/** Lints `HEAD + body`; line numbers in expectations count HEAD's two lines. */
function lint(body: string, head = HEAD): Finding[] {
  return lintPolicy(head + body).findings;
}

function only(findings: Finding[], code: string): Finding[] {
  return findings.filter((f) => f.code === code);
}

function expectOne(findings: Finding[], want: Partial<Finding>): Finding {
  const hits = findings.filter((f) => Object.entries(want).every(([k, v]) => f[k as keyof Finding] === v));
  assert.equal(hits.length, 1, `expected exactly one ${JSON.stringify(want)} in\n${findings.map((f) => `${f.line}:${f.col} ${f.severity} ${f.code} ${f.path} ${f.message}`).join("\n")}`);
  return hits[0]!;
}

test("lint: the Kubernetes docs example policy lints clean", () => {
  const r = lintPolicy(readFileSync(DOCS_EXAMPLE, "utf8"));
  assert.deepEqual(r.findings, []);
  assert.equal(r.policy?.rules.length, 9);
});

test("lint: YAML syntax error reports line and column and no policy", () => {
  const r = lintPolicy(`${HEAD}rules:\n- level: Metadata\n  verbs: [get, list\n`);
  const f = expectOne(r.findings, { code: "yaml-syntax", severity: "error" });
  assert.ok(f.line >= 5, `line ${f.line}`);
  assert.ok(f.col >= 1);
  assert.equal(r.policy, undefined);
});

test("lint: duplicate keys are a YAML error with their line", () => {
  const f = expectOne(lint("rules:\n- level: Metadata\n  level: None\n"), { code: "yaml-syntax" });
  assert.equal(f.line, 5);
});

test("lint: apiVersion v1beta1 is accepted with a warning; anything else is an error", () => {
  expectOne(lint("rules:\n- level: Metadata\n", "apiVersion: audit.k8s.io/v1beta1\nkind: Policy\n"), { code: "deprecated-api-version", severity: "warning", line: 1 });
  expectOne(lint("rules:\n- level: Metadata\n", "apiVersion: v1\nkind: Policy\n"), { code: "invalid-api-version", severity: "error", line: 1 });
  expectOne(lint("rules:\n- level: Metadata\n", "apiVersion: audit.k8s.io/v1\nkind: Event\n"), { code: "invalid-kind", severity: "error", line: 2 });
});

test("lint: unknown fields are errors at the field's line, with a suggestion", () => {
  const fs = lint("rules:\n- level: Metadata\n  resource:\n  - group: apps\n  verb: [get]\n");
  const f = expectOne(fs, { code: "unknown-field", line: 5, rule: 0 });
  assert.match(f.message, /"resource".*did you mean "resources"/);
  expectOne(fs, { code: "unknown-field", line: 7, rule: 0, path: "rules[0].verb" });
  expectOne(lint("rules:\n- level: Metadata\n  resources:\n  - group: apps\n    resourceName: [x]\n"), { code: "unknown-field", line: 7, path: "rules[0].resources[0].resourceName" });
  expectOne(lint("omitstages: [Panic]\nrules:\n- level: Metadata\n"), { code: "unknown-field", line: 3 });
});

test("lint: level is required and case-sensitive", () => {
  const f = expectOne(lint("rules:\n- level: Metadata\n- level: requestResponse\n"), { code: "invalid-level", rule: 1, line: 5 });
  assert.match(f.message, /did you mean "RequestResponse"/);
  expectOne(lint("rules:\n- verbs: [get]\n"), { code: "level-required", rule: 0, line: 4 });
});

test("lint: invalid stages in rule and policy omitStages", () => {
  const fs = lint("omitStages: [RequestRecieved]\nrules:\n- level: Metadata\n  omitStages: [ResponseComplete, Done]\n");
  expectOne(fs, { code: "invalid-stage", line: 3, path: "omitStages[0]" });
  expectOne(fs, { code: "invalid-stage", line: 6, rule: 0, path: "rules[0].omitStages[1]" });
});

test("lint: no rules is an error (the API server refuses such a policy)", () => {
  expectOne(lint("rules: []\n"), { code: "no-rules", severity: "error", line: 3 });
  expectOne(lint("omitStages: [RequestReceived]\n"), { code: "no-rules", severity: "error" });
});

test("lint: wrong types are errors naming the field", () => {
  const fs = lint("rules:\n- level: Metadata\n  verbs: get\n  resources:\n  - group: 5\n");
  expectOne(fs, { code: "invalid-type", path: "rules[0].verbs", line: 5 });
  expectOne(fs, { code: "invalid-type", path: "rules[0].resources[0].group", line: 7 });
});

test('lint: a "*" group is an error (compared literally, rejected as not a DNS subdomain)', () => {
  const f = expectOne(lint('rules:\n- level: Metadata\n  resources:\n  - group: "*"\n'), { code: "wildcard-group", severity: "error", rule: 0, line: 6 });
  assert.match(f.message, /literally/);
});

test("lint: a group with a version is an invalid group", () => {
  const f = expectOne(lint("rules:\n- level: Metadata\n  resources:\n  - group: apps/v1\n"), { code: "invalid-group", line: 6 });
  assert.match(f.message, /use "apps"/);
});

test("lint: core resources under a non-core group", () => {
  const fs = lint("rules:\n- level: Metadata\n  resources:\n  - group: apps\n    resources: [deployments, pods]\n  - group: example.com\n    resources: [secrets]\n");
  const f = expectOne(fs, { code: "core-resource-wrong-group", line: 7, path: "rules[0].resources[0].resources[1]" });
  assert.match(f.message, /"pods".*group: ""/);
  expectOne(fs, { code: "core-resource-wrong-group", line: 9, path: "rules[0].resources[1].resources[0]" });
});

test("lint: resources in the wrong group, including an omitted group (= core)", () => {
  const fs = lint('rules:\n- level: Metadata\n  resources:\n  - group: ""\n    resources: [deployments]\n  - resources: ["jobs/status", leases]\n');
  const f = expectOne(fs, { code: "resource-wrong-group", line: 7, rule: 0 });
  assert.match(f.message, /"apps"/);
  const jobs = expectOne(fs, { code: "resource-wrong-group", path: "rules[0].resources[1].resources[0]", line: 8 });
  assert.match(jobs.message, /omitted group means the core group.*"batch"/);
  expectOne(fs, { code: "resource-wrong-group", path: "rules[0].resources[1].resources[1]" });
  // correctly placed resources produce nothing
  assert.deepEqual(lint('rules:\n- level: Metadata\n  resources:\n  - group: ""\n    resources: [pods, "pods/log", "*"]\n  - group: apps\n    resources: ["*/scale", deployments]\n- level: Metadata\n'), []);
});

test("lint: singular or capitalised resource names", () => {
  const f = expectOne(lint("rules:\n- level: Metadata\n  resources:\n  - group: apps\n    resources: [Deployment]\n"), { code: "resource-name", line: 7 });
  assert.match(f.message, /"deployments"/);
});

test("lint: resourceNames with verbs that carry no name", () => {
  const fs = lint("rules:\n- level: None\n  verbs: [create, get]\n  resources:\n  - group: \"\"\n    resources: [configmaps]\n    resourceNames: [leader]\n- level: Metadata\n");
  const f = expectOne(fs, { code: "resource-names-nameless-verbs", rule: 0, line: 9 });
  assert.match(f.message, /create/);
  assert.doesNotMatch(f.message, /never matches/);
  const never = expectOne(lint('rules:\n- level: None\n  verbs: [create, deletecollection]\n  resources:\n  - group: ""\n    resources: [configmaps]\n    resourceNames: [leader]\n'), { code: "resource-names-nameless-verbs" });
  assert.match(never.message, /never matches/);
  // a create on a subresource names its object (pods/eviction): no finding
  assert.equal(only(lint('rules:\n- level: Request\n  verbs: [create]\n  resources:\n  - group: ""\n    resources: ["pods/eviction"]\n    resourceNames: [p]\n'), "resource-names-nameless-verbs").length, 0);
  // resourceNames without resources is an API server validation error
  expectOne(lint("rules:\n- level: None\n  resources:\n  - group: \"\"\n    resourceNames: [x]\n"), { code: "resource-names-without-resources", severity: "error", line: 7 });
});

test("lint: nonResourceURLs mixed with resources or namespaces is an error", () => {
  expectOne(lint('rules:\n- level: Metadata\n  resources:\n  - group: ""\n  nonResourceURLs: [/healthz]\n'), { code: "nonresource-with-resources", severity: "error", rule: 0, line: 7 });
  expectOne(lint("rules:\n- level: Metadata\n  namespaces: [kube-system]\n  nonResourceURLs: [/healthz]\n"), { code: "nonresource-with-resources", rule: 0, line: 6 });
});

test("lint: non-resource URL format and resource paths given as non-resource URLs", () => {
  const fs = lint('rules:\n- level: None\n  nonResourceURLs: [healthz, "/a*b", "/apis/apps/v1/deployments*", "/apis*"]\n- level: Metadata\n');
  assert.equal(only(fs, "invalid-nonresource-url").length, 2);
  expectOne(fs, { code: "nonresource-url-is-resource", path: "rules[0].nonResourceURLs[2]", line: 5 });
});

test("lint: shadowed rules name the earlier rule and its line", () => {
  const fs = lint(
    [
      "rules:",
      "- level: None", // 4
      "  users: [system:kube-proxy]",
      "- level: Metadata", // 6
      "  userGroups: [system:nodes]",
      "  verbs: [get, list, watch]",
      "- level: Request", // 9
      "  userGroups: [system:nodes]",
      "  verbs: [watch]",
      '  resources: [{group: "", resources: ["pods"]}]',
      "- level: None", // 13
      "  users: [system:kube-proxy]",
      "  verbs: [watch]",
      "- level: Metadata", // 16
      '  nonResourceURLs: ["/healthz*"]',
      "- level: None", // 18
      "  nonResourceURLs: [/healthz/ready]",
      "- level: RequestResponse", // 20
      '  resources: [{group: "", resources: ["pods/*"]}]',
      "- level: Request", // 22
      '  resources: [{group: "", resources: ["pods/log"]}]',
      "- level: Metadata", // 24
      "- level: Request", // 25
      "  verbs: [delete]",
      "",
    ].join("\n"),
  );
  const shadowed = only(fs, "shadowed-rule");
  assert.deepEqual(
    shadowed.map((f) => [f.rule, f.line]),
    [
      [2, 9],
      [3, 13],
      [5, 18],
      [7, 22],
      [9, 25],
    ],
  );
  assert.match(shadowed[0]!.message, /rules\[1\] \(line 6/);
  assert.match(shadowed[1]!.message, /rules\[0\] \(line 4.*redundant/);
  assert.match(shadowed[4]!.message, /rules\[8\]/);
});

test("lint: rules that only look similar are not reported as shadowed", () => {
  const fs = lint(
    [
      "rules:",
      "- level: None",
      "  users: [alice]",
      "- level: Metadata",
      "  userGroups: [devs]", // alice may or may not be in devs: not provable
      '- level: Request',
      '  resources: [{group: "", resources: ["pods"]}]',
      "- level: Request",
      '  resources: [{group: "", resources: ["pods/log"]}]', // pods does not cover pods/log
      "- level: Request",
      '  namespaces: ["kube-system"]',
      "- level: Request",
      '  resources: [{group: "", resources: ["configmaps"]}]', // not restricted to kube-system
      "- level: Metadata",
      "",
    ].join("\n"),
  );
  assert.deepEqual(only(fs, "shadowed-rule"), []);
});

test("lint: policy that logs nothing, and a missing catch-all", () => {
  expectOne(lint("rules:\n- level: None\n  verbs: [get]\n- level: None\n  verbs: [list]\n"), { code: "logs-nothing", severity: "warning", line: 4 });
  expectOne(lint("rules:\n- level: Metadata\n  verbs: [get]\n- level: None\n  verbs: [list]\n"), { code: "no-catch-all", severity: "info", line: 6, rule: 1 });
  assert.deepEqual(only(lint("rules:\n- level: Metadata\n  verbs: [get]\n- level: None\n"), "no-catch-all"), []);
});

test("lint: unknown and capitalised verbs", () => {
  const fs = lint("rules:\n- level: Metadata\n  verbs: [get, GET, read]\n");
  assert.match(expectOne(fs, { code: "unknown-verb", path: "rules[0].verbs[1]", line: 5 }).message, /lower-case: "get"/);
  expectOne(fs, { code: "unknown-verb", path: "rules[0].verbs[2]" });
});

test("lint: cluster-scoped resources under namespaces that exclude \"\"", () => {
  const fs = lint('rules:\n- level: Request\n  namespaces: [kube-system]\n  resources:\n  - group: ""\n    resources: [nodes, namespaces, configmaps]\n- level: Metadata\n');
  const f = expectOne(fs, { code: "cluster-scoped-in-namespaces", line: 8 });
  assert.match(f.message, /"nodes"/);
  assert.deepEqual(only(lint('rules:\n- level: Request\n  namespaces: [""]\n  resources:\n  - group: ""\n    resources: [nodes]\n- level: Metadata\n'), "cluster-scoped-in-namespaces"), []);
});

test("lint: findings are sorted by line", () => {
  const fs = lint("rules:\n- level: metadata\n- level: Metadata\n  resources:\n  - group: apps\n    resources: [pods]\n");
  const lines = fs.map((f) => f.line);
  assert.deepEqual(lines, [...lines].sort((a, b) => a - b));
});

test("lint: the mistakes example of docs/audit-policy.md reports each mistake once, in file order", () => {
  const r = lintPolicy(readFileSync(new URL("./fixtures/mistakes.yaml", import.meta.url), "utf8"));
  assert.deepEqual(
    r.findings.map((f) => [f.line, f.severity, f.code, f.rule]),
    [
      [7, "warning", "core-resource-wrong-group", 0],
      [7, "warning", "resource-name", 0],
      [12, "warning", "resource-wrong-group", 1],
      [13, "warning", "resource-names-nameless-verbs", 1],
      [16, "warning", "shadowed-rule", 3],
      [24, "error", "wildcard-group", 4],
      [25, "error", "nonresource-with-resources", 4],
      [26, "error", "invalid-level", 5],
      [27, "error", "unknown-field", 5],
    ],
  );
  assert.deepEqual(lintPolicy(readFileSync(new URL("./fixtures/example-policy.yaml", import.meta.url), "utf8")).findings, []);
});
