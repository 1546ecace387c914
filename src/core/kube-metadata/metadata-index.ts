import type { Namespace, Node, Pod, Service } from "kubernetes-types/core/v1.js";
import type { EndpointSlice } from "kubernetes-types/discovery/v1.js";
import type { ReplicaSet } from "kubernetes-types/apps/v1.js";
import type { Job } from "kubernetes-types/batch/v1.js";
import type { ObjectMeta } from "kubernetes-types/meta/v1.js";
import { controllerOf, deploymentFromReplicaSetName, guessWorkloadFromPodName, releaseOf, type Workload } from "./owners.js";

export const IGNORE_ANNOTATIONS = ["watch-auditor.dev/ignore", "owlk8s/ignore"] as const;

/** What an IP address is in the cluster. */
export interface IpMetadata {
  /** Pod, Service (a ClusterIP), Node (a node address or an ambiguous hostNetwork IP) or Endpoint (an EndpointSlice address whose pod is not in the cache). */
  kind: "Pod" | "Service" | "Node" | "Endpoint";
  /** "" for nodes. */
  namespace: string;
  pod?: string;
  /** Deployment/StatefulSet/DaemonSet/CronJob/Job/ReplicaSet name, the pod name for bare pods, the service or node name. */
  workload: string;
  workloadKind: string;
  /** Services (same namespace) this IP backs, sorted; for a ClusterIP, that service. */
  services: string[];
  node?: string;
  release?: string;
  labels?: Readonly<Record<string, string>>;
  /** Excluded by an ignore annotation on the pod, its namespace or its node. */
  ignored: boolean;
}

export type ResourceKind = "pods" | "services" | "endpointslices" | "namespaces" | "nodes" | "replicasets" | "jobs";

interface BackendRef {
  service: string;
  namespace: string;
  ports: number[];
  pod?: string;
  node?: string;
}

const MEMO_MAX = 100_000;

function key(meta: ObjectMeta | undefined): string {
  return `${meta?.namespace ?? ""}/${meta?.name ?? ""}`;
}

function isIgnored(meta: ObjectMeta | undefined): boolean {
  const a = meta?.annotations;
  if (!a) return false;
  for (const k of IGNORE_ANNOTATIONS) if (a[k] === "true") return true;
  return false;
}

function addTo<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  let s = m.get(k);
  if (!s) m.set(k, (s = new Set()));
  s.add(v);
}

function removeFrom<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  const s = m.get(k);
  if (!s) return;
  s.delete(v);
  if (s.size === 0) m.delete(k);
}

function podIps(pod: Pod): string[] {
  const ips = new Set<string>();
  if (pod.status?.podIP) ips.add(pod.status.podIP);
  for (const p of pod.status?.podIPs ?? []) if (p.ip) ips.add(p.ip);
  return [...ips];
}

function isFinished(pod: Pod): boolean {
  const phase = pod.status?.phase;
  return phase === "Succeeded" || phase === "Failed";
}

/**
 * The pure part of the metadata cache: objects go in (from informers or anything else that
 * delivers add/update/delete), IP answers come out. Lookups are memoised until the next change,
 * so the hot path of a flow processor is one Map.get per address.
 */
export class MetadataIndex {
  private readonly pods = new Map<string, Pod>();
  private readonly namespaces = new Map<string, Namespace>();
  private readonly nodes = new Map<string, Node>();
  private readonly replicaSets = new Map<string, ReplicaSet>();
  private readonly jobs = new Map<string, Job>();
  private readonly services = new Map<string, Service>();
  private readonly slices = new Map<string, EndpointSlice>();

  private readonly podsByIp = new Map<string, Set<string>>();
  private readonly hostNetworkPodsByIp = new Map<string, Set<string>>();
  private readonly nodeByIp = new Map<string, string>();
  private readonly serviceByClusterIp = new Map<string, string>();
  private readonly backendsByIp = new Map<string, Map<string, BackendRef[]>>();
  private readonly slicesByService = new Map<string, Set<string>>();

  private memo = new Map<string, IpMetadata | null>();
  private generation = 0;

  /** Increments on every change; lets callers cache derived answers. */
  get version(): number {
    return this.generation;
  }

