// `watch-auditor install --print`: the deploy/ tree rendered by our kustomize subset, checked for
// least-privilege RBAC and validated object by object by the test API server (dry run, strict
// field validation against the recorded v1.25 OpenAPI schemas, and against the Prometheus operator's
// CRD schemas for ServiceMonitor/PodMonitor/PrometheusRule) through the project's Kubernetes client.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { runCli } from "../support/cli.js";
import { installCrds, SHARED_KUBE_DIR, startTestApiServer } from "../support/kube-apiserver/index.js";
import { KubeClient, type GVR } from "../../src/core/kube/index.js";
import { kustomizeBuild, type KubeObject } from "../../src/dashboards/kustomize.js";
import { checkNamespace, parseComponents, renderInstall } from "../../src/dashboards/install.js";
import { UsageError } from "../../src/core/errors.js";
import { buildDashboards } from "../../src/dashboards/catalog.js";
import { dashboardConfigMaps } from "../../src/dashboards/provisioning.js";
import { renderRules } from "../../src/dashboards/rules.js";

const DEPLOY = new URL("../../deploy/", import.meta.url);

const PLURALS: Record<string, [string, boolean]> = {
  Namespace: ["namespaces", false],
  ServiceAccount: ["serviceaccounts", true],
  ClusterRole: ["clusterroles", false],
  ClusterRoleBinding: ["clusterrolebindings", false],
  Role: ["roles", true],
  RoleBinding: ["rolebindings", true],
  ConfigMap: ["configmaps", true],
  PersistentVolumeClaim: ["persistentvolumeclaims", true],
  Service: ["services", true],
  Deployment: ["deployments", true],
  DaemonSet: ["daemonsets", true],
  ServiceMonitor: ["servicemonitors", true],
  PodMonitor: ["podmonitors", true],
  PrometheusRule: ["prometheusrules", true],
  Package: ["packages", true],
};

function gvrOf(o: KubeObject): GVR {
  const [group, version] = o.apiVersion.includes("/") ? (o.apiVersion.split("/") as [string, string]) : ["", o.apiVersion];
  const p = PLURALS[o.kind];
  assert.ok(p, `test knows the resource of kind ${o.kind}`);
  return { group, version, resource: p[0], namespaced: p[1], kind: o.kind };
}

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
}

function assertLeastPrivilege(objects: KubeObject[]): void {
  for (const o of objects) {
    if (o.kind !== "Role" && o.kind !== "ClusterRole") continue;
    const id = `${o.kind} ${o.metadata.namespace ?? ""}/${o.metadata.name}`;
    for (const r of (o.rules as Rule[] | undefined) ?? []) {
      assert.ok(!r.verbs.includes("*"), `${id}: no * verbs`);
      assert.ok(!(r.resources ?? []).includes("*") && !(r.apiGroups ?? []).includes("*"), `${id}: no * resources or groups`);
      assert.ok(!(r.resources ?? []).some((x) => x === "secrets" || x.startsWith("secrets/")), `${id}: no secrets access`);
      // Delegated authentication/authorization (audit serve's JSON API): exactly system:auth-delegator's
      // two rules, create tokenreviews and create subjectaccessreviews, which read nothing and change nothing.
      const delegated =
        o.kind === "ClusterRole" &&
        r.verbs.length === 1 &&
        r.verbs[0] === "create" &&
        ((r.apiGroups?.join() === "authentication.k8s.io" && r.resources?.join() === "tokenreviews") || (r.apiGroups?.join() === "authorization.k8s.io" && r.resources?.join() === "subjectaccessreviews"));
      if (o.kind === "ClusterRole" && !delegated) {
        // Cluster-wide the components only read; every write is confined to a namespace.
        assert.deepEqual(r.verbs.filter((v) => !["get", "list", "watch"].includes(v)), [], `${id}: cluster-wide read-only`);
        assert.ok(!((r.resources ?? []).includes("pods") && r.verbs.includes("delete")), `${id}: no cluster-wide pod deletion`);
      }
      for (const v of ["escalate", "bind", "impersonate"]) assert.ok(!r.verbs.includes(v), `${id}: no ${v}`);
    }
  }
  for (const o of objects) {
    if (o.kind !== "ClusterRoleBinding" && o.kind !== "RoleBinding") continue;
    const ref = o.roleRef as { name: string };
    assert.notEqual(ref.name, "cluster-admin", `${o.metadata.name}: not cluster-admin`);
  }
  // Pods run as non-root, without privilege escalation, with a read-only root file system.
  for (const o of objects) {
    if (o.kind !== "Deployment" && o.kind !== "DaemonSet") continue;
    const pod = (o.spec as { template: { spec: { securityContext?: { runAsNonRoot?: boolean }; hostNetwork?: boolean; containers: { name: string; securityContext?: { allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean; privileged?: boolean; capabilities?: { drop?: string[] } } }[] } } }).template.spec;
    assert.equal(pod.securityContext?.runAsNonRoot, true, `${o.metadata.name}: runAsNonRoot`);
    assert.notEqual(pod.hostNetwork, true, `${o.metadata.name}: no host network`);
    for (const c of pod.containers) {
      assert.equal(c.securityContext?.allowPrivilegeEscalation, false, `${o.metadata.name}/${c.name}`);
      assert.equal(c.securityContext?.readOnlyRootFilesystem, true, `${o.metadata.name}/${c.name}`);
      assert.notEqual(c.securityContext?.privileged, true, `${o.metadata.name}/${c.name}`);
      assert.deepEqual(c.securityContext?.capabilities?.drop, ["ALL"], `${o.metadata.name}/${c.name}`);
    }
  }
}

