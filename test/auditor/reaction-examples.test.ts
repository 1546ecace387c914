// The shipped probe examples (deploy/auditor/probes/*.yaml) run by `watch-auditor serve` as a
// real process against the test API server, with small controllers that react through the
// product's own client (sim/reactors.ts) or the server's simulated deployment controller:
// healthy → pass with a measured reaction time and nothing left behind; controllers stopped →
// fail, roll at the threshold, pass again once rolled (the count resets); the RBAC rendered by
// `serve --print-rbac` is enough (zero 403) and every rule of it is needed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parse as parseYaml, parseAllDocuments } from "yaml";
import { KubeClient, type GVR } from "../../src/core/kube/index.js";
import { runCli } from "../support/cli.js";
import { CANARY_NS, eventually, managedPods, metricValue as mv, startCluster, startServe, type Cluster, type Serve } from "./helpers.js";
import { DeploymentControllerProcess, WIDGET_CRD, networkPolicyGenerator, secretReplicator, widgetOperator, type Reacting, type Workload } from "./sim/reactors.js";

const PROBES_DIR = new URL("../../deploy/auditor/probes/", import.meta.url);
const REACTION_PROBES = ["namespace-networkpolicy", "widget-operator", "deployment-controller", "secret-replicator"];
const SA_USER = "system:serviceaccount:watch-auditor:watch-auditor";

const WORKLOADS: Record<string, Workload> = {
  "namespace-networkpolicy": { namespace: "kyverno", name: "kyverno-background-controller", kind: "Deployment", podLabels: { "app.kubernetes.io/component": "background-controller" } },
  "widget-operator": { namespace: "widget-system", name: "widget-operator", kind: "Deployment", podLabels: { app: "widget-operator" } },
  "secret-replicator": { namespace: "kube-replicator", name: "replicator", kind: "StatefulSet", podLabels: { "app.kubernetes.io/name": "replicator" } },
  "deployment-controller": { namespace: "kube-system", name: "kube-controller-manager-node1", kind: "bare", podLabels: { component: "kube-controller-manager" } },
};

interface ExpectationBody {
  target: string;
  condition: string;
  holds: boolean | string;
  observed?: string;
}
interface ReactionCheck {
  runId: string;
  result: string;
  reason: string;
  inconclusive?: string;
  canary: string;
  reactionSeconds?: number;
  cleanup: string;
  cleanupError?: string;
  reaction?: { stimulus: { action: string; kind: string; name: string }; expectations: ExpectationBody[]; failed?: number; deleted: string[] };
}
interface ReactionProbeBody {
  kind: string;
  stimulus?: string;
  expect?: string[];
  consecutiveFailures: number;
  rolls: { method: string; deployments: string[]; workloads?: string[]; podsDeleted: string[]; errors: string[] }[];
  checks: ReactionCheck[];
}
async function probeStatus(s: Serve, name: string): Promise<ReactionProbeBody> {
  return JSON.parse((await s.get("/status")).body).probes[name] as ReactionProbeBody;
}

/** All shipped examples in one probes file, with test timings (the stimulus, reactions and roll targets are the shipped ones). */
async function examplesConfig(dir: string, opts: { only?: string[]; deadline?: string; mode?: string; failureThreshold?: number } = {}): Promise<string> {
  const probes: Record<string, unknown>[] = [];
  for (const f of (await readdir(PROBES_DIR)).filter((x) => x.endsWith(".yaml") && x !== "rbac.yaml").sort()) {
    const doc = parseYaml(await readFile(new URL(f, PROBES_DIR), "utf8")) as { probes: Record<string, unknown>[] };
    for (const p of doc.probes) {
      if (opts.only && !opts.only.includes(p.name as string)) continue;
      if (p.kind === "reaction") Object.assign(p, { every: "300ms", deadline: opts.deadline ?? "3s", pollInterval: "100ms" });
      else Object.assign(p, { every: "200ms", canary: { ...(p.canary as object), lifetime: "300ms", deadline: "800ms", pollInterval: "50ms", startTimeout: "5s" } });
      if (opts.mode) p.mode = opts.mode;
      if (opts.failureThreshold) p.failureThreshold = opts.failureThreshold;
      probes.push(p);
    }
  }
  const file = join(dir, "probes.yaml");
  await writeFile(file, JSON.stringify({ probes }));
  return file;
}

interface World {
  cluster: Cluster;
  admin: KubeClient;
  adminKubeconfig: string;
  reactors: Record<string, Reacting & { reacted?: string[] }>;
  close(): Promise<void>;
}

