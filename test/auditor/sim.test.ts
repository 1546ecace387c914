// The simulated kubelet and controller are test infrastructure the auditor's verdicts rest
// on: prove they behave as documented, through the test API server's HTTP API.
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildCanary } from "../../src/auditor/canary.js";
import { probeFromFlags } from "../../src/auditor/flags.js";
import { CANARY_NS, CONTROLLER_NS, eventually, startCluster } from "./helpers.js";

const probe = {
  ...probeFromFlags({ every: 1000, failureThreshold: 3, logLevel: "info", mode: "enforcing", port: 0, host: "127.0.0.1", canaryNamespace: CANARY_NS, canaryImage: "busybox", canaryLifetime: 200, canaryDeadline: 500, startTimeout: 2000, pollInterval: 50, sidecarContainer: "istio-proxy", sidecarMode: "declared", controllerNamespace: CONTROLLER_NS, controllerSelector: "pepr.dev/controller=watcher", cooldown: 0, maxRollsPerHour: 3, leaderElect: false, leaseName: "x", leaseDuration: 15000, renewDeadline: 10000, retryPeriod: 2000, requestTimeout: 1000 }),
};

async function createCanary(url: string, name: string): Promise<void> {
  const res = await fetch(`${url}/api/v1/namespaces/${CANARY_NS}/pods`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(buildCanary(probe, name, "r1")) });
  assert.equal(res.status, 201, await res.text());
}

type Pod = { status?: { phase?: string; containerStatuses?: { name: string; state: Record<string, unknown> }[] } };
async function getPod(url: string, name: string): Promise<Pod> {
  return (await (await fetch(`${url}/api/v1/namespaces/${CANARY_NS}/pods/${name}`)).json()) as Pod;
}
const state = (p: Pod, c: string) => Object.keys(p.status?.containerStatuses?.find((s) => s.name === c)?.state ?? {})[0];

test("kubelet runs the canary and a healthy controller kills its sidecar", async () => {
  const c = await startCluster({ controller: { mode: "healthy" } });
  try {
    await createCanary(c.api.url, "canary-a");
    await eventually(async () => state(await getPod(c.api.url, "canary-a"), "main") === "running", { timeoutMs: 30_000, what: "running" });
    const done = await eventually(async () => {
      const p = await getPod(c.api.url, "canary-a");
      return p.status?.phase === "Succeeded" ? p : undefined;
    }, { timeoutMs: 30_000, what: "pod Succeeded" });
    assert.equal(state(done, "main"), "terminated");
    assert.equal(state(done, "istio-proxy"), "terminated");
    assert.deepEqual(c.controller.killed, ["canary-a"]);
    // Controller workload: Deployment → ReplicaSet → 2 pods.
    assert.equal(c.controller.pods().length, 2);
  } finally {
    await c.close();
  }
});

test("with a dead controller the sidecar keeps the pod Running after the main container exits", async () => {
  const c = await startCluster({ controller: { mode: "dead" } });
  try {
    await createCanary(c.api.url, "canary-b");
    await eventually(async () => state(await getPod(c.api.url, "canary-b"), "main") === "terminated", { timeoutMs: 30_000, what: "main terminated" });
    await new Promise((r) => setTimeout(r, 300));
    const p = await getPod(c.api.url, "canary-b");
    assert.equal(p.status?.phase, "Running");
    assert.equal(state(p, "istio-proxy"), "running");
    assert.deepEqual(c.controller.killed, []);
  } finally {
    await c.close();
  }
});

test("flapping controller follows its pattern; a restart makes a recoverOnRoll controller healthy", async () => {
  const c = await startCluster({ controller: { mode: "flapping", pattern: [false, true] } });
  try {
    await createCanary(c.api.url, "canary-c1");
    await createCanary(c.api.url, "canary-c2");
    await eventually(async () => (await getPod(c.api.url, "canary-c2")).status?.phase === "Succeeded", { timeoutMs: 30_000, what: "c2 Succeeded" });
    await eventually(async () => state(await getPod(c.api.url, "canary-c1"), "main") === "terminated", { timeoutMs: 30_000, what: "c1 main terminated" });
    assert.equal((await getPod(c.api.url, "canary-c1")).status?.phase, "Running");
  } finally {
    await c.close();
  }
  const d = await startCluster({ controller: { mode: "dead", recoverOnRoll: true } });
  try {
    const res = await fetch(`${d.api.url}/apis/apps/v1/namespaces/${CONTROLLER_NS}/deployments/pepr-uds-core-watcher`, {
      method: "PATCH",
      headers: { "content-type": "application/strategic-merge-patch+json" },
      body: JSON.stringify({ spec: { template: { metadata: { annotations: { "kubectl.kubernetes.io/restartedAt": new Date().toISOString() } } } } }),
    });
    assert.equal(res.status, 200, await res.text());
    await eventually(() => d.controller.restarts === 1 && d.controller.mode === "healthy", { timeoutMs: 30_000, what: "restart noticed" });
    await eventually(() => d.controller.pods().length === 2 && d.controller.pods().every((p) => p.metadata.name!.includes("rs2")), { timeoutMs: 30_000, what: "new replicaset pods" });
    assert.equal(d.controller.podDeletions, 0, "its own pod replacement is not an auditor deletion");
  } finally {
    await d.close();
  }
});
