#!/usr/bin/env node
// Ingest throughput of `watch-auditor audit ingest` beside `jq -c . > /dev/null` on the same
// generated file in the same run, and the time of `audit top --by user` and `audit latency` over it.
// Usage: npm run build && node --import tsx bench/audit-ingest.mjs [EVENTS=1000000]
// Targets (issue 4): ingest >= 10x jq's single pass and >= 150k events/s; each query <= 1 s.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeJsonl } from "../test/audit/fixtures.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const cli = join(root, "dist/cli/main.js");
if (!existsSync(cli)) throw new Error("run `npm run build` first");
const events = Number(process.argv[2] ?? 1_000_000);
const out = join(root, "bench/out");
mkdirSync(out, { recursive: true });
const file = join(out, `audit-${events}.jsonl`);
const db = join(out, `audit-${events}.duckdb`);

if (!existsSync(file)) {
  const t = performance.now();
  await writeJsonl(file, events, { seed: 2024 });
  console.error(`generated ${file} in ${((performance.now() - t) / 1000).toFixed(1)} s`);
}
const bytes = statSync(file).size;

function timed(label, cmd, args) {
  const t = performance.now();
  const r = spawnSync(cmd, args, { stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 << 20, shell: false });
  const s = (performance.now() - t) / 1000;
  if (r.status !== 0) throw new Error(`${label} failed (${r.status}): ${r.stderr}`);
  return { s, stdout: r.stdout.toString() };
}

// Warm the page cache so neither side pays for the first disk read.
spawnSync("cat", [file], { stdio: ["ignore", "ignore", "ignore"] });
const jq = spawnSync("bash", ["-c", `time -p jq -c . "${file}" > /dev/null`], { encoding: "utf8" });
const jqS = Number(/real (\S+)/.exec(jq.stderr)?.[1]);
rmSync(db, { force: true });
rmSync(db + ".wal", { force: true });
const ingest = timed("ingest", process.execPath, [cli, "audit", "ingest", "--db", db, file]);
if (!ingest.stdout.includes(`${events} inserted`)) throw new Error(`unexpected ingest report: ${ingest.stdout}`);
const top = timed("top", process.execPath, [cli, "audit", "top", "--by", "user", "--db", db]);
const lat = timed("latency", process.execPath, [cli, "audit", "latency", "--db", db]);
const noop = timed("startup", process.execPath, [cli, "audit", "sql", "SELECT 1", "--db", db]);

const evps = events / ingest.s;
const res = {
  events,
  file_mb: +(bytes / 1e6).toFixed(1),
  bytes_per_event: Math.round(bytes / events),
  jq_s: jqS,
  jq_events_per_s: Math.round(events / jqS),
  ingest_s: +ingest.s.toFixed(2),
  ingest_events_per_s: Math.round(evps),
  ingest_vs_jq: +(jqS / ingest.s).toFixed(1),
  top_by_user_s: +top.s.toFixed(2),
  latency_s: +lat.s.toFixed(2),
  cli_startup_plus_trivial_query_s: +noop.s.toFixed(2),
  load_average: (await import("node:os")).loadavg().map((x) => +x.toFixed(1)),
  targets: { ingest_vs_jq: ">= 10", ingest_events_per_s: ">= 150000", query_s: "<= 1 (process wall time incl. startup)" },
};
console.log(JSON.stringify(res, null, 2));
