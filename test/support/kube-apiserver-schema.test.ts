// Built-in kinds validated against the recorded v1.25 OpenAPI document, through real HTTP. Expected
// answers come from the recorded exchanges of a real kube-apiserver where one exists
// (../shared/kube/recorded-v1.25/exchanges.jsonl); otherwise from Kubernetes' own sources, cited:
// - decode errors: transformDecodeError (apiserver/pkg/endpoints/handlers/rest.go) wraps
//   `<Kind> in version "<v>" cannot be handled as a <Kind>: <err>`; <err> for a JSON type is
//   encoding/json's UnmarshalTypeError as sigs.k8s.io/json reports it, e.g. "StatefulSet in version
//   "v1" cannot be handled as a StatefulSet: json: cannot unmarshal number into Go struct field
//   EnvVar.spec.template.spec.containers.env.value of type string" (dirsigler/uptime-kuma-helm#183);
// - strict decoding: runtime.NewStrictDecodingError, `strict decoding error: unknown field "spec.x"`
//   (KEP-3619 text: `Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown
//   field "spec.securityContext.supplementalGroupsPolicy"`), `duplicate field "data"`
//   (sigs.k8s.io/json's checkDuplicateField); Warn is the default since v1.23 (API reference of
//   fieldValidation); a patch that fails strict decoding is a 400 without the "cannot be handled"
//   prefix (patch.go, applyPatchToCurrentObject).
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { RECORDED_DIR, SHARED_KUBE_DIR, startTestApiServer, type TestApiServer } from "./kube-apiserver/index.js";
import { openApiLoadMs, parseJsonBody, requireSharedKube } from "./kube-apiserver/openapi.js";
import { recordedExchange, recordedUrl } from "./kube-apiserver/recordings.js";
import { call, deployment, pod, type Reply } from "./kube-apiserver/test-helpers.js";

const NS = "default";
const DEPLOYS = `/apis/apps/v1/namespaces/${NS}/deployments`;
const PODS = `/api/v1/namespaces/${NS}/pods`;
const CMS = `/api/v1/namespaces/${NS}/configmaps`;

/** Replays a recorded request (body as recorded: JSON or the exact text) against the test server. */
async function replay(api: { url: string }, id: string, query?: Record<string, string>, namespace = NS): Promise<{ got: Reply; want: ReturnType<typeof recordedExchange> }> {
  const want = recordedExchange(id);
  if (query) want.request.query = query;
  const body = want.request.body;
  const got =
    typeof body === "string"
      ? await call(api.url, want.request.method, recordedUrl(want, namespace), undefined, { raw: body, contentType: want.request.headers["content-type"] })
      : await call(api.url, want.request.method, recordedUrl(want, namespace), body ?? undefined, { contentType: want.request.headers["content-type"] });
  return { got, want };
}

function warnings(r: Reply): string[] {
  // fetch joins repeated headers with ", "; each of ours is one quoted 299 warning.
  const h = r.headers.get("warning");
  return h === null ? [] : h.split(/, (?=299 )/);
}

