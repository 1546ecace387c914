#!/usr/bin/env node
// Footprint of `watch-auditor serve --every 30s` with five probes (the shipped examples of
// deploy/auditor/probes/: the sidecar probe and four reaction probes, each answered by a healthy
// in-process controller), beside the default single sidecar probe (from flags, and through
// --config: the cost of the YAML/zod loader alone) and a bare Node process, all
// measured in the same run against the same test API server.
//
//   npm run build && node bench/auditor-reaction-idle.mjs [--duration 3m] [--warmup 15s] [--every 30s] [--node-options "--max-semi-space-size=1"]
//
// Samples RSS (VmRSS) and CPU time (utime+stime) from /proc every second; prints median/max RSS
// and CPU % of one core over the window after warm-up, and the checks each probe passed.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, existsSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import { register } from "tsx/esm/api";

register();
const { parseDuration } = await import("../src/core/duration.ts");
const { startTestApiServer } = await import("../test/support/kube-apiserver/index.ts");
const { SimKubelet } = await import("../test/auditor/sim/kubelet.ts");
const { SimController } = await import("../test/auditor/sim/controller.ts");
const R = await import("../test/auditor/sim/reactors.ts");
const { KubeClient } = await import("../src/core/kube/index.ts");

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
const TICK_HZ = 100;
function sample(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { rssMb: rssKb / 1024, cpuMs: ((Number(fields[11]) + Number(fields[12])) * 1000) / TICK_HZ, at: Date.now() };
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const api = await startTestApiServer({ tokens: { admin: { user: "admin", groups: ["system:masters"] } } });
const dir = mkdtempSync(join(tmpdir(), "auditor-reaction-bench-"));
const kubeconfig = api.writeKubeconfig(dir);
const admin = await KubeClient.load({ kubeconfig: api.writeKubeconfig(dir, { token: "admin", user: "admin" }) });
const kubelet = new SimKubelet(api.store, { namespaces: ["neuvector", "neuvector-b", "neuvector-c"] });
const controller = new SimController(api.store, { mode: "healthy", namespace: "pepr-system" });
api.store.create(R.WIDGET_CRD);
const reactors = [
  await R.networkPolicyGenerator(admin).start(api.store, { namespace: "kyverno", name: "kyverno-background-controller", kind: "Deployment", podLabels: { "app.kubernetes.io/component": "background-controller" } }),
  await R.widgetOperator(admin).start(api.store, { namespace: "widget-system", name: "widget-operator", kind: "Deployment", podLabels: { app: "widget-operator" } }),
  await R.secretReplicator(admin).start(api.store, { namespace: "kube-replicator", name: "replicator", kind: "StatefulSet", podLabels: { "app.kubernetes.io/name": "replicator" } }),
  new R.DeploymentControllerProcess(api.store).start({ namespace: "kube-system", name: "kube-controller-manager-node1", kind: "bare", podLabels: { component: "kube-controller-manager" } }),
];
// The shipped examples as they are, except `every`.
const probesDir = new URL("../deploy/auditor/probes/", import.meta.url);
const probes = [];
for (const f of readdirSync(probesDir).filter((x) => x.endsWith(".yaml") && x !== "rbac.yaml").sort()) probes.push(...parseYaml(readFileSync(new URL(f, probesDir), "utf8")).probes.map((p) => ({ ...p, every })));
const config = join(dir, "probes.yaml");
writeFileSync(config, JSON.stringify({ probes }));
// The default probe alone, but through --config: what loading the YAML/zod config costs by itself.
const sidecarOnly = join(dir, "sidecar.yaml");
writeFileSync(sidecarOnly, JSON.stringify({ probes: [{ name: "sidecar-only", canary: { namespace: "neuvector-c" } }] }));

const common = ["serve", "--every", every, "--kubeconfig", kubeconfig, "--host", "127.0.0.1", "--leader-elect", "false", "--log-level", "error"];
const five = spawn(process.execPath, [...nodeOptions, CLI, ...common, "--port", "0", "--config", config], { stdio: ["ignore", "ignore", "inherit"] });
const one = spawn(process.execPath, [...nodeOptions, CLI, ...common, "--port", "0", "--canary-namespace", "neuvector-b"], { stdio: ["ignore", "ignore", "inherit"] });
const oneCfg = spawn(process.execPath, [...nodeOptions, CLI, ...common, "--port", "0", "--config", sidecarOnly], { stdio: ["ignore", "ignore", "inherit"] });
const bare = spawn(process.execPath, ["-e", "setInterval(()=>{},1e9)"], { stdio: "ignore" });
process.on("exit", () => {
  for (const c of [five, one, oneCfg, bare]) if (c.exitCode === null) c.kill("SIGKILL");
});
console.error(`auditor-reaction-idle: serve --every ${every} with ${probes.length} probes vs the default probe (node ${nodeOptions.join(" ") || "defaults"}), warm-up ${warmupMs / 1000}s, window ${durationMs / 1000}s ...`);
await new Promise((r) => setTimeout(r, warmupMs));
const samples = { five: [], one: [], oneCfg: [], bare: [] };
const end = Date.now() + durationMs;
while (Date.now() < end) {
  if (five.exitCode !== null || one.exitCode !== null || oneCfg.exitCode !== null) throw new Error("serve exited early");
  samples.five.push(sample(five.pid));
  samples.one.push(sample(one.pid));
  samples.oneCfg.push(sample(oneCfg.pid));
  samples.bare.push(sample(bare.pid));
  await new Promise((r) => setTimeout(r, 1000));
}
five.kill("SIGTERM");
one.kill("SIGTERM");
oneCfg.kill("SIGTERM");
bare.kill("SIGTERM");
await Promise.all([five, one, oneCfg].map((c) => new Promise((r) => c.once("exit", r))));
const reacted = reactors.slice(0, 3).map((r) => r.reacted.length);
const rsCreated = api.requests.filter((r) => r.user === "system:anonymous" && r.verb === "create" && r.resource === "deployments").length;
for (const r of reactors) await r.stop();
kubelet.stop();
controller.stop();
admin.close();
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
const f = summary(samples.five);
const o = summary(samples.one);
const oc = summary(samples.oneCfg);
const b = summary(samples.bare);
console.log(JSON.stringify({ bench: "auditor-reaction-idle", every, nodeOptions, windowSeconds: durationMs / 1000, probes: probes.map((p) => p.name), reactions: { networkPolicies: reacted[0], widgets: reacted[1], secretCopies: reacted[2], deploymentStimuli: rsCreated, sidecarsKilled: controller.killed.length }, fiveProbes: f, defaultProbe: o, defaultProbeViaConfig: oc, bareNode: b }, null, 2));
const line = (name, x) => `${name}: RSS median ${x.rssMedianMb} MB (max ${x.rssMaxMb}; ${(x.rssMedianMb / o.rssMedianMb).toFixed(2)}x the default probe, ${(x.rssMedianMb / b.rssMedianMb).toFixed(2)}x bare), CPU ${x.cpuPercent}% of one core; target <= 60 MB and < 1%: ${x.rssMaxMb <= 60 && x.cpuPercent < 1 ? "MET" : "NOT MET"}`;
console.log(line("serve, 5 probes (--config)", f));
console.log(line("serve, default probe      ", o));
console.log(line("serve, 1 probe (--config) ", oc));
console.log(`bare node                 : RSS median ${b.rssMedianMb} MB, CPU ${b.cpuPercent}%`);
