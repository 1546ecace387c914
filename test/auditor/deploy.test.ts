// deploy/auditor/ is validated by the test API server (dryRun=All, fieldValidation=Strict,
// official OpenAPI schemas), and proven sufficient and least-privilege: the auditor runs with
// the ServiceAccount's token under RBAC built from these very files, checks and rolls, and
// cannot delete a pod in any other namespace.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { KubeClient, KubeApiError, PODS, type GVR } from "../../src/core/kube/index.js";
import { installCrds, SHARED_KUBE_DIR } from "../support/kube-apiserver/index.js";
import { CONTROLLER_NS, FAST, eventually, managedPods, startCluster, startServe } from "./helpers.js";

const DEPLOY = new URL("../../deploy/auditor/", import.meta.url);
const SA_USER = "system:serviceaccount:watch-auditor:watch-auditor";

function gvrOf(apiVersion: string, kind: string): GVR {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const resource = kind.toLowerCase() + (kind.endsWith("s") ? "es" : "s");
  const namespaced = !["Namespace", "ClusterRole", "ClusterRoleBinding"].includes(kind);
  return { group: group!, version: version!, resource, kind, namespaced };
}

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [k: string]: unknown;
}

async function manifests(): Promise<{ file: string; obj: Manifest }[]> {
  const out: { file: string; obj: Manifest }[] = [];
  for (const file of (await readdir(DEPLOY)).filter((f) => f.endsWith(".yaml")).sort()) {
    for (const doc of parseAllDocuments(await readFile(new URL(file, DEPLOY), "utf8"))) {
      if (doc.errors.length) throw new Error(`${file}: ${doc.errors[0]!.message}`);
      const obj = doc.toJS() as Manifest | null;
      if (obj) out.push({ file, obj });
    }
  }
  return out;
}

test("every manifest passes server-side validation (dryRun=All, strict fields) and there is no ClusterRole", async () => {
  const c = await startCluster({ server: { authz: "rbac", tokens: { admin: { user: "admin", groups: ["system:masters"] } } }, token: "admin" });
  try {
    // The ServiceMonitor needs its CRD, as on a cluster (validated against its schema).
    installCrds(c.api, join(SHARED_KUBE_DIR, "crds"));
    const admin = await KubeClient.load({ kubeconfig: c.kubeconfig });
    const all = await manifests();
    const kinds = all.map((m) => m.obj.kind);
    for (const k of ["Namespace", "ServiceAccount", "Role", "RoleBinding", "Deployment", "Service", "ServiceMonitor", "Kustomization"]) assert.ok(kinds.includes(k), `missing ${k}`);
    assert.ok(!kinds.includes("ClusterRole") && !kinds.includes("ClusterRoleBinding"), "namespaced RBAC only");
    for (const { file, obj } of all) {
      if (obj.kind === "Kustomization") continue; // a kustomize build file, not an API object
      const gvr = gvrOf(obj.apiVersion, obj.kind);
      try {
        const created = await admin.create<Manifest>(gvr, obj, { namespace: obj.metadata.namespace, dryRun: true, fieldValidation: "Strict" });
        assert.equal(created.metadata.name, obj.metadata.name);
      } catch (err) {
        assert.fail(`${file} ${obj.kind}/${obj.metadata.name} rejected: ${(err as Error).message}`);
      }
    }
    assert.equal(c.api.store.list("deployments.apps", "watch-auditor").length, 0, "dry run persisted nothing");
    // The validation is real: a typo in a field is refused.
    const dep = all.find((m) => m.obj.kind === "Deployment")!.obj;
    const bad = structuredClone(dep) as Manifest & { spec: { replicaz?: number } };
    bad.spec.replicaz = 2;
    await assert.rejects(admin.create(gvrOf(dep.apiVersion, dep.kind), bad, { namespace: "watch-auditor", dryRun: true, fieldValidation: "Strict" }), (e: unknown) => e instanceof KubeApiError && /replicaz/.test(e.message));
    admin.close();
  } finally {
    await c.close();
  }
});

test("with the RBAC from deploy/, the ServiceAccount can check, roll and elect, and nothing more", async () => {
  const tokens = { admin: { user: "admin", groups: ["system:masters"] }, sa: { user: SA_USER, groups: ["system:authenticated"] } };
  const c = await startCluster({ server: { authz: "rbac", tokens }, controller: { mode: "dead" }, token: "sa" });
  const adminConfig = await c.api.writeKubeconfig(c.dir, { token: "admin" });
  const admin = await KubeClient.load({ kubeconfig: adminConfig });
  const sa = await KubeClient.load({ kubeconfig: c.kubeconfig });
  try {
    for (const { obj } of await manifests()) {
      if (!["Namespace", "ServiceAccount", "Role", "RoleBinding"].includes(obj.kind)) continue;
      await admin.create(gvrOf(obj.apiVersion, obj.kind), obj, { namespace: obj.metadata.namespace });
    }
    const s = await startServe(c, [...FAST, "--failure-threshold", "2", "--lease-namespace", "watch-auditor", "--lease-duration", "3s", "--renew-deadline", "2s", "--retry-period", "500ms"]);
    try {
      await eventually(() => c.controller.restarts >= 1, { timeoutMs: 30_000, what: "a roll under RBAC" });
      await eventually(async () => (await s.get("/readyz")).status === 200, { timeoutMs: 10_000, what: "ready" });
      await eventually(() => c.api.store.list("events", CONTROLLER_NS).some((e) => e.reason === "WatchControllerRolled"), { what: "roll Event recorded" });
      const lease = c.api.store.get("leases.coordination.k8s.io", "watch-auditor", "watch-auditor");
      assert.ok((lease?.spec as { holderIdentity?: string }).holderIdentity);
      const denied = c.api.requests.filter((r) => r.user === SA_USER && r.status === 403);
      assert.deepEqual(denied.map((r) => `${r.verb} ${r.path}`), [], "the manifests grant everything serve needs");
    } finally {
      const r = await s.stop();
      assert.equal(r.code, 0, r.stderr);
    }
    assert.deepEqual(managedPods(c.api), []);

    // Least privilege: the same token cannot touch pods elsewhere, nor list cluster-wide.
    c.api.store.create({ apiVersion: "v1", kind: "Pod", metadata: { name: "bystander", namespace: "default" }, spec: { containers: [{ name: "c", image: "x" }] } });
    await assert.rejects(sa.delete(PODS, "bystander", { namespace: "default" }), (e: unknown) => e instanceof KubeApiError && e.status === 403);
    await assert.rejects(sa.list(PODS, {}), (e: unknown) => e instanceof KubeApiError && e.status === 403);
    await assert.rejects(sa.create(PODS, { apiVersion: "v1", kind: "Pod", metadata: { name: "x" }, spec: { containers: [{ name: "c", image: "x" }] } }, { namespace: CONTROLLER_NS }), (e: unknown) => e instanceof KubeApiError && e.status === 403);
    assert.ok(c.api.store.get("pods", "default", "bystander"), "the bystander pod survives");
  } finally {
    admin.close();
    sa.close();
    await c.close();
  }
});
