#!/usr/bin/env node
// `controlplane report` and `controlplane serve` against the test API server answering the recorded
// v1.25 /metrics (3.3 MB), each beside a baseline taken in the same run:
// - report wall time with the recorded /metrics vs the same report with an empty /metrics
//   (alternating runs): the ratio is what reading and parsing a real /metrics costs;
// - the parse alone (the families the report reads, and serve's) vs splitting the same text into
//   lines (a floor: every parser has to at least do that);
// - serve's RSS over --refreshes refreshes every second vs a bare Node process.
//
//   npm run build && node bench/controlplane-apiserver.mjs [--runs 5] [--nodes 200] [--refreshes 30]
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { register } from "tsx/esm/api";

register();
const { startTestApiServer, RECORDED_METRICS_FILE } = await import("../test/support/kube-apiserver/index.ts");
const { microTime } = await import("../src/core/kube/index.ts");
const { parseMetricsText, REPORT_FAMILIES, SERVE_FAMILIES } = await import("../src/controlplane/apiserver-metrics.ts");

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
}
const runs = arg("runs", 5);
const nodes = arg("nodes", 200);
const refreshes = arg("refreshes", 30);
const CLI = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));
if (!existsSync(CLI)) {
  console.error("dist/cli/main.js is missing: run `npm run build` first");
  process.exit(1);
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const rssMb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const recorded = readFileSync(RECORDED_METRICS_FILE, "utf8");
const api = await startTestApiServer({ validation: "off", tokens: { bench: { user: "bench", groups: ["system:masters"] } } });
for (let i = 0; i < nodes; i++) {
  api.store.create({ apiVersion: "v1", kind: "Node", metadata: { name: `node-${i}` }, status: { conditions: [{ type: "Ready", status: "True" }] } });
  api.store.create({ apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name: `node-${i}`, namespace: "kube-node-lease" }, spec: { renewTime: microTime(new Date()) } });
}
const dir = mkdtempSync(join(tmpdir(), "controlplane-bench-"));
const kubeconfig = api.writeKubeconfig(dir, { token: "bench" });

function timeReport() {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [CLI, "controlplane", "report", "--kubeconfig", kubeconfig, "-o", "json"], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (d) => (err += d));
    child.on("exit", (code) => (code === 0 || code === 1 ? resolve(performance.now() - t0) : reject(new Error(`report exited ${code}: ${err}`))));
  });
}

// 1. report: recorded /metrics vs empty /metrics, alternating.
const withMetrics = [];
const without = [];
for (let i = 0; i < runs + 1; i++) {
  api.metrics.setMetrics(undefined);
  const a = await timeReport();
  api.metrics.setMetrics("");
  const b = await timeReport();
  if (i > 0) {
    withMetrics.push(a);
    without.push(b);
  }
}
api.metrics.setMetrics(undefined);

// 2. the parse alone, in this process.
const parse = (keep) => {
  const t0 = performance.now();
  parseMetricsText(recorded, "bench", Date.now(), keep);
  return performance.now() - t0;
};
const split = () => {
  const t0 = performance.now();
  let n = 0;
  for (const l of recorded.split("\n")) n += l.length > 0 ? 1 : 0;
  if (n === 0) throw new Error("empty");
  return performance.now() - t0;
};
// Warm-up (JIT), not counted.
for (let i = 0; i < 2; i++) {
  parse(REPORT_FAMILIES);
  parse(SERVE_FAMILIES);
  split();
}
const parseReport = [];
const parseServe = [];
const splits = [];
for (let i = 0; i < runs; i++) {
  parseReport.push(parse(REPORT_FAMILIES));
  parseServe.push(parse(SERVE_FAMILIES));
  splits.push(split());
}

// 3. serve RSS beside bare Node.
const serve = spawn(process.execPath, [CLI, "controlplane", "serve", "--kubeconfig", kubeconfig, "--port", "0", "--host", "127.0.0.1", "--interval", "1s", "--log-level", "warn"], { stdio: "ignore" });
const bare = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
await sleep(3000);
const serveRss = [];
const bareRss = [];
for (let i = 0; i < refreshes; i++) {
  await sleep(1000);
  serveRss.push(rssMb(serve.pid));
  bareRss.push(rssMb(bare.pid));
}
serve.kill("SIGTERM");
bare.kill("SIGTERM");
await api.close();
rmSync(dir, { recursive: true, force: true });

const r = (x) => Math.round(x * 10) / 10;
console.log(
  JSON.stringify(
    {
      loadavg: loadavg().map(r),
      metricsBytes: recorded.length,
      nodes,
      report: { withRecordedMetricsMsMedian: r(median(withMetrics)), emptyMetricsMsMedian: r(median(without)), ratio: r(median(withMetrics) / median(without)) },
      parse: {
        reportFamiliesMsMedian: r(median(parseReport)),
        serveFamiliesMsMedian: r(median(parseServe)),
        lineSplitMsMedian: r(median(splits)),
        reportVsSplit: r(median(parseReport) / median(splits)),
        serveVsSplit: r(median(parseServe) / median(splits)),
      },
      serveRssMb: { median: r(median(serveRss)), max: r(Math.max(...serveRss)), bareNodeMedian: r(median(bareRss)), ratio: r(median(serveRss) / median(bareRss)) },
    },
    null,
    2,
  ),
);
