// The gRPC inputs through the real CLI against a gRPC test server that streams the real samples
// (converted to protobuf), cuts streams, reports lost events and serves TLS/mTLS. Expected
// counts come from jq over the sample files.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually, runCli, spawnCli, stopCli } from "../support/cli.js";
import { generateClientCert, generateTls } from "../support/kube-apiserver/tls.js";
import { SAMPLES_DIR, sampleEvents } from "./samples.js";
import { sample } from "./promtool.js";
import { startGrpcTestServer } from "./grpc-server.js";
import type { Json } from "../../src/flows/grpc-codec.js";

const noKubeEnv = { KUBECONFIG: "/nonexistent/kubeconfig", KUBERNETES_SERVICE_HOST: undefined, HOME: "/nonexistent" };
const DNS = "hubble-otel_basic-sample-330-dns-flows.jsonl";
const HTTP = "hubble-otel_basic-sample-348-http-flows.jsonl";
const DROP = "cilium-docs_hubble-exporter-dropped-flows.jsonl";

function jqCount(filter: string, ...files: string[]): number {
  return Number(execFileSync("sh", ["-c", `cat "$@" | jq -s '[.[] | ${filter}] | length'`, "sh", ...files.map((f) => `${SAMPLES_DIR}/${f}`)], { encoding: "utf8" }).trim());
}

async function port(child: ReturnType<typeof spawnCli>): Promise<number> {
  const m = await eventually(() => /"port":(\d+),"msg":"listening"/.exec(child.output.stderr), { timeoutMs: 45_000, what: "listening" });
  return Number(m[1]);
}

const scrape = async (p: number) => (await fetch(`http://127.0.0.1:${p}/metrics`)).text();
const total = (text: string, metric: string, filter = ""): number =>
  text
    .split("\n")
    .filter((l) => l.startsWith(`${metric}{`) && l.includes(filter))
    .reduce((s, l) => s + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);

test("--hubble-relay: GetFlows with follow and whitelist; the stream is cut and resumed with since, nothing counted twice; lost_events counted", async (t) => {
  const lines = [...sampleEvents(DNS), ...sampleEvents(HTTP), ...sampleEvents(DROP)] as Json[];
  const server = await startGrpcTestServer({ hubble: lines, cut: [{ call: 0, after: 301 }], lost: { source: "OBSERVER_EVENTS_QUEUE", n: 7 } });
  t.after(() => server.close());
  const child = spawnCli(["flows", "--hubble-relay", server.address, "--no-kube", "--port", "0", "--host", "127.0.0.1"], { env: noKubeEnv });
  t.after(() => stopCli(child, "SIGKILL"));
  const p = await port(child);
  // Every flow the server wrote is either counted once or recognised as a replayed duplicate.
  const text = await eventually(
    async () => {
      if (server.finished < 1) return undefined;
      const m = await scrape(p);
      const written = server.flowTimes.reduce((s, x) => s + x.length, 0);
      return total(m, "watch_auditor_flows_events_total", 'source="hubble"') + total(m, "watch_auditor_flows_grpc_duplicates_skipped_total") === written ? m : undefined;
    },
    { timeoutMs: 60_000, what: "all flows received" },
  );
  const counted = total(text, "watch_auditor_flows_events_total", 'source="hubble"');
  assert.equal(counted, lines.length, "each sample flow counted exactly once");
  assert.ok(total(text, "watch_auditor_flows_grpc_duplicates_skipped_total") >= 1, "the replay from since repeated at least the flow at since");
  assert.equal(sample(text, "watch_auditor_flows_events_total", '{source="hubble",type="dns_response"}'), jqCount(`select(.flow.l7.type == "RESPONSE" and .flow.l7.dns != null)`, DNS));
  assert.equal(sample(text, "watch_auditor_flows_events_total", '{source="hubble",type="http_request"}'), jqCount(`select(.flow.l7.type == "REQUEST" and .flow.l7.http != null)`, HTTP));
  assert.equal(total(text, "http_server_requests_total"), jqCount(`select(.flow.l7.type == "RESPONSE" and .flow.l7.http != null)`, HTTP));
  assert.equal(total(text, "watch_auditor_flows_drops_total"), jqCount(`select(.flow.verdict == "DROPPED")`, DROP));
  assert.equal(total(text, "watch_auditor_flows_dns_request_duration_seconds_count"), jqCount(`select(.flow.l7.type == "RESPONSE")`, DNS), "every DNS answer timed, across the cut");
  assert.equal(sample(text, "watch_auditor_flows_grpc_lost_events_total", '{source="hubble",reason="observer_events_queue"}'), 7);
  assert.equal(sample(text, "watch_auditor_flows_grpc_stream_errors_total", '{source="hubble",code="UNAVAILABLE"}'), 1);
  assert.equal(sample(text, "watch_auditor_flows_grpc_reconnects_total", '{source="hubble"}'), 1);
  assert.equal(sample(text, "watch_auditor_flows_grpc_connected", '{source="hubble"}'), 1);
  // The requests: follow + whitelist; the second resumes at the newest flow of the first.
  const [first, second] = server.requests.map((r) => r.request);
  assert.equal(first!.follow, true);
  assert.equal(first!.since, undefined);
  assert.deepEqual(first!.whitelist, [{ verdict: ["DROPPED", "ERROR", "AUDIT"] }, { protocol: ["dns", "http"] }]);
  const newest = server.flowTimes[0]!.reduce((a, b) => (a > b ? a : b));
  const since = second!.since as { seconds: string; nanos?: number };
  const sinceIso = new Date(Number(since.seconds) * 1000).toISOString().slice(0, 19) + "." + String(since.nanos ?? 0).padStart(9, "0") + "Z";
  assert.equal(sinceIso, newest.length === 30 ? newest : newest.replace(/\.(\d+)Z$/, (_m, d: string) => `.${d.padEnd(9, "0")}Z`));
  assert.equal(server.flowTimes[0]!.length, 300, "301 messages: lost_events + 300 flows before the cut");
  const r = await stopCli(child);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /gRPC stream ended; reconnecting/);
});

