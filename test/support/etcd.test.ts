// Proves test/support/etcd.ts against the real etcd (Debian etcd-server, /usr/bin/etcd).
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { startEtcd, threadStates, EtcdGatewayError, DEFAULT_ETCD_BIN, type EtcdServer } from "./etcd.js";

const RECORDED_ETCD_PROM = fileURLToPath(new URL("../../../shared/kube/recorded-v1.25/metrics/etcd.prom", import.meta.url));

// What we write: key -> value size. Sorted order is what etcd must return.
const PUTS: Array<[string, number]> = [
  ["/registry/configmaps/ns-a/cm-1", 100],
  ["/registry/configmaps/ns-a/cm-2", 200],
  ["/registry/configmaps/ns-a/cm-3", 300],
  ["/registry/configmaps/ns-b/cm-1", 50],
  ["/registry/pods/ns-a/pod-1", 1000],
  ["/registry/pods/ns-a/pod-2", 1500],
  ["/registry/secrets/ns-a/s-1", 10],
];
const valueFor = (key: string, size: number): Buffer => Buffer.alloc(size, key.length % 26 + 97); // distinct fill per key length
const under = (prefix: string): Array<[string, number]> => PUTS.filter(([k]) => k.startsWith(prefix)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

/** Prometheus text → sample lines by metric name (without labels). */
function parseProm(text: string): { samples: Map<string, Array<{ labels: string; value: number }>>; help: Map<string, string>; type: Map<string, string> } {
  const samples = new Map<string, Array<{ labels: string; value: number }>>();
  const help = new Map<string, string>();
  const type = new Map<string, string>();
  for (const line of text.split("\n")) {
    let m = /^# HELP (\S+) (.*)$/.exec(line);
    if (m) {
      help.set(m[1]!, m[2]!);
      continue;
    }
    m = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (m) {
      type.set(m[1]!, m[2]!);
      continue;
    }
    m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m) {
      const list = samples.get(m[1]!) ?? [];
      list.push({ labels: m[2] ?? "", value: Number(m[3]) });
      samples.set(m[1]!, list);
    }
  }
  return { samples, help, type };
}

