#!/usr/bin/env node
// What the recording rules save: the cluster-resources and control-plane request panels, queried
// through their recording rules, beside the same panels with every recording rule inlined (what
// the panel would evaluate without them), in the same run, on the same real Prometheus.
// Prometheus scrapes a generated cluster (cAdvisor + kube-state-metrics series of PODS pods in
// Deployments, and the request series of three API server instances) every 5 s for --duration,
// with the rendered rule file loaded; then each panel is range-queried (last 60 s, step 5 s).
// Both forms must return the same series (checked); the figure is raw time / recorded time.
// Usage: npm run build && node bench/dashboards-recording-rules.mjs [--pods 1500] [--resources 30] [--duration 90]
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, URLSearchParams } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
if (!existsSync(join(root, "dist/dashboards/rules.js"))) throw new Error("run `npm run build` first");
const { renderRules, allRecordingRules } = await import(join(root, "dist/dashboards/rules.js"));
const { allDashboardQueries } = await import(join(root, "dist/dashboards/catalog.js"));
const { expandGrafanaVariables } = await import(join(root, "dist/dashboards/promql.js"));

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? dflt : Number(process.argv[i + 1]);
};
const PODS = arg("pods", 1500);
const RESOURCES = arg("resources", 30);
const DURATION = arg("duration", 90);
const NAMESPACES = 30;
const PER_DEPLOYMENT = 5;

// --- the generated cluster: counters grow with time, so rates are non-zero.
const start = Date.now();
function cluster() {
  const t = (Date.now() - start) / 1000;
  const out = [];
  for (let p = 0; p < PODS; p++) {
    const d = Math.floor(p / PER_DEPLOYMENT);
    const ns = `ns-${d % NAMESPACES}`;
    const dep = `app-${d}`;
    const rs = `${dep}-5d9f`;
    const pod = `${rs}-${p}`;
    const base = `namespace="${ns}",pod="${pod}"`;
    for (const c of ["main", "sidecar", "", "POD"]) {
      const l = `container="${c}",cpu="total",id="/kubepods/${pod}/${c}",image="img",name="${c}",${base}`;
      out.push(`container_cpu_usage_seconds_total{${l}} ${(t * (0.01 + (p % 7) / 100)).toFixed(3)}`);
      out.push(`container_memory_working_set_bytes{${l}} ${1e6 * (1 + (p % 13))}`);
      out.push(`container_fs_usage_bytes{${l},device="/dev/sda1"} ${4096 * (1 + (p % 5))}`);
    }
    for (const i of ["eth0", "lo"]) {
      out.push(`container_network_receive_bytes_total{container="",id="/kubepods/${pod}",interface="${i}",${base}} ${Math.round(t * 1000 * (1 + (p % 3)))}`);
      out.push(`container_network_transmit_bytes_total{container="",id="/kubepods/${pod}",interface="${i}",${base}} ${Math.round(t * 500 * (1 + (p % 3)))}`);
    }
    out.push(`kube_pod_owner{${base},owner_kind="ReplicaSet",owner_name="${rs}",owner_is_controller="true",uid="u${p}"} 1`);
    out.push(`kube_pod_info{${base},node="node-${p % 50}",host_ip="10.0.0.${p % 250}",pod_ip="10.1.${p % 250}.${p % 200}",created_by_kind="ReplicaSet",created_by_name="${rs}",uid="u${p}"} 1`);
    if (p % PER_DEPLOYMENT === 0) out.push(`kube_replicaset_owner{namespace="${ns}",replicaset="${rs}",owner_kind="Deployment",owner_name="${dep}",owner_is_controller="true"} 1`);
  }
  return out.join("\n") + "\n";
}
const LE = ["0.005", "0.025", "0.05", "0.1", "0.2", "0.4", "0.6", "0.8", "1", "1.25", "1.5", "2", "3", "4", "5", "6", "8", "10", "15", "20", "30", "60", "+Inf"];
function apiserver(instance) {
  const t = (Date.now() - start) / 1000;
  const out = [];
  for (let r = 0; r < RESOURCES; r++) {
    for (const verb of ["GET", "LIST", "WATCH", "POST", "PATCH", "DELETE"]) {
      for (const scope of ["resource", "namespace"]) {
        const l = `component="apiserver",dry_run="",group="",resource="res${r}",scope="${scope}",subresource="",verb="${verb}",version="v1"`;
        const n = Math.round(t * (1 + ((r + instance) % 4)));
        for (const code of ["200", "201", "404", "500"]) out.push(`apiserver_request_total{${l},code="${code}"} ${code === "200" ? n : Math.round(n / 50)}`);
        LE.forEach((le, i) => out.push(`apiserver_request_duration_seconds_bucket{${l},le="${le}"} ${Math.round((n * Math.min(i + 1, 12)) / 12)}`));
        out.push(`apiserver_request_duration_seconds_count{${l}} ${n}`, `apiserver_request_duration_seconds_sum{${l}} ${n * 0.05}`);
      }
    }
  }
  return out.join("\n") + "\n";
}