async function startWorld(opts: { rbac?: boolean; recoverOnRoll?: boolean; widgetDelayMs?: number } = {}): Promise<World> {
  const tokens = { admin: { user: "admin", groups: ["system:masters"] }, sa: { user: SA_USER, groups: ["system:serviceaccounts", "system:authenticated"] } };
  // Without RBAC the auditor is anonymous and the controllers "admin": requests tell who sent them.
  // requireNamespaces: as NamespaceLifecycle admission, no object lands in a deleted namespace (a
  // controller reacting late to a stimulus namespace must not leave an orphan behind).
  const namespaces = ["watch-auditor", "watch-auditor-probes", "watch-auditor-copies", CANARY_NS, "pepr-system", ...new Set(Object.values(WORKLOADS).map((w) => w.namespace))];
  const server = { tokens, requireNamespaces: true, ...(opts.rbac ? { authz: "rbac" as const } : {}) };
  const cluster = await startCluster({ server, namespaces, ...(opts.rbac ? { token: "sa" } : {}) });
  const adminKubeconfig = cluster.api.writeKubeconfig(cluster.dir, { token: "admin", user: "admin" });
  const admin = await KubeClient.load({ kubeconfig: adminKubeconfig });
  cluster.api.store.create(WIDGET_CRD);
  const store = cluster.api.store;
  const recover = { recoverOnRoll: opts.recoverOnRoll ?? false };
  const reactors: World["reactors"] = {
    "namespace-networkpolicy": await networkPolicyGenerator(admin, recover).start(store, WORKLOADS["namespace-networkpolicy"]!),
    "widget-operator": await widgetOperator(admin, { ...recover, delayMs: opts.widgetDelayMs }).start(store, WORKLOADS["widget-operator"]!),
    "secret-replicator": await secretReplicator(admin, recover).start(store, WORKLOADS["secret-replicator"]!),
    "deployment-controller": new DeploymentControllerProcess(store, recover).start(WORKLOADS["deployment-controller"]!),
  };
  return {
    cluster,
    admin,
    adminKubeconfig,
    reactors,
    async close() {
      for (const r of Object.values(reactors)) await r.stop();
      admin.close();
      await cluster.close();
    },
  };
}

/** Every object the probes could have left: stimuli, reactions, canaries. */
function leftovers(w: World): string[] {
  const store = w.cluster.api.store;
  const ours = (o: { metadata: { labels?: Record<string, string> } }) => o.metadata.labels?.["app.kubernetes.io/managed-by"] === "watch-auditor";
  return [
    ...store.list("namespaces").filter(ours).map((o) => `namespace ${o.metadata.name}`),
    ...store.list("networkpolicies.networking.k8s.io").map((o) => `networkpolicy ${o.metadata.namespace}/${o.metadata.name}`),
    ...store.list("widgets.example.com").map((o) => `widget ${o.metadata.name}`),
    ...store.list("deployments.apps", "watch-auditor-probes").map((o) => `deployment ${o.metadata.name}`),
    ...store.list("replicasets.apps", "watch-auditor-probes").map((o) => `replicaset ${o.metadata.name}`),
    ...store.list("secrets", "watch-auditor-probes").map((o) => `secret ${o.metadata.name}`),
    ...store.list("secrets", "watch-auditor-copies").map((o) => `copied secret ${o.metadata.name}`),
    ...managedPods(w.cluster.api, CANARY_NS).map((n) => `canary ${n}`),
  ];
}

