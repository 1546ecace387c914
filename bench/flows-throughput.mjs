#!/usr/bin/env node
// Throughput and memory of the `flows` pipeline on one core (single thread):
//   line splitting + JSON.parse + Tetragon parsing + enrichment from the metadata cache +
//   aggregation into bounded series tables, beside a baseline of splitting + bare JSON.parse of
//   the same lines measured in the same run.
//
//   npm run build && node bench/flows-throughput.mjs [--events 1000000] [--flows 10000] [--rss-events 2000000]
//
// Scenarios (each in its own child process so RSS is its own):
//   throughput: --events Tetragon tcp_sendmsg/tcp_recvmsg/tcp_connect lines over --flows distinct
//               socket flows between 10k cached pods (1000 Deployments, one process each) and
//               1000 backends;
//   cold:       the same lines, but every event from a process never seen before (the parser's
//               head cache cannot help: its worst case);
//   rss-10k / rss-100k: --rss-events over 10k / 100k distinct source workloads (default --max-series
//               10000, so the 100k run is capped); RSS after a forced GC every 20% of the run and at its end.
// Only processing is timed: input lines are generated in 4 MiB batches outside the timed region.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const DIST = fileURLToPath(new URL("../dist/", import.meta.url));
if (!existsSync(`${DIST}flows/processor.js`)) {
  console.error("dist/flows is missing: run `npm run build` first");
  process.exit(1);
}
function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
}

// Tetragon's exec_id is base64("node:ktime:pid"): unique per process. Each pod runs its own process.
const execId = (n) => Buffer.from(`node-a:${13665822624856 + n}:${68790 + (n % 4000000)}`).toString("base64");
const PROCESS = JSON.stringify({ exec_id: "EXEC_ID", pid: 68790, uid: 1000, cwd: "/", binary: "/usr/local/bin/app", arguments: "--port 8080", flags: "execve rootcwd clone", start_time: "2026-01-01T03:16:18.273546829Z", auid: 4294967295 }).slice(0, -1);
const PARENT = JSON.stringify({ exec_id: "Z2tlLW1pY2hpLTIyMDM4LWRlZmF1bHQtcG9vbC00MzczMGZhYi1sOHpyOjEzNjYwNDgwNjUxNTk1OjY4NTk4", pid: 68598, uid: 0, cwd: "/run/containerd/io.containerd.runtime.v2.task/k8s.io/c97e298d5d4485f4710d3837b7d689aba6078e0c008af713053ac361cd8b0018", binary: "/usr/bin/containerd-shim-runc-v2", flags: "execve clone", start_time: "2026-01-01T03:16:12.931574263Z", auid: 4294967295 });
const FNS = ["tcp_sendmsg", "tcp_sendmsg", "tcp_recvmsg", "tcp_recvmsg", "tcp_connect"];

/** A modern Tetragon kprobe line (~1.3 KB, process + parent as Tetragon exports them). */
// Built per line, not cached: a cache of 100k process objects would sit in this process's RSS,
// which the rss scenarios measure.
const processJson = (n) => PROCESS.replace("EXEC_ID", execId(n));

function line(i, flow, ns, podName, workload, saddr, daddr, sport, proc) {
  const fn = FNS[i % FNS.length];
  const size = fn === "tcp_connect" ? "" : `,{"int_arg":${(i * 7) % 1460 + 1}}`;
  return (
    `{"process_kprobe":{"process":${processJson(proc)},"pod":{"namespace":"${ns}","name":"${podName}","container":{"id":"containerd://19a02291e106ce6227b684197be232ea57c4e1a5ab2604a12608c325d701c7f4","name":"app","image":{"id":"docker.io/library/app@sha256:8e86f744bfea165fd4ce68caa05abc96500f40130b857773186401926af7e9e6","name":"docker.io/library/app:1.2.3"},"start_time":"2026-01-01T03:16:18Z","pid":1},"pod_labels":{"app":"${workload}"},"workload":"${workload}","workload_kind":"Deployment"},"docker":"19a02291e106ce6227b684197be232e","parent_exec_id":"x","refcnt":1,"tid":68790},` +
    `"parent":${PARENT},"function_name":"${fn}","args":[{"sock_arg":{"family":"AF_INET","type":"SOCK_STREAM","protocol":"IPPROTO_TCP","saddr":"${saddr}","daddr":"${daddr}","sport":${sport},"dport":8080}}${size}],"action":"KPROBE_ACTION_POST","policy_name":"connect"},"node_name":"node-a","time":"2026-01-01T00:00:00.${String(flow % 1e9).padStart(9, "0")}Z"}\n`
  );
}

