// The scanner's protobuf walker against protobufjs reading and writing etcd's own .proto files
// (shipped by the etcd3 package): whatever protobufjs encodes as a RangeResponse, the walker must
// report the same keys, value lengths, count, more flag and header; its RangeRequest must decode
// to the fields asked for. Also the key layout parser and the token bucket.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import fc from "fast-check";
import protobuf from "protobufjs";
import { decodeRangeResponse, encodeRangeRequest } from "../../src/controlplane/etcd/wire.js";
import { parseRegistryKey, parseRoot } from "../../src/controlplane/etcd/keys.js";
import { TokenBucket, prefixRangeEnd, summarize } from "../../src/controlplane/etcd/scanner.js";
import { UsageAggregator } from "../../src/controlplane/etcd/usage.js";
import { AdaptiveWindow, keyToNum, numToKey } from "../../src/controlplane/etcd/window.js";
import { prefixRangeEnd as fixturePrefixRangeEnd } from "../support/etcd.js";

const require = createRequire(import.meta.url);
const protoDir = join(dirname(require.resolve("etcd3/package.json")), "proto");
const root = new protobuf.Root().loadSync(join(protoDir, "rpc.proto"), { keepCase: true });
const RangeResponse = root.lookupType("etcdserverpb.RangeResponse");
const RangeRequest = root.lookupType("etcdserverpb.RangeRequest");

const int64 = fc.bigInt({ min: 0n, max: (1n << 62n) - 1n });
const kvArb = fc.record({
  key: fc.uint8Array({ minLength: 1, maxLength: 80 }),
  valueLength: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 300 }), fc.integer({ min: 10_000, max: 70_000 })),
  create_revision: int64,
  mod_revision: int64,
  version: int64,
  lease: int64,
});

describe("RangeResponse walker vs protobufjs", () => {
  test("keys, value lengths, count, more and header match for any response", () => {
    fc.assert(
      fc.property(fc.array(kvArb, { maxLength: 40 }), fc.boolean(), fc.integer({ min: 0, max: 2 ** 40 }), int64, int64, (kvs, more, count, revision, memberId) => {
        const msg = RangeResponse.fromObject({
          header: { cluster_id: "12345678901234", member_id: memberId.toString(), revision: revision.toString(), raft_term: "7" },
          kvs: kvs.map((k) => ({ key: k.key, value: Buffer.alloc(k.valueLength, 1), create_revision: k.create_revision.toString(), mod_revision: k.mod_revision.toString(), version: k.version.toString(), lease: k.lease.toString() })),
          more,
          count: String(count),
        });
        const bytes = Buffer.from(RangeResponse.encode(msg).finish());
        const seen: Array<[string, number]> = [];
        const page = decodeRangeResponse(bytes, (buf, s, e, n) => seen.push([buf.toString("hex", s, e), n]));
        assert.deepEqual(seen, kvs.map((k) => [Buffer.from(k.key).toString("hex"), k.valueLength]));
        assert.equal(page.kvCount, kvs.length);
        assert.equal(page.more, more);
        assert.equal(page.count, count);
        assert.equal(page.header.revision, Number(revision));
        assert.equal(page.header.memberId, memberId);
        assert.equal(page.header.raftTerm, 7);
        assert.equal(page.lastKey?.toString("hex"), kvs.length ? Buffer.from(kvs[kvs.length - 1]!.key).toString("hex") : undefined);
      }),
      { numRuns: 200 },
    );
  });

  test("a truncated response is an error, not a wrong count", () => {
    const msg = RangeResponse.fromObject({ kvs: [{ key: Buffer.from("/registry/pods/a/b"), value: Buffer.alloc(500, 2) }], count: "1" });
    const bytes = Buffer.from(RangeResponse.encode(msg).finish());
    assert.throws(() => decodeRangeResponse(bytes.subarray(0, bytes.length - 10), () => {}), /etcd RangeResponse: truncated/);
  });

  test("RangeRequest: protobufjs reads back the fields asked for", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 60 }),
        fc.uint8Array({ minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 5000 }),
        fc.integer({ min: 0, max: 2 ** 50 }),
        fc.boolean(),
        fc.boolean(),
        (key, end, limit, revision, serializable, keysOnly) => {
          const b = encodeRangeRequest({ key: Buffer.from(key), rangeEnd: Buffer.from(end), limit, revision, serializable, keysOnly });
          const o = RangeRequest.toObject(RangeRequest.decode(b), { longs: String, defaults: true }) as Record<string, unknown>;
          assert.deepEqual(Buffer.from(o["key"] as Uint8Array), Buffer.from(key));
          assert.deepEqual(Buffer.from(o["range_end"] as Uint8Array), Buffer.from(end));
          assert.equal(o["limit"], String(limit));
          assert.equal(o["revision"], String(revision));
          assert.equal(o["serializable"], serializable);
          assert.equal(o["keys_only"], keysOnly);
          assert.equal(o["count_only"], false);
        },
      ),
      { numRuns: 200 },
    );
  });

  test("prefix range end equals the fixture's (etcd's GetPrefixRangeEnd)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 20 }), (p) => {
        assert.deepEqual(prefixRangeEnd(Buffer.from(p)), fixturePrefixRangeEnd(Buffer.from(p)));
      }),
    );
    assert.equal(prefixRangeEnd(Buffer.from("/registry/")).toString(), "/registry0");
  });
});

