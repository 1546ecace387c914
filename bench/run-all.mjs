#!/usr/bin/env node
// Runs the benchmark scripts in bench/ one after another (they compete for the same 2 cores
// otherwise). `npm run bench -- exporter audit` runs only the scripts whose names contain those words.
import { readdirSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const here = dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);
const scripts = readdirSync(here)
  .filter((f) => f.endsWith(".mjs") && f !== "run-all.mjs")
  .filter((f) => filters.length === 0 || filters.some((w) => f.includes(w)))
  .sort();
if (scripts.length === 0) {
  console.error(`no benchmark matches ${filters.join(" ")}`);
  process.exit(1);
}
let failed = 0;
for (const s of scripts) {
  console.log(`\n=== bench/${s} ===`);
  // Some benchmarks reuse the TypeScript fixture generators under test/, hence tsx.
  const r = spawnSync(process.execPath, ["--import", "tsx", join(here, s)], { stdio: "inherit" });
  if (r.status !== 0) {
    failed++;
    console.error(`bench/${s} exited with ${r.status ?? r.signal}`);
  }
}
process.exit(failed ? 1 : 0);
