#!/usr/bin/env node
// Idle footprint of `watch-auditor serve --every 30s` against the test API server with a
// healthy simulated controller, beside a bare Node process measured in the same run.
//
//   npm run build && node bench/auditor-idle.mjs [--duration 3m] [--warmup 15s] [--every 30s] [--node-options "--max-semi-space-size=1"]
//
// --node-options are given to the serve processes only; the default mirrors deploy/Dockerfile
// (a 1 MiB young-generation semi-space: ~5 MB less RSS for a process that allocates little).
// Pass --node-options "" to measure V8's defaults.
// Samples RSS (VmRSS) and CPU time (utime+stime) of both processes from /proc every second;
// prints median/max RSS and CPU % of one core over the window after warm-up.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { register } from "tsx/esm/api";

register();
const { parseDuration } = await import("../src/core/duration.ts");
const { startTestApiServer } = await import("../test/support/kube-apiserver/index.ts");
const { SimKubelet } = await import("../test/auditor/sim/kubelet.ts");
const { SimController } = await import("../test/auditor/sim/controller.ts");

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
}
const durationMs = parseDuration(arg("duration", "3m"));
const warmupMs = parseDuration(arg("warmup", "15s"));
const every = arg("every", "30s");
const nodeOptions = arg("node-options", "--max-semi-space-size=1").split(" ").filter(Boolean);
const CLI = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));
if (!existsSync(CLI)) {
  console.error("dist/cli/main.js is missing: run `npm run build` first");
  process.exit(1);
}
const TICK_HZ = 100; // USER_HZ on Linux

function sample(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
  return { rssMb: rssKb / 1024, cpuMs: (ticks * 1000) / TICK_HZ, at: Date.now() };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const api = await startTestApiServer();
const kubelet = new SimKubelet(api.store, { namespaces: ["neuvector", "neuvector-b"] });
const controller = new SimController(api.store, { mode: "healthy", namespace: "pepr-system" });
const dir = mkdtempSync(join(tmpdir(), "auditor-bench-"));
const kubeconfig = await api.writeKubeconfig(dir);

const serveArgs = (ns) => ["serve", "--every", every, "--kubeconfig", kubeconfig, "--port", "0", "--host", "127.0.0.1", "--leader-elect", "false", "--log-level", "error", "--canary-namespace", ns];
// 1) the real CLI entry (dist/cli/main.js), which today loads every command's modules;
// 2) the same `serve` command registered alone, i.e. what serve costs by itself.
const serve = spawn(process.execPath, [...nodeOptions, CLI, ...serveArgs("neuvector")], { stdio: ["ignore", "ignore", "inherit"] });
const SERVE_ONLY = `import { Command } from "commander"; import { register } from ${JSON.stringify(new URL("../dist/cli/serve.js", import.meta.url).href)};
const p = new Command("watch-auditor"); register(p); await p.parseAsync(process.argv.slice(1), { from: "user" });`;
const serveOnly = spawn(process.execPath, [...nodeOptions, "--input-type=module", "-e", SERVE_ONLY, "--", ...serveArgs("neuvector-b")], { stdio: ["ignore", "ignore", "inherit"], cwd: fileURLToPath(new URL("..", import.meta.url)) });
const bare = spawn(process.execPath, ["-e", "setInterval(()=>{},1e9)"], { stdio: "ignore" });

const samples = { serve: [], serveOnly: [], bare: [] };
process.on("exit", () => {
  for (const c of [serve, serveOnly, bare]) if (c.exitCode === null) c.kill("SIGKILL");
});
console.error(`auditor-idle: serve --every ${every} (node ${nodeOptions.join(" ") || "defaults"}), warm-up ${warmupMs / 1000}s, window ${durationMs / 1000}s ...`);
await new Promise((r) => setTimeout(r, warmupMs));
const end = Date.now() + durationMs;
while (Date.now() < end) {
  if (serve.exitCode !== null) throw new Error(`serve exited early with ${serve.exitCode}`);
  if (serveOnly.exitCode !== null) throw new Error(`serve (alone) exited early with ${serveOnly.exitCode}`);
  samples.serve.push(sample(serve.pid));
  samples.serveOnly.push(sample(serveOnly.pid));
  samples.bare.push(sample(bare.pid));
  await new Promise((r) => setTimeout(r, 1000));
}
serve.kill("SIGTERM");
serveOnly.kill("SIGTERM");
bare.kill("SIGTERM");
await Promise.all([new Promise((r) => serve.once("exit", r)), new Promise((r) => serveOnly.once("exit", r))]);
kubelet.stop();
controller.stop();
await api.close();
rmSync(dir, { recursive: true, force: true });

function summary(xs) {
  const first = xs[0];
  const last = xs.at(-1);
  return {
    rssMedianMb: +median(xs.map((s) => s.rssMb)).toFixed(1),
    rssMaxMb: +Math.max(...xs.map((s) => s.rssMb)).toFixed(1),
    cpuPercent: +((100 * (last.cpuMs - first.cpuMs)) / (last.at - first.at)).toFixed(3),
  };
}
const s = summary(samples.serve);
const o = summary(samples.serveOnly);
const b = summary(samples.bare);
const checks = controller.killed.length;
console.log(
  JSON.stringify({ bench: "auditor-idle", every, nodeOptions, windowSeconds: durationMs / 1000, samples: samples.serve.length, checksPassedDuringRun: checks, serveViaCli: s, serveAlone: o, bareNode: b }, null, 2),
);
const line = (name, x) => `${name}: RSS median ${x.rssMedianMb} MB (max ${x.rssMaxMb}, ${(x.rssMedianMb / b.rssMedianMb).toFixed(2)}x bare), CPU ${x.cpuPercent}% of one core; target <= 60 MB and < 1%: ${x.rssMaxMb <= 60 && x.cpuPercent < 1 ? "MET" : "NOT MET"}`;
console.log(line("serve via dist/cli/main.js", s));
console.log(line("serve registered alone    ", o));
console.log(`bare node                 : RSS median ${b.rssMedianMb} MB, CPU ${b.cpuPercent}%`);
