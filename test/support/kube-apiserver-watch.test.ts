import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { eventually } from "./cli.js";
import { startTestApiServer, type TestApiServer } from "./kube-apiserver/index.js";
import { openRawWatch, type RawWatch } from "./kube-apiserver/raw-client.js";
import { call, pod } from "./kube-apiserver/test-helpers.js";

const summary = (w: RawWatch) => w.events.map((e) => `${e.type} ${e.object.metadata?.name ?? ""}`);

describe("test API server: watch", () => {
  let api: TestApiServer;
  const open: RawWatch[] = [];
  const watch = async (path: string) => {
    const w = await openRawWatch(api.url, path);
    open.push(w);
    return w;
  };
  before(async () => {
    api = await startTestApiServer({ bookmarkIntervalMs: 100 });
  });
  after(async () => {
    for (const w of open) w.close();
    await api.close();
  });

  it("streams chunked JSON lines: initial ADDED state, then live events in order", async () => {
    const ns = "/api/v1/namespaces/w1/pods";
    await call(api.url, "POST", ns, pod("pre"));
    const w = await watch(`${ns}?watch=1`);
    assert.equal(w.status, 200);
    assert.equal(w.headers["content-type"], "application/json");
    assert.equal(w.headers["transfer-encoding"], "chunked");
    await eventually(() => w.events.length === 1, { what: "initial ADDED" });
    await call(api.url, "POST", ns, pod("live"));
    await call(api.url, "PATCH", `${ns}/live`, { metadata: { labels: { x: "1" } } }, { contentType: "application/merge-patch+json" });
    await call(api.url, "DELETE", `${ns}/live`);
    // An unscheduled pod's deletion is graceful with period 0: watchers see the deletionTimestamp
    // (MODIFIED) and then DELETED, as recorded from a real server (watch/pods-status-changes).
    await eventually(() => w.events.length === 5, { what: "live events" });
    assert.deepEqual(summary(w), ["ADDED pre", "ADDED live", "MODIFIED live", "MODIFIED live", "DELETED live"]);
    assert.equal(w.events[3]!.object.metadata!.deletionGracePeriodSeconds, 0);
    assert.equal(w.events[0]!.object.kind, "Pod", "watch objects carry kind");
    const rvs = w.events.slice(1).map((e) => Number(e.object.metadata!.resourceVersion));
    assert.ok(rvs[0]! < rvs[1]! && rvs[1]! < rvs[2]! && rvs[2]! < rvs[3]!, "each event has a newer resourceVersion, DELETED included");
  });

  it("replays history after a resourceVersion and reports 410 in-stream after compaction", async () => {
    const ns = "/api/v1/namespaces/w2/configmaps";
    const cm = (name: string) => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name } });
    const first = await call(api.url, "POST", ns, cm("one"));
    const rv = first.body.metadata.resourceVersion;
    await call(api.url, "POST", ns, cm("two"));
    await call(api.url, "DELETE", `${ns}/one`);
    const w = await watch(`${ns}?watch=true&resourceVersion=${rv}`);
    await eventually(() => w.events.length === 2, { what: "replayed events" });
    assert.deepEqual(summary(w), ["ADDED two", "DELETED one"], "only events after the given RV, no synthetic state");

    const current = (await call(api.url, "GET", ns)).body.metadata.resourceVersion;
    api.compact();
    const old = await watch(`${ns}?watch=1&resourceVersion=${rv}`);
    assert.equal(old.status, 200);
    const end = await old.ended;
    assert.equal(end.how, "end", "server closes the stream cleanly after the ERROR event");
    assert.equal(old.events.length, 1);
    assert.equal(old.events[0]!.type, "ERROR");
    assert.deepEqual(
      { kind: old.events[0]!.object.kind, code: old.events[0]!.object.code, reason: old.events[0]!.object.reason },
      { kind: "Status", code: 410, reason: "Expired" },
    );
    const fresh = await watch(`${ns}?watch=1&resourceVersion=${current}`);
    await call(api.url, "POST", ns, cm("three"));
    await eventually(() => fresh.events.length === 1, { what: "watch from the compaction point works" });
    assert.deepEqual(summary(fresh), ["ADDED three"]);
  });

  it("applies label selectors to events: leaving the selector is a DELETED, entering an ADDED", async () => {
    const ns = "/api/v1/namespaces/w3/pods";
    const w = await watch(`${ns}?watch=1&labelSelector=app%3Dweb`);
    await call(api.url, "POST", ns, pod("p", { app: "db" }));
    await call(api.url, "PATCH", `${ns}/p`, { metadata: { labels: { app: "web" } } }, { contentType: "application/merge-patch+json" });
    await call(api.url, "PATCH", `${ns}/p`, { metadata: { labels: { app: "db" } } }, { contentType: "application/merge-patch+json" });
    await eventually(() => w.events.length === 2, { what: "selector events" });
    assert.deepEqual(summary(w), ["ADDED p", "DELETED p"]);
    assert.deepEqual(w.events[1]!.object.metadata!.labels, { app: "web" }, "the DELETED carries the last matching state");
  });

  it("sends BOOKMARKs with only a resourceVersion when asked, and none otherwise", async () => {
    const ns = "/api/v1/namespaces/w4/pods";
    const withBm = await watch(`${ns}?watch=1&allowWatchBookmarks=true&resourceVersion=${(await call(api.url, "GET", ns)).body.metadata.resourceVersion}`);
    const without = await watch(`${ns}?watch=1`);
    await eventually(() => withBm.events.filter((e) => e.type === "BOOKMARK").length >= 2, { what: "bookmarks" });
    const bm = withBm.events.find((e) => e.type === "BOOKMARK")!;
    // As recorded (watch/bookmarks-crud): only the RV, and the null creationTimestamp of an empty object.
    assert.deepEqual(bm.object.metadata, { resourceVersion: bm.object.metadata!.resourceVersion, creationTimestamp: null });
    assert.equal(bm.object.kind, "Pod");
    assert.equal(without.events.filter((e) => e.type === "BOOKMARK").length, 0);

    const init = await watch(`${ns}?watch=1&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan`);
    await eventually(() => init.events.some((e) => e.type === "BOOKMARK"), { what: "initial-events-end bookmark" });
    assert.deepEqual(init.events[0]!.object.metadata!.annotations, { "k8s.io/initial-events-end": "true" });
    assert.equal((await call(api.url, "GET", `${ns}?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan`)).status, 400, "needs bookmarks");
    assert.equal((await call(api.url, "GET", `${ns}?watch=1&resourceVersionMatch=NotOlderThan`)).status, 400);
  });

  it("closes the stream cleanly after timeoutSeconds", async () => {
    const w = await watch("/api/v1/namespaces/w5/pods?watch=1&timeoutSeconds=1");
    const t0 = Date.now();
    const end = await w.ended;
    assert.equal(end.how, "end");
    assert.ok(Date.now() - t0 >= 500, "not closed immediately");
  });

  it("cutWatches resets every open stream mid-flight without a final chunk", async () => {
    const w = await watch("/api/v1/namespaces/w6/pods?watch=1");
    await eventually(() => api.openWatches > 0);
    const n = api.cutWatches();
    assert.ok(n >= 1);
    const end = await w.ended;
    assert.equal(end.how, "error", "a reset stream is an error for the client, not a clean end");
  });

  it("stallWatches keeps streams open but silent; new watches still work", async () => {
    const ns = "/api/v1/namespaces/w7/pods";
    const stalled = await watch(`${ns}?watch=1&allowWatchBookmarks=true&timeoutSeconds=1`);
    await eventually(() => api.openWatches > 0);
    api.stallWatches();
    const fresh = await watch(`${ns}?watch=1`);
    await call(api.url, "POST", ns, pod("after-stall"));
    await eventually(() => fresh.events.length === 1, { what: "event on a new watch" });
    await new Promise((r) => setTimeout(r, 1300)); // several bookmark intervals, past timeoutSeconds
    assert.deepEqual(summary(stalled), [], "no events and no bookmarks on the stalled stream");
    let settled = false;
    void stalled.ended.then(() => (settled = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(settled, false, "the stalled connection stays open, even past its timeoutSeconds");
  });

  it("watches one object by name, via the legacy /watch/ path, and across namespaces", async () => {
    const byName = await watch("/api/v1/namespaces/w8/pods?watch=1&fieldSelector=metadata.name%3Dme");
    const legacy = await watch("/api/v1/watch/namespaces/w8/pods/me");
    const allNs = await watch("/api/v1/pods?watch=1&labelSelector=w8");
    await call(api.url, "POST", "/api/v1/namespaces/w8/pods", pod("other", { w8: "y" }));
    await call(api.url, "POST", "/api/v1/namespaces/w8/pods", pod("me", { w8: "y" }));
    await eventually(() => byName.events.length === 1 && legacy.events.length === 1 && allNs.events.length === 2);
    assert.deepEqual(summary(byName), ["ADDED me"]);
    assert.deepEqual(summary(legacy), ["ADDED me"]);
    assert.deepEqual(summary(allNs), ["ADDED other", "ADDED me"]);
    // Recorded (watch/rv-invalid): a 500 from storage's number parsing, not a 400.
    const bad = await call(api.url, "GET", "/api/v1/pods?watch=1&resourceVersion=abc");
    assert.equal(bad.status, 500);
  });

  it("delivers changes made by store actors (onChange sees them in resourceVersion order)", async () => {
    const seen: number[] = [];
    const stop = api.store.onChange((e) => {
      seen.push(e.resourceVersion);
      // An actor reacting to a change with another write, as a controller would.
      if (e.type === "ADDED" && e.object.metadata.name === "kick") api.store.patchStatus("pods", "w9", "kick", { phase: "Running" });
    });
    const w = await watch("/api/v1/namespaces/w9/pods?watch=1");
    await call(api.url, "POST", "/api/v1/namespaces/w9/pods", pod("kick"));
    await eventually(() => w.events.length === 2);
    stop();
    assert.deepEqual(summary(w), ["ADDED kick", "MODIFIED kick"]);
    assert.equal((w.events[1]!.object.status as { phase: string }).phase, "Running");
    assert.deepEqual([...seen].sort((a, b) => a - b), seen);
  });
});

