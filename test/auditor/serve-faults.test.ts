// End to end: API errors make a check inconclusive — never a pass, never a fail — and an
// inconclusive check neither resets nor advances the consecutive-failure count.
import { test } from "node:test";
import assert from "node:assert/strict";
import { FAST, eventually, managedPods, metricValue, startCluster, startServe } from "./helpers.js";

test("429 on create, 500 and a hung GET: inconclusive with the right reason, then a pass", async () => {
  const c = await startCluster({ controller: { mode: "healthy" } });
  // Faults are consumed in order by matching requests: 2 creates, then 3 GETs of a canary.
  const faults = [
    c.api.faults.inject({ verb: "create", pathRegex: "/namespaces/neuvector/pods$", status: 429, count: 2, retryAfterSeconds: 1 }),
    c.api.faults.inject({ verb: "get", pathRegex: "/namespaces/neuvector/pods/watch-auditor-", status: 500, count: 2 }),
    c.api.faults.inject({ verb: "get", pathRegex: "/namespaces/neuvector/pods/watch-auditor-", hang: true, count: 1 }),
  ];
  const s = await startServe(c, [...FAST, "--leader-elect", "false", "--request-timeout", "3s"]);
  try {
    await eventually(async () => (await s.metric("watch_auditor_checks_total", { probe: "default", result: "pass" })) >= 1, { timeoutMs: 30_000, what: "a pass after the faults" });
    const checks = [...(await s.status()).probes.default!.checks].sort((a, b) => a.startedAt.localeCompare(b.startedAt));
    const firstPass = checks.findIndex((x) => x.result === "pass");
    const before = checks.slice(0, firstPass);
    // Every check before the first pass is inconclusive: an API error is never a pass (nor a fail).
    assert.ok(before.every((x) => x.result === "inconclusive"), JSON.stringify(before.map((x) => x.reason)));
    assert.ok(faults.every((f) => f.hits === f.count), "all faults were hit before the first pass");
    const count = (re: RegExp, kind: string) => before.filter((x) => x.inconclusive === kind && re.test(x.reason)).length;
    assert.equal(count(/could not create canary: .*429/, "create_failed"), 2);
    assert.equal(count(/API error while polling the canary: .*500/, "api_error"), 2);
    assert.ok(count(/API error while polling the canary: .*timed out/, "api_error") >= 1);
    // Canaries of checks whose create reached the server were still deleted.
    assert.ok(before.every((x) => x.cleanup === "deleted"));
    const text = await s.metricsText();
    assert.ok(metricValue(text, "watch_auditor_inconclusive_total", { probe: "default", reason: "create_failed" }) >= 2);
    assert.ok(metricValue(text, "watch_auditor_inconclusive_total", { probe: "default", reason: "api_error" }) >= 3);
    assert.equal(metricValue(text, "watch_auditor_checks_total", { probe: "default", result: "inconclusive" }), metricValue(text, "watch_auditor_inconclusive_total", { probe: "default" }));
    assert.match(text, /watch_controller_failures_total\{probe="default"\} 0/);
  } finally {
    await s.stop();
    assert.deepEqual(managedPods(c.api), []);
    await c.close();
  }
});

test("inconclusive checks leave the failure count unchanged", async () => {
  const c = await startCluster({ controller: { mode: "dead" } });
  const s = await startServe(c, [...FAST, "--leader-elect", "false", "--failure-threshold", "100"]);
  try {
    await eventually(async () => (await s.metric("watch_controller_failures_total", { probe: "default" })) >= 2, { timeoutMs: 20_000, what: "2 fails" });
    c.api.faults.inject({ verb: "get", pathRegex: "/namespaces/neuvector/pods/watch-auditor-", status: 503, count: 3 });
    await eventually(async () => (await s.metric("watch_auditor_checks_total", { probe: "default", result: "inconclusive" })) >= 3, { timeoutMs: 20_000, what: "3 inconclusive" });
    await eventually(async () => {
      const text = await s.metricsText();
      const fails = metricValue(text, "watch_controller_failures_total", { probe: "default" });
      // Dead controller: every conclusive check fails, so an unchanged-by-inconclusive count equals the fail total.
      assert.equal(metricValue(text, "watch_auditor_consecutive_failures", { probe: "default" }), fails);
      return fails >= 3;
    }, { timeoutMs: 20_000, what: "a fail after the inconclusive ones" });
    const checks = [...(await s.status()).probes.default!.checks].sort((a, b) => a.startedAt.localeCompare(b.startedAt));
    assert.ok(checks.some((x) => x.result === "inconclusive") && !checks.some((x) => x.result === "pass"));

    // /readyz follows the API: not ready while it refuses us, ready again after.
    assert.equal((await s.get("/readyz")).status, 200);
    c.api.faults.inject({ verb: "list", pathRegex: "/namespaces/neuvector/pods$", status: 503 });
    const notReady = await eventually(async () => {
      const r = await s.get("/readyz");
      return r.status === 503 ? r : undefined;
    }, { what: "not ready" });
    assert.match(notReady.body, /unreachable/);
    c.api.faults.clear();
    await eventually(async () => (await s.get("/readyz")).status === 200, { what: "ready again" });
  } finally {
    await s.stop();
    await c.close();
  }
});
