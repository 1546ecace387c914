#!/usr/bin/env node
// `watch-auditor audit detect` (all built-in rules) over the store that `audit ingest` just built
// from the same generated file, in the same run: issue 11 item 7 wants detect <= ingest's time.
// Usage: npm run build && node --import tsx bench/audit-detect.mjs [EVENTS=1000000] [--metadata]
//   default: events at RequestResponse level with request/response objects (the generator of
//   bench/audit-ingest.mjs with --bodies), so the rules that read objects have objects to read;
//   --metadata: the same generator without bodies.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeJsonl } from "../test/audit/fixtures.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const cli = join(root, "dist/cli/main.js");
if (!existsSync(cli)) throw new Error("run `npm run build` first");
const args = process.argv.slice(2);
const bodies = !args.includes("--metadata");
const events = Number(args.find((a) => /^\d+$/.test(a)) ?? 1_000_000);
const out = join(root, "bench/out");
mkdirSync(out, { recursive: true });
const tag = `${events}${bodies ? "-bodies" : ""}`;
const file = join(out, `audit-${tag}.jsonl`);
const db = join(out, `audit-detect-${tag}.duckdb`);
if (!existsSync(file)) {
  const t = performance.now();
  await writeJsonl(file, events, { seed: 2024, bodies });
  console.error(`generated ${file} in ${((performance.now() - t) / 1000).toFixed(1)} s`);
}

function timed(label, cmd, argv) {
  const quoted = [cmd, ...argv].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  const outFile = join(out, "audit-detect.stdout");
  const r = spawnSync("bash", ["-c", `time -p ${quoted} > "$OUT"`], { encoding: "utf8", env: { ...process.env, OUT: outFile }, maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${label} failed (${r.status}): ${r.stderr}`);
  const n = (k) => Number(new RegExp(`^${k} (\\S+)$`, "m").exec(r.stderr)?.[1]);
  return { s: n("real"), cpu: +(n("user") + n("sys")).toFixed(2), stdout: readFileSync(outFile, "utf8") };
}

spawnSync("cat", [file], { stdio: ["ignore", "ignore", "ignore"] });
rmSync(db, { force: true });
rmSync(db + ".wal", { force: true });
const ingest = timed("ingest", process.execPath, [cli, "audit", "ingest", "--db", db, file]);
if (!ingest.stdout.includes(`${events} inserted`)) throw new Error(`unexpected ingest report: ${ingest.stdout}`);
const detect = timed("detect", process.execPath, [cli, "audit", "detect", "--db", db, "-o", "json"]);
const hits = JSON.parse(detect.stdout);
const byRule = {};
for (const h of hits) byRule[h.rule] = (byRule[h.rule] ?? 0) + 1;
// Exactness outside the timing: the secret reads the generator made by non-system users, counted in SQL.
const { DuckDBInstance } = await import("@duckdb/node-api");
const inst = await DuckDBInstance.create(db, { access_mode: "READ_ONLY" });
const con = await inst.connect();
const want = Number((await con.runAndReadAll(`SELECT count(*) FROM events WHERE stage IN ('ResponseComplete', 'Panic') AND resource = 'secrets' AND coalesce(api_group, '') = ''
  AND verb IN ('get', 'list', 'watch') AND NOT ("user" LIKE 'system:%' AND "user" <> 'system:anonymous' AND ("user" NOT LIKE 'system:serviceaccount:%' OR "user" LIKE 'system:serviceaccount:kube-system:%'))`)).getRows()[0][0]);
con.closeSync();
inst.closeSync();
if ((byRule["secret-read-by-non-system-user"] ?? 0) !== want) throw new Error(`secret-read hits ${byRule["secret-read-by-non-system-user"]} != ${want} counted in SQL`);
console.log(JSON.stringify({
  events,
  bodies,
  file_mb: +(statSync(file).size / 1e6).toFixed(1),
  ingest: { wall_s: ingest.s, cpu_s: ingest.cpu },
  detect: { wall_s: detect.s, cpu_s: detect.cpu, hits: hits.length, by_rule: byRule },
  detect_over_ingest_wall: +(detect.s / ingest.s).toFixed(3),
  detect_over_ingest_cpu: +(detect.cpu / ingest.cpu).toFixed(3),
  load_average: (await import("node:os")).loadavg().map((x) => +x.toFixed(1)),
  target: "detect_over_ingest_wall <= 1",
}, null, 2));
rmSync(db, { force: true });