test("healthy controllers: every shipped example passes with a measured reaction time, /status shows each reaction, nothing is left behind", async () => {
  const w = await startWorld({ widgetDelayMs: 400 });
  const config = await examplesConfig(w.cluster.dir);
  const s = await startServe(w.cluster, ["--leader-elect", "false", "--request-timeout", "10s", "--config", config]);
  try {
    for (const probe of ["sidecar-killer", ...REACTION_PROBES])
      await eventually(async () => (await s.metric("watch_auditor_checks_total", { probe, result: "pass" })) >= 2, { timeoutMs: 40_000, what: `two passes of ${probe}` });
    const text = await s.metricsText();
    for (const probe of REACTION_PROBES) {
      assert.equal(mv(text, "watch_auditor_checks_total", { probe, result: "fail" }), 0, probe);
      assert.ok(mv(text, "watch_auditor_reaction_seconds_count", { probe }) >= 2, `${probe}: reaction time observed`);
      const st = await probeStatus(s, probe);
      assert.equal(st.kind, "reaction");
      assert.match(st.stimulus!, /^create /);
      assert.ok(st.expect!.length >= 1);
      const pass = st.checks.find((c) => c.result === "pass")!;
      assert.equal(pass.cleanup, "deleted", pass.cleanupError);
      assert.ok(pass.reaction!.expectations.every((e) => e.holds === true), JSON.stringify(pass.reaction));
      assert.equal(pass.reaction!.failed, undefined);
      assert.ok(pass.reaction!.deleted.length >= 1, `${probe} deleted its stimulus`);
    }
    // The operator waits 400 ms before it acts: the measured reaction cannot be shorter.
    const widget = (await probeStatus(s, "widget-operator")).checks.filter((c) => c.result === "pass");
    assert.ok(widget.every((c) => c.reactionSeconds! >= 0.4 && c.reactionSeconds! < 3), JSON.stringify(widget.map((c) => c.reactionSeconds)));
    assert.equal(mv(text, "watch_auditor_reaction_seconds_bucket", { probe: "widget-operator", le: "0.25" }), 0);
    // What the controllers did is what the probes saw.
    const ns = (await probeStatus(s, "namespace-networkpolicy")).checks.find((c) => c.result === "pass")!;
    assert.ok(w.reactors["namespace-networkpolicy"]!.reacted!.includes(ns.canary));
    const secret = (await probeStatus(s, "secret-replicator")).checks.find((c) => c.result === "pass")!;
    assert.ok(secret.reaction!.deleted.includes(`Secret/watch-auditor-copies/${secret.canary}`), JSON.stringify(secret.reaction!.deleted));
    // A Secret's values never reach /status (nor the logs, which carry the same text).
    assert.equal(secret.reaction!.expectations[0]!.observed, "data.probe = (1 value not shown: a Secret's field)");
    const value = Buffer.from(secret.runId).toString("base64");
    assert.ok(!(await s.get("/status")).body.includes(value) && !s.child.output.stderr.includes(value));
  } finally {
    const r = await s.stop();
    assert.equal(r.code, 0, r.stderr);
  }
  try {
    // Stimuli, what the controllers created for them, and canaries: all gone.
    await eventually(() => leftovers(w).length === 0, { timeoutMs: 10_000, what: `no leftovers (${leftovers(w).join(", ")})` });
  } finally {
    await w.close();
  }
});

test("stopped controllers: every example fails, rolls its controller at the threshold, and passes again once rolled", async () => {
  const w = await startWorld({ recoverOnRoll: true });
  for (const r of Object.values(w.reactors)) r.pause();
  const config = await examplesConfig(w.cluster.dir, { only: REACTION_PROBES, deadline: "1500ms", mode: "enforcing", failureThreshold: 2 });
  const s = await startServe(w.cluster, ["--leader-elect", "false", "--request-timeout", "10s", "--cooldown", "1m", "--config", config]);
  try {
    for (const probe of REACTION_PROBES)
      await eventually(async () => (await s.metric("watch_auditor_checks_total", { probe, result: "pass" })) >= 1, { timeoutMs: 60_000, what: `${probe} to fail, roll and pass` });
    const text = await s.metricsText();
    const expectedFailure: Record<string, [number, RegExp]> = {
      "namespace-networkpolicy": [0, /NetworkPolicy .*default-deny: exists\) did not hold within 1500ms: the object does not exist/],
      "widget-operator": [0, /stimulus: status\.phase == Ready\) did not hold within 1500ms: status\.phase is absent/],
      "deployment-controller": [0, /ReplicaSet in watch-auditor-probes selected by probe=watch-auditor-deployment-controller-[a-z0-9]{6}: exists\) did not hold within 1500ms: 0 object\(s\) match/],
      "secret-replicator": [0, /Secret watch-auditor-copies\/watch-auditor-secret-replicator-[a-z0-9]{6}: data\.probe exists\) did not hold/],
    };
    const method: Record<string, string> = { "namespace-networkpolicy": "rollout_restart", "widget-operator": "rollout_restart", "deployment-controller": "delete_pods", "secret-replicator": "rollout_restart" };
    for (const probe of REACTION_PROBES) {
      const st = await probeStatus(s, probe);
      const fails = st.checks.filter((c) => c.result === "fail");
      assert.ok(fails.length >= 2, `${probe}: ${fails.length} fails`);
      const [index, reason] = expectedFailure[probe]!;
      assert.equal(fails[0]!.reaction!.failed, index);
      assert.match(fails[0]!.reason, reason);
      assert.equal(fails[0]!.reaction!.expectations[index]!.holds, false);
      assert.equal(fails[0]!.cleanup, "deleted", fails[0]!.cleanupError);
      // Exactly one roll (threshold 2, cooldown 1 m), by the configured method, and it reached the controller.
      assert.equal(st.rolls.length, 1, JSON.stringify(st.rolls));
      assert.equal(st.rolls[0]!.method, method[probe]);
      assert.deepEqual(st.rolls[0]!.errors, []);
      assert.equal(mv(text, "watch_auditor_rolls_total", { probe, method: method[probe]! }), 1);
      assert.ok(w.reactors[probe]!.rolls.length >= 1, `${probe}'s controller saw the roll`);
      assert.ok(!w.reactors[probe]!.paused);
      // The pass after the roll reset the count.
      assert.equal(mv(text, "watch_auditor_consecutive_failures", { probe }), 0);
      assert.ok(mv(text, "watch_controller_failures_total", { probe }) >= 2);
    }
    assert.deepEqual((await probeStatus(s, "widget-operator")).rolls[0]!.deployments, ["widget-operator"]);
    assert.deepEqual((await probeStatus(s, "namespace-networkpolicy")).rolls[0]!.deployments, ["kyverno-background-controller"]);
    assert.deepEqual((await probeStatus(s, "secret-replicator")).rolls[0]!.workloads, ["StatefulSet/replicator"]);
    assert.deepEqual((await probeStatus(s, "deployment-controller")).rolls[0]!.podsDeleted, ["kube-controller-manager-node1-0"]);
    const events = w.cluster.api.store.list("events").filter((e) => e.reason === "WatchControllerRolled");
    assert.deepEqual(events.map((e) => (e.involvedObject as { kind: string }).kind).sort(), ["Deployment", "Deployment", "Pod", "StatefulSet"]);
  } finally {
    const r = await s.stop();
    assert.equal(r.code, 0, r.stderr);
    await w.close();
  }
});

