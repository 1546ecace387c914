// `controlplane serve` through the real CLI against the test API server (recorded v1.25 /metrics and
// health answers): its /metrics passes `promtool check metrics`, carries the contract's series, follows
// a failing check, and keeps serving when the API server goes away.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { microTime } from "../../src/core/kube/index.js";
import { eventually, spawnCli, stopCli } from "../support/cli.js";
import { RECORDED_PROM, startCluster } from "./support.js";

/** The value of one series in exposition text (exact label string as prom-client prints it). */
function value(text: string, series: string): number | undefined {
  for (const l of text.split("\n")) if (l.startsWith(`${series} `)) return Number(l.slice(series.length + 1));
  return undefined;
}

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: r.status, body: await r.text() };
}

test("serve: contract series, promtool-clean, a failing check followed, the API server gone → still serving, counted", async () => {
  const cluster = await startCluster();
  cluster.api.store.create({ apiVersion: "v1", kind: "Node", metadata: { name: "worker-1" }, status: { conditions: [{ type: "Ready", status: "True" }, { type: "DiskPressure", status: "True" }] } } as never);
  const renewed = new Date(Date.now() - 90_000);
  cluster.api.store.create({ apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name: "worker-1", namespace: "kube-node-lease" }, spec: { renewTime: microTime(renewed) } } as never);
  const serve = spawnCli(["controlplane", "serve", "--kubeconfig", cluster.kubeconfig, "--port", "0", "--host", "127.0.0.1", "--interval", "300ms", "--timeout", "2s", "--etcd-quota-bytes", "8MiB"]);
  let apiClosed = false;
  try {
    const port = await eventually(
      () => {
        if (serve.exitCode !== null) throw new Error(`serve exited ${serve.exitCode}: ${serve.output.stderr}`);
        const line = serve.output.stderr.split("\n").find((l) => l.includes('"listening"'));
        return line ? (JSON.parse(line) as { port: number }).port : undefined;
      },
      { timeoutMs: 30_000, what: "serve listening" },
    );
    const first = await eventually(async () => {
      const m = await get(port, "/metrics");
      return value(m.body, "watch_auditor_controlplane_apiserver_up") === 1 && m.body.includes("watch_auditor_controlplane_objects{") ? m.body : undefined;
    }, { timeoutMs: 30_000, what: "first refresh in /metrics" });

    // promtool's linter on the whole exposition.
    const lint = spawnSync("promtool", ["check", "metrics"], { input: first, encoding: "utf8" });
    assert.equal(lint.status, 0, `promtool check metrics:\n${lint.stdout}${lint.stderr}`);

    // The contract's series, against the recorded text (read here with a regex).
    const rec = readFileSync(RECORDED_PROM, "utf8");
    const recorded = (re: RegExp) => Number(re.exec(rec)![1]);
    assert.equal(value(first, 'watch_auditor_controlplane_objects{resource="podtemplates"}'), recorded(/^apiserver_storage_objects\{resource="podtemplates"\} (\S+)$/m));
    assert.equal(value(first, 'watch_auditor_controlplane_objects{resource="configmaps"}'), recorded(/^apiserver_storage_objects\{resource="configmaps"\} (\S+)$/m));
    assert.equal(value(first, "watch_auditor_controlplane_database_size_bytes"), recorded(/^etcd_db_total_size_in_bytes\{[^}]*\} (\S+)$/m));
    assert.equal(value(first, "watch_auditor_controlplane_database_quota_bytes"), 8 * 1024 * 1024);
    assert.equal(value(first, 'watch_auditor_controlplane_health_check{endpoint="readyz",check="etcd"}'), 1);
    assert.equal(value(first, 'watch_auditor_controlplane_health_check{endpoint="livez",check="ping"}'), 1);
    assert.equal(value(first, 'watch_auditor_controlplane_health_status_code{endpoint="livez"}'), 200);
    assert.equal(value(first, 'watch_auditor_controlplane_metric_names_found{name="apiserver_storage_objects"}'), 1);
    assert.equal(value(first, 'watch_auditor_controlplane_metric_names_found{name="etcd_db_total_size_in_bytes"}'), 1);
    assert.equal(value(first, 'watch_auditor_controlplane_node_ready{node="worker-1"}'), 1);
    assert.equal(value(first, 'watch_auditor_controlplane_node_condition{node="worker-1",condition="DiskPressure"}'), 1);
    const age = value(first, 'watch_auditor_controlplane_node_heartbeat_age_seconds{node="worker-1"}')!;
    assert.ok(age >= 90 && age < 150, String(age));
    assert.equal(value(first, 'watch_auditor_controlplane_scrape_errors_total{source="metrics"}'), 0);
    assert.equal(value(first, "watch_auditor_controlplane_database_full_seconds"), undefined, "no forecast yet: absent, not 0");
    assert.ok(!/^apiserver_request_total/m.test(first), "the API server's own series are not re-exported");
    assert.equal((await get(port, "/readyz")).status, 200);

    // A failing check is followed.
    cluster.api.health.setCheck("etcd", false);
    await eventually(async () => {
      const m = (await get(port, "/metrics")).body;
      return value(m, 'watch_auditor_controlplane_health_check{endpoint="readyz",check="etcd"}') === 0 && value(m, 'watch_auditor_controlplane_health_status_code{endpoint="readyz"}') === 500;
    }, { timeoutMs: 20_000, what: "etcd check 0 and readyz 500" });
    cluster.api.health.resetCheck();

    // The API server goes away: serve keeps serving, says so, and counts.
    await cluster.close();
    apiClosed = true;
    const after = await eventually(async () => {
      const m = await get(port, "/metrics");
      assert.equal(m.status, 200);
      return value(m.body, "watch_auditor_controlplane_apiserver_up") === 0 && (value(m.body, 'watch_auditor_controlplane_scrape_errors_total{source="livez"}') ?? 0) >= 2 ? m.body : undefined;
    }, { timeoutMs: 30_000, what: "apiserver_up 0 and livez errors counted" });
    assert.ok((value(after, 'watch_auditor_controlplane_scrape_errors_total{source="metrics"}') ?? 0) >= 1);
    assert.ok((value(after, 'watch_auditor_controlplane_scrape_errors_total{source="nodes"}') ?? 0) >= 1);
    assert.equal(value(after, 'watch_auditor_controlplane_health_status_code{endpoint="livez"}'), 0);
    assert.equal((await get(port, "/healthz")).status, 200, "alive while its source is down");
    assert.equal(serve.exitCode, null, "still running");
  } finally {
    const r = await stopCli(serve);
    if (!apiClosed) await cluster.close();
    assert.equal(r.code, 0, r.stderr.slice(-2000));
  }
});
