// The exporter's /status (sink names, cursors, backlogs) is served only behind the bearer-token
// gate (issue 11 item 5), through the real CLI process: off without --auth, token file, and
// TokenReview + SubjectAccessReview against the test API server with RBAC on.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli, stopCli } from "../support/cli.js";
import { startTestApiServer } from "../support/kube-apiserver/index.js";
import { call } from "../support/kube-apiserver/test-helpers.js";
import { startExporter } from "./support/exporter-process.js";

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "wa-exp-auth-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function get(port: number, path: string, token?: string): Promise<{ status: number; body: string; wwwAuth: string | null }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.text(), wwwAuth: res.headers.get("www-authenticate") };
}

const exporterArgs = (name: string): string[] => ["--listen", `unix://${join(dir, `${name}.sock`)}`, "--data-dir", join(dir, `${name}-data`), "--sink", `file://${join(dir, `${name}-out`)}`];

test("exporter without --auth: /status is not served (says how to enable it); /metrics, /healthz, /readyz stay open", async () => {
  const child = await startExporter(exporterArgs("off"));
  try {
    const status = await get(child.opsPort, "/status");
    assert.equal(status.status, 404);
    assert.match(status.body, /--auth/);
    assert.doesNotMatch(status.body, /headSeq|file:\/\//, "no data");
    for (const p of ["/metrics", "/healthz", "/readyz"]) assert.equal((await get(child.opsPort, p)).status, 200, p);
  } finally {
    await stopCli(child);
  }
  const stray = await runCli(["exporter", ...exporterArgs("stray"), "--port", "0", "--auth-protect-metrics"]);
  assert.equal(stray.code, 2, stray.stderr);
  assert.match(stray.stderr, /--auth-protect-metrics only apply with --auth/);
});

test("exporter --auth-token-file: /status needs a listed token (401 otherwise, no data); --auth-protect-metrics closes /metrics", async () => {
  const file = join(dir, "tokens.csv");
  writeFileSync(file, "s3cr3t-ops,ops,uid-1\n", { mode: 0o600 });
  const child = await startExporter([...exporterArgs("tf"), "--auth-token-file", file, "--auth-protect-metrics"]);
  try {
    for (const token of [undefined, "wrong", "ops"]) {
      const r = await get(child.opsPort, "/status", token);
      assert.equal(r.status, 401, `token ${token}`);
      assert.match(r.wwwAuth ?? "", /^Bearer/);
      assert.doesNotMatch(r.body, /headSeq|tf-out/, "a refused caller learns nothing");
    }
    const ok = await get(child.opsPort, "/status", "s3cr3t-ops");
    assert.equal(ok.status, 200);
    const body = JSON.parse(ok.body) as { headSeq: string; sinks: { sink: string }[] };
    assert.match(body.headSeq, /^\d+$/);
    assert.deepEqual(body.sinks.map((s) => s.sink), [`file://${join(dir, "tf-out")}`]);
    assert.equal((await get(child.opsPort, "/metrics")).status, 401);
    assert.equal((await get(child.opsPort, "/metrics", "s3cr3t-ops")).status, 200);
    assert.equal((await get(child.opsPort, "/healthz")).status, 200);
    assert.doesNotMatch(child.output.stderr, /s3cr3t/, "tokens never reach the log");
  } finally {
    await stopCli(child);
  }
});

test("exporter --auth=kubernetes: TokenReview + SubjectAccessReview (get services/proxy watch-auditor-exporter) decide; 403 without the grant", async () => {
  const admin = { token: "admin" };
  const api = await startTestApiServer({ authz: "rbac", tokens: { admin: { user: "admin", groups: ["system:masters"] }, reader: { user: "reader" }, stranger: { user: "stranger" } } });
  try {
    const RBAC = "/apis/rbac.authorization.k8s.io/v1";
    const role = { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name: "exporter-status", namespace: "default" }, rules: [{ apiGroups: [""], resources: ["services/proxy"], resourceNames: ["watch-auditor-exporter"], verbs: ["get"] }] };
    const binding = { apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", metadata: { name: "exporter-status", namespace: "default" }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "exporter-status" }, subjects: [{ kind: "User", name: "reader", apiGroup: "rbac.authorization.k8s.io" }] };
    assert.equal((await call(api.url, "POST", `${RBAC}/namespaces/default/roles`, role, admin)).status, 201);
    assert.equal((await call(api.url, "POST", `${RBAC}/namespaces/default/rolebindings`, binding, admin)).status, 201);
    const kubeconfig = api.writeKubeconfig(dir, { token: "admin", namespace: "default" });
    const child = await startExporter([...exporterArgs("kube"), "--auth", "kubernetes", "--kubeconfig", kubeconfig]);
    try {
      assert.equal((await get(child.opsPort, "/status")).status, 401);
      assert.equal((await get(child.opsPort, "/status", "not-a-token")).status, 401);
      const denied = await get(child.opsPort, "/status", "stranger");
      assert.equal(denied.status, 403);
      assert.doesNotMatch(denied.body, /headSeq/);
      const ok = await get(child.opsPort, "/status", "reader");
      assert.equal(ok.status, 200, ok.body);
      assert.match((JSON.parse(ok.body) as { headSeq: string }).headSeq, /^\d+$/);
      assert.equal((await get(child.opsPort, "/metrics")).status, 200, "/metrics stays open by default");
    } finally {
      await stopCli(child);
    }
  } finally {
    await api.close();
  }
});
