// `audit rbac` through the real CLI on real audit events; the generated RBAC applied to the test
// API server (authz: rbac) and the identity's recorded requests replayed with its token.
import { before, after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { runCli } from "../support/cli.js";
import { startTestApiServer, type TestApiServer } from "../support/kube-apiserver/index.js";
import { call, deployment } from "../support/kube-apiserver/test-helpers.js";
import { SCENARIO, SECURITY, readEvents, type Ev } from "./helpers.js";

const SA = "system:serviceaccount:shop:deployer";
const security = readEvents(SECURITY).map((e) => e.ev as Ev);
const scenario = readEvents(SCENARIO).map((e) => e.ev as Ev);
let dir: string;
let db: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "h6-audit-rbac-"));
  db = join(dir, "audit.duckdb");
  const r = await runCli(["audit", "ingest", "--db", db, SECURITY, SCENARIO]);
  assert.equal(r.code, 0, r.stderr);
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function rbac(args: string[]): Promise<Ev> {
  const r = await runCli(["audit", "rbac", "--db", db, "-o", "json", ...args]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

/**
 * Independent reference: one line per (scope, group, resource, names, verb) from the raw events.
 * A request is its ResponseComplete (or a watch's ResponseStarted); names are kept when every
 * request of (scope, group, resource, verb) named one of at most 5 objects and the verb can be
 * restricted by name.
 */
function expectedGrants(events: Ev[], user: string, withDenied: boolean): string[] {
  const ids = new Set<string>();
  const groups = new Map<string, (string | null)[]>();
  for (const e of events) {
    if (e.user?.username !== user) continue;
    if (!(e.stage === "ResponseComplete" || (e.stage === "ResponseStarted" && e.verb === "watch"))) continue;
    const code = e.responseStatus?.code;
    if (!((code >= 200 && code < 300) || (withDenied && code === 403))) continue;
    if (ids.has(e.auditID)) continue;
    ids.add(e.auditID);
    const o = e.objectRef;
    const key = o?.resource
      ? [o.namespace ?? "", o.apiGroup ?? "", o.subresource ? `${o.resource}/${o.subresource}` : o.resource, e.verb].join("|")
      : ["", "URL", e.requestURI.split("?")[0], e.verb].join("|");
    groups.set(key, [...(groups.get(key) ?? []), o?.name ?? null]);
  }
  const out: string[] = [];
  for (const [key, names] of groups) {
    const [scope, group, res, verb] = key.split("|");
    const distinct = [...new Set(names)];
    const named = !distinct.includes(null) && distinct.length <= 5 && !["create", "list", "watch", "deletecollection"].includes(verb!);
    out.push([scope, group, res, named ? distinct.sort().join(",") : "*", verb].join("|"));
  }
  return out.sort();
}

/** The CLI's answer in the same flat form. */
function flatten(items: Ev[]): string[] {
  const out: string[] = [];
  for (const o of items) {
    if (o.kind !== "Role" && o.kind !== "ClusterRole") continue;
    for (const r of o.rules) {
      for (const verb of r.verbs) {
        if (r.nonResourceURLs) for (const u of r.nonResourceURLs) out.push(["", "URL", u, "*", verb].join("|"));
        else for (const g of r.apiGroups) for (const res of r.resources) out.push([o.metadata.namespace ?? "", g, res, r.resourceNames ? r.resourceNames.join(",") : "*", verb].join("|"));
      }
    }
  }
  return out.sort();
}

test("rbac --serviceaccount shop:deployer: a Role + RoleBinding in shop with exactly what it did (v1.25 security scenario)", async () => {
  const rep = await rbac(["--serviceaccount", "shop:deployer"]);
  assert.deepEqual(flatten(rep.rbac.items), expectedGrants(security, SA, false));
  // The story, spelled out: list configmaps, get Secret registry-creds, create Deployment worker, then GET and PATCH it.
  assert.deepEqual(rep.rbac.items.map((o: Ev) => [o.kind, o.metadata.namespace, o.metadata.name]), [
    ["Role", "shop", `audit2rbac:${SA}`],
    ["RoleBinding", "shop", `audit2rbac:${SA}`],
  ]);
  assert.deepEqual(rep.rbac.items[0].rules, [
    { apiGroups: [""], resources: ["configmaps"], verbs: ["list"] },
    { apiGroups: [""], resources: ["secrets"], resourceNames: ["registry-creds"], verbs: ["get"] },
    { apiGroups: ["apps"], resources: ["deployments"], verbs: ["create"] },
    { apiGroups: ["apps"], resources: ["deployments"], resourceNames: ["worker"], verbs: ["get", "patch"] },
  ]);
  assert.deepEqual(rep.rbac.items[1].subjects, [{ kind: "ServiceAccount", name: "deployer", namespace: "shop" }]);
  assert.deepEqual(rep.rbac.items[1].roleRef, { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: `audit2rbac:${SA}` });
  assert.equal(rep.rbac.items[0].metadata.labels["app.kubernetes.io/managed-by"], "watch-auditor");
  assert.equal(rep.allowedRequests, 5);
  assert.equal(rep.deniedRequests, 0);
});

test("rbac --user eve: her merge patch of cart is granted; her denied Secret delete only with --include-denied", async () => {
  const plain = await rbac(["--user", "eve"]);
  assert.deepEqual(flatten(plain.rbac.items), expectedGrants(security, "eve", false));
  assert.deepEqual(plain.rbac.items[0].rules, [{ apiGroups: ["apps"], resources: ["deployments"], resourceNames: ["cart"], verbs: ["get", "patch"] }]);
  assert.equal(plain.deniedRequests, 1);
  const denied = await rbac(["--user", "eve", "--include-denied"]);
  assert.deepEqual(flatten(denied.rbac.items), expectedGrants(security, "eve", true));
  assert.deepEqual(denied.rbac.items[0].rules[0], { apiGroups: [""], resources: ["secrets"], resourceNames: ["registry-creds"], verbs: ["delete"] });
  assert.deepEqual(denied.rbac.items[1].subjects, [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: "eve" }]);
});

test("rbac on the v1.24 scenario: developer's configmap lists (Role) and /version (ClusterRole, non-resource URL); 403s only with --include-denied", async () => {
  const plain = await rbac(["--user", "developer"]);
  assert.deepEqual(flatten(plain.rbac.items), expectedGrants(scenario, "developer", false));
  assert.deepEqual(plain.rbac.items.map((o: Ev) => [o.kind, o.metadata.namespace ?? ""]), [["ClusterRole", ""], ["ClusterRoleBinding", ""], ["Role", "team-a"], ["RoleBinding", "team-a"]]);
  assert.deepEqual(plain.rbac.items[0].rules, [{ nonResourceURLs: ["/version"], verbs: ["get"] }]);
  const denied = await rbac(["--user", "developer", "--include-denied"]);
  assert.deepEqual(flatten(denied.rbac.items), expectedGrants(scenario, "developer", true));
  assert.ok(flatten(denied.rbac.items).includes("||pods|*|list"), "list of pods across all namespaces → ClusterRole");
  // --max-resource-names 0 never restricts by name.
  const unnamed = await rbac(["--user", "developer", "--include-denied", "--max-resource-names", "0"]);
  assert.ok(flatten(unnamed.rbac.items).includes("team-a|apps|deployments|*|delete"));
});

test("rbac: the window, YAML output and usage errors", async () => {
  const patch = security.find((e) => e.user.username === SA && e.verb === "patch" && e.stage === "ResponseComplete");
  const early = await rbac(["--serviceaccount", "shop:deployer", "--until", patch.stageTimestamp]);
  assert.equal(early.allowedRequests, 4);
  assert.deepEqual(early.rbac.items[0].rules.at(-1), { apiGroups: ["apps"], resources: ["deployments"], resourceNames: ["worker"], verbs: ["get"] });
  const none = await runCli(["audit", "rbac", "--db", db, "--user", "nobody"]);
  assert.equal(none.code, 0);
  assert.match(none.stderr, /no requests by nobody/);
  const y = await runCli(["audit", "rbac", "--db", db, "--serviceaccount", "shop:deployer"]);
  assert.equal(y.code, 0, y.stderr);
  const docs = parseAllDocuments(y.stdout).map((d) => d.toJS()).filter(Boolean);
  assert.deepEqual(docs, (await rbac(["--serviceaccount", "shop:deployer"])).rbac.items);
  for (const bad of [[], ["--user", "eve", "--serviceaccount", "a:b"], ["--serviceaccount", "deployer"]]) {
    const r = await runCli(["audit", "rbac", "--db", db, ...bad]);
    assert.equal(r.code, 2, `${bad.join(" ")}: ${r.stderr}`);
  }
});

const METHOD: Record<string, string> = { get: "GET", list: "GET", watch: "GET", create: "POST", update: "PUT", patch: "PATCH", delete: "DELETE", deletecollection: "DELETE" };

async function applyAsAdmin(api: TestApiServer, items: Ev[]): Promise<void> {
  for (const o of items) {
    const plural = o.kind.toLowerCase() + "s";
    const path = `/apis/rbac.authorization.k8s.io/v1/${o.metadata.namespace ? `namespaces/${o.metadata.namespace}/` : ""}${plural}`;
    const r = await call(api.url, "POST", path, o, { token: "admin" });
    assert.equal(r.status, 201, JSON.stringify(r.body));
  }
}

async function replay(api: TestApiServer, user: string, token: string): Promise<number[]> {
  const codes: number[] = [];
  for (const e of security) {
    if (e.user.username !== user || e.stage !== "ResponseComplete" || e.responseStatus.code >= 300) continue;
    const body = ["create", "update", "patch"].includes(e.verb) ? e.requestObject : undefined;
    const r = await call(api.url, METHOD[e.verb]!, e.requestURI, body, { token, contentType: e.verb === "patch" ? "application/merge-patch+json" : undefined });
    codes.push(r.status);
  }
  return codes;
}

test("end to end: the generated RBAC applied to the test API server (authz rbac) lets the recorded requests through, and nothing else", async (t) => {
  const api = await startTestApiServer({
    authz: "rbac",
    tokens: {
      admin: { user: "admin", groups: ["system:masters"] },
      sa: { user: SA, groups: ["system:serviceaccounts", "system:serviceaccounts:shop", "system:authenticated"] },
      eve: { user: "eve", groups: ["dev", "system:authenticated"] },
    },
  });
  t.after(() => api.close());
  api.store.create({ apiVersion: "v1", kind: "Secret", metadata: { name: "registry-creds", namespace: "shop" }, type: "Opaque", data: {} });
  api.store.create({ apiVersion: "v1", kind: "Secret", metadata: { name: "db", namespace: "shop" }, type: "Opaque", data: {} });
  api.store.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "settings", namespace: "shop" }, data: { a: "1" } });
  api.store.create({ ...deployment("cart"), metadata: { name: "cart", namespace: "shop" } });

  // Before: no rights at all.
  assert.equal((await call(api.url, "GET", "/api/v1/namespaces/shop/configmaps", undefined, { token: "sa" })).status, 403);

  await applyAsAdmin(api, (await rbac(["--serviceaccount", "shop:deployer"])).rbac.items);
  await applyAsAdmin(api, (await rbac(["--user", "eve"])).rbac.items);

  const saCodes = await replay(api, SA, "sa");
  assert.equal(saCodes.length, 5);
  for (const c of saCodes) assert.ok(c >= 200 && c < 300, `deployer replay answered ${saCodes.join(",")}`);
  const eveCodes = await replay(api, "eve", "eve");
  assert.equal(eveCodes.length, 2);
  for (const c of eveCodes) assert.ok(c >= 200 && c < 300, `eve replay answered ${eveCodes.join(",")}`);

  // Outside the generated rules: 403.
  assert.equal((await call(api.url, "DELETE", "/api/v1/namespaces/shop/configmaps/settings", undefined, { token: "sa" })).status, 403);
  assert.equal((await call(api.url, "GET", "/api/v1/namespaces/shop/secrets/db", undefined, { token: "sa" })).status, 403);
  assert.equal((await call(api.url, "GET", "/api/v1/namespaces/default/configmaps", undefined, { token: "sa" })).status, 403);
  assert.equal((await call(api.url, "DELETE", "/api/v1/namespaces/shop/secrets/registry-creds", undefined, { token: "eve" })).status, 403);
  assert.equal((await call(api.url, "PATCH", "/apis/apps/v1/namespaces/shop/deployments/worker", { spec: { replicas: 3 } }, { token: "eve", contentType: "application/merge-patch+json" })).status, 403);
});

