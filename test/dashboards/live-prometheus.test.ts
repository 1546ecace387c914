// The dashboards and rules against real data: every component runs as a real watch-auditor
// process (the auditor against the test API server with a simulated controller, the exporter
// fed over its socket, flows fed the shared Tetragon/Hubble samples, the audit receiver fed
// webhook batches of real audit events), a real Prometheus scrapes them every second, and every
// PromQL expression is evaluated through Prometheus' HTTP API.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, request as httpRequest, type Server } from "node:http";
import { createConnection, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { eventually, spawnCli, stopCli } from "../support/cli.js";
import { startCluster, metricValue, FAST, CANARY_NS, type Cluster } from "../auditor/helpers.js";
import { ExporterClient } from "../../src/exporter/client.js";
import { allDashboardQueries as allQueries, dashboardSpecs as allSpecs } from "../../src/dashboards/catalog.js";
import { allRuleExpressions as allRules } from "../../src/dashboards/rules.js";
import { expandGrafanaVariables, metricNames, selectorLabels } from "../../src/dashboards/promql.js";
import { SAMPLES_ROOT } from "../support/samples.js";
import { freePort } from "../support/ports.js";

const SAMPLES = SAMPLES_ROOT;

// The control-plane and cluster dashboards and rules read the API server, etcd, cAdvisor and
// kube-state-metrics: controlplane-live.test.ts runs them against those sources.
const ELSEWHERE_DASHBOARDS = new Set(["watch-auditor-controlplane", "watch-auditor-cluster"]);
const ELSEWHERE_GROUPS = /^watch-auditor\.(controlplane|cluster)\b/;
const allDashboardQueries = () => allQueries().filter((q) => !ELSEWHERE_DASHBOARDS.has(q.dashboard));
const allRuleExpressions = () => allRules().filter((r) => !ELSEWHERE_GROUPS.test(r.group));
const dashboardSpecs = allSpecs.filter((d) => !ELSEWHERE_DASHBOARDS.has(d.uid));
type Child = ReturnType<typeof spawnCli>;

/**
 * Panels whose queries legitimately return nothing in this run, and why. Everything else must
 * return data. Keep this short: prefer producing the event.
 */
const NO_DATA_OK: Record<string, string> = {};

/** Labels added by the scrape (ServiceMonitor/PodMonitor target labels), not by the components. */
const TARGET_LABELS = new Set(["namespace", "pod", "job", "instance"]);
/** Labels a rule selects on that no component exposes yet, and why. Keep this empty. */
const PENDING_LABELS: Record<string, string> = {};


function logPort(child: Child, marker: string, field: string): Promise<number> {
  return eventually(
    () => {
      if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}: ${child.output.stderr}`);
      for (const line of child.output.stderr.split("\n")) {
        if (!line.includes(marker)) continue;
        return (JSON.parse(line) as Record<string, number>)[field];
      }
      return undefined;
    },
    { timeoutMs: 60_000, what: marker },
  );
}

function post(port: number, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port, path: "/audit", method: "POST", headers: { "content-type": "application/json" } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end(body);
  });
}

interface PromResult {
  status: string;
  error?: string;
  data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
}

async function promQuery(port: number, query: string): Promise<PromResult> {
  const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?${new URLSearchParams({ query })}`);
  return (await res.json()) as PromResult;
}

/**
 * A sink that fails (503) until told otherwise, then refuses one record for good (400: the first
 * record it sees in "refuse-once" mode, in whatever batch it comes), and accepts the others.
 */
function startHttpSink(): Promise<{ server: Server; port: number; mode: { value: "fail" | "refuse-once" | "ok" } }> {
  const mode = { value: "fail" as "fail" | "refuse-once" | "ok" };
  let poison: string | undefined;
  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (d: string) => (body += d));
    req.on("end", () => {
      if (mode.value === "fail") return res.writeHead(503).end();
      if (mode.value === "refuse-once") {
        poison ??= body.split("\n")[0];
        // The sink bisects the batch until this one record is refused alone.
        if (poison && body.split("\n").includes(poison)) return res.writeHead(400).end("bad record");
      }
      res.writeHead(200).end();
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, port: (server.address() as AddressInfo).port, mode })));
}

