// End to end: thresholds, rolls, cooldown and flapping, with `serve` as a real process.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CONTROLLER_NS, FAST, eventually, metricValue as mv, startCluster, startServe } from "./helpers.js";
import { DEPLOYMENT_NAME } from "./sim/controller.js";

test("dead controller: fails, rolls the Deployment exactly at the Nth consecutive fail, then only after the cooldown", async () => {
  const c = await startCluster({ controller: { mode: "dead" } });
  const s = await startServe(c, [...FAST, "--leader-elect", "false", "--failure-threshold", "2", "--cooldown", "2s"]);
  try {
    // The first roll: decided exactly when the 2nd consecutive fail ended (inconclusive ones do not count).
    const atFirst = await eventually(async () => {
      const p = (await s.status()).probes.default!;
      return p.rolls.length >= 1 ? p : undefined;
    }, { timeoutMs: 40_000, what: "a rollout restart" });
    const first = atFirst.rolls.at(-1)!;
    const checks = [...atFirst.checks].sort((a, b) => a.startedAt.localeCompare(b.startedAt));
    assert.ok(!checks.some((x) => x.result === "pass"), JSON.stringify(checks.map((x) => [x.result, x.reason])));
    assert.match(checks.find((x) => x.result === "fail")!.reason, /main container exited but "istio-proxy" still runs after 800ms/);
    assert.equal(checks.filter((x) => x.result === "fail" && x.endedAt <= first.at).length, 2);
    assert.equal(first.method, "rollout_restart");
    assert.deepEqual(first.deployments, [DEPLOYMENT_NAME]);
    // Cooldown: the second roll comes no sooner than 2 s after the first, though fails go on.
    const probe = await eventually(async () => {
      const p = (await s.status()).probes.default!;
      return p.rolls.length >= 2 ? p : undefined;
    }, { timeoutMs: 40_000, what: "a second rollout restart" });
    const second = probe.rolls[0]!;
    assert.equal(probe.rolls.at(-1)!.at, first.at);
    assert.ok(Date.parse(second.at) - Date.parse(first.at) >= 2000, `rolls ${Date.parse(second.at) - Date.parse(first.at)}ms apart`);
    assert.ok(c.controller.restartTimes[1]! - c.controller.restartTimes[0]! >= 1900);
    const dep = c.api.store.get("deployments.apps", CONTROLLER_NS, DEPLOYMENT_NAME)!;
    assert.ok((dep.spec as { template: { metadata: { annotations: Record<string, string> } } }).template.metadata.annotations["kubectl.kubernetes.io/restartedAt"]);
    const rollEvents = await eventually(() => {
      const evs = c.api.store.list("events", CONTROLLER_NS).filter((e) => e.reason === "WatchControllerRolled");
      return evs.length >= 2 ? evs : undefined;
    }, { what: "an Event per roll" });
    assert.equal((rollEvents[0]!.involvedObject as { kind: string }).kind, "Deployment");
    assert.equal((rollEvents[0]!.involvedObject as { name: string }).name, DEPLOYMENT_NAME);
    assert.match(s.child.output.stderr, /"msg":"rolled the watch controller"/);

    const text = await s.metricsText();
    const rolls = mv(text, "watch_auditor_rolls_total", { probe: "default", method: "rollout_restart" });
    const fails = mv(text, "watch_controller_failures_total", { probe: "default" });
    assert.equal(rolls, c.controller.restarts);
    assert.equal(mv(text, "watch_controller_deletions_total", { probe: "default" }), rolls, "one per rollout restart");
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

test("slow controller: a fail under a tight deadline, a pass with the measured reaction under a loose one", async () => {
  const c = await startCluster({ controller: { mode: "slow", slowDelayMs: 1500 } });
  const config = join(c.dir, "probes.yaml");
  await writeFile(config, "probes:\n  - name: tight\n    canary: { deadline: 600ms }\n  - name: loose\n    canary: { deadline: 6s }\n");
  const s = await startServe(c, [...FAST, "--leader-elect", "false", "--mode", "audit", "--config", config]);
  try {
    await eventually(
      async () =>
        (await s.metric("watch_auditor_checks_total", { probe: "tight", result: "fail" })) >= 1 &&
        (await s.metric("watch_auditor_checks_total", { probe: "loose", result: "pass" })) >= 1,
      { timeoutMs: 40_000, what: "a tight fail and a loose pass" },
    );
    const status = await s.status();
    const pass = status.probes.loose!.checks.find((x) => x.result === "pass")!;
    assert.ok(pass.reactionSeconds! >= 1.4 && pass.reactionSeconds! < 6, `reaction ${pass.reactionSeconds}`);
    assert.equal(await s.metric("watch_auditor_checks_total", { probe: "tight", result: "pass" }), 0);
    const text = await s.metricsText();
    assert.equal(mv(text, "watch_auditor_reaction_seconds_bucket", { probe: "loose", le: "1" }), 0, "no reaction under 1 s");
    assert.ok(mv(text, "watch_auditor_reaction_seconds_bucket", { probe: "loose", le: "2" }) >= 1 || mv(text, "watch_auditor_reaction_seconds_bucket", { probe: "loose", le: "3" }) >= 1);
  } finally {
    await s.stop();
    await c.close();
  }
});
