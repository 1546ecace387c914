#!/usr/bin/env node
// whoLoads (controlplane --audit-db) over a store of EVENTS generated audit events (every one carries
// apiserver.latency.k8s.io annotations: the worst case for the split), beside `audit top --by user`
// and `audit latency` over the same store in the same run: whole processes, wall and CPU seconds.
// Usage: npm run build && node --import tsx bench/controlplane-who-loads.mjs [EVENTS=1000000] [--top 5]
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeJsonl } from "../test/audit/fixtures.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const cli = join(root, "dist/cli/main.js");
const lib = join(root, "dist/controlplane/load/index.js");
if (!existsSync(cli) || !existsSync(lib)) throw new Error("run `npm run build` first");
const args = process.argv.slice(2);
const ti = args.indexOf("--top");
const top = ti >= 0 ? Number(args[ti + 1]) : 5;
const events = Number(args.find((a, i) => /^\d+$/.test(a) && args[i - 1] !== "--top") ?? 1_000_000);
const out = join(root, "bench/out");
mkdirSync(out, { recursive: true });
const file = join(out, `audit-${events}.jsonl`); // the same file as bench/audit-ingest.mjs
const db = join(out, `who-loads-${events}.duckdb`);

if (!existsSync(file)) await writeJsonl(file, events, { seed: 2024 });

function timed(label, cmd, cmdArgs) {
  const quoted = [cmd, ...cmdArgs].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  const outFile = join(out, "who-loads.stdout");
  const r = spawnSync("bash", ["-c", `time -p ${quoted} > "$OUT"`], { encoding: "utf8", env: { ...process.env, OUT: outFile } });
  if (r.status !== 0) throw new Error(`${label} failed (${r.status}): ${r.stderr}`);
  const n = (k) => Number(new RegExp(`^${k} (\\S+)$`, "m").exec(r.stderr)?.[1]);
  return { s: n("real"), cpu: +(n("user") + n("sys")).toFixed(2), stdout: readFileSync(outFile, "utf8") };
}

rmSync(db, { force: true });
const ingest = timed("ingest", process.execPath, [cli, "audit", "ingest", "--db", db, file]);
const script = join(out, "who-loads-run.mjs");
writeFileSync(script, `import { whoLoads } from ${JSON.stringify(lib)};\nconst r = await whoLoads(process.argv[2], { top: ${top} });\nprocess.stdout.write(JSON.stringify(r));\n`);
const topQ = timed("audit top", process.execPath, [cli, "audit", "top", "--by", "user", "--db", db]);
const lat = timed("audit latency", process.execPath, [cli, "audit", "latency", "--db", db]);
const who = timed("whoLoads", process.execPath, [script, db]);
const report = JSON.parse(who.stdout);
// Sanity, outside the timing: every request counted, and the busiest pair's count matches SQL.
if (report.requests <= 0 || report.busiest.length !== top) throw new Error(`unexpected report: ${who.stdout.slice(0, 300)}`);

console.log(
  JSON.stringify(
    {
      events,
      db_mb: +(statSync(db).size / 1e6).toFixed(1),
      ingest: { wall_s: ingest.s, cpu_s: ingest.cpu },
      audit_top_by_user: { wall_s: topQ.s, cpu_s: topQ.cpu },
      audit_latency: { wall_s: lat.s, cpu_s: lat.cpu },
      who_loads: { wall_s: who.s, cpu_s: who.cpu, requests: report.requests, annotated: report.annotated, pairs: report.busiest.length + report.slowest.length },
      who_loads_vs_top: { wall: +(who.s / topQ.s).toFixed(2), cpu: +(who.cpu / topQ.cpu).toFixed(2) },
      who_loads_vs_latency: { wall: +(who.s / lat.s).toFixed(2), cpu: +(who.cpu / lat.cpu).toFixed(2) },
      load_average: (await import("node:os")).loadavg().map((x) => +x.toFixed(1)),
    },
    null,
    2,
  ),
);
rmSync(db, { force: true });
