import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import YAML from "yaml";
import { startTestApiServer, type TestApiServer } from "./kube-apiserver/index.js";
import { openRawWatch } from "./kube-apiserver/raw-client.js";
import { call, pod } from "./kube-apiserver/test-helpers.js";

const RBAC = "/apis/rbac.authorization.k8s.io/v1";

describe("test API server: authentication and RBAC", () => {
  let api: TestApiServer;
  before(async () => {
    api = await startTestApiServer({
      authz: "rbac",
      tokens: {
        admin: { user: "admin", groups: ["system:masters"] },
        reader: { user: "alice" },
        sa: { user: "system:serviceaccount:apps:auditor" },
        ops: { user: "bob", groups: ["ops"] },
      },
    });
    const admin = { token: "admin" };
    const post = async (path: string, body: unknown) => {
      const r = await call(api.url, "POST", path, body, admin);
      assert.equal(r.status, 201, JSON.stringify(r.body));
    };
    // alice: get/list/watch pods in "apps" only.
    await post(`${RBAC}/namespaces/apps/roles`, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: "pod-reader" },
      rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] }],
    });
    await post(`${RBAC}/namespaces/apps/rolebindings`, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "alice-reads" },
      subjects: [{ kind: "User", name: "alice", apiGroup: "rbac.authorization.k8s.io" }],
      roleRef: { kind: "Role", name: "pod-reader", apiGroup: "rbac.authorization.k8s.io" },
    });
    // The service account: cluster-wide pods/status patch, and one named lease.
    await post(`${RBAC}/clusterroles`, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: "status-and-lease" },
      rules: [
        { apiGroups: [""], resources: ["pods/status"], verbs: ["patch"] },
        { apiGroups: ["coordination.k8s.io"], resources: ["leases"], resourceNames: ["auditor-leader"], verbs: ["get", "update"] },
        { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
      ],
    });
    await post(`${RBAC}/clusterrolebindings`, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: "auditor" },
      subjects: [{ kind: "ServiceAccount", name: "auditor", namespace: "apps" }],
      roleRef: { kind: "ClusterRole", name: "status-and-lease", apiGroup: "rbac.authorization.k8s.io" },
    });
    // Group "ops": delete deployments in any API group via a wildcard ClusterRole bound in "apps".
    await post(`${RBAC}/clusterroles`, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: "deleter" },
      rules: [{ apiGroups: ["*"], resources: ["deployments"], verbs: ["delete", "deletecollection"] }],
    });
    await post(`${RBAC}/namespaces/apps/rolebindings`, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "ops-delete" },
      subjects: [{ kind: "Group", name: "ops" }],
      roleRef: { kind: "ClusterRole", name: "deleter", apiGroup: "rbac.authorization.k8s.io" },
    });
    await post("/api/v1/namespaces/apps/pods", pod("web"));
    await post("/api/v1/namespaces/other/pods", pod("db"));
  });
  after(() => api.close());

  it("rejects unknown tokens with 401 and treats no token as system:anonymous", async () => {
    const bad = await call(api.url, "GET", "/api/v1/namespaces/apps/pods", undefined, { token: "nope" });
    assert.equal(bad.status, 401);
    assert.equal(bad.body.reason, "Unauthorized");
    const anon = await call(api.url, "GET", "/api/v1/namespaces/apps/pods");
    assert.equal(anon.status, 403);
    assert.equal(anon.body.message, 'pods is forbidden: User "system:anonymous" cannot list resource "pods" in API group "" in the namespace "apps"');
    assert.equal((await call(api.url, "GET", "/healthz")).status, 200, "health is public, as system:public-info-viewer");
    assert.equal((await call(api.url, "GET", "/api/v1")).status, 403, "discovery needs authentication");
    assert.equal((await call(api.url, "GET", "/api/v1", undefined, { token: "reader" })).status, 200);
  });

  it("allows exactly what a namespaced Role grants", async () => {
    const t = { token: "reader" };
    assert.equal((await call(api.url, "GET", "/api/v1/namespaces/apps/pods", undefined, t)).status, 200);
    assert.equal((await call(api.url, "GET", "/api/v1/namespaces/apps/pods/web", undefined, t)).status, 200);
    const w = await openRawWatch(api.url, "/api/v1/namespaces/apps/pods?watch=1&timeoutSeconds=1", t);
    assert.equal(w.status, 200);
    w.close();
    const del = await call(api.url, "DELETE", "/api/v1/namespaces/apps/pods/web", undefined, t);
    assert.equal(del.status, 403);
    assert.equal(del.body.reason, "Forbidden");
    assert.equal(del.body.message, 'pods "web" is forbidden: User "alice" cannot delete resource "pods" in API group "" in the namespace "apps"');
    assert.deepEqual(del.body.details, { name: "web", kind: "pods" });
    const otherNs = await call(api.url, "GET", "/api/v1/namespaces/other/pods", undefined, t);
    assert.equal(otherNs.status, 403);
    const allNs = await call(api.url, "GET", "/api/v1/pods", undefined, t);
    assert.equal(allNs.status, 403);
    assert.equal(allNs.body.message, 'pods is forbidden: User "alice" cannot list resource "pods" in API group "" at the cluster scope');
    assert.equal((await call(api.url, "GET", "/api/v1/namespaces/apps/pods/web/status", undefined, t)).status, 403, "pods does not cover pods/status");
  });

  it("checks subresources and resourceNames for service accounts bound cluster-wide", async () => {
    const t = { token: "sa" };
    const st = await call(api.url, "PATCH", "/api/v1/namespaces/other/pods/db/status", { status: { phase: "Running" } }, { ...t, contentType: "application/merge-patch+json" });
    assert.equal(st.status, 200, JSON.stringify(st.body));
    assert.equal(st.body.status.phase, "Running");
    const main = await call(api.url, "PATCH", "/api/v1/namespaces/other/pods/db", { metadata: { labels: { a: "b" } } }, { ...t, contentType: "application/merge-patch+json" });
    assert.equal(main.status, 403);
    assert.equal(main.body.message, 'pods "db" is forbidden: User "system:serviceaccount:apps:auditor" cannot patch resource "pods" in API group "" in the namespace "other"');

    const leases = "/apis/coordination.k8s.io/v1/namespaces/apps/leases";
    const lease = (name: string) => ({ apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name }, spec: { holderIdentity: "me" } });
    assert.equal((await call(api.url, "POST", leases, lease("auditor-leader"), t)).status, 201);
    assert.equal((await call(api.url, "POST", leases, lease("someone-else"), t)).status, 201, "create is not limited by name");
    assert.equal((await call(api.url, "GET", `${leases}/auditor-leader`, undefined, t)).status, 200);
    const other = await call(api.url, "GET", `${leases}/someone-else`, undefined, t);
    assert.equal(other.status, 403);
    assert.equal(other.body.message, 'leases.coordination.k8s.io "someone-else" is forbidden: User "system:serviceaccount:apps:auditor" cannot get resource "leases" in API group "coordination.k8s.io" in the namespace "apps"');
    assert.equal((await call(api.url, "GET", leases, undefined, t)).status, 403, "resourceNames never grant list");
  });

  it("answers SelfSubjectAccessReview and SubjectAccessReview from the same rules", async () => {
    const review = (attrs: Record<string, string>) => ({ apiVersion: "authorization.k8s.io/v1", kind: "SelfSubjectAccessReview", spec: { resourceAttributes: attrs } });
    const self = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
    const yes = await call(api.url, "POST", self, review({ namespace: "apps", verb: "watch", resource: "pods" }), { token: "reader" });
    assert.equal(yes.status, 201);
    assert.equal(yes.body.status.allowed, true);
    const no = await call(api.url, "POST", self, review({ namespace: "apps", verb: "delete", resource: "pods", name: "web" }), { token: "reader" });
    assert.equal(no.body.status.allowed, false);
    const sar = {
      apiVersion: "authorization.k8s.io/v1",
      kind: "SubjectAccessReview",
      spec: { user: "system:serviceaccount:apps:auditor", resourceAttributes: { namespace: "x", verb: "patch", resource: "pods", subresource: "status" } },
    };
    const asAdmin = await call(api.url, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", sar, { token: "admin" });
    assert.equal(asAdmin.body.status.allowed, true);
    assert.equal((await call(api.url, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", sar, { token: "reader" })).status, 403, "only privileged users may ask about others");
    assert.equal((await call(api.url, "GET", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", undefined, { token: "admin" })).body.items.length, 0, "reviews are never stored");
  });

  it("binds ClusterRoles into a namespace via RoleBinding, with group subjects and wildcard groups", async () => {
    const admin = { token: "admin" };
    const d = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "x" },
      spec: { selector: { matchLabels: { a: "b" } }, template: { metadata: { labels: { a: "b" } }, spec: { containers: [{ name: "c", image: "i" }] } } },
    };
    assert.equal((await call(api.url, "POST", "/apis/apps/v1/namespaces/apps/deployments", d, admin)).status, 201);
    assert.equal((await call(api.url, "POST", "/apis/apps/v1/namespaces/other/deployments", d, admin)).status, 201);
    const t = { token: "ops" };
    assert.equal((await call(api.url, "DELETE", "/apis/apps/v1/namespaces/other/deployments/x", undefined, t)).status, 403);
    assert.equal((await call(api.url, "DELETE", "/apis/apps/v1/namespaces/apps/deployments/x", undefined, t)).status, 200);
    assert.equal((await call(api.url, "DELETE", "/apis/apps/v1/namespaces/apps/deployments", undefined, t)).status, 200, "deletecollection");
    assert.equal((await call(api.url, "GET", "/apis/apps/v1/namespaces/apps/deployments", undefined, t)).status, 403);

    // Removing the binding takes the permission away immediately.
    assert.equal((await call(api.url, "DELETE", `${RBAC}/namespaces/apps/rolebindings/ops-delete`, undefined, admin)).status, 200);
    assert.equal((await call(api.url, "DELETE", "/apis/apps/v1/namespaces/apps/deployments", undefined, t)).status, 403);
    const log = api.requests.filter((r) => r.user === "bob");
    assert.deepEqual(log.map((r) => `${r.verb} ${r.status}`), ["delete 403", "delete 200", "deletecollection 200", "list 403", "deletecollection 403"]);
  });
});

describe("test API server: TLS, kubeconfig, faults", () => {
  let api: TestApiServer;
  let dir: string;
  before(async () => {
    api = await startTestApiServer({ tls: true, tokens: { t1: { user: "u1" } } });
    dir = await mkdtemp(join(tmpdir(), "kube-apiserver-test-"));
  });
  after(async () => {
    await api.close();
    await rm(dir, { recursive: true, force: true });
  });

  const get = (path: string, ca?: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(new URL(path, api.url), { ca, headers: { Authorization: "Bearer t1" } }, (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on("error", reject);
      req.end();
    });

  it("serves HTTPS with a generated CA that clients must trust", async () => {
    assert.match(api.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    await assert.rejects(get("/version"), /self[- ]signed|unable to verify|certificate/i);
    const ok = await get("/version", api.caPem);
    assert.equal(ok.status, 200);
    assert.equal(readFileSync(api.caFile!, "utf8"), api.caPem);
  });

  it("writes a kubeconfig with server, CA data, token and namespace", async () => {
    const path = api.writeKubeconfig(dir, { token: "t1", user: "u1", namespace: "team" });
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    const kc = YAML.parse(readFileSync(path, "utf8"));
    const cluster = kc.clusters[0].cluster;
    assert.equal(cluster.server, api.url);
    assert.equal(Buffer.from(cluster["certificate-authority-data"], "base64").toString(), api.caPem);
    assert.equal(kc.users[0].user.token, "t1");
    assert.equal(kc.contexts[0].context.namespace, "team");
    assert.equal(kc["current-context"], kc.contexts[0].name);
    const r = await get("/api/v1/namespaces/team/pods", Buffer.from(cluster["certificate-authority-data"], "base64").toString());
    assert.equal(r.status, 200);
  });

  it("injects faults: status codes with Retry-After, counted, by verb/path, delays and hangs", async () => {
    const ca = api.caPem!;
    const base = api.url;
    const f = async (path: string, method = "GET") => {
      return new Promise<{ status: number; retryAfter?: string; body: string }>((resolve, reject) => {
        const req = request(new URL(path, base), { method, ca, headers: { Authorization: "Bearer t1" } }, (res) => {
          let body = "";
          res.on("data", (c: Buffer) => (body += c.toString()));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers["retry-after"] as string | undefined, body }));
        });
        req.on("error", reject);
        req.end();
      });
    };
    api.faults.inject({ verb: "list", pathRegex: "/configmaps$", status: 429, retryAfterSeconds: 2, count: 2 });
    const r1 = await f("/api/v1/namespaces/f/configmaps");
    assert.equal(r1.status, 429);
    assert.equal(r1.retryAfter, "2");
    assert.equal(JSON.parse(r1.body).reason, "TooManyRequests");
    assert.equal((await f("/api/v1/namespaces/f/pods")).status, 200, "other paths unaffected");
    assert.equal((await f("/api/v1/namespaces/f/configmaps")).status, 429);
    assert.equal((await f("/api/v1/namespaces/f/configmaps")).status, 200, "count exhausted");

    api.faults.inject({ method: "GET", pathRegex: "/secrets", status: 500, count: 1 });
    const r500 = await f("/api/v1/namespaces/f/secrets");
    assert.equal(r500.status, 500);
    assert.equal(JSON.parse(r500.body).reason, "InternalError");

    api.faults.inject({ verb: "get", delayMs: 300, count: 1 });
    const t0 = Date.now();
    assert.equal((await f("/api/v1/namespaces/f/pods/none")).status, 404, "a pure delay then normal handling");
    assert.ok(Date.now() - t0 >= 250);

    api.faults.inject({ pathRegex: "/hang", hang: true });
    const controller = new AbortController();
    const hung = new Promise<string>((resolve) => {
      const req = request(new URL("/api/v1/namespaces/hang/pods", base), { ca, signal: controller.signal, headers: { Authorization: "Bearer t1" } }, () => resolve("answered"));
      req.on("error", () => resolve("aborted"));
      req.end();
    });
    const raced = await Promise.race([hung, new Promise((r) => setTimeout(() => r("still hanging"), 300))]);
    assert.equal(raced, "still hanging");
    controller.abort();
    assert.equal(await hung, "aborted");
    api.faults.clear();
    assert.equal((await f("/api/v1/namespaces/hang/pods")).status, 200, "clear() restores normal behaviour");
    const logged = api.requests.filter((r) => r.path === "/api/v1/namespaces/f/configmaps").map((r) => r.status);
    assert.deepEqual(logged, [429, 429, 200]);
  });

  it("faults can target watches", async () => {
    api.faults.inject({ verb: "watch", status: 503, count: 1 });
    const w = await openRawWatch(api.url, "/api/v1/pods?watch=1", { token: "t1", ca: api.caPem! });
    assert.equal(w.status, 503);
    const again = await openRawWatch(api.url, "/api/v1/pods?watch=1&timeoutSeconds=1", { token: "t1", ca: api.caPem! });
    assert.equal(again.status, 200);
    again.close();
  });
});