test("live: Prometheus scrapes every component; every dashboard and rule query parses, dashboard queries return data, every metric exists", { timeout: 170_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), "h9-live-"));
  const children: Child[] = [];
  let prom: ChildProcess | undefined;
  let cluster: Cluster | undefined;
  let sink: Awaited<ReturnType<typeof startHttpSink>> | undefined;
  let client: ExporterClient | undefined;
  try {
    // --- auditor: a flapping controller (pass, then failures → a roll, a capped second roll),
    // a leftover canary to sweep, and API faults for an inconclusive check and a roll error.
    cluster = await startCluster({ controller: { mode: "flapping", pattern: [true, false, false, false, false, true] } });
    cluster.api.store.create({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "watch-auditor-default-orphan", namespace: CANARY_NS, labels: { "app.kubernetes.io/managed-by": "watch-auditor", "watch-auditor.dev/probe": "default" } },
      spec: { containers: [{ name: "main", image: "busybox" }] },
    });
    // The first roll attempt fails (a roll error); later ones work until the hourly cap skips them.
    cluster.api.faults.inject({ method: "PATCH", pathRegex: "/deployments/", status: 500, count: 1 });
    const serve = spawnCli(["serve", "--kubeconfig", cluster.kubeconfig, "--port", "0", "--host", "127.0.0.1", ...FAST, "--leader-elect", "false", "--failure-threshold", "2", "--cooldown", "500ms", "--max-rolls-per-hour", "3"]);
    children.push(serve);

    // --- exporter: a file sink that works and an HTTP sink that fails, refuses, then recovers.
    sink = await startHttpSink();
    const sock = join(dir, "exporter.sock");
    const exporter = spawnCli([
      "exporter", "--port", "0", "--listen", `unix://${sock}`, "--data-dir", join(dir, "queue"),
      "--sink", `file://${join(dir, "out")}`, "--sink", `http://127.0.0.1:${sink.port}/`,
      "--max-bytes", "64KiB", "--max-record-bytes", "16KiB", "--when-full", "drop-newest", "--backoff-initial", "50ms", "--backoff-max", "200ms",
    ]);
    children.push(exporter);

    // --- flows: the shared Hubble HTTP flows and Tetragon TCP events, without a cluster; the
    // samples have no read/write kprobes, so three workloads' I/O is added (one more than
    // --max-series allows: an overflow) and a broken line (rejected and counted).
    const tetragon = join(dir, "tetragon.jsonl");
    const io = (fn: string, workload: string) =>
      JSON.stringify({
        process_kprobe: {
          process: { exec_id: workload, pid: 42, binary: "/app", pod: { namespace: "shop", name: `${workload}-1`, container: { id: "containerd://abc", name: "app" }, workload, workload_kind: "Deployment" } },
          function_name: fn,
          args: [{ int_arg: 3 }, { int_arg: 512 }],
          return: { int_arg: 512 },
          action: "KPROBE_ACTION_POST",
        },
        node_name: "node-a",
        time: "2026-01-01T00:00:00Z",
      });
    await writeFile(tetragon, [readFileSync(join(SAMPLES, "flows/kovenant_example_tetragon_log.jsonl"), "utf8").trimEnd(), io("__x64_sys_write", "cart"), io("__x64_sys_read", "cart"), io("__x64_sys_read", "web"), io("__x64_sys_write", "db"), "{broken", ""].join("\n"));
    // Hubble: HTTP, DNS and the two DROPPED flows of Cilium's docs (drops and DNS panels).
    const hubble = join(dir, "hubble.jsonl");
    await writeFile(hubble, ["hubble-otel_basic-sample-5-http-flows.jsonl", "hubble-otel_basic-sample-330-dns-flows.jsonl", "cilium-docs_hubble-exporter-dropped-flows.jsonl"].map((f) => readFileSync(join(SAMPLES, "flows", f), "utf8")).join(""));
    const flows = spawnCli([
      "flows", "--no-kube", "--port", "0", "--host", "127.0.0.1", "--from-start", "--poll-interval", "100ms", "--max-series", "2",
      "--hubble", hubble, "--tetragon", tetragon,
    ]);
    children.push(flows);

    // --- audit receiver
    const audit = spawnCli(["audit", "serve", "--db", join(dir, "audit.duckdb"), "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--auth=none"]);
    children.push(audit);

    const [servePort, exporterPort, flowsPort, auditHttpPort, auditWebhookPort] = await Promise.all([
      logPort(serve, "watch-auditor serve started", "port"),
      logPort(exporter, '"exporter started"', "metricsPort"),
      logPort(flows, '"listening"', "port"),
      logPort(audit, "audit receiver listening", "httpPort"),
      logPort(audit, "audit receiver listening", "webhookPort"),
    ]);

    // --- Prometheus, scraping all four every second.
    const promPort = await freePort();
    // As the ServiceMonitors/PodMonitor do: the scraped pod's namespace and name become labels. flows'
    // own namespace/workload labels describe the traffic and must win (honor_labels).
    const target = (job: string, port: number, honor = false) => ({
      job_name: job,
      scrape_interval: "1s",
      honor_labels: honor,
      static_configs: [{ targets: [`127.0.0.1:${port}`], labels: { namespace: "watch-auditor", pod: `${job}-0` } }],
    });
    await writeFile(
      join(dir, "prometheus.yml"),
      YAML.stringify({ global: { scrape_interval: "1s", evaluation_interval: "1s" }, scrape_configs: [target("auditor", servePort), target("exporter", exporterPort), target("flows", flowsPort, true), target("audit", auditHttpPort)] }),
    );
    prom = spawn("/usr/bin/prometheus", [`--config.file=${join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${join(dir, "tsdb")}`, `--web.listen-address=127.0.0.1:${promPort}`, "--log.level=warn"], { stdio: ["ignore", "ignore", "pipe"] });
    let promErr = "";
    prom.stderr!.setEncoding("utf8").on("data", (d: string) => (promErr += d.slice(0, 10_000)));

    // --- events
    const scenario = readFileSync(join(SAMPLES, "audit/real-apiserver-v1.24-scenario.jsonl"), "utf8").split("\n").filter((l) => l.trim() !== "");
    const demo = readFileSync(join(SAMPLES, "audit/demo.log"), "utf8").split("\n").filter((l) => l.trim() !== "");
    const events = [...scenario, ...demo];
    for (let i = 0; i < events.length; i += 50) {
      const status = await post(auditWebhookPort, `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[${events.slice(i, i + 50).join(",")}]}`);
      assert.equal(status, 200, `webhook batch ${i}`);
    }
    assert.equal(await post(auditWebhookPort, "not json"), 400, "a rejected batch, for the rejected panel");

    client = new ExporterClient({ address: `unix://${sock}`, onWarning: () => {} });
    const payload = "x".repeat(1024);
    // More than --max-bytes while the HTTP sink fails: the queue fills and records are dropped.
    const sends = Array.from({ length: 120 }, (_, i) => client!.send({ i, payload }).catch(() => undefined));
    // A producer bug: a line that is not JSON (rejected and counted, the connection lives on).
    const raw = createConnection(sock);
    raw.on("error", () => {});
    raw.end("this is not json\n");

    await eventually(async () => (await promQuery(promPort, 'sum(watch_auditor_exporter_records_dropped_total) > 0 and sum(watch_auditor_exporter_send_retries_total) > 0')).data?.result.length === 1, {
      timeoutMs: 60_000,
      what: `exporter drops and retries in Prometheus ${promErr}`,
    });
    sink.mode.value = "refuse-once";
    await Promise.all(sends);

    // Auditor faults: one failed canary create (inconclusive), one failed canary delete, one failed roll.
    await eventually(async () => metricValue(await (await fetch(`http://127.0.0.1:${servePort}/metrics`)).text(), "watch_auditor_orphans_deleted_total") >= 1, { timeoutMs: 30_000, what: "orphan swept" });
    cluster.api.faults.inject({ method: "POST", pathRegex: `/namespaces/${CANARY_NS}/pods`, status: 500, count: 3 });
    cluster.api.faults.inject({ method: "DELETE", pathRegex: `/namespaces/${CANARY_NS}/pods/`, status: 500, count: 6 });

    // Wait until Prometheus has the effects of everything above.
    const needed = [
      "watch_auditor_rolls_total", "watch_auditor_rolls_skipped_total", "watch_auditor_roll_errors_total", "watch_auditor_inconclusive_total", "watch_auditor_canary_cleanup_failures_total",
      "watch_auditor_exporter_records_dead_lettered_total", "watch_auditor_exporter_protocol_errors_total", "watch_auditor_audit_webhook_rejected_total",
    ];
    await eventually(
      async () => {
        const missing: string[] = [];
        for (const n of needed) if ((await promQuery(promPort, `sum(${n}) > 0`)).data?.result.length !== 1) missing.push(n);
        if (missing.length > 0) throw new Error(`still missing: ${missing.join(", ")}`);
        return true;
      },
      { timeoutMs: 60_000, intervalMs: 500, what: "events visible in Prometheus" },
    );
    // rate() needs two samples of every series after the last change.
    await new Promise((r) => setTimeout(r, 3000));

    const ranges = { rateInterval: "1m", range: "5m" };
    const failures: string[] = [];
    for (const q of allDashboardQueries()) {
      const r = await promQuery(promPort, expandGrafanaVariables(q.expr, ranges));
      if (r.status !== "success") failures.push(`${q.dashboard} / ${q.panel}: ${r.error} in ${q.expr}`);
      else if (r.data!.result.length === 0 && !(q.panel in NO_DATA_OK)) failures.push(`${q.dashboard} / ${q.panel}: no data for ${q.expr}`);
    }
    for (const rule of allRuleExpressions()) {
      const r = await promQuery(promPort, rule.expr);
      if (r.status !== "success") failures.push(`rule ${rule.alert}: ${r.error}`);
    }
    // Template variables: label_values(metric, label) must find values.
    for (const d of dashboardSpecs) {
      for (const v of d.variables) {
        const res = (await (await fetch(`http://127.0.0.1:${promPort}/api/v1/label/${v.labelName ?? v.name}/values?${new URLSearchParams({ "match[]": v.metric })}`)).json()) as { data: string[] };
        if (res.data.length === 0) failures.push(`${d.uid}: variable ${v.name} has no values`);
      }
    }
    const exposed = (await Promise.all([servePort, exporterPort, flowsPort, auditHttpPort].map(async (p) => (await fetch(`http://127.0.0.1:${p}/metrics`)).text()))).join("\n");
    const exposedNames = new Set(exposed.split("\n").filter((l) => l && !l.startsWith("#")).map((l) => /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(l)![0]));
    const used = new Set([...allDashboardQueries().map((q) => q.expr), ...allRuleExpressions().map((r) => r.expr)].flatMap(metricNames));
    for (const name of used) if (!exposedNames.has(name)) failures.push(`metric ${name} is used but no component exposes it`);
    // Every label a selector matches on exists on that metric (else the selector silently matches nothing).
    const exposedLabels = new Map<string, Set<string>>();
    for (const line of exposed.split("\n")) {
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}/.exec(line);
      if (!m) continue;
      const set = exposedLabels.get(m[1]!) ?? new Set<string>();
      for (const l of m[2]!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) set.add(l[1]!);
      exposedLabels.set(m[1]!, set);
    }
    const pendingSeen = new Set<string>();
    for (const expr of [...allDashboardQueries().map((q) => q.expr), ...allRuleExpressions().map((r) => r.expr)]) {
      for (const [metric, labels] of selectorLabels(expr)) {
        for (const l of labels) {
          if (TARGET_LABELS.has(l) || exposedLabels.get(metric)?.has(l)) continue;
          if (`${metric}:${l}` in PENDING_LABELS) pendingSeen.add(`${metric}:${l}`);
          else failures.push(`label ${l} of ${metric} is selected on but not exposed`);
        }
      }
    }
    // A pending label that appears in /metrics must leave the list (and the alerts start working).
    assert.deepEqual([...pendingSeen].sort(), Object.keys(PENDING_LABELS).sort(), "PENDING_LABELS is up to date");
    assert.deepEqual(failures, []);
    assert.ok(used.size >= 40, `${used.size} metrics used`);
  } finally {
    await client?.close({ timeoutMs: 2000 }).catch(() => undefined);
    if (prom && prom.exitCode === null) {
      const exited = new Promise((r) => prom!.once("exit", r));
      prom.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (prom.exitCode === null) prom.kill("SIGKILL");
    }
    await Promise.all(children.map((c) => stopCli(c, "SIGTERM", 10_000)));
    sink?.server.close();
    await cluster?.close();
    await rm(dir, { recursive: true, force: true });
  }
});
