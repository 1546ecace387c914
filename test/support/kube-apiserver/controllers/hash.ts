// The pod-template-hash of a Deployment's ReplicaSets, computed as kube-controller-manager v1.25
// does (pkg/controller.ComputeHash): FNV-1a (32 bit) over the `%#v` rendering of the Go
// v1.PodTemplateSpec by go-spew (hashutil.DeepHashObject: SortKeys, DisableMethods), the
// collisionCount appended as 8 little-endian bytes when set, then the decimal value of the sum
// passed through rand.SafeEncodeString ("bcdfghjklmnpqrstvwxz2456789", one letter per digit).
//
// go-spew prints every field of every struct in Go declaration order, typed: `(string)web`,
// `(*int64)30`, `(*bool)<nil>`, `([]v1.Volume)<nil>`, `(map[string]string)map[app:web]`. So the
// rendering needs the Go types of the template; they are modelled below for the fields pod
// templates commonly use (k8s.io/api as built into the recorded v1.25 kube-controller-manager,
// checked against its three recorded hashes). A template using a field that is not modelled
// (probes, affinity, resource quantities, …) is hashed by its canonical JSON instead: still stable
// and with the same alphabet and length, but not the name the real controller would pick.
import { SAFE_ALPHABET } from "../store.js";

type GoType =
  | { k: "string"; name: string }
  | { k: "int"; name: string }
  | { k: "bool" }
  | { k: "ptr"; elem: GoType }
  | { k: "slice"; elem: GoType }
  | { k: "map"; name?: string; key: GoType; val: GoType }
  | { k: "struct"; name: string; fields: Field[] }
  /** A field whose type is not modelled: its Go type name; only a nil/zero value can be rendered. */
  | { k: "opaque"; name: string; zero: "nil" | "zero-struct" };

type Field = [goName: string, jsonName: string | null, type: GoType];

const str = (name = "string"): GoType => ({ k: "string", name });
const int = (name: string): GoType => ({ k: "int", name });
const bool: GoType = { k: "bool" };
const ptr = (elem: GoType): GoType => ({ k: "ptr", elem });
const slice = (elem: GoType): GoType => ({ k: "slice", elem });
const opaquePtr = (name: string): GoType => ({ k: "opaque", name: `*${name}`, zero: "nil" });
const opaqueSlice = (name: string): GoType => ({ k: "opaque", name: `[]${name}`, zero: "nil" });
const opaqueMap = (name: string): GoType => ({ k: "opaque", name, zero: "nil" });
const stringMap: GoType = { k: "map", key: str(), val: str() };

function typeName(t: GoType): string {
  switch (t.k) {
    case "string":
    case "int":
      return t.name;
    case "bool":
      return "bool";
    case "ptr":
      return `*${typeName(t.elem)}`;
    case "slice":
      return `[]${typeName(t.elem)}`;
    case "map":
      return t.name ?? `map[${typeName(t.key)}]${typeName(t.val)}`;
    case "struct":
      return t.name;
    case "opaque":
      return t.name;
  }
}

const TIME: GoType = {
  k: "struct",
  name: "v1.Time",
  fields: [["Time", null, { k: "struct", name: "time.Time", fields: [["wall", null, int("uint64")], ["ext", null, int("int64")], ["loc", null, opaquePtr("time.Location")]] }]],
};

const OBJECT_META: GoType = {
  k: "struct",
  name: "v1.ObjectMeta",
  fields: [
    ["Name", "name", str()],
    ["GenerateName", "generateName", str()],
    ["Namespace", "namespace", str()],
    ["SelfLink", "selfLink", str()],
    ["UID", "uid", str("types.UID")],
    ["ResourceVersion", "resourceVersion", str()],
    ["Generation", "generation", int("int64")],
    ["CreationTimestamp", "creationTimestamp", TIME],
    ["DeletionTimestamp", "deletionTimestamp", opaquePtr("v1.Time")],
    ["DeletionGracePeriodSeconds", "deletionGracePeriodSeconds", ptr(int("int64"))],
    ["Labels", "labels", stringMap],
    ["Annotations", "annotations", stringMap],
    ["OwnerReferences", "ownerReferences", opaqueSlice("v1.OwnerReference")],
    ["Finalizers", "finalizers", slice(str())],
    ["ManagedFields", "managedFields", opaqueSlice("v1.ManagedFieldsEntry")],
  ],
};

