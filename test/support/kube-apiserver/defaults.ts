// Defaulting the real API server applies to objects written through the API (a subset: the fields
// clients commonly read back). Store actors write objects as given, like privileged controllers.
import type { ResourceInfo } from "./resources.js";
import type { KubeObject } from "./store.js";

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function setDefault(o: Obj, key: string, value: unknown): void {
  if (o[key] === undefined || o[key] === null) o[key] = value;
}

function defaultPodSpec(spec: unknown): void {
  if (!isObj(spec)) return;
  setDefault(spec, "restartPolicy", "Always");
  setDefault(spec, "terminationGracePeriodSeconds", 30);
  setDefault(spec, "dnsPolicy", "ClusterFirst");
  setDefault(spec, "schedulerName", "default-scheduler");
  setDefault(spec, "securityContext", {});
  for (const list of ["containers", "initContainers"]) {
    const cs = spec[list];
    if (!Array.isArray(cs)) continue;
    for (const c of cs) {
      if (!isObj(c)) continue;
      const image = typeof c.image === "string" ? c.image : "";
      const tag = image.includes("@") ? "digest" : (image.split("/").pop() ?? "").split(":")[1];
      setDefault(c, "imagePullPolicy", tag === undefined || tag === "latest" ? "Always" : "IfNotPresent");
      // A non-pointer struct in the Go type: always encoded, empty or not.
      setDefault(c, "resources", {});
      setDefault(c, "terminationMessagePath", "/dev/termination-log");
      setDefault(c, "terminationMessagePolicy", "File");
      if (Array.isArray(c.ports)) for (const p of c.ports) if (isObj(p)) setDefault(p, "protocol", "TCP");
    }
  }
}

function defaultTemplate(spec: Obj): void {
  const t = spec.template;
  if (!isObj(t)) return;
  // The template's ObjectMeta is a Go struct whose zero creationTimestamp encodes as null.
  const meta = isObj(t.metadata) ? t.metadata : (t.metadata = {});
  if (!("creationTimestamp" in meta)) meta.creationTimestamp = null;
  defaultPodSpec(t.spec);
}

/** Rewrites `o`'s keys in the order the real encoder writes them: `first`, then the rest as they were. */
export function reorderKeys(o: Obj, first: string[]): void {
  const entries = Object.entries(o);
  for (const k of Object.keys(o)) delete o[k];
  for (const k of first) {
    const e = entries.find(([key]) => key === k);
    if (e) o[k] = e[1];
  }
  for (const [k, v] of entries) if (!(k in o)) o[k] = v;
}

let nextServiceIp = 1;

