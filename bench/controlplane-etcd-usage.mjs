#!/usr/bin/env node
// `controlplane etcd-usage` on an etcd holding >= 200k keys (~1 GB of values) (issue 12 item 5):
// scan keys/s, the scanner's peak RSS (/usr/bin/time %M), and etcd's request latency (p50/p99 of
// a small serializable get every 10 ms from this process, on its own connection) idle vs during
// each scan, all in the same run. Baseline: the same paged scan with the etcd3 client decoding
// every page (values as Buffers, dropped), as a plain script would do it.
//
// Usage: npm run build && node bench/controlplane-etcd-usage.mjs [KEYS=200000] [--fresh] [--runs N]
//        [--base DIR]
// Each scan has its own 4 s idle window just before it; ratios are given against that window and
// against the quietest idle window of the run (the machine's own noise moves the idle p99).
// --runs N repeats every CLI scan N times (interleaved, so a busy minute hits all variants); the
// summary gives the median and range per variant. --base DIR also runs another build of the CLI
// (a checkout with its own `dist/`, e.g. the previous commit built in /tmp) the same way, for a
// before/after in one run on one etcd.
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
const flag = (name) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const RUNS = Number(flag("--runs") ?? 1);
const BASE = flag("--base");
if (!(RUNS >= 1)) throw new Error("--runs: a number >= 1");
const baseCli = BASE === undefined ? undefined : join(BASE, "dist/cli/main.js");
if (baseCli !== undefined && !existsSync(baseCli)) throw new Error(`--base: ${baseCli} does not exist (build it first)`);
const KEYS = Number(process.argv.slice(2).find((a, i, all) => /^\d+$/.test(a) && !["--runs", "--base"].includes(all[i - 1])) ?? 200_000);
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
const base = await measured([fileURLToPath(import.meta.url), "--etcd3-scan", url, "/registry/", "1000"]);
const b = JSON.parse(base.stdout);
const etcd3Baseline = { keys: b.keys, valueBytes: b.bytes, keysPerSecond: Math.round((b.keys * 1000) / b.durationMs), peakRssMB: base.peakRssMB, idleBefore: idle, probeDuring: base.probe, p99DuringOverIdleBefore: +(base.probe.p99Ms / idle.p99Ms).toFixed(2) };
const configs = [
  ["defaults", []],
  ["unthrottled_page1000", ["--max-keys-per-second", "1000000", "--page-size", "1000"]],
  ["gentle_5000_per_s", ["--max-keys-per-second", "5000"]],
];
const builds = [["cli", cli], ...(baseCli !== undefined ? [["base", baseCli]] : [])];
const runs = []; // every scan: { build, config, run, ... }
for (let run = 1; run <= RUNS; run++)
  for (const [config, extra] of configs)
    for (const [build, path] of run % 2 === 1 ? builds : [...builds].reverse()) {
      const before = await idleBefore();
      const r = await measured([path, "controlplane", "etcd-usage", "--etcd-endpoints", url, "-o", "json", ...extra]);
      if (r.code !== 0) throw new Error(`${build} ${config}: exit ${r.code}: ${r.stderr}`);
      const u = JSON.parse(r.stdout);
      runs.push({
        build, config, run, args: extra.join(" ") || "(defaults: --page-size 500 --max-keys-per-second 20000)",
        keys: u.scannedKeys, valueBytes: u.scannedBytes, complete: u.complete, keysPerSecond: u.keysPerSecond, scanMs: u.durationMs,
        peakRssMB: r.peakRssMB, idleBefore: before, probeDuring: r.probe, p99DuringOverIdleBefore: +(r.probe.p99Ms / before.p99Ms).toFixed(2),
        selfReported: u.latency, topResource: u.resources[0], loadAverage1m: +loadavg()[0].toFixed(2),
      });
    }