const RBAC: GVR[] = [
  { group: "rbac.authorization.k8s.io", version: "v1", resource: "roles", kind: "Role", namespaced: true },
  { group: "rbac.authorization.k8s.io", version: "v1", resource: "rolebindings", kind: "RoleBinding", namespaced: true },
  { group: "rbac.authorization.k8s.io", version: "v1", resource: "clusterroles", kind: "ClusterRole", namespaced: false },
  { group: "rbac.authorization.k8s.io", version: "v1", resource: "clusterrolebindings", kind: "ClusterRoleBinding", namespaced: false },
];

test("serve --print-rbac: the shipped RBAC is what it renders; applied, the probes pass with zero 403; without one rule the probe is inconclusive naming the 403", async () => {
  const w = await startWorld({ rbac: true });
  try {
    const config = await examplesConfig(w.cluster.dir);
    const printed = await runCli(["serve", "--config", config, "--print-rbac", "--kubeconfig", w.adminKubeconfig, "--lease-namespace", "watch-auditor"]);
    assert.equal(printed.code, 0, printed.stderr);
    assert.equal(printed.stdout, await readFile(new URL("rbac.yaml", PROBES_DIR), "utf8"), "deploy/auditor/probes/rbac.yaml is the rendered RBAC of the shipped examples");
    const docs = parseAllDocuments(printed.stdout).map((d) => d.toJS() as { kind: string; metadata: { name: string; namespace?: string }; rules?: { resources: string[]; verbs: string[] }[] });
    for (const d of docs) await w.admin.create(RBAC.find((g) => g.kind === d.kind)!, d, { namespace: d.metadata.namespace });
    const cluster = docs.find((d) => d.kind === "ClusterRole")!;
    // Cluster-wide only what cannot be namespaced: namespaces (cluster-scoped) and the policies inside the per-run namespaces.
    assert.deepEqual(cluster.rules!.map((r) => r.resources[0]).sort(), ["namespaces", "networkpolicies"]);

    const s = await startServe(w.cluster, ["--leader-elect", "false", "--request-timeout", "10s", "--config", config]);
    try {
      for (const probe of ["sidecar-killer", ...REACTION_PROBES])
        await eventually(async () => (await s.metric("watch_auditor_checks_total", { probe, result: "pass" })) >= 1, { timeoutMs: 40_000, what: `a pass of ${probe} under RBAC` });
      const denied = w.cluster.api.requests.filter((r) => r.user === SA_USER && r.status === 403);
      assert.deepEqual(denied.map((r) => `${r.verb} ${r.path}`), [], "the rendered RBAC grants everything the probes need");

      // Take away one rule: reading the generated NetworkPolicies.
      const live = (await w.admin.get<{ rules: { resources: string[] }[] }>(RBAC[2]!, cluster.metadata.name)) as { rules: { resources: string[] }[] };
      live.rules = live.rules.filter((r) => r.resources[0] !== "networkpolicies");
      await w.admin.update(RBAC[2]!, live);
      const check = await eventually(
        async () => (await probeStatus(s, "namespace-networkpolicy")).checks.find((c) => c.result === "inconclusive"),
        { timeoutMs: 20_000, what: "an inconclusive check without the rule" },
      );
      assert.equal(check.inconclusive, "api_error");
      assert.match(check.reason, /403/);
      assert.match(check.reason, /networkpolicies/);
      assert.ok((await s.metric("watch_auditor_inconclusive_total", { probe: "namespace-networkpolicy", reason: "api_error" })) >= 1);
      assert.equal(await s.metric("watch_auditor_checks_total", { probe: "namespace-networkpolicy", result: "fail" }), 0, "a 403 is never a fail");
    } finally {
      const r = await s.stop();
      assert.equal(r.code, 0, r.stderr);
    }
  } finally {
    await w.close();
  }
});

