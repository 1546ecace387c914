#!/usr/bin/env node
// Ingest throughput of `watch-auditor audit ingest` beside `jq -c . > /dev/null` on the same
// generated file in the same run, and the time of `audit top --by user` and `audit latency` over it.
// Usage: npm run build && node --import tsx bench/audit-ingest.mjs [EVENTS=1000000] [--bodies] [--baseline DIR]
//   --bodies         events at RequestResponse level with request/response objects (issue 11 item 4)
//   --baseline DIR   also ingest the same file with the build in DIR (another checkout, built) in
//                    the same run, and report the ratio of throughput and store size
// Targets (issue 4): ingest >= 10x jq's single pass and >= 150k events/s; each query <= 1 s.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeJsonl } from "../test/audit/fixtures.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const cli = join(root, "dist/cli/main.js");
if (!existsSync(cli)) throw new Error("run `npm run build` first");
const args = process.argv.slice(2);
const bodies = args.includes("--bodies");
const bi = args.indexOf("--baseline");
const baseline = bi >= 0 ? args[bi + 1] : undefined;
const events = Number(args.find((a, i) => /^\d+$/.test(a) && args[i - 1] !== "--baseline") ?? 1_000_000);
const out = join(root, "bench/out");
mkdirSync(out, { recursive: true });
const tag = `${events}${bodies ? "-bodies" : ""}`;
const file = join(out, `audit-${tag}.jsonl`);
const db = join(out, `audit-${tag}.duckdb`);

if (!existsSync(file)) {
  const t = performance.now();
  await writeJsonl(file, events, { seed: 2024, bodies });
  console.error(`generated ${file} in ${((performance.now() - t) / 1000).toFixed(1)} s`);
}
const bytes = statSync(file).size;

// `time -p` gives wall and CPU (user+sys) seconds: CPU seconds stay meaningful on a loaded machine.
function timed(label, cmd, args, keepOutput = true) {
  const quoted = [cmd, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  const outFile = join(out, "audit-bench.stdout");
  const r = spawnSync("bash", ["-c", `time -p ${quoted} > "$OUT"`], { encoding: "utf8", env: { ...process.env, OUT: keepOutput ? outFile : "/dev/null" } });
  if (r.status !== 0) throw new Error(`${label} failed (${r.status}): ${r.stderr}`);
  const n = (k) => Number(new RegExp(`^${k} (\\S+)$`, "m").exec(r.stderr)?.[1]);
  return { s: n("real"), cpu: +(n("user") + n("sys")).toFixed(2), stdout: keepOutput ? readFileSync(outFile, "utf8") : "" };
}

// Warm the page cache so neither side pays for the first disk read.
spawnSync("cat", [file], { stdio: ["ignore", "ignore", "ignore"] });
const jq = timed("jq", "jq", ["-c", ".", file], false);
rmSync(db, { force: true });
rmSync(db + ".wal", { force: true });
const ingest = timed("ingest", process.execPath, [cli, "audit", "ingest", "--db", db, file]);
if (!ingest.stdout.includes(`${events} inserted`)) throw new Error(`unexpected ingest report: ${ingest.stdout}`);
const top = timed("top", process.execPath, [cli, "audit", "top", "--by", "user", "--db", db]);
const lat = timed("latency", process.execPath, [cli, "audit", "latency", "--db", db]);
const noop = timed("startup", process.execPath, [cli, "audit", "sql", "SELECT 1", "--db", db]);
const dbBytes = statSync(db).size;
let base;
if (baseline) {
  const baseDb = join(out, `audit-${tag}-baseline.duckdb`);
  rmSync(baseDb, { force: true });
  rmSync(baseDb + ".wal", { force: true });
  const b = timed("baseline ingest", process.execPath, [join(baseline, "dist/cli/main.js"), "audit", "ingest", "--db", baseDb, file]);
  const bBytes = statSync(baseDb).size;
  base = {
    dir: baseline,
    ingest: { wall_s: b.s, cpu_s: b.cpu, events_per_s: Math.round(events / b.s) },
    db_mb: +(bBytes / 1e6).toFixed(1),
    throughput_ratio_wall: +(b.s / ingest.s).toFixed(2),
    throughput_ratio_cpu: +(b.cpu / ingest.cpu).toFixed(2),
    db_size_ratio: +(dbBytes / bBytes).toFixed(2),
  };
  rmSync(baseDb, { force: true });
}

const res = {
  events,
  bodies,
  file_mb: +(bytes / 1e6).toFixed(1),
  bytes_per_event: Math.round(bytes / events),
  jq: { wall_s: jq.s, cpu_s: jq.cpu, events_per_s: Math.round(events / jq.s) },
  ingest: { wall_s: ingest.s, cpu_s: ingest.cpu, events_per_s: Math.round(events / ingest.s) },
  db_mb: +(dbBytes / 1e6).toFixed(1),
  baseline: base,
  ingest_vs_jq_wall: +(jq.s / ingest.s).toFixed(2),
  ingest_vs_jq_cpu: +(jq.cpu / ingest.cpu).toFixed(2),
  top_by_user: { wall_s: top.s, cpu_s: top.cpu },
  latency: { wall_s: lat.s, cpu_s: lat.cpu },
  cli_startup_trivial_query: { wall_s: noop.s, cpu_s: noop.cpu },
  load_average: (await import("node:os")).loadavg().map((x) => +x.toFixed(1)),
  targets: { ingest_vs_jq: ">= 10", ingest_events_per_s: ">= 150000", query_s: "<= 1" },
};
console.log(JSON.stringify(res, null, 2));

// Check every stored row against an independent reading of the file (line number, auditID,
// stage, byte length), outside the timing: a faster ingest must not lose exactness.
const { DuckDBInstance } = await import("@duckdb/node-api");
const checkDb = await DuckDBInstance.create(db, { access_mode: "READ_ONLY" });
const check = await checkDb.connect();
const lit = (x) => `'${x.replace(/'/g, "''")}'`;
const bad = (await check.runAndReadAll(`SELECT count(*) FROM events e FULL JOIN (
  SELECT row_number() OVER () AS ln, strlen(j) AS b, j->>'auditID' AS id, j->>'stage' AS st
  FROM read_json_objects(${lit(file)}, format = 'newline_delimited') t(j)) o ON e.source = ${lit(file + ":")} || o.ln
  WHERE e.event_bytes IS DISTINCT FROM o.b OR e.audit_id IS DISTINCT FROM o.id OR e.stage IS DISTINCT FROM o.st`)).getRows()[0][0];
check.closeSync();
checkDb.closeSync();
if (Number(bad) !== 0) throw new Error(`${bad} stored rows do not match their source line`);

