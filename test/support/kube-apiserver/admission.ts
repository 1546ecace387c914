// Admission plugins of the default v1.25 chain that change or refuse what clients see (README of
// the recordings, "Admission"): NamespaceLifecycle, ServiceAccount (token volume), Priority,
// DefaultTolerationSeconds, PodSecurity. They run after defaulting and validation, so what they add
// is not owned by the request's field manager (as on the real server).
import { reorderKeys } from "./defaults.js";
import type { ResourceInfo } from "./resources.js";
import { ApiError, errors, statusObject } from "./status.js";
import { randomSuffix, type KubeObject, type ObjectStore } from "./store.js";

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);
const SA_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount";

function forbidden(info: ResourceInfo, name: string, message: string, causes?: { reason: string; message: string; field: string }[]): ApiError {
  const qualified = info.group ? `${info.resource}.${info.group}` : info.resource;
  return new ApiError(
    statusObject(403, "Forbidden", `${qualified} "${name}" is forbidden: ${message}`, {
      name,
      ...(info.group && { group: info.group }),
      kind: info.resource,
      ...(causes && { causes }),
    }),
  );
}

/** NamespaceLifecycle: no new content in a missing or terminating namespace. */
export function admitNamespace(store: ObjectStore, info: ResourceInfo, namespace: string | undefined, name: string): void {
  if (!info.namespaced || !namespace) return;
  const ns = store.getRaw(store.registry.resolve("namespaces"), undefined, namespace);
  if (!ns) {
    if (store.requiresNamespaces) throw errors.notFound({ group: "", resource: "namespaces", name: namespace });
    return;
  }
  if ((ns.status as Obj | undefined)?.phase === "Terminating")
    throw forbidden(info, name, `unable to create new content in namespace ${namespace} because it is being terminated`, [
      { reason: "NamespaceTerminating", message: `namespace ${namespace} is being terminated`, field: "metadata.namespace" },
    ]);
}

/** ServiceAccount, Priority and DefaultTolerationSeconds for a pod being created. */
export function admitPodCreate(pod: KubeObject): void {
  const spec = pod.spec;
  if (!isObj(spec)) return;
  if (!spec.serviceAccountName) spec.serviceAccountName = typeof spec.serviceAccount === "string" && spec.serviceAccount ? spec.serviceAccount : "default";
  spec.serviceAccount = spec.serviceAccountName;
  const containers = [...(Array.isArray(spec.initContainers) ? spec.initContainers : []), ...(Array.isArray(spec.containers) ? spec.containers : [])].filter(isObj);
  const mounted = containers.some((c) => Array.isArray(c.volumeMounts) && c.volumeMounts.some((m) => isObj(m) && m.mountPath === SA_MOUNT));
  if (spec.automountServiceAccountToken !== false && !mounted) {
    const name = `kube-api-access-${randomSuffix()}`;
    const volumes = Array.isArray(spec.volumes) ? spec.volumes : [];
    spec.volumes = [
      ...volumes,
      {
        name,
        projected: {
          sources: [
            { serviceAccountToken: { expirationSeconds: 3607, path: "token" } },
            { configMap: { name: "kube-root-ca.crt", items: [{ key: "ca.crt", path: "ca.crt" }] } },
            { downwardAPI: { items: [{ path: "namespace", fieldRef: { apiVersion: "v1", fieldPath: "metadata.namespace" } }] } },
          ],
          defaultMode: 420,
        },
      },
    ];
    for (const c of containers) {
      const mounts = Array.isArray(c.volumeMounts) ? c.volumeMounts : [];
      c.volumeMounts = [...mounts, { name, readOnly: true, mountPath: SA_MOUNT }];
      // Keep the field order the real encoder produces (volumeMounts right after resources).
      reorderKeys(c, ["name", "image", "command", "args", "workingDir", "ports", "envFrom", "env", "resources", "volumeMounts"]);
    }
  }
  const tolerations = Array.isArray(spec.tolerations) ? spec.tolerations.filter(isObj) : [];
  for (const key of ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"]) {
    const has = tolerations.some((t) => (t.key === key || (t.key === undefined && t.operator === "Exists")) && (t.effect === "NoExecute" || t.effect === undefined));
    if (!has) tolerations.push({ key, operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 });
  }
  spec.tolerations = tolerations;
  if (spec.priority === undefined) spec.priority = 0;
  if (spec.preemptionPolicy === undefined) spec.preemptionPolicy = "PreemptLowerPriority";
}


// ---- PodSecurity -------------------------------------------------------------------------------

type Level = "privileged" | "baseline" | "restricted";
interface Violation {
  id: string;
  reason: string;
  detail: string;
}

