// The simulated control-plane controllers (kube-apiserver/controllers/), through HTTP, against
// what the recorded v1.25 cluster (kube-controller-manager + kube-scheduler, no Nodes) showed.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startTestApiServer, type TestApiServer } from "./kube-apiserver/index.js";
import { computeHash, RECORDED_ROOT_CA_PEM } from "./kube-apiserver/controllers/index.js";
import { safeEncodeString } from "./kube-apiserver/controllers/hash.js";
import { call } from "./kube-apiserver/test-helpers.js";

const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
const MICRO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function namespace(name: string): Record<string, unknown> {
  return { apiVersion: "v1", kind: "Namespace", metadata: { name } };
}

/** The Deployment of the recording (deployments/create). */
function web(replicas = 2): Record<string, unknown> {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", labels: { app: "web" } },
    spec: {
      replicas,
      selector: { matchLabels: { app: "web" } },
      template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "web", image: "registry.k8s.io/pause:3.8" }] } },
    },
  };
}

/** The pod template as the recorded server stored it (deployments/create), before the controller adds its hash label. */
function recordedTemplate(): Record<string, unknown> {
  return {
    metadata: { creationTimestamp: null, labels: { app: "web" } },
    spec: {
      containers: [
        { name: "web", image: "registry.k8s.io/pause:3.8", resources: {}, terminationMessagePath: "/dev/termination-log", terminationMessagePolicy: "File", imagePullPolicy: "IfNotPresent" },
      ],
      restartPolicy: "Always",
      terminationGracePeriodSeconds: 30,
      dnsPolicy: "ClusterFirst",
      securityContext: {},
      schedulerName: "default-scheduler",
    },
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

describe("test API server controllers: pod-template-hash", () => {
  it("computes the recorded ReplicaSet hashes (fnv32a over go-spew's %#v, SafeEncodeString)", () => {
    const t = recordedTemplate() as Any;
    assert.equal(computeHash(t), "589fb64758");
    t.spec.containers[0].env = [{ name: "A", value: "1" }];
    assert.equal(computeHash(t), "565ccc5f5d");
    t.metadata.annotations = { "kubectl.kubernetes.io/restartedAt": "2026-12-07T11:43:12Z" };
    assert.equal(computeHash(t), "94459d5df");
  });

  it("maps each decimal digit into the alphabet without vowels, and hashes the collision count too", () => {
    assert.equal(safeEncodeString("1459620314"), "589fb64758");
    const t = recordedTemplate();
    assert.notEqual(computeHash(t, 1), computeHash(t));
    assert.match(computeHash(t, 1), /^[bcdfghjklmnpqrstvwxz2456789]{1,10}$/);
  });

  it("falls back to a stable hash of the same shape for templates with fields it does not model", () => {
    const t = recordedTemplate() as Any;
    t.spec.containers[0].livenessProbe = { httpGet: { path: "/", port: 80 } };
    const h = computeHash(t);
    assert.equal(computeHash(structuredClone(t)), h);
    assert.match(h, /^[bcdfghjklmnpqrstvwxz2456789]{1,10}$/);
    assert.notEqual(h, "589fb64758");
  });
});

describe("test API server controllers: off by default", () => {
  it("a server started without `controllers` adds nothing to a namespace or a deployment", async () => {
    const api = await startTestApiServer();
    try {
      assert.equal(api.controllers, undefined);
      assert.equal((await call(api.url, "POST", "/api/v1/namespaces", namespace("plain"))).status, 201);
      assert.equal((await call(api.url, "POST", "/apis/apps/v1/namespaces/plain/deployments", web())).status, 201);
      assert.equal((await call(api.url, "GET", "/api/v1/namespaces/plain/serviceaccounts/default")).status, 404);
      assert.equal((await call(api.url, "GET", "/api/v1/namespaces/plain/configmaps/kube-root-ca.crt")).status, 404);
      assert.equal((await call(api.url, "GET", "/apis/apps/v1/namespaces/plain/replicasets")).body.items.length, 0);
      assert.equal((await call(api.url, "GET", "/api/v1/namespaces/plain/pods")).body.items.length, 0);
    } finally {
      await api.close();
    }
  });

  it("rejects an unknown controller name", async () => {
    await assert.rejects(startTestApiServer({ controllers: ["scheduler", "kubelet" as never] }), /unknown controller "kubelet"/);
  });
});

describe("test API server controllers: namespace, serviceaccount, root-ca-cert-publisher", () => {
  let api: TestApiServer;
  before(async () => {
    api = await startTestApiServer({ controllers: { namespaceDeletionGracePeriodMs: 100, namespaceFinalizerRetryMs: 100 } });
  });
  after(() => api.close());

  it("gives a new namespace its default ServiceAccount and kube-root-ca.crt ConfigMap before the next request", async () => {
    const ns = await call(api.url, "POST", "/api/v1/namespaces", namespace("boot"));
    assert.equal(ns.status, 201);
    const sa = await call(api.url, "GET", "/api/v1/namespaces/boot/serviceaccounts/default");
    assert.equal(sa.status, 200);
    // As recorded: no fields but the name, so no managedFields entry either.
    assert.deepEqual(Object.keys(sa.body.metadata).sort(), ["creationTimestamp", "name", "namespace", "resourceVersion", "uid"]);
    assert.deepEqual(Object.keys(sa.body).sort(), ["apiVersion", "kind", "metadata"]);
    assert.ok(Number(sa.body.metadata.resourceVersion) > Number(ns.body.metadata.resourceVersion));

    const cm = await call(api.url, "GET", "/api/v1/namespaces/boot/configmaps/kube-root-ca.crt");
    assert.equal(cm.status, 200);
    assert.deepEqual(cm.body.metadata.annotations, {
      "kubernetes.io/description":
        "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.",
    });
    assert.deepEqual(cm.body.data, { "ca.crt": RECORDED_ROOT_CA_PEM });
    assert.match(RECORDED_ROOT_CA_PEM, /^-----BEGIN CERTIFICATE-----\n[\s\S]+\n-----END CERTIFICATE-----\n$/);
  });

  it("recreates a deleted default ServiceAccount and kube-root-ca.crt, and resets an edited one", async () => {
    await call(api.url, "POST", "/api/v1/namespaces", namespace("heal"));
    const before = (await call(api.url, "GET", "/api/v1/namespaces/heal/serviceaccounts/default")).body;
    assert.equal((await call(api.url, "DELETE", "/api/v1/namespaces/heal/serviceaccounts/default")).status, 200);
    const again = await call(api.url, "GET", "/api/v1/namespaces/heal/serviceaccounts/default");
    assert.equal(again.status, 200);
    assert.notEqual(again.body.metadata.uid, before.metadata.uid);

    assert.equal((await call(api.url, "DELETE", "/api/v1/namespaces/heal/configmaps/kube-root-ca.crt")).status, 200);
    assert.equal((await call(api.url, "GET", "/api/v1/namespaces/heal/configmaps/kube-root-ca.crt")).status, 200);

    const p = await call(api.url, "PATCH", "/api/v1/namespaces/heal/configmaps/kube-root-ca.crt", { data: { "ca.crt": "tampered", extra: "x" } }, { contentType: "application/merge-patch+json" });
    assert.equal(p.status, 200);
    assert.deepEqual(p.body.data, { "ca.crt": "tampered", extra: "x" }, "the client's write is answered as written");
    const cm = await call(api.url, "GET", "/api/v1/namespaces/heal/configmaps/kube-root-ca.crt");
    assert.deepEqual(cm.body.data, { "ca.crt": RECORDED_ROOT_CA_PEM });
  });

  it("keeps a deleted namespace Terminating for the grace period, then deletes its contents and the namespace", async () => {
    await call(api.url, "POST", "/api/v1/namespaces", namespace("gone"));
    await call(api.url, "POST", "/api/v1/namespaces/gone/configmaps", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "cm" }, data: { a: "1" } });
    await call(api.url, "POST", "/api/v1/namespaces/gone/pods", {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "p" },
      spec: { containers: [{ name: "c", image: "nginx:1.27" }] },
    });
    const del = await call(api.url, "DELETE", "/api/v1/namespaces/gone");
    assert.equal(del.status, 200);
    assert.equal(del.body.status.phase, "Terminating");
    assert.deepEqual(del.body.spec, { finalizers: ["kubernetes"] });
    assert.match(del.body.metadata.deletionTimestamp, TIME);

    const late = await call(api.url, "POST", "/api/v1/namespaces/gone/configmaps", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "too-late" } });
    assert.equal(late.status, 403);
    assert.equal(late.body.details.causes[0].reason, "NamespaceTerminating");
    const get = await call(api.url, "GET", "/api/v1/namespaces/gone");
    assert.equal(get.status, 200);
    assert.deepEqual(get.body.status, { phase: "Terminating" });
    assert.equal((await call(api.url, "GET", "/api/v1/namespaces/gone/configmaps/cm")).status, 200, "contents stay during the grace period");

    await waitFor("the namespace to go", async () => (await call(api.url, "GET", "/api/v1/namespaces/gone")).status === 404);
    for (const path of ["configmaps/cm", "configmaps/kube-root-ca.crt", "serviceaccounts/default", "pods/p"])
      assert.equal((await call(api.url, "GET", `/api/v1/namespaces/gone/${path}`)).status, 404, path);
  });

  it("reports content that cannot go yet in the NamespaceDeletion conditions, and finishes when it is gone", async () => {
    await call(api.url, "POST", "/api/v1/namespaces", namespace("held"));
    await call(api.url, "POST", "/api/v1/namespaces/held/configmaps", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "keep", finalizers: ["example.com/hold"] } });
    await call(api.url, "DELETE", "/api/v1/namespaces/held");
    const ns = await waitFor("the content conditions", async () => {
      const r = await call(api.url, "GET", "/api/v1/namespaces/held");
      return r.body.status?.conditions ? r.body : undefined;
    });
    const conds = ns.status.conditions.map((c: Any) => [c.type, c.status, c.reason, c.message]);
    assert.deepEqual(conds, [
      ["NamespaceDeletionDiscoveryFailure", "False", "ResourcesDiscovered", "All resources successfully discovered"],
      ["NamespaceDeletionGroupVersionParsingFailure", "False", "ParsedGroupVersions", "All legacy kube types successfully parsed"],
      ["NamespaceDeletionContentFailure", "False", "ContentDeleted", "All content successfully deleted, may be waiting on finalization"],
      ["NamespaceContentRemaining", "True", "SomeResourcesRemain", "Some resources are remaining: configmaps has 1 resource instances"],
      ["NamespaceFinalizersRemaining", "True", "SomeFinalizersRemain", "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances"],
    ]);
    for (const c of ns.status.conditions) assert.match(c.lastTransitionTime, TIME);
    assert.equal(ns.status.phase, "Terminating");

    const cm = (await call(api.url, "GET", "/api/v1/namespaces/held/configmaps/keep")).body;
    assert.match(cm.metadata.deletionTimestamp, TIME);
    const p = await call(api.url, "PATCH", "/api/v1/namespaces/held/configmaps/keep", { metadata: { finalizers: null } }, { contentType: "application/merge-patch+json" });
    assert.equal(p.status, 200);
    await waitFor("the namespace to go", async () => (await call(api.url, "GET", "/api/v1/namespaces/held")).status === 404);
  });

  it("publishes the server's own CA when it serves TLS", async () => {
    const tls = await startTestApiServer({ tls: true, controllers: ["root-ca-cert-publisher"] });
    try {
      tls.store.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: "secure" }, status: { phase: "Active" } });
      const cm = tls.store.get<Any>("configmaps", "secure", "kube-root-ca.crt");
      assert.equal(cm.data["ca.crt"], tls.caPem);
      assert.equal(tls.store.get("serviceaccounts", "secure", "default"), undefined, "only the enabled controllers run");
    } finally {
      await tls.close();
    }
  });
});

