import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import YAML from "yaml";
import { RESOURCE_KINDS } from "../../src/core/kube-metadata/cache.js";

const DIR = new URL("../../deploy/flows/", import.meta.url);

interface Doc {
  kind: string;
  metadata: { name: string };
  rules?: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
  spec?: Record<string, unknown>;
}

function docs(): Doc[] {
  return readdirSync(DIR)
    .filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml")
    .flatMap((f) => YAML.parseAllDocuments(readFileSync(new URL(f, DIR), "utf8")).map((d) => d.toJSON() as Doc));
}

test("deploy/flows: every kustomization resource exists; the reader ClusterRole is get/list/watch on exactly what the cache watches; the other only creates Token/SubjectAccessReviews", () => {
  const kust = YAML.parse(readFileSync(new URL("kustomization.yaml", DIR), "utf8")) as { resources: string[] };
  const files = readdirSync(DIR);
  for (const r of kust.resources) assert.ok(files.includes(r), `${r} listed in kustomization.yaml`);
  const roles = docs().filter((d) => d.kind === "ClusterRole");
  assert.deepEqual(roles.map((r) => r.metadata.name).sort(), ["watch-auditor-flows", "watch-auditor-flows-auth-delegator"]);
  const auth = roles.find((r) => r.metadata.name === "watch-auditor-flows-auth-delegator")!;
  assert.deepEqual(auth.rules!.map((r) => [r.apiGroups, r.resources, r.verbs]), [
    [["authentication.k8s.io"], ["tokenreviews"], ["create"]],
    [["authorization.k8s.io"], ["subjectaccessreviews"], ["create"]],
  ]);
  const bindings = docs().filter((d) => d.kind === "ClusterRoleBinding") as unknown as { roleRef: { name: string }; subjects: { name: string }[] }[];
  assert.deepEqual(bindings.map((b) => [b.roleRef.name, b.subjects.map((x) => x.name)]).sort(), [["watch-auditor-flows", ["watch-auditor-flows"]], ["watch-auditor-flows-auth-delegator", ["watch-auditor-flows"]]]);
  const role = roles.find((r) => r.metadata.name === "watch-auditor-flows")!;
  const granted = role.rules!.flatMap((r) => {
    assert.deepEqual([...r.verbs].sort(), ["get", "list", "watch"]);
    return r.resources;
  });
  assert.deepEqual(granted.sort(), [...RESOURCE_KINDS].sort());
});

test("deploy/flows: the DaemonSet is non-root, read-only, capability-free, reads the export read-only, and gets --node from the downward API", () => {
  const ds = docs().find((d) => d.kind === "DaemonSet")!;
  const pod = (ds.spec!.template as { spec: Record<string, unknown> }).spec as {
    securityContext: { runAsNonRoot: boolean; runAsUser: number };
    containers: { args: string[]; env: { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[]; securityContext: { readOnlyRootFilesystem: boolean; allowPrivilegeEscalation: boolean; capabilities: { drop: string[] } }; volumeMounts: { readOnly: boolean }[] }[];
  };
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.notEqual(pod.securityContext.runAsUser, 0);
  const c = pod.containers[0]!;
  assert.equal(c.args[0], "flows");
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  assert.equal(c.securityContext.allowPrivilegeEscalation, false);
  assert.deepEqual(c.securityContext.capabilities.drop, ["ALL"]);
  assert.ok(c.volumeMounts.every((m) => m.readOnly));
  assert.equal(c.env.find((e) => e.name === "WATCH_AUDITOR_FLOWS_NODE")?.valueFrom?.fieldRef?.fieldPath, "spec.nodeName");
  // glibc reads it at process start only (docs/flows.md, Memory).
  assert.equal((c.env.find((e) => e.name === "MALLOC_ARENA_MAX") as { value?: string } | undefined)?.value, "2");
});
