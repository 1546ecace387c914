// Real sources for the console's traffic and control-plane tests (API and browser).
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { eventually, runCli, spawnCli, stopCli } from "../support/cli.js";
import { startEtcd } from "../support/etcd.js";
import { fill } from "../controlplane/etcd-data.js";
import { startCluster } from "../controlplane/support.js";
import { FLOW_SAMPLES } from "../support/samples.js";
import { freePort } from "../support/ports.js";
import { gaugeOpenMetrics, parseExposition, promQuery, rampOpenMetrics, startPrometheus, type RunningPrometheus, type Series } from "./prometheus-support.js";

const HUBBLE = ["hubble-otel_basic-sample-400-tcp-flows.jsonl", "hubble-otel_basic-sample-330-dns-flows.jsonl", "hubble-otel_basic-sample-348-http-flows.jsonl", "cilium-docs_hubble-exporter-dropped-flows.jsonl"];
const TETRAGON = "kovenant_example_tetragon_log.jsonl";
export const PAIR_METRICS = ["watch_auditor_flows_tcp_sent_bytes_total", "watch_auditor_flows_tcp_received_bytes_total", "watch_auditor_flows_tcp_connections_total", "watch_auditor_flows_dns_requests_total", "watch_auditor_flows_drops_total"];
export const RAMP_POINTS = 41;
export const RAMP_STEP = 15; // seconds: the ramp spans 600 s

/** The real flows CLI over the samples; its /metrics once every sample was read. */
export async function flowsMetrics(dir: string): Promise<Series[]> {
  const hubble = join(dir, "hubble.jsonl");
  // one file of the four Hubble samples, one Tetragon sample (TCP bytes)
  writeFileSync(hubble, HUBBLE.map((f) => readFileSync(join(FLOW_SAMPLES, f), "utf8")).join(""));
  copyFileSync(join(FLOW_SAMPLES, TETRAGON), join(dir, "tetragon.jsonl"));
  const port = await freePort();
  const child = spawnCli(["flows", "--hubble", hubble, "--tetragon", join(dir, "tetragon.jsonl"), "--from-start", "--no-kube", "--port", String(port), "--host", "127.0.0.1", "--poll-interval", "50ms"], {
    env: { KUBECONFIG: "/nonexistent/kubeconfig", KUBERNETES_SERVICE_HOST: undefined, HOME: "/nonexistent" },
  });
  try {
    let last = "";
    // Read until two scrapes in a row agree and the last samples of both inputs are in.
    return await eventually(
      async () => {
        if (child.exitCode !== null) throw new Error(`flows exited ${child.exitCode}: ${child.output.stderr}`);
        const text = await (await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => undefined))?.text();
        if (text === undefined) return undefined;
        const series = parseExposition(text).filter((s) => PAIR_METRICS.includes(s.name) || s.name === "http_server_requests_total");
        const body = JSON.stringify(series);
        const complete = series.some((s) => s.name === "watch_auditor_flows_tcp_received_bytes_total") && series.some((s) => s.name === "watch_auditor_flows_drops_total");
        const stable = complete && body === last;
        last = body;
        return stable ? series : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500, what: "flows metrics of every sample" },
    );
  } finally {
    await stopCli(child, "SIGTERM");
  }
}


/**
 * A real Prometheus holding the real flows output as history: each counter a straight line from 0
 * to its value over RAMP_POINTS samples RAMP_STEP apart, ending `end` (unix s; about 50 minutes ago).
 * increase() over the last 5 minutes of the ramp is then exactly half of each value.
 */
export async function flowsPrometheus(dir: string): Promise<{ series: Series[]; prom: RunningPrometheus; end: number }> {
  const series = await flowsMetrics(dir);
  const start = Math.floor(Date.now() / 1000 / 60) * 60 - 3600;
  const end = start + (RAMP_POINTS - 1) * RAMP_STEP;
  const prom = await startPrometheus({ dir, backfill: rampOpenMetrics(series, start, RAMP_STEP, RAMP_POINTS) });
  return { series, prom, end };
}