const CONTAINER_PORT: GoType = {
  k: "struct",
  name: "v1.ContainerPort",
  fields: [
    ["Name", "name", str()],
    ["HostPort", "hostPort", int("int32")],
    ["ContainerPort", "containerPort", int("int32")],
    ["Protocol", "protocol", str("v1.Protocol")],
    ["HostIP", "hostIP", str()],
  ],
};

const ENV_VAR: GoType = {
  k: "struct",
  name: "v1.EnvVar",
  fields: [
    ["Name", "name", str()],
    ["Value", "value", str()],
    ["ValueFrom", "valueFrom", opaquePtr("v1.EnvVarSource")],
  ],
};

const VOLUME_MOUNT: GoType = {
  k: "struct",
  name: "v1.VolumeMount",
  fields: [
    ["Name", "name", str()],
    ["ReadOnly", "readOnly", bool],
    ["MountPath", "mountPath", str()],
    ["SubPath", "subPath", str()],
    ["MountPropagation", "mountPropagation", ptr(str("v1.MountPropagationMode"))],
    ["SubPathExpr", "subPathExpr", str()],
  ],
};

const RESOURCES: GoType = {
  k: "struct",
  name: "v1.ResourceRequirements",
  fields: [
    ["Limits", "limits", opaqueMap("v1.ResourceList")],
    ["Requests", "requests", opaqueMap("v1.ResourceList")],
  ],
};

const CONTAINER: GoType = {
  k: "struct",
  name: "v1.Container",
  fields: [
    ["Name", "name", str()],
    ["Image", "image", str()],
    ["Command", "command", slice(str())],
    ["Args", "args", slice(str())],
    ["WorkingDir", "workingDir", str()],
    ["Ports", "ports", slice(CONTAINER_PORT)],
    ["EnvFrom", "envFrom", opaqueSlice("v1.EnvFromSource")],
    ["Env", "env", slice(ENV_VAR)],
    ["Resources", "resources", RESOURCES],
    ["VolumeMounts", "volumeMounts", slice(VOLUME_MOUNT)],
    ["VolumeDevices", "volumeDevices", opaqueSlice("v1.VolumeDevice")],
    ["LivenessProbe", "livenessProbe", opaquePtr("v1.Probe")],
    ["ReadinessProbe", "readinessProbe", opaquePtr("v1.Probe")],
    ["StartupProbe", "startupProbe", opaquePtr("v1.Probe")],
    ["Lifecycle", "lifecycle", opaquePtr("v1.Lifecycle")],
    ["TerminationMessagePath", "terminationMessagePath", str()],
    ["TerminationMessagePolicy", "terminationMessagePolicy", str("v1.TerminationMessagePolicy")],
    ["ImagePullPolicy", "imagePullPolicy", str("v1.PullPolicy")],
    ["SecurityContext", "securityContext", opaquePtr("v1.SecurityContext")],
    ["Stdin", "stdin", bool],
    ["StdinOnce", "stdinOnce", bool],
    ["TTY", "tty", bool],
  ],
};

const POD_SECURITY_CONTEXT: GoType = {
  k: "struct",
  name: "v1.PodSecurityContext",
  fields: [
    ["SELinuxOptions", "seLinuxOptions", opaquePtr("v1.SELinuxOptions")],
    ["WindowsOptions", "windowsOptions", opaquePtr("v1.WindowsSecurityContextOptions")],
    ["RunAsUser", "runAsUser", ptr(int("int64"))],
    ["RunAsGroup", "runAsGroup", ptr(int("int64"))],
    ["RunAsNonRoot", "runAsNonRoot", ptr(bool)],
    ["SupplementalGroups", "supplementalGroups", slice(int("int64"))],
    ["FSGroup", "fsGroup", ptr(int("int64"))],
    ["Sysctls", "sysctls", opaqueSlice("v1.Sysctl")],
    ["FSGroupChangePolicy", "fsGroupChangePolicy", ptr(str("v1.PodFSGroupChangePolicy"))],
    ["SeccompProfile", "seccompProfile", opaquePtr("v1.SeccompProfile")],
  ],
};

