// The client against the test API server: real REST + watch over loopback HTTP(S).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ConfigMap, Pod } from "kubernetes-types/core/v1.js";
import type { Deployment } from "kubernetes-types/apps/v1.js";
import { startTestApiServer, type TestApiServer } from "../../support/kube-apiserver/index.js";
import { CONFIGMAPS, DEPLOYMENTS, KubeApiError, KubeClient, NAMESPACES, PODS, type WatchEvent } from "../../../src/core/kube/index.js";

describe("KubeClient against the test API server (TLS + token)", () => {
  let api: TestApiServer;
  let dir: string;
  let kube: KubeClient;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "kube-client-"));
    api = await startTestApiServer({ tls: true, tokens: { "s3cret-token": { user: "alice", groups: ["system:masters"] } } });
    kube = await KubeClient.load({ kubeconfig: api.writeKubeconfig(dir, { token: "s3cret-token", namespace: "shop" }) });
  });
  after(async () => {
    kube.close();
    await api.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("creates, gets, lists, updates, patches and deletes", async () => {
    assert.equal(kube.namespace, "shop");
    const created = await kube.create<ConfigMap>(CONFIGMAPS, { metadata: { name: "cfg", labels: { app: "a" } }, data: { k: "v1" } });
    assert.equal(created.metadata?.namespace, "shop", "defaults to the context namespace");
    assert.ok(created.metadata?.resourceVersion, "created.metadata?.resourceVersion");
    assert.equal(api.requests.at(-1)?.user, "alice", "the bearer token authenticated");

    const got = await kube.get<ConfigMap>(CONFIGMAPS, "cfg");
    assert.deepEqual(got.data, { k: "v1" });

    await kube.create<ConfigMap>(CONFIGMAPS, { metadata: { name: "other", labels: { app: "b" } } }, { namespace: "shop" });
    const listed = await kube.list<ConfigMap>(CONFIGMAPS, { namespace: "shop", labelSelector: "app=a" });
    assert.deepEqual(listed.items.map((c) => c.metadata?.name), ["cfg"]);
    assert.match(listed.metadata.resourceVersion, /^\d+$/);

    const updated = await kube.update<ConfigMap>(CONFIGMAPS, { ...got, data: { k: "v2" } });
    assert.equal(updated.data?.k, "v2");
    // The stale resourceVersion must conflict: optimistic concurrency is what leader election relies on.
    await assert.rejects(kube.update<ConfigMap>(CONFIGMAPS, { ...got, data: { k: "v3" } }), (err: unknown) => {
      assert.ok(err instanceof KubeApiError, "err instanceof KubeApiError");
      assert.equal(err.status, 409);
      assert.equal(err.reason, "Conflict");
      assert.equal(err.transient, false);
      return true;
    });

    const merged = await kube.patch<ConfigMap>(CONFIGMAPS, "cfg", { data: { extra: "1" } }, { type: "merge" });
    assert.deepEqual(merged.data, { k: "v2", extra: "1" });
    const jsonPatched = await kube.patch<ConfigMap>(CONFIGMAPS, "cfg", [{ op: "remove", path: "/data/extra" }], { type: "json" });
    assert.deepEqual(jsonPatched.data, { k: "v2" });

    await kube.delete(CONFIGMAPS, "cfg");
    await assert.rejects(kube.get(CONFIGMAPS, "cfg"), (err: unknown) => err instanceof KubeApiError && err.status === 404 && err.reason === "NotFound" && /configmaps/.test(err.message));
    await assert.rejects(kube.delete(CONFIGMAPS, "cfg"), (err: unknown) => err instanceof KubeApiError && err.status === 404);
  });

  it("strategic-merge patches a deployment (what rollout restart sends) and honours dryRun", async () => {
    const dep: Deployment = {
      metadata: { name: "web", namespace: "shop" },
      spec: {
        selector: { matchLabels: { app: "web" } },
        template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "c", image: "nginx" }] } },
      },
    };
    await kube.create(DEPLOYMENTS, dep);
    const patched = await kube.patch<Deployment>(DEPLOYMENTS, "web", { spec: { template: { metadata: { annotations: { "kubectl.kubernetes.io/restartedAt": "now" } } } } }, { namespace: "shop", type: "strategic", fieldManager: "test" });
    assert.equal(patched.spec?.template.metadata?.annotations?.["kubectl.kubernetes.io/restartedAt"], "now");
    assert.equal(patched.spec?.template.spec?.containers[0]?.image, "nginx", "strategic merge keeps the containers list");

    await kube.create<ConfigMap>(CONFIGMAPS, { metadata: { name: "dry" } }, { dryRun: true });
    await assert.rejects(kube.get(CONFIGMAPS, "dry"), (err: unknown) => err instanceof KubeApiError && err.status === 404);
  });

  it("rejects unknown fields with fieldValidation Strict as a 4xx naming the field", async () => {
    await assert.rejects(
      kube.create(CONFIGMAPS, { metadata: { name: "bad" }, bogusField: 1 } as ConfigMap, { fieldValidation: "Strict" }),
      (err: unknown) => err instanceof KubeApiError && err.status !== undefined && err.status >= 400 && err.status < 500 && /bogusField/.test(err.message),
    );
  });

  it("lists cluster-scoped resources and follows continue tokens in listAll", async () => {
    for (let i = 0; i < 7; i++) await kube.create(NAMESPACES, { metadata: { name: `ns-${i}`, labels: { batch: "x" } } });
    const page = await kube.list(NAMESPACES, { labelSelector: "batch=x", limit: 3 });
    assert.equal(page.items.length, 3);
    assert.ok(page.metadata.continue, "a continue token for the next page");
    const all = await kube.listAll<{ metadata: { name: string } }>(NAMESPACES, { labelSelector: "batch=x", limit: 3 });
    assert.deepEqual(all.items.map((n) => n.metadata.name).sort(), ["ns-0", "ns-1", "ns-2", "ns-3", "ns-4", "ns-5", "ns-6"]);
  });

  it("watches from a resourceVersion and sees adds, updates and deletes in order", async () => {
    const start = await kube.list<Pod>(PODS, { namespace: "watch" });
    const ac = new AbortController();
    const seen: WatchEvent<Pod>[] = [];
    const done = (async () => {
      for await (const ev of kube.watch<Pod>(PODS, { namespace: "watch", resourceVersion: start.metadata.resourceVersion, signal: ac.signal })) {
        seen.push(ev);
        if (ev.type === "DELETED") ac.abort();
      }
    })();
    await kube.create<Pod>(PODS, { metadata: { name: "p", namespace: "watch" }, spec: { containers: [{ name: "c", image: "x" }] } });
    await kube.patch(PODS, "p", { metadata: { labels: { x: "1" } } }, { namespace: "watch", type: "merge" });
    await kube.delete(PODS, "p", { namespace: "watch", gracePeriodSeconds: 0 });
    await done; // ends quietly after abort
    // A pod's deletion is graceful even at period 0: the deletionTimestamp is a MODIFIED first,
    // as on a real server (recorded-v1.25 watch/pods-status-changes).
    assert.deepEqual(seen.map((e) => e.type), ["ADDED", "MODIFIED", "MODIFIED", "DELETED"]);
    assert.equal(seen[1]?.object.metadata?.labels?.x, "1");
    assert.ok(seen[2]?.object.metadata?.deletionTimestamp, "the second MODIFIED carries the deletionTimestamp");
  });

  it("turns an in-stream 410 into KubeApiError status 410", async () => {
    const { metadata } = await kube.list(CONFIGMAPS, { namespace: "gone" });
    await kube.create(CONFIGMAPS, { metadata: { name: "a", namespace: "gone" } });
    api.compact();
    await assert.rejects(
      (async () => {
        for await (const _ of kube.watch(CONFIGMAPS, { namespace: "gone", resourceVersion: metadata.resourceVersion })) {
          // nothing expected before the error
        }
      })(),
      (err: unknown) => err instanceof KubeApiError && err.status === 410,
    );
  });

  it("an idle timeout aborts a stalled watch with code EIDLE", async () => {
    const started = Date.now();
    const iterating = (async () => {
      for await (const _ of kube.watch(CONFIGMAPS, { namespace: "stall", idleTimeoutMs: 400 })) {
        // no events
      }
    })();
    // Wait for the watch to be open, then make the server go silent on it.
    const until = Date.now() + 10_000;
    while (api.openWatches === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    api.stallWatches();
    await assert.rejects(iterating, (err: unknown) => err instanceof KubeApiError && err.code === "EIDLE" && err.transient);
    assert.ok(Date.now() - started < 10_000, "Date.now() - started < 10_000");
  });

  it("surfaces injected 429 with Retry-After and 500 as transient", async () => {
    api.faults.inject({ method: "GET", pathRegex: "/configmaps/limited$", status: 429, retryAfterSeconds: 7, count: 1 });
    await assert.rejects(kube.get(CONFIGMAPS, "limited"), (err: unknown) => err instanceof KubeApiError && err.status === 429 && err.retryAfterMs === 7000 && err.transient);
    api.faults.inject({ method: "GET", pathRegex: "/configmaps/broken$", status: 500, count: 1 });
    await assert.rejects(kube.get(CONFIGMAPS, "broken"), (err: unknown) => err instanceof KubeApiError && err.status === 500 && err.transient);
    api.faults.clear();
  });
});