/** Applies defaults in place. `old` is the stored object on updates (keeps allocated fields). */
export function applyDefaults(info: ResourceInfo, obj: KubeObject, old?: KubeObject): void {
  const key = `${info.group}/${info.resource}`;
  if (key === "/namespaces") {
    // SetDefaults_Namespace: the immutable name label; the registry adds the "kubernetes" finalizer.
    obj.metadata.labels = { ...(obj.metadata.labels ?? {}), "kubernetes.io/metadata.name": String(obj.metadata.name ?? "") };
  }
  if (key === "/secrets" && isObj(obj.stringData)) {
    // Conversion folds stringData into data (base64), before anything else sees the object.
    const data = isObj(obj.data) ? obj.data : {};
    for (const [k, v] of Object.entries(obj.stringData)) data[k] = Buffer.from(String(v), "utf8").toString("base64");
    obj.data = data;
    delete obj.stringData;
    reorderKeys(obj, ["apiVersion", "kind", "metadata", "data", "type"]);
  }
  if (key === "/podtemplates" && isObj(obj.template)) defaultTemplate(obj);
  const spec = obj.spec;
  if (!isObj(spec)) return;
  switch (key) {
    case "/pods":
      // serviceAccountName, tolerations, priority and the token volume come from admission (admission.ts).
      defaultPodSpec(spec);
      // SetDefaults_Pod, not SetDefaults_PodSpec: templates do not get it.
      setDefault(spec, "enableServiceLinks", true);
      break;
    case "/podtemplates":
      break;
    case "apps/deployments":
      setDefault(spec, "replicas", 1);
      setDefault(spec, "revisionHistoryLimit", 10);
      setDefault(spec, "progressDeadlineSeconds", 600);
      setDefault(spec, "strategy", { type: "RollingUpdate", rollingUpdate: { maxUnavailable: "25%", maxSurge: "25%" } });
      defaultTemplate(spec);
      break;
    case "apps/replicasets":
    case "apps/statefulsets":
      setDefault(spec, "replicas", 1);
      defaultTemplate(spec);
      break;
    case "apps/daemonsets":
      setDefault(spec, "revisionHistoryLimit", 10);
      defaultTemplate(spec);
      break;
    case "batch/jobs":
      setDefault(spec, "backoffLimit", 6);
      setDefault(spec, "completions", 1);
      setDefault(spec, "parallelism", 1);
      setDefault(spec, "completionMode", "NonIndexed");
      setDefault(spec, "suspend", false);
      defaultTemplate(spec);
      break;
    case "batch/cronjobs":
      setDefault(spec, "concurrencyPolicy", "Allow");
      setDefault(spec, "suspend", false);
      setDefault(spec, "successfulJobsHistoryLimit", 3);
      setDefault(spec, "failedJobsHistoryLimit", 1);
      break;
    case "/services": {
      setDefault(spec, "type", "ClusterIP");
      setDefault(spec, "sessionAffinity", "None");
      if (Array.isArray(spec.ports))
        for (const p of spec.ports)
          if (isObj(p)) {
            setDefault(p, "protocol", "TCP");
            setDefault(p, "targetPort", p.port);
          }
      const oldSpec = old && isObj(old.spec) ? old.spec : undefined;
      if (spec.type !== "ExternalName" && (spec.clusterIP === undefined || spec.clusterIP === "")) {
        if (oldSpec?.clusterIP) spec.clusterIP = oldSpec.clusterIP;
        else {
          // Allocated from the default service CIDR 10.96.0.0/12, as a fresh cluster would.
          const n = nextServiceIp++;
          spec.clusterIP = `10.96.${Math.floor(n / 250) % 250}.${(n % 250) + 1}`;
        }
      }
      if (typeof spec.clusterIP === "string") setDefault(spec, "clusterIPs", [spec.clusterIP]);
      break;
    }
  }
}

/** Job selector and labels the real registry generates from the Job's uid. */
export function jobLabels(obj: KubeObject): void {
  const spec = obj.spec;
  const uid = obj.metadata.uid;
  const name = obj.metadata.name;
  if (!isObj(spec) || !uid || !name || spec.manualSelector === true) return;
  const labels = { "batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name, "controller-uid": uid, "job-name": name };
  if (spec.selector === undefined) spec.selector = { matchLabels: { "batch.kubernetes.io/controller-uid": uid } };
  const t = isObj(spec.template) ? spec.template : (spec.template = {});
  const meta = isObj(t.metadata) ? t.metadata : (t.metadata = {});
  meta.labels = { ...(isObj(meta.labels) ? meta.labels : {}), ...labels };
}

/** The pod's QoS class, as the registry computes it on create (from the containers' requests and limits). */
export function qosClass(pod: KubeObject): string {
  const spec = (pod.spec ?? {}) as { containers?: unknown[]; initContainers?: unknown[] };
  const cs = [...(spec.initContainers ?? []), ...(spec.containers ?? [])] as { resources?: { requests?: Record<string, string>; limits?: Record<string, string> } }[];
  let any = false;
  let guaranteed = cs.length > 0;
  for (const c of cs) {
    const req = c?.resources?.requests ?? {};
    const lim = c?.resources?.limits ?? {};
    if (Object.keys(req).length || Object.keys(lim).length) any = true;
    for (const r of ["cpu", "memory"]) {
      const l = lim[r];
      if (l === undefined || (req[r] !== undefined && req[r] !== l)) guaranteed = false;
    }
  }
  return !any ? "BestEffort" : guaranteed ? "Guaranteed" : "Burstable";
}