const TOLERATION: GoType = {
  k: "struct",
  name: "v1.Toleration",
  fields: [
    ["Key", "key", str()],
    ["Operator", "operator", str("v1.TolerationOperator")],
    ["Value", "value", str()],
    ["Effect", "effect", str("v1.TaintEffect")],
    ["TolerationSeconds", "tolerationSeconds", ptr(int("int64"))],
  ],
};

const POD_SPEC: GoType = {
  k: "struct",
  name: "v1.PodSpec",
  fields: [
    ["Volumes", "volumes", opaqueSlice("v1.Volume")],
    ["InitContainers", "initContainers", slice(CONTAINER)],
    ["Containers", "containers", slice(CONTAINER)],
    ["EphemeralContainers", "ephemeralContainers", opaqueSlice("v1.EphemeralContainer")],
    ["RestartPolicy", "restartPolicy", str("v1.RestartPolicy")],
    ["TerminationGracePeriodSeconds", "terminationGracePeriodSeconds", ptr(int("int64"))],
    ["ActiveDeadlineSeconds", "activeDeadlineSeconds", ptr(int("int64"))],
    ["DNSPolicy", "dnsPolicy", str("v1.DNSPolicy")],
    ["NodeSelector", "nodeSelector", stringMap],
    ["ServiceAccountName", "serviceAccountName", str()],
    ["DeprecatedServiceAccount", "serviceAccount", str()],
    ["AutomountServiceAccountToken", "automountServiceAccountToken", ptr(bool)],
    ["NodeName", "nodeName", str()],
    ["HostNetwork", "hostNetwork", bool],
    ["HostPID", "hostPID", bool],
    ["HostIPC", "hostIPC", bool],
    ["ShareProcessNamespace", "shareProcessNamespace", ptr(bool)],
    ["SecurityContext", "securityContext", ptr(POD_SECURITY_CONTEXT)],
    ["ImagePullSecrets", "imagePullSecrets", opaqueSlice("v1.LocalObjectReference")],
    ["Hostname", "hostname", str()],
    ["Subdomain", "subdomain", str()],
    ["Affinity", "affinity", opaquePtr("v1.Affinity")],
    ["SchedulerName", "schedulerName", str()],
    ["Tolerations", "tolerations", slice(TOLERATION)],
    ["HostAliases", "hostAliases", opaqueSlice("v1.HostAlias")],
    ["PriorityClassName", "priorityClassName", str()],
    ["Priority", "priority", ptr(int("int32"))],
    ["DNSConfig", "dnsConfig", opaquePtr("v1.PodDNSConfig")],
    ["ReadinessGates", "readinessGates", opaqueSlice("v1.PodReadinessGate")],
    ["RuntimeClassName", "runtimeClassName", ptr(str())],
    ["EnableServiceLinks", "enableServiceLinks", ptr(bool)],
    ["PreemptionPolicy", "preemptionPolicy", ptr(str("v1.PreemptionPolicy"))],
    ["Overhead", "overhead", opaqueMap("v1.ResourceList")],
    ["TopologySpreadConstraints", "topologySpreadConstraints", opaqueSlice("v1.TopologySpreadConstraint")],
    ["SetHostnameAsFQDN", "setHostnameAsFQDN", ptr(bool)],
    ["OS", "os", opaquePtr("v1.PodOS")],
    // No HostUsers: the recorded kube-controller-manager's hashes (589fb64758, …) match only without it.
  ],
};

