// CustomResourceDefinitions on the test API server, through real HTTP. Expected answers follow the
// real apiextensions-apiserver (sources cited where no recording exists; the recordings have no CRD):
// - CR validation errors: kubeOpenAPIResultToFieldErrors (apiextensions-apiserver/pkg/apiserver/
//   validation) maps kube-openapi's errors to field errors, e.g. "spec.master.resources.limits.cpu:
//   Invalid value: "number": spec.master.resources.limits.cpu in body must be of type
//   integer,string: "number"" (yugabyte/yugabyte-db#6349), "spec.resources.limits.cpu: Invalid value:
//   "integer": spec.resources.limits.cpu in body must be of type string: "integer""
//   (d2iq-archive/kubernetes-base-addons#336); Required/NotSupported/TooLong/TooMany are field.Error's
//   texts of v1.25 ("Too long: may not be longer than N", "Too many: N: must have at most M items");
// - unknown fields of CRs: `Task in version "v1" cannot be handled as a Task: strict decoding error:
//   unknown field "spec.steps[0].resources"` (a Tekton user report), pruning as structural pruning;
// - CRD status: NamesAccepted "NoConflicts"/"no conflicts found", Established
//   "InitialNamesAccepted"/"the initial names have been accepted" (the naming and establishing
//   controllers); discovery lists CR verbs as delete, deletecollection, get, list, patch, create,
//   update, watch and the scale subresource as autoscaling/v1 Scale (recorded for deployments/scale).
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { installCrds, SHARED_KUBE_DIR, startTestApiServer, type TestApiServer } from "./kube-apiserver/index.js";
import { call, type Reply } from "./kube-apiserver/test-helpers.js";

const CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
const WIDGETS = "/apis/example.com/v1/namespaces/default/widgets";

const WIDGET_CRD = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "widgets.example.com" },
  spec: {
    group: "example.com",
    names: { plural: "widgets", kind: "Widget", shortNames: ["wd"], categories: ["all-widgets"] },
    scope: "Namespaced",
    versions: [
      {
        name: "v1",
        served: true,
        storage: true,
        subresources: { status: {}, scale: { specReplicasPath: ".spec.replicas", statusReplicasPath: ".status.replicas", labelSelectorPath: ".status.selector" } },
        additionalPrinterColumns: [{ name: "Replicas", type: "integer", jsonPath: ".spec.replicas" }],
        schema: {
          openAPIV3Schema: {
            type: "object",
            properties: {
              spec: {
                type: "object",
                required: ["size"],
                properties: {
                  size: { type: "string", enum: ["small", "large"] },
                  replicas: { type: "integer", minimum: 0, maximum: 10, default: 1 },
                  name: { type: "string", pattern: "^[a-z]+$", minLength: 1, maxLength: 5 },
                  tags: { type: "array", items: { type: "string" }, minItems: 1, maxItems: 2 },
                  port: { "x-kubernetes-int-or-string": true, anyOf: [{ type: "integer" }, { type: "string" }] },
                  when: { type: "string", format: "date-time" },
                  labels: { type: "object", additionalProperties: { type: "string" } },
                  free: { type: "object", "x-kubernetes-preserve-unknown-fields": true, properties: { known: { type: "object", properties: { a: { type: "string" } } } } },
                  template: { type: "object", "x-kubernetes-embedded-resource": true, properties: { spec: { type: "object", properties: { x: { type: "string" } } } } },
                  note: { type: "string", nullable: true },
                  mode: { type: "string", default: "auto" },
                  nested: { type: "object", properties: { level: { type: "integer", default: 3 } } },
                },
              },
              status: { type: "object", properties: { replicas: { type: "integer" }, selector: { type: "string" }, phase: { type: "string" } } },
            },
          },
        },
      },
    ],
  },
};

function widget(name: string, spec: Record<string, unknown> = {}): Record<string, unknown> {
  return { apiVersion: "example.com/v1", kind: "Widget", metadata: { name }, spec: { size: "small", ...spec } };
}

function warnings(r: Reply): string[] {
  const h = r.headers.get("warning");
  return h === null ? [] : h.split(/, (?=299 )/);
}