  apply(kind: ResourceKind, type: "add" | "update" | "delete", obj: unknown): void {
    switch (kind) {
      case "pods":
        this.applyPod(type, obj as Pod);
        break;
      case "services":
        this.applyService(type, obj as Service);
        break;
      case "endpointslices":
        this.applySlice(type, obj as EndpointSlice);
        break;
      case "namespaces":
        this.put(this.namespaces, (obj as Namespace).metadata?.name ?? "", type, obj as Namespace);
        break;
      case "nodes":
        this.applyNode(type, obj as Node);
        break;
      case "replicasets":
        this.put(this.replicaSets, key((obj as ReplicaSet).metadata), type, obj as ReplicaSet);
        break;
      case "jobs":
        this.put(this.jobs, key((obj as Job).metadata), type, obj as Job);
        break;
    }
    this.changed();
  }

  private changed(): void {
    this.generation++;
    if (this.memo.size > 0) this.memo = new Map();
  }

  private put<T>(m: Map<string, T>, k: string, type: "add" | "update" | "delete", obj: T): void {
    if (type === "delete") m.delete(k);
    else m.set(k, obj);
  }

  private applyPod(type: "add" | "update" | "delete", pod: Pod): void {
    const k = key(pod.metadata);
    const old = this.pods.get(k);
    if (old) this.unindexPod(k, old);
    if (type === "delete") {
      this.pods.delete(k);
      return;
    }
    this.pods.set(k, pod);
    this.indexPod(k, pod);
  }

  private indexPod(k: string, pod: Pod): void {
    if (isFinished(pod)) return; // its IP is free for reuse
    const target = pod.spec?.hostNetwork ? this.hostNetworkPodsByIp : this.podsByIp;
    for (const ip of podIps(pod)) addTo(target, ip, k);
  }

  private unindexPod(k: string, pod: Pod): void {
    for (const ip of podIps(pod)) {
      removeFrom(this.podsByIp, ip, k);
      removeFrom(this.hostNetworkPodsByIp, ip, k);
    }
  }

  private applyService(type: "add" | "update" | "delete", svc: Service): void {
    const k = key(svc.metadata);
    const old = this.services.get(k);
    if (old) for (const ip of this.clusterIps(old)) if (this.serviceByClusterIp.get(ip) === k) this.serviceByClusterIp.delete(ip);
    if (type === "delete") {
      this.services.delete(k);
      return;
    }
    this.services.set(k, svc);
    for (const ip of this.clusterIps(svc)) this.serviceByClusterIp.set(ip, k);
  }

  private clusterIps(svc: Service): string[] {
    const ips = new Set<string>();
    if (svc.spec?.clusterIP && svc.spec.clusterIP !== "None") ips.add(svc.spec.clusterIP);
    for (const ip of svc.spec?.clusterIPs ?? []) if (ip !== "None") ips.add(ip);
    return [...ips];
  }

  private applySlice(type: "add" | "update" | "delete", slice: EndpointSlice): void {
    const k = key(slice.metadata);
    const old = this.slices.get(k);
    if (old) {
      for (const ep of old.endpoints ?? []) {
        for (const ip of ep.addresses ?? []) {
          const m = this.backendsByIp.get(ip);
          if (!m) continue;
          m.delete(k);
          if (m.size === 0) this.backendsByIp.delete(ip);
        }
      }
    }
    const oldService = old?.metadata?.labels?.["kubernetes.io/service-name"];
    if (oldService) removeFrom(this.slicesByService, `${old?.metadata?.namespace ?? ""}/${oldService}`, k);
    if (type === "delete") {
      this.slices.delete(k);
      return;
    }
    this.slices.set(k, slice);
    const service = slice.metadata?.labels?.["kubernetes.io/service-name"];
    const namespace = slice.metadata?.namespace ?? "";
    if (!service) return;
    addTo(this.slicesByService, `${namespace}/${service}`, k);
    const ports = (slice.ports ?? []).map((p) => p.port).filter((p): p is number => typeof p === "number");
    for (const ep of slice.endpoints ?? []) {
      const pod = ep.targetRef?.kind === "Pod" ? ep.targetRef.name : undefined;
      for (const ip of ep.addresses ?? []) {
        let m = this.backendsByIp.get(ip);
        if (!m) this.backendsByIp.set(ip, (m = new Map()));
        let refs = m.get(k);
        if (!refs) m.set(k, (refs = []));
        refs.push({ service, namespace, ports, ...(pod ? { pod } : {}), ...(ep.nodeName ? { node: ep.nodeName } : {}) });
      }
    }
  }

