// Hubble L3/L4, drops and DNS on the real samples. Expected values come from jq over the sample
// files (or a plain reading of them in the test), never from the parser under test.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { Registry } from "prom-client";
import { parseHubbleFlow } from "../../src/flows/hubble.js";
import { InvalidEventError, type HubbleFlowEvent } from "../../src/flows/events.js";
import { FlowProcessor } from "../../src/flows/processor.js";
import { Enricher } from "../../src/flows/enrich.js";
import { SAMPLES_DIR, sampleEvents } from "./samples.js";
import { promtoolCheck, sample } from "./promtool.js";

const L4_FILE = "hubble-otel_basic-sample-400-tcp-flows.jsonl";
const DNS_FILE = "hubble-otel_basic-sample-330-dns-flows.jsonl";
const DROP_FILE = "cilium-docs_hubble-exporter-dropped-flows.jsonl";

/** jq over a sample file, one JSON value per line of output. */
function jq(filter: string, file: string): unknown[] {
  return execFileSync("jq", ["-c", filter, `${SAMPLES_DIR}/${file}`], { encoding: "utf8" })
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as unknown);
}

// A plain reading of Kubernetes pod names: Deployment pods end in -<rs hash>-<5 chars>, DaemonSet pods in -<5 chars>.
function workloadOfPod(pod: string): string {
  const parts = pod.split("-");
  if (parts.length >= 3 && /^[a-z0-9]{8,10}$/.test(parts.at(-2)!) && /^[a-z0-9]{5}$/.test(parts.at(-1)!)) return parts.slice(0, -2).join("-");
  if (parts.length >= 2 && /^[a-z0-9]{5}$/.test(parts.at(-1)!)) return parts.slice(0, -1).join("-");
  return pod;
}

function processor(maxSeries = 10_000) {
  const registry = new Registry();
  return { p: new FlowProcessor({ registry, enricher: new Enricher(undefined), maxSeries, podLabels: false }), registry };
}

function feed(p: FlowProcessor, file: string): void {
  for (const line of readFileSync(`${SAMPLES_DIR}/${file}`, "utf8").split("\n")) if (line) assert.equal(p.handleLine("hubble", line), undefined);
}

test("400 L3/L4 + L7 flows: verdict, protocol, ports, TCP flags, is_reply and direction of every line match jq's reading", () => {
  const expected = jq(
    `.flow | [.verdict, (.l4 | keys[0]), .l4.TCP.source_port, .l4.TCP.destination_port, ((.l4.TCP.flags // {}) | to_entries | map(select(.value)) | map(.key) | sort), (if .is_reply == null then null else .is_reply end), ((.traffic_direction // "unknown") | ascii_downcase), (.l7.type // null), (.l7.http != null)]`,
    L4_FILE,
  ) as [string, string, number, number, string[], boolean | null, string, string | null, boolean][];
  const events = sampleEvents(L4_FILE).map(parseHubbleFlow);
  assert.equal(events.length, expected.length);
  assert.equal(events.length, 400);
  let http = 0;
  events.forEach((ev, i) => {
    const [verdict, proto, sport, dport, flags, isReply, dir, l7type, isHttp] = expected[i]!;
    if (isHttp && l7type === "RESPONSE") {
      http++;
      assert.equal(ev.kind, "http", `line ${i + 1}`);
      if (ev.kind !== "http") return;
      assert.deepEqual([ev.verdict, ev.protocol, ev.direction, ev.server.port, ev.client.port], [verdict, proto, dir, sport, dport], `line ${i + 1}`);
      return;
    }
    assert.equal(ev.kind, "hubble", `line ${i + 1}`);
    const h = ev as HubbleFlowEvent;
    assert.deepEqual(
      [h.verdict, h.protocol, h.src.port, h.dst.port, [...(h.flags ?? [])].sort(), h.isReply ?? null, h.direction, h.type],
      [verdict, proto, sport, dport, flags, isReply, dir, l7type === "REQUEST" ? "http_request" : "l4"],
      `line ${i + 1}`,
    );
  });
  assert.equal(http, 32, "jq: 19 + 13 HTTP responses");
});

