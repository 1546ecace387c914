// The control-plane and cluster-resources dashboards and rules against real sources: a real
// Prometheus (with the rendered rule file loaded) scrapes a real etcd's /metrics, the /metrics a
// real kube-apiserver v1.25 gave (../shared/kube/recorded-v1.25, served over HTTP with the labels
// kube-prometheus' ServiceMonitor gives), `watch-auditor controlplane serve` as a real process
// against the test API server, and cAdvisor/kube-state-metrics exposition assembled from those
// projects' test data (fixtures/README.md). Every new dashboard query and recording rule must
// return data; every alert must be silent on the healthy sources and go pending (Prometheus' own
// rule evaluation) on a failure: the API server's etcd check failing, the real etcd filled until it
// refuses writes (NOSPACE), a node's heartbeat five minutes old, and a second API server instance
// (a stand-in serving growing counters: 500s, slow GETs, APF rejections).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { eventually, spawnCli, stopCli } from "../support/cli.js";
import { startEtcd, type EtcdServer } from "../support/etcd.js";
import { SHARED_KUBE_DIR, startTestApiServer, type TestApiServer } from "../support/kube-apiserver/index.js";
import { allDashboardQueries, dashboardSpecs } from "../../src/dashboards/catalog.js";
import { allRecordingRules, allRuleExpressions, renderRules } from "../../src/dashboards/rules.js";
import { expandGrafanaVariables, metricNames } from "../../src/dashboards/promql.js";
import { FS, MEMORY, POD_WORKLOAD } from "../../src/dashboards/cluster.js";
import { DB_QUOTA, DB_SIZE, OBJECTS, REJECTED } from "../../src/dashboards/controlplane.js";
import type { AddressInfo } from "node:net";
import { freePort } from "../support/ports.js";

const RECORDED = join(SHARED_KUBE_DIR, "recorded-v1.25");
const FIXTURE = new URL("./fixtures/cluster-metrics.prom", import.meta.url);
const DASHBOARDS = new Set(["watch-auditor-controlplane", "watch-auditor-cluster"]);
const GROUPS = /^watch-auditor\.(controlplane|cluster)\b/;

/** Names the rules and panels fall back to on other Kubernetes versions; absent from v1.25. */
const OTHER_VERSIONS: Record<string, string> = {
  apiserver_storage_size_bytes: "1.28+",
  apiserver_storage_db_total_size_in_bytes: "1.26-1.27",
  apiserver_resource_objects: "1.34+",
  etcd_object_counts: "≤ 1.22",
  apiserver_dropped_requests_total: "≤ 1.24",
};
/** Recording rules that are empty until the event they count happens once (its counter appears then). */
const EMPTY_WHEN_HEALTHY = new Set([REJECTED]);
/**
 * Panel queries that may be empty on the healthy sources of a short test, and why; each must
 * return data once the sources fail (checked then).
 */
const MAY_BE_EMPTY_WHEN_HEALTHY: Record<string, string> = {
  [`min(watch_auditor_controlplane_database_full_seconds{namespace=~"$namespace"})`]: "controlplane serve forecasts after 60 s of samples (src/controlplane/forecast.ts)",
};


interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

