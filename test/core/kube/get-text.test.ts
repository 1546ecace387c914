// KubeClient.getText: text nonResourceURLs answered with any status, against the test API server.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeApiError, KubeClient } from "../../../src/core/kube/index.js";
import { startTestApiServer } from "../../support/kube-apiserver/index.js";

test("getText: 200 and 500 bodies as text, 403 as a status (not a throw), size bound and network errors throw", async () => {
  const api = await startTestApiServer({ authz: "rbac", validation: "off", tokens: { admin: { user: "admin", groups: ["system:masters"] } } });
  const dir = await mkdtemp(join(tmpdir(), "gettext-"));
  const admin = await KubeClient.load({ kubeconfig: api.writeKubeconfig(dir, { token: "admin" }) });
  const anonymous = await KubeClient.load({ kubeconfig: api.writeKubeconfig(dir, {}) });
  try {
    const ok = await admin.getText("/livez", { query: { verbose: "true" } });
    assert.equal(ok.status, 200);
    assert.match(ok.contentType, /^text\/plain/);
    assert.match(ok.body, /^\[\+\]ping ok\n/);
    assert.match(ok.body, /livez check passed\n$/);

    api.health.setCheck("etcd", false);
    const failed = await admin.getText("/readyz/etcd");
    assert.equal(failed.status, 500);
    assert.equal(failed.body, "internal server error: error getting data from etcd: context deadline exceeded\n");
    api.health.resetCheck();

    const forbidden = await anonymous.getText("/metrics");
    assert.equal(forbidden.status, 403);
    assert.match(forbidden.body, /cannot get path \\?"\/metrics\\?"/);

    const metrics = await admin.getText("/metrics");
    assert.equal(metrics.status, 200);
    assert.match(metrics.contentType, /^text\/plain; version=0\.0\.4/);
    await assert.rejects(admin.getText("/metrics", { maxBytes: 1024 }), (e: unknown) => e instanceof KubeApiError && e.code === "EBODYTOOLARGE");
  } finally {
    admin.close();
    anonymous.close();
    await api.close();
  }
  // The server is gone: a network error, thrown.
  const gone = await KubeClient.load({ kubeconfig: api.writeKubeconfig(dir, {}) });
  await assert.rejects(gone.getText("/livez"), (e: unknown) => e instanceof KubeApiError && e.code === "ECONNREFUSED");
  gone.close();
  await rm(dir, { recursive: true, force: true });
});
