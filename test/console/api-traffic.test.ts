// GET /api/console/traffic/graph against a real Prometheus holding the real output of
// `watch-auditor flows`: the CLI reads the Hubble and Tetragon samples (../shared/samples/flows),
// its /metrics is scraped once, and every counter of it is backfilled into Prometheus (promtool) as
// a straight line from 0 to its value over 10 minutes. increase() over the last 5 minutes of that
// line is exactly half the value, so each edge's expected bytes, requests and error ratio come from
// the flows' own /metrics text, read here with a plain parser.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { Registry } from "prom-client";
import { OpsServer } from "../../src/core/http-server.js";
import { createLogger } from "../../src/core/logger.js";
import { trafficRoutes, type TrafficGraph } from "../../src/console/api/traffic.js";
import type { ConsoleContext } from "../../src/console/context.js";
import type { Series } from "./prometheus-support.js";
import { flowsPrometheus, PAIR_METRICS } from "./ops-sources.js";

interface Expected {
  edges: Map<string, { bytes: number; requests: number; drops: number; errors: number; errorRatio: number }>;
  nodes: Map<string, { httpRequests: number; httpErrorRatio: number }>;
}

/** What the graph must say for the window of the last 5 of the 10 ramp minutes: half of each counter. */
function expected(series: Series[], ns?: string): Expected {
  const acc = new Map<string, { bytes: number; conns: number; dns: number; dnsErr: number; drops: number }>();
  const id = (n: string | undefined, w: string | undefined) => `${n ?? ""}/${w ?? ""}`;
  for (const s of series) {
    if (!PAIR_METRICS.includes(s.name)) continue;
    const l = s.labels;
    if (ns !== undefined && l.src_namespace !== ns && l.dst_namespace !== ns) continue;
    const key = `${id(l.src_namespace, l.src_workload)} ${id(l.dst_namespace, l.dst_workload)}`;
    const e = acc.get(key) ?? { bytes: 0, conns: 0, dns: 0, dnsErr: 0, drops: 0 };
    const half = s.value / 2;
    if (s.name.endsWith("_bytes_total")) e.bytes += half;
    if (s.name.endsWith("connections_total")) e.conns += half;
    if (s.name.endsWith("dns_requests_total")) {
      e.dns += half;
      if (["SERVFAIL", "REFUSED", "FORMERR", "NOTIMP"].includes(l.rcode ?? "")) e.dnsErr += half;
    }
    if (s.name.endsWith("drops_total")) e.drops += half;
    acc.set(key, e);
  }
  const edges = new Map(
    [...acc].map(([k, e]) => {
      const requests = e.conns + e.dns;
      const errors = e.drops + e.dnsErr;
      return [k, { bytes: e.bytes, requests, drops: e.drops, errors, errorRatio: requests + e.drops > 0 ? errors / (requests + e.drops) : 0 }];
    }),
  );
  const all = new Map<string, number>();
  const fivexx = new Map<string, number>();
  for (const s of series) {
    if (s.name !== "http_server_requests_total" || !s.labels.workload) continue;
    if (ns !== undefined && s.labels.namespace !== ns) continue;
    const k = id(s.labels.namespace, s.labels.workload);
    all.set(k, (all.get(k) ?? 0) + s.value / 2);
    if (s.labels.status_code_class === "5xx") fivexx.set(k, (fivexx.get(k) ?? 0) + s.value / 2);
  }
  const nodes = new Map<string, { httpRequests: number; httpErrorRatio: number }>();
  for (const k of [...acc.keys()].flatMap((k) => k.split(" "))) nodes.set(k, { httpRequests: 0, httpErrorRatio: 0 });
  for (const [k, n] of all) nodes.set(k, { httpRequests: n, httpErrorRatio: (fivexx.get(k) ?? 0) / n });
  return { edges, nodes };
}

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b));

function assertGraph(g: TrafficGraph, want: Expected): void {
  assert.deepEqual(g.edges.map((e) => `${e.source} ${e.target}`).sort(), [...want.edges.keys()].sort(), "edges: the workload pairs of the flows' metrics");
  for (const e of g.edges) {
    const w = want.edges.get(`${e.source} ${e.target}`)!;
    for (const f of ["bytes", "requests", "drops", "errors", "errorRatio"] as const) assert.ok(close(e[f], w[f]), `${e.source} → ${e.target} ${f}: got ${e[f]}, want ${w[f]}`);
  }
  assert.deepEqual(g.nodes.map((n) => n.id).sort(), [...want.nodes.keys()].sort(), "nodes: every workload of an edge and every HTTP server");
  for (const n of g.nodes) {
    const w = want.nodes.get(n.id)!;
    assert.ok(close(n.httpRequests, w.httpRequests) && close(n.httpErrorRatio, w.httpErrorRatio), `${n.id}: got ${n.httpRequests}/${n.httpErrorRatio}, want ${w.httpRequests}/${w.httpErrorRatio}`);
  }
}

