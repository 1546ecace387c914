import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { startTestApiServer, type TestApiServer } from "./kube-apiserver/index.js";
import { call, deployment } from "./kube-apiserver/test-helpers.js";

// Arbitrary paths, query strings and bodies must get a proper answer (a Status for errors), never
// an internal error or a dead server: other tests rely on this server behaving under bad input.
describe("test API server: robustness under arbitrary input", () => {
  let api: TestApiServer;
  before(async () => {
    api = await startTestApiServer();
  });
  after(() => api.close());

  const segment = fc.oneof(
    fc.constantFrom("api", "apis", "v1", "apps", "namespaces", "default", "pods", "deployments", "status", "watch", "configmaps", "x", "..", "%2F", "%zz"),
    fc.string({ maxLength: 8 }).map(encodeURIComponent),
  );
  const query = fc.oneof(
    fc.constant(""),
    fc.tuple(
      fc.constantFrom("labelSelector", "fieldSelector", "limit", "continue", "resourceVersion", "resourceVersionMatch", "dryRun", "fieldValidation", "timeoutSeconds", "propagationPolicy"),
      fc.string({ maxLength: 12 }),
    ).map(([k, v]) => `?${k}=${encodeURIComponent(v)}`),
  );
  const body = fc.oneof(
    fc.constant(undefined),
    fc.string({ maxLength: 40 }),
    fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
    fc.record({ apiVersion: fc.constantFrom("v1", "apps/v1"), kind: fc.constantFrom("Pod", "ConfigMap", "Deployment"), metadata: fc.record({ name: fc.string({ maxLength: 10 }) }), data: fc.jsonValue({ maxDepth: 2 }) }).map((v) => JSON.stringify(v)),
  );
  const contentType = fc.constantFrom("application/json", "application/merge-patch+json", "application/strategic-merge-patch+json", "application/json-patch+json", "application/apply-patch+yaml", "application/yaml", "text/plain");

  it("answers every request with a Status or a valid object, never a 500", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE"),
        fc.array(segment, { minLength: 1, maxLength: 7 }),
        query,
        body,
        contentType,
        async (method, segs, q, b, ct) => {
          // Keep watches out: they stream until closed.
          const path = `/${segs.join("/")}${q.replace(/watch/g, "w")}`;
          if (method === "GET" && /watch/.test(path)) return;
          const withBody = b !== undefined && method !== "GET";
          const r = await call(api.url, method, path, undefined, withBody ? { raw: b, contentType: ct } : {});
          assert.notEqual(r.status, 500, `${method} ${path} ${b ?? ""} -> ${JSON.stringify(r.body)}`);
          // A path no handler serves gets the mux's text/plain 404, as from the real server.
          if (r.status === 404 && r.body === "404 page not found\n") return;
          if (r.status >= 400) {
            assert.equal(r.body.kind, "Status", `${method} ${path}`);
            assert.equal(r.body.code, r.status);
          }
        },
      ),
      { numRuns: 100 },
    );
    assert.equal((await call(api.url, "GET", "/healthz")).body, "ok");
  });

  it("survives arbitrary patches of every type on a real object", async () => {
    const path = "/apis/apps/v1/namespaces/default/deployments/fz";
    assert.equal((await call(api.url, "POST", "/apis/apps/v1/namespaces/default/deployments", deployment("fz"))).status, 201);
    const pointer = fc.array(fc.constantFrom("spec", "metadata", "labels", "replicas", "template", "0", "-", "containers", "x~1y", ""), { maxLength: 5 }).map((p) => `/${p.join("/")}`);
    const op = fc.record({ op: fc.constantFrom("add", "remove", "replace", "move", "copy", "test", "bogus"), path: pointer, from: pointer, value: fc.jsonValue({ maxDepth: 2 }) });
    const patchBody = fc.oneof(
      fc.array(op, { maxLength: 4 }).map((ops) => ({ ct: "application/json-patch+json", body: JSON.stringify(ops) })),
      fc.record({ ct: fc.constantFrom("application/merge-patch+json", "application/strategic-merge-patch+json"), body: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)) }),
      fc.record({
        ct: fc.constant("application/strategic-merge-patch+json"),
        body: fc.record({ spec: fc.record({ template: fc.record({ spec: fc.record({ containers: fc.array(fc.record({ name: fc.constantFrom("app", "b"), $patch: fc.constantFrom("delete", "replace", "merge"), image: fc.string() }), { maxLength: 3 }) }) }) }) }).map((v) => JSON.stringify(v)),
      }),
    );
    await fc.assert(
      fc.asyncProperty(patchBody, async ({ ct, body }) => {
        const r = await call(api.url, "PATCH", path, undefined, { raw: body, contentType: ct });
        assert.notEqual(r.status, 500, `${ct} ${body} -> ${JSON.stringify(r.body)}`);
        if (r.status >= 400) assert.equal(r.body.kind, "Status");
        else assert.equal(r.body.metadata.name, "fz");
      }),
      { numRuns: 100 },
    );
    const after = await call(api.url, "GET", path);
    assert.equal(after.status, 200, "the object is still readable");
  });
});