const ip = (base, n) => `${base}.${(n >> 8) & 255}.${n & 255}`;

async function child(scenario, events, flows) {
  const { FlowProcessor } = await import(`${DIST}flows/processor.js`);
  const { Enricher } = await import(`${DIST}flows/enrich.js`);
  const { LineSplitter } = await import(`${DIST}flows/lines.js`);
  const { MetadataIndex } = await import(`${DIST}core/kube-metadata/metadata-index.js`);
  const { Registry } = await import("prom-client");

  let resolver;
  let gen;
  if (scenario === "throughput" || scenario === "cold") {
    const ix = new MetadataIndex();
    const PODS = 10_000;
    const BACKENDS = 1000;
    for (let d = 0; d < 1000; d++) ix.apply("replicasets", "add", { metadata: { namespace: `ns${d % 50}`, name: `dep${d}-5c7d8`, ownerReferences: [{ kind: "Deployment", name: `dep${d}`, controller: true }] } });
    for (let p = 0; p < PODS; p++) {
      const d = p % 1000;
      ix.apply("pods", "add", { metadata: { namespace: `ns${d % 50}`, name: `pod${p}`, ownerReferences: [{ kind: "ReplicaSet", name: `dep${d}-5c7d8`, controller: true }] }, spec: { nodeName: "node-a" }, status: { phase: "Running", podIP: ip("10.1", p) } });
    }
    for (let b = 0; b < BACKENDS; b++) {
      ix.apply("pods", "add", { metadata: { namespace: "backend", name: `be${b}`, ownerReferences: [{ kind: "StatefulSet", name: `be${b % 100}`, controller: true }] }, status: { phase: "Running", podIP: ip("10.2", b) } });
      ix.apply("endpointslices", "add", { metadata: { namespace: "backend", name: `svc${b}-x`, labels: { "kubernetes.io/service-name": `svc${b % 100}` } }, endpoints: [{ addresses: [ip("10.2", b)] }], ports: [{ port: 8080 }] });
    }
    resolver = { ready: true, get version() { return ix.version; }, lookup: (a) => ix.lookup(a), lookupPod: (n, p) => ix.lookupPod(n, p), serviceFor: (a, p) => ix.serviceFor(a, p) };
    gen = (i) => {
      const f = i % flows;
      const p = f % PODS;
      const d = p % 1000;
      return line(i, f, `ns${d % 50}`, `pod${p}`, `dep${d}`, ip("10.1", p), ip("10.2", f % BACKENDS), 30000 + (f % 30000), scenario === "cold" ? 10_000_000 + i : p);
    };
  } else {
    // Distinct source workloads, no cluster: every flow is its own series until --max-series.
    gen = (i) => {
      const f = i % flows;
      return line(i, f, `ns${f % 100}`, `w${f}-5c7d8b9f6-x2z4w`, `w${f}`, ip("10.1", f), "93.184.216.34", 40000, f);
    };
  }
  const proc = new FlowProcessor({ registry: new Registry(), enricher: new Enricher(resolver), maxSeries: 10_000, podLabels: false, flowsOut: false });
  let invalid = 0;
  const full = new LineSplitter(1 << 20, { line: (t) => { if (proc.handleLine("tetragon", t)) invalid++; }, tooLong: () => invalid++ });
  let parsed = 0;
  const base = new LineSplitter(1 << 20, { line: (t) => { if (JSON.parse(t)) parsed++; }, tooLong: () => {} });

  const BATCH = 3000;
  let fullMs = 0;
  let baseMs = 0;
  let bytes = 0;
  // One input buffer, reused like FileFollower's read buffer: a fresh multi-MiB Buffer per batch
  // would measure glibc malloc keeping freed batches (its mmap threshold adapts upwards), which
  // inflated RSS by 30–90 MiB in the runs that generated more distinct strings.
  const input = Buffer.allocUnsafe(BATCH * 4096);
  const rssSamples = [];
  for (let start = 0; start < events; start += BATCH) {
    let s = "";
    for (let i = start; i < Math.min(events, start + BATCH); i++) s += gen(i);
    const buf = input.subarray(0, input.write(s));
    bytes += buf.length;
    // Alternate the order so that neither side always runs on a warmer cache.
    // RSS over the run (after a forced GC, outside the timed region): flat once the cap is reached?
    if (scenario === "rss" && start > 0 && start % (BATCH * Math.ceil(events / BATCH / 5)) === 0) {
      globalThis.gc?.();
      rssSamples.push(Math.round(process.memoryUsage().rss / 2 ** 20));
    }
    const first = (start / BATCH) % 2 === 0;
    for (const which of first ? ["base", "full"] : ["full", "base"]) {
      const t0 = performance.now();
      if (which === "base") base.push(buf);
      else full.push(buf);
      const dt = performance.now() - t0;
      if (which === "base") baseMs += dt;
      else fullMs += dt;
    }
  }
  globalThis.gc?.();
  const rssMiB = process.memoryUsage().rss / 2 ** 20;
  const heapMiB = process.memoryUsage().heapUsed / 2 ** 20;
  return {
    scenario,
    events,
    flows,
    avgLineBytes: Math.round(bytes / events),
    invalid,
    series: proc.tcp.rows.size + (proc.tcp.overflowRow ? 1 : 0),
    fullEventsPerSec: Math.round(events / (fullMs / 1000)),
    baselineJsonParsePerSec: Math.round(parsed / (baseMs / 1000)),
    rssMiB: Math.round(rssMiB),
    rssSamplesMiB: [...rssSamples, Math.round(rssMiB)],
    heapMiB: Math.round(heapMiB),
    headHits: proc.tetragon.headHits,
  };
}

