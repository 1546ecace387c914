// The registries' own validation rules (kube-apiserver/kind-validation.ts), through real HTTP,
// against what the real v1.25 server answered to the same requests (recorded exchanges by id).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startTestApiServer, type TestApiServer } from "./kube-apiserver/index.js";
import { recordedExchange } from "./kube-apiserver/recordings.js";
import { call } from "./kube-apiserver/test-helpers.js";

describe("test API server: the registries' validation as recorded", () => {
  let api: TestApiServer;
  before(async () => {
    api = await startTestApiServer();
  });
  after(() => api?.close());

  for (const id of ["crud/configmap-create-invalid", "pods/create-invalid", "pods/create-no-containers", "deployments/create-invalid", "leases/create-invalid-duration"]) {
    it(`${id}: the same 422, message and causes`, async () => {
      const rec = recordedExchange(id);
      const r = await call(api.url, rec.request.method, rec.request.path, rec.request.body);
      assert.equal(r.status, rec.response.status);
      assert.deepEqual(r.body, rec.response.body);
    });
  }

  it("pods/update-forbidden-field: refuses a change to an immutable pod field, with the real first sentence", async () => {
    const created = recordedExchange("pods/create-minimal");
    const ns = "kv";
    assert.equal((await call(api.url, "POST", `/api/v1/namespaces/${ns}/pods`, created.request.body)).status, 201);
    const rec = recordedExchange("pods/update-forbidden-field");
    const path = rec.request.path.replace("/namespaces/rec/", `/namespaces/${ns}/`);
    const r = await call(api.url, "PATCH", path, rec.request.body, { contentType: rec.request.headers["content-type"] });
    const want = rec.response.body as { message: string; reason: string; details: { kind: string; name: string; causes: { reason: string; field: string; message: string }[] } };
    assert.equal(r.status, 422);
    assert.equal(r.body.reason, want.reason);
    assert.deepEqual({ kind: r.body.details.kind, name: r.body.details.name }, { kind: want.details.kind, name: want.details.name });
    const cause = r.body.details.causes[0];
    assert.deepEqual({ reason: cause.reason, field: cause.field }, { reason: want.details.causes[0]!.reason, field: want.details.causes[0]!.field });
    // Everything up to the Go diff the real message appends.
    const firstSentence = (m: string) => m.slice(0, m.indexOf("\n"));
    assert.equal(firstSentence(r.body.message), firstSentence(want.message));
    assert.match(cause.message, /spec\.restartPolicy/, "names the changed field");
    // Changing what may change (an image) passes.
    const ok = await call(api.url, "PATCH", path, { spec: { containers: [{ name: "app", image: "registry.k8s.io/pause:3.9" }] } }, { contentType: "application/strategic-merge-patch+json" });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.spec.containers[0].image, "registry.k8s.io/pause:3.9");
  });

  it("valid objects of the same kinds pass (no false positives)", async () => {
    const ok = [
      { path: "/api/v1/namespaces/kv/configmaps", body: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "ok" }, data: { "a.b_c-D": "1" } } },
      { path: "/apis/coordination.k8s.io/v1/namespaces/kv/leases", body: { apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name: "ok" }, spec: { leaseDurationSeconds: 15, leaseTransitions: 0 } } },
      {
        path: "/apis/apps/v1/namespaces/kv/deployments",
        body: {
          apiVersion: "apps/v1",
          kind: "Deployment",
          metadata: { name: "ok" },
          spec: { selector: { matchExpressions: [{ key: "app", operator: "In", values: ["web", "api"] }] }, template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "web", image: "x:1" }] } } },
        },
      },
    ];
    for (const o of ok) assert.equal((await call(api.url, "POST", o.path, o.body)).status, 201, o.path);
  });
});