test("a probes file with errors exits 2 naming the file, the probe and the field", async () => {
  const w = await startWorld();
  try {
    const base = (parseYaml(await readFile(new URL("custom-resource-ready.yaml", PROBES_DIR), "utf8")) as { probes: Record<string, unknown>[] }).probes[0]!;
    const cases: [(p: Record<string, unknown>) => void, RegExp][] = [
      [(p) => (p.expect = [{ condition: "status.phase =~ Ready" }]), /probes\[0\]\.expect\[0\]\.condition: bad expression "status\.phase =~ Ready": at column 14: expected an operator .*\(probe "widget-operator"\)/],
      [(p) => (p.expect = [{ condition: "status.phase == '{{nmae}}'" }]), /probes\[0\]\.expect\[0\]\.condition: unknown placeholder \{\{nmae\}\}/],
      [(p) => (p.expect = [{ object: { apiVersion: "v1", kind: "Secret", namespace: "x" }, condition: "exists" }]), /probes\[0\]\.expect\[0\]\.object: needs name or selector \(probe "widget-operator"\)/],
      [(p) => (p.stimulus = { create: { apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "{{name}}" }, spec: { size: "{{size}}" } } }), /probes\[0\]\.stimulus\.create\.spec\.size: unknown placeholder \{\{size\}\}/],
      [(p) => (p.stimulus = { create: { kind: "Widget" } }), /probes\[0\]\.stimulus\.create\.apiVersion: required/],
      [(p) => (p.deadline = 20), /probes\[0\]\.deadline: expected a duration such as "30s", got the number 20/],
      [(p) => (p.roll = { namespace: "x", kind: "Job", name: "y" }), /probes\[0\]\.roll\.kind: Invalid enum value/],
      [(p) => (p.cleanup = [{ apiVersion: "v1", kind: "Secret", namespace: "x", selector: "app=x" }]), /probes\[0\]\.cleanup\[0\]: a cleanup selector must contain \{\{name\}\} or \{\{runId\}\}/],
      [(p) => (p.typo = 1), /probes\[0\]: Unrecognized key\(s\) in object: 'typo' \(probe "widget-operator"\)/],
    ];
    for (const [mutate, re] of cases) {
      const p = structuredClone(base);
      mutate(p);
      const file = join(w.cluster.dir, "bad.yaml");
      await writeFile(file, JSON.stringify({ probes: [p] }));
      const r = await runCli(["serve", "--config", file, "--kubeconfig", w.cluster.kubeconfig, "--port", "0"]);
      assert.equal(r.code, 2, `${re}: ${r.stderr}`);
      assert.ok(r.stderr.includes(`config ${file}: `), r.stderr);
      assert.match(r.stderr, re);
    }
  } finally {
    await w.close();
  }
});