test("400-flow sample through the processor: the verdicts counter equals jq's group count; no drops", async () => {
  const { p, registry } = processor();
  feed(p, L4_FILE);
  const groups = jq(`.flow | "\\(.verdict)|\\(.l4 | keys[0])|\\((.traffic_direction // "unknown") | ascii_downcase)"`, L4_FILE) as string[];
  const counts = new Map<string, number>();
  for (const g of groups) counts.set(g, (counts.get(g) ?? 0) + 1);
  const text = await registry.metrics();
  for (const [g, n] of counts) {
    const [verdict, protocol, direction] = g.split("|");
    assert.equal(sample(text, "watch_auditor_flows_hubble_verdicts_total", `{verdict="${verdict}",protocol="${protocol}",direction="${direction}"}`), n, g);
  }
  assert.equal(text.split("\n").filter((l) => l.startsWith("watch_auditor_flows_hubble_verdicts_total{")).length, counts.size);
  assert.equal(text.split("\n").filter((l) => l.startsWith("watch_auditor_flows_drops_total{")).length, 0);
  assert.equal(promtoolCheck(text), "");
});

test("Cilium's DROPPED samples: reason, protocol, ICMPv6 type, SYN, pods; drops_total by workload pair", async () => {
  const rows = jq(`.flow | [.verdict, .drop_reason_desc, (.l4 | keys[0]), .l4.ICMPv6.type, .l4.TCP.destination_port, ((.l4.TCP.flags // {}) | keys), .source.pod_name, .destination.pod_name, .IP.source, .IP.destination]`, DROP_FILE) as [string, string, string, number | null, number | null, string[], string | null, string | null, string, string][];
  const events = sampleEvents(DROP_FILE).map(parseHubbleFlow) as HubbleFlowEvent[];
  events.forEach((ev, i) => {
    const [verdict, reason, proto, icmpType, dport, flags, srcPod, dstPod, srcIp, dstIp] = rows[i]!;
    assert.equal(ev.kind, "hubble");
    assert.deepEqual([ev.verdict, ev.dropReason, ev.protocol, ev.src.ip, ev.dst.ip, ev.src.pod ?? null, ev.dst.pod ?? null], [verdict, reason, proto, srcIp, dstIp, srcPod, dstPod]);
    if (icmpType !== null) assert.deepEqual(ev.icmp, { type: icmpType, code: 0 });
    if (dport !== null) assert.equal(ev.dst.port, dport);
    assert.deepEqual(ev.flags ?? [], flags);
    assert.equal(ev.direction, "unknown", "the exporter's field mask left traffic_direction out");
  });

  const { p, registry } = processor();
  feed(p, DROP_FILE);
  const text = await registry.metrics();
  for (const [, reason, , , , , srcPod, dstPod] of rows) {
    const src = srcPod ? `src_namespace="default",src_workload="${workloadOfPod(srcPod)}"` : `src_namespace="",src_workload="world"`;
    const dst = dstPod ? `dst_namespace="default",dst_workload="${workloadOfPod(dstPod)}"` : `dst_namespace="",dst_workload="world"`;
    assert.equal(sample(text, "watch_auditor_flows_drops_total", `{${src},${dst},reason="${reason}",direction="unknown",policy=""}`), 1, `${srcPod} → ${dstPod} ${reason}`);
  }
  assert.equal(sample(text, "watch_auditor_flows_drops_total", `{src_namespace="default",src_workload="xwing",dst_namespace="default",dst_workload="deathstar",reason="POLICY_DENIED",direction="unknown",policy=""}`), 1);
  const report = p.dropLog.report(Date.now(), 600, 10);
  assert.equal(report.totalDrops, 2);
  const denied = report.top.find((r) => r.reason === "POLICY_DENIED")!;
  assert.deepEqual([denied.port, denied.protocol, denied.flags], [80, "TCP", ["SYN"]]);
  assert.ok(Math.abs(denied.last - (Date.parse("2023-08-21T12:12:18Z") / 1000 + 0.510175415)) < 1e-6, "the flow's own time");
  assert.equal(promtoolCheck(text), "");
});

