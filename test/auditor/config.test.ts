import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadProbesFile } from "../../src/auditor/config.js";
import { parseEqualitySelector, type ProbeConfig } from "../../src/auditor/probe.js";
import { UsageError } from "../../src/core/errors.js";
import { buildCanary, canaryName, MANAGED_BY_LABEL, PROBE_LABEL, RUN_ID_LABEL } from "../../src/auditor/canary.js";
import { observe } from "../../src/auditor/observe.js";

const defaults: ProbeConfig = {
  name: "default",
  mode: "enforcing",
  everyMs: 30_000,
  failureThreshold: 3,
  cooldownMs: 300_000,
  maxRollsPerHour: 3,
  canary: {
    namespace: "neuvector",
    image: "busybox",
    lifetimeMs: 5000,
    deadlineMs: 10_000,
    startTimeoutMs: 60_000,
    pollIntervalMs: 1000,
    mainContainer: "main",
    sidecarContainer: "istio-proxy",
    sidecarMode: "declared",
    labels: {},
    annotations: {},
  },
  controller: { namespace: "pepr-system", selector: "pepr.dev/controller=watcher" },
};

async function withFile(text: string, fn: (file: string) => void | Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "auditor-config-"));
  try {
    const file = join(dir, "probes.yaml");
    await writeFile(file, text);
    await fn(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test("probes inherit flag defaults and override per field", async () => {
  await withFile(
    `probes:
  - name: sidecar-killer
  - name: other
    mode: audit
    every: 1m
    failureThreshold: 5
    canary: { namespace: apps, lifetime: 500ms, labels: { team: x } }
    controller: { namespace: ctl, selector: "app=ctl,tier=watch" }
`,
    (file) => {
      const [a, b] = loadProbesFile(file, defaults) as ProbeConfig[];
      assert.equal(a!.name, "sidecar-killer");
      assert.equal(a!.canary.namespace, "neuvector");
      assert.equal(a!.everyMs, 30_000);
      assert.equal(b!.mode, "audit");
      assert.equal(b!.everyMs, 60_000);
      assert.equal(b!.failureThreshold, 5);
      assert.equal(b!.canary.lifetimeMs, 500);
      assert.equal(b!.canary.deadlineMs, 10_000);
      assert.deepEqual(b!.canary.labels, { team: "x" });
      assert.deepEqual(b!.controller, { namespace: "ctl", selector: "app=ctl,tier=watch" });
    },
  );
});

test("errors name the file and the field path", async () => {
  const cases: [string, RegExp][] = [
    ["probes:\n  - name: a\n    canary: { lifetime: 5 }\n", /probes\.yaml: probes\[0\]\.canary\.lifetime: expected a duration/],
    ["probes:\n  - name: a\n    every: 0s\n", /probes\[0\]\.every: must be greater than 0/],
    ["probes:\n  - name: a\n    mode: foo\n", /probes\[0\]\.mode: Invalid enum value/],
    ["probes:\n  - name: Bad_Name\n", /probes\[0\]\.name: must be a DNS label/],
    ["probes:\n  - name: a\n  - name: a\n", /probes\[1\]\.name: duplicate probe name "a"/],
    ["probes:\n  - name: a\n    typo: 1\n", /probes\[0\]: Unrecognized key\(s\) in object: 'typo'/],
    ["probes:\n  - name: a\n    controller: { selector: 'app in (x)' }\n", /probes\[0\]\.controller\.selector: must be an equality label selector/],
    ["probes: [\n", /probes\.yaml:\d+: invalid YAML/],
    ["probes:\n  - name: a\n    canary: { podSpec: { containers: [{ name: main, image: x }] } }\n", /probes\[0\]: canary\.podSpec\.containers: no container named "istio-proxy"/],
    ["probes:\n  - name: a\n    canary: { pollInterval: 20s }\n", /probes\[0\]: canary\.pollInterval .* must not exceed canary\.deadline/],
  ];
  for (const [text, re] of cases) {
    await withFile(text, (file) => {
      assert.throws(() => loadProbesFile(file, defaults), (err: unknown) => err instanceof UsageError && re.test(err.message), `${text} → ${re}`);
    });
  }
  assert.throws(() => loadProbesFile("/nonexistent/x.yaml", defaults), /config \/nonexistent\/x\.yaml: cannot read/);
});

test("equality selectors parse; set-based ones are refused", () => {
  assert.deepEqual(parseEqualitySelector("pepr.dev/controller=watcher"), { "pepr.dev/controller": "watcher" });
  assert.deepEqual(parseEqualitySelector("a=b, c==d"), { a: "b", c: "d" });
  assert.equal(parseEqualitySelector("a in (b)"), undefined);
  assert.equal(parseEqualitySelector(""), undefined);
});

test("the canary is locked down, shaped for the controller and labelled for the sweep", () => {
  const name = canaryName("default");
  assert.match(name, /^watch-auditor-default-[a-z0-9]{6}$/);
  const pod = buildCanary({ ...defaults, canary: { ...defaults.canary, lifetimeMs: 300, labels: { [MANAGED_BY_LABEL]: "someone-else", extra: "y" } } }, name, "run1");
  const labels = pod.metadata!.labels!;
  assert.equal(labels[MANAGED_BY_LABEL], "watch-auditor", "a template cannot take the canary out of the sweep");
  assert.equal(labels[PROBE_LABEL], "default");
  assert.equal(labels[RUN_ID_LABEL], "run1");
  assert.equal(labels.extra, "y");
  assert.ok(labels["batch.kubernetes.io/job-name"]);
  assert.ok(labels["service.istio.io/canonical-name"]);
  const spec = pod.spec!;
  assert.equal(spec.restartPolicy, "Never");
  assert.equal(spec.securityContext?.runAsNonRoot, true);
  assert.equal(spec.securityContext?.seccompProfile?.type, "RuntimeDefault");
  assert.ok(spec.activeDeadlineSeconds! > 70, "safety net must exceed start timeout + lifetime + deadline");
  assert.deepEqual(spec.containers.map((c) => c.name), ["main", "istio-proxy"]);
  assert.deepEqual(spec.containers[0]!.command, ["sh", "-c", "sleep 0.3"]);
  for (const c of spec.containers) {
    assert.equal(c.securityContext?.allowPrivilegeEscalation, false);
    assert.deepEqual(c.securityContext?.capabilities?.drop, ["ALL"]);
    assert.ok(c.resources?.limits?.memory && c.resources.requests?.cpu);
  }
  const injected = buildCanary({ ...defaults, canary: { ...defaults.canary, sidecarMode: "injected" } }, name, "r");
  assert.deepEqual(injected.spec!.containers.map((c) => c.name), ["main"]);
});

test("observe: verdict per pod state", () => {
  const pod = (phase: string, main: object | undefined, side: object | undefined, reason?: string) => ({
    status: { phase, ...(reason ? { reason } : {}), containerStatuses: [...(main ? [{ name: "main", state: main }] : []), ...(side ? [{ name: "istio-proxy", state: side }] : [])] },
  });
  const running = { running: { startedAt: "2026-01-01T00:00:00Z" } };
  const done = (at: string) => ({ terminated: { exitCode: 0, finishedAt: at } });
  assert.equal(observe(pod("Pending", undefined, undefined) as never, "main", "istio-proxy").kind, "pending");
  assert.equal(observe(pod("Pending", { waiting: { reason: "ImagePullBackOff" } }, undefined) as never, "main", "istio-proxy").kind, "broken");
  assert.deepEqual(observe(pod("Running", running, running) as never, "main", "istio-proxy"), { kind: "running", sidecarPresent: true });
  assert.equal(observe(pod("Running", done("2026-01-01T00:00:05Z"), running) as never, "main", "istio-proxy").kind, "main-exited");
  const d = observe(pod("Running", done("2026-01-01T00:00:05Z"), done("2026-01-01T00:00:06.5Z")) as never, "main", "istio-proxy");
  assert.equal(d.kind, "done");
  assert.equal(d.kind === "done" && d.sidecarFinishedAt! - d.mainFinishedAt!, 1500);
  assert.equal(observe(pod("Succeeded", done("2026-01-01T00:00:05Z"), running) as never, "main", "istio-proxy").kind, "done");
  assert.equal(observe(pod("Failed", running, running, "DeadlineExceeded") as never, "main", "istio-proxy").kind, "broken");
  assert.equal(observe(pod("Running", done("2026-01-01T00:00:05Z"), undefined) as never, "main", "istio-proxy").kind, "broken");
});