test("a refused stimulus, an unserved resource and a reaction that cannot be judged are inconclusive, never a pass", async () => {
  const w = await startWorld();
  try {
    const file = join(w.cluster.dir, "refused.yaml");
    const probe = (name: string, create: Record<string, unknown>, expect: unknown[] = [{ condition: "exists" }]) => ({ name, kind: "reaction", every: "300ms", deadline: "1s", pollInterval: "100ms", stimulus: { create }, expect });
    const widget = { apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "{{name}}", namespace: "watch-auditor-probes" } };
    await writeFile(
      file,
      JSON.stringify({
        probes: [
          probe("invalid", { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "{{name}}", namespace: "watch-auditor-probes" }, data: { k: 1 } }),
          probe("unserved", { apiVersion: "example.com/v1", kind: "Gadget", metadata: { name: "{{name}}", namespace: "watch-auditor-probes" } }),
          // The operator sets status.phase to "Ready": a string is not ordered against a number.
          probe("unjudgeable", widget, [{ condition: "status.phase > 3" }]),
          probe("unserved-reaction", widget, [{ object: { apiVersion: "example.com/v1", kind: "Gadget", namespace: "x", name: "{{name}}" }, condition: "exists" }]),
        ],
      }),
    );
    const s = await startServe(w.cluster, ["--leader-elect", "false", "--config", file]);
    try {
      await eventually(async () => (await s.metric("watch_auditor_inconclusive_total", { probe: "invalid", reason: "stimulus_refused" })) >= 2 && (await s.metric("watch_auditor_inconclusive_total", { probe: "unserved", reason: "stimulus_refused" })) >= 2, { timeoutMs: 20_000, what: "refused stimuli" });
      const invalid = (await probeStatus(s, "invalid")).checks[0]!;
      assert.match(invalid.reason, /stimulus refused: .*400|stimulus refused: .*cannot unmarshal number/);
      assert.match((await probeStatus(s, "unserved")).checks[0]!.reason, /no resource of kind Gadget in example\.com\/v1/);
      await eventually(async () => (await s.metric("watch_auditor_inconclusive_total", { probe: "unjudgeable", reason: "not_judgeable" })) >= 1 && (await s.metric("watch_auditor_inconclusive_total", { probe: "unserved-reaction", reason: "not_judgeable" })) >= 1, { timeoutMs: 20_000, what: "reactions that cannot be judged" });
      const unjudgeable = (await probeStatus(s, "unjudgeable")).checks.find((c) => c.inconclusive === "not_judgeable")!;
      assert.match(unjudgeable.reason, /cannot judge expectation 1 \(stimulus: status\.phase > 3\): status\.phase = "Ready": cannot compare a string with > 3/);
      assert.equal(unjudgeable.reaction!.expectations[0]!.holds, "undecidable");
      assert.match((await probeStatus(s, "unserved-reaction")).checks.find((c) => c.inconclusive === "not_judgeable")!.reason, /cannot judge: the API server serves no resource of kind Gadget/);
      for (const probe of ["invalid", "unserved", "unjudgeable", "unserved-reaction"]) {
        assert.equal(await s.metric("watch_auditor_checks_total", { probe, result: "pass" }), 0);
        assert.equal(await s.metric("watch_auditor_checks_total", { probe, result: "fail" }), 0);
      }
      assert.equal(w.cluster.api.store.list("configmaps", "watch-auditor-probes").length, 0);
    } finally {
      await s.stop();
    }
  } finally {
    await w.close();
  }
});

test("reactions are observed by polling GET/LIST, never by a watch", async () => {
  const w = await startWorld();
  try {
    const config = await examplesConfig(w.cluster.dir, { only: REACTION_PROBES });
    const s = await startServe(w.cluster, ["--leader-elect", "false", "--config", config]);
    try {
      for (const probe of REACTION_PROBES) await eventually(async () => (await s.metric("watch_auditor_checks_total", { probe, result: "pass" })) >= 1, { timeoutMs: 30_000, what: `a pass of ${probe}` });
    } finally {
      await s.stop();
    }
    const auditor = w.cluster.api.requests.filter((r) => r.user === "system:anonymous");
    // The controllers watch (that is what they are); the auditor never does.
    assert.ok(w.cluster.api.requests.some((r) => r.user === "admin" && r.verb === "watch"), "the reactors do watch");
    assert.deepEqual(auditor.filter((r) => r.verb === "watch" || r.query.watch !== undefined).map((r) => r.path), []);
    assert.ok(auditor.some((r) => r.verb === "list" && r.resource === "replicasets"), "LIST by selector");
    assert.ok(auditor.some((r) => r.verb === "get" && r.resource === "widgets"), "GET by name");
    assert.ok(auditor.some((r) => r.verb === "get" && r.resource === "networkpolicies"), "GET in the per-run namespace");
  } finally {
    await w.close();
  }
});