describe("test API server: options", () => {
  it("compactionWindow bounds watch history; requireNamespaces; validation off", async () => {
    const api = await startTestApiServer({ compactionWindow: 3, requireNamespaces: true, validation: "off" });
    try {
      const ns = "/api/v1/namespaces/opt/configmaps";
      const cm = (name: string) => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name }, unknownField: 1 });
      const missing = await call(api.url, "POST", ns, cm("a"));
      assert.equal(missing.status, 404);
      assert.equal(missing.body.message, 'namespaces "opt" not found');
      assert.equal((await call(api.url, "POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name: "opt" } })).status, 201);
      const rvs: string[] = [];
      for (const n of ["a", "b", "c", "d", "e"]) {
        const r = await call(api.url, "POST", ns, cm(n));
        assert.equal(r.status, 201, "validation off keeps unknown fields");
        assert.equal(r.body.unknownField, 1);
        rvs.push(r.body.metadata.resourceVersion);
      }
      const old = await openRawWatch(api.url, `${ns}?watch=1&resourceVersion=${rvs[0]}`);
      await old.ended;
      assert.equal(old.events[0]?.type, "ERROR", "history older than the window is gone");
      const recent = await openRawWatch(api.url, `${ns}?watch=1&resourceVersion=${rvs[2]}`);
      await eventually(() => recent.events.length === 2);
      assert.deepEqual(summary(recent), ["ADDED d", "ADDED e"]);
      recent.close();
    } finally {
      await api.close();
    }
  });
});
