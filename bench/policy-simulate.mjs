#!/usr/bin/env node
// Time of `audit policy simulate --db` over a generated store, beside `audit top --by user` (a
// GROUP BY query in DuckDB) and the CLI's startup (`audit sql "SELECT 1"`) on the same store in the
// same run. Simulation evaluates the policy in JS for every event, so it is expected to cost more
// than a SQL aggregate; the figure to watch is the ratio.
// Usage: npm run build && node --import tsx bench/policy-simulate.mjs [EVENTS=1000000]
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeJsonl } from "../test/audit/fixtures.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
// WATCH_AUDITOR_CLI points at another build (e.g. a private one while others rebuild dist/).
const cli = process.env.WATCH_AUDITOR_CLI ?? join(root, "dist/cli/main.js");
if (!existsSync(cli)) throw new Error("run `npm run build` first");
const events = Number(process.argv[2] ?? 1_000_000);
const out = join(root, "bench/out");
mkdirSync(out, { recursive: true });
const file = join(out, `audit-${events}.jsonl`);
const db = join(out, `policy-simulate-${events}.duckdb`);
const policy = join(out, "policy-simulate-policy.yaml");
// A realistic policy: drops noise, keeps bodies of writes, a catch-all at the end.
writeFileSync(
  policy,
  `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None
  users: ["system:kube-proxy"]
  verbs: [watch]
- level: None
  userGroups: ["system:nodes"]
  verbs: [get, list, watch]
- level: None
  nonResourceURLs: ["/healthz*", "/readyz*", "/livez*", "/version", "/openapi*"]
- level: Metadata
  resources: [{group: "", resources: [secrets, configmaps, "serviceaccounts/token"]}]
- level: RequestResponse
  verbs: [create, update, patch, delete, deletecollection]
  resources: [{group: ""}, {group: apps}, {group: batch}, {group: rbac.authorization.k8s.io}]
- level: Request
  verbs: [create, update, patch, delete]
- level: Metadata
  omitStages: [ResponseStarted]
`,
);

if (!existsSync(file)) {
  const t = performance.now();
  await writeJsonl(file, events, { seed: 2024 });
  console.error(`generated ${file} in ${((performance.now() - t) / 1000).toFixed(1)} s`);
}

function timed(label, args) {
  const t = performance.now();
  const r = spawnSync(process.execPath, [cli, ...args], { stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 << 20 });
  const s = (performance.now() - t) / 1000;
  if (r.status !== 0) throw new Error(`${label} failed (${r.status}): ${r.stderr}`);
  return { s, stdout: r.stdout.toString() };
}

rmSync(db, { force: true });
rmSync(db + ".wal", { force: true });
timed("ingest", ["audit", "ingest", "--db", db, file]);
const startup = timed("startup", ["audit", "sql", "SELECT 1", "--db", db]);
const top = timed("top", ["audit", "top", "--by", "user", "--db", db]);
const sim = timed("simulate", ["audit", "policy", "simulate", policy, "--db", db, "--output", "json"]);
const report = JSON.parse(sim.stdout);
if (report.totals.recordedEvents !== events) throw new Error(`simulate saw ${report.totals.recordedEvents} events, expected ${events}`);
rmSync(db, { force: true });

const res = {
  events,
  cli_startup_s: +startup.s.toFixed(2),
  top_by_user_s: +top.s.toFixed(2),
  simulate_s: +sim.s.toFixed(2),
  simulate_vs_top: +(sim.s / top.s).toFixed(1),
  simulate_events_per_s_net_of_startup: Math.round(events / Math.max(0.001, sim.s - startup.s)),
  estimated_vs_recorded_bytes: +(report.totals.bytes / report.totals.recordedBytes).toFixed(3),
};
console.log(JSON.stringify(res, null, 2));
