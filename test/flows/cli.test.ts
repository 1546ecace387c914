import { test } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually, runCli, spawnCli, stopCli } from "../support/cli.js";
import { SAMPLES_DIR, tetragonTcp, hubbleResponse } from "./samples.js";
import { promtoolCheck, sample } from "./promtool.js";

type Child = ReturnType<typeof spawnCli>;

async function metricsPort(child: Child): Promise<number> {
  const m = await eventually(() => /"port":(\d+),"msg":"listening"/.exec(child.output.stderr), { timeoutMs: 45_000, what: "listening" }).catch((err: Error) => {
    throw new Error(`${err.message}; stderr: ${child.output.stderr.slice(-2000)}`);
  });
  return Number(m[1]);
}

async function scrape(port: number): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(r.status, 200);
  return r.text();
}

const noKubeEnv = { KUBECONFIG: "/nonexistent/kubeconfig", KUBERNETES_SERVICE_HOST: undefined, HOME: "/nonexistent" };

test("stdin: the real kovenant sample plus a bad line; flows written at end of input; exit 0", async () => {
  const input = readFileSync(`${SAMPLES_DIR}/kovenant_example_tetragon_log.jsonl`, "utf8") + "{not json\n";
  const r = await runCli(["flows", "--tetragon", "-", "--port", "0", "--no-kube", "--flows-out", "-"], { input, timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  const flows = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(flows.length, 1);
  assert.deepEqual(flows[0]!.src, { namespace: "kcos-sso", workload: "keycloak-operator", kind: "Deployment" });
  assert.deepEqual(flows[0]!.dst, { namespace: "", workload: "world", kind: "World" });
  assert.equal(flows[0]!.bytes_received, 87952);
  assert.equal(flows[0]!.dst_port, 443);
  const lines = input.split("\n").filter((l) => l !== "").length;
  assert.match(r.stderr, new RegExp(`"input":"stdin:${lines}","reason":"json"`), "bad line logged with its number");
});

test("stdin: the kovenant sample repeated, so later lines take the remembered-head path: totals stay exact", async () => {
  const sampleText = readFileSync(`${SAMPLES_DIR}/kovenant_example_tetragon_log.jsonl`, "utf8");
  const r = await runCli(["flows", "--tetragon", "-", "--port", "0", "--no-kube", "--flows-out", "-"], { input: sampleText.repeat(5), timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  const flows = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(flows.length, 1);
  assert.deepEqual(flows[0]!.src, { namespace: "kcos-sso", workload: "keycloak-operator", kind: "Deployment" });
  assert.equal(flows[0]!.bytes_received, 5 * 87952);
});

test("stdin with --keep-running serves /metrics (promtool-clean) after end of input until SIGTERM", async (t) => {
  const child = spawnCli(["flows", "--hubble", "-", "--port", "0", "--no-kube", "--keep-running"], { env: noKubeEnv });
  t.after(() => stopCli(child, "SIGKILL"));
  child.stdin.end(readFileSync(`${SAMPLES_DIR}/hubble-otel_basic-sample-5-http-flows.jsonl`, "utf8") + hubbleResponse({ srcIp: "10.0.0.9", srcPort: 80, dstIp: "10.0.0.1", dstPort: 5555, code: 200, latencyNs: "20000000", ns: "shop", pod: "api-5c7d8b9f6-x2z4w" }) + "\n");
  const port = await metricsPort(child);
  const text = await eventually(async () => {
    const m = await scrape(port);
    return m.includes('http_server_requests_total{namespace="shop"') ? m : undefined;
  }, { timeoutMs: 45_000, what: "http metrics" });
  assert.equal(sample(text, "http_server_requests_total", '{namespace="kube-system",service="",workload="node-local-dns",method="GET",status_code_class="5xx"}'), 2);
  assert.equal(sample(text, "http_server_request_duration_seconds_bucket", '{namespace="shop",service="",workload="api",method="GET",status_code_class="2xx",le="0.025"}'), 1);
  assert.equal(sample(text, "watch_auditor_flows_kube_cache_ready"), 0);
  assert.equal(promtoolCheck(text), "");
  // No --auth and no credentials to review tokens with: the data endpoint is off, not open.
  const drops = await fetch(`http://127.0.0.1:${port}/drops`);
  assert.equal(drops.status, 503);
  assert.match(await drops.text(), /disabled: no credentials to review tokens/);
  const r = await stopCli(child, "SIGTERM");
  assert.equal(r.code, 0, r.stderr);
});

test("file input followed like tail -F across rename and truncate rotations; --flows-out file", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "flows-cli-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "tetragon.log");
  const out = join(dir, "flows.jsonl");
  const line = (sport: number, size: number) => tetragonTcp({ fn: "tcp_sendmsg", saddr: "10.0.0.1", daddr: "10.0.9.9", sport, dport: 443, size, ns: "shop", pod: "web-5c7d8b9f6-x2z4w" }) + "\n";
  writeFileSync(file, line(40000, 1000));
  const child = spawnCli(["flows", "--tetragon", file, "--from-start", "--port", "0", "--no-kube", "--poll-interval", "50ms", "--flows-out", out, "--flows-interval", "200ms", "--max-line-bytes", "4KiB"], {});
  t.after(() => stopCli(child, "SIGKILL"));
  const port = await metricsPort(child);
  const sent = async () => sample(await scrape(port), "watch_auditor_flows_tcp_sent_bytes_total", '{src_namespace="shop",src_workload="web",dst_namespace="",dst_workload="world",dst_service=""}');
  await eventually(async () => (await sent()) === 1000, { timeoutMs: 45_000, what: "first line" });
  appendFileSync(file, line(40001, 10) + "x".repeat(5000) + "\n");
  await eventually(async () => (await sent()) === 1010, { timeoutMs: 45_000, what: "appended line" });
  renameSync(file, `${file}.1`);
  writeFileSync(file, line(40002, 100));
  await eventually(async () => (await sent()) === 1110, { timeoutMs: 45_000, what: "line in the new file after rename" });
  writeFileSync(file, ""); // copytruncate
  await new Promise((r) => setTimeout(r, 300));
  appendFileSync(file, line(40003, 5));
  await eventually(async () => (await sent()) === 1115, { timeoutMs: 45_000, what: "line after truncation" });
  const text = await scrape(port);
  assert.equal(sample(text, "watch_auditor_flows_events_invalid_total", '{source="tetragon",reason="too_long"}'), 1);
  assert.match(child.output.stderr, new RegExp(`"input":"${file.replace(/[./]/g, "\\$&")}:3","reason":"too_long"`));
  const r = await stopCli(child, "SIGTERM");
  assert.equal(r.code, 0, r.stderr);
  const flows = readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { bytes_sent: number; interval_s: number; dst_port: number });
  assert.equal(flows.reduce((s, f) => s + f.bytes_sent, 0), 1115, "every byte in exactly one interval");
  assert.ok(flows.every((f) => f.dst_port === 443 && f.interval_s >= 0));
});

test("usage errors exit 2 and name the flag", async () => {
  // One process per case (commander stops at the first error); the shared flag parsers have
  // their own tests in test/core, so these cover flows' own checks and the env path.
  const cases: [string[], RegExp][] = [
    [["flows", "--no-kube"], /needs an input/],
    [["flows", "--tetragon", "-", "--hubble", "-"], /cannot both read stdin/],
    [["flows", "--tetragon", "-", "--cidr-name", "10.0.0.0/8"], /--cidr-name.*CIDR=NAME/],
  ];
  const [results, env] = await Promise.all([
    Promise.all(cases.map(([args]) => runCli(args, { env: noKubeEnv, timeoutMs: 60_000 }))),
    runCli(["flows", "--tetragon", "-"], { env: { ...noKubeEnv, WATCH_AUDITOR_FLOWS_MAX_SERIES: "-5" }, timeoutMs: 60_000 }),
  ]);
  cases.forEach(([args, re], i) => {
    assert.equal(results[i]!.code, 2, `${args.join(" ")}: ${results[i]!.stderr}`);
    assert.match(results[i]!.stderr, re);
  });
  assert.equal(env.code, 2, env.stderr);
  assert.match(env.stderr, /max-series/);
});
