// report/serve with the other parts wired in, through the real CLI: a REAL etcd (--etcd-endpoints:
// status, quota from its /metrics, the /registry/ usage as etcd.usage; its DB size and quota become
// the database figures) and the audit store (--audit-db: who loads the API server).
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { eventually, runCli, spawnCli, stopCli } from "../support/cli.js";
import { startEtcd, type EtcdServer } from "../support/etcd.js";
import { RECORDED_DIR } from "../support/kube-apiserver/index.js";
import { reportJson, startCluster, type Cluster, type Json } from "./support.js";

const MiB = 1024 * 1024;

function value(text: string, series: string): number | undefined {
  for (const l of text.split("\n")) if (l.startsWith(`${series} `)) return Number(l.slice(series.length + 1));
  return undefined;
}

describe("with etcd and the audit store", () => {
  let etcd: EtcdServer;
  let cluster: Cluster;

  before(async () => {
    etcd = await startEtcd({ quotaBackendBytes: 64 * MiB });
    for (let i = 0; i < 30; i++) await etcd.client.put(`/registry/configmaps/ns-${i % 3}/cm-${i}`, "x".repeat(100 + i));
    for (let i = 0; i < 5; i++) await etcd.client.put(`/registry/clusterroles/role-${i}`, "y".repeat(1000));
    cluster = await startCluster();
  });
  after(async () => {
    await cluster?.close();
    await etcd?.close();
  });

  test("report --etcd-endpoints: etcd status and usage in JSON; the database is etcd's own size against its quota", async () => {
    const { r, json } = await reportJson(cluster.kubeconfig, ["--etcd-endpoints", etcd.clientUrl]);
    assert.ok(json, r.stderr);
    assert.deepEqual(json.errors, []);
    const status = await etcd.client.status();
    assert.equal(json.etcd.endpoints.length, 1);
    assert.equal(json.etcd.endpoints[0].ok, true);
    assert.equal(json.etcd.quotaBytes, 64 * MiB);
    assert.equal(json.database.quotaBytes, 64 * MiB, "the quota etcd reports");
    assert.equal(json.database.quotaSource, "etcd");
    assert.equal(json.database.sizeSource, "etcd status (dbSize)");
    assert.ok(Math.abs(json.database.sizeBytes - Number(status.dbSize)) <= 64 * 1024, `${json.database.sizeBytes} vs ${status.dbSize}`);
    // etcd.usage: keys and bytes per resource, equal to what etcd itself counts for the prefixes.
    const rows = new Map((json.etcd.usage.resources as Json[]).map((x) => [x.resource as string, x]));
    const cm = await etcd.client.range("/registry/configmaps/", { prefix: true, countOnly: true });
    assert.equal(rows.get("configmaps")!.keys, Number(cm.count));
    assert.equal(rows.get("configmaps")!.bytes, Array.from({ length: 30 }, (_, i) => 100 + i).reduce((a, b) => a + b, 0));
    assert.equal(rows.get("clusterroles")!.keys, 5);
    assert.equal(rows.get("clusterroles")!.bytes, 5000);
    assert.equal(r.code, 0, JSON.stringify(json.problems));

    const table = await runCli(["controlplane", "report", "--kubeconfig", cluster.kubeconfig, "--etcd-endpoints", etcd.clientUrl, "--no-etcd-usage"], { timeoutMs: 60_000 });
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^etcd$/m);
    assert.match(table.stdout, new RegExp(`^  ${etcd.clientUrl.replace(/[/.]/g, "\\$&")}\\s+leader`, "m"));
    assert.match(table.stdout, /of quota 64\.0 MiB \(etcd\)/);
  });

  test("report --etcd-endpoints with etcd frozen: the endpoint named as a problem, exit 1, the API-server parts still there", async () => {
    await etcd.pause();
    let res: Awaited<ReturnType<typeof reportJson>>;
    try {
      res = await reportJson(cluster.kubeconfig, ["--etcd-endpoints", etcd.clientUrl, "--no-etcd-usage", "--timeout", "2s"]);
    } finally {
      await etcd.resume();
    }
    const { r, json } = res;
    assert.ok(json, r.stderr);
    assert.equal(r.code, 1);
    assert.ok((json.problems as string[]).some((p) => p.startsWith(`etcd ${etcd.clientUrl}`)), JSON.stringify(json.problems));
    assert.equal(json.checks.livez.state, "ok");
    assert.ok(json.objects.length > 0);
  });

  test("serve --etcd-endpoints: quota and size from etcd; etcd frozen → still serving, etcd errors counted; back → up again", async () => {
    const serve = spawnCli(["controlplane", "serve", "--kubeconfig", cluster.kubeconfig, "--etcd-endpoints", etcd.clientUrl, "--port", "0", "--host", "127.0.0.1", "--interval", "300ms", "--timeout", "1s", "--etcd-usage-interval", "0"]);
    try {
      const port = await eventually(() => {
        if (serve.exitCode !== null) throw new Error(`serve exited: ${serve.output.stderr}`);
        const line = serve.output.stderr.split("\n").find((l) => l.includes('"listening"'));
        return line ? (JSON.parse(line) as { port: number }).port : undefined;
      }, { timeoutMs: 30_000, what: "listening" });
      const metrics = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const first = await eventually(async () => {
        const m = await metrics();
        return value(m, "watch_auditor_controlplane_database_quota_bytes") !== undefined ? m : undefined;
      }, { timeoutMs: 30_000, what: "quota from etcd" });
      assert.equal(value(first, "watch_auditor_controlplane_database_quota_bytes"), 64 * MiB);
      const size = value(first, "watch_auditor_controlplane_database_size_bytes")!;
      assert.ok(Math.abs(size - Number((await etcd.client.status()).dbSize)) <= 64 * 1024);
      assert.equal(value(first, `watch_auditor_controlplane_etcd_up{endpoint="${new URL(etcd.clientUrl).origin}"}`), 1, "the etcd side's gauges are served too");

      await etcd.pause();
      try {
        const during = await eventually(async () => {
          const m = await metrics();
          return (value(m, 'watch_auditor_controlplane_scrape_errors_total{source="etcd"}') ?? 0) >= 1 ? m : undefined;
        }, { timeoutMs: 30_000, what: "etcd errors counted" });
        assert.equal(value(during, "watch_auditor_controlplane_apiserver_up"), 1, "the API-server side goes on");
      } finally {
        await etcd.resume();
      }
      await eventually(async () => value(await metrics(), `watch_auditor_controlplane_etcd_up{endpoint="${new URL(etcd.clientUrl).origin}"}`) === 1, { timeoutMs: 30_000, what: "etcd up again" });
    } finally {
      const r = await stopCli(serve);
      assert.equal(r.code, 0, r.stderr.slice(-2000));
    }
  });

  test("report --audit-db: who loads the API server from the audit store of the recorded v1.25 scenario", async () => {
    const log = join(RECORDED_DIR, "audit/scenario-recorder.jsonl");
    const db = join(cluster.dir, "audit.duckdb");
    const ingest = await runCli(["audit", "ingest", "--db", db, log], { timeoutMs: 120_000 });
    assert.equal(ingest.code, 0, ingest.stderr);
    const { r, json } = await reportJson(cluster.kubeconfig, ["--audit-db", db, "--top", "3"]);
    assert.ok(json, r.stderr);
    assert.deepEqual(json.errors, []);
    // One request per auditID, counted from the raw file.
    const ids = new Set(readFileSync(log, "utf8").split("\n").filter((l) => l.trim() !== "").map((l) => (JSON.parse(l) as { auditID: string }).auditID));
    assert.equal(json.whoLoads.requests, ids.size);
    assert.ok(json.whoLoads.busiest.length > 0 && json.whoLoads.busiest.length <= 3);
    const top = json.whoLoads.busiest[0];
    assert.ok(top.users.byRequests.length > 0);
    const table = await runCli(["controlplane", "report", "--kubeconfig", cluster.kubeconfig, "--audit-db", db], { timeoutMs: 60_000 });
    assert.match(table.stdout, /Who loads the API server/);
    const missing = await runCli(["controlplane", "report", "--kubeconfig", cluster.kubeconfig, "--audit-db", join(cluster.dir, "nope.duckdb")]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--audit-db: .*nope\.duckdb does not exist/);

    // serve --audit-db: GET /who-loads, behind the bearer-token gate; /metrics stays open.
    const tokens = join(cluster.dir, "tokens.csv");
    await writeFile(tokens, "who-loads-reader,alice,u1\n", { mode: 0o600 });
    const serve = spawnCli(["controlplane", "serve", "--kubeconfig", cluster.kubeconfig, "--audit-db", db, "--auth-token-file", tokens, "--port", "0", "--host", "127.0.0.1", "--interval", "1s"]);
    try {
      const port = await eventually(() => {
        if (serve.exitCode !== null) throw new Error(`serve exited: ${serve.output.stderr}`);
        const line = serve.output.stderr.split("\n").find((l) => l.includes('"listening"'));
        return line ? (JSON.parse(line) as { port: number }).port : undefined;
      }, { timeoutMs: 30_000, what: "listening" });
      const url = `http://127.0.0.1:${port}`;
      assert.equal((await fetch(`${url}/who-loads`)).status, 401, "no token");
      assert.equal((await fetch(`${url}/who-loads`, { headers: { authorization: "Bearer wrong" } })).status, 401);
      const ok = await fetch(`${url}/who-loads?top=2`, { headers: { authorization: "Bearer who-loads-reader" } });
      assert.equal(ok.status, 200);
      const body = (await ok.json()) as Json;
      assert.equal(body.requests, ids.size);
      assert.ok(body.busiest.length <= 2);
      const bad = await fetch(`${url}/who-loads?top=0`, { headers: { authorization: "Bearer who-loads-reader" } });
      assert.equal(bad.status, 400);
      assert.match(((await bad.json()) as Json).error, /^top: /);
      assert.equal((await fetch(`${url}/metrics`)).status, 200, "metrics need no token");
    } finally {
      const s = await stopCli(serve);
      assert.equal(s.code, 0, s.stderr.slice(-1000));
    }
    const noDb = await runCli(["controlplane", "serve", "--kubeconfig", cluster.kubeconfig, "--auth", "none"]);
    assert.equal(noDb.code, 2);
    assert.match(noDb.stderr, /needs --audit-db/);
  });
});