describe("test API server controllers: scheduler", () => {
  let api: TestApiServer;
  before(async () => {
    api = await startTestApiServer({ controllers: { enable: ["scheduler"], hostname: "vm" } });
  });
  after(() => api.close());

  const pod = (name: string, extra: Record<string, unknown> = {}) => ({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name },
    spec: { containers: [{ name: "c", image: "nginx:1.27" }], ...extra },
  });

  it("marks a pod Unschedulable when there are no Nodes, with a FailedScheduling event", async () => {
    const c = await call(api.url, "POST", "/api/v1/namespaces/default/pods", pod("lonely"));
    assert.equal(c.status, 201);
    assert.deepEqual(c.body.status, { phase: "Pending", qosClass: "BestEffort" }, "the create answer is the pod as created");
    const g = await call(api.url, "GET", "/api/v1/namespaces/default/pods/lonely");
    assert.deepEqual(Object.keys(g.body.status), ["phase", "conditions", "qosClass"]);
    const [cond] = g.body.status.conditions;
    assert.deepEqual(Object.keys(cond), ["type", "status", "lastProbeTime", "lastTransitionTime", "reason", "message"]);
    assert.deepEqual({ ...cond, lastTransitionTime: "t" }, {
      type: "PodScheduled",
      status: "False",
      lastProbeTime: null,
      lastTransitionTime: "t",
      reason: "Unschedulable",
      message: "no nodes available to schedule pods",
    });
    assert.match(cond.lastTransitionTime, TIME);
    const mf = g.body.metadata.managedFields.find((m: Any) => m.manager === "kube-scheduler");
    assert.equal(mf.subresource, "status");

    const evs = (await call(api.url, "GET", "/api/v1/namespaces/default/events?fieldSelector=involvedObject.name=lonely")).body.items;
    assert.equal(evs.length, 1);
    const ev = evs[0];
    assert.match(ev.metadata.name, /^lonely\.[0-9a-f]{16}$/);
    assert.deepEqual(
      { ...ev, metadata: undefined, eventTime: undefined, involvedObject: { ...ev.involvedObject, uid: undefined, resourceVersion: undefined } },
      {
        metadata: undefined,
        involvedObject: { kind: "Pod", namespace: "default", name: "lonely", apiVersion: "v1", uid: undefined, resourceVersion: undefined },
        reason: "FailedScheduling",
        message: "no nodes available to schedule pods",
        source: {},
        firstTimestamp: null,
        lastTimestamp: null,
        type: "Warning",
        eventTime: undefined,
        action: "Scheduling",
        reportingComponent: "default-scheduler",
        reportingInstance: "default-scheduler-vm",
      },
    );
    assert.match(ev.eventTime, MICRO_TIME);
    assert.equal(ev.involvedObject.uid, c.body.metadata.uid);
    assert.equal(ev.involvedObject.resourceVersion, c.body.metadata.resourceVersion);
  });

  it("leaves pods with a nodeName or another scheduler alone", async () => {
    await call(api.url, "POST", "/api/v1/namespaces/default/pods", pod("bound", { nodeName: "node-x" }));
    await call(api.url, "POST", "/api/v1/namespaces/default/pods", pod("other", { schedulerName: "my-scheduler" }));
    for (const n of ["bound", "other"]) assert.equal((await call(api.url, "GET", `/api/v1/namespaces/default/pods/${n}`)).body.status.conditions, undefined, n);
  });

  it("binds pending pods once a ready Node appears, and names unfit Nodes in the message", async () => {
    await call(api.url, "POST", "/api/v1/namespaces/default/pods", pod("waiting"));
    api.store.create({ apiVersion: "v1", kind: "Node", metadata: { name: "cordoned" }, spec: { unschedulable: true }, status: { conditions: [{ type: "Ready", status: "True" }] } });
    const p1 = (await call(api.url, "GET", "/api/v1/namespaces/default/pods/waiting")).body;
    assert.equal(
      p1.status.conditions[0].message,
      "0/1 nodes are available: 1 node(s) were unschedulable. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
    );
    api.store.create({ apiVersion: "v1", kind: "Node", metadata: { name: "node-a" }, status: { conditions: [{ type: "Ready", status: "True" }] } });
    const p2 = (await call(api.url, "GET", "/api/v1/namespaces/default/pods/waiting")).body;
    assert.equal(p2.spec.nodeName, "node-a");
    const sched = p2.status.conditions.find((c: Any) => c.type === "PodScheduled");
    assert.equal(sched.status, "True");
    const evs = (await call(api.url, "GET", "/api/v1/namespaces/default/events?fieldSelector=involvedObject.name=waiting,reason=Scheduled")).body.items;
    assert.equal(evs[0].message, "Successfully assigned default/waiting to node-a");
    const fresh = await call(api.url, "POST", "/api/v1/namespaces/default/pods", pod("fresh"));
    assert.equal(fresh.body.spec.nodeName, undefined);
    assert.equal((await call(api.url, "GET", "/api/v1/namespaces/default/pods/fresh")).body.spec.nodeName, "node-a");
  });
});

