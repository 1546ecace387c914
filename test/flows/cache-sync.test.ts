import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startTestApiServer, type KubeObject } from "../support/kube-apiserver/index.js";
import { eventually, spawnCli, stopCli } from "../support/cli.js";
import { tetragonTcp } from "./samples.js";
import { sample } from "./promtool.js";
import { endpointSlice, namespace, pod, replicaSet, service } from "../core/kube-metadata/objects.js";

interface Obj {
  kind?: string;
  metadata?: { namespace?: string; name?: string; labels?: Record<string, string>; ownerReferences?: { kind: string; name: string }[] };
  spec?: { clusterIP?: string };
  status?: { podIP?: string };
  endpoints?: { addresses: string[] }[];
}

/**
 * The labels a peer must get, worked out from the test's own objects (not from the product's
 * cache): pod IP → pod → ReplicaSet → Deployment; ClusterIP → Service → the Deployment of the
 * pods in its EndpointSlice.
 */
function expectedPeer(objects: Obj[], ip: string): { namespace: string; workload: string; service: string } {
  const owner = (ns: string, kind: string, name: string): string => {
    const o = objects.find((x) => x.kind === kind && x.metadata?.namespace === ns && x.metadata?.name === name);
    const ref = o?.metadata?.ownerReferences?.[0];
    return ref ? owner(ns, ref.kind, ref.name) : name;
  };
  const p = objects.find((x) => x.kind === "Pod" && x.status?.podIP === ip);
  if (p) {
    const ref = p.metadata!.ownerReferences![0]!;
    const slice = objects.find((x) => x.kind === "EndpointSlice" && x.endpoints?.some((e) => e.addresses.includes(ip)));
    return { namespace: p.metadata!.namespace!, workload: owner(p.metadata!.namespace!, ref.kind, ref.name), service: slice?.metadata?.labels?.["kubernetes.io/service-name"] ?? "" };
  }
  const svc = objects.find((x) => x.kind === "Service" && x.spec?.clusterIP === ip);
  if (svc) {
    const slice = objects.find((x) => x.kind === "EndpointSlice" && x.metadata?.namespace === svc.metadata!.namespace && x.metadata?.name?.startsWith(`${svc.metadata!.name}-`));
    const backend = expectedPeer(objects, slice!.endpoints![0]!.addresses[0]!);
    return { namespace: backend.namespace, workload: backend.workload, service: svc.metadata!.name! };
  }
  return { namespace: "", workload: "world", service: "" };
}

async function listeningPort(child: ReturnType<typeof spawnCli>): Promise<number> {
  const m = await eventually(() => /"port":(\d+),"msg":"listening"/.exec(child.output.stderr), { timeoutMs: 45_000, what: "listening" }).catch((err: Error) => {
    throw new Error(`${err.message}; stderr: ${child.output.stderr.slice(-2000)}`);
  });
  return Number(m[1]);
}

const scrape = async (port: number) => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();

