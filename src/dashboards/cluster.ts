// Kovenant's cluster views: CPU, memory, filesystem and network per namespace → workload → pod,
// from the kubelet's cAdvisor series (`container_*`) and kube-state-metrics' ownership series
// (`kube_pod_owner`, `kube_replicaset_owner`, `kube_pod_info`). The joins are done once, by
// recording rules, so the panels read small pre-aggregated series on large clusters.
import type { DashboardSpec } from "./panels.js";
import type { RecordingGroup } from "./rules.js";

/** Pod → workload: one series per pod, labels namespace, workload, workload_type, pod (value 1). */
export const POD_WORKLOAD = "namespace_workload_pod:kube_pod_owner:relabel";
export const CPU = "namespace_workload_pod:container_cpu_usage_seconds:rate5m";
export const MEMORY = "namespace_workload_pod:container_memory_working_set_bytes:sum";
export const FS = "namespace_workload_pod:container_fs_usage_bytes:sum";
export const RX = "namespace_workload_pod:container_network_receive_bytes:rate5m";
export const TX = "namespace_workload_pod:container_network_transmit_bytes:rate5m";

const BY = "namespace, workload, workload_type, pod";
/** cAdvisor's per-container series: the pod-level cgroup (container="") and the pause container are left out. */
const CONTAINERS = `container!="", container!="POD"`;
/** Network counters live on the pod's sandbox (container=""); the node's own interfaces have pod="". */
const POD_NET = `pod!="", interface!="lo"`;
/** Pods owned by a ReplicaSet, with the ReplicaSet's name as `replicaset` (kube_replicaset_owner's label). */
const RS_PODS = `label_replace(kube_pod_owner{owner_kind="ReplicaSet"}, "replicaset", "$1", "owner_name", "(.+)")`;
const joinWorkload = (inner: string) => `sum by (${BY}) (${inner} * on (namespace, pod) group_left (workload, workload_type) ${POD_WORKLOAD})`;

export const clusterRecordingGroups: RecordingGroup[] = [
  {
    name: "watch-auditor.cluster.workloads",
    rules: [
      {
        record: POD_WORKLOAD,
        expr: [
          // Pods of a ReplicaSet owned by a Deployment belong to the Deployment.
          `max by (${BY}) (label_replace(label_replace(` +
            `${RS_PODS} * on (namespace, replicaset) group_left (owner_kind, owner_name) max by (namespace, replicaset, owner_kind, owner_name) (kube_replicaset_owner{owner_kind="Deployment"}),` +
            ` "workload", "$1", "owner_name", "(.+)"), "workload_type", "Deployment", "", ""))`,
          // A ReplicaSet nobody owns is the workload itself.
          `max by (${BY}) (label_replace(label_replace(${RS_PODS} unless on (namespace, replicaset) kube_replicaset_owner{owner_kind="Deployment"}, "workload", "$1", "owner_name", "(.+)"), "workload_type", "ReplicaSet", "", ""))`,
          // StatefulSet, DaemonSet, Job, custom controllers: the owner is the workload.
          `max by (${BY}) (label_replace(label_replace(kube_pod_owner{owner_kind!~"ReplicaSet|<none>|"}, "workload", "$1", "owner_name", "(.+)"), "workload_type", "$1", "owner_kind", "(.+)"))`,
          // A bare pod is its own workload.
          `max by (${BY}) (label_replace(label_replace(kube_pod_owner{owner_kind=~"<none>|"}, "workload", "$1", "pod", "(.+)"), "workload_type", "Pod", "", ""))`,
        ].join(" or "),
      },
    ],
  },
  {
    name: "watch-auditor.cluster.resources",
    rules: [
      { record: CPU, expr: joinWorkload(`sum by (namespace, pod) (rate(container_cpu_usage_seconds_total{${CONTAINERS}}[5m]))`) },
      { record: MEMORY, expr: joinWorkload(`sum by (namespace, pod) (container_memory_working_set_bytes{${CONTAINERS}})`) },
      { record: FS, expr: joinWorkload(`sum by (namespace, pod) (container_fs_usage_bytes{${CONTAINERS}})`) },
      { record: RX, expr: joinWorkload(`sum by (namespace, pod) (rate(container_network_receive_bytes_total{${POD_NET}}[5m]))`) },
      { record: TX, expr: joinWorkload(`sum by (namespace, pod) (rate(container_network_transmit_bytes_total{${POD_NET}}[5m]))`) },
    ],
  },
];

const NS = `namespace=~"$namespace"`;
const NSW = `namespace=~"$namespace", workload=~"$workload"`;

