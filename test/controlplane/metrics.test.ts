// `controlplane report` on the API server's /metrics, through the real CLI and the test API server's
// /metrics route. Expected figures are read from the same text with plain line regexes here (not the
// parser under test): the recorded v1.25 kube-apiserver.prom, and the other versions' samples in
// fixtures/ (README there says where each came from).
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { FIXTURES, RECORDED_PROM, reportJson, startCluster, type Cluster, type Json } from "./support.js";

const VERSIONED = [
  "apiserver_resource_objects",
  "apiserver_storage_objects",
  "etcd_object_counts",
  "apiserver_storage_size_bytes",
  "apiserver_storage_db_total_size_in_bytes",
  "etcd_db_total_size_in_bytes",
  "apiserver_flowcontrol_rejected_requests_total",
  "apiserver_dropped_requests_total",
];

interface Line {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Sample lines by regex: `name{k="v",...} value`. (The recorded label values have no escaped quotes.) */
function lines(text: string): Line[] {
  const out: Line[] = [];
  for (const l of text.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(l);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const p of (m[2] ?? "").matchAll(/([a-zA-Z_]+)="([^"]*)"/g)) labels[p[1]!] = p[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

function byName(all: Line[], name: string): Line[] {
  return all.filter((l) => l.name === name);
}

function objectsMap(json: Json): Record<string, number | null> {
  return Object.fromEntries((json.objects as { resource: string; count: number | null }[]).map((o) => [o.resource, o.count]));
}

describe("API-server /metrics, version-aware", () => {
  let cluster: Cluster;
  before(async () => {
    cluster = await startCluster();
  });
  after(async () => cluster?.close());

  test("recorded v1.25: objects, DB size, names found, requests/errors per resource+verb, mean latency, in flight", async () => {
    cluster.api.metrics.setMetrics(undefined);
    const text = readFileSync(RECORDED_PROM, "utf8");
    const all = lines(text);
    const { r, json } = await reportJson(cluster.kubeconfig);
    assert.ok(json, r.stderr);
    assert.deepEqual(json.errors, []);

    const wantObjects = Object.fromEntries(byName(all, "apiserver_storage_objects").map((l) => [l.labels.resource!, l.value]));
    assert.equal(Object.keys(wantObjects).length, 50, "50 resources in the recording");
    assert.equal(wantObjects.podtemplates, 100, "the README: podtemplates 100 after the namespaces were deleted");
    assert.deepEqual(objectsMap(json), wantObjects);
    assert.ok((json.objects as { source: string }[]).every((o) => o.source === "apiserver_storage_objects"));

    const db = byName(all, "etcd_db_total_size_in_bytes");
    assert.equal(db.length, 1);
    assert.equal(json.database.sizeBytes, db[0]!.value);
    assert.equal(json.database.sizeSource, "etcd_db_total_size_in_bytes");
    assert.equal(json.database.quotaSource, "assumed");
    assert.equal(json.database.quotaBytes, undefined, "the quota is not known: not claimed");

    const present = VERSIONED.filter((n) => new RegExp(`^(# TYPE )?${n}[ {]`, "m").test(text));
    assert.deepEqual(present, ["apiserver_storage_objects", "etcd_db_total_size_in_bytes"]);
    assert.deepEqual(json.metricNames.found, present);

    // Requests per resource+verb, summed from the raw lines.
    const key = (l: Record<string, string>) => {
      const res = l.resource ?? "";
      const sub = l.subresource ?? "";
      return res === "" ? `${sub} ${l.verb}` : `${res}${l.group ? `.${l.group}` : ""}${sub ? `/${sub}` : ""} ${l.verb}`;
    };
    const want = new Map<string, { requests: number; errors: number; throttled: number }>();
    for (const l of byName(all, "apiserver_request_total")) {
      const k = key(l.labels);
      const w = want.get(k) ?? { requests: 0, errors: 0, throttled: 0 };
      w.requests += l.value;
      if (Number(l.labels.code) >= 500) w.errors += l.value;
      if (l.labels.code === "429") w.throttled += l.value;
      want.set(k, w);
    }
    const got = new Map((json.apiserver.requests as { resource: string; verb: string; requests: number; errors: number; throttled: number }[]).map((s) => [`${s.resource} ${s.verb}`, { requests: s.requests, errors: s.errors, throttled: s.throttled }]));
    assert.deepEqual(got, want);
    assert.equal(json.apiserver.mode, "totals");
    assert.ok([...want.values()].some((w) => w.errors > 0), "the recording has 5xx answers to find");

    // Mean latency of the busiest non-long-running key: Σ_sum / Σ_count over its series.
    const lk = "leases.coordination.k8s.io GET";
    let sum = 0;
    let count = 0;
    for (const l of byName(all, "apiserver_request_duration_seconds_sum")) if (key(l.labels) === lk) sum += l.value;
    for (const l of byName(all, "apiserver_request_duration_seconds_count")) if (key(l.labels) === lk) count += l.value;
    assert.ok(count > 0);
    const s = (json.apiserver.requests as { resource: string; verb: string; meanLatencySeconds: number; p99LatencySeconds: number }[]).find((x) => `${x.resource} ${x.verb}` === lk)!;
    assert.ok(Math.abs(s.meanLatencySeconds - sum / count) < 1e-12, `${s.meanLatencySeconds} vs ${sum / count}`);
    assert.ok(s.p99LatencySeconds > 0 && s.p99LatencySeconds <= 60);
    const watch = (json.apiserver.requests as { verb: string; meanLatencySeconds?: number }[]).find((x) => x.verb === "WATCH");
    assert.ok(watch && watch.meanLatencySeconds === undefined, "no latency figure for long-running WATCH");

    const inflight = Object.fromEntries(byName(all, "apiserver_current_inflight_requests").map((l) => [l.labels.request_kind!, l.value]));
    assert.deepEqual(json.apiserver.inFlight.byKind, inflight);
    assert.deepEqual(json.apiserver.rejections, [], "no rejection series in the recording");
    assert.equal(r.code, 0);
  });

  const versions: { file: string; objects?: string; db: string; found: string[] }[] = [
    { file: "metrics-v1.19.7.prom", objects: "etcd_object_counts", db: "etcd_db_total_size_in_bytes", found: ["etcd_object_counts", "etcd_db_total_size_in_bytes"] },
    { file: "metrics-v1.26.0.prom", db: "apiserver_storage_db_total_size_in_bytes", found: ["apiserver_storage_db_total_size_in_bytes"] },
    { file: "metrics-v1.36.prom", objects: "apiserver_storage_objects", db: "apiserver_storage_size_bytes", found: ["apiserver_storage_objects", "apiserver_storage_size_bytes"] },
  ];
  for (const v of versions) {
    test(`other versions: ${v.file}: ${v.objects ?? "no object counts"}, ${v.db}`, async () => {
      const text = readFileSync(`${FIXTURES}${v.file}`, "utf8");
      cluster.api.metrics.setMetrics(text);
      const all = lines(text);
      const { r, json } = await reportJson(cluster.kubeconfig);
      assert.ok(json, r.stderr);
      assert.deepEqual(json.errors, []);
      const sizes = byName(all, v.db).map((l) => l.value);
      assert.ok(sizes.length > 0);
      assert.equal(json.database.sizeBytes, Math.max(...sizes), "the largest member");
      assert.equal(json.database.sizeSource, v.db);
      assert.equal(json.database.members.length, sizes.length);
      assert.deepEqual(json.metricNames.found, v.found);
      const want = v.objects ? Object.fromEntries(byName(all, v.objects).map((l) => [l.labels.resource!, l.value])) : {};
      assert.deepEqual(objectsMap(json), want);
      if (v.file === "metrics-v1.26.0.prom") {
        const req = new Map((json.apiserver.requests as { resource: string; verb: string; requests: number }[]).map((s) => [`${s.resource} ${s.verb}`, s.requests]));
        assert.equal(req.get("pods GET"), 63);
        assert.equal(req.get("/readyz GET"), 357);
        assert.equal(req.get("pods/status PATCH"), 56);
      }
    });
  }

  test("1.34+ upstream names: apiserver_resource_objects{group,resource} wins over the deprecated apiserver_storage_objects; -1 is 'could not count', not a number", async () => {
    const text = readFileSync(`${FIXTURES}metrics-upstream-store-stats.prom`, "utf8") + 'apiserver_resource_objects{group="",resource="pods"} -1\n';
    cluster.api.metrics.setMetrics(text);
    const { r, json } = await reportJson(cluster.kubeconfig);
    assert.ok(json, r.stderr);
    const objs = json.objects as { resource: string; count: number | null; source: string }[];
    const find = (res: string) => objs.find((o) => o.resource === res);
    assert.deepEqual(find("bar1.foo1"), { resource: "bar1.foo1", count: 10, source: "apiserver_resource_objects" });
    assert.deepEqual(find("bar2.foo2"), { resource: "bar2.foo2", count: 20, source: "apiserver_resource_objects" });
    assert.deepEqual(find("pods"), { resource: "pods", count: null, source: "apiserver_resource_objects" });
    assert.equal(objs.length, 3, "the deprecated name's same resources are not counted twice");
    assert.deepEqual(json.metricNames.found, ["apiserver_resource_objects", "apiserver_storage_objects"]);
    assert.equal(json.database.sizeBytes, undefined);
  });

  test("two samples (--sample-interval): request and APF figures over the interval, rates; dropped requests (≤ 1.24) too", async () => {
    // Built here from the documented label sets: no public sample with rejections was found (fixtures/README.md).
    const body = (n: number) =>
      [
        "# TYPE apiserver_request_total counter",
        `apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="LIST",version="v1"} ${100 + 60 * n}`,
        `apiserver_request_total{code="500",component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="LIST",version="v1"} ${2 + 3 * n}`,
        `apiserver_request_total{code="429",component="apiserver",dry_run="",group="",resource="pods",scope="namespace",subresource="",verb="LIST",version="v1"} ${1 + 4 * n}`,
        "# TYPE apiserver_flowcontrol_rejected_requests_total counter",
        `apiserver_flowcontrol_rejected_requests_total{flow_schema="service-accounts",priority_level="workload-low",reason="queue-full"} ${5 + 7 * n}`,
        "# TYPE apiserver_dropped_requests_total counter",
        `apiserver_dropped_requests_total{request_kind="readOnly"} ${1 + 3 * n}`,
        "# TYPE apiserver_current_inflight_requests gauge",
        `apiserver_current_inflight_requests{request_kind="readOnly"} ${10 + n}`,
        "",
      ].join("\n");
    let calls = 0;
    cluster.api.metrics.setMetrics(() => body(calls++ === 0 ? 0 : 1));
    const { r, json } = await reportJson(cluster.kubeconfig, ["--sample-interval", "400ms"]);
    assert.ok(json, r.stderr);
    assert.equal(calls, 2, "two /metrics reads");
    const a = json.apiserver;
    assert.equal(a.mode, "interval");
    assert.ok(a.intervalSeconds >= 0.4, String(a.intervalSeconds));
    const pods = a.requests.find((s: { resource: string; verb: string }) => s.resource === "pods" && s.verb === "LIST");
    assert.deepEqual([pods.requests, pods.errors, pods.throttled], [67, 3, 4], "increases over the interval");
    assert.ok(Math.abs(pods.requestsPerSecond * a.intervalSeconds - 67) < 1e-6);
    const apf = a.rejections.find((x: { source: string }) => x.source === "apiserver_flowcontrol_rejected_requests_total");
    assert.deepEqual([apf.flowSchema, apf.priorityLevel, apf.reason, apf.rejected], ["service-accounts", "workload-low", "queue-full", 7]);
    const dropped = a.rejections.find((x: { source: string }) => x.source === "apiserver_dropped_requests_total");
    assert.deepEqual([dropped.requestKind, dropped.rejected], ["readOnly", 3]);
    assert.equal(a.inFlight.byKind.readOnly, 11, "in flight: the later sample");
    assert.deepEqual(json.metricNames.found, ["apiserver_flowcontrol_rejected_requests_total", "apiserver_dropped_requests_total"]);
  });

  test("database at or over --db-threshold of the quota: named, exit 1; a higher threshold passes; at the quota the forecast says so", async () => {
    const size = 1.8 * 1024 ** 3; // 90% of etcd's 2 GiB default (assumed: no quota given)
    cluster.api.metrics.setMetrics(`# TYPE etcd_db_total_size_in_bytes gauge\netcd_db_total_size_in_bytes{endpoint="https://10.0.0.1:2379"} ${size}\n`);
    const over = await reportJson(cluster.kubeconfig);
    assert.ok(over.json, over.r.stderr);
    assert.equal(over.r.code, 1);
    assert.ok((over.json.problems as string[]).some((p) => /^database 1843\.2 MiB is 90% of its quota \(etcd's 2 GiB default, assumed\), at or over the 85% threshold$/.test(p)), JSON.stringify(over.json.problems));
    assert.ok(Math.abs(over.json.database.usedRatio - 0.9) < 1e-9);
    const under = await reportJson(cluster.kubeconfig, ["--db-threshold", "95"]);
    assert.equal(under.r.code, 0, JSON.stringify(under.json?.problems));
    const full = await reportJson(cluster.kubeconfig, ["--etcd-quota-bytes", "1GiB"]);
    assert.equal(full.json!.database.forecast.status, "at-or-over-quota");
    assert.equal(full.json!.database.quotaBytes, 1024 ** 3);
    assert.equal(full.r.code, 1);
  });

  test("bad /metrics text: the error names the line; counted as a failed source, never a crash (exit 1)", async () => {
    // Lines of the families the report reads are parsed (others are not read at all).
    cluster.api.metrics.setMetrics('# HELP x a metric\nx 1\napiserver_storage_objects{resource="pods" 1\n');
    const bad = await reportJson(cluster.kubeconfig);
    assert.ok(bad.json, bad.r.stderr);
    const e = (bad.json.errors as { source: string; error: string }[]).find((x) => x.source === "metrics");
    assert.match(e!.error, /^GET \/metrics:3: not Prometheus text format/);
    assert.equal(bad.r.code, 1);
    assert.equal(bad.json.checks.livez.state, "ok", "the other sources are still read");

    cluster.api.metrics.setMetrics('# TYPE apiserver_storage_objects gauge\napiserver_storage_objects{resource="pods"} 1\napiserver_storage_objects{resource="nodes"} abc\n');
    const nan = await reportJson(cluster.kubeconfig);
    assert.match((nan.json!.errors as { error: string }[])[0]!.error, /^GET \/metrics:3: apiserver_storage_objects: value "abc" is not a number/);
  });
});
