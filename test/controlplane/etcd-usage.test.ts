// scanEtcdUsage against a real etcd (test/support/etcd.ts): the counts and bytes per resource,
// namespace and pair must equal what etcd itself says for the same prefixes (count_only, and a
// separate full read summed here).
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { startEtcd, freePorts, type EtcdServer } from "../support/etcd.js";
import { scanEtcdUsage } from "../../src/controlplane/etcd/index.js";
import { CLUSTER_SCOPED, KEYS, NAMESPACES, STORAGE_PREFIXES, etcdSays, fill } from "./etcd-data.js";

describe("etcd-usage scan on a real etcd", () => {
  let etcd: EtcdServer;
  before(async () => {
    etcd = await startEtcd({ metrics: true });
    await fill(etcd);
  });
  after(async () => {
    await etcd?.close();
  });

  test("keys and bytes per resource, namespace and pair equal etcd's own counts, in small pages", async () => {
    const u = await scanEtcdUsage({ endpoints: [etcd.clientUrl] }, { pageSize: 4, idleProbeMs: 0, top: 5 });
    assert.equal(u.complete, true, u.error);
    assert.equal(u.error, undefined);
    const total = await etcdSays(etcd, "/registry/");
    assert.equal(u.scannedKeys, total.keys);
    assert.equal(u.scannedBytes, total.bytes);
    assert.ok(u.pages >= Math.ceil(total.keys / 4), `${u.pages} pages for ${total.keys} keys of page size 4`);

    // every resource: the row equals etcd's answer for its storage prefix
    const rows = new Map(u.resources.map((r) => [r.resource, r]));
    for (const [resource, prefix] of Object.entries(STORAGE_PREFIXES)) {
      const want = await etcdSays(etcd, prefix);
      assert.deepEqual(rows.get(resource), { resource, ...want }, resource);
    }
    // the one key that is not laid out like an object
    assert.deepEqual(rows.get("(other)"), { resource: "(other)", ...(await etcdSays(etcd, "/registry/odd/")) });
    assert.equal(u.unparsedKeys, 1);
    assert.equal(u.resources.length, Object.keys(STORAGE_PREFIXES).length + 1);
    assert.deepEqual(
      u.resources.map((r) => r.bytes),
      [...u.resources.map((r) => r.bytes)].sort((a, b) => b - a),
      "sorted by bytes, largest first",
    );

    // every (resource, namespace) pair and every namespace
    const pairs = new Map(u.pairs.map((p) => [`${p.resource}/${p.namespace}`, p]));
    const nsTotals = new Map<string, { keys: number; bytes: number }>();
    let pairCount = 0;
    for (const [resource, prefix] of Object.entries(STORAGE_PREFIXES)) {
      if (CLUSTER_SCOPED.has(resource)) continue;
      for (const ns of NAMESPACES) {
        const want = await etcdSays(etcd, `${prefix}${ns}/`);
        if (want.keys === 0) {
          assert.equal(pairs.get(`${resource}/${ns}`), undefined, `${resource}/${ns} has no keys`);
          continue;
        }
        pairCount++;
        assert.deepEqual(pairs.get(`${resource}/${ns}`), { resource, namespace: ns, ...want }, `${resource}/${ns}`);
        const t = nsTotals.get(ns) ?? { keys: 0, bytes: 0 };
        nsTotals.set(ns, { keys: t.keys + want.keys, bytes: t.bytes + want.bytes });
      }
    }
    assert.equal(u.pairs.length, pairCount);
    assert.deepEqual(
      [...u.namespaces].sort((a, b) => a.namespace!.localeCompare(b.namespace!)),
      [...nsTotals].map(([namespace, t]) => ({ namespace, ...t })).sort((a, b) => a.namespace.localeCompare(b.namespace)),
    );
    let cluster = { keys: 0, bytes: 0 };
    for (const r of CLUSTER_SCOPED) {
      const w = await etcdSays(etcd, STORAGE_PREFIXES[r]!);
      cluster = { keys: cluster.keys + w.keys, bytes: cluster.bytes + w.bytes };
    }
    assert.deepEqual(u.clusterScoped, cluster);

    // the five largest values under /registry/, read back from etcd
    const all = await etcd.client.range("/registry/", { prefix: true });
    const top5 = all.kvs.map((kv) => ({ key: kv.key, bytes: kv.value?.length ?? 0 })).sort((a, b) => b.bytes - a.bytes).slice(0, 5);
    assert.deepEqual(u.largest.map((o) => ({ key: o.key, bytes: o.bytes })), top5);
    assert.deepEqual(u.largest[0], { key: "/registry/configmaps/ns-b/big", resource: "configmaps", namespace: "ns-b", name: "big", bytes: top5[0]!.bytes });
    assert.equal(u.largest.find((o) => o.resource === "customresourcedefinitions.apiextensions.k8s.io")?.namespace, undefined);
  });

  test("a narrower --prefix still names resources from /registry/; the page size does not change the figures", async () => {
    const big = await scanEtcdUsage({ endpoints: [etcd.clientUrl] }, { pageSize: 5000, idleProbeMs: 0 });
    const one = await scanEtcdUsage({ endpoints: [etcd.clientUrl] }, { pageSize: 1, idleProbeMs: 0 });
    assert.deepEqual(one.resources, big.resources);
    assert.deepEqual(one.pairs, big.pairs);
    assert.equal(big.pages, 1);
    assert.ok(one.pages >= big.scannedKeys, `${one.pages} requests for ${big.scannedKeys} keys of page size 1`);
    const pods = await scanEtcdUsage({ endpoints: [etcd.clientUrl] }, { prefix: "/registry/pods/", idleProbeMs: 0 });
    assert.deepEqual(pods.resources, [{ resource: "pods", ...(await etcdSays(etcd, "/registry/pods/")) }]);
    assert.equal(pods.prefix, "/registry/pods/");
  });

  test("all pages are read at the first page's revision: keys written during the scan are not counted", async () => {
    const before = await etcdSays(etcd, "/registry/");
    let wrote: Promise<unknown> | undefined;
    let wroteAt = 0;
    const u = await scanEtcdUsage(
      { endpoints: [etcd.clientUrl] },
      {
        pageSize: 2,
        maxKeysPerSecond: 20, // ≥ 1.4 s for the ~30 keys: the writes below land mid-scan
        idleProbeMs: 0,
        onProgress: (p) => {
          if (p.pages === 1)
            wrote = Promise.all([etcd.client.put("/registry/pods/zz-late/p", "x".repeat(5000)), etcd.client.put("/registry/aaa/late", "y")]).then(() => (wroteAt = Date.now()));
        },
      },
    );
    await wrote;
    const scanEnd = Date.now();
    assert.ok(wroteAt > 0 && wroteAt < scanEnd, "the writes finished before the scan did");
    assert.equal(u.complete, true, u.error);
    assert.deepEqual({ keys: u.scannedKeys, bytes: u.scannedBytes }, before);
    assert.ok(u.durationMs >= ((before.keys - 2) / 20) * 1000 * 0.9, `the token bucket paced the scan: ${u.durationMs} ms for ${before.keys} keys at 20 keys/s`);
    assert.equal(u.maxKeysPerSecond, 20);
    assert.deepEqual(await etcdSays(etcd, "/registry/pods/zz-late/"), { keys: 1, bytes: 5000 }, "the late key is in etcd");
    await etcd.client.deleteRange("/registry/pods/zz-late/", { prefix: true });
    await etcd.client.deleteRange("/registry/aaa/", { prefix: true });
  });

  test("the pinned revision compacted mid-scan: a warning, the rest read at the latest revision", async () => {
    let compacted: Promise<unknown> | undefined;
    const u = await scanEtcdUsage(
      { endpoints: [etcd.clientUrl] },
      {
        pageSize: 3,
        idleProbeMs: 0,
        onProgress: (p) => {
          if (p.pages === 1)
            compacted = etcd.client.put("/registry/zzz/compaction-marker/x", "z").then((r) => etcd.client.compact(r.header.revision, { physical: true }));
        },
        maxKeysPerSecond: 15, // ~2 s: the compaction lands mid-scan
      },
    );
    await compacted;
    assert.equal(u.complete, true, u.error);
    assert.equal(u.warnings.length, 1);
    assert.match(u.warnings[0]!, /^revision \d+ was compacted during the scan/);
    // the marker (last in key order) was read at the latest revision after the warning
    assert.equal(u.scannedKeys, (await etcdSays(etcd, "/registry/")).keys);
    await etcd.client.deleteRange("/registry/zzz/", { prefix: true });
  });

  test("the first endpoint down: the next one is scanned, the skipped one named in the warnings", async () => {
    const [port] = await freePorts(1);
    const dead = `http://127.0.0.1:${port}`;
    const u = await scanEtcdUsage({ endpoints: [dead, etcd.clientUrl], timeoutMs: 1000 }, { idleProbeMs: 0 });
    assert.equal(u.complete, true, u.error);
    assert.equal(u.endpoint, etcd.clientUrl);
    assert.equal(u.scannedKeys, (await etcdSays(etcd, "/registry/")).keys);
    assert.equal(u.warnings.length, 1);
    assert.match(u.warnings[0]!, new RegExp(`^etcd ${dead.replace(/\./g, "\\.")}: UNAVAILABLE: .*ECONNREFUSED.*: scanned ${etcd.clientUrl.replace(/\./g, "\\.")} instead$`));
  });

  test("latency probe: idle and during-scan samples of etcd's answer time", async () => {
    const u = await scanEtcdUsage({ endpoints: [etcd.clientUrl] }, { pageSize: 2, maxKeysPerSecond: 60, idleProbeMs: 300, probeIntervalMs: 50 });
    assert.equal(u.latency.probeIntervalMs, 50);
    assert.ok(u.latency.idle.samples >= 3, JSON.stringify(u.latency));
    assert.ok(u.latency.during.samples >= 3, JSON.stringify(u.latency));
    for (const s of [u.latency.idle, u.latency.during]) {
      assert.equal(s.failures, 0);
      assert.ok(s.p50Ms! > 0 && s.p50Ms! <= s.p99Ms! && s.p99Ms! <= s.maxMs!, JSON.stringify(s));
    }
  });
});