describe("test API server controllers: deployment and replicaset", () => {
  let api: TestApiServer;
  const D = "/apis/apps/v1/namespaces/rec/deployments";
  before(async () => {
    api = await startTestApiServer({ controllers: { hostname: "vm" } });
    await call(api.url, "POST", "/api/v1/namespaces", namespace("rec"));
  });
  after(() => api.close());

  const rsList = async () => (await call(api.url, "GET", "/apis/apps/v1/namespaces/rec/replicasets?labelSelector=app%3Dweb")).body.items as Any[];
  const podList = async () => (await call(api.url, "GET", "/api/v1/namespaces/rec/pods?labelSelector=app%3Dweb")).body.items as Any[];
  const scalingEvents = async () =>
    ((await call(api.url, "GET", "/api/v1/namespaces/rec/events?fieldSelector=reason=ScalingReplicaSet")).body.items as Any[])
      // Named <object>.<UnixNano in hex>: by name is by time of the first occurrence.
      .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1))
      .map((e) => `${e.message}${e.count > 1 ? ` (x${e.count})` : ""}`);

  it("rolls out a new Deployment as the recorded controllers did", async () => {
    const c = await call(api.url, "POST", D, web());
    assert.equal(c.status, 201);
    const d = (await call(api.url, "GET", `${D}/web`)).body;
    assert.deepEqual(d.metadata.annotations, { "deployment.kubernetes.io/revision": "1" });
    assert.equal(d.metadata.generation, 1);
    const conds = d.status.conditions.map((x: Any) => ({ ...x, lastUpdateTime: x.lastUpdateTime.replace(/.*/, "t"), lastTransitionTime: x.lastTransitionTime.replace(/.*/, "t") }));
    assert.deepEqual({ ...d.status, conditions: conds }, {
      observedGeneration: 1,
      replicas: 2,
      updatedReplicas: 2,
      unavailableReplicas: 2,
      conditions: [
        { type: "Available", status: "False", lastUpdateTime: "t", lastTransitionTime: "t", reason: "MinimumReplicasUnavailable", message: "Deployment does not have minimum availability." },
        { type: "Progressing", status: "True", lastUpdateTime: "t", lastTransitionTime: "t", reason: "ReplicaSetUpdated", message: 'ReplicaSet "web-589fb64758" is progressing.' },
      ],
    });

    const [rs, ...more] = await rsList();
    assert.equal(more.length, 0);
    assert.equal(rs.metadata.name, "web-589fb64758");
    assert.deepEqual(rs.metadata.labels, { app: "web", "pod-template-hash": "589fb64758" });
    assert.deepEqual(rs.metadata.annotations, { "deployment.kubernetes.io/desired-replicas": "2", "deployment.kubernetes.io/max-replicas": "3", "deployment.kubernetes.io/revision": "1" });
    assert.deepEqual(rs.metadata.ownerReferences, [{ apiVersion: "apps/v1", kind: "Deployment", name: "web", uid: d.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    assert.deepEqual(rs.spec.selector, { matchLabels: { app: "web", "pod-template-hash": "589fb64758" } });
    assert.equal(rs.spec.replicas, 2);
    assert.deepEqual(rs.spec.template.metadata, { creationTimestamp: null, labels: { app: "web", "pod-template-hash": "589fb64758" } });
    assert.deepEqual(rs.status, { replicas: 2, fullyLabeledReplicas: 2, observedGeneration: 1 });

    const pods = await podList();
    assert.equal(pods.length, 2);
    for (const p of pods) {
      assert.match(p.metadata.name, /^web-589fb64758-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
      assert.equal(p.metadata.generateName, "web-589fb64758-");
      assert.deepEqual(p.metadata.labels, { app: "web", "pod-template-hash": "589fb64758" });
      assert.deepEqual(p.metadata.ownerReferences, [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: "web-589fb64758", uid: rs.metadata.uid, controller: true, blockOwnerDeletion: true }]);
      assert.equal(p.spec.serviceAccountName, "default");
      assert.match(p.spec.volumes[0].name, /^kube-api-access-/);
      assert.equal(p.status.phase, "Pending");
      assert.equal(p.status.conditions[0].reason, "Unschedulable");
      // The controller's managedFields entry holds what it sent, not what admission added.
      const kcm = p.metadata.managedFields.find((m: Any) => m.manager === "kube-controller-manager");
      assert.ok(kcm.fieldsV1["f:spec"]["f:enableServiceLinks"]);
      assert.equal(kcm.fieldsV1["f:spec"]["f:volumes"], undefined);
    }
    assert.deepEqual(await scalingEvents(), ["Scaled up replica set web-589fb64758 to 2"]);
    const created = (await call(api.url, "GET", "/api/v1/namespaces/rec/events?fieldSelector=reason=SuccessfulCreate")).body.items;
    assert.deepEqual(created.map((e: Any) => e.message).sort(), pods.map((p) => `Created pod: ${p.metadata.name}`).sort());
    assert.deepEqual(created[0].source, { component: "replicaset-controller" });
    assert.equal(created[0].involvedObject.kind, "ReplicaSet");
    assert.match(created[0].metadata.name, /^web-589fb64758\.[0-9a-f]{16}$/);

    const scale = (await call(api.url, "GET", `${D}/web/scale`)).body;
    assert.deepEqual(scale.status, { replicas: 2, selector: "app=web" });
  });

  it("follows the recorded scale, patch and restart steps to the recorded ReplicaSets and events", async () => {
    const mp = { contentType: "application/merge-patch+json" };
    const sp = { contentType: "application/strategic-merge-patch+json" };
    assert.equal((await call(api.url, "PATCH", `${D}/web/scale`, { spec: { replicas: 3 } }, mp)).status, 200);
    assert.equal((await podList()).length, 3);
    assert.equal((await call(api.url, "PATCH", `${D}/web/scale`, { spec: { replicas: 2 } }, mp)).status, 200);
    assert.equal((await podList()).length, 2);
    await call(api.url, "PATCH", `${D}/web`, { metadata: { annotations: { "rec/merge": "yes" } } }, mp);
    await call(api.url, "PATCH", `${D}/web`, { spec: { template: { spec: { containers: [{ name: "web", env: [{ name: "A", value: "1" }] }] } } } }, sp);
    await call(api.url, "PATCH", `${D}/web`, { spec: { replicas: 4 } }, mp);
    await call(api.url, "PATCH", `${D}/web`, { spec: { template: { metadata: { annotations: { "kubectl.kubernetes.io/restartedAt": "2026-12-07T11:43:12Z" } } } } }, sp);

    const rss = Object.fromEntries((await rsList()).map((rs) => [rs.metadata.name, rs]));
    assert.deepEqual(Object.keys(rss).sort(), ["web-565ccc5f5d", "web-589fb64758", "web-94459d5df"]);
    const summary = (n: string) => ({ replicas: rss[n].spec.replicas, status: rss[n].status, annotations: rss[n].metadata.annotations, generation: rss[n].metadata.generation });
    const ann = (rev: string) => ({ "deployment.kubernetes.io/desired-replicas": "4", "deployment.kubernetes.io/max-replicas": "5", "deployment.kubernetes.io/revision": rev, "rec/merge": "yes" });
    assert.deepEqual(summary("web-589fb64758"), { replicas: 1, status: { replicas: 1, fullyLabeledReplicas: 1, observedGeneration: 5 }, annotations: ann("1"), generation: 5 });
    assert.deepEqual(summary("web-565ccc5f5d"), { replicas: 2, status: { replicas: 2, fullyLabeledReplicas: 2, observedGeneration: 2 }, annotations: ann("2"), generation: 2 });
    assert.deepEqual(summary("web-94459d5df"), { replicas: 2, status: { replicas: 2, fullyLabeledReplicas: 2, observedGeneration: 2 }, annotations: ann("3"), generation: 2 });

    const d = (await call(api.url, "GET", `${D}/web`)).body;
    assert.equal(d.metadata.annotations["deployment.kubernetes.io/revision"], "3");
    const { conditions, ...counts } = d.status;
    assert.deepEqual(counts, { observedGeneration: d.metadata.generation, replicas: 5, updatedReplicas: 2, unavailableReplicas: 5 });
    assert.equal(conditions[1].message, 'ReplicaSet "web-94459d5df" is progressing.');
    assert.equal((await podList()).length, 5);
    assert.deepEqual(await scalingEvents(), [
      "Scaled up replica set web-589fb64758 to 2",
      "Scaled up replica set web-589fb64758 to 3 from 2 (x2)",
      "Scaled down replica set web-589fb64758 to 2 from 3",
      "Scaled up replica set web-565ccc5f5d to 1",
      "Scaled up replica set web-565ccc5f5d to 2 from 1",
      "Scaled down replica set web-589fb64758 to 1 from 3",
      "Scaled up replica set web-94459d5df to 2 from 0",
    ]);
  });

  it("completes the rollout once pods are ready (a kubelet's status writes), scaling old ReplicaSets to 0", async () => {
    // Stand in for kubelets: every pod of the deployment runs and is Ready.
    const readyAll = () => {
      for (const p of api.store.list<Any>("pods", "rec")) {
        if (p.status.conditions?.some((c: Any) => c.type === "Ready")) continue;
        api.store.patchStatus("pods", "rec", p.metadata.name, (s) => ({
          ...s,
          phase: "Running",
          conditions: [...(s.conditions ?? []), { type: "Ready", status: "True", lastProbeTime: null, lastTransitionTime: new Date(Date.now() - 60_000).toISOString().replace(/\.\d+Z$/, "Z") }],
        }));
      }
    };
    await waitFor("the rollout to complete", async () => {
      readyAll();
      const d = (await call(api.url, "GET", `${D}/web`)).body;
      return d.status.updatedReplicas === 4 && d.status.availableReplicas === 4 && d.status.replicas === 4 ? d : undefined;
    });
    const d = (await call(api.url, "GET", `${D}/web`)).body;
    const byType = Object.fromEntries(d.status.conditions.map((c: Any) => [c.type, c]));
    assert.equal(byType.Available.status, "True");
    assert.equal(byType.Available.reason, "MinimumReplicasAvailable");
    assert.equal(byType.Progressing.reason, "NewReplicaSetAvailable");
    assert.equal(byType.Progressing.message, 'ReplicaSet "web-94459d5df" has successfully progressed.');
    const rss = Object.fromEntries((await rsList()).map((rs) => [rs.metadata.name, rs.spec.replicas]));
    assert.deepEqual(rss, { "web-565ccc5f5d": 0, "web-589fb64758": 0, "web-94459d5df": 4 });
  });

  it("reports pods that admission refuses as FailedCreate and a ReplicaFailure condition, up to the Deployment", async () => {
    await call(api.url, "POST", "/api/v1/namespaces", { ...namespace("strict"), metadata: { name: "strict", labels: { "pod-security.kubernetes.io/enforce": "baseline" } } });
    const priv = web(1) as Any;
    priv.metadata.name = "priv";
    priv.spec.template.spec.hostNetwork = true;
    // Retries start with the create: the time they had is counted from here.
    const since = Date.now();
    assert.equal((await call(api.url, "POST", "/apis/apps/v1/namespaces/strict/deployments", priv)).status, 201);
    const rs = (await call(api.url, "GET", "/apis/apps/v1/namespaces/strict/replicasets")).body.items[0];
    assert.equal(rs.status.replicas, 0);
    const failure = rs.status.conditions.find((c: Any) => c.type === "ReplicaFailure");
    assert.equal(failure.status, "True");
    assert.equal(failure.reason, "FailedCreate");
    assert.match(failure.message, /is forbidden: violates PodSecurity "baseline:latest": host namespaces \(hostNetwork=true\)/);
    const ev = (await call(api.url, "GET", "/api/v1/namespaces/strict/events?fieldSelector=reason=FailedCreate")).body.items[0];
    assert.equal(ev.type, "Warning");
    assert.match(ev.message, /^Error creating: pods .* is forbidden: violates PodSecurity/);
    const d = (await call(api.url, "GET", "/apis/apps/v1/namespaces/strict/deployments/priv")).body;
    assert.equal(d.status.conditions.find((c: Any) => c.type === "ReplicaFailure")?.reason, "FailedCreate");
    // Retried with backoff, not in a tight loop: the event's count grows, slowly.
    const again = await waitFor("a retry", async () => {
      const e = (await call(api.url, "GET", "/api/v1/namespaces/strict/events?fieldSelector=reason=FailedCreate")).body.items[0];
      return e.count >= 2 ? e : undefined;
    });
    const elapsed = Date.now() - since;
    // A tight loop would count hundreds in this time; exponential backoff from 5 ms doubles each time.
    assert.ok(again.count <= 2 + Math.log2(1 + elapsed / 5) + 1, `FailedCreate count ${again.count} after ${elapsed} ms`);
  });

  it("runs a ReplicaSet of its own: adopts matching orphans and deletes surplus pods, unscheduled first", async () => {
    await call(api.url, "POST", "/api/v1/namespaces/rec/pods", { apiVersion: "v1", kind: "Pod", metadata: { name: "orphan", labels: { app: "solo" } }, spec: { containers: [{ name: "c", image: "nginx:1.27" }] } });
    const rs = await call(api.url, "POST", "/apis/apps/v1/namespaces/rec/replicasets", {
      apiVersion: "apps/v1",
      kind: "ReplicaSet",
      metadata: { name: "solo" },
      spec: { replicas: 3, selector: { matchLabels: { app: "solo" } }, template: { metadata: { labels: { app: "solo" } }, spec: { containers: [{ name: "c", image: "nginx:1.27" }] } } },
    });
    assert.equal(rs.status, 201);
    const pods = (await call(api.url, "GET", "/api/v1/namespaces/rec/pods?labelSelector=app%3Dsolo")).body.items as Any[];
    assert.equal(pods.length, 3);
    const orphan = pods.find((p) => p.metadata.name === "orphan");
    assert.equal(orphan.metadata.ownerReferences[0].uid, rs.body.metadata.uid, "the orphan was adopted");
    // One pod is on a node: it is deleted last.
    api.store.update({ ...api.store.get<Any>("pods", "rec", "orphan"), spec: { ...orphan.spec, nodeName: "node-z" } });
    await call(api.url, "PATCH", "/apis/apps/v1/namespaces/rec/replicasets/solo", { spec: { replicas: 1 } }, { contentType: "application/merge-patch+json" });
    const left = (await call(api.url, "GET", "/api/v1/namespaces/rec/pods?labelSelector=app%3Dsolo")).body.items as Any[];
    assert.deepEqual(left.map((p) => p.metadata.name), ["orphan"]);
    const st = (await call(api.url, "GET", "/apis/apps/v1/namespaces/rec/replicasets/solo")).body.status;
    assert.deepEqual(st, { replicas: 1, fullyLabeledReplicas: 1, observedGeneration: 2 });
  });
});

describe("test API server controllers: garbage collector", () => {
  let api: TestApiServer;
  before(async () => {
    api = await startTestApiServer({ controllers: { garbageCollectorDelayMs: 30 } });
    await call(api.url, "POST", "/api/v1/namespaces", namespace("gc"));
  });
  after(() => api.close());

  it("deletes in the foreground: the owner waits with its finalizer until its dependents are gone", async () => {
    assert.equal((await call(api.url, "POST", "/apis/apps/v1/namespaces/gc/deployments", web())).status, 201);
    const uid = (await call(api.url, "GET", "/apis/apps/v1/namespaces/gc/deployments/web")).body.metadata.uid;
    // Listening before the delete: the garbage collector may act before the next request returns.
    const seen: string[] = [];
    const off = api.store.onChange((e) => {
      if (e.resource.resource === "replicasets" && e.object.metadata.finalizers?.includes("foregroundDeletion") && !e.oldObject?.metadata.finalizers) seen.push("rs-foreground");
      if (e.type === "DELETED") seen.push(`${e.resource.resource}-deleted`);
    });
    const del = await call(api.url, "DELETE", "/apis/apps/v1/namespaces/gc/deployments/web?propagationPolicy=Foreground");
    assert.equal(del.status, 200);
    assert.deepEqual(del.body.metadata.finalizers, ["foregroundDeletion"]);
    assert.match(del.body.metadata.deletionTimestamp, TIME);
    assert.equal(del.body.metadata.deletionGracePeriodSeconds, 0);
    const during = await call(api.url, "GET", "/apis/apps/v1/namespaces/gc/deployments/web");
    assert.equal(during.status, 200);
    assert.deepEqual(during.body.metadata.finalizers, ["foregroundDeletion"]);
    assert.equal((await call(api.url, "GET", "/apis/apps/v1/namespaces/gc/replicasets")).body.items.length, 1);

    // Meanwhile the ReplicaSet goes in the foreground too (it has pods), the pods in the background.
    await waitFor("the deployment to go", async () => (await call(api.url, "GET", "/apis/apps/v1/namespaces/gc/deployments/web")).status === 404);
    off();
    assert.equal(seen[0], "rs-foreground");
    assert.deepEqual(seen.slice(-2), ["replicasets-deleted", "deployments-deleted"]);
    assert.equal((await call(api.url, "GET", "/apis/apps/v1/namespaces/gc/replicasets")).body.items.length, 0);
    assert.equal((await call(api.url, "GET", "/api/v1/namespaces/gc/pods")).body.items.length, 0);
    assert.ok(uid);
  });

  it("deletes objects whose owners do not exist, and only drops the reference when another owner lives", async () => {
    const cm = await call(api.url, "POST", "/api/v1/namespaces/gc/configmaps", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "owner" } });
    const live = { apiVersion: "v1", kind: "ConfigMap", name: "owner", uid: cm.body.metadata.uid };
    const ghost = { apiVersion: "v1", kind: "ConfigMap", name: "ghost", uid: "00000000-0000-4000-8000-000000000000" };
    await call(api.url, "POST", "/api/v1/namespaces/gc/configmaps", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "dangling", ownerReferences: [ghost] } });
    await call(api.url, "POST", "/api/v1/namespaces/gc/configmaps", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "shared", ownerReferences: [ghost, live] } });
    await waitFor("the dangling dependent to go", async () => (await call(api.url, "GET", "/api/v1/namespaces/gc/configmaps/dangling")).status === 404);
    const shared = await waitFor("the dead reference to go", async () => {
      const r = await call(api.url, "GET", "/api/v1/namespaces/gc/configmaps/shared");
      return r.body.metadata.ownerReferences?.length === 1 ? r.body : undefined;
    });
    assert.deepEqual(shared.metadata.ownerReferences, [live]);
  });
});
