#!/usr/bin/env node
// RSS of the real `flows` process (the CLI, as deployed) while it follows a Tetragon export file
// that a generator process appends --events kprobe events to, over --flows distinct source
// workloads (each its own process and socket), capped at the default --max-series 10000. The
// flows process's VmRSS is read from /proc every 250 ms; events/s from its /metrics
// (events_total) every 5 s.
//
//   npm run build && node bench/flows-rss.mjs [--events 2000000] [--flows 100000] [--node-options "..."]
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

// --cli PATH: another build of main.js (e.g. the previous commit, for a before/after in one session).
const CLI = process.argv.includes("--cli") ? process.argv[process.argv.indexOf("--cli") + 1] : fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));
if (!existsSync(CLI)) {
  console.error("dist/ is missing: run `npm run build` first");
  process.exit(1);
}
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};

if (process.argv.includes("--generate")) {
  // The generator: lines as Tetragon ≥ 1.0 writes them (~1.3 KB, process + parent + pod).
  const events = Number(arg("events")); const flows = Number(arg("flows"));
  const PARENT = JSON.stringify({ exec_id: "Z2tlLW1pY2hpLTIyMDM4LWRlZmF1bHQtcG9vbC00MzczMGZhYi1sOHpyOjEzNjYwNDgwNjUxNTk1OjY4NTk4", pid: 68598, uid: 0, cwd: "/run/containerd/io.containerd.runtime.v2.task/k8s.io/c97e298d5d4485f4710d3837b7d689aba6078e0c008af713053ac361cd8b0018", binary: "/usr/bin/containerd-shim-runc-v2", flags: "execve clone", start_time: "2026-01-01T03:16:12.931574263Z", auid: 4294967295 });
  const FNS = ["tcp_sendmsg", "tcp_sendmsg", "tcp_recvmsg", "tcp_recvmsg", "tcp_connect"];
  const ip = (n) => `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
  const line = (i) => {
    const f = i % flows;
    const fn = FNS[i % FNS.length];
    const execId = Buffer.from(`node-a:${13665822624856 + f}:${68790 + f}`).toString("base64");
    const size = fn === "tcp_connect" ? "" : `,{"int_arg":${((i * 7) % 1460) + 1}}`;
    return `{"process_kprobe":{"process":{"exec_id":"${execId}","pid":${68790 + f},"uid":1000,"cwd":"/","binary":"/usr/local/bin/app","arguments":"--port 8080","flags":"execve rootcwd clone","start_time":"2026-01-01T03:16:18.273546829Z","auid":4294967295,"pod":{"namespace":"ns${f % 100}","name":"w${f}-5c7d8b9f6-x2z4w","container":{"id":"containerd://19a02291e106ce6227b684197be232ea57c4e1a5ab2604a12608c325d701c7f4","name":"app","image":{"id":"docker.io/library/app@sha256:8e86f744bfea165fd4ce68caa05abc96500f40130b857773186401926af7e9e6","name":"docker.io/library/app:1.2.3"},"start_time":"2026-01-01T03:16:18Z","pid":1},"pod_labels":{"app":"w${f}"},"workload":"w${f}","workload_kind":"Deployment"},"docker":"19a02291e106ce6227b684197be232e","parent_exec_id":"x","refcnt":1,"tid":${68790 + f}},"parent":${PARENT},"function_name":"${fn}","args":[{"sock_arg":{"family":"AF_INET","type":"SOCK_STREAM","protocol":"IPPROTO_TCP","saddr":"${ip(f)}","daddr":"93.184.216.34","sport":${40000 + (f % 20000)},"dport":443}}${size}],"action":"KPROBE_ACTION_POST","policy_name":"connect"},"node_name":"node-a","time":"2026-01-01T00:00:00Z"}\n`;
  };
  let i = 0;
  process.stdout.on("error", () => process.exit(0)); // the reader went away
  const write = () => {
    while (i < events) {
      let s = "";
      for (const end = Math.min(events, i + 500); i < end; i++) s += line(i);
      if (!process.stdout.write(s)) return process.stdout.once("drain", write);
    }
    process.stdout.end();
  };
  write();
} else {
  const events = Number(arg("events", "2000000"));
  const flows = arg("flows", "100000");
  const nodeOptions = arg("node-options", "");
  const rssOf = (pid) => {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      return m ? Number(m[1]) / 1024 : undefined;
    } catch {
      return undefined;
    }
  };
  const dir = mkdtempSync(join(tmpdir(), "flows-rss-"));
  const file = join(dir, "tetragon.log");
  // The agent: appends to the export file while flows follows it, as in a DaemonSet.
  const gen = spawn(process.execPath, [fileURLToPath(import.meta.url), "--generate", "--events", String(events), "--flows", flows], { stdio: ["ignore", openSync(file, "w"), "inherit"] });
  const env = { ...process.env, ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}) };
  const c = spawn(process.execPath, [CLI, "flows", "--tetragon", file, "--from-start", "--no-kube", "--port", "0", "--host", "127.0.0.1", "--auth", "none", "--poll-interval", "50ms"], { stdio: ["ignore", "ignore", "pipe"], env });
  let stderr = "";
  c.stderr.on("data", (d) => (stderr += d));
  const samples = [];
  const rates = [];
  let last;
  const t0 = Date.now();
  let port;
  let tick = 0;
  // RSS every 250 ms; events/s from /metrics every 5 s (a scrape renders 30k series: Prometheus' rate, not more).
  await new Promise((resolve, reject) => {
    c.on("exit", (code) => reject(new Error(`flows exited ${code}: ${stderr.slice(-500)}`)));
    const timer = setInterval(async () => {
      const r = rssOf(c.pid);
      if (r !== undefined) samples.push(r);
      port ??= /"port":(\d+),"msg":"listening"/.exec(stderr)?.[1];
      if (!port || tick++ % 20 !== 0) return;
      try {
        const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        const n = text.split("\n").filter((l) => l.startsWith("watch_auditor_flows_events_total{")).reduce((s, l) => s + Number(l.slice(l.lastIndexOf(" ") + 1)), 0);
        const now = Date.now();
        if (last && n > last.n) rates.push({ at: now - t0, perSec: ((n - last.n) * 1000) / (now - last.t) });
        last = { n, t: now };
        if (n >= events) {
          clearInterval(timer);
          resolve();
        }
      } catch {
        /* busy: next time */
      }
    }, 250);
  });
  c.removeAllListeners("exit");
  c.kill("SIGTERM");
  gen.kill();
  const pct = (a, q) => [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(q * a.length))];
  const seconds = (Date.now() - t0) / 1000;
  // Steady state: the second half of the run (the series cap is reached within the first 100k flows).
  const steady = rates.filter((r) => r.at > (seconds * 1000) / 2).map((r) => r.perSec);
  const late = samples.slice(Math.floor(samples.length / 2));
  console.log(`flows-rss: ${events} events over ${flows} distinct workloads, --max-series 10000, file followed${nodeOptions ? `, NODE_OPTIONS=${nodeOptions}` : ""}`);
  console.log(`  RSS over the run: median ${pct(samples, 0.5).toFixed(0)} MiB, p95 ${pct(samples, 0.95).toFixed(0)}, max ${pct(samples, 1).toFixed(0)}; second half: median ${pct(late, 0.5).toFixed(0)}, max ${pct(late, 1).toFixed(0)} MiB (${samples.length} samples over ${seconds.toFixed(0)} s)`);
  console.log(`  events/s (5 s samples, second half): median ${Math.round(pct(steady, 0.5))}, min ${Math.round(pct(steady, 0))} (with the generator on the other core)`);
  rmSync(dir, { recursive: true, force: true });
}