const POD_TEMPLATE_SPEC: GoType = {
  k: "struct",
  name: "v1.PodTemplateSpec",
  fields: [
    ["ObjectMeta", "metadata", OBJECT_META],
    ["Spec", "spec", POD_SPEC],
  ],
};

class NotModelled extends Error {}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);

/** go-spew `%#v` of `value` (decoded JSON) as the Go type `t`. `typed`: print the "(type)" prefix. */
function spew(t: GoType, value: unknown, typed: boolean): string {
  const prefix = typed ? `(${typeName(t)})` : "";
  switch (t.k) {
    case "string":
      if (value !== undefined && value !== null && typeof value !== "string") throw new NotModelled();
      return prefix + String(value ?? "");
    case "int":
      if (value !== undefined && value !== null && !Number.isInteger(value)) throw new NotModelled();
      return prefix + String(value ?? 0);
    case "bool":
      if (value !== undefined && value !== null && typeof value !== "boolean") throw new NotModelled();
      return prefix + String(value === true);
    case "opaque":
      if (value === undefined || value === null) return `${prefix}<nil>`;
      throw new NotModelled();
    case "ptr":
      // A non-nil pointer prints "(*T)" then the pointee without its own type.
      if (value === undefined || value === null) return `${prefix}<nil>`;
      return prefix + spew(t.elem, value, false);
    case "slice": {
      if (value === undefined || value === null) return `${prefix}<nil>`;
      if (!Array.isArray(value)) throw new NotModelled();
      return `${prefix}[${value.map((x) => spew(t.elem, x, false)).join(" ")}]`;
    }
    case "map": {
      if (value === undefined || value === null) return `${prefix}<nil>`;
      if (!isObj(value)) throw new NotModelled();
      // SortKeys: strings sort by byte order.
      const keys = Object.keys(value).sort((a, b) => (Buffer.compare(Buffer.from(a), Buffer.from(b))));
      return `${prefix}map[${keys.map((k) => `${spew(t.key, k, false)}:${spew(t.val, value[k], false)}`).join(" ")}]`;
    }
    case "struct": {
      const o = value === undefined || value === null ? {} : value;
      if (!isObj(o)) throw new NotModelled();
      const known = new Set(t.fields.map(([, json]) => json).filter((j): j is string => j !== null));
      for (const k of Object.keys(o)) if (!known.has(k) && o[k] !== undefined && o[k] !== null) throw new NotModelled();
      const parts = t.fields.map(([goName, json, ft]) => `${goName}:${spew(ft, json === null ? undefined : o[json], true)}`);
      return `${prefix}{${parts.join(" ")}}`;
    }
  }
}


function fnv32a(bytes: Uint8Array, h = 0x811c9dc5): number {
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** rand.SafeEncodeString: each byte mapped into the alphabet without vowels and confusable digits. */
export function safeEncodeString(s: string): string {
  let out = "";
  for (const b of Buffer.from(s)) out += SAFE_ALPHABET[b % SAFE_ALPHABET.length];
  return out;
}

/** The `%#v` rendering of a pod template, or undefined when it uses a field not modelled here. */
export function spewPodTemplate(template: unknown): string | undefined {
  try {
    return spew(POD_TEMPLATE_SPEC, template, true);
  } catch (err) {
    if (err instanceof NotModelled) return undefined;
    throw err;
  }
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (isObj(v))
    return `{${Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`)
      .join(",")}}`;
  return JSON.stringify(v);
}

/** controller.ComputeHash(template, collisionCount): the value of the `pod-template-hash` label. */
export function computeHash(template: unknown, collisionCount?: number): string {
  const rendered = spewPodTemplate(template) ?? `json:${canonicalJson(template)}`;
  let h = fnv32a(Buffer.from(rendered, "utf8"));
  if (collisionCount !== undefined) {
    const b = Buffer.alloc(8);
    b.writeUInt32LE(collisionCount >>> 0, 0);
    h = fnv32a(b, h);
  }
  return safeEncodeString(String(h));
}
