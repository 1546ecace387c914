import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestApiServer, type KubeObject, type TestApiServer } from "../../support/kube-apiserver/index.js";
import { KubeClient } from "../../../src/core/kube/client.js";
import { KubeMetadataCache } from "../../../src/core/kube-metadata/cache.js";
import { eventually } from "../../support/cli.js";
import { endpointSlice, namespace, node, pod, replicaSet, service } from "./objects.js";

const k = (o: unknown) => o as KubeObject;

async function setup(t: { after(fn: () => unknown): void }, opts: { node?: string } = {}): Promise<{ api: TestApiServer; cache: KubeMetadataCache; stats: string[] }> {
  const api = await startTestApiServer({ bookmarkIntervalMs: 200 });
  const dir = mkdtempSync(join(tmpdir(), "kube-metadata-"));
  const client = await KubeClient.load({ kubeconfig: api.writeKubeconfig(dir) });
  const stats: string[] = [];
  const cache = KubeMetadataCache.start(client, {
    ...(opts.node ? { node: opts.node } : {}),
    informer: { backoff: { initialMs: 50, maxMs: 500 }, onStat: (s, g) => void stats.push(`${g.resource}:${s}`) },
  });
  t.after(async () => {
    await cache.stop();
    client.close();
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { api, cache, stats };
}

test("live cache over the test API server: owners, services, IP changes, deletes, selector changes, ignore annotations", async (t) => {
  const { api, cache } = await setup(t);
  api.store.create(k(namespace("shop")));
  api.store.create(k(node("n1", "192.168.1.1")));
  api.store.create(k(replicaSet("shop", "web-5c7d8", "web")));
  api.store.create(k(pod({ ns: "shop", name: "web-5c7d8-aaaaa", ip: "10.0.0.1", node: "n1", owner: { kind: "ReplicaSet", name: "web-5c7d8" }, labels: { app: "web" } })));
  api.store.create(k(service("shop", "web", "10.96.0.1", { app: "web" }, [80])));
  api.store.create(k(endpointSlice("shop", "web", [{ ip: "10.0.0.1", pod: "web-5c7d8-aaaaa" }], [8080])));
  assert.equal(await cache.waitReady(10_000), true);
  await eventually(() => cache.lookup("10.0.0.1")?.services.length === 1, { what: "pod with its service" });
  const m = cache.lookup("10.0.0.1")!;
  assert.deepEqual([m.namespace, m.pod, m.workload, m.workloadKind, m.node, m.services], ["shop", "web-5c7d8-aaaaa", "web", "Deployment", "n1", ["web"]]);
  assert.equal(cache.lookup("10.96.0.1")!.workload, "web");

  // The pod is recreated with a new IP.
  const changes: string[] = [];
  cache.on("change", (kind) => changes.push(kind));
  api.store.update(k(pod({ ns: "shop", name: "web-5c7d8-aaaaa", ip: "10.0.0.2", node: "n1", owner: { kind: "ReplicaSet", name: "web-5c7d8" }, labels: { app: "web" } })));
  await eventually(() => cache.lookup("10.0.0.2")?.pod === "web-5c7d8-aaaaa", { what: "new IP" });
  assert.equal(cache.lookup("10.0.0.1")?.kind, "Endpoint", "old IP is only a (stale) slice address now");
  assert.ok(changes.includes("pods"));

  // Service selector changes: the test acts as the endpoint controller.
  api.store.create(k(pod({ ns: "shop", name: "api-6d8f9-bbbbb", ip: "10.0.0.3", node: "n1", labels: { app: "api" } })));
  api.store.update(k(endpointSlice("shop", "web", [{ ip: "10.0.0.3", pod: "api-6d8f9-bbbbb" }], [8080])));
  await eventually(() => cache.lookup("10.0.0.3")?.services[0] === "web", { what: "backend moved" });
  assert.equal(cache.lookup("10.0.0.1"), undefined);
  assert.deepEqual(cache.lookup("10.0.0.2")!.services, []);

  // Ignore annotations at each scope, toggled live.
  const ignored = () => cache.lookup("10.0.0.2")?.ignored;
  api.store.update(k(namespace("shop", { "watch-auditor.dev/ignore": "true" })));
  await eventually(() => ignored() === true, { what: "namespace ignore" });
  api.store.update(k(namespace("shop")));
  await eventually(() => ignored() === false, { what: "namespace unignore" });
  api.store.update(k(node("n1", "192.168.1.1", { "owlk8s/ignore": "true" })));
  await eventually(() => ignored() === true, { what: "node ignore" });
  api.store.update(k(node("n1", "192.168.1.1")));
  await eventually(() => ignored() === false, { what: "node unignore" });
  api.store.update(k(pod({ ns: "shop", name: "web-5c7d8-aaaaa", ip: "10.0.0.2", node: "n1", owner: { kind: "ReplicaSet", name: "web-5c7d8" }, annotations: { "watch-auditor.dev/ignore": "true" } })));
  await eventually(() => ignored() === true, { what: "pod ignore" });

  api.store.delete("pods", "shop", "web-5c7d8-aaaaa");
  await eventually(() => cache.lookup("10.0.0.2") === undefined, { what: "deleted pod" });
});

test("the cache reconnects after cut watches and converges after a 410 relist", async (t) => {
  const { api, cache, stats } = await setup(t);
  api.store.create(k(pod({ name: "a", ip: "10.1.0.1" })));
  assert.equal(await cache.waitReady(10_000), true);
  await eventually(() => api.openWatches >= 7, { what: "7 watches open" });

  assert.ok(api.cutWatches() >= 7);
  api.store.create(k(pod({ name: "b", ip: "10.1.0.2" })));
  await eventually(() => cache.lookup("10.1.0.2")?.pod === "b", { timeoutMs: 20_000, what: "event after reconnect" });

  // While disconnected, history is compacted away: the resume gets 410 and the informer relists.
  const before = stats.filter((s) => s === "pods:relist").length;
  api.stallWatches();
  api.store.delete("pods", "default", "a");
  api.store.create(k(pod({ name: "c", ip: "10.1.0.3" })));
  api.compact();
  api.cutWatches();
  await eventually(() => cache.lookup("10.1.0.3")?.pod === "c" && cache.lookup("10.1.0.1") === undefined, { timeoutMs: 20_000, what: "relisted state" });
  assert.ok(stats.filter((s) => s === "pods:relist").length > before, `a relist happened: ${stats.join(",")}`);
});

test("node mode: only that node's pods are cached; remote backends still resolve through EndpointSlices", async (t) => {
  const { api, cache } = await setup(t, { node: "n1" });
  api.store.create(k(pod({ name: "local", ip: "10.2.0.1", node: "n1" })));
  api.store.create(k(pod({ name: "remote-6d8f9b7c4-zzzzz", ip: "10.2.0.2", node: "n2" })));
  api.store.create(k(endpointSlice("default", "remote", [{ ip: "10.2.0.2", pod: "remote-6d8f9b7c4-zzzzz", node: "n2" }])));
  assert.equal(await cache.waitReady(10_000), true);
  await eventually(() => cache.lookup("10.2.0.1")?.pod === "local" && cache.lookup("10.2.0.2") !== undefined, { what: "both resolved" });
  assert.equal(cache.index.sizes().pods, 1);
  const r = cache.lookup("10.2.0.2")!;
  assert.deepEqual([r.kind, r.workload, r.services], ["Endpoint", "remote", ["remote"]]);
});