  private applyNode(type: "add" | "update" | "delete", node: Node): void {
    const name = node.metadata?.name ?? "";
    const old = this.nodes.get(name);
    if (old) for (const a of old.status?.addresses ?? []) if (this.nodeByIp.get(a.address) === name) this.nodeByIp.delete(a.address);
    if (type === "delete") {
      this.nodes.delete(name);
      return;
    }
    this.nodes.set(name, node);
    for (const a of node.status?.addresses ?? []) if (a.type === "InternalIP" || a.type === "ExternalIP") this.nodeByIp.set(a.address, name);
  }

  /** Everything known about ip, or undefined (outside the cluster). */
  lookup(ip: string): IpMetadata | undefined {
    const hit = this.memo.get(ip);
    if (hit !== undefined) return hit ?? undefined;
    const meta = this.compute(ip);
    if (this.memo.size >= MEMO_MAX) this.memo = new Map();
    this.memo.set(ip, meta ?? null);
    return meta;
  }

  /** The pod ns/name as a metadata record (its first IP decides the services), if cached. */
  lookupPod(namespace: string, name: string): IpMetadata | undefined {
    const pod = this.pods.get(`${namespace}/${name}`);
    if (!pod) return undefined;
    return this.podMetadata(pod, podIps(pod)[0] ?? "");
  }

  /** The service of ip that exposes port (EndpointSlice port match), else the first service of ip. */
  serviceFor(ip: string, port: number): string | undefined {
    const backends = this.backendsByIp.get(ip);
    if (backends) {
      for (const refs of backends.values()) for (const r of refs) if (r.ports.includes(port)) return r.service;
    }
    return this.lookup(ip)?.services[0];
  }

  private servicesOf(ip: string, namespace: string): string[] {
    const backends = this.backendsByIp.get(ip);
    if (!backends) return [];
    const names = new Set<string>();
    for (const refs of backends.values()) for (const r of refs) if (r.namespace === namespace) names.add(r.service);
    return [...names].sort();
  }

  private compute(ip: string): IpMetadata | undefined {
    const podKeys = this.podsByIp.get(ip);
    if (podKeys && podKeys.size > 0) return this.podMetadata(this.newestPod(podKeys), ip);
    const svcKey = this.serviceByClusterIp.get(ip);
    if (svcKey) {
      const svc = this.services.get(svcKey)!;
      const ns = svc.metadata?.namespace ?? "";
      const name = svc.metadata?.name ?? "";
      const backend = this.singleBackendWorkload(svcKey);
      const release = releaseOf(svc.metadata) ?? backend?.release;
      return {
        kind: "Service",
        namespace: ns,
        // Traffic to a ClusterIP is traffic to the workload behind it, when there is exactly one,
        // so that it aggregates with traffic seen at the backend pods.
        workload: backend?.workload ?? name,
        workloadKind: backend?.workloadKind ?? "Service",
        services: [name],
        ...(release ? { release } : {}),
        ignored: isIgnored(this.namespaces.get(ns)?.metadata),
      };
    }
    const hostPods = this.hostNetworkPodsByIp.get(ip);
    // A hostNetwork pod shares the node's address with the kubelet and every other hostNetwork
    // pod: it only owns the address when it is the only one there.
    if (hostPods && hostPods.size === 1) return this.podMetadata(this.pods.get([...hostPods][0]!)!, ip);
    const nodeName = this.nodeByIp.get(ip) ?? (hostPods ? this.pods.get([...hostPods][0]!)?.spec?.nodeName : undefined);
    if (nodeName) {
      return { kind: "Node", namespace: "", workload: nodeName, workloadKind: "Node", services: [], node: nodeName, ignored: isIgnored(this.nodes.get(nodeName)?.metadata) };
    }
    const backends = this.backendsByIp.get(ip);
    if (backends) {
      const first = [...backends.values()][0]![0]!;
      const guessed = first.pod ? guessWorkloadFromPodName(first.pod) : { workload: first.service, workloadKind: "Service" };
      return {
        kind: "Endpoint",
        namespace: first.namespace,
        ...(first.pod ? { pod: first.pod } : {}),
        ...guessed,
        services: this.servicesOf(ip, first.namespace),
        ...(first.node ? { node: first.node } : {}),
        ignored: isIgnored(this.namespaces.get(first.namespace)?.metadata) || (first.node ? isIgnored(this.nodes.get(first.node)?.metadata) : false),
      };
    }
    return undefined;
  }

