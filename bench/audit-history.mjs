#!/usr/bin/env node
// `audit history` of one object with many revisions (issue 11 item 7: 10k revisions <= 1 s).
// Generates REVISIONS write events with request/response bodies for Deployment shop/bench (a create
// then updates changing spec.replicas, an annotation, resourceVersion and managedFields, each a
// copy of the recorded v1.25 create of shop/cart) among OTHER generated events, ingests them with
// the real CLI, then times `audit history deployments bench -n shop -o json` (and table output).
// Usage: npm run build && node --import tsx bench/audit-history.mjs [REVISIONS=10000] [OTHER=100000]
import { spawnSync } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeJsonl } from "../test/audit/fixtures.ts";
import { AUDIT_SAMPLES } from "../test/support/samples.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const cli = join(root, "dist/cli/main.js");
if (!existsSync(cli)) throw new Error("run `npm run build` first");
const nums = process.argv.slice(2).filter((a) => /^\d+$/.test(a)).map(Number);
const revisions = nums[0] ?? 10_000;
const other = nums[1] ?? 100_000;
const out = join(root, "bench/out");
mkdirSync(out, { recursive: true });
const file = join(out, `audit-history-${revisions}-${other}.jsonl`);
const db = join(out, `audit-history-${revisions}-${other}.duckdb`);

const create = readFileSync(join(AUDIT_SAMPLES, "real-apiserver-v1.25-security-scenario.jsonl"), "utf8")
  .split("\n").filter(Boolean).map((l) => JSON.parse(l))
  .find((e) => e.verb === "create" && e.objectRef?.resource === "deployments" && e.objectRef.name === "cart");

rmSync(file, { force: true });
await writeJsonl(file, other, { seed: 11 });
const t0 = Date.parse("2030-01-01T00:00:00Z");
const lines = [];
for (let i = 0; i < revisions; i++) {
  const ts = new Date(t0 + i * 1000).toISOString();
  const obj = structuredClone(create.responseObject);
  obj.metadata.name = "bench";
  obj.metadata.resourceVersion = String(100000 + i);
  obj.metadata.generation = i + 1;
  obj.metadata.annotations = { "bench/revision": String(i) };
  obj.metadata.managedFields = [{ ...obj.metadata.managedFields[0], time: ts.replace(/\.\d+Z$/, "Z") }];
  obj.spec.replicas = (i % 7) + 1;
  const verb = i === 0 ? "create" : "update";
  lines.push(JSON.stringify({
    ...create,
    auditID: `bench-${i}`,
    verb,
    requestURI: i === 0 ? "/apis/apps/v1/namespaces/shop/deployments" : "/apis/apps/v1/namespaces/shop/deployments/bench",
    objectRef: { ...create.objectRef, name: "bench" },
    requestReceivedTimestamp: ts,
    stageTimestamp: ts,
    responseStatus: { metadata: {}, code: i === 0 ? 201 : 200 },
    requestObject: obj,
    responseObject: obj,
  }));
  if (lines.length === 1000) appendFileSync(file, lines.splice(0).join("\n") + "\n");
}
if (lines.length) appendFileSync(file, lines.join("\n") + "\n");

function timed(label, args) {
  const quoted = [process.execPath, cli, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  const r = spawnSync("bash", ["-c", `time -p ${quoted} > "$OUT"`], { encoding: "utf8", env: { ...process.env, OUT: join(out, "audit-history.stdout") } });
  if (r.status !== 0) throw new Error(`${label} failed (${r.status}): ${r.stderr}`);
  const n = (k) => Number(new RegExp(`^${k} (\\S+)$`, "m").exec(r.stderr)?.[1]);
  return { wall_s: n("real"), cpu_s: +(n("user") + n("sys")).toFixed(2), stdout: readFileSync(join(out, "audit-history.stdout"), "utf8") };
}

rmSync(db, { force: true });
rmSync(db + ".wal", { force: true });
const ingest = timed("ingest", ["audit", "ingest", "--db", db, file]);
const json = timed("history json", ["audit", "history", "deployments", "bench", "-n", "shop", "--db", db, "-o", "json"]);
const h = JSON.parse(json.stdout);
if (h.revisions.length !== revisions) throw new Error(`expected ${revisions} revisions, got ${h.revisions.length}`);
const wrong = h.revisions.slice(1).filter((r, i) => r.changes.find((c) => c.path === "spec.replicas")?.new !== ((i + 1) % 7) + 1 && (i % 7) !== ((i + 1) % 7));
if (wrong.length) throw new Error(`${wrong.length} revisions with a wrong spec.replicas diff`);
const table = timed("history table", ["audit", "history", "deployments", "bench", "-n", "shop", "--db", db]);
const startup = timed("startup", ["audit", "sql", "SELECT 1", "--db", db]);
console.log(JSON.stringify({
  revisions,
  other_events: other,
  ingest: { wall_s: ingest.wall_s, cpu_s: ingest.cpu_s },
  history_json: { wall_s: json.wall_s, cpu_s: json.cpu_s, bytes: json.stdout.length },
  history_table: { wall_s: table.wall_s, cpu_s: table.cpu_s },
  cli_startup_trivial_query: { wall_s: startup.wall_s, cpu_s: startup.cpu_s },
  load_average: (await import("node:os")).loadavg().map((x) => +x.toFixed(1)),
  target: { history_s: "<= 1" },
}, null, 2));