test("traffic graph from real flows output in a real Prometheus: edges, bytes, requests, error ratios, namespace filter, bad input", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "console-traffic-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { series, prom, end } = await flowsPrometheus(dir);
  // the samples give traffic of several kinds: TCP bytes (Tetragon), DNS, drops, HTTP with 5xx
  for (const m of ["watch_auditor_flows_tcp_received_bytes_total", "watch_auditor_flows_dns_requests_total", "watch_auditor_flows_drops_total", "http_server_requests_total"]) assert.ok(series.some((s) => s.name === m && s.value > 0), m);
  t.after(() => prom.stop());

  const server = new OpsServer({ registry: new Registry(), port: 0, host: "127.0.0.1", routes: trafficRoutes({ prometheus: prom.url, log: createLogger("silent"), fetchTimeoutMs: 10_000 } satisfies ConsoleContext) });
  const port = await server.listen();
  t.after(() => server.close());
  const get = async (q: string) => {
    const res = await fetch(`http://127.0.0.1:${port}/api/console/traffic/graph?${q}`);
    return { status: res.status, body: (await res.json()) as TrafficGraph & { error?: string }, cache: res.headers.get("cache-control") };
  };
  const at = new Date(end * 1000).toISOString();

  const all = await get(`window=5m&at=${encodeURIComponent(at)}`);
  assert.equal(all.status, 200, JSON.stringify(all.body));
  assert.equal(all.cache, "no-store");
  const want = expected(series);
  assertGraph(all.body, want);
  assert.equal(all.body.window, "5m");
  assert.equal(all.body.ns, null);
  assert.equal(all.body.at, at);
  assert.equal(all.body.truncated, false);
  const namespaces = [...new Set(series.filter((s) => PAIR_METRICS.includes(s.name)).flatMap((s) => [s.labels.src_namespace, s.labels.dst_namespace]).filter((n): n is string => !!n))].sort();
  assert.deepEqual(all.body.namespaces, namespaces);
  // a drop between two workloads is a failed flow: that edge is over the 5 % line
  const denied = all.body.edges.find((e) => e.source === "default/xwing" && e.target === "default/deathstar")!;
  assert.ok(denied.errorRatio > 0.05 && denied.drops > 0, JSON.stringify(denied));
  // NXDOMAIN answers are not errors: the DNS edge carries requests, no errors
  const dns = all.body.edges.find((e) => e.source === "kube-system/node-local-dns" && e.target === "kube-system/kube-dns")!;
  assert.ok(dns.requests > 0 && dns.errors === 0, JSON.stringify(dns));
  // heaviest edges first
  assert.deepEqual(all.body.edges.map((e) => e.bytes), [...all.body.edges.map((e) => e.bytes)].sort((a, b) => b - a));

  // namespace filter: the pairs with the namespace on either side only
  for (const ns of ["kube-system", "default", "kcos-sso"]) {
    const r = await get(`ns=${ns}&window=5m&at=${end * 1000}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.ns, ns);
    assertGraph(r.body, expected(series, ns));
    assert.ok(r.body.edges.length > 0, `${ns} has edges`);
  }
  // a window that reaches before the ramp: the whole counters (increase from 0 over 10 minutes)
  const long = await get(`window=1h&at=${end * 1000}`);
  const tcp = long.body.edges.find((e) => e.source === "kcos-sso/keycloak-operator")!;
  const received = series.find((s) => s.name === "watch_auditor_flows_tcp_received_bytes_total" && s.labels.src_workload === "keycloak-operator")!.value;
  assert.ok(Math.abs(tcp.bytes - received) / received < 0.02, `1h window: ${tcp.bytes} vs ${received}`);
  // after the ramp, with nothing new: no traffic in the window
  const later = await get(`window=5m&at=${(end + 3600) * 1000}`);
  assert.deepEqual([later.body.edges.length, later.body.nodes.length], [0, 0]);

  // Bad input: 400 naming the parameter, and nothing reaches PromQL.
  for (const [q, re] of [
    [`ns=${encodeURIComponent('default"} or vector(1) or {a="')}`, /query parameter ns: not a Kubernetes namespace name/],
    ["ns=Default", /query parameter ns/],
    [`ns=${"a".repeat(64)}`, /query parameter ns/],
    [`window=${encodeURIComponent("5m]) or vector(1)#")}`, /query parameter window: not a duration/],
    ["window=30s", /query parameter window: must be between 60s and 604800s/],
    ["window=8d", /query parameter window/],
    ["at=yesterday", /query parameter at: not a time/],
  ] as const) {
    const r = await get(q);
    assert.equal(r.status, 400, q);
    assert.match(r.body.error!, re, q);
  }

  // Prometheus gone: 502 naming it; no Prometheus configured: 503.
  await prom.stop();
  const down = await get("window=5m");
  assert.equal(down.status, 502);
  assert.match(down.body.error!, new RegExp(`Prometheus ${prom.url}/api/v1/query: `));
  const none = new OpsServer({ registry: new Registry(), port: 0, host: "127.0.0.1", routes: trafficRoutes({ log: createLogger("silent"), fetchTimeoutMs: 1000 }) });
  const nonePort = await none.listen();
  t.after(() => none.close());
  const r = await fetch(`http://127.0.0.1:${nonePort}/api/console/traffic/graph`);
  assert.equal(r.status, 503);
  assert.match(((await r.json()) as { error: string }).error, /--prometheus URL/);
});
