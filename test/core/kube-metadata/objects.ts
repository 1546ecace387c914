// Minimal Kubernetes objects for metadata-cache tests (shared by the index and the live-cache tests).
import type { Namespace, Node, Pod, Service } from "kubernetes-types/core/v1.js";
import type { EndpointSlice } from "kubernetes-types/discovery/v1.js";
import type { ReplicaSet } from "kubernetes-types/apps/v1.js";
import type { Job } from "kubernetes-types/batch/v1.js";

export function pod(o: {
  ns?: string;
  name: string;
  ip?: string;
  ips?: string[];
  node?: string;
  owner?: { kind: string; name: string; apiVersion?: string };
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  hostNetwork?: boolean;
  phase?: string;
  created?: string;
}): Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      namespace: o.ns ?? "default",
      name: o.name,
      ...(o.labels ? { labels: o.labels } : {}),
      ...(o.annotations ? { annotations: o.annotations } : {}),
      ...(o.created ? { creationTimestamp: o.created } : {}),
      ...(o.owner ? { ownerReferences: [{ apiVersion: o.owner.apiVersion ?? "apps/v1", kind: o.owner.kind, name: o.owner.name, uid: `uid-${o.owner.name}`, controller: true }] } : {}),
    },
    spec: { containers: [{ name: "c", image: "busybox" }], ...(o.node ? { nodeName: o.node } : {}), ...(o.hostNetwork ? { hostNetwork: true } : {}) },
    status: {
      phase: o.phase ?? "Running",
      ...(o.ip ? { podIP: o.ip } : {}),
      ...(o.ips ? { podIPs: o.ips.map((ip) => ({ ip })) } : o.ip ? { podIPs: [{ ip: o.ip }] } : {}),
    },
  };
}

export function replicaSet(ns: string, name: string, deployment?: string, annotations?: Record<string, string>): ReplicaSet {
  return {
    apiVersion: "apps/v1",
    kind: "ReplicaSet",
    metadata: {
      namespace: ns,
      name,
      ...(annotations ? { annotations } : {}),
      ...(deployment ? { ownerReferences: [{ apiVersion: "apps/v1", kind: "Deployment", name: deployment, uid: `uid-${deployment}`, controller: true }] } : {}),
    },
    spec: { selector: { matchLabels: { app: name } } },
  };
}

export function job(ns: string, name: string, cronJob?: string): Job {
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { namespace: ns, name, ...(cronJob ? { ownerReferences: [{ apiVersion: "batch/v1", kind: "CronJob", name: cronJob, uid: `uid-${cronJob}`, controller: true }] } : {}) },
    spec: { template: { spec: { containers: [{ name: "c", image: "busybox" }], restartPolicy: "Never" } } },
  };
}

export function service(ns: string, name: string, clusterIP: string, selector: Record<string, string> = { app: name }, ports: number[] = [80]): Service {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { namespace: ns, name },
    spec: { clusterIP, clusterIPs: [clusterIP], selector, ports: ports.map((port) => ({ port, protocol: "TCP" })) },
  };
}

export function endpointSlice(ns: string, svc: string, backends: { ip: string; pod?: string; node?: string }[], ports: number[] = [8080], name = `${svc}-abcde`): EndpointSlice {
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { namespace: ns, name, labels: { "kubernetes.io/service-name": svc } },
    addressType: "IPv4",
    endpoints: backends.map((b) => ({
      addresses: [b.ip],
      conditions: { ready: true },
      ...(b.pod ? { targetRef: { kind: "Pod", namespace: ns, name: b.pod } } : {}),
      ...(b.node ? { nodeName: b.node } : {}),
    })),
    ports: ports.map((port) => ({ port, protocol: "TCP" })),
  };
}

export function namespace(name: string, annotations?: Record<string, string>): Namespace {
  return { apiVersion: "v1", kind: "Namespace", metadata: { name, ...(annotations ? { annotations } : {}) } };
}

export function node(name: string, ip: string, annotations?: Record<string, string>): Node {
  return { apiVersion: "v1", kind: "Node", metadata: { name, ...(annotations ? { annotations } : {}) }, status: { addresses: [{ type: "InternalIP", address: ip }, { type: "Hostname", address: name }] } };
}