test("denying policies (egress_denied_by/ingress_denied_by) become the policy label; bounded by --max-series", async () => {
  const base = sampleEvents(DROP_FILE)[1] as { flow: Record<string, unknown> };
  const withPolicy = (name: string, field = "ingress_denied_by") => JSON.stringify({ ...base, flow: { ...base.flow, traffic_direction: "INGRESS", [field]: [{ name, namespace: "default", labels: ["k8s:io.cilium.k8s.policy.name=" + name], revision: "7", kind: "CiliumNetworkPolicy" }] } });
  const ev = parseHubbleFlow(JSON.parse(withPolicy("deny-xwing"))) as HubbleFlowEvent;
  assert.deepEqual([ev.policies, ev.direction], [["default/deny-xwing"], "ingress"]);
  const { p, registry } = processor(2);
  for (const line of [withPolicy("a"), withPolicy("a"), withPolicy("b", "egress_denied_by"), withPolicy("c"), withPolicy("d")]) assert.equal(p.handleLine("hubble", line), undefined);
  const text = await registry.metrics();
  const pair = `src_namespace="default",src_workload="xwing",dst_namespace="default",dst_workload="deathstar",reason="POLICY_DENIED",direction="ingress"`;
  assert.equal(sample(text, "watch_auditor_flows_drops_total", `{${pair},policy="default/a"}`), 2);
  assert.equal(sample(text, "watch_auditor_flows_drops_total", `{${pair},policy="default/b"}`), 1);
  assert.equal(sample(text, "watch_auditor_flows_drops_total", `{src_namespace="overflow",src_workload="overflow",dst_namespace="overflow",dst_workload="overflow",reason="overflow",direction="overflow",policy="overflow"}`), 2);
  assert.equal(sample(text, "watch_auditor_flows_series_overflow_total", `{metric="drops"}`), 2);
});

