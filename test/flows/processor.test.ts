import { test } from "node:test";
import assert from "node:assert/strict";
import { Registry } from "prom-client";
import { FlowProcessor } from "../../src/flows/processor.js";
import { Enricher, type IpResolver } from "../../src/flows/enrich.js";
import { MetadataIndex } from "../../src/core/kube-metadata/metadata-index.js";
import { parseNamedCidr } from "../../src/core/kube-metadata/cidr.js";
import { hubbleResponse, SAMPLES_DIR, tetragonTcp } from "./samples.js";
import { promtoolCheck, sample } from "./promtool.js";
import { readFileSync } from "node:fs";
import { namespace, pod, replicaSet, service, endpointSlice } from "../core/kube-metadata/objects.js";

function processor(opts: { resolver?: IpResolver; maxSeries?: number; podLabels?: boolean; node?: string; cidrs?: string[] } = {}) {
  const registry = new Registry();
  const p = new FlowProcessor({
    registry,
    enricher: new Enricher(opts.resolver, (opts.cidrs ?? []).map(parseNamedCidr)),
    maxSeries: opts.maxSeries ?? 10_000,
    podLabels: opts.podLabels ?? false,
    ...(opts.node ? { node: opts.node } : {}),
  });
  return { p, registry };
}

function resolverFor(ix: MetadataIndex): IpResolver {
  return { ready: true, get version() { return ix.version; }, lookup: (ip) => ix.lookup(ip), lookupPod: (ns, n) => ix.lookupPod(ns, n), serviceFor: (ip, port) => ix.serviceFor(ip, port) };
}

test("the kovenant sample without a cluster: labels from the event's pod, peer is world; metrics pass promtool", async () => {
  const { p, registry } = processor();
  for (const line of readFileSync(`${SAMPLES_DIR}/kovenant_example_tetragon_log.jsonl`, "utf8").split("\n")) if (line) assert.equal(p.handleLine("tetragon", line), undefined);
  const text = await registry.metrics();
  const labels = '{src_namespace="kcos-sso",src_workload="keycloak-operator",dst_namespace="",dst_workload="world",dst_service=""}';
  assert.equal(sample(text, "watch_auditor_flows_tcp_received_bytes_total", labels), 87952);
  assert.equal(sample(text, "watch_auditor_flows_tcp_sent_bytes_total", labels), 0);
  assert.equal(sample(text, "watch_auditor_flows_events_total", '{source="tetragon",type="tcp_recvmsg"}'), 2);
  assert.equal(promtoolCheck(text), "");
  const flows = p.drainFlows();
  assert.equal(flows.length, 1);
  assert.deepEqual({ ...flows[0], ts: "", interval_s: 0 }, {
    ts: "",
    interval_s: 0,
    src: { namespace: "kcos-sso", workload: "keycloak-operator", kind: "Deployment" },
    dst: { namespace: "", workload: "world", kind: "World" },
    dst_port: 443,
    protocol: "TCP",
    connections: 0,
    bytes_sent: 0,
    bytes_received: 87952,
  });
  assert.deepEqual(p.drainFlows(), [], "a new interval starts empty");
});

