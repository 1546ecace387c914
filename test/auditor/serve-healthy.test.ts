// End to end: `watch-auditor serve` as a real process against the test API server with a
// healthy simulated controller. Scrapes /metrics (and checks it with promtool), /status, /readyz.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { KubeObject } from "../support/kube-apiserver/index.js";
import { CONTROLLER_NS, FAST, eventually, managedPods, metricValue, startCluster, startServe } from "./helpers.js";

test("healthy controller: checks pass, nothing is rolled, canaries are deleted, metrics are valid", async () => {
  const c = await startCluster({ controller: { mode: "healthy" } });
  // A generous deadline: a healthy controller reacts in milliseconds, but the 2 shared cores may stall the simulation.
  // Two probes from --config: "default" inherits the flags, "custom" brings its own pod spec.
  const config = join(c.dir, "probes.yaml");
  await writeFile(
    config,
    `probes:
  - name: default
  - name: custom
    canary:
      labels: { team: platform }
      mainContainer: job
      podSpec:
        restartPolicy: Never
        containers:
          - { name: job, image: busybox, command: ["sh", "-c", "sleep 0.2"] }
          - { name: istio-proxy, image: busybox, command: ["sh", "-c", "sleep 86400"] }
`,
  );
  const created: KubeObject[] = [];
  c.api.store.onChange((e) => {
    if (e.type === "ADDED" && e.resource.resource === "pods") created.push(e.object);
  });
  const s = await startServe(c, [...FAST, "--canary-deadline", "3s", "--leader-elect", "false", "--failure-threshold", "1", "--config", config]);
  try {
    await eventually(
      async () =>
        (await s.metric("watch_auditor_checks_total", { probe: "default", result: "pass" })) >= 3 &&
        (await s.metric("watch_auditor_checks_total", { probe: "custom", result: "pass" })) >= 1,
      { timeoutMs: 30_000, what: "passes of both probes" },
    );
    const custom = created.find((p) => p.metadata.labels?.["watch-auditor.dev/probe"] === "custom")!;
    assert.equal(custom.metadata.labels!.team, "platform");
    assert.deepEqual((custom.spec as { containers: { name: string }[] }).containers.map((x) => x.name), ["job", "istio-proxy"]);
    assert.equal((await s.status()).probes.custom!.checks.find((x) => x.result === "pass")!.canary.startsWith("watch-auditor-custom-"), true);
    const text = await s.metricsText();
    const m = (n: string, l?: Record<string, string>) => metricValue(text, n, { probe: "default", ...l });
    assert.equal(m("watch_auditor_checks_total", { result: "fail" }), 0);
    assert.equal(m("watch_auditor_checks_total", { result: "inconclusive" }), 0);
    assert.equal(m("watch_controller_failures_total"), 0);
    assert.equal(m("watch_controller_deletions_total"), 0);
    assert.equal(m("watch_auditor_consecutive_failures"), 0);
    assert.ok(Math.abs(m("watch_auditor_last_success_timestamp_seconds") - Date.now() / 1000) < 30);
    assert.ok(m("watch_auditor_reaction_seconds_count") >= 3);
    assert.match(text, /^process_resident_memory_bytes \d+/m);
    assert.doesNotMatch(text, /watch_auditor_rolls_total\{[^}]*\} [1-9]/);
    assert.equal(c.controller.restarts, 0);
    assert.equal(c.controller.podDeletions, 0);

    // promtool validates the exposition format and naming conventions.
    const pt = spawnSync("/usr/bin/promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
    assert.equal(pt.status, 0, `promtool: ${pt.stdout}${pt.stderr}`);

    const status = await s.status();
    assert.equal(status.leader, true);
    const probe = status.probes.default!;
    assert.equal(probe.consecutiveFailures, 0);
    const pass = probe.checks.find((x) => x.result === "pass")!;
    assert.match(pass.canary, /^watch-auditor-default-[a-z0-9]{6}$/);
    assert.equal(pass.cleanup, "deleted");
    assert.ok(pass.timings.created! <= pass.timings.running!);
    assert.ok(pass.timings.running! <= pass.timings.done!);
    assert.ok(pass.reactionSeconds! >= 0 && pass.reactionSeconds! < 0.6, `reaction ${pass.reactionSeconds}`);
    // Unique names: cycles never reuse a canary name.
    assert.equal(new Set(probe.checks.map((x) => x.canary)).size, probe.checks.length);
    // Cycles never overlap: each starts after the previous one ended.
    const sorted = [...probe.checks].sort((a, b) => a.startedAt.localeCompare(b.startedAt));
    for (let i = 1; i < sorted.length; i++) assert.ok(sorted[i]!.startedAt >= sorted[i - 1]!.endedAt, "overlapping cycles");

    assert.equal((await s.get("/healthz")).status, 200);
    const ready = await s.get("/readyz");
    assert.equal(ready.status, 200, ready.body);
    // The canary is observed by polling GET, never by a watch.
    const canaryRequests = c.api.requests.filter((r) => r.resource === "pods" && r.namespace === "neuvector");
    assert.ok(canaryRequests.some((r) => r.verb === "get"));
    assert.ok(!canaryRequests.some((r) => r.verb === "watch"), "auditor must not watch the canary");
    assert.ok(!c.api.requests.some((r) => r.namespace === CONTROLLER_NS && r.verb !== "get" && r.verb !== "list"), "nothing written in the controller namespace");
  } finally {
    const r = await s.stop();
    assert.equal(r.code, 0, r.stderr);
    // Every canary was deleted, including the one in flight at SIGTERM.
    assert.deepEqual(managedPods(c.api), []);
    await c.close();
  }
});