test("install --print: every base component, one parseable multi-document YAML, least-privilege RBAC, accepted by the API server (dry run, strict)", async () => {
  const r = await runCli(["install", "--print"], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  const objects = YAML.parseAllDocuments(r.stdout).map((d) => {
    assert.deepEqual(d.errors, []);
    return d.toJSON() as KubeObject;
  });
  const kinds = new Set(objects.map((o) => o.kind));
  for (const k of ["Namespace", "Deployment", "DaemonSet", "ServiceMonitor", "PodMonitor", "PrometheusRule", "ConfigMap", "PersistentVolumeClaim"]) assert.ok(kinds.has(k), `renders a ${k}`);
  assert.equal(objects[0]!.kind, "Namespace", "namespace first, so kubectl apply can create the rest");
  const names = objects.map((o) => `${o.kind}/${o.metadata.name}`);
  for (const n of ["Deployment/watch-auditor", "Deployment/watch-auditor-audit-webhook", "DaemonSet/watch-auditor-flows", "ServiceMonitor/watch-auditor-audit-webhook", "Deployment/watch-auditor-controlplane", "ServiceMonitor/watch-auditor-controlplane"]) assert.ok(names.includes(n), n);
  assert.ok(!objects.some((o) => o.kind !== "ConfigMap" && o.metadata.name.includes("exporter")), "the exporter example is not in the base");
  const dashboards = objects.filter((o) => o.kind === "ConfigMap" && o.metadata.labels?.grafana_dashboard === "1");
  assert.equal(dashboards.length, buildDashboards("prometheus").length, "one dashboard ConfigMap per dashboard, carrying the sidecar label");
  assertLeastPrivilege(objects);

  const api = await startTestApiServer({
    resources: [{ group: "", version: "v1", resource: "persistentvolumeclaims", kind: "PersistentVolumeClaim", namespaced: true }],
  });
  // The Prometheus operator's CRDs (../shared/kube/crds): ServiceMonitor, PodMonitor and
  // PrometheusRule are validated against their real openAPIV3Schema, as a cluster would.
  installCrds(api, join(SHARED_KUBE_DIR, "crds"));
  const dir = await mkdtemp(join(tmpdir(), "h9-install-"));
  const kube = await KubeClient.load({ kubeconfig: api.writeKubeconfig(dir) });
  try {
    for (const o of objects) {
      const created = await kube.create<KubeObject>(gvrOf(o), o, { dryRun: true, fieldValidation: "Strict" }).catch((err: Error) => {
        throw new Error(`${o.kind} ${o.metadata.namespace ?? ""}/${o.metadata.name}: ${err.message}`);
      });
      assert.equal(created.metadata.name, o.metadata.name);
    }
    // Dry run: nothing was stored.
    assert.equal(api.store.list("deployments.apps").length, 0);
    // The validation is real: a typo'd field in a Deployment is refused.
    const dep = structuredClone(objects.find((o) => o.kind === "Deployment")!);
    (dep.spec as Record<string, unknown>).replica = 2;
    await assert.rejects(kube.create(gvrOf(dep), dep, { dryRun: true, fieldValidation: "Strict" }), /replica/);
    // And so is one in a ServiceMonitor: the CRD's schema names it.
    const sm = structuredClone(objects.find((o) => o.kind === "ServiceMonitor")!);
    const endpoint = (sm.spec as { endpoints: Record<string, unknown>[] }).endpoints[0]!;
    endpoint.intervall = endpoint.interval ?? "30s";
    delete endpoint.interval;
    await assert.rejects(kube.create(gvrOf(sm), sm, { dryRun: true, fieldValidation: "Strict" }), /unknown field "spec\.endpoints\[0\]\.intervall"/);
  } finally {
    kube.close();
    await api.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test("install --print --components/--namespace: a subset moves to the namespace; audited namespaces stay; bad input exits 2", async () => {
  // Generous timeouts: each CLI start loads every capability, on 2 shared cores.
  const run = (args: string[]) => runCli(args, { timeoutMs: 60_000 });
  const [sub, bad, noPrint] = await Promise.all([
    run(["install", "--print", "--components", "auditor,flows", "--namespace", "observability"]),
    run(["install", "--print", "--components", "auditor,nope"]),
    run(["install"]),
  ]);
  assert.equal(sub.code, 0, sub.stderr);
  const objects = YAML.parseAllDocuments(sub.stdout).map((d) => d.toJSON() as KubeObject);
  assert.ok(objects.some((o) => o.kind === "Namespace" && o.metadata.name === "observability"));
  assert.ok(!objects.some((o) => o.metadata.namespace === "watch-auditor"), "nothing left in the default namespace");
  assert.ok(!objects.some((o) => o.metadata.name.includes("audit-webhook")), "only the chosen components");
  // The auditor's Roles stay in the namespaces it audits; their subjects follow the move.
  const canary = objects.find((o) => o.kind === "RoleBinding" && o.metadata.name === "watch-auditor-canary")!;
  assert.equal(canary.metadata.namespace, "neuvector");
  assert.deepEqual((canary.subjects as { namespace: string }[]).map((s) => s.namespace), ["observability"]);
  const flowsBinding = objects.find((o) => o.kind === "ClusterRoleBinding")!;
  assert.equal((flowsBinding.subjects as { namespace: string }[])[0]!.namespace, "observability");

  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--components: unknown component "nope"/);
  assert.equal(noPrint.code, 2);
  assert.match(noPrint.stderr, /--print/);
  // The same UsageError path (exit 2, shown above), without a process per case.
  assert.throws(() => checkNamespace("Not_A_Namespace"), (e: Error) => e instanceof UsageError && /--namespace: "Not_A_Namespace"/.test(e.message));
  assert.throws(() => parseComponents(" , "), (e: Error) => e instanceof UsageError && /--components: empty list/.test(e.message));
  await assert.rejects(renderInstall({ components: ["exporter-example"], namespace: "x", deployDir: join(tmpdir(), "h9-no-such-deploy-dir") }), (e: Error) => e instanceof UsageError && /exporter-example has no manifests/.test(e.message));
});

test("deploy/: the base lists every component; overlays render; committed monitoring files equal freshly generated ones", async () => {
  const base = YAML.parse(await readFile(new URL("kustomization.yaml", DEPLOY), "utf8")) as { resources: string[] };
  assert.deepEqual(base.resources, ["auditor", "audit-webhook", "flows", "controlplane", "monitoring"]);
  const all = await kustomizeBuild(new URL(".", DEPLOY).pathname);
  const viaInstall = await renderInstall({ components: ["auditor", "audit-webhook", "flows", "controlplane", "monitoring"], namespace: "watch-auditor" });
  assert.equal(all.length, viaInstall.length, "install renders what the base kustomization does");

  const minimal = await kustomizeBuild(new URL("overlays/minimal/", DEPLOY).pathname);
  assert.deepEqual([...new Set(minimal.map((o) => o.metadata.labels?.["app.kubernetes.io/name"]))], ["watch-auditor"]);
  const uds = await kustomizeBuild(new URL("overlays/uds-core/", DEPLOY).pathname);
  assert.equal(uds.length, all.length + 1);
  assert.ok(uds.some((o) => o.kind === "Package" && o.apiVersion === "uds.dev/v1alpha1"));

  // The API server's webhook kubeconfig points at the receiver's Service and port.
  const kc = YAML.parse(await readFile(new URL("audit-webhook/webhook-kubeconfig.yaml", DEPLOY), "utf8")) as { clusters: { cluster: { server: string } }[] };
  const svc = all.find((o) => o.kind === "Service" && o.metadata.name === "watch-auditor-audit-webhook")!;
  const port = (svc.spec as { ports: { name: string; port: number }[] }).ports.find((p) => p.name === "webhook")!.port;
  assert.equal(new URL(kc.clusters[0]!.cluster.server).host, `${svc.metadata.name}.${svc.metadata.namespace}.svc:${port}`);

  const committedDashboards = await readFile(new URL("monitoring/grafana-dashboards.yaml", DEPLOY), "utf8");
  assert.equal(committedDashboards, dashboardConfigMaps(buildDashboards("prometheus"), "watch-auditor"), "regenerate deploy/monitoring/grafana-dashboards.yaml (see its kustomization.yaml)");
  const committedRules = await readFile(new URL("monitoring/prometheusrule.yaml", DEPLOY), "utf8");
  assert.equal(committedRules, renderRules({ format: "prometheusrule" }), "regenerate deploy/monitoring/prometheusrule.yaml (see its kustomization.yaml)");
});

test("kustomize subset: refuses what it does not implement and names the file and line", async () => {
  const dir = await mkdtemp(join(tmpdir(), "h9-kust-"));
  try {
    await mkdir(join(dir, "a"));
    await writeFile(join(dir, "a", "kustomization.yaml"), "resources: [cm.yaml]\npatches: []\n");
    await assert.rejects(kustomizeBuild(join(dir, "a")), /a\/kustomization.yaml: field "patches" is not supported/);
    await writeFile(join(dir, "a", "kustomization.yaml"), "resources: [cm.yaml, missing.yaml]\nnamespace: team\n");
    await writeFile(join(dir, "a", "cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\n");
    await assert.rejects(kustomizeBuild(join(dir, "a")), /resource "missing.yaml" does not exist/);
    await writeFile(join(dir, "a", "kustomization.yaml"), "resources: [cm.yaml]\nnamespace: team\n");
    const objs = await kustomizeBuild(join(dir, "a"));
    assert.deepEqual(objs.map((o) => `${o.metadata.namespace}/${o.metadata.name}`), ["team/x", "team/y"]);
    await writeFile(join(dir, "a", "cm.yaml"), "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\nkind: ConfigMap\ndata: {}\n");
    await assert.rejects(kustomizeBuild(join(dir, "a")), /a\/cm.yaml:5: not a Kubernetes object/);
    await writeFile(join(dir, "a", "cm.yaml"), "apiVersion: v1\nkind: [\n");
    await assert.rejects(kustomizeBuild(join(dir, "a")), /a\/cm.yaml:\d+: /);
    await writeFile(join(dir, "a", "kustomization.yaml"), "resources: [.]\n");
    await assert.rejects(kustomizeBuild(join(dir, "a")), /nested more than 10 deep/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
