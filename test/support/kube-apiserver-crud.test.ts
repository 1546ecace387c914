import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Pod } from "kubernetes-types/core/v1.js";
import { join } from "node:path";
import { installCrds, SHARED_KUBE_DIR, startTestApiServer, type TestApiServer } from "./kube-apiserver/index.js";
import { call, deployment, pod } from "./kube-apiserver/test-helpers.js";

const PODS = "/api/v1/namespaces/default/pods";
const DEPLOYS = "/apis/apps/v1/namespaces/default/deployments";

describe("test API server: CRUD, errors, patches, lists", () => {
  let api: TestApiServer;
  before(async () => {
    api = await startTestApiServer();
  });
  after(() => api.close());

  it("creates, gets, updates and deletes with server-set metadata and a global resourceVersion", async () => {
    const c = await call(api.url, "POST", PODS, pod("crud-1"));
    assert.equal(c.status, 201);
    const m = c.body.metadata;
    assert.match(m.uid, /^[0-9a-f-]{36}$/);
    assert.match(m.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(m.namespace, "default");
    assert.equal(c.body.status.phase, "Pending");
    const g = await call(api.url, "GET", `${PODS}/crud-1`);
    assert.equal(g.status, 200);
    assert.deepEqual(g.body, c.body);

    const c2 = await call(api.url, "POST", PODS, pod("crud-2"));
    assert.ok(Number(c2.body.metadata.resourceVersion) > Number(m.resourceVersion), "resourceVersion grows across objects");

    const upd = structuredClone(g.body);
    upd.metadata.labels = { tier: "web" };
    const u = await call(api.url, "PUT", `${PODS}/crud-1`, upd);
    assert.equal(u.status, 200);
    assert.deepEqual(u.body.metadata.labels, { tier: "web" });
    assert.equal(u.body.metadata.uid, m.uid);
    assert.ok(Number(u.body.metadata.resourceVersion) > Number(c2.body.metadata.resourceVersion));

    const d = await call(api.url, "DELETE", `${PODS}/crud-1`);
    assert.equal(d.status, 200);
    assert.equal(d.body.metadata.name, "crud-1");
    assert.equal((await call(api.url, "GET", `${PODS}/crud-1`)).status, 404);
  });

  it("answers errors with Status objects: NotFound, AlreadyExists, stale-RV Conflict", async () => {
    const nf = await call(api.url, "GET", `${PODS}/nope`);
    assert.equal(nf.status, 404);
    assert.deepEqual(
      { kind: nf.body.kind, apiVersion: nf.body.apiVersion, status: nf.body.status, reason: nf.body.reason, code: nf.body.code },
      { kind: "Status", apiVersion: "v1", status: "Failure", reason: "NotFound", code: 404 },
    );
    assert.equal(nf.body.message, 'pods "nope" not found');
    assert.deepEqual(nf.body.details, { name: "nope", kind: "pods" });
    assert.equal((await call(api.url, "DELETE", `${PODS}/nope`)).status, 404);

    const first = await call(api.url, "POST", DEPLOYS, deployment("dup"));
    assert.equal(first.status, 201);
    const dup = await call(api.url, "POST", DEPLOYS, deployment("dup"));
    assert.equal(dup.status, 409);
    assert.equal(dup.body.reason, "AlreadyExists");
    assert.equal(dup.body.message, 'deployments.apps "dup" already exists');
    assert.deepEqual(dup.body.details, { name: "dup", group: "apps", kind: "deployments" });

    const stale = structuredClone(first.body);
    const fresh = structuredClone(first.body);
    fresh.spec.replicas = 3;
    const ok = await call(api.url, "PUT", `${DEPLOYS}/dup`, fresh);
    assert.equal(ok.status, 200);
    assert.equal(ok.body.metadata.generation, 2, "spec change bumps generation");
    stale.spec.replicas = 5;
    const conflict = await call(api.url, "PUT", `${DEPLOYS}/dup`, stale);
    assert.equal(conflict.status, 409);
    assert.equal(conflict.body.reason, "Conflict");
    assert.match(conflict.body.message, /^Operation cannot be fulfilled on deployments\.apps "dup": the object has been modified/);
  });

  it("generateName, dryRun, status subresource and metadata-only updates", async () => {
    const gen = await call(api.url, "POST", PODS, { ...pod(""), metadata: { generateName: "web-" } });
    assert.equal(gen.status, 201);
    assert.match(gen.body.metadata.name, /^web-[bcdfghjklmnpqrstvwxz2456789]{5}$/);

    const dry = await call(api.url, "POST", `${PODS}?dryRun=All`, pod("dry"));
    assert.equal(dry.status, 201);
    assert.equal((await call(api.url, "GET", `${PODS}/dry`)).status, 404, "dryRun does not persist");
    // Recorded (crud/configmap-create-dryrun-invalid-value): 422 Invalid CreateOptions.
    assert.equal((await call(api.url, "POST", `${PODS}?dryRun=Some`, pod("dry"))).status, 422);

    const d = (await call(api.url, "POST", DEPLOYS, deployment("st"))).body;
    assert.deepEqual(d.status, {}, "status is reset on create, as PrepareForCreate does (an empty struct, as recorded)");
    const withStatus = { ...structuredClone(d), status: { replicas: 1, readyReplicas: 1 } };
    const viaMain = await call(api.url, "PUT", `${DEPLOYS}/st`, withStatus);
    assert.deepEqual(viaMain.body.status, {}, "main resource ignores status");
    const viaStatus = await call(api.url, "PUT", `${DEPLOYS}/st/status`, { ...withStatus, metadata: viaMain.body.metadata, spec: { ...d.spec, replicas: 9 } });
    assert.equal(viaStatus.status, 200);
    assert.deepEqual(viaStatus.body.status, { replicas: 1, readyReplicas: 1 });
    assert.equal(viaStatus.body.spec.replicas, 1, "status subresource ignores spec");
    assert.equal(viaStatus.body.metadata.generation, 1);

    const reordered = Object.fromEntries(Object.entries(structuredClone(viaStatus.body)).reverse());
    const noop = await call(api.url, "PUT", `${DEPLOYS}/st`, reordered);
    assert.equal(noop.status, 200);
    assert.equal(noop.body.metadata.resourceVersion, viaStatus.body.metadata.resourceVersion, "a no-op write is not a new revision");
    const labelled = structuredClone(viaStatus.body);
    labelled.metadata.labels = { x: "y" };
    const lu = await call(api.url, "PUT", `${DEPLOYS}/st`, labelled);
    assert.equal(lu.body.metadata.generation, 1, "metadata change does not bump generation");
  });

  it("patches with merge, strategic merge, JSON patch and server-side apply", async () => {
    await call(api.url, "POST", DEPLOYS, deployment("p"));
    const merge = await call(api.url, "PATCH", `${DEPLOYS}/p`, { metadata: { labels: { a: "1" } }, spec: { replicas: 2 } }, { contentType: "application/merge-patch+json" });
    assert.equal(merge.status, 200);
    assert.equal(merge.body.spec.replicas, 2);
    assert.deepEqual(merge.body.metadata.labels, { a: "1" });

    // Strategic: containers merge by name, env merges by name; a merge patch would replace the list.
    const smp = await call(
      api.url,
      "PATCH",
      `${DEPLOYS}/p`,
      { spec: { template: { spec: { containers: [{ name: "app", env: [{ name: "B", value: "2" }] }, { name: "side", image: "busybox" }] } } } },
      { contentType: "application/strategic-merge-patch+json" },
    );
    assert.equal(smp.status, 200);
    const cs = smp.body.spec.template.spec.containers;
    assert.deepEqual(cs.map((c: { name: string }) => c.name), ["app", "side"]);
    assert.equal(cs[0].image, "nginx:1.27");
    assert.deepEqual(cs[0].env, [{ name: "A", value: "1" }, { name: "B", value: "2" }]);

    const mergeList = await call(api.url, "PATCH", `${DEPLOYS}/p`, { spec: { template: { spec: { containers: [{ name: "sole", image: "x" }] } } } }, { contentType: "application/merge-patch+json" });
    assert.deepEqual(
      mergeList.body.spec.template.spec.containers.map((c: { name: string; image: string }) => [c.name, c.image]),
      [["sole", "x"]],
    );

    const jp = await call(
      api.url,
      "PATCH",
      `${DEPLOYS}/p`,
      [
        { op: "test", path: "/spec/replicas", value: 2 },
        { op: "replace", path: "/spec/replicas", value: 4 },
        { op: "add", path: "/metadata/annotations", value: { "x/y": "z" } },
      ],
      { contentType: "application/json-patch+json" },
    );
    assert.equal(jp.status, 200);
    assert.equal(jp.body.spec.replicas, 4);
    assert.deepEqual(jp.body.metadata.annotations, { "x/y": "z" });
    const failed = await call(api.url, "PATCH", `${DEPLOYS}/p`, [{ op: "test", path: "/spec/replicas", value: 99 }], { contentType: "application/json-patch+json" });
    assert.equal(failed.status, 422);

    const noManager = await call(api.url, "PATCH", `${DEPLOYS}/applied`, "{}", { contentType: "application/apply-patch+yaml" });
    assert.equal(noManager.status, 422, "recorded (patch/configmap-apply-no-fieldmanager): 422 Invalid PatchOptions");
    assert.match(noManager.body.message, /fieldManager: Required value/);
    const yamlDoc = `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: applied\nspec:\n  selector:\n    matchLabels: {app: a}\n  template:\n    metadata:\n      labels: {app: a}\n    spec:\n      containers:\n      - name: app\n        image: nginx\n`;
    const created = await call(api.url, "PATCH", `${DEPLOYS}/applied?fieldManager=test`, yamlDoc, { contentType: "application/apply-patch+yaml" });
    assert.equal(created.status, 201, "apply creates a missing object");
    const again = await call(api.url, "PATCH", `${DEPLOYS}/applied?fieldManager=test`, yamlDoc.replace("image: nginx", "image: nginx:2"), { contentType: "application/apply-patch+yaml" });
    assert.equal(again.status, 200);
    assert.equal(again.body.spec.template.spec.containers[0].image, "nginx:2");
    assert.equal(again.body.metadata.uid, created.body.metadata.uid);

    const stale = await call(api.url, "PATCH", `${DEPLOYS}/p`, { metadata: { resourceVersion: "1" }, spec: { replicas: 1 } }, { contentType: "application/merge-patch+json" });
    assert.equal(stale.status, 409, "a resourceVersion in a patch is an optimistic lock");
    assert.equal((await call(api.url, "PATCH", `${DEPLOYS}/p`, {}, { contentType: "text/plain" })).status, 415);
    assert.equal((await call(api.url, "PATCH", `${DEPLOYS}/missing`, {}, { contentType: "application/merge-patch+json" })).status, 404);
  });

  it("filters lists by label and field selectors and rejects unsupported fields", async () => {
    const ns = "/api/v1/namespaces/sel/pods";
    await call(api.url, "POST", ns, pod("a", { app: "web", tier: "fe" }, { nodeName: "n1" }));
    await call(api.url, "POST", ns, pod("b", { app: "web", tier: "be" }, { nodeName: "n2" }));
    await call(api.url, "POST", ns, pod("c", { app: "db" }, { nodeName: "n1" }));
    const names = async (q: string) => {
      const r = await call(api.url, "GET", `${ns}?${q}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body.items.map((i: { metadata: { name: string } }) => i.metadata.name);
    };
    assert.deepEqual(await names("labelSelector=app%3Dweb"), ["a", "b"]);
    assert.deepEqual(await names("labelSelector=app%3D%3Dweb,tier!%3Dfe"), ["b"]);
    assert.deepEqual(await names(`labelSelector=${encodeURIComponent("tier in (fe,be)")}`), ["a", "b"]);
    assert.deepEqual(await names(`labelSelector=${encodeURIComponent("app notin (web)")}`), ["c"]);
    assert.deepEqual(await names("labelSelector=tier"), ["a", "b"]);
    assert.deepEqual(await names("labelSelector=!tier"), ["c"]);
    assert.deepEqual(await names("fieldSelector=spec.nodeName%3Dn1"), ["a", "c"]);
    assert.deepEqual(await names("fieldSelector=metadata.name!%3Da,status.phase%3DPending"), ["b", "c"]);
    const bad = await call(api.url, "GET", `${ns}?fieldSelector=spec.bogus%3D1`);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.message, "field label not supported: spec.bogus");
    assert.equal((await call(api.url, "GET", `${ns}?labelSelector=${encodeURIComponent("a in (")}`)).status, 400);

    const all = await call(api.url, "GET", "/api/v1/pods?labelSelector=app%3Ddb");
    assert.deepEqual(all.body.items.map((i: { metadata: { namespace: string } }) => i.metadata.namespace), ["sel"]);
    assert.equal(all.body.kind, "PodList");
    assert.equal(all.body.items[0].kind, undefined, "typed list items carry no kind, like the real server");

    const ev = await call(api.url, "POST", "/api/v1/namespaces/sel/events", {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: "e1" },
      involvedObject: { kind: "Pod", name: "a", namespace: "sel" },
      reason: "Started",
    });
    assert.equal(ev.status, 201, JSON.stringify(ev.body));
    const evs = await call(api.url, "GET", "/api/v1/namespaces/sel/events?fieldSelector=involvedObject.name%3Da");
    assert.equal(evs.body.items.length, 1);
  });

  it("paginates with limit/continue at a consistent snapshot, and 410s once compacted", async () => {
    const ns = "/api/v1/namespaces/page/configmaps";
    for (let i = 0; i < 5; i++) await call(api.url, "POST", ns, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: `cm-${i}` }, data: { i: String(i) } });
    const p1 = await call(api.url, "GET", `${ns}?limit=2`);
    assert.equal(p1.body.items.length, 2);
    assert.equal(p1.body.metadata.remainingItemCount, 3);
    assert.ok(p1.body.metadata.continue);
    // Changes after the first page are not visible to the rest of this list.
    await call(api.url, "DELETE", `${ns}/cm-3`);
    await call(api.url, "POST", ns, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "cm-9" } });
    const p2 = await call(api.url, "GET", `${ns}?limit=2&continue=${p1.body.metadata.continue}`);
    const p3 = await call(api.url, "GET", `${ns}?limit=2&continue=${p2.body.metadata.continue}`);
    assert.equal(p3.body.metadata.continue, undefined);
    const got = [...p1.body.items, ...p2.body.items, ...p3.body.items].map((i: { metadata: { name: string } }) => i.metadata.name);
    assert.deepEqual(got, ["cm-0", "cm-1", "cm-2", "cm-3", "cm-4"]);
    assert.equal(p2.body.metadata.resourceVersion, p1.body.metadata.resourceVersion);

    const exact = await call(api.url, "GET", `${ns}?resourceVersion=${p1.body.metadata.resourceVersion}&resourceVersionMatch=Exact`);
    assert.equal(exact.body.items.length, 5);
    const latest = await call(api.url, "GET", ns);
    assert.ok(Number(latest.body.metadata.resourceVersion) > Number(p1.body.metadata.resourceVersion));
    assert.deepEqual(latest.body.items.map((i: { metadata: { name: string } }) => i.metadata.name), ["cm-0", "cm-1", "cm-2", "cm-4", "cm-9"]);

    api.compact();
    const gone = await call(api.url, "GET", `${ns}?limit=2&continue=${p1.body.metadata.continue}`);
    assert.equal(gone.status, 410);
    assert.equal(gone.body.reason, "Expired");
    const goneExact = await call(api.url, "GET", `${ns}?resourceVersion=${p1.body.metadata.resourceVersion}&resourceVersionMatch=Exact`);
    assert.equal(goneExact.status, 410);
    // Recorded (lists/rv-match-without-rv): 422 Invalid ListOptions.
    assert.equal((await call(api.url, "GET", `${ns}?resourceVersionMatch=Exact`)).status, 422);
  });

  it("deletes with preconditions, finalizers and deletecollection by label", async () => {
    const ns = "/api/v1/namespaces/del/configmaps";
    const cm = (name: string, labels: Record<string, string> = {}, finalizers?: string[]) => ({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name, labels, ...(finalizers && { finalizers }) },
    });
    const a = (await call(api.url, "POST", ns, cm("a"))).body;
    const wrongUid = await call(api.url, "DELETE", `${ns}/a`, { apiVersion: "v1", kind: "DeleteOptions", preconditions: { uid: "not-it" } });
    assert.equal(wrongUid.status, 409);
    const okDel = await call(api.url, "DELETE", `${ns}/a`, { preconditions: { uid: a.metadata.uid }, gracePeriodSeconds: 0, propagationPolicy: "Background" });
    assert.equal(okDel.status, 200);
    assert.equal((await call(api.url, "DELETE", `${ns}/x`, { propagationPolicy: "Sideways" })).status, 400);

    await call(api.url, "POST", ns, cm("held", {}, ["example.com/hold"]));
    const held = await call(api.url, "DELETE", `${ns}/held`);
    assert.equal(held.status, 200);
    assert.ok(held.body.metadata.deletionTimestamp, "finalizers keep the object with a deletionTimestamp");
    const still = await call(api.url, "GET", `${ns}/held`);
    assert.equal(still.status, 200);
    const released = structuredClone(still.body);
    released.metadata.finalizers = [];
    assert.equal((await call(api.url, "PUT", `${ns}/held`, released)).status, 200);
    assert.equal((await call(api.url, "GET", `${ns}/held`)).status, 404, "removing the last finalizer deletes it");

    for (const n of ["k1", "k2", "k3"]) await call(api.url, "POST", ns, cm(n, { batch: n === "k3" ? "keep" : "drop" }));
    const dc = await call(api.url, "DELETE", `${ns}?labelSelector=batch%3Ddrop`);
    assert.equal(dc.status, 200);
    assert.deepEqual(dc.body.items.map((i: { metadata: { name: string } }) => i.metadata.name), ["k1", "k2"]);
    const left = await call(api.url, "GET", ns);
    assert.deepEqual(left.body.items.map((i: { metadata: { name: string } }) => i.metadata.name), ["k3"]);
  });

  it("applies the real server's defaults to API writes: pods, deployments, services, jobs", async () => {
    const p = await call(api.url, "POST", PODS, pod("defaults"));
    assert.equal(p.body.spec.serviceAccountName, "default");
    assert.equal(p.body.spec.restartPolicy, "Always");
    assert.equal(p.body.spec.containers[0].imagePullPolicy, "IfNotPresent");
    const d = await call(api.url, "POST", DEPLOYS, { ...deployment("defaults"), spec: { ...(deployment("x").spec as object), replicas: undefined } });
    assert.equal(d.body.spec.replicas, 1);
    assert.equal(d.body.spec.strategy.type, "RollingUpdate");
    const svc = await call(api.url, "POST", "/api/v1/namespaces/default/services", { apiVersion: "v1", kind: "Service", metadata: { name: "web" }, spec: { selector: { app: "web" }, ports: [{ port: 80 }] } });
    assert.equal(svc.status, 201);
    assert.match(svc.body.spec.clusterIP, /^10\.96\.\d+\.\d+$/);
    assert.deepEqual(svc.body.spec.clusterIPs, [svc.body.spec.clusterIP]);
    assert.deepEqual(svc.body.spec.ports, [{ port: 80, protocol: "TCP", targetPort: 80 }]);
    const svc2 = await call(api.url, "PATCH", "/api/v1/namespaces/default/services/web", { spec: { ports: [{ port: 81 }] } }, { contentType: "application/merge-patch+json" });
    assert.equal(svc2.body.spec.clusterIP, svc.body.spec.clusterIP, "the allocated IP is kept");
    const job = await call(api.url, "POST", "/apis/batch/v1/namespaces/default/jobs", {
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: { name: "canary" },
      spec: { template: { spec: { restartPolicy: "Never", containers: [{ name: "c", image: "busybox:1" }] } } },
    });
    assert.equal(job.status, 201, JSON.stringify(job.body));
    const uid = job.body.metadata.uid;
    assert.deepEqual(job.body.spec.selector, { matchLabels: { "batch.kubernetes.io/controller-uid": uid } });
    assert.equal(job.body.spec.template.metadata.labels["batch.kubernetes.io/job-name"], "canary");
    assert.equal(job.body.spec.backoffLimit, 6);
    const actor = api.store.create({ apiVersion: "v1", kind: "Pod", metadata: { name: "raw", namespace: "default" }, spec: { containers: [{ name: "c", image: "i" }] } });
    assert.equal((actor.spec as { restartPolicy?: string }).restartPolicy, undefined, "store actors write objects as given");
  });

  it("garbage-collects dependents by ownerReferences (Background) or orphans them (Orphan)", async () => {
    const owner = (await call(api.url, "POST", DEPLOYS, deployment("owner"))).body;
    const ref = { apiVersion: "apps/v1", kind: "Deployment", name: "owner", uid: owner.metadata.uid, controller: true };
    const cm = (name: string, ownerReferences: unknown[]) => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, ownerReferences } });
    await call(api.url, "POST", "/api/v1/namespaces/default/configmaps", cm("dep-1", [ref]));
    await call(api.url, "POST", "/api/v1/namespaces/default/configmaps", cm("unrelated", []));
    assert.equal((await call(api.url, "DELETE", `${DEPLOYS}/owner`)).status, 200);
    assert.equal((await call(api.url, "GET", "/api/v1/namespaces/default/configmaps/dep-1")).status, 404);
    assert.equal((await call(api.url, "GET", "/api/v1/namespaces/default/configmaps/unrelated")).status, 200);

    const owner2 = (await call(api.url, "POST", DEPLOYS, deployment("owner2"))).body;
    await call(api.url, "POST", "/api/v1/namespaces/default/configmaps", cm("dep-2", [{ ...ref, name: "owner2", uid: owner2.metadata.uid }]));
    assert.equal((await call(api.url, "DELETE", `${DEPLOYS}/owner2?propagationPolicy=Orphan`)).status, 200);
    const orphan = await call(api.url, "GET", "/api/v1/namespaces/default/configmaps/dep-2");
    assert.equal(orphan.status, 200);
    assert.equal(orphan.body.metadata.ownerReferences, undefined);
  });

  it("validates strictly: unknown fields, schema types, names; honours fieldValidation", async () => {
    const bad = deployment("strict") as { spec: Record<string, unknown> };
    bad.spec.replicaz = 2;
    const r = await call(api.url, "POST", `${DEPLOYS}?fieldValidation=Strict`, bad);
    assert.equal(r.status, 400);
    assert.equal(r.body.reason, "BadRequest");
    assert.equal(r.body.message, 'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec.replicaz"');
    const nested = deployment("strict") as { spec: { template: { spec: { containers: Record<string, unknown>[] } } } };
    nested.spec.template.spec.containers[0]!.imagePullPolicyy = "Always";
    const rn = await call(api.url, "POST", `${DEPLOYS}?fieldValidation=Strict`, nested);
    assert.match(rn.body.message, /unknown field "spec\.template\.spec\.containers\[0\]\.imagePullPolicyy"/);

    const warn = await call(api.url, "POST", `${DEPLOYS}?fieldValidation=Warn`, bad);
    assert.equal(warn.status, 201);
    assert.equal(warn.body.spec.replicaz, undefined, "unknown fields are dropped when not rejected");
    assert.match(warn.headers.get("warning") ?? "", /unknown field \\"spec\.replicaz\\"/);
    const ignore = await call(api.url, "POST", `${DEPLOYS}?fieldValidation=Ignore`, { ...bad, metadata: { name: "strict-2" } });
    assert.equal(ignore.status, 201);
    assert.equal(ignore.headers.get("warning"), null);
    assert.equal((await call(api.url, "POST", `${DEPLOYS}?fieldValidation=Loose`, bad)).status, 422);
    // Without the parameter: Warn, the default of released Kubernetes (v1.23+).
    const dflt = await call(api.url, "POST", DEPLOYS, { ...bad, metadata: { name: "strict-3" } });
    assert.equal(dflt.status, 201);
    assert.equal(dflt.headers.get("warning"), '299 - "unknown field \\"spec.replicaz\\""');

    // A JSON type error is a decode error (400), as the real decoder reports it.
    const wrongType = deployment("typed") as { spec: Record<string, unknown> };
    wrongType.spec.replicas = "three";
    const t = await call(api.url, "POST", DEPLOYS, wrongType);
    assert.equal(t.status, 400);
    assert.equal(t.body.message, 'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32');

    const noContainers = await call(api.url, "POST", PODS, { apiVersion: "v1", kind: "Pod", metadata: { name: "empty" }, spec: {} });
    assert.equal(noContainers.status, 422);
    assert.match(noContainers.body.message, /spec\.containers: Required value/);

    const badName = await call(api.url, "POST", PODS, pod("Bad_Name"));
    assert.equal(badName.status, 422);
    assert.match(badName.body.message, /^Pod "Bad_Name" is invalid: metadata\.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain/);
    const svcDot = await call(api.url, "POST", "/api/v1/namespaces/default/services", { apiVersion: "v1", kind: "Service", metadata: { name: "a.b" }, spec: { ports: [{ port: 80 }] } });
    assert.equal(svcDot.status, 422, "service names are DNS-1123 labels");
    const noName = await call(api.url, "POST", PODS, { ...pod("x"), metadata: {} });
    assert.equal(noName.status, 422);
    const badLabel = await call(api.url, "POST", PODS, pod("lbl", { "bad key!": "v" }));
    assert.equal(badLabel.status, 422);

    const mismatch = await call(api.url, "POST", PODS, { ...pod("m"), metadata: { name: "m", namespace: "other" } });
    assert.equal(mismatch.status, 400);
    const noKind = await call(api.url, "POST", PODS, { metadata: { name: "k" } });
    assert.equal(noKind.status, 400);

    // Custom resources are served once their CRD exists (kube-apiserver-crds.test.ts has the rest).
    const smPath = "/apis/monitoring.coreos.com/v1/namespaces/default/servicemonitors";
    const sm = { apiVersion: "monitoring.coreos.com/v1", kind: "ServiceMonitor", metadata: { name: "sm" }, spec: { selector: {}, endpoints: [{ port: "web" }], anything: { goes: true } } };
    assert.equal((await call(api.url, "POST", smPath, sm)).status, 404, "no CRD, no resource");
    installCrds(api, join(SHARED_KUBE_DIR, "crds"));
    const created = await call(api.url, "POST", smPath, sm);
    assert.equal(created.status, 201);
    assert.deepEqual(created.body.spec, { selector: {}, endpoints: [{ port: "web" }] }, "unknown fields are pruned");
  });

  it("serves discovery, version and health endpoints", async () => {
    const v = await call(api.url, "GET", "/version");
    assert.equal(v.body.major, "1");
    assert.equal((await call(api.url, "GET", "/healthz")).body, "ok");
    assert.equal((await call(api.url, "GET", "/readyz")).status, 200);
    assert.equal((await call(api.url, "GET", "/livez")).status, 200);
    const core = await call(api.url, "GET", "/api");
    assert.deepEqual(core.body.versions, ["v1"]);
    const v1 = await call(api.url, "GET", "/api/v1");
    const podRes = v1.body.resources.find((r: { name: string }) => r.name === "pods");
    assert.deepEqual({ kind: podRes.kind, namespaced: podRes.namespaced }, { kind: "Pod", namespaced: true });
    assert.ok(v1.body.resources.some((r: { name: string }) => r.name === "pods/status"));
    assert.ok(v1.body.resources.some((r: { name: string; namespaced: boolean }) => r.name === "nodes" && !r.namespaced));
    const apis = await call(api.url, "GET", "/apis");
    const names = apis.body.groups.map((g: { name: string }) => g.name);
    for (const g of ["apps", "batch", "coordination.k8s.io", "rbac.authorization.k8s.io", "discovery.k8s.io", "events.k8s.io", "apiextensions.k8s.io"]) assert.ok(names.includes(g), g);
    const appsV1 = await call(api.url, "GET", "/apis/apps/v1");
    assert.equal(appsV1.body.groupVersion, "apps/v1");
    assert.ok(appsV1.body.resources.some((r: { name: string }) => r.name === "deployments/status"));
    assert.equal((await call(api.url, "GET", "/apis/apps")).body.preferredVersion.version, "v1");
  });

  it("is robust to bad input: malformed JSON, oversized bodies, unknown paths", async () => {
    const malformed = await call(api.url, "POST", PODS, undefined, { raw: "{not json" });
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body.kind, "Status");
    const big = await call(api.url, "POST", "/api/v1/namespaces/default/configmaps", {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "big" },
      data: { x: "a".repeat(3 * 1024 * 1024 + 10) },
    });
    assert.equal(big.status, 413);
    assert.equal(big.body.reason, "RequestEntityTooLarge");
    // A path no handler serves is a text/plain 404 (recorded: discovery/unknown-path); an unknown
    // resource or subresource in a served group/version is a JSON Status.
    const nope = await call(api.url, "GET", "/nope");
    assert.equal(nope.status, 404);
    assert.equal(nope.body, "404 page not found\n");
    for (const p of ["/api/v1/namespaces/default/widgets", "/apis/apps/v1/namespaces/default/deployments/a/b/c", "/api/v1/namespaces/default/configmaps/a/status"]) {
      const r = await call(api.url, "GET", p);
      assert.equal(r.status, 404, p);
      assert.equal(r.body.kind, "Status", p);
    }
    const yaml = await call(api.url, "POST", "/api/v1/namespaces/default/configmaps", undefined, {
      raw: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\n",
      contentType: "application/yaml",
    });
    assert.equal(yaml.status, 201);
    assert.equal((await call(api.url, "POST", "/api/v1/namespaces/default/configmaps", undefined, { raw: "x", contentType: "application/vnd.kubernetes.protobuf" })).status, 415);
  });

  it("store writes by simulated actors bump resourceVersion and are visible through the API", async () => {
    const before = Number((await call(api.url, "GET", PODS)).body.metadata.resourceVersion);
    const actorPod: Pod = { apiVersion: "v1", kind: "Pod", metadata: { name: "actor" }, spec: { containers: [{ name: "c", image: "i" }] } };
    assert.throws(() => api.store.create(actorPod), /a namespace is required/);
    actorPod.metadata!.namespace = "default";
    const created = api.store.create(actorPod);
    assert.ok(Number(created.metadata!.resourceVersion) > before);
    const patched = api.store.patchStatus<Pod>("pods", "default", "actor", { phase: "Running", podIP: "10.0.0.5" });
    assert.equal(patched.status!.phase, "Running");
    const g = await call(api.url, "GET", `${PODS}/actor`);
    assert.equal(g.body.status.podIP, "10.0.0.5");
    assert.throws(() => api.store.create(actorPod), (e: { code?: number }) => e.code === 409);
    assert.equal(api.store.list("v1/pods", "default").some((p) => p.metadata.name === "actor"), true);
    api.store.delete("pods", "default", "actor");
    assert.equal(api.store.get("pods", "default", "actor"), undefined);
  });
});
