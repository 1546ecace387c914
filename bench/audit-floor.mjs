#!/usr/bin/env node
// Where `audit ingest` time goes, step by step, with DuckDB alone on the first N lines of the
// audit bench file: counting lines, extracting the fields, computing every column, and a direct
// INSERT into a DuckDB file. Floors for any ingest that lets the store parse (issue 4).
// Usage: npm run build && node --import tsx bench/audit-floor.mjs [LINES=200000]
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DuckDBInstance } from "@duckdb/node-api";

const root = fileURLToPath(new URL("..", import.meta.url));
const { stageSelectSql } = await import(join(root, "dist/audit/event-sql.js"));
const { EVENTS_DDL, EVENT_COLUMNS } = await import(join(root, "dist/audit/schema.js"));
const lines = Number(process.argv[2] ?? 200_000);
const source = join(root, "bench/out/audit-1000000.jsonl");
if (!existsSync(source)) {
  // The same file bench/audit-ingest.mjs generates (and reuses).
  const { writeJsonl } = await import("../test/audit/fixtures.ts");
  mkdirSync(join(root, "bench/out"), { recursive: true });
  await writeJsonl(source, 1_000_000, { seed: 2024 });
}
const dir = join(root, "bench/out/floor");
mkdirSync(dir, { recursive: true });
const file = join(dir, `audit-${lines}.jsonl`);
writeFileSync(file, execFileSync("head", ["-n", String(lines), source], { maxBuffer: 2 ** 31 }));
const db = join(dir, "floor.duckdb");
rmSync(db, { force: true });
rmSync(db + ".wal", { force: true });

const inst = await DuckDBInstance.create(db);
const c = await inst.connect();
await c.run("SET TimeZone = 'UTC'");
await c.run(EVENTS_DDL);
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const read = `read_json_objects('${file}', format = 'newline_delimited', ignore_errors = true)`;
const staged = stageSelectSql(`SELECT NULL::BIGINT AS line, 0 AS item, j FROM ${read} t(j)`);
const cols = EVENT_COLUMNS.map((x) => `"${x}"`).join(", ");
const steps = [
  ["count lines", `SELECT count(*) FROM ${read}`],
  ["extract one field", `SELECT count(j->>'$.auditID') FROM ${read} t(j)`],
  ["compute every column", `SELECT count(COLUMNS(*)) FROM (${staged})`],
  ["direct INSERT into the file", `INSERT INTO events (${cols}) SELECT ${cols} FROM (${staged}) WHERE problem IS NULL`],
];
for (const [label, sql] of steps) {
  const w = performance.now();
  const c0 = cpu();
  await c.runAndReadAll(sql);
  console.log(`${label.padEnd(30)} ${((performance.now() - w) / 1000).toFixed(2)} s wall  ${(cpu() - c0).toFixed(2)} s CPU  (${lines} events)`);
}
c.closeSync();
inst.closeSync();
rmSync(dir, { recursive: true, force: true });