test("input held until the cache's first sync: a file full from the start, lists delayed, every event labelled as after the sync", async (t) => {
  const api = await startTestApiServer();
  const dir = mkdtempSync(join(tmpdir(), "flows-sync-"));
  t.after(async () => {
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const objects: Obj[] = [
    namespace("shop"),
    namespace("db"),
    replicaSet("shop", "web-5c7d8", "web"),
    replicaSet("db", "pg-6f9b4", "postgres-primary"),
    // Pod names that do not reveal their Deployment: only the owner chain does.
    pod({ ns: "shop", name: "frontend-x", ip: "10.0.0.1", node: "n1", owner: { kind: "ReplicaSet", name: "web-5c7d8" } }),
    pod({ ns: "db", name: "store-y", ip: "10.0.0.2", node: "n1", owner: { kind: "ReplicaSet", name: "pg-6f9b4" } }),
    service("db", "pg", "10.96.0.5", { app: "pg" }, [5432]),
    endpointSlice("db", "pg", [{ ip: "10.0.0.2", pod: "store-y" }], [5432]),
  ] as Obj[];
  for (const o of objects) api.store.create(o as KubeObject);
  // Every list answers 4 s late: the process must not read its (complete) input before then.
  api.faults.inject({ verb: "list", delayMs: 4000 });

  const dests = ["10.96.0.5", "10.0.0.2", "93.184.216.34"];
  let text = "";
  let n = 0;
  for (let i = 0; i < 60; i++) {
    const daddr = dests[i % 3]!;
    const dport = daddr === "93.184.216.34" ? 443 : 5432;
    text += tetragonTcp({ fn: "tcp_connect", saddr: "10.0.0.1", daddr, sport: 40000 + i, dport, ns: "shop", pod: "frontend-x", node: "n1" }) + "\n";
    text += tetragonTcp({ fn: "tcp_sendmsg", saddr: "10.0.0.1", daddr, sport: 40000 + i, dport, size: 100 + i, ns: "shop", pod: "frontend-x", node: "n1" }) + "\n";
    n += 2;
  }
  const file = join(dir, "tetragon.log");
  writeFileSync(file, text);
  const child = spawnCli(["flows", "--tetragon", file, "--from-start", "--kubeconfig", api.writeKubeconfig(dir), "--port", "0", "--poll-interval", "50ms"], {});
  t.after(() => stopCli(child, "SIGKILL"));
  const port = await listeningPort(child);
  const early = await fetch(`http://127.0.0.1:${port}/readyz`);
  assert.equal(early.status, 503, "not ready while input is held");
  assert.match(JSON.stringify(await early.json()), /held until the metadata cache syncs/);

  const metrics = await eventually(async () => {
    const m = await scrape(port);
    const read = (sample(m, "watch_auditor_flows_events_total", '{source="tetragon",type="tcp_connect"}') ?? 0) + (sample(m, "watch_auditor_flows_events_total", '{source="tetragon",type="tcp_sendmsg"}') ?? 0);
    return read === n ? m : undefined;
  }, { timeoutMs: 60_000, what: `all ${n} events read` });

  const src = expectedPeer(objects, "10.0.0.1");
  assert.deepEqual(src, { namespace: "shop", workload: "web", service: "" });
  const expected = new Map<string, { conns: number; bytes: number }>();
  for (let i = 0; i < 60; i++) {
    const dst = expectedPeer(objects, dests[i % 3]!);
    const labels = `{src_namespace="${src.namespace}",src_workload="${src.workload}",dst_namespace="${dst.namespace}",dst_workload="${dst.workload}",dst_service="${dst.service}"}`;
    const e = expected.get(labels) ?? { conns: 0, bytes: 0 };
    e.conns++;
    e.bytes += 100 + i;
    expected.set(labels, e);
  }
  // The ClusterIP and the backend pod are one destination; the internet address another.
  assert.equal(expected.size, 2);
  for (const [labels, e] of expected) {
    assert.equal(sample(metrics, "watch_auditor_flows_tcp_connections_total", labels), e.conns, `connections ${labels}`);
    assert.equal(sample(metrics, "watch_auditor_flows_tcp_sent_bytes_total", labels), e.bytes, `bytes ${labels}`);
  }
  // Exactly those series: nothing was counted under event-only labels (world for the ClusterIP, the pod-name guess).
  assert.equal(metrics.split("\n").filter((l) => l.startsWith("watch_auditor_flows_tcp_connections_total{")).length, expected.size);
  assert.equal(sample(metrics, "watch_auditor_flows_events_unenriched_total", '{reason="cache_not_synced"}'), undefined);
  const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
  assert.equal(ready.status, 200);
  assert.match(child.output.stderr, /holding input until the Kubernetes metadata cache has synced/);
  const listed = api.requests.filter((r) => r.verb === "list").length;
  assert.ok(listed >= 7, `every resource type listed (${listed} lists)`);
  const r = await stopCli(child);
  assert.equal(r.code, 0, r.stderr);
});