test("330 DNS flows: query, qtypes and rcode of every line match jq; requests_total and latency (paired by 5-tuple and query) match a plain reading", async () => {
  const RCODE: Record<number, string> = { 0: "NOERROR", 3: "NXDOMAIN" };
  const rows = jq(`.flow | [.l7.type, .l7.dns.query, .l7.dns.qtypes, (.l7.dns.rcode // 0), .time, .IP.source, (.l4.TCP.source_port // .l4.UDP.source_port), .IP.destination, (.l4.TCP.destination_port // .l4.UDP.destination_port), .source.pod_name, .destination.pod_name]`, DNS_FILE) as [string, string, string[], number, string, string, number, string, number, string, string][];
  const events = sampleEvents(DNS_FILE).map(parseHubbleFlow) as HubbleFlowEvent[];
  events.forEach((ev, i) => {
    const [type, query, qtypes, rcode] = rows[i]!;
    assert.equal(ev.kind, "hubble");
    assert.deepEqual([ev.type, ev.dns?.query, ev.dns?.qtypes, ev.dns?.response], [type === "RESPONSE" ? "dns_response" : "dns_request", query, qtypes, type === "RESPONSE"], `line ${i + 1}`);
    if (type === "RESPONSE") assert.equal(ev.dns?.rcode, RCODE[rcode], `line ${i + 1}`);
  });

  // Expected: count answers by (client workload, server workload, qtype, rcode); latency = answer
  // time - query time for the query with the same client/server address and port and name.
  const ns = (t: string) => BigInt(Date.parse(t.slice(0, 19) + "Z")) * 1_000_000n + BigInt((t.slice(20, -1) + "000000000").slice(0, 9));
  const pending = new Map<string, bigint[]>();
  const expected = new Map<string, number>();
  let latencySumNs = 0n;
  let paired = 0;
  for (const [type, query, qtypes, rcode, time, sip, sport, dip, dport, spod, dpod] of rows) {
    if (type === "REQUEST") {
      const k = `${sip} ${sport} ${dip} ${dport} ${query}`;
      pending.set(k, [...(pending.get(k) ?? []), ns(time)]);
      continue;
    }
    const labels = `{src_namespace="kube-system",src_workload="${workloadOfPod(dpod)}",dst_namespace="kube-system",dst_workload="${workloadOfPod(spod)}",qtype="${qtypes[0]}",rcode="${RCODE[rcode]}"}`;
    expected.set(labels, (expected.get(labels) ?? 0) + 1);
    const sent = pending.get(`${dip} ${dport} ${sip} ${sport} ${query}`)?.shift();
    if (sent !== undefined) {
      latencySumNs += ns(time) - sent;
      paired++;
    }
  }
  const { p, registry } = processor();
  feed(p, DNS_FILE);
  const text = await registry.metrics();
  assert.ok(expected.size >= 3, `${expected.size} label sets`);
  for (const [labels, n] of expected) assert.equal(sample(text, "watch_auditor_flows_dns_requests_total", labels), n, labels);
  assert.equal(text.split("\n").filter((l) => l.startsWith("watch_auditor_flows_dns_requests_total{")).length, expected.size);
  let count = 0;
  let sum = 0;
  for (const labels of expected.keys()) {
    count += sample(text, "watch_auditor_flows_dns_request_duration_seconds_count", labels) ?? 0;
    sum += sample(text, "watch_auditor_flows_dns_request_duration_seconds_sum", labels) ?? 0;
  }
  assert.equal(paired, 165);
  assert.equal(count, paired);
  assert.ok(Math.abs(sum - Number(latencySumNs) / 1e9) < 1e-5, `latency sum ${sum} vs ${Number(latencySumNs) / 1e9}`);
  assert.equal(sample(text, "watch_auditor_flows_events_total", '{source="hubble",type="dns_response"}'), 165);
  assert.equal(promtoolCheck(text), "");
});

test("malformed L3/L4 fields are rejected with the field named", () => {
  const bad: [unknown, RegExp][] = [
    [{ flow: { verdict: {}, IP: {} } }, /flow.verdict/],
    [{ flow: { verdict: "DROPPED", l4: { TCP: { destination_port: "x" } } } }, /flow.l4.TCP.destination_port/],
    [{ flow: { verdict: "DROPPED", l4: { TCP: { flags: true } } } }, /flow.l4.TCP.flags/],
    [{ flow: { verdict: "DROPPED", traffic_direction: "SIDEWAYS" } }, /traffic_direction/],
    [{ flow: { verdict: "DROPPED", ingress_denied_by: "p" } }, /ingress_denied_by/],
    [{ flow: { verdict: "FORWARDED", l7: { type: "RESPONSE", dns: { rcode: -1 } } } }, /flow.l7.dns.rcode/],
  ];
  for (const [obj, re] of bad) assert.throws(() => parseHubbleFlow(obj), (e: unknown) => e instanceof InvalidEventError && e.reason === "field" && re.test(e.message), JSON.stringify(obj));
  // Numbers for enums are read as protojson allows.
  const ev = parseHubbleFlow({ flow: { verdict: 2, drop_reason_desc: 133, traffic_direction: 1, IP: { source: "10.0.0.1", destination: "10.0.0.2" }, l4: { UDP: { source_port: 5353, destination_port: 53 } } } }) as HubbleFlowEvent;
  assert.deepEqual([ev.verdict, ev.dropReason, ev.direction, ev.protocol, ev.dst.port], ["DROPPED", "POLICY_DENIED", "ingress", "UDP", 53]);
});