describe("/registry/ key layout", () => {
  const cases: Array<[string, ReturnType<typeof parseRegistryKey>]> = [
    ["/registry/deployments/ns/name", { resource: "deployments", namespace: "ns", name: "name" }],
    ["/registry/pods/kube-system/coredns-5d78c9869d-abcde", { resource: "pods", namespace: "kube-system", name: "coredns-5d78c9869d-abcde" }],
    ["/registry/namespaces/name", { resource: "namespaces", name: "name" }],
    ["/registry/apiregistration.k8s.io/apiservices/v1.apps", { resource: "apiservices.apiregistration.k8s.io", name: "v1.apps" }],
    ["/registry/apiextensions.k8s.io/customresourcedefinitions/widgets.example.com", { resource: "customresourcedefinitions.apiextensions.k8s.io", name: "widgets.example.com" }],
    ["/registry/cilium.io/ciliumnetworkpolicies/ns/allow-dns", { resource: "ciliumnetworkpolicies.cilium.io", namespace: "ns", name: "allow-dns" }],
    ["/registry/events/ns/pod-1.17a3b", { resource: "events", namespace: "ns", name: "pod-1.17a3b" }],
    ["/registry/services/specs/default/kubernetes", { resource: "services", namespace: "default", name: "kubernetes" }],
    ["/registry/services/endpoints/default/kubernetes", { resource: "endpoints", namespace: "default", name: "kubernetes" }],
    ["/registry/minions/node-1", { resource: "nodes", name: "node-1" }],
    ["/registry/controllers/ns/rc", { resource: "replicationcontrollers", namespace: "ns", name: "rc" }],
    ["/registry/masterleases/10.0.0.1", { resource: "masterleases", name: "10.0.0.1" }],
    ["/registry/ranges/serviceips", { resource: "ranges", name: "serviceips" }],
    ["/registry/pods", undefined],
    ["/registry/pods/a/b/c", undefined],
    ["/registry/pods//b", undefined],
    ["/registry/example.com", undefined],
    ["/registryx/pods/a/b", undefined],
    ["/other/pods/a/b", undefined],
  ];
  for (const [key, want] of cases) test(key, () => assert.deepEqual(parseRegistryKey(key), want));

  test("the root of a narrower prefix is /registry/; another prefix is its own root", () => {
    assert.equal(parseRoot("/registry/"), "/registry/");
    assert.equal(parseRoot("/registry/pods/"), "/registry/");
    assert.equal(parseRoot("/registry/pods/kube-system/"), "/registry/");
    assert.equal(parseRoot("/kubernetes.io"), "/kubernetes.io/");
    assert.deepEqual(parseRegistryKey("/kubernetes.io/pods/a/b", parseRoot("/kubernetes.io/")), { resource: "pods", namespace: "a", name: "b" });
  });
});

