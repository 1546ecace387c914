import { test } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestApiServer, type KubeObject } from "../support/kube-apiserver/index.js";
import { eventually, spawnCli, stopCli } from "../support/cli.js";
import { tetragonTcp } from "./samples.js";
import { sample } from "./promtool.js";
import { endpointSlice, namespace, pod, replicaSet, service } from "../core/kube-metadata/objects.js";

const k = (o: unknown) => o as KubeObject;

async function metricsPort(child: ReturnType<typeof spawnCli>): Promise<number> {
  const m = await eventually(() => /"port":(\d+),"msg":"listening"/.exec(child.output.stderr), { timeoutMs: 45_000, what: "listening" }).catch((err: Error) => {
    throw new Error(`${err.message}; stderr: ${child.output.stderr.slice(-2000)}`);
  });
  return Number(m[1]);
}

const scrape = async (port: number) => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();

test("flows enriches from the live cache of the test API server; ignore annotations toggle live; --node filters", async (t) => {
  const api = await startTestApiServer({ bookmarkIntervalMs: 200 });
  const dir = mkdtempSync(join(tmpdir(), "flows-kube-"));
  t.after(async () => {
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });
  api.store.create(k(namespace("shop")));
  api.store.create(k(namespace("db")));
  api.store.create(k(replicaSet("shop", "web-5c7d8", "web", { "meta.helm.sh/release-name": "storefront" })));
  // The pod name would not reveal the Deployment: only the owner chain does.
  api.store.create(k(pod({ ns: "shop", name: "frontend-x", ip: "10.0.0.1", node: "n1", owner: { kind: "ReplicaSet", name: "web-5c7d8" } })));
  api.store.create(k(pod({ ns: "db", name: "pg-0", ip: "10.0.0.2", node: "n1", owner: { kind: "StatefulSet", name: "pg" } })));
  api.store.create(k(service("db", "postgres", "10.96.0.5", { app: "pg" }, [5432])));
  api.store.create(k(endpointSlice("db", "postgres", [{ ip: "10.0.0.2", pod: "pg-0" }], [5432])));
  const file = join(dir, "tetragon.log");
  writeFileSync(file, "");
  const child = spawnCli(["flows", "--tetragon", file, "--kubeconfig", api.writeKubeconfig(dir), "--node", "n1", "--port", "0", "--poll-interval", "50ms"], {});
  t.after(() => stopCli(child, "SIGKILL"));
  const port = await metricsPort(child);
  await eventually(async () => sample(await scrape(port), "watch_auditor_flows_kube_cache_ready") === 1, { timeoutMs: 45_000, what: "cache ready" });

  const ev = (sport: number, node = "n1") => tetragonTcp({ fn: "tcp_connect", saddr: "10.0.0.1", daddr: "10.96.0.5", sport, dport: 5432, ns: "shop", pod: "frontend-x", node }) + "\n";
  appendFileSync(file, ev(40000) + ev(40001, "n2"));
  const labels = '{src_namespace="shop",src_workload="web",dst_namespace="db",dst_workload="pg",dst_service="postgres"}';
  await eventually(async () => sample(await scrape(port), "watch_auditor_flows_tcp_connections_total", labels) === 1, { timeoutMs: 45_000, what: "enriched connection" });
  assert.equal(sample(await scrape(port), "watch_auditor_flows_events_ignored_total", '{source="tetragon",reason="other_node"}'), 1);

  api.store.update(k(namespace("db", { "owlk8s/ignore": "true" })));
  // Poll with fresh events until the annotation has reached the cache.
  let sport = 41000;
  await eventually(async () => {
    appendFileSync(file, ev(sport++));
    return (sample(await scrape(port), "watch_auditor_flows_events_ignored_total", '{source="tetragon",reason="annotation"}') ?? 0) > 0;
  }, { timeoutMs: 45_000, intervalMs: 200, what: "namespace ignore applied" });
  const frozen = sample(await scrape(port), "watch_auditor_flows_tcp_connections_total", labels);
  appendFileSync(file, ev(sport++));
  await eventually(async () => (sample(await scrape(port), "watch_auditor_flows_events_total", '{source="tetragon",type="tcp_connect"}') ?? 0) >= sport - 41000 + 2, { what: "last event read" });
  assert.equal(sample(await scrape(port), "watch_auditor_flows_tcp_connections_total", labels), frozen, "ignored traffic not counted");

  api.store.update(k(namespace("db")));
  await eventually(async () => {
    appendFileSync(file, ev(sport++));
    return (sample(await scrape(port), "watch_auditor_flows_tcp_connections_total", labels) ?? 0) > frozen!;
  }, { timeoutMs: 45_000, intervalMs: 200, what: "counted again after unignore" });

  // Watches cut: the cache reconnects and sees later changes.
  api.cutWatches();
  api.store.create(k(pod({ ns: "shop", name: "late", ip: "10.0.0.7", node: "n1", owner: { kind: "DaemonSet", name: "agent" } })));
  appendFileSync(file, tetragonTcp({ fn: "tcp_connect", saddr: "10.0.0.7", daddr: "10.0.0.2", sport: 50000, dport: 5432, ns: "shop", pod: "late", node: "n1" }) + "\n");
  await eventually(async () => {
    appendFileSync(file, tetragonTcp({ fn: "tcp_connect", saddr: "10.0.0.7", daddr: "10.0.0.2", sport: 50000, dport: 5432, ns: "shop", pod: "late", node: "n1" }) + "\n");
    return (sample(await scrape(port), "watch_auditor_flows_tcp_connections_total", '{src_namespace="shop",src_workload="agent",dst_namespace="db",dst_workload="pg",dst_service="postgres"}') ?? 0) > 0;
  }, { timeoutMs: 45_000, intervalMs: 250, what: "pod created after the watch cut" });
  const r = await stopCli(child);
  assert.equal(r.code, 0, r.stderr);
});

