// Nodes and heartbeats through the real CLI: Node objects and their Leases in kube-node-lease on the
// test API server. One Lease is renewed all along, one is left to age, one stopped 10 minutes ago
// on a NotReady node under memory pressure.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { microTime } from "../../src/core/kube/index.js";
import { eventually, runCli } from "../support/cli.js";
import { reportJson, startCluster, type Cluster, type Json } from "./support.js";

function node(name: string, ready: "True" | "False", extra: { type: string; status: string; reason?: string }[] = []) {
  return { apiVersion: "v1", kind: "Node", metadata: { name }, status: { conditions: [{ type: "Ready", status: ready, ...(ready === "False" ? { reason: "KubeletNotReady" } : {}) }, ...extra] } };
}

function lease(name: string, renew: Date) {
  return { apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name, namespace: "kube-node-lease" }, spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime: microTime(renew) } };
}

describe("nodes: Ready, pressure, heartbeat Lease age", () => {
  let cluster: Cluster;
  let renewer: NodeJS.Timeout;
  const stoppedAt = new Date(Date.now() - 10 * 60_000);

  before(async () => {
    cluster = await startCluster();
    const s = cluster.api.store;
    s.create(node("fresh", "True", [{ type: "MemoryPressure", status: "False" }]) as never);
    s.create(node("quiet", "True") as never);
    s.create(node("down", "False", [{ type: "MemoryPressure", status: "True" }, { type: "DiskPressure", status: "False" }]) as never);
    s.create(lease("fresh", new Date()) as never);
    s.create(lease("quiet", new Date()) as never);
    s.create(lease("down", stoppedAt) as never);
    renewer = setInterval(() => {
      const l = s.get("coordination.k8s.io/v1/leases", "kube-node-lease", "fresh") as unknown as { spec: Record<string, unknown> };
      s.update({ ...l, spec: { ...l.spec, renewTime: microTime(new Date()) } } as never);
    }, 250);
  });
  after(async () => {
    clearInterval(renewer);
    await cluster?.close();
  });

  test("the Lease left to age is named with its age once past --heartbeat-grace; the renewed one stays fresh; NotReady and pressure named; exit 1", async () => {
    const quietSince = Date.now();
    const json = await eventually(
      async () => {
        const { json } = await reportJson(cluster.kubeconfig, ["--heartbeat-grace", "2s"]);
        const quiet = (json?.nodes?.nodes as Json[] | undefined)?.find((n) => n.name === "quiet");
        return quiet?.stale ? json : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500, what: "node quiet reported stale" },
    );
    const nodes = new Map((json.nodes.nodes as Json[]).map((n) => [n.name as string, n]));
    const quiet = nodes.get("quiet")!;
    assert.ok(quiet.heartbeatAgeSeconds > 2, String(quiet.heartbeatAgeSeconds));
    assert.ok(quiet.heartbeatAgeSeconds <= (Date.now() - quietSince) / 1000 + 1);
    assert.equal(quiet.ready, "True", "still Ready: the controller would mark it later; the Lease says it now");
    assert.ok(json.problems.some((p: string) => /^node quiet: heartbeat stopped \d+s ago \(lease renewed /.test(p)), JSON.stringify(json.problems));

    const fresh = nodes.get("fresh")!;
    assert.equal(fresh.stale, false);
    assert.ok(fresh.heartbeatAgeSeconds < 2);
    assert.deepEqual(fresh.problems, []);

    const down = nodes.get("down")!;
    const age = (Date.now() - stoppedAt.getTime()) / 1000;
    assert.ok(Math.abs(down.heartbeatAgeSeconds - age) < 10, `${down.heartbeatAgeSeconds} vs ${age}`);
    assert.equal(down.ready, "False");
    assert.deepEqual(down.pressure, ["MemoryPressure"]);
    assert.deepEqual(down.conditions, { MemoryPressure: "True", DiskPressure: "False" });
    assert.ok(json.problems.includes("node down: NotReady (Ready=False, KubeletNotReady)"), JSON.stringify(json.problems));
    assert.ok(json.problems.some((p: string) => /^node down: heartbeat stopped 10m\d\ds ago/.test(p)));
    assert.ok(json.problems.includes("node down: MemoryPressure"));
    assert.equal(json.exitCode, 1);
  });

  test("table: the stale node's heartbeat column says STALE with its age", async () => {
    const r = await runCli(["controlplane", "report", "--kubeconfig", cluster.kubeconfig, "--heartbeat-grace", "5s"], { timeoutMs: 60_000 });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /^\s+down\s+False\s+10m\d\ds ago STALE\s+MemoryPressure$/m);
    assert.match(r.stdout, /^\s+fresh\s+True\s+\d+s ago\s+-$/m, r.stdout);
  });
});
