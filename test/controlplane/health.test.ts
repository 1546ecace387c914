// `controlplane report` on the health endpoints, through the real CLI against the test API server,
// which answers /livez and /readyz as the recorded v1.25 server did. The expected checks are read
// from ../shared/kube/recorded-v1.25/health/*.txt with a plain regex (support.ts), not with the
// parser under test. etcd is a real one, frozen with SIGSTOP as in the recording.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { runCli } from "../support/cli.js";
import { startEtcd, type EtcdServer } from "../support/etcd.js";
import { readHealthCapture, recordedChecks, reportJson, startCluster, type Cluster, type Json } from "./support.js";

function checksOf(json: Json, endpoint: string): [string, boolean][] {
  return (json.checks[endpoint].checks as { name: string; ok: boolean }[]).map((c) => [c.name, c.ok]);
}

describe("health checks of the recorded v1.25 server", () => {
  let etcd: EtcdServer;
  let cluster: Cluster;

  before(async () => {
    etcd = await startEtcd();
    cluster = await startCluster({ authz: "rbac", etcd: { healthUrl: `${etcd.clientUrl}/health` } });
  });
  after(async () => {
    await cluster?.close();
    await etcd?.close();
  });

  test("healthy: every check of livez-verbose.txt and readyz-verbose.txt, in order, ok; exit 0", async () => {
    const { r, json } = await reportJson(cluster.kubeconfig);
    assert.ok(json, r.stderr);
    for (const endpoint of ["livez", "readyz"]) {
      const want = recordedChecks(`${endpoint}-verbose.txt`);
      assert.equal(want.status, 200);
      assert.ok(want.checks.length > 20, "the capture has its checks");
      assert.deepEqual(checksOf(json, endpoint), want.checks, `${endpoint}: the recorded checks`);
      assert.equal(json.checks[endpoint].state, "ok");
      assert.equal(json.checks[endpoint].status, 200);
    }
    assert.equal(json.reachable, true);
    assert.equal(r.code, 0, `${r.stderr}\n${JSON.stringify(json.problems)}`);
    assert.equal(json.healthy, true);
  });

  test("etcd stopped: the failing check named with HTTP 500 and the reason /readyz/etcd gives; the others ok; exit 1", async () => {
    await etcd.pause();
    let res: Awaited<ReturnType<typeof reportJson>>;
    try {
      res = await reportJson(cluster.kubeconfig);
    } finally {
      await etcd.resume();
    }
    const { r, json } = res;
    assert.ok(json, r.stderr);
    // The reason the recorded /readyz/etcd gave, minus the http.Error prefix.
    const single = readHealthCapture("readyz-etcd-etcd-stopped.txt");
    assert.equal(single.status, 500);
    const reason = single.lines[0]!.replace(/^internal server error: /, "");
    assert.equal(reason, "error getting data from etcd: context deadline exceeded");
    for (const endpoint of ["livez", "readyz"]) {
      const want = recordedChecks(`${endpoint}-verbose-etcd-stopped.txt`);
      assert.equal(want.status, 500);
      assert.deepEqual(checksOf(json, endpoint), want.checks, `${endpoint}: the recorded checks, etcd failing`);
      const h: Json = json.checks[endpoint];
      assert.equal(h.state, "failed");
      assert.equal(h.status, 500);
      const failed = h.checks.filter((c: { ok: boolean }) => !c.ok);
      assert.deepEqual(
        failed.map((c: { name: string }) => c.name),
        want.checks.filter(([, ok]) => !ok).map(([n]) => n),
      );
      assert.equal(failed[0].reason, reason, `${endpoint}: the reason of the single-check request`);
      assert.ok(json.problems.includes(`${endpoint}: check etcd failed (HTTP 500): ${reason}`), JSON.stringify(json.problems));
    }
    assert.equal(json.reachable, true, "a failing check is not an unreachable server");
    assert.equal(r.code, 1);
    assert.equal(json.healthy, false);
  });

  test("table output names the failing check; after etcd resumes the report is healthy again", async () => {
    await etcd.pause();
    let r: Awaited<ReturnType<typeof runCli>>;
    try {
      r = await runCli(["controlplane", "report", "--kubeconfig", cluster.kubeconfig], { timeoutMs: 60_000 });
    } finally {
      await etcd.resume();
    }
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /UNHEALTHY/);
    assert.match(r.stdout, /\/readyz\s+HTTP 500\s+FAILED: etcd/);
    assert.match(r.stdout, /\[-\] etcd: error getting data from etcd: context deadline exceeded/);
    const { r: again, json } = await reportJson(cluster.kubeconfig);
    assert.equal(again.code, 0, JSON.stringify(json?.problems));
  });

  test("a user without the rights: /livez answers (system:public-info-viewer), /metrics and nodes are 403 and named; exit 1", async () => {
    // A token the server knows, for a user no RBAC rule names.
    const local = await startCluster({ authz: "rbac", tokens: { "nobody-token": { user: "nobody" } } });
    try {
      const kubeconfig = local.api.writeKubeconfig(local.dir, { token: "nobody-token", user: "nobody" });
      const { r, json } = await reportJson(kubeconfig);
      assert.ok(json, r.stderr);
      assert.equal(json.checks.livez.state, "ok", "public-info-viewer grants get on /livez");
      const sources = (json.errors as { source: string; error: string }[]).map((e) => e.source).sort();
      assert.deepEqual(sources, ["metrics", "nodes"]);
      assert.match(json.errors.find((e: { source: string }) => e.source === "metrics").error, /HTTP 403/);
      assert.equal(r.code, 1);
    } finally {
      await local.close();
    }
  });
});
