// The update and delete stimuli: a merge patch of an existing object whose answer the operator
// must write back (a condition holding {{runId}}), and the deletion of an object whose
// finalizer the operator must remove (`not exists` on the stimulus). Each passes with the
// operator running, fails with it paused, and --print-rbac grants exactly the named objects.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { KubeClient } from "../../src/core/kube/index.js";
import { runCli } from "../support/cli.js";
import { eventually, metricValue as mv, startCluster, startServe } from "./helpers.js";
import { WIDGET_CRD, WIDGET_FINALIZER, WIDGET_PING, widgetOperator } from "./sim/reactors.js";

const NS = "apps";

function probes(): unknown {
  const common = { kind: "reaction", every: "200ms", deadline: "1s", pollInterval: "100ms", mode: "audit" };
  return {
    probes: [
      {
        name: "ping",
        ...common,
        stimulus: { update: { apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "pinger", namespace: NS, annotations: { [WIDGET_PING]: "{{runId}}" } } } },
        expect: [{ condition: "status.pong == '{{runId}}'" }, { condition: "metadata.annotations['watch-auditor.dev/run-id'] == '{{runId}}'" }],
      },
      {
        name: "finalize",
        ...common,
        // The object comes back 300 ms after it is gone (below): the next cycle must find it again.
        every: "1s",
        stimulus: { delete: { apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "doomed", namespace: NS } } },
        expect: [{ condition: "not exists" }],
      },
    ],
  };
}

test("update and delete stimuli: pass while the operator runs, fail while it is paused; RBAC names the objects", async () => {
  const c = await startCluster();
  const store = c.api.store;
  store.create(WIDGET_CRD);
  store.create({ apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "pinger", namespace: NS }, spec: { size: 1 } });
  const doomed = () => store.create({ apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "doomed", namespace: NS, finalizers: [WIDGET_FINALIZER] }, spec: { size: 1 } });
  doomed();
  // Whatever keeps "doomed" around (a GitOps tool, say) puts it back a while after it is gone.
  let recreated = 0;
  const unsubscribe = store.onChange((e) => {
    if (e.type === "DELETED" && e.resource.resource === "widgets" && e.object.metadata.name === "doomed")
      setTimeout(() => {
        recreated++;
        try {
          doomed();
        } catch {
          // the store is closing
        }
      }, 300);
  });
  const kube = await KubeClient.load({ kubeconfig: c.kubeconfig });
  const operator = await widgetOperator(kube).listen();
  const file = join(c.dir, "probes.yaml");
  await writeFile(file, JSON.stringify(probes()));
  try {
    const rbac = await runCli(["serve", "--config", file, "--print-rbac", "--kubeconfig", c.kubeconfig, "--leader-elect", "false"]);
    assert.equal(rbac.code, 0, rbac.stderr);
    const role = parseAllDocuments(rbac.stdout).map((d) => d.toJS() as { kind: string; metadata: { namespace?: string }; rules?: unknown[] }).find((d) => d.kind === "Role")!;
    assert.equal(role.metadata.namespace, NS);
    assert.deepEqual(role.rules, [
      { apiGroups: ["example.com"], resources: ["widgets"], verbs: ["get", "delete"], resourceNames: ["doomed"] },
      { apiGroups: ["example.com"], resources: ["widgets"], verbs: ["get", "patch"], resourceNames: ["pinger"] },
    ]);

    const s = await startServe(c, ["--leader-elect", "false", "--config", file]);
    try {
      for (const probe of ["ping", "finalize"]) await eventually(async () => (await s.metric("watch_auditor_checks_total", { probe, result: "pass" })) >= 2, { timeoutMs: 20_000, what: `two passes of ${probe}` });
      assert.ok(recreated >= 1, "the deleted object was gone, then recreated");
      const pinger = store.get("widgets.example.com", NS, "pinger")!;
      // The update stimulus never labels the existing object as ours: the sweep must not delete it.
      assert.equal(pinger.metadata.labels?.["app.kubernetes.io/managed-by"], undefined);

      operator.pause();
      const before = { ping: await s.metric("watch_auditor_checks_total", { probe: "ping", result: "fail" }), finalize: await s.metric("watch_auditor_checks_total", { probe: "finalize", result: "fail" }) };
      assert.deepEqual(before, { ping: 0, finalize: 0 });
      for (const probe of ["ping", "finalize"]) await eventually(async () => (await s.metric("watch_auditor_checks_total", { probe, result: "fail" })) >= 1, { timeoutMs: 20_000, what: `a fail of ${probe} while paused` });
      const status = JSON.parse((await s.get("/status")).body) as { probes: Record<string, { checks: { result: string; reason: string }[] }> };
      assert.match(status.probes.ping!.checks.find((x) => x.result === "fail")!.reason, /expectation 1 \(stimulus: status\.pong == '[^']+'\) did not hold within 1000ms: status\.pong = "/);
      assert.match(status.probes.finalize!.checks.find((x) => x.result === "fail")!.reason, /expectation 1 \(stimulus: not exists\) did not hold within 1000ms: the object exists/);
      assert.ok(store.get("widgets.example.com", NS, "pinger"), "the updated object is never deleted");

      operator.resume();
      for (const probe of ["ping", "finalize"]) await eventually(async () => (await s.metric("watch_auditor_consecutive_failures", { probe })) === 0, { timeoutMs: 20_000, what: `${probe} to pass again` });
    } finally {
      const r = await s.stop();
      assert.equal(r.code, 0, r.stderr);
    }
  } finally {
    unsubscribe();
    await operator.stop();
    kube.close();
    await c.close();
  }
});

