#!/usr/bin/env node
// RSS cost of our Kubernetes client: bare node vs node + prom-client vs node + prom-client +
// KubeClient after one real GET over loopback HTTP. Each variant runs in a fresh process
// (median of --runs), memory read after a forced GC and a short settle.
// Usage: npm run build && node bench/kube-client-rss.mjs [--runs 5] [--client dist/core/kube/index.js]
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { runs: { type: "string", default: "5" }, client: { type: "string", default: "dist/core/kube/index.js" } } });
const runs = Number(values.runs);
const clientUrl = pathToFileURL(resolve(values.client)).href;
const promUrl = import.meta.resolve("prom-client");

const settle = `await new Promise((r) => setTimeout(r, 200)); globalThis.gc(); globalThis.gc(); await new Promise((r) => setTimeout(r, 50));`;
const report = `console.log(JSON.stringify({ rss: process.memoryUsage().rss, heapUsed: process.memoryUsage().heapUsed }));`;
const withProm = `const prom = await import(${JSON.stringify(promUrl)}); const reg = new prom.Registry(); prom.collectDefaultMetrics({ register: reg }); await reg.metrics();`;

const dir = mkdtempSync(join(tmpdir(), "kube-rss-"));
const server = createServer((req, res) => {
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify({ apiVersion: "v1", kind: "Pod", metadata: { name: "p", namespace: "default", resourceVersion: "1" }, spec: { containers: [{ name: "c", image: "x" }] } }));
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const kubeconfig = join(dir, "kubeconfig.yaml");
writeFileSync(
  kubeconfig,
  JSON.stringify({
    clusters: [{ name: "c", cluster: { server: `http://127.0.0.1:${server.address().port}` } }],
    users: [{ name: "u", user: { token: "t" } }],
    contexts: [{ name: "x", context: { cluster: "c", user: "u" } }],
    "current-context": "x",
  }),
);
const withClient = `const { KubeClient, PODS } = await import(${JSON.stringify(clientUrl)}); const kube = await KubeClient.load({ kubeconfig: ${JSON.stringify(kubeconfig)} }); await kube.get(PODS, "p", "default");`;

// In a pod the config comes from the service-account mount: no YAML parser gets loaded.
const withClientNoYaml = `const { KubeClient, PODS } = await import(${JSON.stringify(clientUrl)}); const kube = new KubeClient({ server: "http://127.0.0.1:${server.address().port}", token: "t", namespace: "default", insecureSkipTlsVerify: false, source: "bench", inCluster: true }); await kube.get(PODS, "p", "default");`;

const variants = {
  "node (bare)": `${settle} ${report}`,
  "node + prom-client": `${withProm} ${settle} ${report}`,
  "node + prom-client + KubeClient (after a GET)": `${withProm} ${withClient} ${settle} ${report} kube.close();`,
  "  same, config without YAML (as in-cluster)": `${withProm} ${withClientNoYaml} ${settle} ${report} kube.close();`,
};

function measure(code) {
  // Asynchronous child: the loopback server in this process must keep answering.
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, ["--expose-gc", "--input-type=module", "-e", code], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("close", (status) => (status === 0 ? resolveRun(JSON.parse(out)) : reject(new Error(`child exited ${status}`))));
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = {};
for (let i = 0; i < runs; i++) {
  // Interleave variants so machine noise hits all of them alike.
  for (const [name, code] of Object.entries(variants)) (results[name] ??= []).push((await measure(code)).rss);
}
server.close();
rmSync(dir, { recursive: true, force: true });


const base = median(results["node (bare)"]);
const mb = (b) => (b / 1024 / 1024).toFixed(1);
console.log(`RSS, median of ${runs} fresh processes (node ${process.version}):`);
for (const [name, xs] of Object.entries(results)) {
  const m = median(xs);
  console.log(`  ${name.padEnd(48)} ${mb(m).padStart(6)} MB  x${(m / base).toFixed(2)} of bare  (+${mb(m - base)} MB)`);
}
const prom = median(results["node + prom-client"]);
const full = median(results["node + prom-client + KubeClient (after a GET)"]);
console.log(`  KubeClient adds ${mb(full - prom)} MB over node + prom-client (x${(full / prom).toFixed(2)})`);