function quoteList(kind: string, names: string[]): string {
  return `${kind}${names.length > 1 ? "s" : ""} ${names.map((n) => JSON.stringify(n)).join(", ")}`;
}

const BASELINE_CAPS = new Set(["AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"]);
const RESTRICTED_VOLUMES = new Set(["configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret", "name"]);

/** The pod-security-admission checks of a level (a subset of the policy: the common ones), sorted by check ID as PSA reports them. */
function podSecurityViolations(spec: Obj, level: Level): Violation[] {
  if (level === "privileged") return [];
  const out: Violation[] = [];
  const podSc = isObj(spec.securityContext) ? spec.securityContext : {};
  const containers = ["initContainers", "containers", "ephemeralContainers"].flatMap((k) => (Array.isArray(spec[k]) ? (spec[k] as unknown[]).filter(isObj) : []));
  const sc = (c: Obj): Obj => (isObj(c.securityContext) ? c.securityContext : {});
  const hostNs = (["hostNetwork", "hostPID", "hostIPC"] as const).filter((k) => spec[k] === true).map((k) => `${k}=true`);
  if (hostNs.length) out.push({ id: "hostNamespaces", reason: "host namespaces", detail: hostNs.join(", ") });
  const priv = containers.filter((c) => sc(c).privileged === true).map((c) => String(c.name));
  if (priv.length) out.push({ id: "privileged", reason: "privileged", detail: `${quoteList("container", priv)} must not set securityContext.privileged=true` });
  const volumes = Array.isArray(spec.volumes) ? spec.volumes.filter(isObj) : [];
  const hostPath = volumes.filter((v) => v.hostPath !== undefined).map((v) => String(v.name));
  if (hostPath.length) out.push({ id: "hostPathVolumes", reason: "hostPath volumes", detail: quoteList("volume", hostPath) });
  const ports: string[] = [];
  for (const c of containers)
    for (const p of Array.isArray(c.ports) ? c.ports.filter(isObj) : [])
      if (typeof p.hostPort === "number" && p.hostPort !== 0) ports.push(`${JSON.stringify(String(c.name))} uses hostPort ${p.hostPort}`);
  if (ports.length) out.push({ id: "hostPorts", reason: "hostPort", detail: `container ${ports.join(", ")}` });
  const addCaps: string[] = [];
  for (const c of containers) {
    const caps = isObj(sc(c).capabilities) ? (sc(c).capabilities as Obj) : {};
    const bad = (Array.isArray(caps.add) ? caps.add : []).filter((x) => !BASELINE_CAPS.has(String(x)));
    if (bad.length) addCaps.push(`container ${JSON.stringify(String(c.name))} must not include ${bad.map((b) => JSON.stringify(String(b))).join(", ")} in securityContext.capabilities.add`);
  }
  if (addCaps.length) out.push({ id: "capabilities_baseline", reason: "non-default capabilities", detail: addCaps.join(", ") });
  if (level === "restricted") {
    const esc = containers.filter((c) => sc(c).allowPrivilegeEscalation !== false).map((c) => String(c.name));
    if (esc.length) out.push({ id: "allowPrivilegeEscalation", reason: "allowPrivilegeEscalation != false", detail: `${quoteList("container", esc)} must set securityContext.allowPrivilegeEscalation=false` });
    const dropAll = containers
      .filter((c) => {
        const caps = isObj(sc(c).capabilities) ? (sc(c).capabilities as Obj) : {};
        return !(Array.isArray(caps.drop) && caps.drop.includes("ALL"));
      })
      .map((c) => String(c.name));
    if (dropAll.length) out.push({ id: "capabilities_restricted", reason: "unrestricted capabilities", detail: `${quoteList("container", dropAll)} must set securityContext.capabilities.drop=["ALL"]` });
    const nonRoot = podSc.runAsNonRoot === true ? containers.filter((c) => sc(c).runAsNonRoot === false) : containers.filter((c) => sc(c).runAsNonRoot !== true);
    if (nonRoot.length)
      out.push({ id: "runAsNonRoot", reason: "runAsNonRoot != true", detail: `pod or ${quoteList("container", nonRoot.map((c) => String(c.name)))} must set securityContext.runAsNonRoot=true` });
    const seccompOk = (o: Obj) => isObj(o.seccompProfile) && ["RuntimeDefault", "Localhost"].includes(String((o.seccompProfile as Obj).type));
    const noSeccomp = seccompOk(podSc) ? [] : containers.filter((c) => !seccompOk(sc(c)));
    if (noSeccomp.length)
      out.push({
        id: "seccompProfile_restricted",
        reason: "seccompProfile",
        detail: `pod or ${quoteList("container", noSeccomp.map((c) => String(c.name)))} must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"`,
      });
    const restricted = volumes
      .map((v) => [String(v.name), Object.keys(v).find((k) => !RESTRICTED_VOLUMES.has(k))] as const)
      .filter(([, t]) => t !== undefined);
    if (restricted.length)
      out.push({ id: "restrictedVolumes", reason: "restricted volume types", detail: restricted.map(([n, t]) => `volume ${JSON.stringify(n)} uses restricted volume type ${JSON.stringify(t)}`).join(", ") });
  }
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** null for a pod itself, the pod spec of a workload's template, undefined for other kinds. */
function podTemplateSpec(info: ResourceInfo, obj: Obj): Obj | null | undefined {
  const key = `${info.group}/${info.resource}`;
  if (key === "/pods") return null;
  const spec = isObj(obj.spec) ? obj.spec : {};
  let t: unknown;
  if (key === "/podtemplates") t = obj.template;
  else if (["/replicationcontrollers", "apps/deployments", "apps/replicasets", "apps/statefulsets", "apps/daemonsets", "batch/jobs"].includes(key)) t = spec.template;
  else if (key === "batch/cronjobs") t = isObj(spec.jobTemplate) && isObj(spec.jobTemplate.spec) ? spec.jobTemplate.spec.template : undefined;
  else return undefined;
  return isObj(t) && isObj(t.spec) ? t.spec : undefined;
}

/**
 * The pod registry's PrepareForCreate copies seccomp fields into the deprecated annotations, so
 * that old kubelets see them (applySeccompVersionSkew).
 */
export function seccompAnnotations(pod: KubeObject): void {
  const spec = isObj(pod.spec) ? pod.spec : {};
  const annotation = (p: unknown): string | undefined => {
    if (!isObj(p)) return undefined;
    if (p.type === "RuntimeDefault") return "runtime/default";
    if (p.type === "Unconfined") return "unconfined";
    if (p.type === "Localhost" && typeof p.localhostProfile === "string") return `localhost/${p.localhostProfile}`;
    return undefined;
  };
  const ann: Record<string, string> = {};
  const podLevel = annotation(isObj(spec.securityContext) ? spec.securityContext.seccompProfile : undefined);
  if (podLevel) ann["seccomp.security.alpha.kubernetes.io/pod"] = podLevel;
  for (const c of Array.isArray(spec.containers) ? spec.containers.filter(isObj) : []) {
    const a = annotation(isObj(c.securityContext) ? c.securityContext.seccompProfile : undefined);
    if (a) ann[`container.seccomp.security.alpha.kubernetes.io/${String(c.name)}`] = a;
  }
  if (Object.keys(ann).length) pod.metadata.annotations = { ...ann, ...(pod.metadata.annotations ?? {}) };
}

function levelOf(labels: Record<string, string>, mode: "enforce" | "warn" | "audit"): Level {
  const v = labels[`pod-security.kubernetes.io/${mode}`];
  return v === "baseline" || v === "restricted" ? v : "privileged";
}

function describe(v: Violation[]): string {
  return v.map((x) => `${x.reason} (${x.detail})`).join(", ");
}

/**
 * PodSecurity for a pod create (also under dryRun, as recorded): refuses what the namespace's
 * enforce level forbids, returns the Warning texts of its warn level. Version labels are ignored
 * ("latest"); exemptions are not modelled.
 */
export function admitPodSecurity(store: ObjectStore, info: ResourceInfo, pod: KubeObject): string[] {
  const template = podTemplateSpec(info, pod);
  if (template === undefined) return [];
  const ns = pod.metadata.namespace ? store.getRaw(store.registry.resolve("namespaces"), undefined, pod.metadata.namespace) : undefined;
  const labels = (ns?.metadata.labels ?? {}) as Record<string, string>;
  if (template !== null) {
    // Workload templates are only warned about (and audited), never refused.
    const warnLevel = levelOf(labels, "warn");
    const v = podSecurityViolations(template, warnLevel);
    return v.length ? [`would violate PodSecurity "${warnLevel}:latest": ${describe(v)}`] : [];
  }
  if (!isObj(pod.spec)) return [];
  const enforce = levelOf(labels, "enforce");
  const denied = podSecurityViolations(pod.spec, enforce);
  if (denied.length) throw forbidden(info, String(pod.metadata.name ?? ""), `violates PodSecurity "${enforce}:latest": ${describe(denied)}`);
  const warn = levelOf(labels, "warn");
  const warned = podSecurityViolations(pod.spec, warn);
  return warned.length ? [`would violate PodSecurity "${warn}:latest": ${describe(warned)}`] : [];
}
