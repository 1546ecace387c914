// The recording rules the control-plane and cluster dashboards read, and the node-grace-period
// parameter, checked by the real promtool (`test rules`): the joins and version fallbacks give
// the series and values worked out by hand below.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { runCli } from "../support/cli.js";
import { renderRules } from "../../src/dashboards/rules.js";
import { CPU, MEMORY, POD_WORKLOAD, RX } from "../../src/dashboards/cluster.js";
import { DB_QUOTA, DB_SIZE, DB_USAGE, ERRORS, OBJECTS } from "../../src/dashboards/controlplane.js";

function promtool(args: string[], cwd: string): { status: number | null; out: string } {
  const r = spawnSync("/usr/bin/promtool", args, { cwd, encoding: "utf8" });
  if (r.error) throw r.error;
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

interface Expect {
  expr: string;
  at: string;
  samples: { labels: string; value: number }[];
}

async function promtoolTest(rules: string, cases: { name: string; series: [string, string][]; expect: Expect[] }[]): Promise<{ status: number | null; out: string }> {
  const dir = await mkdtemp(join(tmpdir(), "h3-rules-"));
  try {
    await writeFile(join(dir, "rules.yaml"), rules);
    const tests = cases.map((c) => ({
      name: c.name,
      interval: "1m",
      input_series: c.series.map(([series, values]) => ({ series, values })),
      promql_expr_test: c.expect.map((e) => ({ expr: e.expr, eval_time: e.at, exp_samples: e.samples })),
    }));
    await writeFile(join(dir, "tests.yaml"), YAML.stringify({ rule_files: ["rules.yaml"], evaluation_interval: "1m", tests }, { lineWidth: 0 }));
    return promtool(["test", "rules", "tests.yaml"], dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const KSM = `job="kube-state-metrics", instance="ksm:8080"`;
const CAD = (ns: string, pod: string, container: string) => `job="kubelet", instance="node-1", namespace="${ns}", pod="${pod}", container="${container}", id="/kubepods/${pod}/${container}", image="img"`;

test("recording rules: pods map to their workload (Deployment via its ReplicaSet, bare ReplicaSet, StatefulSet, bare pod); per-pod sums leave out the pod cgroup, the pause container and lo", async () => {
  const series: [string, string][] = [
    [`kube_pod_owner{${KSM}, namespace="shop", pod="web-7d9f-abcde", owner_kind="ReplicaSet", owner_name="web-7d9f", owner_is_controller="true", uid="u1"}`, "1x10"],
    [`kube_replicaset_owner{${KSM}, namespace="shop", replicaset="web-7d9f", owner_kind="Deployment", owner_name="web", owner_is_controller="true"}`, "1x10"],
    [`kube_pod_owner{${KSM}, namespace="shop", pod="legacy-x1", owner_kind="ReplicaSet", owner_name="legacy", owner_is_controller="true", uid="u2"}`, "1x10"],
    [`kube_replicaset_owner{${KSM}, namespace="shop", replicaset="legacy", owner_kind="<none>", owner_name="<none>", owner_is_controller="<none>"}`, "1x10"],
    [`kube_pod_owner{${KSM}, namespace="data", pod="db-0", owner_kind="StatefulSet", owner_name="db", owner_is_controller="true", uid="u3"}`, "1x10"],
    [`kube_pod_owner{${KSM}, namespace="data", pod="debug", owner_kind="<none>", owner_name="<none>", owner_is_controller="<none>", uid="u4"}`, "1x10"],
    // web: two containers using 0.25 and 0.5 cores; the pod cgroup and pause container would double count.
    [`container_cpu_usage_seconds_total{${CAD("shop", "web-7d9f-abcde", "app")}, cpu="total"}`, "0+15x10"],
    [`container_cpu_usage_seconds_total{${CAD("shop", "web-7d9f-abcde", "sidecar")}, cpu="total"}`, "0+30x10"],
    [`container_cpu_usage_seconds_total{${CAD("shop", "web-7d9f-abcde", "")}, cpu="total"}`, "0+45x10"],
    [`container_cpu_usage_seconds_total{${CAD("shop", "web-7d9f-abcde", "POD")}, cpu="total"}`, "0+6x10"],
    [`container_memory_working_set_bytes{${CAD("data", "db-0", "postgres")}}`, "1000x10"],
    [`container_memory_working_set_bytes{${CAD("data", "db-0", "")}}`, "1200x10"],
    [`container_memory_working_set_bytes{${CAD("data", "debug", "shell")}}`, "50x10"],
    // legacy: 600 B/s on eth0; lo and the node's own interface (pod="") are not the pod's traffic.
    [`container_network_receive_bytes_total{${CAD("shop", "legacy-x1", "")}, interface="eth0"}`, "0+36000x10"],
    [`container_network_receive_bytes_total{${CAD("shop", "legacy-x1", "")}, interface="lo"}`, "0+99999x10"],
    [`container_network_receive_bytes_total{job="kubelet", instance="node-1", namespace="", pod="", container="", id="/", image="", interface="eth0"}`, "0+99999x10"],
  ];
  const w = (ns: string, workload: string, type: string, pod: string) => `{namespace="${ns}", pod="${pod}", workload="${workload}", workload_type="${type}"}`;
  const r = await promtoolTest(renderRules({ format: "prometheus" }), [
    {
      name: "workloads",
      series,
      expect: [
        {
          expr: POD_WORKLOAD,
          at: "5m",
          samples: [
            { labels: `${POD_WORKLOAD}${w("shop", "web", "Deployment", "web-7d9f-abcde")}`, value: 1 },
            { labels: `${POD_WORKLOAD}${w("shop", "legacy", "ReplicaSet", "legacy-x1")}`, value: 1 },
            { labels: `${POD_WORKLOAD}${w("data", "db", "StatefulSet", "db-0")}`, value: 1 },
            { labels: `${POD_WORKLOAD}${w("data", "debug", "Pod", "debug")}`, value: 1 },
          ],
        },
        { expr: CPU, at: "8m", samples: [{ labels: `${CPU}${w("shop", "web", "Deployment", "web-7d9f-abcde")}`, value: 0.75 }] },
        {
          expr: MEMORY,
          at: "5m",
          samples: [
            { labels: `${MEMORY}${w("data", "db", "StatefulSet", "db-0")}`, value: 1000 },
            { labels: `${MEMORY}${w("data", "debug", "Pod", "debug")}`, value: 50 },
          ],
        },
        { expr: RX, at: "8m", samples: [{ labels: `${RX}${w("shop", "legacy", "ReplicaSet", "legacy-x1")}`, value: 600 }] },
      ],
    },
  ]);
  assert.equal(r.status, 0, r.out);
});

test("recording rules: the database size and object counts come from the first source that has them, across Kubernetes versions", async () => {
  const cp = `job="watch-auditor-controlplane", namespace="watch-auditor", pod="cp-0"`;
  const r = await promtoolTest(renderRules({ format: "prometheus" }), [
    {
      name: "1.28+: apiserver_storage_size_bytes, quota from etcd's own metrics",
      series: [
        [`apiserver_storage_size_bytes{job="apiserver", storage_cluster_id="etcd-0"}`, "536870912x10"],
        [`etcd_server_quota_backend_bytes{job="etcd", instance="etcd-0"}`, "2147483648x10"],
        [`apiserver_resource_objects{job="apiserver", group="", resource="pods"}`, "42x10"],
      ],
      expect: [
        { expr: DB_SIZE, at: "5m", samples: [{ labels: DB_SIZE, value: 536870912 }] },
        { expr: DB_USAGE, at: "5m", samples: [{ labels: DB_USAGE, value: 0.25 }] },
        { expr: OBJECTS, at: "5m", samples: [{ labels: `${OBJECTS}{resource="pods"}`, value: 42 }] },
      ],
    },
    {
      name: "≤ 1.22 names, and the auditor's normalized gauges win over the API server's",
      series: [
        [`etcd_db_total_size_in_bytes{job="apiserver", endpoint="https://etcd-0:2379"}`, "100x10"],
        [`etcd_object_counts{job="apiserver", resource="pods"}`, "7x10"],
        [`etcd_object_counts{job="apiserver", resource="secrets"}`, "3x10"],
        [`watch_auditor_controlplane_database_size_bytes{${cp}}`, "200x10"],
        [`watch_auditor_controlplane_database_quota_bytes{${cp}}`, "800x10"],
        [`watch_auditor_controlplane_objects{${cp}, resource="pods"}`, "8x10"],
      ],
      expect: [
        { expr: DB_SIZE, at: "5m", samples: [{ labels: DB_SIZE, value: 200 }] },
        { expr: DB_QUOTA, at: "5m", samples: [{ labels: DB_QUOTA, value: 800 }] },
        {
          expr: OBJECTS,
          at: "5m",
          samples: [
            { labels: `${OBJECTS}{resource="pods"}`, value: 8 },
            { labels: `${OBJECTS}{resource="secrets"}`, value: 3 },
          ],
        },
      ],
    },
    {
      name: "error ratio: 5xx over all codes, across resources and verbs",
      series: [
        [`apiserver_request_total{job="apiserver", code="503", resource="pods", verb="GET"}`, "0+60x10"],
        [`apiserver_request_total{job="apiserver", code="200", resource="pods", verb="GET"}`, "0+120x10"],
        [`apiserver_request_total{job="apiserver", code="404", resource="secrets", verb="GET"}`, "0+60x10"],
      ],
      expect: [{ expr: ERRORS, at: "8m", samples: [{ labels: ERRORS, value: 0.25 }] }],
    },
  ]);
  assert.equal(r.status, 0, r.out);
});

test("dashboards rules --node-grace-period: the heartbeat alert uses the given grace period", async () => {
  const res = await runCli(["dashboards", "rules", "--out", "-", "--node-grace-period", "90s"], { timeoutMs: 60_000 });
  assert.equal(res.code, 0, res.stderr);
  const age = (v: string): [string, string][] => [[`watch_auditor_controlplane_node_heartbeat_age_seconds{namespace="watch-auditor", node="worker-1"}`, v]];
  const pendingOrFiring = `count(ALERTS{alertname="ControlPlaneNodeHeartbeatStale", alertstate="firing"}) or vector(0)`;
  const r = await promtoolTest(res.stdout, [
    // 60 s is past the default 40 s but within 90 s: silent.
    { name: "60 s old, grace 90 s", series: age("60x10"), expect: [{ expr: pendingOrFiring, at: "5m", samples: [{ labels: "{}", value: 0 }] }] },
    { name: "120 s old, grace 90 s", series: age("120x10"), expect: [{ expr: pendingOrFiring, at: "5m", samples: [{ labels: "{}", value: 1 }] }] },
  ]);
  assert.equal(r.status, 0, r.out);
  assert.match(renderRules({ format: "prometheus" }), /node_heartbeat_age_seconds\) > 40\n/, "40 s by default");
});

/** Exposition lines (`name{labels} value`) as promtool input series holding that value. */
function exposition(file: URL, keep: (name: string) => boolean): [string, string][] {
  const out: [string, string][] = [];
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m && keep(m[1]!)) out.push([`${m[1]}${m[2] ?? ""}`, `${Number(m[3])}x10`]);
  }
  return out;
}

/** name{labels} value of an exposition file, read with a regex: label string → value. */
function samples(file: URL, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of readFileSync(file, "utf8").matchAll(new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`, "gm"))) out.set(m[1] ?? "", Number(m[2]));
  return out;
}

test("recording rules on other versions' real /metrics samples: database size and objects per resource from 1.19, 1.26, 1.36 and the 1.34+ collectors", async () => {
  const F = (f: string) => new URL(`../controlplane/fixtures/${f}`, import.meta.url);
  const resourceOf = (labels: string) => /resource="([^"]+)"/.exec(labels)![1]!;
  const objects = (m: Map<string, number>) => [...m].filter(([, v]) => v >= 0).map(([l, v]) => ({ labels: `${OBJECTS}{resource="${resourceOf(l)}"}`, value: v }));
  const v119 = F("metrics-v1.19.7.prom");
  const v126 = F("metrics-v1.26.0.prom");
  const v136 = F("metrics-v1.36.prom");
  const upstream = F("metrics-upstream-store-stats.prom");
  const max = (m: Map<string, number>) => Math.max(...m.values());
  const r = await promtoolTest(renderRules({ format: "prometheus" }), [
    {
      name: "1.19.7: etcd_db_total_size_in_bytes of two endpoints, etcd_object_counts",
      series: exposition(v119, () => true),
      expect: [
        { expr: DB_SIZE, at: "5m", samples: [{ labels: DB_SIZE, value: max(samples(v119, "etcd_db_total_size_in_bytes")) }] },
        { expr: OBJECTS, at: "5m", samples: objects(samples(v119, "etcd_object_counts")) },
      ],
    },
    { name: "1.26.0: apiserver_storage_db_total_size_in_bytes", series: exposition(v126, () => true), expect: [{ expr: DB_SIZE, at: "5m", samples: [{ labels: DB_SIZE, value: max(samples(v126, "apiserver_storage_db_total_size_in_bytes")) }] }] },
    {
      name: "1.36: apiserver_storage_size_bytes, apiserver_storage_objects",
      series: exposition(v136, () => true),
      expect: [
        { expr: DB_SIZE, at: "5m", samples: [{ labels: DB_SIZE, value: max(samples(v136, "apiserver_storage_size_bytes")) }] },
        { expr: OBJECTS, at: "5m", samples: objects(samples(v136, "apiserver_storage_objects")) },
      ],
    },
    // apiserver_resource_objects alone (the deprecated family dropped) names resources as the old one did.
    { name: "1.34+: apiserver_resource_objects{group,resource} as resource.group", series: exposition(upstream, (n) => n === "apiserver_resource_objects"), expect: [{ expr: OBJECTS, at: "5m", samples: objects(samples(upstream, "apiserver_storage_objects")) }] },
  ]);
  assert.equal(r.status, 0, r.out);
});