test("--tetragon-grpc over a unix socket: GetEvents with the kprobe allow-list and field filter; reconnect after a cut; rate-limit losses counted", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "flows-grpc-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const files = ["kovenant_example_tetragon_log.jsonl", "tetragon_docs_examples_kprobe_exec_exit.jsonl"];
  const events = files.flatMap((f) => sampleEvents(f) as Json[]).filter((e) => e.process_kprobe !== undefined);
  const server = await startGrpcTestServer({ tetragon: events, cut: [{ call: 0, after: 2 }], rateLimited: 5, address: `unix://${join(dir, "tetragon.sock")}` });
  t.after(() => server.close());
  const child = spawnCli(["flows", "--tetragon-grpc", server.address, "--no-kube", "--port", "0", "--host", "127.0.0.1"], { env: noKubeEnv });
  t.after(() => stopCli(child, "SIGKILL"));
  const p = await port(child);
  const recvmsg = jqCount(`select(.process_kprobe.function_name == "tcp_recvmsg")`, files[0]!);
  const other = jqCount(`select(.process_kprobe != null and (.process_kprobe.function_name | startswith("tcp_") | not))`, ...files);
  const text = await eventually(async () => {
    const m = await scrape(p);
    return total(m, "watch_auditor_flows_events_total", 'source="tetragon"') === recvmsg + other ? m : undefined;
  }, { timeoutMs: 60_000, what: "all Tetragon events" });
  const bytes = Number(execFileSync("jq", ["-s", '[.[] | .process_kprobe.args[1].size_arg | tonumber] | add', `${SAMPLES_DIR}/${files[0]}`], { encoding: "utf8" }).trim());
  assert.equal(sample(text, "watch_auditor_flows_tcp_received_bytes_total", '{src_namespace="kcos-sso",src_workload="keycloak-operator",dst_namespace="",dst_workload="world",dst_service=""}'), bytes);
  assert.equal(sample(text, "watch_auditor_flows_events_total", '{source="tetragon",type="tcp_recvmsg"}'), recvmsg);
  assert.equal(sample(text, "watch_auditor_flows_grpc_lost_events_total", '{source="tetragon",reason="rate_limit"}'), 5);
  assert.equal(sample(text, "watch_auditor_flows_grpc_reconnects_total", '{source="tetragon"}'), 1);
  const req = server.requests[0]!.request;
  assert.deepEqual(req.allow_list, [{ event_set: ["PROCESS_KPROBE"] }]);
  assert.deepEqual(req.field_filters, [{ event_set: ["PROCESS_KPROBE"], fields: { paths: ["process.exec_id", "process.pod", "function_name", "args", "return", "action"] } }]);
  const r = await stopCli(child);
  assert.equal(r.code, 0, r.stderr);
});

test("--hubble-relay over mTLS: flows arrive with the client certificate; without one the handshake fails and is counted; bad flags exit 2", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "flows-grpc-tls-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const tls = await generateTls(dir);
  const client = await generateClientCert(dir, "flows");
  const server = await startGrpcTestServer({ hubble: sampleEvents(DROP) as Json[], tls: { ...tls, requireClientCert: true } });
  t.after(() => server.close());
  const withCert = spawnCli(["flows", "--hubble-relay", server.address, "--hubble-relay-tls-ca", tls.caFile, "--hubble-relay-tls-cert", client.certFile, "--hubble-relay-tls-key", client.keyFile, "--no-kube", "--port", "0", "--host", "127.0.0.1"], { env: noKubeEnv });
  const noCert = spawnCli(["flows", "--hubble-relay", server.address, "--hubble-relay-tls-ca", tls.caFile, "--no-kube", "--port", "0", "--host", "127.0.0.1"], { env: noKubeEnv });
  t.after(() => Promise.all([stopCli(withCert, "SIGKILL"), stopCli(noCert, "SIGKILL")]));
  const [p1, p2] = await Promise.all([port(withCert), port(noCert)]);
  await eventually(async () => total(await scrape(p1), "watch_auditor_flows_drops_total") === 2, { timeoutMs: 45_000, what: "drops over mTLS" });
  const refused = await eventually(async () => {
    const m = await scrape(p2);
    return total(m, "watch_auditor_flows_grpc_stream_errors_total", 'source="hubble"') >= 1 ? m : undefined;
  }, { timeoutMs: 45_000, what: "handshake failure counted" });
  assert.equal(total(refused, "watch_auditor_flows_drops_total"), 0);
  assert.equal(sample(refused, "watch_auditor_flows_grpc_connected", '{source="hubble"}'), 0);
  const bad = await Promise.all([
    runCli(["flows", "--hubble-relay", "relay:notaport"], { env: noKubeEnv, timeoutMs: 60_000 }),
    runCli(["flows", "--hubble-relay", "relay:4245", "--hubble-relay-tls-cert", client.certFile], { env: noKubeEnv, timeoutMs: 60_000 }),
    runCli(["flows", "--hubble", "-", "--hubble-relay", "relay:4245"], { env: noKubeEnv, timeoutMs: 60_000 }),
  ]);
  assert.deepEqual(bad.map((b) => b.code), [2, 2, 2]);
  assert.match(bad[0]!.stderr, /--hubble-relay: expected unix:\/\/\/path\/to\.sock or host:port/);
  assert.match(bad[1]!.stderr, /go together/);
  assert.match(bad[2]!.stderr, /give one/);
});