test("a slow operator: a fail under a tight deadline, a pass with the measured reaction under a loose one", async () => {
  const c = await startCluster();
  c.api.store.create(WIDGET_CRD);
  const kube = await KubeClient.load({ kubeconfig: c.kubeconfig });
  const operator = await widgetOperator(kube, { delayMs: 1500 }).listen();
  const widget = (name: string, deadline: string) => ({
    name,
    kind: "reaction",
    every: "200ms",
    deadline,
    pollInterval: "100ms",
    stimulus: { create: { apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "{{name}}", namespace: NS }, spec: { size: 1 } } },
    expect: [{ condition: "status.phase == Ready" }],
  });
  const file = join(c.dir, "slow.yaml");
  await writeFile(file, JSON.stringify({ probes: [widget("tight", "800ms"), widget("loose", "5s")] }));
  const s = await startServe(c, ["--leader-elect", "false", "--config", file]);
  try {
    await eventually(
      async () => (await s.metric("watch_auditor_checks_total", { probe: "tight", result: "fail" })) >= 1 && (await s.metric("watch_auditor_checks_total", { probe: "loose", result: "pass" })) >= 1,
      { timeoutMs: 30_000, what: "a tight fail and a loose pass" },
    );
    assert.equal(await s.metric("watch_auditor_checks_total", { probe: "tight", result: "pass" }), 0);
    const status = JSON.parse((await s.get("/status")).body) as { probes: Record<string, { checks: { result: string; reason: string; reactionSeconds?: number }[] }> };
    assert.match(status.probes.tight!.checks.find((x) => x.result === "fail")!.reason, /status\.phase == Ready\) did not hold within 800ms: status\.phase is absent/);
    const pass = status.probes.loose!.checks.find((x) => x.result === "pass")!;
    assert.ok(pass.reactionSeconds! >= 1.5 && pass.reactionSeconds! < 5, `reaction ${pass.reactionSeconds}`);
    const text = await s.metricsText();
    assert.equal(mv(text, "watch_auditor_reaction_seconds_bucket", { probe: "loose", le: "1" }), 0, "no reaction under 1 s");
    assert.ok(mv(text, "watch_auditor_reaction_seconds_bucket", { probe: "loose", le: "3" }) >= 1);
    assert.equal(mv(text, "watch_auditor_reaction_seconds_count", { probe: "tight" }), 0, "a fail observes no reaction time");
  } finally {
    await s.stop();
    await operator.stop();
    kube.close();
    await c.close();
  }
});