test("client/server orientation, connections, bytes; services and releases from the cache; CIDR names", async () => {
  const ix = new MetadataIndex();
  ix.apply("replicasets", "add", replicaSet("shop", "web-5c7d8", "web"));
  ix.apply("pods", "add", pod({ ns: "shop", name: "web-5c7d8-aaaaa", ip: "10.0.0.1", owner: { kind: "ReplicaSet", name: "web-5c7d8" }, labels: { "app.kubernetes.io/instance": "shop-rel" } }));
  ix.apply("pods", "add", pod({ ns: "db", name: "pg-0", ip: "10.0.0.2", owner: { kind: "StatefulSet", name: "pg" } }));
  ix.apply("services", "add", service("db", "pg", "10.96.0.5", { app: "pg" }, [5432]));
  ix.apply("endpointslices", "add", endpointSlice("db", "pg", [{ ip: "10.0.0.2", pod: "pg-0" }], [5432]));
  const { p, registry } = processor({ resolver: resolverFor(ix), cidrs: ["192.168.0.0/16=corp"] });
  const web = { ns: "shop", pod: "web-5c7d8-aaaaa" };
  const lines = [
    // web connects to pg's ClusterIP and sends 100, receives 300 (client side).
    tetragonTcp({ fn: "tcp_connect", saddr: "10.0.0.1", daddr: "10.96.0.5", sport: 40000, dport: 5432, ...web }),
    tetragonTcp({ fn: "tcp_sendmsg", saddr: "10.0.0.1", daddr: "10.96.0.5", sport: 40000, dport: 5432, size: 100, ...web }),
    tetragonTcp({ fn: "tcp_recvmsg", saddr: "10.0.0.1", daddr: "10.96.0.5", sport: 40000, dport: 5432, size: 300, ...web }),
    // pg (server side, no connect seen) receives 50 from web's pod IP and sends 70.
    tetragonTcp({ fn: "tcp_recvmsg", saddr: "10.0.0.2", daddr: "10.0.0.1", sport: 5432, dport: 40001, size: 50, ns: "db", pod: "pg-0" }),
    tetragonTcp({ fn: "tcp_sendmsg", saddr: "10.0.0.2", daddr: "10.0.0.1", sport: 5432, dport: 40001, size: 70, ns: "db", pod: "pg-0" }),
    // web to a corp address.
    tetragonTcp({ fn: "tcp_connect", saddr: "10.0.0.1", daddr: "192.168.3.4", sport: 40002, dport: 443, ...web }),
  ];
  for (const l of lines) assert.equal(p.handleLine("tetragon", l), undefined);
  const text = await registry.metrics();
  const viaClusterIp = '{src_namespace="shop",src_workload="web",dst_namespace="db",dst_workload="pg",dst_service="pg"}';
  assert.equal(sample(text, "watch_auditor_flows_tcp_connections_total", viaClusterIp), 1);
  assert.equal(sample(text, "watch_auditor_flows_tcp_sent_bytes_total", viaClusterIp), 150, "100 sent by the client + 50 the server received");
  assert.equal(sample(text, "watch_auditor_flows_tcp_received_bytes_total", viaClusterIp), 370);
  const corp = '{src_namespace="shop",src_workload="web",dst_namespace="",dst_workload="corp",dst_service=""}';
  assert.equal(sample(text, "watch_auditor_flows_tcp_connections_total", corp), 1);
  assert.equal(promtoolCheck(text), "");
  const flows = p.drainFlows();
  const pg = flows.find((f) => f.dst_port === 5432)!;
  assert.deepEqual(pg.src, { namespace: "shop", workload: "web", kind: "Deployment", release: "shop-rel" });
  assert.deepEqual(pg.dst, { namespace: "db", workload: "pg", kind: "StatefulSet", service: "pg" });
  assert.equal(pg.bytes_sent + pg.bytes_received, 520);
});

test("ignore annotations drop traffic and are counted", async () => {
  const ix = new MetadataIndex();
  ix.apply("namespaces", "add", namespace("quiet", { "watch-auditor.dev/ignore": "true" }));
  ix.apply("pods", "add", pod({ ns: "quiet", name: "q", ip: "10.0.0.9" }));
  const { p, registry } = processor({ resolver: resolverFor(ix) });
  p.handleLine("tetragon", tetragonTcp({ fn: "tcp_connect", saddr: "10.0.0.9", daddr: "1.1.1.1", sport: 40000, dport: 443, ns: "quiet", pod: "q" }));
  p.handleLine("tetragon", tetragonTcp({ fn: "tcp_connect", saddr: "10.0.0.8", daddr: "10.0.0.9", sport: 40000, dport: 443, ns: "other", pod: "o" }));
  const text = await registry.metrics();
  assert.equal(sample(text, "watch_auditor_flows_events_ignored_total", '{source="tetragon",reason="annotation"}'), 2);
  assert.equal(text.includes("watch_auditor_flows_tcp_connections_total{"), false);
});

test("series cap: new label sets beyond --max-series fold into an overflow series and are counted", async () => {
  const { p, registry } = processor({ maxSeries: 5 });
  for (let i = 0; i < 20; i++) p.handleLine("tetragon", tetragonTcp({ fn: "tcp_connect", saddr: "10.0.0.1", daddr: `1.1.1.${i}`, sport: 40000, dport: 443, ns: `ns${i}`, pod: `p${i}` }));
  const text = await registry.metrics();
  const rows = text.split("\n").filter((l) => l.startsWith("watch_auditor_flows_tcp_connections_total{"));
  assert.equal(rows.length, 6, "5 series + overflow");
  assert.equal(sample(text, "watch_auditor_flows_tcp_connections_total", '{src_namespace="overflow",src_workload="overflow",dst_namespace="overflow",dst_workload="overflow",dst_service="overflow"}'), 15);
  assert.equal(sample(text, "watch_auditor_flows_series_overflow_total", '{metric="tcp"}'), 15);
  assert.equal(sample(text, "watch_auditor_flows_series", '{metric="tcp"}'), 6);
  assert.equal(promtoolCheck(text), "");
});

test("--pod-labels adds pod labels; --node drops other nodes' events", async () => {
  const { p, registry } = processor({ podLabels: true, node: "n1" });
  p.handleLine("tetragon", tetragonTcp({ fn: "tcp_connect", saddr: "10.0.0.1", daddr: "1.1.1.1", sport: 40000, dport: 443, ns: "a", pod: "api-5c7d8b9f6-x2z4w", node: "n1" }));
  p.handleLine("tetragon", tetragonTcp({ fn: "tcp_connect", saddr: "10.0.0.1", daddr: "1.1.1.1", sport: 40000, dport: 443, ns: "a", pod: "api-5c7d8b9f6-x2z4w", node: "n2" }));
  const text = await registry.metrics();
  assert.equal(sample(text, "watch_auditor_flows_tcp_connections_total", '{src_namespace="a",src_workload="api",dst_namespace="",dst_workload="world",dst_service="",src_pod="api-5c7d8b9f6-x2z4w",dst_pod=""}'), 1);
  assert.equal(sample(text, "watch_auditor_flows_events_ignored_total", '{source="tetragon",reason="other_node"}'), 1);
});