  private singleBackendWorkload(svcKey: string): (Workload & { release?: string }) | undefined {
    let found: (Workload & { release?: string }) | undefined;
    for (const sk of this.slicesByService.get(svcKey) ?? []) {
      for (const ep of this.slices.get(sk)?.endpoints ?? []) {
        for (const ip of ep.addresses ?? []) {
          const keys = this.podsByIp.get(ip);
          if (!keys || keys.size === 0) return undefined;
          const p = this.newestPod(keys);
          const w = this.ownerOf(p);
          const release = releaseOf(p.metadata) ?? w.release;
          if (!found) found = { ...w, ...(release ? { release } : {}) };
          else if (found.workload !== w.workload || found.workloadKind !== w.workloadKind) return undefined;
        }
      }
    }
    return found;
  }

  private newestPod(keys: Set<string>): Pod {
    let best: Pod | undefined;
    for (const k of keys) {
      const p = this.pods.get(k)!;
      if (!best || (p.metadata?.creationTimestamp ?? "") > (best.metadata?.creationTimestamp ?? "")) best = p;
    }
    return best!;
  }

  private podMetadata(pod: Pod, ip: string): IpMetadata {
    const ns = pod.metadata?.namespace ?? "";
    const node = pod.spec?.nodeName;
    const owner = this.ownerOf(pod);
    const release = releaseOf(pod.metadata) ?? owner.release;
    return {
      kind: "Pod",
      namespace: ns,
      pod: pod.metadata?.name ?? "",
      workload: owner.workload,
      workloadKind: owner.workloadKind,
      services: this.servicesOf(ip, ns),
      ...(node ? { node } : {}),
      ...(release ? { release } : {}),
      ...(pod.metadata?.labels ? { labels: pod.metadata.labels } : {}),
      ignored: isIgnored(pod.metadata) || isIgnored(this.namespaces.get(ns)?.metadata) || (node ? isIgnored(this.nodes.get(node)?.metadata) : false),
    };
  }

  /** Pod → ReplicaSet → Deployment, Pod → Job → CronJob, StatefulSet, DaemonSet, else the pod itself. */
  ownerOf(pod: Pod): Workload & { release?: string } {
    const ns = pod.metadata?.namespace ?? "";
    const ctrl = controllerOf(pod.metadata);
    if (!ctrl) return { workload: pod.metadata?.name ?? "", workloadKind: "Pod" };
    if (ctrl.kind === "ReplicaSet") {
      const rs = this.replicaSets.get(`${ns}/${ctrl.name}`);
      const release = releaseOf(rs?.metadata);
      const next = controllerOf(rs?.metadata);
      if (next) return { workload: next.name, workloadKind: next.kind, ...(release ? { release } : {}) };
      if (rs) return { workload: ctrl.name, workloadKind: "ReplicaSet", ...(release ? { release } : {}) };
      const dep = deploymentFromReplicaSetName(ctrl.name, pod.metadata?.labels?.["pod-template-hash"]);
      return dep ? { workload: dep, workloadKind: "Deployment" } : { workload: ctrl.name, workloadKind: "ReplicaSet" };
    }
    if (ctrl.kind === "Job") {
      const job = this.jobs.get(`${ns}/${ctrl.name}`);
      const release = releaseOf(job?.metadata);
      const next = controllerOf(job?.metadata);
      if (next) return { workload: next.name, workloadKind: next.kind, ...(release ? { release } : {}) };
      return { workload: ctrl.name, workloadKind: "Job", ...(release ? { release } : {}) };
    }
    return { workload: ctrl.name, workloadKind: ctrl.kind };
  }

  /** Counts per object type, for status pages and tests. */
  sizes(): Record<ResourceKind, number> {
    return {
      pods: this.pods.size,
      services: this.services.size,
      endpointslices: this.slices.size,
      namespaces: this.namespaces.size,
      nodes: this.nodes.size,
      replicasets: this.replicaSets.size,
      jobs: this.jobs.size,
    };
  }

  /** Drops every object of one kind (before a relist replays the full set). */
  clear(kind: ResourceKind): void {
    const m = { pods: this.pods, services: this.services, endpointslices: this.slices, namespaces: this.namespaces, nodes: this.nodes, replicasets: this.replicaSets, jobs: this.jobs }[kind];
    for (const obj of [...m.values()]) this.apply(kind, "delete", obj);
  }
}