describe("etcd-usage scan: failures are reported, never a hang", () => {
  test("etcd frozen (SIGSTOP) mid-scan: partial result with the reason, within the deadline", async () => {
    const etcd = await startEtcd();
    try {
      await fill(etcd);
      let paused: Promise<void> | undefined;
      const t0 = Date.now();
      const u = await scanEtcdUsage(
        { endpoints: [etcd.clientUrl], timeoutMs: 800 },
        {
          pageSize: 5,
          idleProbeMs: 0,
          maxKeysPerSecond: 20,
          onProgress: (p) => {
            if (p.pages !== 1) return;
            // SIGSTOP now (synchronously, before the next page is asked for); pause() waits until every thread stopped
            process.kill(etcd.pid, "SIGSTOP");
            paused = etcd.pause();
          },
        },
      );
      const took = Date.now() - t0;
      await paused;
      assert.equal(u.complete, false);
      assert.match(u.error ?? "", /DEADLINE_EXCEEDED/);
      // The bucket allows one page of burst, so the page asked for right after the SIGSTOP may
      // still be answered while etcd's threads are being stopped; the one after waits ≥ 150 ms.
      assert.ok(u.scannedKeys >= 5 && u.scannedKeys <= 10, `stopped after ${u.scannedKeys} of ${KEYS.length - 2} keys`);
      assert.match(u.error ?? "", new RegExp(`after ${u.scannedKeys} keys in [12] pages\\)$`));
      assert.ok(took < 8000, `gave up after ${took} ms (deadline 800 ms, one retry)`);
      await etcd.resume();
    } finally {
      await etcd.close();
    }
  });

  test("nothing listening: partial (empty) result naming the endpoint", async () => {
    const [port] = await freePorts(1);
    const u = await scanEtcdUsage({ endpoints: [`http://127.0.0.1:${port}`], timeoutMs: 1000 }, { idleProbeMs: 0 });
    assert.equal(u.complete, false);
    assert.equal(u.scannedKeys, 0);
    assert.match(u.error ?? "", new RegExp(`^etcd http://127\\.0\\.0\\.1:${port}: UNAVAILABLE: .*ECONNREFUSED`));
    const two = await scanEtcdUsage({ endpoints: [`http://127.0.0.1:${port}`, `http://127.0.0.1:${port}`], timeoutMs: 1000 }, { idleProbeMs: 0 });
    assert.equal(two.complete, false);
    assert.equal(two.error!.split("; ").length, 2, "every endpoint tried is named");
  });

  test("bad options throw errors naming the option", async () => {
    await assert.rejects(scanEtcdUsage({ endpoints: ["ftp://x:1"] }), /--etcd-endpoints: "ftp:\/\/x:1": scheme must be http or https/);
    await assert.rejects(scanEtcdUsage({ endpoints: [] }), /--etcd-endpoints: no endpoint given/);
    await assert.rejects(scanEtcdUsage({ endpoints: ["http://127.0.0.1:1"] }, { pageSize: 0 }), /--page-size: 0 is not an integer between 1 and 5000/);
    await assert.rejects(scanEtcdUsage({ endpoints: ["http://127.0.0.1:1"] }, { maxKeysPerSecond: 2e6 }), /--max-keys-per-second/);
    await assert.rejects(scanEtcdUsage({ endpoints: ["https://127.0.0.1:1"], cert: "/nonexistent.pem" }), /--etcd-cert given without --etcd-key/);
    await assert.rejects(scanEtcdUsage({ endpoints: ["https://127.0.0.1:1"], cacert: "/nonexistent.pem" }), /--etcd-cacert \/nonexistent\.pem: no such file/);
    await assert.rejects(scanEtcdUsage({ endpoints: ["http://127.0.0.1:1"], cacert: "/etc/hostname" }), /need https:\/\/ endpoints/);
  });
});

// KEYS is the shared data set; make sure it covers each form the scanner must parse.
test("the data set holds namespaced, cluster-scoped, group-prefixed and renamed forms", () => {
  const keys = KEYS.map(([k]) => k);
  for (const p of ["/registry/pods/ns-a/", "/registry/namespaces/", "/registry/apiregistration.k8s.io/apiservices/", "/registry/example.com/widgets/ns-a/", "/registry/services/specs/", "/registry/minions/", "/registry/events/"])
    assert.ok(keys.some((k) => k.startsWith(p)), p);
});