test("Hubble L7: http_server_requests_total and the duration histogram with OTel buckets, from the real sample", async () => {
  const { p, registry } = processor();
  for (const line of readFileSync(`${SAMPLES_DIR}/hubble-otel_basic-sample-5-http-flows.jsonl`, "utf8").split("\n")) if (line) assert.equal(p.handleLine("hubble", line), undefined);
  p.handleLine("hubble", hubbleResponse({ srcIp: "10.0.0.9", srcPort: 8080, dstIp: "10.0.0.1", dstPort: 5000, code: 201, method: "BREW", latencyNs: "3000000", ns: "shop", pod: "api-1", workload: "api" }));
  const text = await registry.metrics();
  const dns = '{namespace="kube-system",service="",workload="node-local-dns",method="GET",status_code_class="5xx"}';
  assert.equal(sample(text, "http_server_requests_total", dns), 2);
  assert.equal(sample(text, "http_server_request_duration_seconds_count", dns), 2);
  assert.equal(sample(text, "http_server_request_duration_seconds_sum", dns), 0.999958359 + 4.13818364);
  const b = (le: string) => sample(text, "http_server_request_duration_seconds_bucket", `{namespace="kube-system",service="",workload="node-local-dns",method="GET",status_code_class="5xx",le="${le}"}`);
  assert.deepEqual([b("0.75"), b("1"), b("2.5"), b("5"), b("+Inf")], [0, 1, 1, 2, 2]);
  const buckets = text.split("\n").filter((l) => l.startsWith("http_server_request_duration_seconds_bucket{") && l.includes('workload="node-local-dns"')).map((l) => /le="([^"]+)"/.exec(l)![1]);
  assert.deepEqual(buckets, ["0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.5", "0.75", "1", "2.5", "5", "7.5", "10", "+Inf"]);
  assert.equal(sample(text, "http_server_requests_total", '{namespace="shop",service="",workload="api",method="_OTHER",status_code_class="2xx"}'), 1);
  assert.equal(sample(text, "watch_auditor_flows_events_total", '{source="hubble",type="http_request"}'), 3);
  assert.equal(promtoolCheck(text), "");
});

test("invalid lines are counted by reason and returned for logging", async () => {
  const { p, registry } = processor();
  assert.equal(p.handleLine("tetragon", "{oops")!.reason, "json");
  assert.equal(p.handleLine("tetragon", "[]")!.reason, "shape");
  assert.equal(p.handleLine("hubble", '{"flow":{"l7":{"type":"RESPONSE","latency_ns":"x","http":{}}}}')!.reason, "field");
  const text = await registry.metrics();
  assert.equal(sample(text, "watch_auditor_flows_events_invalid_total", '{source="tetragon",reason="json"}'), 1);
  assert.equal(sample(text, "watch_auditor_flows_events_invalid_total", '{source="hubble",reason="field"}'), 1);
});

test("a source talking to more destinations than the row cache's slots per source: every row counts exactly", async () => {
  // Six named networks: six destination rows for one pod; the row cache keeps four per source,
  // so lookups cycle through hits, replacements and the label-key path.
  const names = ["a", "b", "c", "d", "e", "f"];
  const { p, registry } = processor({ cidrs: names.map((n, i) => `10.${i + 1}.0.0/16=${n}`) });
  for (let round = 0; round < 10; round++) {
    names.forEach((_, i) => {
      p.handleLine("tetragon", tetragonTcp({ fn: "tcp_connect", saddr: "10.0.0.5", daddr: `10.${i + 1}.0.9`, sport: 40000 + i, dport: 443, ns: "shop", pod: "api-5c7d8b9f6-x2z4w", workload: "api" }));
      p.handleLine("tetragon", tetragonTcp({ fn: "tcp_sendmsg", saddr: "10.0.0.5", daddr: `10.${i + 1}.0.9`, sport: 40000 + i, dport: 443, size: 100 + i, ns: "shop", pod: "api-5c7d8b9f6-x2z4w", workload: "api" }));
    });
  }
  const text = await registry.metrics();
  names.forEach((n, i) => {
    const labels = `{src_namespace="shop",src_workload="api",dst_namespace="",dst_workload="${n}",dst_service=""}`;
    assert.equal(sample(text, "watch_auditor_flows_tcp_connections_total", labels), 10, n);
    assert.equal(sample(text, "watch_auditor_flows_tcp_sent_bytes_total", labels), 10 * (100 + i), n);
  });
  assert.equal(p.tcp.rows.size, 6);
});
