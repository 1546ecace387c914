// The TableRegistry writes table-backed metrics itself (one cached label string per row): its
// exposition must be byte-for-byte what prom-client's own Registry writes for the same tables.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { Registry } from "prom-client";
import { FlowProcessor } from "../../src/flows/processor.js";
import { Enricher } from "../../src/flows/enrich.js";
import { TableRegistry } from "../../src/flows/series.js";
import { SAMPLES_DIR, hubbleResponse, tetragonTcp } from "./samples.js";
import { promtoolCheck } from "./promtool.js";
import { OpsServer } from "../../src/core/http-server.js";
import { get } from "node:http";

function feed(registry: Registry): FlowProcessor {
  const p = new FlowProcessor({ registry, enricher: new Enricher(undefined), maxSeries: 3, podLabels: true });
  for (const f of ["hubble-otel_basic-sample-348-http-flows.jsonl", "hubble-otel_basic-sample-330-dns-flows.jsonl", "cilium-docs_hubble-exporter-dropped-flows.jsonl"]) {
    for (const line of readFileSync(`${SAMPLES_DIR}/${f}`, "utf8").split("\n")) if (line) p.handleLine("hubble", line);
  }
  for (const line of readFileSync(`${SAMPLES_DIR}/kovenant_example_tetragon_log.jsonl`, "utf8").split("\n")) if (line) p.handleLine("tetragon", line);
  // Label values that need escaping: a quote, a backslash and a newline (from a pod name an event carries).
  p.handleLine("tetragon", tetragonTcp({ fn: "tcp_connect", saddr: "10.0.0.1", daddr: "10.0.0.2", sport: 40000, dport: 80, ns: 'we"ird\\ns', pod: "a\nb", workload: 'x"y' }));
  p.handleLine("hubble", hubbleResponse({ srcIp: "10.0.0.9", srcPort: 80, dstIp: "10.0.0.1", dstPort: 5555, code: 200, latencyNs: "20000000", ns: "shop", pod: "api-5c7d8b9f6-x2z4w" }));
  return p;
}

test("TableRegistry's exposition equals prom-client's for the same tables (counters, histograms, overflow, escaping), twice", async () => {
  const plain = new Registry();
  const fast = new TableRegistry();
  feed(plain);
  const p = feed(fast);
  const [a, b] = [await plain.metrics(), await fast.metrics()];
  assert.ok(a.includes("watch_auditor_flows_dns_request_duration_seconds_bucket{"), "histograms present");
  assert.ok(a.includes('src_namespace="overflow"'), "an overflow row present (max 3 series)");
  assert.ok(a.includes('we\\"ird\\\\ns'), "escaped label present");
  assert.equal(b, a);
  // Cached label text stays right after values change.
  p.handleLine("tetragon", tetragonTcp({ fn: "tcp_connect", saddr: "10.0.0.1", daddr: "10.0.0.2", sport: 40001, dport: 80, ns: 'we"ird\\ns', pod: "a\nb", workload: 'x"y' }));
  const again = await fast.metrics();
  assert.notEqual(again, b);
  assert.match(again, /watch_auditor_flows_tcp_connections_total\{src_namespace="we\\"ird\\\\ns",src_workload="x\\"y",dst_namespace="",dst_workload="world",dst_service="",src_pod="a\\nb",dst_pod=""\} 2/);
  assert.equal(promtoolCheck(again), "");
});

test("writeMetrics streams metrics()' text in ~64 KiB pieces, and /metrics serves it streamed", async () => {
  const registry = new TableRegistry();
  const p = new FlowProcessor({ registry, enricher: new Enricher(undefined), maxSeries: 2000, podLabels: false });
  // 2500 workloads over a 2000-series cap: ~0.6 MB of text over several pieces, with an overflow row.
  for (let i = 0; i < 2500; i++) {
    for (const fn of ["tcp_connect", "tcp_sendmsg"]) p.handleLine("tetragon", tetragonTcp({ fn, saddr: `10.1.${i >> 8}.${i & 255}`, daddr: "93.184.216.34", sport: 40000 + i, dport: 443, size: 100 + i, ns: `ns${i % 7}`, pod: `w${i}-5c7d8b9f6-x2z4w`, workload: `w${i}` }));
  }
  const whole = await registry.metrics();
  assert.ok(whole.length > 300_000, `${whole.length} characters`);
  assert.ok(whole.includes('src_namespace="overflow"'));
  const pieces: string[] = [];
  await registry.writeMetrics((chunk) => {
    pieces.push(chunk);
  });
  assert.ok(pieces.length >= 4, `${pieces.length} pieces`);
  assert.ok(pieces.slice(0, -1).every((c) => c.length >= 64 << 10 && c.length < (64 << 10) + 1000));
  assert.equal(pieces.join(""), whole);
  const server = new OpsServer({ registry, port: 0, host: "127.0.0.1", writeMetrics: (write) => registry.writeMetrics(write) });
  const port = await server.listen();
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    assert.equal(res.headers.get("content-type"), registry.contentType);
    const body = await res.text();
    assert.equal(body, whole);
    assert.equal(promtoolCheck(body), "");
    const head = await fetch(`http://127.0.0.1:${port}/metrics`, { method: "HEAD" });
    assert.equal(head.status, 200);
  } finally {
    await server.close();
  }
});

test("a scraper that goes away mid-stream: the writer's wait ends with an error, and the next scrape is served", async () => {
  const registry = new TableRegistry();
  const piece = "x".repeat(64 << 10);
  const outcomes: string[] = [];
  let n = 0;
  const server = new OpsServer({
    registry,
    port: 0,
    host: "127.0.0.1",
    writeMetrics: async (write) => {
      // The first scrape: 16 MiB, far more than the socket buffers, so writing waits for drain.
      const pieces = n++ === 0 ? 256 : 1;
      try {
        for (let i = 0; i < pieces; i++) await write(piece);
        outcomes.push("done");
      } catch (err) {
        outcomes.push((err as Error).message);
        throw err;
      }
    },
  });
  const port = await server.listen();
  try {
    await new Promise<void>((resolve, reject) => {
      const req = get(`http://127.0.0.1:${port}/metrics`, (res) => {
        res.once("data", () => {
          req.destroy();
          resolve();
        });
      });
      req.on("error", (err) => (err.message.includes("aborted") || (err as NodeJS.ErrnoException).code === "ECONNRESET" ? resolve() : reject(err)));
    });
    for (let i = 0; i < 50 && outcomes.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(outcomes, ["client closed the connection"]);
    const body = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.equal(body, piece);
    assert.deepEqual(outcomes, ["client closed the connection", "done"]);
  } finally {
    await server.close();
  }
});