describe("etcd fixture: key-value API over the v3 JSON gateway", () => {
  let etcd: EtcdServer;
  // A fresh etcd is at revision 1; every put / delete that changes something adds one.
  let expectedRevision = 1;

  before(async () => {
    etcd = await startEtcd({ metrics: true });
    for (const [key, size] of PUTS) {
      const r = await etcd.client.put(key, valueFor(key, size));
      expectedRevision += 1;
      assert.equal(r.header.revision, expectedRevision, `revision after putting ${key}`);
    }
  });
  after(async () => {
    await etcd?.close();
  });

  test("the fixture answers on loopback URLs and /health says true", async () => {
    assert.match(etcd.clientUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(etcd.metricsUrl ?? "", /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(etcd.clientUrl, etcd.metricsUrl);
    const h = await etcd.health();
    assert.equal(h.status, 200);
    assert.deepEqual(JSON.parse(h.body), { health: "true" });
    const viaMetricsPort = await fetch(`${etcd.metricsUrl}/health`);
    assert.deepEqual(await viaMetricsPort.json(), { health: "true" });
  });

  test("range with limit: count is the whole range, kvs are cut, more is true", async () => {
    const prefix = "/registry/configmaps/ns-a/";
    const expected = under(prefix);
    assert.equal(expected.length, 3);
    const r = await etcd.client.range(prefix, { prefix: true, limit: 2 });
    assert.equal(r.count, expected.length);
    assert.equal(r.kvs.length, 2);
    assert.equal(r.more, true);
    assert.equal(r.raw.more, true);
    assert.deepEqual(r.kvs.map((kv) => kv.key), expected.slice(0, 2).map(([k]) => k));
    for (const kv of r.kvs) {
      const size = PUTS.find(([k]) => k === kv.key)![1];
      assert.deepEqual(kv.value, valueFor(kv.key, size));
      assert.equal(kv.version, 1);
      assert.equal(kv.createRevision, kv.modRevision);
    }
    const all = await etcd.client.range(prefix, { prefix: true });
    assert.equal(all.kvs.length, expected.length);
    assert.equal(all.more, false);
    assert.equal(all.raw.more, undefined, "etcd leaves more:false out of the JSON");
  });

  test("keys-only returns keys in order and no values", async () => {
    const r = await etcd.client.range("/registry/", { prefix: true, keysOnly: true });
    assert.deepEqual(r.kvs.map((kv) => kv.key), under("/registry/").map(([k]) => k));
    assert.equal(r.count, PUTS.length);
    for (const kv of r.kvs) assert.equal(kv.value, undefined);
    for (const raw of r.raw.kvs ?? []) assert.equal("value" in raw, false, JSON.stringify(raw));
  });

  test("count-only returns the count and no kvs", async () => {
    const r = await etcd.client.range("/registry/pods/", { prefix: true, countOnly: true });
    assert.equal(r.count, under("/registry/pods/").length);
    assert.equal(r.count, 2);
    assert.deepEqual(r.kvs, []);
    assert.equal(r.raw.kvs, undefined);
  });

  test("range by prefix: range_end is the prefix with its last byte + 1", async () => {
    const prefix = "/registry/configmaps/";
    // "/" + 1 is "0": [/registry/configmaps/, /registry/configmaps0) is every configmap.
    const explicit = await etcd.client.range(prefix, { rangeEnd: "/registry/configmaps0" });
    const byPrefix = await etcd.client.range(prefix, { prefix: true });
    const expected = under(prefix);
    assert.equal(expected.length, 4);
    assert.deepEqual(explicit.kvs.map((kv) => kv.key), expected.map(([k]) => k));
    assert.deepEqual(byPrefix.kvs.map((kv) => kv.key), expected.map(([k]) => k));
    const bytes = byPrefix.kvs.reduce((n, kv) => n + (kv.value?.length ?? 0), 0);
    assert.equal(bytes, expected.reduce((n, [, size]) => n + size, 0));
    assert.equal(bytes, 650);
    // No range_end: exactly one key, or none for a bare prefix.
    assert.equal((await etcd.client.range("/registry/pods/ns-a/pod-2")).count, 1);
    assert.equal((await etcd.client.range(prefix)).count, 0);
  });

  test("status: db size, revision = 1 + puts, version 3.4.x like the binary says", async () => {
    const s = await etcd.client.status();
    assert.ok(s.dbSize > 0, `dbSize ${s.dbSize}`);
    assert.ok(s.dbSizeInUse > 0 && s.dbSizeInUse <= s.dbSize, `dbSizeInUse ${s.dbSizeInUse} of ${s.dbSize}`);
    assert.equal(s.header.revision, 1 + PUTS.length);
    assert.equal(s.header.revision, expectedRevision);
    assert.match(s.version, /^3\.4\.\d+$/);
    const bin = process.env["ETCD_BIN"] || DEFAULT_ETCD_BIN;
    const versionLine = /etcd Version: (\S+)/.exec(execFileSync(bin, ["--version"], { encoding: "utf8" }));
    assert.equal(s.version, versionLine?.[1]);
    assert.equal(s.leader, s.header.memberId, "a single member leads itself");
    assert.deepEqual(s.errors, []);
  });

  test("/metrics: the same families as the recorded etcd, db size and has_leader", async () => {
    const before = await etcd.client.status();
    const live = parseProm(await etcd.scrapeMetrics());
    const afterStatus = await etcd.client.status();
    const recorded = parseProm(readFileSync(RECORDED_ETCD_PROM, "utf8"));
    for (const name of ["etcd_mvcc_db_total_size_in_bytes", "etcd_server_has_leader"]) {
      assert.equal(live.type.get(name), recorded.type.get(name), `TYPE of ${name}`);
      assert.equal(live.help.get(name), recorded.help.get(name), `HELP of ${name}`);
      assert.ok(recorded.type.has(name), `${name} is in the recording`);
    }
    assert.deepEqual([...live.type.entries()].sort(), [...recorded.type.entries()].sort(), "metric families and types");
    assert.deepEqual(live.samples.get("etcd_server_has_leader"), [{ labels: "", value: 1 }]);
    const size = live.samples.get("etcd_mvcc_db_total_size_in_bytes");
    assert.equal(size?.length, 1);
    assert.ok([before.dbSize, afterStatus.dbSize].includes(size![0]!.value), `metric ${size![0]!.value} vs status ${before.dbSize}/${afterStatus.dbSize}`);
    // The client port serves /metrics too.
    const viaClient = parseProm(await (await fetch(`${etcd.clientUrl}/metrics`)).text());
    assert.deepEqual(viaClient.samples.get("etcd_server_has_leader"), [{ labels: "", value: 1 }]);
  });

  test("deleteRange by prefix removes exactly those keys", async () => {
    const r = await etcd.client.deleteRange("/registry/secrets/", { prefix: true });
    expectedRevision += 1;
    assert.equal(r.deleted, under("/registry/secrets/").length);
    assert.equal(r.deleted, 1);
    assert.equal(r.header.revision, expectedRevision);
    assert.equal((await etcd.client.range("/registry/", { prefix: true, countOnly: true })).count, PUTS.length - 1);
  });

  test("compaction: old revisions fail with etcd's own error text, current ones still read", async () => {
    const key = "/registry/configmaps/ns-a/cm-1";
    const oldRevision = expectedRevision;
    const put = await etcd.client.put(key, "new value", { prevKv: true });
    expectedRevision += 1;
    assert.equal(put.header.revision, expectedRevision);
    assert.deepEqual(put.prevKv?.value, valueFor(key, 100));
    // Before compaction the old revision is readable.
    const old = await etcd.client.range(key, { revision: oldRevision });
    assert.deepEqual(old.kvs[0]?.value, valueFor(key, 100));

    const c = await etcd.client.compact(expectedRevision, { physical: true });
    assert.equal(c.header.revision, expectedRevision);

    await assert.rejects(etcd.client.range(key, { revision: oldRevision }), (err: unknown) => {
      assert.ok(err instanceof EtcdGatewayError, String(err));
      assert.equal(err.status, 400);
      assert.equal(err.etcdMessage, "etcdserver: mvcc: required revision has been compacted");
      assert.equal(err.grpcCode, 11);
      return true;
    });
    await assert.rejects(etcd.client.compact(oldRevision), /etcdserver: mvcc: required revision has been compacted/);
    await assert.rejects(etcd.client.range(key, { revision: expectedRevision + 100 }), /etcdserver: mvcc: required revision is a future revision/);
    const now = await etcd.client.range(key, { revision: expectedRevision });
    assert.equal(now.kvs[0]?.value?.toString(), "new value");
    assert.equal(now.kvs[0]?.version, 2);
  });
});

describe("etcd fixture: process control", () => {
  test("pause() freezes etcd (no /health answer within 1 s), resume() brings it back, close() cleans up", async () => {
    const etcd = await startEtcd();
    try {
      assert.equal((await etcd.health()).healthy, true);
      assert.ok(threadStates(etcd.pid).length > 1, "etcd (Go) runs several threads");
      assert.ok(!threadStates(etcd.pid).includes("T"), "no thread stopped before pause()");
      await etcd.pause();
      const stopped = threadStates(etcd.pid);
      assert.deepEqual([...new Set(stopped)], ["T"], `every thread stopped: ${stopped.join("")}`);
      const t0 = Date.now();
      await assert.rejects(etcd.health(1000), (err: unknown) => {
        assert.ok(err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError"), String(err));
        return true;
      });
      assert.ok(Date.now() - t0 >= 900, `gave up after ${Date.now() - t0} ms`);
      await etcd.resume();
      assert.ok(!threadStates(etcd.pid).includes("T"), "no thread stopped after resume()");
      const h = await etcd.health(3000);
      assert.equal(h.healthy, true, h.body);
      const put = await etcd.client.put("/after-resume", "x");
      assert.equal(put.header.revision, 2);
      // A paused etcd can still be closed.
      await etcd.pause();
    } finally {
      const t1 = Date.now();
      await etcd.close();
      assert.ok(Date.now() - t1 < 5000, `close took ${Date.now() - t1} ms`);
    }
    assert.throws(() => process.kill(etcd.pid, 0), /ESRCH/);
    assert.equal(existsSync(etcd.dataDir), false, `${etcd.dataDir} removed`);
    await etcd.close(); // idempotent
  });

  test("quotaBackendBytes: writes past the quota fail with NOSPACE", async () => {
    const quota = 1024 * 1024;
    const etcd = await startEtcd({ quotaBackendBytes: quota });
    try {
      const chunk = Buffer.alloc(100 * 1024, 120);
      let written = 0;
      let failure: unknown;
      // With etcd's default quota (2 GiB) none of these 100 puts (10 MiB) would fail. etcd compares
      // the bbolt file size, which grows only at backend commits (every 100 ms) and in steps, so
      // the failure comes somewhere past the quota (~2.5 MiB here), not at exactly 1 MiB.
      for (let i = 0; i < 100 && failure === undefined; i++) {
        try {
          await etcd.client.put(`/fill/${i}`, chunk);
          written += chunk.length;
        } catch (err) {
          failure = err;
        }
      }
      assert.ok(failure instanceof EtcdGatewayError, `no failure after ${written} bytes`);
      assert.equal(failure.etcdMessage, "etcdserver: mvcc: database space exceeded");
      assert.equal(failure.status, 429);
      assert.ok(written > 0, "the first put already failed");
      const s = await etcd.client.status();
      assert.ok(s.errors.some((e) => e.includes("alarm:NOSPACE")), JSON.stringify(s.errors));
    } finally {
      await etcd.close();
    }
  });

  test("an etcd that dies at start is an error with its last output; so is one not healthy in time", async () => {
    await assert.rejects(startEtcd({ extraArgs: ["--no-such-flag-for-the-test"] }), (err: unknown) => {
      assert.ok(err instanceof Error);
      assert.match(err.message, /^etcd exited \(code \d+\) before it was healthy; etcd output:\n/);
      assert.match(err.message, /no-such-flag-for-the-test/, "etcd's own complaint is in the error");
      return true;
    });
    await assert.rejects(startEtcd({ startTimeoutMs: 0 }), /^Error: etcd at http:\/\/127\.0\.0\.1:\d+ not healthy within 0 ms \(last \/health: /);
  });

  test("a missing binary is an error naming the Debian package, not a skip", async () => {
    const saved = process.env["ETCD_BIN"];
    process.env["ETCD_BIN"] = "/nonexistent";
    try {
      await assert.rejects(startEtcd(), (err: unknown) => {
        assert.ok(err instanceof Error);
        assert.match(err.message, /etcd binary \/nonexistent is missing/);
        assert.match(err.message, /Debian package etcd-server/);
        return true;
      });
    } finally {
      if (saved === undefined) delete process.env["ETCD_BIN"];
      else process.env["ETCD_BIN"] = saved;
    }
  });
});