export const clusterDashboard: DashboardSpec = {
  uid: "watch-auditor-cluster",
  title: "Watch auditor: cluster resources",
  description: "Where do CPU, memory, disk and network go: per namespace, then per workload, then per pod (cAdvisor and kube-state-metrics, through recording rules)?",
  tags: ["watch-auditor", "cluster"],
  variables: [
    { name: "namespace", label: "Namespace", metric: "kube_pod_info" },
    { name: "workload", label: "Workload", metric: POD_WORKLOAD },
  ],
  rows: [
    {
      title: "Namespaces",
      panels: [
        { title: "CPU by namespace", description: "CPU cores used by each namespace's containers (5-minute rate of container_cpu_usage_seconds_total).", width: 8, queries: [{ expr: `sum by (namespace) (${CPU}{${NS}})`, legend: "{{namespace}}" }] },
        { title: "Memory by namespace", description: "Working-set memory of each namespace's containers (what the kernel's OOM killer and evictions look at).", unit: "bytes", width: 8, queries: [{ expr: `sum by (namespace) (${MEMORY}{${NS}})`, legend: "{{namespace}}" }] },
        { title: "Filesystem by namespace", description: "Bytes each namespace's containers use on the node's filesystems (writable layers and logs, container_fs_usage_bytes).", unit: "bytes", width: 8, queries: [{ expr: `sum by (namespace) (${FS}{${NS}})`, legend: "{{namespace}}" }] },
        {
          title: "Network by namespace",
          description: "Bytes per second each namespace's pods receive (positive) and transmit (negative) on their interfaces.",
          unit: "Bps",
          width: 24,
          queries: [
            { expr: `sum by (namespace) (${RX}{${NS}})`, legend: "{{namespace}} in" },
            { expr: `-sum by (namespace) (${TX}{${NS}})`, legend: "{{namespace}} out" },
          ],
        },
      ],
    },
    {
      title: "Workloads",
      panels: [
        { title: "CPU by workload", description: "CPU cores used per workload (Deployment, StatefulSet, DaemonSet, Job, bare ReplicaSet or bare pod).", width: 8, queries: [{ expr: `sum by (namespace, workload, workload_type) (${CPU}{${NSW}})`, legend: "{{namespace}}/{{workload}}" }] },
        { title: "Memory by workload", description: "Working-set memory per workload, summed over its pods.", unit: "bytes", width: 8, queries: [{ expr: `sum by (namespace, workload, workload_type) (${MEMORY}{${NSW}})`, legend: "{{namespace}}/{{workload}}" }] },
        { title: "Filesystem by workload", description: "Filesystem bytes per workload, summed over its pods' containers.", unit: "bytes", width: 8, queries: [{ expr: `sum by (namespace, workload, workload_type) (${FS}{${NSW}})`, legend: "{{namespace}}/{{workload}}" }] },
        {
          title: "Network by workload",
          description: "Bytes per second each workload's pods receive (positive) and transmit (negative).",
          unit: "Bps",
          width: 24,
          queries: [
            { expr: `sum by (namespace, workload) (${RX}{${NSW}})`, legend: "{{namespace}}/{{workload}} in" },
            { expr: `-sum by (namespace, workload) (${TX}{${NSW}})`, legend: "{{namespace}}/{{workload}} out" },
          ],
        },
      ],
    },
    {
      title: "Pods",
      panels: [
        {
          title: "Pods by resource use",
          description: "Every pod of the selected workloads with its workload, CPU cores, memory, filesystem bytes and network bytes/s (table; sort by any column).",
          kind: "table",
          width: 24,
          queries: [
            { expr: `sum by (namespace, workload, pod) (${CPU}{${NSW}})`, legend: "cpu" },
            { expr: `sum by (namespace, workload, pod) (${MEMORY}{${NSW}})`, legend: "memory" },
            { expr: `sum by (namespace, workload, pod) (${FS}{${NSW}})`, legend: "filesystem" },
            { expr: `sum by (namespace, workload, pod) (${RX}{${NSW}} + ${TX}{${NSW}})`, legend: "network" },
          ],
        },
        { title: "Pod CPU", description: "CPU cores per pod of the selected workloads (the ten busiest).", queries: [{ expr: `topk(10, sum by (namespace, pod) (${CPU}{${NSW}}))`, legend: "{{namespace}}/{{pod}}" }] },
        { title: "Pod memory", description: "Working-set memory per pod of the selected workloads (the ten largest).", unit: "bytes", queries: [{ expr: `topk(10, sum by (namespace, pod) (${MEMORY}{${NSW}}))`, legend: "{{namespace}}/{{pod}}" }] },
      ],
    },
    {
      title: "Nodes",
      panels: [
        { title: "Pods per node", description: "How many pods kube-state-metrics sees on each node (a node that went offline keeps its pods until they are evicted).", width: 12, queries: [{ expr: `count by (node) (kube_pod_info{${NS}})`, legend: "{{node}}" }] },
        { title: "Pods per namespace", description: "How many pods each namespace runs (kube_pod_info).", width: 12, queries: [{ expr: `count by (namespace) (kube_pod_info{${NS}})`, legend: "{{namespace}}" }] },
      ],
    },
  ],
};