async function promQuery(port: number, query: string): Promise<{ status: string; error?: string; result: Sample[] }> {
  const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?${new URLSearchParams({ query })}`);
  const body = (await res.json()) as { status: string; error?: string; data?: { result: Sample[] } };
  return { status: body.status, error: body.error, result: body.data?.result ?? [] };
}

/** An HTTP server whose /metrics body is whatever `body()` returns at each scrape. */
function serveMetrics(body: () => string): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    if (req.url !== "/metrics") return res.writeHead(404).end();
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(body());
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, port: (server.address() as AddressInfo).port })));
}

const ADMIN_TOKEN = "h3-live-admin";
/** etcd's --quota-backend-bytes here: small enough to fill for real in a few seconds. */
const QUOTA = 64 * 1024 ** 2;

/** A Lease's renewTime (MicroTime: six fractional digits). */
const microTime = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");

/**
 * The test API server that `watch-auditor controlplane serve` reads: the recorded v1.25 health
 * answers and /metrics, and two nodes whose kubelets renew their Leases (node-b's stops when
 * failing: its renewTime is five minutes old, and etcd's check fails).
 */
async function controlPlane(dir: string): Promise<{ api: TestApiServer; kubeconfig: string; fail: () => void; stop: () => void }> {
  const api = await startTestApiServer({ validation: "off", tokens: { [ADMIN_TOKEN]: { user: "admin", groups: ["system:masters"] } } });
  const kubeconfig = api.writeKubeconfig(dir, { token: ADMIN_TOKEN });
  const start = Date.now();
  let failedAt: number | undefined;
  if (!api.store.get("namespaces", undefined, "kube-node-lease")) api.store.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: "kube-node-lease" } });
  const condition = (type: string, status: string) => ({ type, status, lastHeartbeatTime: new Date().toISOString(), lastTransitionTime: new Date(start).toISOString(), reason: "KubeletReady", message: "" });
  const nodes = ["node-a", "node-b"];
  for (const n of nodes) {
    api.store.create({ apiVersion: "v1", kind: "Node", metadata: { name: n }, status: { conditions: [condition("Ready", "True"), condition("MemoryPressure", "False"), condition("DiskPressure", "False"), condition("PIDPressure", "False")] } });
    api.store.create({ apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name: n, namespace: "kube-node-lease" }, spec: { holderIdentity: n, leaseDurationSeconds: 40, renewTime: microTime(Date.now()) } });
  }
  const renew = (n: string, at: number) => {
    const lease = api.store.get<{ spec: Record<string, unknown> }>("leases.coordination.k8s.io", "kube-node-lease", n)!;
    api.store.update({ ...lease, spec: { ...lease.spec, renewTime: microTime(at) } });
  };
  // Kubelets renew every 10 s; 2 s here keeps the healthy ages small in a short test.
  const kubelets = setInterval(() => {
    for (const n of nodes) if (!(n === "node-b" && failedAt !== undefined)) renew(n, Date.now());
  }, 2000);
  return {
    api,
    kubeconfig,
    fail: () => {
      failedAt = Date.now();
      api.health.setCheck("etcd", false);
      renew("node-b", Date.now() - 300_000);
    },
    stop: () => clearInterval(kubelets),
  };
}

function logPort(child: ReturnType<typeof spawnCli>, marker: string): Promise<number> {
  return eventually(
    () => {
      if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}: ${child.output.stderr}`);
      for (const line of child.output.stderr.split("\n")) if (line.includes(marker)) return (JSON.parse(line) as { port: number }).port;
      return undefined;
    },
    { timeoutMs: 60_000, what: marker },
  );
}

/**
 * A second API server instance that is healthy (serves nothing of its own) until told to fail:
 * then half its requests answer 500, every GET takes longer than the largest bucket, and APF
 * rejects requests of one priority level. Counters grow per scrape, as a real server's would.
 */
function failingApiserver(): { body: () => string; fail: () => void } {
  let failing = false;
  let n = 0;
  const L = `component="apiserver",dry_run="",group="",resource="pods",scope="resource",subresource="",verb="GET",version="v1"`;
  return {
    fail: () => void (failing = true),
    body: () => {
      if (!failing) return "";
      n++;
      const buckets = ["0.05", "0.1", "0.2", "0.4", "0.6", "0.8", "1", "1.25", "1.5", "2", "3", "4", "5", "6", "8", "10", "15", "20", "30", "45", "60"];
      return [
        "# TYPE apiserver_request_total counter",
        `apiserver_request_total{code="500",${L}} ${50 * n}`,
        `apiserver_request_total{code="200",${L}} ${50 * n}`,
        "# TYPE apiserver_request_duration_seconds histogram",
        ...buckets.map((le) => `apiserver_request_duration_seconds_bucket{${L},le="${le}"} 0`),
        `apiserver_request_duration_seconds_bucket{${L},le="+Inf"} ${100 * n}`,
        `apiserver_request_duration_seconds_sum{${L}} ${9000 * n}`,
        `apiserver_request_duration_seconds_count{${L}} ${100 * n}`,
        "# TYPE apiserver_flowcontrol_rejected_requests_total counter",
        `apiserver_flowcontrol_rejected_requests_total{flow_schema="service-accounts",priority_level="workload-low",reason="queue-full"} ${10 * n}`,
        "",
      ].join("\n");
    },
  };
}

