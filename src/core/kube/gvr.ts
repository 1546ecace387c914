/** A group/version/resource plus what the client needs to build URLs and objects for it. */
export interface GVR {
  /** "" for the core group. */
  group: string;
  version: string;
  /** Plural resource name as in the URL (pods, deployments). */
  resource: string;
  namespaced: boolean;
  kind: string;
}

function gvr(group: string, version: string, resource: string, kind: string, namespaced = true): GVR {
  return Object.freeze({ group, version, resource, kind, namespaced });
}

export const PODS = gvr("", "v1", "pods", "Pod");
export const SERVICES = gvr("", "v1", "services", "Service");
export const EVENTS = gvr("", "v1", "events", "Event");
export const CONFIGMAPS = gvr("", "v1", "configmaps", "ConfigMap");
export const SECRETS = gvr("", "v1", "secrets", "Secret");
export const SERVICEACCOUNTS = gvr("", "v1", "serviceaccounts", "ServiceAccount");
export const ENDPOINTS = gvr("", "v1", "endpoints", "Endpoints");
export const NAMESPACES = gvr("", "v1", "namespaces", "Namespace", false);
export const NODES = gvr("", "v1", "nodes", "Node", false);
export const DEPLOYMENTS = gvr("apps", "v1", "deployments", "Deployment");
export const REPLICASETS = gvr("apps", "v1", "replicasets", "ReplicaSet");
export const STATEFULSETS = gvr("apps", "v1", "statefulsets", "StatefulSet");
export const DAEMONSETS = gvr("apps", "v1", "daemonsets", "DaemonSet");
export const JOBS = gvr("batch", "v1", "jobs", "Job");
export const CRONJOBS = gvr("batch", "v1", "cronjobs", "CronJob");
export const LEASES = gvr("coordination.k8s.io", "v1", "leases", "Lease");
export const ENDPOINTSLICES = gvr("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice");

/** "apps/v1" or "v1" for the core group. */
export function apiVersionOf(g: GVR): string {
  return g.group === "" ? g.version : `${g.group}/${g.version}`;
}

/** URL path of the collection (namespace undefined → all namespaces / cluster scope). */
export function collectionPath(g: GVR, namespace?: string): string {
  const base = g.group === "" ? `/api/${g.version}` : `/apis/${g.group}/${g.version}`;
  if (g.namespaced && namespace !== undefined && namespace !== "") return `${base}/namespaces/${encodeURIComponent(namespace)}/${g.resource}`;
  return `${base}/${g.resource}`;
}

export function objectPath(g: GVR, name: string, namespace?: string, subresource?: string): string {
  if (!name) throw new TypeError(`${g.resource}: empty object name`);
  const path = `${collectionPath(g, namespace)}/${encodeURIComponent(name)}`;
  return subresource ? `${path}/${encodeURIComponent(subresource)}` : path;
}