test("without a reachable cluster flows still runs: input held --cache-sync-timeout, then events labelled from the events and counted as unenriched; /readyz and the log say so", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "flows-nokube-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // A kubeconfig pointing at a closed port: the cache never syncs.
  const api = await startTestApiServer();
  const kubeconfig = api.writeKubeconfig(dir);
  await api.close();
  const event = tetragonTcp({ fn: "tcp_connect", saddr: "10.0.0.1", daddr: "8.8.8.8", sport: 40000, dport: 53, ns: "shop", pod: "web-5c7d8b9f6-x2z4w" }) + "\n";
  const unreachable = spawnCli(["flows", "--tetragon", "-", "--kubeconfig", kubeconfig, "--port", "0", "--keep-running", "--cache-sync-timeout", "1s"], {});
  t.after(() => stopCli(unreachable, "SIGKILL"));
  // No configuration at all (no kubeconfig, not in a cluster): no wait, one clear warning.
  const unconfigured = spawnCli(["flows", "--tetragon", "-", "--port", "0", "--keep-running"], { env: { KUBECONFIG: join(dir, "missing"), KUBERNETES_SERVICE_HOST: undefined, HOME: dir } });
  t.after(() => stopCli(unconfigured, "SIGKILL"));
  unreachable.stdin.end(event + event);
  unconfigured.stdin.end(event);
  const labels = '{src_namespace="shop",src_workload="web",dst_namespace="",dst_workload="world",dst_service=""}';
  for (const [child, reason, count, state] of [[unreachable, "cache_not_synced", 2, "timed_out"], [unconfigured, "no_cache", 1, "unavailable"]] as const) {
    const port = await metricsPort(child);
    const text = await eventually(async () => {
      const m = await scrape(port);
      return sample(m, "watch_auditor_flows_tcp_connections_total", labels) === count ? m : undefined;
    }, { timeoutMs: 45_000, what: "event-labelled flow" });
    assert.equal(sample(text, "watch_auditor_flows_kube_cache_ready"), 0);
    assert.equal(sample(text, "watch_auditor_flows_events_unenriched_total", `{reason="${reason}"}`), count);
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    assert.equal(ready.status, 200, "reading input: ready, and saying why labels lack cluster metadata");
    const body = (await ready.json()) as { detail: { kubeCache: string; warning: string; unenrichedEvents: number } };
    assert.equal(body.detail.kubeCache, state);
    assert.equal(body.detail.unenrichedEvents, count);
    assert.match(body.detail.warning, /without cluster metadata/);
  }
  await eventually(() => unconfigured.output.stderr.includes("no Kubernetes metadata cache"), { timeoutMs: 45_000, what: "warning" });
  assert.match(unreachable.output.stderr, /not synced within --cache-sync-timeout.*reading input anyway/);
  const [a, b] = await Promise.all([stopCli(unreachable), stopCli(unconfigured)]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  assert.equal(b.stderr.split("\n").filter((l) => l.includes("no Kubernetes metadata cache")).length, 1);
});