const idleAfter = await idleBefore();
const quietest = Math.min(...idles.map((w) => w.p99Ms));
for (const r of [etcd3Baseline, ...runs]) r.p99DuringOverQuietestIdle = +(r.probeDuring.p99Ms / quietest).toFixed(2);
const bareR = await measured(["-e", ""], false);
const etcd3R = await measured(["--input-type=module", "-e", "await import('etcd3')"], false);
clearInterval(timer);
client.close();
const du = spawnSync("du", ["-sh", "node_modules/etcd3", "node_modules/@grpc", "node_modules/protobufjs", "node_modules/cockatiel"], { cwd: root, encoding: "utf8" }).stdout.trim().split("\n").map((l) => l.replace("\t", " "));

const median = (xs) => { const s = [...xs].sort((x, y) => x - y); return s.length % 2 ? s[(s.length - 1) / 2] : +((s[s.length / 2 - 1] + s[s.length / 2]) / 2).toFixed(2); };
const spread = (xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs) });
const bySetup = {};
for (const [build] of builds)
  for (const [config] of configs) {
    const rs = runs.filter((r) => r.build === build && r.config === config);
    bySetup[`${build}_${config}`] = {
      runs: rs.length,
      keysPerSecond: spread(rs.map((r) => r.keysPerSecond)),
      peakRssMB: spread(rs.map((r) => r.peakRssMB)),
      p99DuringMs: spread(rs.map((r) => r.probeDuring.p99Ms)),
      p99DuringOverIdleBefore: spread(rs.map((r) => r.p99DuringOverIdleBefore)),
      p99DuringOverQuietestIdle: spread(rs.map((r) => r.p99DuringOverQuietestIdle)),
    };
  }
const s = (config) => bySetup[`cli_${config}`];
console.log(JSON.stringify({
  etcd: { version: status.version, dbSizeBytes: Number(status.dbSize), keys: runs[0].keys, valueBytes: runs[0].valueBytes },
  loadAverage1m: { before: +load0.toFixed(2), after: +loadavg()[0].toFixed(2) },
  idleWindowsP99Ms: idles.map((w) => w.p99Ms), quietestIdleP99Ms: quietest, idleAfter,
  baseline_etcd3_page1000: etcd3Baseline,
  ...(BASE !== undefined ? { base: BASE } : {}),
  summary: bySetup,
  ratios: {
    unthrottledKeysPerSecondVsEtcd3Baseline: +(s("unthrottled_page1000").keysPerSecond.median / etcd3Baseline.keysPerSecond).toFixed(2),
    unthrottledRssVsEtcd3Baseline: +(s("unthrottled_page1000").peakRssMB.median / etcd3Baseline.peakRssMB).toFixed(2),
    ...(BASE !== undefined
      ? Object.fromEntries(configs.flatMap(([c]) => [
          [`${c}_keysPerSecondVsBase`, +(s(c).keysPerSecond.median / bySetup[`base_${c}`].keysPerSecond.median).toFixed(2)],
          [`${c}_peakRssVsBase`, +(s(c).peakRssMB.median / bySetup[`base_${c}`].peakRssMB.median).toFixed(2)],
        ]))
      : {}),
  },
  targets: {
    keysPerSecondAtLeast50k_unthrottledMedian: s("unthrottled_page1000").keysPerSecond.median >= 50_000,
    rssAtMost100MB_everyRun: runs.filter((r) => r.build === "cli").every((r) => r.peakRssMB <= 100),
    p99DuringAtMost2xIdleBefore_defaultsMedian: s("defaults").p99DuringOverIdleBefore.median <= 2,
    p99DuringAtMost2xIdleBefore_unthrottledMedian: s("unthrottled_page1000").p99DuringOverIdleBefore.median <= 2,
    p99DuringAtMost2xIdleBefore_gentleMedian: s("gentle_5000_per_s").p99DuringOverIdleBefore.median <= 2,
  },
  cost: { bareNodePeakRssMB: bareR.peakRssMB, nodeImportingEtcd3PeakRssMB: etcd3R.peakRssMB, installSize: du },
  runs,
}, null, 2));
stopEtcd();
process.exit(0);
