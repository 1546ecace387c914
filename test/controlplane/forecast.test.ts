// Days to full. The line fit on hand-computed cases, then `report --prometheus` against a REAL
// Prometheus whose history was backfilled (promtool tsdb create-blocks-from openmetrics) with a DB
// size growing at a known rate.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { linearForecast } from "../../src/controlplane/forecast.js";
import { histogramQuantile } from "../../src/controlplane/apiserver-metrics.js";
import { eventually, spawnCli, stopCli } from "../support/cli.js";
import { reportJson, startCluster } from "./support.js";
import { freePort } from "../support/ports.js";

const MiB = 1024 * 1024;
const HOUR = 3600_000;

test("linear fit: growth of 1 MiB/h from 100 MiB, quota 200 MiB → (200 − 106) h after the last sample", () => {
  const t0 = Date.UTC(2026, 0, 1);
  const samples = Array.from({ length: 7 }, (_, i) => ({ t: t0 + i * HOUR, bytes: 100 * MiB + i * MiB }));
  const last = samples[6]!;
  const f = linearForecast(samples, { quotaBytes: 200 * MiB, quotaSource: "test", source: "samples", now: last.t });
  assert.equal(f.status, "growing");
  assert.ok(Math.abs(f.slopeBytesPerSecond! - MiB / 3600) < 1e-9);
  assert.ok(Math.abs(f.secondsToFull! - 94 * 3600) < 1e-6, String(f.secondsToFull));
  assert.equal(f.fullAt, new Date(last.t + 94 * HOUR).toISOString());
  assert.match(f.statement, /reaches its quota \(200\.0 MiB, test\) in 3\.9 days/);
  // Asked an hour after the last sample: one hour less.
  const later = linearForecast(samples, { quotaBytes: 200 * MiB, quotaSource: "test", source: "samples", now: last.t + HOUR });
  assert.ok(Math.abs(later.secondsToFull! - 93 * 3600) < 1e-6);
  // Noise around the line does not move the slope much: least squares, not first-to-last.
  const noisy = samples.map((s, i) => ({ ...s, bytes: s.bytes + (i % 2 === 0 ? 0.2 : -0.2) * MiB }));
  assert.ok(Math.abs(linearForecast(noisy, { quotaBytes: 200 * MiB, quotaSource: "q", source: "samples" }).slopeBytesPerSecond! - MiB / 3600) < 0.1 * (MiB / 3600));
});

test("linear fit: flat or shrinking is not-growing (no seconds); too few samples or too short a span is insufficient; at quota is at-or-over", () => {
  const t0 = Date.UTC(2026, 0, 1);
  const flat = linearForecast([{ t: t0, bytes: 5 * MiB }, { t: t0 + HOUR, bytes: 5 * MiB }], { quotaBytes: 10 * MiB, quotaSource: "q", source: "samples" });
  assert.equal(flat.status, "not-growing");
  assert.equal(flat.secondsToFull, undefined);
  const shrinking = linearForecast([{ t: t0, bytes: 6 * MiB }, { t: t0 + HOUR, bytes: 5 * MiB }], { quotaBytes: 10 * MiB, quotaSource: "q", source: "samples" });
  assert.equal(shrinking.status, "not-growing");
  assert.equal(linearForecast([{ t: t0, bytes: MiB }], { quotaBytes: 10 * MiB, quotaSource: "q", source: "samples" }).status, "insufficient-data");
  const short = linearForecast([{ t: t0, bytes: MiB }, { t: t0 + 30_000, bytes: 2 * MiB }], { quotaBytes: 10 * MiB, quotaSource: "q", source: "samples" });
  assert.equal(short.status, "insufficient-data");
  assert.match(short.statement, /2 size sample\(s\) over 30 s/);
  const full = linearForecast([{ t: t0, bytes: 10 * MiB }], { quotaBytes: 10 * MiB, quotaSource: "q", source: "samples" });
  assert.equal(full.status, "at-or-over-quota");
  assert.equal(full.secondsToFull, 0);
});

test("histogram quantile as Prometheus computes it (linear within the bucket), by hand", () => {
  // 100 observations: 50 ≤ 0.1, 90 ≤ 0.5, 100 ≤ 1. p99: rank 99 in (0.5, 1]: 0.5 + 0.5 × (99 − 90)/10 = 0.95.
  const b = [
    { le: 0.1, count: 50 },
    { le: 0.5, count: 90 },
    { le: 1, count: 100 },
    { le: Infinity, count: 100 },
  ];
  assert.ok(Math.abs(histogramQuantile(0.99, b)! - 0.95) < 1e-12);
  // p50: rank 50 reaches the first bucket exactly: 0 + 0.1 × 50/50.
  assert.ok(Math.abs(histogramQuantile(0.5, b)! - 0.1) < 1e-12);
  // Beyond the last finite bound: that bound.
  assert.equal(histogramQuantile(0.99, [{ le: 1, count: 10 }, { le: Infinity, count: 100 }]), 1);
  assert.equal(histogramQuantile(0.99, [{ le: Infinity, count: 0 }]), undefined);
});


