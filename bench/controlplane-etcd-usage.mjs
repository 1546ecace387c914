#!/usr/bin/env node
// `controlplane etcd-usage` on an etcd holding >= 200k keys (~1 GB of values) (issue 12 item 5):
// scan keys/s, the scanner's peak RSS (/usr/bin/time %M), and etcd's request latency (p50/p99 of
// a small serializable get every 10 ms from this process, on its own connection) idle vs during
// each scan, all in the same run. Baseline: the same paged scan with the etcd3 client decoding
// every page (values as Buffers, dropped), as a plain script would do it.
//
// Usage: npm run build && node bench/controlplane-etcd-usage.mjs [KEYS=200000] [--fresh]
// Each scan has its own 4 s idle window just before it; ratios are given against that window and
// against the quietest idle window of the run (the machine's own noise moves the idle p99).
// The etcd data dir lives in bench/out/etcd-usage-<KEYS>/ and is reused between runs (filling takes
// a few minutes); --fresh removes it first.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Etcd3 } from "etcd3";
import { createServer } from "node:net";
import { openSync } from "node:fs";

const root = fileURLToPath(new URL("..", import.meta.url));
const cli = join(root, "dist/cli/main.js");

// Child mode: the baseline scanner (etcd3 client, kv.range pages with values).
if (process.argv[2] === "--etcd3-scan") {
  const [, , , url, prefix, pageSize] = process.argv;
  const c = new Etcd3({ hosts: url, grpcOptions: { "grpc.max_receive_message_length": 64 << 20 } });
  const end = Buffer.from(prefix);
  end[end.length - 1]++;
  let key = Buffer.from(prefix);
  let keys = 0;
  let bytes = 0;
  const t0 = performance.now();
  for (;;) {
    const r = await c.kv.range({ key, range_end: end, limit: Number(pageSize), serializable: true });
    for (const kv of r.kvs) {
      keys++;
      bytes += kv.value.length;
    }
    if (!r.more) break;
    key = Buffer.concat([r.kvs[r.kvs.length - 1].key, Buffer.from([0])]);
  }
  const ms = performance.now() - t0;
  c.close();
  process.stdout.write(JSON.stringify({ keys, bytes, durationMs: Math.round(ms) }) + "\n");
  process.exit(0);
}

if (!existsSync(cli)) throw new Error("run `npm run build` first");
const KEYS = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 200_000);
const dataDir = join(root, `bench/out/etcd-usage-${KEYS}`);
if (process.argv.includes("--fresh")) rmSync(dataDir, { recursive: true, force: true });
mkdirSync(dataDir, { recursive: true });

// ---- etcd on free ports with the persistent data dir
async function freePort() {
  const srv = createServer();
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}
const [clientPort, peerPort] = [await freePort(), await freePort()];
const url = `http://127.0.0.1:${clientPort}`;
const peer = `http://127.0.0.1:${peerPort}`;
const etcd = spawn("/usr/bin/etcd", [
  "--name", "bench", "--data-dir", dataDir,
  "--listen-client-urls", url, "--advertise-client-urls", url,
  "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
  "--initial-cluster", `bench=${peer}`, "--initial-cluster-state", "new",
  "--quota-backend-bytes", String(8 * 1024 ** 3), "--log-level", "warn", "--logger", "zap", "--log-outputs", "stderr",
  "--election-timeout", "1000", "--heartbeat-interval", "100",
], { stdio: ["ignore", "ignore", openSync(join(root, "bench/out/etcd-usage-etcd.log"), "w")] });
const stopEtcd = () => { if (etcd.exitCode === null) etcd.kill("SIGTERM"); };
process.on("exit", stopEtcd);
for (let i = 0; ; i++) {
  try {
    const r = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
    if ((await r.json()).health === "true") break;
  } catch { /* not yet */ }
  if (i > 300) throw new Error("etcd did not become healthy");
  await new Promise((r) => setTimeout(r, 100));
}
const client = new Etcd3({ hosts: url, grpcOptions: { "grpc.use_local_subchannel_pool": 1 } });

