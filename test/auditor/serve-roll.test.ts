// End to end: thresholds, rolls, cooldown and flapping, with `serve` as a real process.
import { test } from "node:test";
import assert from "node:assert/strict";
import { CONTROLLER_NS, FAST, eventually, metricValue as mv, startCluster, startServe } from "./helpers.js";
import { DEPLOYMENT_NAME } from "./sim/controller.js";

test("dead controller: fails, rolls the Deployment exactly after N consecutive fails, respects the cooldown", async () => {
  const c = await startCluster({ controller: { mode: "dead" } });
  const s = await startServe(c, [...FAST, "--leader-elect", "false", "--failure-threshold", "2", "--cooldown", "1500ms"]);
  try {
    await eventually(() => c.controller.restarts >= 2, { timeoutMs: 30_000, what: "two rollout restarts" });
    const status = await s.status();
    const probe = status.probes.default!;
    const checks = [...probe.checks].sort((a, b) => a.startedAt.localeCompare(b.startedAt));
    assert.ok(!checks.some((x) => x.result === "pass"), JSON.stringify(checks.map((x) => [x.result, x.reason])));
    assert.match(checks.find((x) => x.result === "fail")!.reason, /main container exited but "istio-proxy" still runs after 800ms/);
    const rollEvents = await eventually(() => {
      const evs = c.api.store.list("events", CONTROLLER_NS).filter((e) => e.reason === "WatchControllerRolled");
      return evs.length >= 2 ? evs : undefined;
    }, { what: "an Event per roll" });
    assert.equal((rollEvents[0]!.involvedObject as { kind: string }).kind, "Deployment");
    assert.equal((rollEvents[0]!.involvedObject as { name: string }).name, DEPLOYMENT_NAME);
    // Cooldown: the second roll came no sooner than 1.5 s after the first.
    assert.ok(c.controller.restartTimes[1]! - c.controller.restartTimes[0]! >= 1400, `rolls ${c.controller.restartTimes[1]! - c.controller.restartTimes[0]!}ms apart`);

    const text = await s.metricsText();
    const rolls = mv(text, "watch_auditor_rolls_total", { probe: "default", method: "rollout_restart" });
    const fails = mv(text, "watch_controller_failures_total", { probe: "default" });
    assert.equal(rolls, c.controller.restarts);
    assert.equal(mv(text, "watch_controller_deletions_total", { probe: "default" }), rolls, "one per rollout restart");
    // Cooldown: fails between the two rolls were refused a roll.
    assert.ok(mv(text, "watch_auditor_rolls_skipped_total", { probe: "default", reason: "cooldown" }) >= 1);
    assert.ok(fails >= 3);
    assert.equal(mv(text, "watch_auditor_consecutive_failures", { probe: "default" }), fails, "never reset by a roll, only by a pass");
    assert.equal(mv(text, "watch_auditor_checks_total", { probe: "default", result: "pass" }), 0);
    assert.equal(probe.rollsLastHour, rolls);
  } finally {
    const r = await s.stop();
    assert.equal(r.code, 0, r.stderr);
    await c.close();
  }
});

test("exactly N: with a long cooldown, one roll after the 3rd consecutive fail, none after", async () => {
  const c = await startCluster({ controller: { mode: "dead" } });
  const s = await startServe(c, [...FAST, "--leader-elect", "false", "--failure-threshold", "3", "--cooldown", "10m"]);
  try {
    await eventually(() => c.controller.restarts === 1, { timeoutMs: 20_000, what: "first roll" });
    const atRoll = await s.status();
    const rollAt = atRoll.probes.default!.lastRoll!.at;
    // Exactly N: three fails had ended when the roll was decided, and no earlier roll.
    const failsBefore = atRoll.probes.default!.checks.filter((x) => x.result === "fail" && x.endedAt <= rollAt).length;
    assert.equal(failsBefore, 3);
    assert.equal(atRoll.probes.default!.lastRoll?.method, "rollout_restart");
    assert.deepEqual(atRoll.probes.default!.lastRoll?.deployments, [DEPLOYMENT_NAME]);
    await eventually(async () => (await s.metric("watch_controller_failures_total", { probe: "default" })) >= 6, { timeoutMs: 20_000, what: "6 fails" });
    assert.equal(c.controller.restarts, 1, "cooldown holds further rolls");
    assert.ok((await s.metric("watch_auditor_rolls_skipped_total", { probe: "default", reason: "cooldown" })) >= 2);
  } finally {
    await s.stop();
    await c.close();
  }
});

test("pods without a Deployment are deleted; a recovered controller passes and the counter resets", async () => {
  const c = await startCluster({ controller: { mode: "dead", workload: "bare", replicas: 2, recoverOnRoll: true } });
  const s = await startServe(c, [...FAST, "--leader-elect", "false", "--failure-threshold", "2"]);
  try {
    await eventually(async () => (await s.metric("watch_auditor_checks_total", { probe: "default", result: "pass" })) >= 1, { timeoutMs: 20_000, what: "a pass after the roll" });
    assert.equal(c.controller.podDeletions, 2);
    assert.equal(await s.metric("watch_auditor_rolls_total", { probe: "default", method: "delete_pods" }), 1);
    assert.equal(await s.metric("watch_controller_deletions_total", { probe: "default" }), 2, "one per deleted pod");
    assert.equal(await s.metric("watch_auditor_consecutive_failures", { probe: "default" }), 0);
    const events = c.api.store.list("events", CONTROLLER_NS).filter((e) => e.reason === "WatchControllerRolled");
    assert.equal(events.length, 2);
    assert.ok(events.every((e) => (e.involvedObject as { kind: string }).kind === "Pod"));
  } finally {
    await s.stop();
    await c.close();
  }
});

test("flapping controller: the counter resets on every pass, so no roll", async () => {
  const c = await startCluster({ controller: { mode: "flapping", pattern: [false, true] } });
  const s = await startServe(c, [...FAST, "--leader-elect", "false", "--failure-threshold", "2"]);
  try {
    await eventually(
      async () => (await s.metric("watch_auditor_checks_total", { probe: "default", result: "fail" })) >= 3 && (await s.metric("watch_auditor_checks_total", { probe: "default", result: "pass" })) >= 3,
      { timeoutMs: 30_000, what: "3 fails and 3 passes" },
    );
    const status = await s.status();
    assert.ok(status.probes.default!.consecutiveFailures <= 1);
    assert.equal(c.controller.restarts, 0);
    assert.equal(await s.metric("watch_auditor_rolls_total"), 0);
  } finally {
    await s.stop();
    await c.close();
  }
});

test("audit mode reports but never rolls", async () => {
  const c = await startCluster({ controller: { mode: "dead" } });
  const s = await startServe(c, [...FAST, "--leader-elect", "false", "--failure-threshold", "1", "--mode", "audit"]);
  try {
    await eventually(async () => (await s.metric("watch_auditor_rolls_skipped_total", { probe: "default", reason: "audit_mode" })) >= 2, { timeoutMs: 20_000, what: "skipped rolls" });
    assert.equal(c.controller.restarts, 0);
    assert.equal(c.controller.podDeletions, 0);
  } finally {
    await s.stop();
    await c.close();
  }
});