test("report --prometheus: history from a real Prometheus (backfilled: 3 h at 2 MiB/h) → growing at that rate, days to full against --etcd-quota-bytes", async () => {
  const dir = await mkdtemp(join(tmpdir(), "controlplane-prom-"));
  const cluster = await startCluster();
  let prom: ReturnType<typeof spawn> | undefined;
  try {
    // OpenMetrics, timestamps in seconds: one sample a minute over the last 3 hours.
    const now = Math.floor(Date.now() / 1000);
    const start = now - 3 * 3600;
    const rate = (2 * MiB) / 3600; // bytes per second
    const base = 300 * MiB;
    let om = "# TYPE etcd_db_total_size_in_bytes gauge\n";
    for (let t = start; t <= now - 30; t += 60) om += `etcd_db_total_size_in_bytes{endpoint="https://10.0.0.1:2379"} ${Math.round(base + rate * (t - start))} ${t}\n`;
    om += "# EOF\n";
    await writeFile(join(dir, "history.om"), om);
    const tsdb = join(dir, "tsdb");
    const created = spawnSync("promtool", ["tsdb", "create-blocks-from", "openmetrics", join(dir, "history.om"), tsdb], { encoding: "utf8" });
    assert.equal(created.status, 0, created.stderr + created.stdout);
    await writeFile(join(dir, "prometheus.yml"), "global:\n  scrape_interval: 15s\nscrape_configs: []\n");
    const port = await freePort();
    prom = spawn("/usr/bin/prometheus", [`--config.file=${join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${tsdb}`, `--web.listen-address=127.0.0.1:${port}`, "--log.level=warn"], { stdio: ["ignore", "ignore", "pipe"] });
    let promErr = "";
    prom.stderr!.setEncoding("utf8").on("data", (d: string) => (promErr += d.slice(0, 5000)));
    await eventually(async () => (await fetch(`http://127.0.0.1:${port}/-/ready`)).status === 200, { timeoutMs: 30_000, what: `prometheus ready ${promErr}` });

    const quota = 512 * MiB;
    const { r, json } = await reportJson(cluster.kubeconfig, ["--prometheus", `http://127.0.0.1:${port}`, "--forecast-window", "4h", "--etcd-quota-bytes", "512MiB"]);
    assert.ok(json, r.stderr);
    const f = json.database.forecast;
    assert.equal(f.source, "prometheus", JSON.stringify(json.errors));
    assert.equal(f.status, "growing");
    assert.ok(f.samples > 100, `query_range points: ${f.samples}`);
    assert.ok(Math.abs(f.slopeBytesPerSecond / rate - 1) < 0.03, `slope ${f.slopeBytesPerSecond} vs ${rate}`);
    // From the last backfilled size (≈ base + 3 h × rate ≈ 306 MiB) to 512 MiB at 2 MiB/h ≈ 103 h.
    const lastSize = base + rate * (now - 30 - start);
    const expected = (quota - lastSize) / rate;
    assert.ok(Math.abs(f.secondsToFull / expected - 1) < 0.05, `${f.secondsToFull} vs ${expected}`);
    assert.equal(json.database.quotaBytes, quota);
    assert.equal(json.database.quotaSource, "flag");
    assert.match(f.statement, /Prometheus history/);

    // serve: the same history gives database_full_seconds.
    const serve = spawnCli(["controlplane", "serve", "--kubeconfig", cluster.kubeconfig, "--port", "0", "--host", "127.0.0.1", "--interval", "500ms", "--prometheus", `http://127.0.0.1:${port}`, "--forecast-window", "4h", "--etcd-quota-bytes", "512MiB"]);
    try {
      const servePort = await eventually(() => {
        if (serve.exitCode !== null) throw new Error(`serve exited: ${serve.output.stderr}`);
        const line = serve.output.stderr.split("\n").find((l) => l.includes('"listening"'));
        return line ? (JSON.parse(line) as { port: number }).port : undefined;
      }, { timeoutMs: 30_000, what: "serve listening" });
      const full = await eventually(async () => {
        const text = await (await fetch(`http://127.0.0.1:${servePort}/metrics`)).text();
        const m = /^watch_auditor_controlplane_database_full_seconds (\S+)$/m.exec(text);
        return m ? Number(m[1]) : undefined;
      }, { timeoutMs: 30_000, what: "database_full_seconds from Prometheus history" });
      const expectedNow = (quota - lastSize) / rate - (Date.now() / 1000 - (now - 30));
      assert.ok(Math.abs(full / expectedNow - 1) < 0.05, `${full} vs ${expectedNow}`);
    } finally {
      const s = await stopCli(serve);
      assert.equal(s.code, 0, s.stderr.slice(-1000));
    }

    // Prometheus gone: the failure is named, the forecast falls back to the samples and says so.
    prom.kill("SIGTERM");
    await new Promise((res) => prom!.once("exit", res));
    prom = undefined;
    const down = await reportJson(cluster.kubeconfig, ["--prometheus", `http://127.0.0.1:${port}`, "--etcd-quota-bytes", "512MiB"]);
    assert.ok(down.json, down.r.stderr);
    assert.equal(down.json.database.forecast.source, "samples");
    assert.ok((down.json.errors as { source: string; error: string }[]).some((e) => e.source === "prometheus" && e.error.includes(`127.0.0.1:${port}/api/v1/query_range`)));
    assert.equal(down.r.code, 1, "an unreadable source is reported as a problem");
  } finally {
    prom?.kill("SIGKILL");
    await cluster.close();
    await rm(dir, { recursive: true, force: true });
  }
});