// ---- fill (once per data dir): Kubernetes-shaped keys, value sizes 1000..9000 B (mean ~5 KB)
const RESOURCES = [
  ["events", 30], ["pods", 20], ["configmaps", 15], ["secrets", 10], ["replicasets", 10],
  ["leases", 5], ["example.com/widgets", 5], ["deployments", 5],
];
const NAMESPACES = 200;
const marker = "/bench/filled";
const spec = JSON.stringify({ keys: KEYS, v: 1 });
const have = await client.get(marker).string();
if (have !== spec) {
  const t0 = performance.now();
  const weights = RESOURCES.reduce((s, [, w]) => s + w, 0);
  const keyOf = (i) => {
    let x = (i * 37) % weights;
    let r = RESOURCES[0][0];
    for (const [name, w] of RESOURCES) { if (x < w) { r = name; break; } x -= w; }
    return `/registry/${r}/ns-${String(i % NAMESPACES).padStart(3, "0")}/obj-${String(i).padStart(7, "0")}`;
  };
  const sizeOf = (i) => 1000 + ((i * 7919) % 8001);
  const fillBuf = Buffer.alloc(9001, 0x61);
  const PER_TXN = 100;
  const CONCURRENCY = 8;
  let next = 0;
  let done = 0;
  async function worker() {
    for (;;) {
      const start = next;
      next += PER_TXN;
      if (start >= KEYS) return;
      const success = [];
      for (let i = start; i < Math.min(KEYS, start + PER_TXN); i++) success.push({ request_put: { key: Buffer.from(keyOf(i)), value: fillBuf.subarray(0, sizeOf(i)) } });
      await client.kv.txn({ compare: [], success, failure: [] });
      done += success.length;
      if (done % 20_000 < PER_TXN) process.stderr.write(`\rfilled ${done}/${KEYS}`);
    }
  }
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  for (let i = 0; i < NAMESPACES; i++) await client.put(`/registry/namespaces/ns-${String(i).padStart(3, "0")}`).value(fillBuf.subarray(0, 400));
  await client.put(marker).value(spec);
  process.stderr.write(`\rfilled ${KEYS} keys in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
}
const status = await client.maintenance.status();
process.stderr.write(`etcd ${status.version}: db ${(Number(status.dbSize) / 2 ** 20).toFixed(0)} MiB\n`);

// ---- the latency probe: a small serializable get every 10 ms, recorded into the open windows
const windows = new Set();
const probeKey = Buffer.from("/registry/");
let inFlight = false;
const timer = setInterval(async () => {
  if (inFlight || windows.size === 0) return;
  inFlight = true;
  const open = [...windows];
  const t = performance.now();
  try {
    await client.kv.range({ key: probeKey, serializable: true, keys_only: true });
    for (const w of open) w.push(performance.now() - t);
  } catch {
    for (const w of open) w.failures = (w.failures ?? 0) + 1;
  }
  inFlight = false;
}, 10);
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s.length ? +s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)].toFixed(2) : null; };
const summary = (w) => ({ samples: w.length, p50Ms: pct(w, 0.5), p99Ms: pct(w, 0.99), failures: w.failures ?? 0 });
async function idleWindow(ms) {
  const w = [];
  windows.add(w);
  await new Promise((r) => setTimeout(r, ms));
  windows.delete(w);
  return summary(w);
}

/** Runs node under /usr/bin/time (peak RSS), probing etcd meanwhile when `probe`. */
function measured(args, probe = true) {
  process.stderr.write(`running node ${args.slice(0, 6).join(" ")}\n`);
  return new Promise((resolve) => {
    const w = [];
    if (probe) windows.add(w);
    const t0 = performance.now();
    const child = spawn("/usr/bin/time", ["-f", "%M", process.execPath, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("close", (code) => {
      windows.delete(w);
      const lines = err.trim().split("\n");
      resolve({ code, stdout: out, stderr: lines.slice(0, -1).join("\n"), peakRssMB: Math.round(Number(lines.at(-1)) / 1024), wallMs: Math.round(performance.now() - t0), probe: summary(w) });
    });
  });
}

const load0 = loadavg()[0];
// The machine's own noise moves the idle p99 a lot: an idle window right before each scan, and the
// quietest idle window of the run, are both reported as baselines.
const idles = [];
const idleBefore = async () => {
  const w = await idleWindow(4000);
  idles.push(w);
  return w;
};
const idle = await idleBefore();
const results = {};
const base = await measured([fileURLToPath(import.meta.url), "--etcd3-scan", url, "/registry/", "1000"]);
const b = JSON.parse(base.stdout);
results.baseline_etcd3_page1000 = { keys: b.keys, valueBytes: b.bytes, keysPerSecond: Math.round((b.keys * 1000) / b.durationMs), peakRssMB: base.peakRssMB, idleBefore: idle, probeDuring: base.probe, p99DuringOverIdleBefore: +(base.probe.p99Ms / idle.p99Ms).toFixed(2) };
const runs = [
  ["cli_defaults", []],
  ["cli_unthrottled_page1000", ["--max-keys-per-second", "1000000", "--page-size", "1000"]],
  ["cli_gentle_5000_per_s", ["--max-keys-per-second", "5000"]],
];
for (const [name, extra] of runs) {
  const before = await idleBefore();
  const r = await measured([cli, "controlplane", "etcd-usage", "--etcd-endpoints", url, "-o", "json", ...extra]);
  if (r.code !== 0) throw new Error(`${name}: exit ${r.code}: ${r.stderr}`);
  const u = JSON.parse(r.stdout);
  results[name] = {
    args: extra.join(" ") || "(defaults: --page-size 500 --max-keys-per-second 20000)",
    keys: u.scannedKeys, valueBytes: u.scannedBytes, complete: u.complete, keysPerSecond: u.keysPerSecond, scanMs: u.durationMs,
    peakRssMB: r.peakRssMB, idleBefore: before, probeDuring: r.probe, p99DuringOverIdleBefore: +(r.probe.p99Ms / before.p99Ms).toFixed(2),
    selfReported: u.latency, topResource: u.resources[0],
  };
}
const idleAfter = await idleBefore();
const quietest = Math.min(...idles.map((w) => w.p99Ms));
for (const r of Object.values(results)) r.p99DuringOverQuietestIdle = +(r.probeDuring.p99Ms / quietest).toFixed(2);
const bareR = await measured(["-e", ""], false);
const etcd3R = await measured(["--input-type=module", "-e", "await import('etcd3')"], false);
clearInterval(timer);
client.close();
const du = spawnSync("du", ["-sh", "node_modules/etcd3", "node_modules/@grpc", "node_modules/protobufjs", "node_modules/cockatiel"], { cwd: root, encoding: "utf8" }).stdout.trim().split("\n").map((l) => l.replace("\t", " "));

const cliDef = results.cli_defaults;
const cliFast = results.cli_unthrottled_page1000;
console.log(JSON.stringify({
  etcd: { version: status.version, dbSizeBytes: Number(status.dbSize), keys: cliFast.keys, valueBytes: cliFast.valueBytes },
  loadAverage1m: { before: +load0.toFixed(2), after: +loadavg()[0].toFixed(2) },
  idleWindowsP99Ms: idles.map((w) => w.p99Ms), quietestIdleP99Ms: quietest, idleAfter,
  ...results,
  ratios: {
    unthrottledKeysPerSecondVsEtcd3Baseline: +(cliFast.keysPerSecond / results.baseline_etcd3_page1000.keysPerSecond).toFixed(2),
    unthrottledRssVsEtcd3Baseline: +(cliFast.peakRssMB / results.baseline_etcd3_page1000.peakRssMB).toFixed(2),
  },
  targets: {
    keysPerSecondAtLeast50k: cliFast.keysPerSecond >= 50_000,
    rssAtMost100MB: Math.max(cliDef.peakRssMB, cliFast.peakRssMB, results.cli_gentle_5000_per_s.peakRssMB) <= 100,
    p99DuringAtMost2xIdleBefore_defaults: cliDef.p99DuringOverIdleBefore <= 2,
    p99DuringAtMost2xIdleBefore_unthrottled: cliFast.p99DuringOverIdleBefore <= 2,
    p99DuringAtMost2xIdleBefore_gentle: results.cli_gentle_5000_per_s.p99DuringOverIdleBefore <= 2,
    p99DuringAtMost2xQuietestIdle_defaults: cliDef.p99DuringOverQuietestIdle <= 2,
  },
  cost: { bareNodePeakRssMB: bareR.peakRssMB, nodeImportingEtcd3PeakRssMB: etcd3R.peakRssMB, installSize: du },
}, null, 2));
stopEtcd();
process.exit(0);