test("--kubeconfig: permissions bound to the ServiceAccount now but never used in the window", async (t) => {
  const api = await startTestApiServer({ authz: "rbac", tokens: { admin: { user: "admin", groups: ["system:masters"] } } });
  t.after(() => api.close());
  const rbacV1 = "rbac.authorization.k8s.io/v1";
  const ref = (kind: string, name: string) => ({ apiGroup: "rbac.authorization.k8s.io", kind, name });
  for (const o of [
    {
      apiVersion: rbacV1, kind: "Role", metadata: { name: "broad", namespace: "shop" },
      rules: [
        { apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list", "delete"] },
        { apiGroups: [""], resources: ["secrets"], verbs: ["get"] },
        { apiGroups: ["apps"], resources: ["deployments"], verbs: ["*"] },
      ],
    },
    { apiVersion: rbacV1, kind: "RoleBinding", metadata: { name: "deployer-broad", namespace: "shop" }, roleRef: ref("Role", "broad"), subjects: [{ kind: "ServiceAccount", name: "deployer" }] },
    { apiVersion: rbacV1, kind: "ClusterRole", metadata: { name: "node-reader" }, rules: [{ apiGroups: [""], resources: ["nodes"], verbs: ["list"] }, { nonResourceURLs: ["/metrics"], verbs: ["get"] }] },
    { apiVersion: rbacV1, kind: "ClusterRoleBinding", metadata: { name: "shop-sas-read-nodes" }, roleRef: ref("ClusterRole", "node-reader"), subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: "system:serviceaccounts:shop" }] },
    // Not the deployer's: another ServiceAccount, and a RoleBinding naming "deployer" in another namespace.
    { apiVersion: rbacV1, kind: "RoleBinding", metadata: { name: "other", namespace: "shop" }, roleRef: ref("Role", "broad"), subjects: [{ kind: "ServiceAccount", name: "builder" }] },
    { apiVersion: rbacV1, kind: "RoleBinding", metadata: { name: "elsewhere", namespace: "default" }, roleRef: ref("ClusterRole", "node-reader"), subjects: [{ kind: "ServiceAccount", name: "deployer" }] },
  ]) api.store.create(o);
  const kubeconfig = api.writeKubeconfig(dir, { token: "admin" });
  const rep = await rbac(["--serviceaccount", "shop:deployer", "--kubeconfig", kubeconfig]);
  assert.deepEqual(
    rep.unusedGrants.map((g: Ev) => [g.binding, g.role, g.verb, g.nonResourceURL ?? `${g.resource}${g.apiGroup ? "." + g.apiGroup : ""}`, g.via]),
    [
      ["ClusterRoleBinding shop-sas-read-nodes", "ClusterRole node-reader", "list", "nodes", "Group system:serviceaccounts:shop"],
      ["ClusterRoleBinding shop-sas-read-nodes", "ClusterRole node-reader", "get", "/metrics", "Group system:serviceaccounts:shop"],
      // The bootstrap policy binds every ServiceAccount (group system:serviceaccounts) to this one.
      ["ClusterRoleBinding system:service-account-issuer-discovery", "ClusterRole system:service-account-issuer-discovery", "get", "/.well-known/openid-configuration", "Group system:serviceaccounts"],
      ["ClusterRoleBinding system:service-account-issuer-discovery", "ClusterRole system:service-account-issuer-discovery", "get", "/openid/v1/jwks", "Group system:serviceaccounts"],
      ["RoleBinding shop/deployer-broad", "Role broad", "get", "configmaps", "ServiceAccount shop/deployer"],
      ["RoleBinding shop/deployer-broad", "Role broad", "delete", "configmaps", "ServiceAccount shop/deployer"],
    ],
  );
  // YAML output lists them as comments after the objects.
  const y = await runCli(["audit", "rbac", "--db", db, "--serviceaccount", "shop:deployer", "--kubeconfig", kubeconfig]);
  assert.equal(y.code, 0, y.stderr);
  assert.match(y.stdout, /^# granted now but never used in the window: 6$/m);
  assert.match(y.stdout, /^# {3}delete configmaps in namespace shop \(RoleBinding shop\/deployer-broad → Role broad, via ServiceAccount shop\/deployer\)$/m);

  // Once the generated RBAC is all it has, nothing is unused.
  api.store.delete("rolebindings.rbac.authorization.k8s.io", "shop", "deployer-broad");
  api.store.delete("clusterrolebindings.rbac.authorization.k8s.io", undefined, "shop-sas-read-nodes");
  for (const o of rep.rbac.items) api.store.create(o);
  assert.deepEqual((await rbac(["--serviceaccount", "shop:deployer", "--kubeconfig", kubeconfig])).unusedGrants.map((g: Ev) => g.binding), ["ClusterRoleBinding system:service-account-issuer-discovery", "ClusterRoleBinding system:service-account-issuer-discovery"]);
});
