// Crash safety: SIGKILL a loaded exporter at random points; every acked record arrives.
// A longer version with many more kills: bench/exporter-kill.mjs.
import assert from "node:assert/strict";
import { test } from "node:test";
import { runKillScenario } from "./support/kill-scenario.js";

test("SIGKILL at random points under load: every record ever acked reaches the sink at least once", { timeout: 120_000 }, async (t) => {
  const r = await runKillScenario({ kills: 5, producers: 3, minRunMs: 400, maxRunMs: 900, log: (m) => t.diagnostic(m) });
  t.diagnostic(`sent ${r.sent}, acked ${r.acked}, delivered ${r.delivered}, duplicates ${r.duplicates}, corrupt ${r.corruptCounted}, runs ${r.runsMs.join(",")} ms`);
  assert.ok(r.acked > 0, "producers got acks before the kills");
  assert.deepEqual(r.lost.slice(0, 10), [], `${r.lost.length} acked records never reached the sink`);
  assert.equal(r.corruptCounted, 0, "a SIGKILL leaves at most a torn tail, never corruption");
  assert.ok(r.delivered >= r.acked);
});
