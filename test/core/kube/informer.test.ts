// Informer against the test API server: list+watch, resuming after a cut, the idle timeout
// on a stalled watch, and relisting with the right diff after a 410.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ConfigMap } from "kubernetes-types/core/v1.js";
import { startTestApiServer, type TestApiServer } from "../../support/kube-apiserver/index.js";
import { until } from "./helpers.js";
import { CONFIGMAPS, Informer, KubeClient, SharedInformerFactory } from "../../../src/core/kube/index.js";

interface Log {
  events: string[];
}

function record(inf: Informer<ConfigMap>): Log {
  const log: Log = { events: [] };
  inf.on("add", (o) => log.events.push(`add ${o.metadata?.name} ${o.data?.v ?? ""}`.trim()));
  inf.on("update", (a, b) => log.events.push(`update ${b.metadata?.name} ${a.data?.v ?? ""}->${b.data?.v ?? ""}`));
  inf.on("delete", (o) => log.events.push(`delete ${o.metadata?.name}`));
  return log;
}

const cm = (ns: string, name: string, v: string) => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: ns }, data: { v } });

describe("Informer", () => {
  let api: TestApiServer;
  let dir: string;
  let kube: KubeClient;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "kube-informer-"));
    api = await startTestApiServer({ bookmarkIntervalMs: 200 });
    kube = await KubeClient.load({ kubeconfig: api.writeKubeconfig(dir) });
  });
  after(async () => {
    kube.close();
    await api.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("lists, syncs, then follows adds, updates and deletes; only its namespace", async () => {
    api.store.create(cm("inf1", "a", "1"));
    api.store.create(cm("elsewhere", "x", "1"));
    const inf = new Informer<ConfigMap>(kube, CONFIGMAPS, { namespace: "inf1" });
    const log = record(inf);
    let synced = 0;
    inf.on("synced", () => synced++);
    inf.start();
    try {
      await inf.waitForSync();
      assert.equal(synced, 1);
      assert.deepEqual(log.events, ["add a 1"]);
      await kube.create(CONFIGMAPS, cm("inf1", "b", "1"));
      await kube.patch(CONFIGMAPS, "a", { data: { v: "2" } }, { namespace: "inf1", type: "merge" });
      await kube.delete(CONFIGMAPS, "b", { namespace: "inf1" });
      await kube.create(CONFIGMAPS, cm("elsewhere", "y", "1"));
      await until(() => assert.equal(log.events.length, 4));
      assert.deepEqual(log.events, ["add a 1", "add b 1", "update a 1->2", "delete b"]);
      assert.equal(inf.get("inf1", "a")?.data?.v, "2");
      assert.equal(inf.get("inf1", "b"), undefined);
      assert.deepEqual(inf.list().map((o) => o.metadata?.name), ["a"]);
    } finally {
      await inf.stop();
    }
    await until(() => assert.equal(api.openWatches, 0, "stop() closes the watch"));
  });

  it("survives a cut watch: reconnects from its resourceVersion without relisting and misses nothing", async () => {
    const inf = new Informer<ConfigMap>(kube, CONFIGMAPS, { namespace: "inf2", backoff: { initialMs: 50, maxMs: 200 } });
    const log = record(inf);
    inf.start();
    try {
      await inf.waitForSync();
      await until(() => assert.ok(api.openWatches >= 1, "api.openWatches >= 1"));
      assert.ok(api.cutWatches() >= 1, "api.cutWatches() >= 1");
      // Written while the informer may be disconnected: the resumed watch must replay it.
      api.store.create(cm("inf2", "during-cut", "1"));
      await until(() => assert.deepEqual(log.events, ["add during-cut 1"]));
      assert.equal(inf.stats.lists, 1, "resumed the watch, no relist");
      assert.ok(inf.stats.restarts >= 1, "counted the restart");
      api.store.create(cm("inf2", "after", "1"));
      await until(() => assert.deepEqual(log.events, ["add during-cut 1", "add after 1"]));
    } finally {
      await inf.stop();
    }
  });

  it("detects a stalled watch with the idle timeout, then relists after 410 and emits exactly the diff", async () => {
    api.store.create(cm("inf3", "keep", "1"));
    api.store.create(cm("inf3", "change", "1"));
    api.store.create(cm("inf3", "remove", "1"));
    api.store.create(cm("inf3", "recreate", "1"));
    const inf = new Informer<ConfigMap>(kube, CONFIGMAPS, { namespace: "inf3", idleTimeoutMs: 1500, backoff: { initialMs: 50, maxMs: 200 } });
    const log = record(inf);
    const errors: string[] = [];
    inf.on("error", (e) => errors.push(e.code ?? String(e.status)));
    inf.start();
    try {
      await inf.waitForSync();
      await until(() => assert.ok(api.openWatches >= 1, "api.openWatches >= 1"));
      log.events.length = 0;
      api.stallWatches();
      // While the stream is silent: change the world, then compact so the informer's RV is gone.
      api.store.update({ ...(api.store.get("configmaps", "inf3", "change") as object), data: { v: "2" } } as never);
      api.store.delete("configmaps", "inf3", "remove");
      api.store.delete("configmaps", "inf3", "recreate");
      api.store.create(cm("inf3", "recreate", "2"));
      api.store.create(cm("inf3", "new", "1"));
      api.compact();
      await until(() => assert.equal(inf.stats.relists, 1), { timeoutMs: 20_000 });
      await until(() => assert.equal(log.events.length, 5));
      assert.deepEqual([...log.events].sort(), ["add new 1", "add recreate 2", "delete recreate", "delete remove", "update change 1->2"]);
      assert.ok(errors.includes("EIDLE"), `idle timeout reported, got ${errors.join(",")}`);
      assert.ok(errors.includes("410"), `410 reported, got ${errors.join(",")}`);
      assert.deepEqual(inf.list().map((o) => `${o.metadata?.name}=${o.data?.v}`).sort(), ["change=2", "keep=1", "new=1", "recreate=2"]);
      // And the watch is live again after the relist.
      api.store.create(cm("inf3", "later", "1"));
      await until(() => assert.ok(log.events.includes("add later 1"), `log.events.includes("add later 1")`));
    } finally {
      await inf.stop();
    }
  });

  it("re-watches from its resourceVersion when the server ends a watch at timeoutSeconds (no relist)", async () => {
    const inf = new Informer<ConfigMap>(kube, CONFIGMAPS, { namespace: "inf6", watchTimeoutSeconds: 1 });
    const log = record(inf);
    const watches = () => api.requests.filter((r) => r.verb === "watch" && r.namespace === "inf6");
    inf.start();
    try {
      await inf.waitForSync();
      await until(() => assert.ok(watches().length >= 3, `3 watches, saw ${watches().length}`));
      assert.ok(watches().every((w) => w.query.timeoutSeconds === "1" && w.query.allowWatchBookmarks === "true"), "timeoutSeconds and bookmarks requested");
      assert.equal(inf.stats.lists, 1);
      api.store.create(cm("inf6", "x", "1"));
      await until(() => assert.deepEqual(log.events, ["add x 1"]));
    } finally {
      await inf.stop();
    }
  });

  it("backs off on failing lists and recovers; handler exceptions do not stop it", async () => {
    api.faults.inject({ verb: "list", pathRegex: "/namespaces/inf4/", status: 503, count: 3 });
    const inf = new Informer<ConfigMap>(kube, CONFIGMAPS, { namespace: "inf4", backoff: { initialMs: 40, maxMs: 100 } });
    inf.on("add", () => {
      throw new Error("handler bug");
    });
    const log = record(inf);
    inf.start();
    try {
      await inf.waitForSync();
      assert.equal(inf.stats.restarts, 3);
      await kube.create(CONFIGMAPS, cm("inf4", "x", "1"));
      await until(() => assert.deepEqual(log.events, ["add x 1"]));
      assert.equal(inf.stats.handlerErrors, 1);
    } finally {
      await inf.stop();
      api.faults.clear();
    }
  });

  it("SharedInformerFactory shares one watch per resource and selector", async () => {
    const factory = new SharedInformerFactory(kube);
    const a = factory.informerFor<ConfigMap>(CONFIGMAPS, { namespace: "inf5" });
    const b = factory.informerFor<ConfigMap>(CONFIGMAPS, { namespace: "inf5" });
    const c = factory.informerFor<ConfigMap>(CONFIGMAPS, { namespace: "inf5", labelSelector: "x=y" });
    assert.equal(a, b);
    assert.notEqual(a, c);
    factory.start();
    const watches = () => api.requests.filter((r) => r.verb === "watch" && r.namespace === "inf5");
    try {
      await factory.waitForSync();
      await until(() => assert.equal(watches().length, 2));
      assert.deepEqual(watches().map((r) => r.query.labelSelector ?? "").sort(), ["", "x=y"]);
    } finally {
      await factory.stop();
    }
    assert.equal(a.running, false);
  });
});