/** value per label key, summed, for `metric` series of an exposition text that pass `keep`. */
function sumBy(text: string, metric: string, keys: string[], keep: (l: Record<string, string>) => boolean): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of text.matchAll(new RegExp(`^${metric}\\{([^}]*)\\} (\\S+)$`, "gm"))) {
    const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1]!, x[2]!]));
    if (!keep(labels)) continue;
    const k = keys.map((x) => labels[x]).join("/");
    out.set(k, (out.get(k) ?? 0) + Number(m[2]));
  }
  return out;
}

test("controlplane live: Prometheus scrapes etcd, the recorded kube-apiserver, the controlplane exporter and cAdvisor/KSM; every new query and rule returns data; alerts silent when healthy, pending on failure", { timeout: 150_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), "h3-cp-live-"));
  let etcd: EtcdServer | undefined;
  let prom: ChildProcess | undefined;
  let writer: NodeJS.Timeout | undefined;
  let cp: Awaited<ReturnType<typeof controlPlane>> | undefined;
  let serve: ReturnType<typeof spawnCli> | undefined;
  const servers: Server[] = [];
  try {
    etcd = await startEtcd({ metrics: true, quotaBackendBytes: QUOTA });
    // A write every 5 s keeps etcd's WAL fsync and backend commit histograms moving while the
    // database grows slowly (a 4 KiB page now and then: far from filling 64 MiB within 4 h). The
    // first writes, which grow a fresh database fastest, happen before anyone watches.
    let i = 0;
    const put = () => etcd!.client.put(`/registry/configmaps/live/cm-${i++ % 50}`, "x".repeat(512)).catch(() => undefined);
    for (let k = 0; k < 20; k++) await put();
    writer = setInterval(() => void put(), 5000);

    const apiserverProm = readFileSync(join(RECORDED, "metrics", "kube-apiserver.prom"), "utf8");
    const cluster = readFileSync(FIXTURE, "utf8");
    cp = await controlPlane(dir);
    // The real exporter, as deployed for a self-managed control plane: the API server and etcd,
    // every source read each second here (30 s by default), a usage scan every 2 s (6 h).
    serve = spawnCli(["controlplane", "serve", "--kubeconfig", cp.kubeconfig, "--etcd-endpoints", etcd.clientUrl, "--etcd-usage-interval", "2s", "--port", "0", "--host", "127.0.0.1", "--interval", "1s", "--log-level", "info"]);
    const failing = failingApiserver();
    const [apiserver, apiserver2, cadvisor, exporterPort] = await Promise.all([serveMetrics(() => apiserverProm), serveMetrics(failing.body), serveMetrics(() => cluster), logPort(serve, '"listening"')]);
    servers.push(apiserver.server, apiserver2.server, cadvisor.server);

    await writeFile(join(dir, "rules.yaml"), renderRules({ format: "prometheus" }));
    const promPort = await freePort();
    const job = (name: string, targets: string[], labels: Record<string, string>, extra: Record<string, unknown> = {}) => ({ job_name: name, scrape_interval: "1s", static_configs: [{ targets, labels }], ...extra });
    const metricsHost = new URL(etcd.metricsUrl!).host;
    await writeFile(
      join(dir, "prometheus.yml"),
      YAML.stringify({
        global: { scrape_interval: "1s", evaluation_interval: "1s" },
        rule_files: [join(dir, "rules.yaml")],
        scrape_configs: [
          // As kube-prometheus' ServiceMonitor for the `kubernetes` Service: job apiserver, two instances.
          job("apiserver", [`127.0.0.1:${apiserver.port}`, `127.0.0.1:${apiserver2.port}`], { namespace: "default", service: "kubernetes" }, { scrape_interval: "2s" }),
          job("etcd", [metricsHost], { namespace: "kube-system", service: "etcd" }),
          job("watch-auditor-controlplane", [`127.0.0.1:${exporterPort}`], { namespace: "watch-auditor", pod: "watch-auditor-controlplane-0" }),
          // kubelet/cAdvisor and kube-state-metrics are scraped with honorLabels: their namespace/pod labels win.
          job("kubelet-and-ksm", [`127.0.0.1:${cadvisor.port}`], { namespace: "kube-system" }, { honor_labels: true }),
        ],
      }),
    );
    prom = spawn("/usr/bin/prometheus", [`--config.file=${join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${join(dir, "tsdb")}`, `--web.listen-address=127.0.0.1:${promPort}`, "--log.level=warn"], { stdio: ["ignore", "ignore", "pipe"] });
    let promErr = "";
    prom.stderr!.setEncoding("utf8").on("data", (d: string) => (promErr += d.slice(0, 10_000)));

    // Ready when every target was scraped and the recording rules have a second evaluation.
    await eventually(
      async () => {
        const up = await promQuery(promPort, "up == 1");
        if (up.result.length !== 5) throw new Error(`${up.result.length}/5 targets up ${promErr}`);
        const r = await promQuery(promPort, `count_over_time(${MEMORY}[1m]) >= 3 and on() count_over_time(etcd_disk_wal_fsync_duration_seconds_count[1m]) >= 3`);
        if (r.result.length === 0) throw new Error("recording rules not evaluated yet");
        return true;
      },
      { timeoutMs: 60_000, intervalMs: 500, what: "targets scraped and rules evaluated" },
    );

    const rules = (await (await fetch(`http://127.0.0.1:${promPort}/api/v1/rules`)).json()) as { data: { groups: { name: string; rules: { name: string; health: string; lastError?: string }[] }[] } };
    const unhealthy = rules.data.groups.flatMap((g) => g.rules.filter((r) => r.health !== "ok").map((r) => `${g.name}/${r.name}: ${r.health} ${r.lastError ?? ""}`));
    assert.deepEqual(unhealthy, [], "Prometheus evaluates every rendered rule without error");

    const queries = allDashboardQueries().filter((q) => DASHBOARDS.has(q.dashboard));
    const records = allRecordingRules().filter((r) => GROUPS.test(r.group));
    const alerts = allRuleExpressions().filter((r) => GROUPS.test(r.group));
    assert.equal(new Set(queries.map((q) => q.dashboard)).size, 2);
    assert.ok(records.length >= 10 && alerts.length >= 10, `${records.length} records, ${alerts.length} alert rules`);

    // --- healthy sources. Polled: rate() needs two samples of every series (the API server is
    // scraped every 2 s), so the first evaluations may lack some; the deadline bounds the wait.
    const ranges = { rateInterval: "1m", range: "5m" };
    const healthyProblems = async (): Promise<string[]> => {
      const failures: string[] = [];
      for (const q of queries) {
        const r = await promQuery(promPort, expandGrafanaVariables(q.expr, ranges));
        if (r.status !== "success") failures.push(`${q.dashboard} / ${q.panel}: ${r.error} in ${q.expr}`);
        else if (r.result.length === 0 && !(q.expr in MAY_BE_EMPTY_WHEN_HEALTHY)) failures.push(`${q.dashboard} / ${q.panel}: no data for ${q.expr}`);
      }
      for (const rec of records) {
        const r = await promQuery(promPort, rec.record);
        if (r.result.length === 0 && !EMPTY_WHEN_HEALTHY.has(rec.record)) failures.push(`record ${rec.record}: no data`);
        if (r.result.length > 0 && EMPTY_WHEN_HEALTHY.has(rec.record)) failures.push(`record ${rec.record}: data on healthy sources`);
      }
      for (const a of alerts) {
        const r = await promQuery(promPort, a.expr);
        if (r.status !== "success") failures.push(`alert ${a.alert}: ${r.error}`);
        else if (r.result.length > 0) failures.push(`alert ${a.alert} fires on healthy sources: ${JSON.stringify(r.result[0]!.metric)}`);
      }
      for (const d of dashboardSpecs.filter((x) => DASHBOARDS.has(x.uid))) {
        for (const v of d.variables) {
          const res = (await (await fetch(`http://127.0.0.1:${promPort}/api/v1/label/${v.labelName ?? v.name}/values?${new URLSearchParams({ "match[]": v.metric })}`)).json()) as { data: string[] };
          if (res.data.length === 0) failures.push(`${d.uid}: variable ${v.name} has no values`);
        }
      }
      return failures;
    };
    await eventually(async () => (await healthyProblems()).length === 0, { timeoutMs: 30_000, intervalMs: 1000, what: "every query with data" }).catch(() => undefined);
    assert.deepEqual(await healthyProblems(), []);

    // The workload joins and sums equal what the fixture says, derived here from its text.
    const owners = sumBy(cluster, "kube_pod_owner", ["namespace", "pod", "owner_kind", "owner_name"], () => true);
    const rsOwner = new Map([...sumBy(cluster, "kube_replicaset_owner", ["namespace", "replicaset", "owner_kind", "owner_name"], (l) => l.owner_kind === "Deployment").keys()].map((k) => {
      const [ns, rs, , name] = k.split("/");
      return [`${ns}/${rs}`, name!] as const;
    }));
    const expectedWorkloads = [...owners.keys()].map((k) => {
      const [ns, pod, kind, name] = k.split("/") as [string, string, string, string];
      if (kind === "ReplicaSet" && rsOwner.has(`${ns}/${name}`)) return `${ns}/${pod}/${rsOwner.get(`${ns}/${name}`)}/Deployment`;
      if (kind === "<none>" || kind === "") return `${ns}/${pod}/${pod}/Pod`;
      return `${ns}/${pod}/${name}/${kind}`;
    });
    const got = (await promQuery(promPort, POD_WORKLOAD)).result.map((s) => `${s.metric.namespace}/${s.metric.pod}/${s.metric.workload}/${s.metric.workload_type}`);
    assert.deepEqual(got.sort(), expectedWorkloads.sort());
    assert.ok(expectedWorkloads.some((w) => w.endsWith("/Deployment")) && expectedWorkloads.some((w) => w.endsWith("/Pod")), "the fixture covers a Deployment's pod and a bare pod");
    const containers = (l: Record<string, string>) => l.container !== "" && l.container !== "POD";
    for (const [record, metric] of [[MEMORY, "container_memory_working_set_bytes"], [FS, "container_fs_usage_bytes"]] as const) {
      const want = Object.fromEntries(sumBy(cluster, metric, ["namespace", "pod"], containers));
      const have = Object.fromEntries((await promQuery(promPort, record)).result.map((s) => [`${s.metric.namespace}/${s.metric.pod}`, Number(s.value[1])]));
      assert.deepEqual(have, want, record);
    }

    // Objects per resource (the recorded server's, read here with a regex), the quota (etcd's own
    // /metrics) and the size (etcd's own Status), through controlplane serve and the recording rules.
    const recordedObjects = Object.fromEntries(sumBy(apiserverProm, "apiserver_storage_objects", ["resource"], () => true));
    const objects = Object.fromEntries((await promQuery(promPort, OBJECTS)).result.map((s) => [s.metric.resource!, Number(s.value[1])]));
    assert.deepEqual(objects, recordedObjects);
    const etcdQuota = Number(/^etcd_server_quota_backend_bytes (\S+)$/m.exec(await etcd.scrapeMetrics())![1]);
    assert.equal(etcdQuota, QUOTA);
    assert.deepEqual((await promQuery(promPort, DB_QUOTA)).result.map((s) => Number(s.value[1])), [etcdQuota]);
    const [size] = (await promQuery(promPort, DB_SIZE)).result.map((s) => Number(s.value[1]));
    const etcdSize = (await etcd.client.status()).dbSize;
    assert.ok(size! > 0 && size! <= etcdSize && etcdSize - size! < 256 * 1024, `database size ${size} is etcd's (${etcdSize}, a few writes later)`);

    // --- failure: the API server's etcd check fails, etcd is filled until it refuses writes
    // (NOSPACE), node-b's heartbeat stops, and an API server instance fails.
    cp.fail();
    failing.fail();
    const fill = "y".repeat(512 * 1024);
    for (let n = 0; ; n++) {
      const err = await etcd.client.put(`/registry/secrets/fill/s-${n}`, fill).then(() => undefined, (e: Error) => e);
      if (err) {
        assert.match(err.message, /database space exceeded/);
        break;
      }
      assert.ok(n < 400, "etcd refuses writes past its quota");
    }
    const alarm = await eventually(async () => (await promQuery(promPort, `watch_auditor_controlplane_etcd_alarm{alarm="NOSPACE"} == 1`)).result.length > 0, { timeoutMs: 30_000, what: "the NOSPACE alarm through serve" });
    assert.ok(alarm);
    const expected = [...new Set(alerts.map((a) => a.alert))].sort();
    const pending = await eventually(
      async () => {
        const r = await promQuery(promPort, `ALERTS{alertname=~"ControlPlane.*"}`);
        const seen = [...new Set(r.result.map((s) => s.metric.alertname!))].sort();
        if (seen.length !== expected.length) throw new Error(`pending so far: ${seen.join(", ")}`);
        // The size climbs through the tiers while etcd fills (each scrape and evaluation a second behind).
        if (!r.result.some((x) => x.metric.alertname === "ControlPlaneDatabaseNearQuota" && x.metric.threshold === "95%")) throw new Error("the 95% tier is not pending yet");
        return r.result;
      },
      { timeoutMs: 60_000, intervalMs: 1000, what: "every control-plane alert pending" },
    );
    const labelsOf = (name: string) => pending.filter((s) => s.metric.alertname === name).map((s) => s.metric);
    assert.deepEqual(labelsOf("ControlPlaneDatabaseNearQuota").map((l) => [l.threshold, l.severity]), [["95%", "critical"]], "one tier at a time");
    // etcd down fails the etcd check of both endpoints, as on the recorded server (livez-verbose-etcd-stopped.txt).
    assert.deepEqual(labelsOf("ControlPlaneHealthCheckFailing").map((l) => `${l.endpoint}/${l.check}`).sort(), ["livez/etcd", "readyz/etcd"]);
    assert.deepEqual(labelsOf("ControlPlaneNodeHeartbeatStale").map((l) => l.node), ["node-b"]);
    assert.deepEqual(labelsOf("ControlPlaneEtcdAlarm").map((l) => l.alarm), ["NOSPACE"]);
    assert.deepEqual(labelsOf("ControlPlaneAPFRejecting").map((l) => `${l.priority_level}/${l.flow_schema}`), ["workload-low/service-accounts"]);
    assert.deepEqual(labelsOf("ControlPlaneAPIServerLatencyHigh").map((l) => `${l.verb}/${l.scope}`), ["GET/resource"]);
    // On the failing sources every panel query returns data, serve's forecast too (it forecasts
    // once it has 60 s of samples, and the database grew).
    const failingProblems = async () => {
      const out: string[] = [];
      for (const q of queries) {
        const r = await promQuery(promPort, expandGrafanaVariables(q.expr, ranges));
        if (r.status !== "success" || r.result.length === 0) out.push(`${q.dashboard} / ${q.panel}: ${r.error ?? "no data"} for ${q.expr}`);
      }
      return out;
    };
    await eventually(async () => (await failingProblems()).length === 0, { timeoutMs: 75_000, intervalMs: 2000, what: "every query with data on the failing sources" }).catch(() => undefined);
    assert.deepEqual(await failingProblems(), []);
    // Now every recording rule has data, the rejections too.
    for (const rec of records) assert.ok((await promQuery(promPort, rec.record)).result.length > 0, `record ${rec.record} on the failing sources`);
    // Every metric a query or rule names exists, except the names of other Kubernetes versions.
    const names = new Set(((await (await fetch(`http://127.0.0.1:${promPort}/api/v1/label/__name__/values`)).json()) as { data: string[] }).data);
    const used = new Set([...queries.map((q) => q.expr), ...records.map((r) => r.expr), ...alerts.map((a) => a.expr)].flatMap(metricNames));
    assert.deepEqual([...used].filter((n) => !names.has(n) && !(n in OTHER_VERSIONS)), [], "metrics used that nothing exposes");
    for (const n of Object.keys(OTHER_VERSIONS)) assert.ok(used.has(n) && !names.has(n), `${n} is a fallback the rules use and v1.25 lacks`);
  } finally {
    if (writer) clearInterval(writer);
    cp?.stop();
    if (serve) await stopCli(serve, "SIGTERM", 10_000);
    if (prom && prom.exitCode === null) {
      const exited = new Promise((r) => prom!.once("exit", r));
      prom.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (prom.exitCode === null) prom.kill("SIGKILL");
    }
    for (const s of servers) s.close();
    await etcd?.close();
    await cp?.api.close();
    await rm(dir, { recursive: true, force: true });
  }
});