const MiB = 1024 * 1024;
/** etcd's --quota-backend-bytes in the control-plane sources. */
export const QUOTA = 256 * MiB;

/**
 * The control-plane sources: a real etcd filled with known keys (test/controlplane/etcd-data.ts),
 * the test API server with a failing etcd check, a real Prometheus that holds a database-size
 * history (a straight line, 20 → 40 MiB over the last 2 h) and scrapes the real `controlplane
 * serve` every second (a usage scan every 2 s; its forecast from that history), and the JSON of the
 * real `controlplane etcd-usage`. Resolves once Prometheus has every family the console reads.
 */
export async function controlPlaneSources(dir: string, cleanup: (fn: () => unknown) => void) {
  const etcd = await startEtcd({ metrics: true, quotaBackendBytes: QUOTA });
  cleanup(() => etcd.close());
  await fill(etcd);
  const cluster = await startCluster();
  cleanup(() => cluster.close());
  cluster.api.health.setCheck("etcd", false);

  // The size history: one sample a minute for two hours, 20 MiB rising to 40 MiB, the last a minute ago.
  const now = Math.floor(Date.now() / 1000);
  const first = now - 7200;
  const points: [number, number][] = [];
  for (let t0 = first; t0 <= now - 60; t0 += 60) points.push([t0, 20 * MiB + ((t0 - first) / 7200) * 20 * MiB]);
  const slope = (20 * MiB) / 7200; // bytes per second
  const fullAt = first + (QUOTA - 20 * MiB) / slope; // where that line meets etcd's quota (unix s)

  const exporterPort = await freePort();
  const prom = await startPrometheus({ dir, backfill: gaugeOpenMetrics({ etcd_db_total_size_in_bytes: points }), scrape: [{ job: "watch-auditor-controlplane", targets: [`127.0.0.1:${exporterPort}`] }] });
  cleanup(() => prom.stop());
  const serve = spawnCli(["controlplane", "serve", "--kubeconfig", cluster.kubeconfig, "--etcd-endpoints", etcd.clientUrl, "--etcd-usage-interval", "2s", "--port", String(exporterPort), "--host", "127.0.0.1", "--interval", "1s", "--prometheus", prom.url, "--forecast-window", "3h"]);
  cleanup(() => stopCli(serve, "SIGTERM"));

  const usage = await runCli(["controlplane", "etcd-usage", "--etcd-endpoints", etcd.clientUrl, "--output", "json", "--top", "5"]);
  if (usage.code !== 0) throw new Error(`controlplane etcd-usage exited ${usage.code}: ${usage.stderr}`);
  const usageFile = join(dir, "etcd-usage.json");
  writeFileSync(usageFile, usage.stdout);
  const usageJson = JSON.parse(usage.stdout) as { namespaces: { namespace: string; bytes: number; keys: number }[]; largest: { key: string; bytes: number }[]; scannedKeys: number };

  // Prometheus has every family the page reads once the exporter ran a scan and a forecast.
  await eventually(
    async () => {
      if (serve.exitCode !== null) throw new Error(`controlplane serve exited: ${serve.output.stderr}`);
      for (const m of ["health_check", "database_full_seconds", "database_size_bytes", "database_quota_bytes", "etcd_usage_bytes", "etcd_usage_complete"]) {
        if ((await promQuery(prom.url, `watch_auditor_controlplane_${m}`)).length === 0) return undefined;
      }
      return true;
    },
    { timeoutMs: 60_000, intervalMs: 500, what: `the exporter's series in Prometheus; exporter: ${serve.output.stderr.slice(-1000)}` },
  );
  // two more scrapes: every series as of the same exporter state
  await new Promise((r) => setTimeout(r, 2500));

  return { etcd, cluster, prom, serve, exporterPort, usageFile, usageJson, first, fullAt, slope };
}