describe("test API server: validation from the recorded v1.25 OpenAPI document", () => {
  let api: TestApiServer;
  before(async () => {
    // Never skipped: without ../shared/kube the validation cannot speak for v1.25.
    assert.ok(existsSync(RECORDED_DIR), `the recorded Kubernetes API is missing: ${SHARED_KUBE_DIR} (shared/kube beside the repository) must exist`);
    api = await startTestApiServer();
  });
  after(() => api.close());

  it("loads the document once, quickly, and names the folder when it is missing", async () => {
    assert.throws(() => requireSharedKube("/nonexistent/shared/kube/recorded-v1.25/openapi-v2.json.gz"), /\/nonexistent\/shared\/kube\/recorded-v1\.25\/openapi-v2\.json\.gz is missing.*shared\/kube/);
    assert.equal((await call(api.url, "POST", CMS, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "load" } })).status, 201);
    assert.ok(openApiLoadMs !== undefined, "loaded by the first write");
    console.log(`# OpenAPI v2 document (3.2 MB) loaded in ${openApiLoadMs.toFixed(1)} ms`);
    assert.ok(openApiLoadMs < 2000, `load took ${openApiLoadMs} ms`);
  });

  it("answers a MicroTime without 6 fraction digits as the recorded server (leases/create-rfc3339-time)", async () => {
    const { got, want } = await replay(api, "leases/create-rfc3339-time");
    assert.equal(got.status, want.response.status);
    assert.deepEqual(got.body, want.response.body);
    // Exactly six digits are accepted; RFC 3339 (metav1.Time) takes any fraction or none.
    const lease = { apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name: "micro" }, spec: { holderIdentity: "x", renewTime: "2026-12-07T11:43:46.123456Z", acquireTime: "2026-12-07T11:43:46.1234567Z" } };
    const seven = await call(api.url, "POST", `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases`, lease);
    assert.equal(seven.body.message, 'Lease in version "v1" cannot be handled as a Lease: parsing time "2026-12-07T11:43:46.1234567Z" as "2006-01-02T15:04:05.000000Z07:00": cannot parse "7Z" as "Z07:00"');
    lease.spec.acquireTime = "2026-12-07T11:43:46.000001+02:00";
    assert.equal((await call(api.url, "POST", `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases`, lease)).status, 201);
    const cm = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "t", deletionTimestamp: "2026-13-01T00:00:00Z" } };
    assert.equal((await call(api.url, "POST", CMS, cm)).body.message, 'ConfigMap in version "v1" cannot be handled as a ConfigMap: parsing time "2026-13-01T00:00:00Z": month out of range');
  });

  it("rejects an unknown fieldValidation value with the recorded 422 (validation/fieldvalidation-invalid-value)", async () => {
    const { got, want } = await replay(api, "validation/fieldvalidation-invalid-value");
    assert.equal(got.status, 422);
    assert.deepEqual(got.body, want.response.body);
  });

  it("required fields: 422 FieldValueRequired as recorded (pods/create-no-containers, events, merge patch dropping the image)", async () => {
    const { got, want } = await replay(api, "pods/create-no-containers");
    const w = want.response.body as { message: string; details: { causes: unknown[] } };
    assert.equal(got.status, 422);
    assert.equal(got.body.message, w.message);
    assert.deepEqual(got.body.details.causes, w.details.causes);

    // In the recorded namespace: the Event's regarding object lives there.
    const ev = await replay(api, "events/create-events-k8s-io-v1-invalid", undefined, "rec");
    assert.equal(ev.got.status, 422);
    assert.equal(ev.got.body.message, (ev.want.response.body as { message: string }).message);

    assert.equal((await call(api.url, "POST", DEPLOYS, deployment("web", { template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "web", image: "registry.k8s.io/pause:3.8" }] } } }))).status, 201);
    const patch = recordedExchange("patch/deployment-merge-patch-replaces-list");
    const r = await call(api.url, "PATCH", `${DEPLOYS}/web`, patch.request.body, { contentType: "application/merge-patch+json" });
    assert.equal(r.status, 422);
    assert.equal(r.body.message, (patch.response.body as { message: string }).message);

    const noSelector = deployment("nosel") as { spec: Record<string, unknown> };
    delete noSelector.spec.selector;
    const ns = await call(api.url, "POST", DEPLOYS, noSelector);
    assert.equal(ns.status, 422);
    assert.deepEqual(ns.body.details.causes[0], { reason: "FieldValueRequired", message: "Required value", field: "spec.selector" });
  });

  it("label and name messages are the recorded ones (crud/configmap-create-invalid)", async () => {
    const { got, want } = await replay(api, "crud/configmap-create-invalid");
    assert.equal(got.status, 422);
    // The first three causes are the metadata ones (validation.ts); the data-key check follows them.
    assert.deepEqual(got.body.details.causes.slice(0, 3), (want.response.body as { details: { causes: unknown[] } }).details.causes.slice(0, 3));
  });

  it("JSON type errors are 400 decode errors naming the Go struct field and type", async () => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the cases reach deep into the bodies
    const cases: [string, string, (d: Record<string, any>) => void, string][] = [
      ["replicas", DEPLOYS, (d) => (d.spec.replicas = "three"), "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"],
      ["fraction", DEPLOYS, (d) => (d.spec.replicas = 1.5), "json: cannot unmarshal number 1.5 into Go struct field DeploymentSpec.spec.replicas of type int32"],
      ["env-value", DEPLOYS, (d) => (d.spec.template.spec.containers[0].env[0].value = 587), "json: cannot unmarshal number into Go struct field EnvVar.spec.template.spec.containers.env.value of type string"],
      ["label", DEPLOYS, (d) => (d.metadata.labels = { a: 1 }), "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string"],
      ["containers", DEPLOYS, (d) => (d.spec.template.spec.containers = "web"), "json: cannot unmarshal string into Go struct field PodSpec.spec.template.spec.containers of type []v1.Container"],
      ["spec", DEPLOYS, (d) => (d.spec = "x"), "json: cannot unmarshal string into Go struct field Deployment.spec of type v1.DeploymentSpec"],
      ["paused", DEPLOYS, (d) => (d.spec.paused = "yes"), "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.paused of type bool"],
      ["selector", DEPLOYS, (d) => (d.spec.selector.matchLabels = ["a"]), "json: cannot unmarshal array into Go struct field LabelSelector.spec.selector.matchLabels of type map[string]string"],
      // The first type error wins, in document order.
      ["first", DEPLOYS, (d) => Object.assign(d.spec, { minReadySeconds: "1", paused: 1 }), "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.minReadySeconds of type int32"],
    ];
    for (const [name, path, mutate, err] of cases) {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const d = deployment(`type-${name}`) as Record<string, any>;
      mutate(d);
      const r = await call(api.url, "POST", path, d);
      assert.equal(r.status, 400, name);
      assert.equal(r.body.reason, "BadRequest", name);
      assert.equal(r.body.message, `Deployment in version "v1" cannot be handled as a Deployment: ${err}`, name);
    }
    // Custom unmarshalers: IntOrString, Quantity, base64 []byte.
    const svc = { apiVersion: "v1", kind: "Service", metadata: { name: "s" }, spec: { ports: [{ port: 80, targetPort: true }] } };
    assert.equal((await call(api.url, "POST", `/api/v1/namespaces/${NS}/services`, svc)).body.message, 'Service in version "v1" cannot be handled as a Service: json: cannot unmarshal bool into Go struct field ServicePort.spec.ports.targetPort of type int32');
    svc.spec.ports[0]!.targetPort = "http" as never;
    assert.equal((await call(api.url, "POST", `/api/v1/namespaces/${NS}/services`, svc)).status, 201, "int-or-string takes a name");
    const q = pod("q", {}, { containers: [{ name: "a", image: "i", resources: { limits: { cpu: "1x" } } }] });
    assert.equal((await call(api.url, "POST", PODS, q)).body.message, "Pod in version \"v1\" cannot be handled as a Pod: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'");
    const q2 = pod("q2", {}, { containers: [{ name: "a", image: "i", resources: { limits: { cpu: 2, memory: "64Mi" } } }] });
    assert.equal((await call(api.url, "POST", PODS, q2)).status, 201, "a quantity may be a JSON number");
    const sec = { apiVersion: "v1", kind: "Secret", metadata: { name: "b" }, data: { k: "not base64!" } };
    assert.equal((await call(api.url, "POST", `/api/v1/namespaces/${NS}/secrets`, sec)).body.message, 'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 3');
  });

  it("fieldValidation Strict: 400 listing every unknown and duplicate field (released behaviour, not the recorded gate-off build)", async () => {
    // The recorded build ignored the parameter (201); a released v1.25+ answers 400 (README item 14).
    const { got, want } = await replay(api, "validation/fieldvalidation-strict-unknown");
    assert.equal(want.response.status, 201, "recorded with the feature gate off");
    assert.equal(got.status, 400);
    assert.equal(got.body.message, 'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "unknownField", unknown field "spec"');
    const dup = await replay(api, "validation/fieldvalidation-strict-duplicate");
    assert.equal(dup.got.status, 400);
    assert.equal(dup.got.body.message, 'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: duplicate field "data"');
    const nested = deployment("strict") as { spec: { template: { spec: { containers: Record<string, unknown>[] } } } };
    nested.spec.template.spec.containers[0]!.imagePullPolicyy = "Always";
    const r = await call(api.url, "POST", `${DEPLOYS}?fieldValidation=Strict`, nested);
    assert.equal(r.body.message, 'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec.template.spec.containers[0].imagePullPolicyy"');
    // Free-form fields (RawExtension, FieldsV1) are not checked inside; map keys are not fields.
    const cm = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "free", labels: { anything: "x" }, annotations: { "a/b": "c" } }, data: { any: "key" } };
    assert.equal((await call(api.url, "POST", `${CMS}?fieldValidation=Strict`, cm)).status, 201);
    // A type error is reported before (and instead of) unknown fields.
    const both = deployment("both") as { spec: Record<string, unknown> };
    Object.assign(both.spec, { bogus: 1, replicas: "x" });
    assert.match((await call(api.url, "POST", `${DEPLOYS}?fieldValidation=Strict`, both)).body.message, /json: cannot unmarshal string/);
  });

  it("Warn (the default) and Ignore: 2xx, one Warning per field under Warn, unknown fields never stored, duplicates merged as Go decodes them", async () => {
    for (const id of ["validation/fieldvalidation-warn-unknown", "validation/fieldvalidation-default-unknown"]) {
      const { got, want } = await replay(api, id);
      assert.equal(got.status, 201, id);
      assert.deepEqual(warnings(got), ['299 - "unknown field \\"unknownField\\""', '299 - "unknown field \\"spec\\""'], id);
      assert.deepEqual(got.body.data, (want.response.body as { data: unknown }).data, id);
      assert.equal(got.body.spec, undefined, `${id}: pruned`);
      const stored = await call(api.url, "GET", `${CMS}/${got.body.metadata.name}`);
      assert.equal(stored.body.unknownField, undefined, `${id}: not stored`);
    }
    const ign = await replay(api, "validation/fieldvalidation-ignore-unknown");
    assert.equal(ign.got.status, 201);
    assert.deepEqual(warnings(ign.got), []);
    assert.equal(ign.got.body.unknownField, undefined);
    const dup = await replay(api, "validation/fieldvalidation-strict-duplicate", { fieldValidation: "Warn" });
    assert.equal(dup.got.status, 201);
    assert.deepEqual(warnings(dup.got), ['299 - "duplicate field \\"data\\""']);
    assert.deepEqual(dup.got.body.data, (dup.want.response.body as { data: unknown }).data, "the second data map merges into the first, as recorded");
    // Nested duplicates are named by their path.
    assert.equal(
      (await call(api.url, "POST", `${CMS}?fieldValidation=Strict`, undefined, { raw: '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"d2","labels":{"a":"1","a":"2"}}}' })).body.message,
      'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: duplicate field "metadata.labels.a"',
    );
  });

  it("patches: strict errors without the decode prefix, warnings under Warn, pruned fields", async () => {
    assert.equal((await call(api.url, "POST", CMS, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "p" }, data: { a: "1" } })).status, 201);
    const rec = recordedExchange("validation/fieldvalidation-strict-merge-patch");
    const strict = await call(api.url, "PATCH", `${CMS}/p?fieldValidation=Strict`, rec.request.body, { contentType: "application/merge-patch+json" });
    assert.equal(strict.status, 400);
    assert.equal(strict.body.message, 'strict decoding error: unknown field "bogus"');
    const warn = await call(api.url, "PATCH", `${CMS}/p`, rec.request.body, { contentType: "application/merge-patch+json" });
    assert.equal(warn.status, 200);
    assert.deepEqual(warnings(warn), ['299 - "unknown field \\"bogus\\""']);
    assert.deepEqual(warn.body.data, { a: "1", b: "2" });
    assert.equal(warn.body.bogus, undefined);
    const typed = await call(api.url, "PATCH", `${DEPLOYS}/web`, { spec: { replicas: "x" } }, { contentType: "application/merge-patch+json" });
    assert.equal(typed.status, 422);
    assert.match(typed.body.message, /^ "" is invalid: patch: Invalid value: ".*": json: cannot unmarshal string into Go struct field DeploymentSpec\.spec\.replicas of type int32$/);
    // Unknown fields in an update body: the same as create.
    const cur = (await call(api.url, "GET", `${CMS}/p`)).body;
    const upd = await call(api.url, "PUT", `${CMS}/p?fieldValidation=Strict`, { ...cur, extra: true });
    assert.equal(upd.body.message, 'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "extra"');
    assert.equal((await call(api.url, "PUT", `${CMS}/p?fieldValidation=bogus`, cur)).body.message, 'UpdateOptions.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "bogus": supported values: "", "Ignore", "Strict", "Warn"');
  });

  it("serverSideFieldValidation: false answers as the recorded gate-off build", async () => {
    const gateOff = await startTestApiServer({ serverSideFieldValidation: false });
    try {
      for (const id of ["validation/fieldvalidation-strict-unknown", "validation/fieldvalidation-strict-duplicate", "validation/fieldvalidation-warn-unknown", "validation/fieldvalidation-ignore-unknown", "validation/fieldvalidation-default-unknown", "validation/fieldvalidation-invalid-value"]) {
        const { got, want } = await replay(gateOff, id);
        const w = want.response.body as { data?: unknown; message?: string };
        assert.equal(got.status, want.response.status, id);
        assert.deepEqual(warnings(got), [], id);
        if (want.response.status === 201) assert.deepEqual([got.body.data, got.body.unknownField, got.body.spec], [w.data, undefined, undefined], id);
        else assert.equal(got.body.message, w.message, id);
      }
    } finally {
      await gateOff.close();
    }
  });

  it("parses bodies with duplicate keys the way Go decodes them", () => {
    assert.deepEqual(parseJsonBody('{"a":{"x":1},"a":{"y":2},"b":[1,"s\\"",{"c":null}]}'), { a: { x: 1, y: 2 }, b: [1, 's"', { c: null }] });
    assert.deepEqual(parseJsonBody('{"a":1,"a":"two"}'), { a: "two" });
  });
});