function serve(body) {
  const server = createServer((req, res) => res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(body()));
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, port: server.address().port })));
}
const freePort = async () => {
  const { server, port } = await serve(() => "");
  await new Promise((r) => server.close(r));
  return port;
};

const dir = mkdtempSync(join(tmpdir(), "bench-recording-"));
const targets = [await serve(cluster), ...(await Promise.all([0, 1, 2].map((i) => serve(() => apiserver(i)))))];
const promPort = await freePort();
writeFileSync(join(dir, "rules.yaml"), renderRules({ format: "prometheus" }));
const yaml = (o) => JSON.stringify(o); // JSON is YAML
writeFileSync(
  join(dir, "prometheus.yml"),
  yaml({
    global: { scrape_interval: "5s", evaluation_interval: "5s" },
    rule_files: [join(dir, "rules.yaml")],
    scrape_configs: [
      { job_name: "kubelet-and-ksm", honor_labels: true, static_configs: [{ targets: [`127.0.0.1:${targets[0].port}`] }] },
      { job_name: "apiserver", static_configs: [{ targets: targets.slice(1).map((t) => `127.0.0.1:${t.port}`) }] },
    ],
  }),
);
const prom = spawn("/usr/bin/prometheus", [`--config.file=${join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${join(dir, "tsdb")}`, `--web.listen-address=127.0.0.1:${promPort}`, "--log.level=warn"], { stdio: ["ignore", "ignore", "inherit"] });
const api = async (path, params) => {
  const res = await fetch(`http://127.0.0.1:${promPort}/api/v1/${path}?${new URLSearchParams(params)}`);
  return res.json();
};

try {
  console.error(`scraping ${PODS} pods and 3 API servers × ${RESOURCES} resources every 5 s for ${DURATION} s …`);
  await new Promise((r) => setTimeout(r, DURATION * 1000));
  const series = (await api("query", { query: "count({__name__=~\".+\"})" })).data?.result?.[0]?.value?.[1];

  // Inline every recording rule (recursively) to get what each panel costs without them.
  const records = new Map();
  for (const r of allRecordingRules()) records.set(r.record, records.has(r.record) ? `${records.get(r.record)} or ${r.expr}` : r.expr);
  const inline = (expr) => {
    let out = expr;
    for (let depth = 0; depth < 5; depth++) {
      let changed = false;
      for (const [name, body] of records) {
        const re = new RegExp(`${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(\\{[^}]*\\})?`, "g");
        if (re.test(out)) {
          // The panels' matchers are Grafana's "All" (=~".*"): dropping them changes nothing.
          out = out.replace(re, () => `(${body})`); // a function: the body has "$1"s
          changed = true;
        }
      }
      if (!changed) break;
    }
    return out;
  };
  const panels = allDashboardQueries().filter((q) => (q.dashboard === "watch-auditor-cluster" || q.dashboard === "watch-auditor-controlplane") && [...records.keys()].some((r) => q.expr.includes(r)) && /apiserver_request|container_/.test(inline(q.expr)));
  const now = Date.now() / 1000;
  const range = { start: String(now - 60), end: String(now), step: "5" };
  const time = async (query) => {
    const t = performance.now();
    const r = await api("query_range", { query, ...range });
    const ms = performance.now() - t;
    if (r.status !== "success") throw new Error(`${r.error}: ${query}`);
    return { ms, n: r.data.result.length };
  };
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const rows = [];
  let totalRaw = 0;
  let totalRec = 0;
  for (const q of panels) {
    const recorded = expandGrafanaVariables(q.expr, { rateInterval: "1m", range: "5m" });
    const raw = expandGrafanaVariables(inline(q.expr), { rateInterval: "1m", range: "5m" });
    const a = [];
    const b = [];
    let n;
    for (let i = 0; i < 5; i++) {
      const x = await time(recorded);
      const y = await time(raw);
      a.push(x.ms);
      b.push(y.ms);
      if (x.n !== y.n) throw new Error(`${q.panel}: ${x.n} series through the rules, ${y.n} inlined`);
      n = x.n;
    }
    totalRec += median(a);
    totalRaw += median(b);
    rows.push({ dashboard: q.dashboard.replace("watch-auditor-", ""), panel: q.panel, series: n, recordedMs: +median(a).toFixed(1), inlinedMs: +median(b).toFixed(1), ratio: +(median(b) / median(a)).toFixed(1) });
  }
  console.table(rows);
  console.log(JSON.stringify({ pods: PODS, apiserverResources: RESOURCES, seriesInTsdb: Number(series), panels: rows.length, recordedMsTotal: +totalRec.toFixed(1), inlinedMsTotal: +totalRaw.toFixed(1), ratio: +(totalRaw / totalRec).toFixed(1), loadavg: loadavg().map((x) => +x.toFixed(2)) }));
} finally {
  prom.kill("SIGTERM");
  await new Promise((r) => prom.once("exit", r));
  for (const t of targets) t.server.close();
  rmSync(dir, { recursive: true, force: true });
}
