// deploy/controlplane's RBAC is enough and no more: its objects are stored in a test API server that
// enforces RBAC, and `controlplane report` runs as the ServiceAccount they bind. Everything it reads
// is allowed (health, each failed check's reason, /metrics, nodes, node Leases); reading anything
// else is refused.
import { test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { KubeClient, LEASES, microTime, PODS, SECRETS } from "../../src/core/kube/index.js";
import { kustomizeBuild } from "../../src/dashboards/kustomize.js";
import { reportJson, startCluster } from "./support.js";

const SA_TOKEN = "controlplane-sa-token";
const SA_USER = "system:serviceaccount:watch-auditor:watch-auditor-controlplane";

test("deploy/controlplane RBAC: report as its ServiceAccount reads every source (exit 0, no errors; a failed check's reason too) and nothing else", async () => {
  const cluster = await startCluster({
    authz: "rbac",
    tokens: { [SA_TOKEN]: { user: SA_USER, groups: ["system:serviceaccounts", "system:serviceaccounts:watch-auditor", "system:authenticated"] } },
  });
  const objects = await kustomizeBuild(fileURLToPath(new URL("../../deploy/controlplane/", import.meta.url)));
  const rbac = objects.filter((o) => ["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"].includes(o.kind));
  assert.equal(rbac.length, 4);
  for (const o of rbac) cluster.api.store.create(o as never);
  cluster.api.store.create({ apiVersion: "v1", kind: "Node", metadata: { name: "n1" }, status: { conditions: [{ type: "Ready", status: "True" }] } } as never);
  cluster.api.store.create({ apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name: "n1", namespace: "kube-node-lease" }, spec: { renewTime: microTime(new Date()) } } as never);
  const kubeconfig = cluster.api.writeKubeconfig(cluster.dir, { token: SA_TOKEN, user: "sa" });
  const kube = await KubeClient.load({ kubeconfig });
  try {
    const { r, json } = await reportJson(kubeconfig);
    assert.ok(json, r.stderr);
    assert.deepEqual(json.errors, [], "every source readable");
    assert.equal(r.code, 0, JSON.stringify(json.problems));
    assert.equal(json.nodes.nodes[0].heartbeatAgeSeconds < 60, true, "the node Lease was read");

    // A failing check: its reason comes from /readyz/etcd, which the Role allows.
    cluster.api.health.setCheck("etcd", false);
    const failing = await reportJson(kubeconfig);
    const etcdCheck = (failing.json!.checks.readyz.checks as { name: string; reason?: string }[]).find((c) => c.name === "etcd");
    assert.equal(etcdCheck!.reason, "error getting data from etcd: context deadline exceeded");
    cluster.api.health.resetCheck();

    // And nothing else: pods, secrets, leases outside kube-node-lease.
    await assert.rejects(kube.list(PODS, {}), /403/);
    await assert.rejects(kube.list(SECRETS, { namespace: "watch-auditor" }), /403/);
    await assert.rejects(kube.list(LEASES, { namespace: "kube-system" }), /403/);
    assert.equal((await kube.getText("/version")).status, 200, "public info stays public");
    assert.equal((await kube.getText("/debug/pprof/")).status, 403, "other nonResourceURLs are refused");
  } finally {
    kube.close();
    await cluster.close();
  }
});