describe("test API server: CustomResourceDefinitions", () => {
  let api: TestApiServer;
  before(async () => {
    assert.ok(existsSync(join(SHARED_KUBE_DIR, "crds")), `the CRDs are missing: ${join(SHARED_KUBE_DIR, "crds")} (shared/kube beside the repository) must exist`);
    api = await startTestApiServer();
    const r = await call(api.url, "POST", CRDS, WIDGET_CRD);
    assert.equal(r.status, 201, JSON.stringify(r.body));
  });
  after(() => api.close());

  it("creating a CRD establishes it and serves the resource in discovery", async () => {
    const crd = (await call(api.url, "GET", `${CRDS}/widgets.example.com`)).body;
    assert.deepEqual(
      crd.status.conditions.map((c: Record<string, string>) => [c.type, c.status, c.reason, c.message]),
      [
        ["NamesAccepted", "True", "NoConflicts", "no conflicts found"],
        ["Established", "True", "InitialNamesAccepted", "the initial names have been accepted"],
      ],
    );
    assert.deepEqual(crd.status.acceptedNames, { plural: "widgets", singular: "widget", shortNames: ["wd"], kind: "Widget", listKind: "WidgetList", categories: ["all-widgets"] });
    assert.deepEqual(crd.status.storedVersions, ["v1"]);
    assert.deepEqual(crd.spec.conversion, { strategy: "None" }, "defaulted");
    const groups = (await call(api.url, "GET", "/apis")).body.groups.map((g: { name: string }) => g.name);
    assert.ok(groups.includes("example.com"));
    assert.equal((await call(api.url, "GET", "/apis/example.com")).body.preferredVersion.groupVersion, "example.com/v1");
    const list = (await call(api.url, "GET", "/apis/example.com/v1")).body;
    for (const r of list.resources) delete r.storageVersionHash; // the server's own hash, as real discovery carries
    assert.deepEqual(list.resources, [
      { name: "widgets", singularName: "widget", namespaced: true, kind: "Widget", verbs: ["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"], shortNames: ["wd"], categories: ["all-widgets"] },
      { name: "widgets/scale", singularName: "", namespaced: true, group: "autoscaling", version: "v1", kind: "Scale", verbs: ["get", "patch", "update"] },
      { name: "widgets/status", singularName: "", namespaced: true, kind: "Widget", verbs: ["get", "patch", "update"] },
    ]);
    // An invalid CRD is refused.
    const bad = await call(api.url, "POST", CRDS, { ...WIDGET_CRD, metadata: { name: "gadgets.example.com" }, spec: { ...WIDGET_CRD.spec, scope: "Galaxy" } });
    assert.equal(bad.status, 422);
    assert.match(bad.body.message, /^CustomResourceDefinition\.apiextensions\.k8s\.io "gadgets\.example\.com" is invalid: \[metadata\.name: Invalid value: "gadgets\.example\.com": must be spec\.names\.plural\+"\."\+spec\.group, spec\.scope: Unsupported value: "Galaxy": supported values: "Cluster", "Namespaced"\]$/);
  });

  it("validates against the version's openAPIV3Schema with the apiextensions-apiserver's messages", async () => {
    const cases: [Record<string, unknown>, string[]][] = [
      // The scale subresource's own check of specReplicasPath follows (ValidateScaleSpec, NestedInt64's error).
      [{ replicas: "three" }, ['spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"', ".spec.replicas: Invalid value: 0: .spec.replicas accessor error: three is of the type string, expected int64"]],
      [{ size: "medium" }, ['spec.size: Unsupported value: "medium": supported values: "small", "large"']],
      [{ replicas: 11 }, ["spec.replicas: Invalid value: 11: spec.replicas in body must be less than or equal to 10"]],
      [{ replicas: -1 }, ["spec.replicas: Invalid value: -1: spec.replicas in body must be greater than or equal to 0", ".spec.replicas: Invalid value: -1: should be a non-negative integer"]],
      [{ name: "Abc" }, ["spec.name: Invalid value: \"Abc\": spec.name in body should match '^[a-z]+$'"]],
      [{ name: "" }, ['spec.name: Invalid value: "": spec.name in body should be at least 1 chars long', "spec.name: Invalid value: \"\": spec.name in body should match '^[a-z]+$'"]],
      [{ name: "abcdef" }, ["spec.name: Too long: may not be longer than 5"]],
      [{ tags: [] }, ["spec.tags: Invalid value: 0: spec.tags in body should have at least 1 items"]],
      [{ tags: ["a", "b", "c"] }, ["spec.tags: Too many: 3: must have at most 2 items"]],
      [{ tags: [1] }, ['spec.tags[0]: Invalid value: "integer": spec.tags[0] in body must be of type string: "integer"']],
      [{ port: 1.5 }, ['spec.port: Invalid value: "number": spec.port in body must be of type integer,string: "number"']],
      [{ when: "yesterday" }, ['spec.when: Invalid value: "yesterday": spec.when in body must be of type date-time: "yesterday"']],
      [{ labels: { a: 1 } }, ['spec.labels.a: Invalid value: "integer": spec.labels.a in body must be of type string: "integer"']],
      [{ size: undefined }, ["spec.size: Required value"]],
    ];
    for (const [spec, messages] of cases) {
      const r = await call(api.url, "POST", WIDGETS, widget("bad", spec));
      assert.equal(r.status, 422, JSON.stringify(spec));
      assert.equal(r.body.details.kind, "Widget");
      assert.equal(r.body.details.group, "example.com");
      const summary = messages.length === 1 ? messages[0] : `[${messages.join(", ")}]`;
      assert.equal(r.body.message, `Widget.example.com "bad" is invalid: ${summary}`, JSON.stringify(spec));
    }
    const reasons = (await call(api.url, "POST", WIDGETS, widget("bad", { replicas: "x", size: "no" }))).body.details.causes.map((c: { reason: string }) => c.reason);
    assert.deepEqual(reasons, ["FieldValueNotSupported", "FieldValueTypeInvalid", "FieldValueInvalid"]);
    // Accepted: int-or-string both ways, nullable null, preserve-unknown-fields, embedded resource.
    const ok = await call(api.url, "POST", WIDGETS, widget("ok", { port: "http", note: null, free: { anything: { goes: 1 }, known: { a: "x", b: "pruned" } }, template: { apiVersion: "v1", kind: "Pod", metadata: { name: "p" }, spec: { x: "y", z: 1 } }, when: "2026-12-07T11:43:46Z" }));
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    assert.equal(ok.body.spec.note, null);
    assert.deepEqual(ok.body.spec.free, { anything: { goes: 1 }, known: { a: "x" } }, "preserved, but known subtrees still pruned");
    assert.deepEqual(ok.body.spec.template, { apiVersion: "v1", kind: "Pod", metadata: { name: "p" }, spec: { x: "y" } });
    assert.equal((await call(api.url, "POST", WIDGETS, widget("port-int", { port: 8080 }))).status, 201);
    // Names follow the DNS-1123 subdomain rule, as for any object.
    assert.match((await call(api.url, "POST", WIDGETS, widget("Bad_Name"))).body.message, /^Widget\.example\.com "Bad_Name" is invalid: metadata\.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain/);
  });

  it("prunes unknown fields: Strict -> 400 naming them, Warn (default) -> warnings, never stored", async () => {
    const body = { ...widget("prune", { bogus: 1, tags: ["a"] }), extra: true, metadata: { name: "prune", bogusMeta: 1 } };
    const strict = await call(api.url, "POST", `${WIDGETS}?fieldValidation=Strict`, body);
    assert.equal(strict.status, 400);
    assert.equal(strict.body.message, 'Widget in version "v1" cannot be handled as a Widget: strict decoding error: unknown field "metadata.bogusMeta", unknown field "extra", unknown field "spec.bogus"');
    const warn = await call(api.url, "POST", WIDGETS, body);
    assert.equal(warn.status, 201);
    assert.deepEqual(warnings(warn), ['299 - "unknown field \\"metadata.bogusMeta\\""', '299 - "unknown field \\"extra\\""', '299 - "unknown field \\"spec.bogus\\""']);
    const got = (await call(api.url, "GET", `${WIDGETS}/prune`)).body;
    assert.equal(got.extra, undefined);
    assert.equal(got.spec.bogus, undefined);
    assert.equal(got.metadata.bogusMeta, undefined);
    const ignore = await call(api.url, "POST", `${WIDGETS}?fieldValidation=Ignore`, { ...body, metadata: { name: "prune2" } });
    assert.equal(ignore.status, 201);
    assert.deepEqual(warnings(ignore), []);
  });

  it("applies schema defaults on create, update and read", async () => {
    const c = await call(api.url, "POST", WIDGETS, widget("dflt", { nested: {} }));
    assert.equal(c.body.spec.replicas, 1);
    assert.equal(c.body.spec.mode, "auto");
    assert.deepEqual(c.body.spec.nested, { level: 3 }, "defaults only inside objects that exist");
    const u = await call(api.url, "PUT", `${WIDGETS}/dflt`, { ...c.body, spec: { size: "large" } });
    assert.equal(u.status, 200);
    assert.deepEqual(u.body.spec, { size: "large", replicas: 1, mode: "auto" });
    // A store actor writes without defaults; reads through the API default it.
    api.store.create({ apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "raw", namespace: "default" }, spec: { size: "small" } });
    assert.equal((await call(api.url, "GET", `${WIDGETS}/raw`)).body.spec.replicas, 1);
    const items = (await call(api.url, "GET", WIDGETS)).body.items as { metadata: { name: string }; spec: { replicas: number } }[];
    assert.equal(items.find((i) => i.metadata.name === "raw")!.spec.replicas, 1);
    assert.equal(api.store.get<{ spec: { replicas?: number } }>("widgets.example.com", "default", "raw")!.spec.replicas, undefined, "storage is untouched");
  });

  it("status subresource: main writes ignore status, /status writes only status; generation bumps on spec changes only", async () => {
    const c = await call(api.url, "POST", WIDGETS, { ...widget("st"), status: { phase: "Ready" } });
    assert.equal(c.body.status, undefined, "status is dropped on create");
    assert.equal(c.body.metadata.generation, 1);
    const s = await call(api.url, "PUT", `${WIDGETS}/st/status`, { ...c.body, spec: { size: "large" }, metadata: { ...c.body.metadata, labels: { x: "y" } }, status: { phase: "Ready", replicas: 2, selector: "app=st" } });
    assert.equal(s.status, 200);
    assert.deepEqual(s.body.status, { phase: "Ready", replicas: 2, selector: "app=st" });
    assert.equal(s.body.spec.size, "small", "a /status write ignores spec");
    assert.equal(s.body.metadata.labels, undefined, "and metadata");
    assert.equal(s.body.metadata.generation, 1, "no generation bump for status");
    const m = await call(api.url, "PATCH", `${WIDGETS}/st`, { spec: { size: "large" }, status: { phase: "Lost" } }, { contentType: "application/merge-patch+json" });
    assert.equal(m.body.status.phase, "Ready", "a main write ignores status");
    assert.equal(m.body.metadata.generation, 2);
    const bad = await call(api.url, "PATCH", `${WIDGETS}/st/status`, { status: { replicas: "two" } }, { contentType: "application/merge-patch+json" });
    assert.equal(bad.status, 422);
    assert.equal(bad.body.message, 'Widget.example.com "st" is invalid: status.replicas: Invalid value: "string": status.replicas in body must be of type integer: "string"');
  });

  it("scale subresource: autoscaling/v1 Scale from the CRD's paths, GET/PUT/PATCH", async () => {
    await call(api.url, "POST", WIDGETS, widget("sc", { replicas: 2 }));
    await call(api.url, "PATCH", `${WIDGETS}/sc/status`, { status: { replicas: 2, selector: "app=sc" } }, { contentType: "application/merge-patch+json" });
    const g = await call(api.url, "GET", `${WIDGETS}/sc/scale`);
    assert.equal(g.status, 200);
    assert.deepEqual({ ...g.body, metadata: { ...g.body.metadata, uid: "u", resourceVersion: "r", creationTimestamp: "t" } }, {
      kind: "Scale",
      apiVersion: "autoscaling/v1",
      metadata: { name: "sc", namespace: "default", uid: "u", resourceVersion: "r", creationTimestamp: "t" },
      spec: { replicas: 2 },
      status: { replicas: 2, selector: "app=sc" },
    });
    const put = await call(api.url, "PUT", `${WIDGETS}/sc/scale`, { apiVersion: "autoscaling/v1", kind: "Scale", metadata: { name: "sc", namespace: "default", resourceVersion: g.body.metadata.resourceVersion }, spec: { replicas: 5 } });
    assert.equal(put.status, 200);
    assert.equal(put.body.spec.replicas, 5);
    const obj = (await call(api.url, "GET", `${WIDGETS}/sc`)).body;
    assert.equal(obj.spec.replicas, 5);
    assert.equal(obj.metadata.generation, 2);
    const stale = await call(api.url, "PUT", `${WIDGETS}/sc/scale`, { ...put.body, metadata: { ...put.body.metadata, resourceVersion: g.body.metadata.resourceVersion } });
    assert.equal(stale.status, 409);
    const patch = await call(api.url, "PATCH", `${WIDGETS}/sc/scale`, { spec: { replicas: 3 } }, { contentType: "application/merge-patch+json" });
    assert.equal(patch.status, 200);
    assert.equal(patch.body.spec.replicas, 3);
    const neg = await call(api.url, "PATCH", `${WIDGETS}/sc/scale`, { spec: { replicas: -1 } }, { contentType: "application/merge-patch+json" });
    assert.equal(neg.status, 422);
    assert.equal(neg.body.message, 'Scale.autoscaling "sc" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0');
    assert.equal((await call(api.url, "GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com/scale")).status, 404, "kinds without the subresource have none");
  });

  it("watches custom resources with the same machinery", async () => {
    const ctrl = new AbortController();
    const res = await fetch(`${api.url}${WIDGETS}?watch=true&resourceVersion=${(await call(api.url, "GET", WIDGETS)).body.metadata.resourceVersion}`, { signal: ctrl.signal });
    const reader = res.body!.getReader();
    await call(api.url, "POST", WIDGETS, widget("watched"));
    let text = "";
    while (!text.includes("\n")) {
      const { value } = await reader.read();
      text += Buffer.from(value!).toString();
    }
    ctrl.abort();
    const ev = JSON.parse(text.split("\n")[0]!);
    assert.equal(ev.type, "ADDED");
    assert.equal(ev.object.kind, "Widget");
    assert.equal(ev.object.spec.replicas, 1);
  });

  it("deleting the CRD deletes its objects and stops serving the resource", async () => {
    const crd = { ...WIDGET_CRD, metadata: { name: "gizmos.example.org" }, spec: { ...WIDGET_CRD.spec, group: "example.org", scope: "Cluster", names: { plural: "gizmos", kind: "Gizmo" } } };
    assert.equal((await call(api.url, "POST", CRDS, crd)).status, 201);
    const gizmos = "/apis/example.org/v1/gizmos";
    const c = await call(api.url, "POST", gizmos, { apiVersion: "example.org/v1", kind: "Gizmo", metadata: { name: "g" }, spec: { size: "small" } });
    assert.equal(c.status, 201);
    assert.equal(c.body.metadata.namespace, undefined, "cluster-scoped");
    assert.equal((await call(api.url, "DELETE", `${CRDS}/gizmos.example.org`)).status, 200);
    assert.equal((await call(api.url, "GET", gizmos)).status, 404);
    assert.ok(!(await call(api.url, "GET", "/apis")).body.groups.some((g: { name: string }) => g.name === "example.org"));
    // Recreated, it starts empty.
    assert.equal((await call(api.url, "POST", CRDS, crd)).status, 201);
    assert.deepEqual((await call(api.url, "GET", gizmos)).body.items, []);
  });

  it("unknown groups are 404 unless learnUnknownResources", async () => {
    const thing = { apiVersion: "other.io/v1", kind: "Thing", metadata: { name: "t" }, spec: { x: 1 } };
    assert.equal((await call(api.url, "POST", "/apis/other.io/v1/namespaces/default/things", thing)).status, 404);
    const learning = await startTestApiServer({ learnUnknownResources: true });
    try {
      const r = await call(learning.url, "POST", "/apis/other.io/v1/namespaces/default/things", thing);
      assert.equal(r.status, 201);
      assert.deepEqual(r.body.spec, { x: 1 }, "accepted as-is");
    } finally {
      await learning.close();
    }
  });

  it("installCrds installs ../shared/kube/crds: ServiceMonitor, PodMonitor, PrometheusRule served and validated", async () => {
    const server = await startTestApiServer();
    try {
      assert.deepEqual(installCrds(server, join(SHARED_KUBE_DIR, "crds")), ["podmonitors.monitoring.coreos.com", "prometheusrules.monitoring.coreos.com", "servicemonitors.monitoring.coreos.com"]);
      const res = (await call(server.url, "GET", "/apis/monitoring.coreos.com/v1")).body.resources.map((r: { name: string }) => r.name);
      assert.deepEqual(res.sort(), ["podmonitors", "podmonitors/status", "prometheusrules", "prometheusrules/status", "servicemonitors", "servicemonitors/status"]);
      const sm = { apiVersion: "monitoring.coreos.com/v1", kind: "ServiceMonitor", metadata: { name: "sm" }, spec: { selector: { matchLabels: { app: "x" } }, endpoints: [{ port: "metrics", intervall: "30s" }] } };
      const r = await call(server.url, "POST", "/apis/monitoring.coreos.com/v1/namespaces/default/servicemonitors?fieldValidation=Strict&dryRun=All", sm);
      assert.equal(r.status, 400);
      assert.equal(r.body.message, 'ServiceMonitor in version "v1" cannot be handled as a ServiceMonitor: strict decoding error: unknown field "spec.endpoints[0].intervall"');
      const rule = { apiVersion: "monitoring.coreos.com/v1", kind: "PrometheusRule", metadata: { name: "r" }, spec: { groups: [{ name: "g", rules: [{ alert: "A", expr: "up == 0", for: "5m" }] }] } };
      assert.equal((await call(server.url, "POST", "/apis/monitoring.coreos.com/v1/namespaces/default/prometheusrules?fieldValidation=Strict", rule)).status, 201);
      assert.throws(() => installCrds(server, join(SHARED_KUBE_DIR, "crds")), (e: { code?: number }) => e.code === 409, "installing twice: AlreadyExists");
    } finally {
      await server.close();
    }
  });
});
