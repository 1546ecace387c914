#!/usr/bin/env node
// Crash safety at length: SIGKILL a loaded exporter many times at random points and check that
// every record ever acknowledged to a producer reached the HTTP sink at least once.
//   npm run build && node bench/exporter-kill.mjs [--kills 50] [--producers 4] [--min-run 200] [--max-run 2000]
// The scenario is the one the test suite runs with 5 kills (test/exporter/kill.test.ts).
// KILL_DEBUG_DIR=/some/dir keeps every run's exporter log and a copy of the final data dir.
import { register } from "tsx/esm/api";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    kills: { type: "string", default: "50" },
    producers: { type: "string", default: "4" },
    "min-run": { type: "string", default: "200" },
    "max-run": { type: "string", default: "2000" },
    "record-bytes": { type: "string", default: "300" },
  },
});
register();
const { runKillScenario } = await import("../test/exporter/support/kill-scenario.ts");
const t0 = Date.now();
const r = await runKillScenario({
  kills: Number(values.kills),
  producers: Number(values.producers),
  minRunMs: Number(values["min-run"]),
  maxRunMs: Number(values["max-run"]),
  recordBytes: Number(values["record-bytes"]),
  log: (m) => console.error(m),
  drainTimeoutMs: 15 * 60_000,
});
const { lost, runsMs: _runs, ...summary } = r;
console.log(
  JSON.stringify(
    {
      command: `node bench/exporter-kill.mjs --kills ${values.kills} --producers ${values.producers} --min-run ${values["min-run"]} --max-run ${values["max-run"]}`,
      ...summary,
      lostAcked: lost.length,
      lostExamples: lost.slice(0, 5),
      duplicateRatio: +(r.duplicates / Math.max(1, r.delivered)).toFixed(4),
      seconds: Math.round((Date.now() - t0) / 1000),
      verdict: lost.length === 0 ? "PASS: every acked record arrived" : "FAIL: acked records lost",
    },
    null,
    2,
  ),
);
process.exitCode = lost.length === 0 ? 0 : 1;