if (process.argv.includes("--child")) {
  const r = await child(arg("child"), Number(arg("events")), Number(arg("flows")));
  process.stdout.write(JSON.stringify(r) + "\n");
} else {
  const events = Number(arg("events", "1000000"));
  const flows = Number(arg("flows", "10000"));
  const rssEvents = Number(arg("rss-events", "2000000"));
  const run = (scenario, f, n = events) => {
    const r = spawnSync(process.execPath, ["--expose-gc", fileURLToPath(import.meta.url), "--child", scenario, "--events", String(n), "--flows", String(f)], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
    if (r.status !== 0) throw new Error(`${scenario} failed (${r.status})`);
    return JSON.parse(r.stdout);
  };
  const t = run("throughput", flows);
  console.log(`throughput: ${t.events} events over ${t.flows} flows (${t.avgLineBytes} B/line, ${t.series} series): ${t.fullEventsPerSec} events/s parsed+enriched+aggregated vs ${t.baselineJsonParsePerSec}/s bare JSON.parse = ${(t.fullEventsPerSec / t.baselineJsonParsePerSec).toFixed(2)}x baseline; invalid=${t.invalid}`);
  const c = run("cold", flows);
  console.log(`worst case, every event from a new process (no head to reuse): ${c.fullEventsPerSec} events/s vs ${c.baselineJsonParsePerSec}/s bare JSON.parse = ${(c.fullEventsPerSec / c.baselineJsonParsePerSec).toFixed(2)}x baseline; invalid=${c.invalid}`);
  const small = run("rss", 10_000, rssEvents);
  const large = run("rss", 100_000, rssEvents);
  console.log(`rss (${rssEvents} events, sampled every 20% after a GC): 10k flows → ${small.series} series, RSS ${small.rssSamplesMiB.join(" → ")} MiB (heap ${small.heapMiB}); 100k flows → ${large.series} series (capped), RSS ${large.rssSamplesMiB.join(" → ")} MiB (heap ${large.heapMiB}); final ratio ${(large.rssMiB / small.rssMiB).toFixed(2)}`);
  console.log(JSON.stringify({ throughput: t, cold: c, rss10k: small, rss100k: large }));
}