describe("token bucket and latency summary", () => {
  test("keys per second: a page-sized burst, then waits that hold the rate", () => {
    let now = 0;
    const b = new TokenBucket(1000, 100, () => now);
    assert.equal(b.take(100), 0, "the first page is free");
    assert.equal(b.take(100), 100, "the next 100 keys need 100 ms at 1000 keys/s");
    now += 100;
    assert.equal(b.take(50), 50);
    now += 10_000;
    assert.equal(b.take(100), 0, "tokens never exceed the capacity...");
    assert.equal(b.take(1), 1, "...so a long pause buys one page, not a burst");
  });

  test("percentiles are nearest-rank over the samples", () => {
    const s = summarize(Array.from({ length: 100 }, (_, i) => 100 - i), 3);
    assert.deepEqual(s, { samples: 100, failures: 3, p50Ms: 50, p99Ms: 99, maxMs: 100 });
    assert.deepEqual(summarize([], 2), { samples: 0, failures: 2 });
    assert.deepEqual(summarize([5], 0), { samples: 1, failures: 0, p50Ms: 5, p99Ms: 5, maxMs: 5 });
  });
});

describe("aggregation fast path and range windows", () => {
  const segment = fc.constantFrom("pods", "events", "ns-a", "ns-b", "example.com", "widgets", "x", "kube-system", "");
  const keyArb = fc.array(segment, { minLength: 1, maxLength: 4 }).map((parts) => `/registry/${parts.join("/")}`);

  test("counting sorted keys from a page buffer equals parsing every key on its own", () => {
    fc.assert(
      fc.property(fc.uniqueArray(keyArb, { maxLength: 60 }), fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 60, maxLength: 60 }), (keys, sizes) => {
        keys.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
        const fast = new UsageAggregator("/registry/", 5);
        const slow = new UsageAggregator("/registry/", 5);
        const page = Buffer.concat(keys.map((k) => Buffer.from(`#${k}#`)));
        let pos = 0;
        keys.forEach((k, i) => {
          const len = Buffer.byteLength(k);
          fast.addRaw(page, pos + 1, pos + 1 + len, sizes[i]!);
          slow.add(Buffer.from(k), sizes[i]!);
          pos += len + 2;
        });
        const a = fast.result();
        const b = slow.result();
        assert.deepEqual(a.resources, b.resources);
        assert.deepEqual(a.namespaces, b.namespaces);
        assert.deepEqual(a.pairs, b.pairs);
        assert.deepEqual(a.largest.map((o) => o.bytes), b.largest.map((o) => o.bytes));
        assert.deepEqual([fast.keys, fast.bytes, fast.unparsed, fast.clusterScoped], [slow.keys, slow.bytes, slow.unparsed, slow.clusterScoped]);
      }),
      { numRuns: 300 },
    );
  });

  test("windows always move forward and never pass the end of the prefix", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 90 }), fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 1, max: 5000 }), (startBytes, count, limit) => {
        const globalEnd = Buffer.from([0xff, 0xff, 0xff]);
        const start = Buffer.from(startBytes);
        if (Buffer.compare(start, globalEnd) >= 0) return;
        const w = new AdaptiveWindow(globalEnd);
        assert.deepEqual(w.end(start), globalEnd, "no density known yet: the whole prefix");
        w.update(start, globalEnd, count, limit);
        const e = w.end(start);
        assert.ok(Buffer.compare(e, start) > 0, "end > start");
        assert.ok(Buffer.compare(e, globalEnd) <= 0, "end <= the prefix end");
      }),
    );
    assert.equal(keyToNum(numToKey(123456789n)), 123456789n);
  });
});
