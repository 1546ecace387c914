// The kind-specific validation of the real registries (pkg/apis/*/validation) for the kinds tests
// write most, with the real messages (recorded: crud/configmap-create-invalid, pods/create-invalid,
// pods/create-no-containers, deployments/create-invalid, leases/create-invalid-duration,
// pods/update-forbidden-field). Schema-level checks (types, required fields, unknown fields) live
// in validation.ts/openapi.ts; these are the rules the OpenAPI document cannot express.
import type { ResourceInfo } from "./resources.js";
import type { StatusCause } from "./status.js";
import { dns1123LabelCauses } from "./validation.js";
import type { KubeObject } from "./store.js";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;
const CONFIG_KEY_MSG =
  "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";

/** Go's %#v of a map[string]string, as validation messages print label maps. */
export function goStringMap(m: Record<string, string>): string {
  return `map[string]string{${Object.keys(m)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${JSON.stringify(m[k])}`)
    .join(", ")}}`;
}

const invalid = (field: string, value: string, detail: string): StatusCause => ({ reason: "FieldValueInvalid", field, message: `Invalid value: ${value}: ${detail}` });
const required = (field: string): StatusCause => ({ reason: "FieldValueRequired", field, message: "Required value" });
const unsupported = (field: string, value: unknown, supported: string[]): StatusCause => ({
  reason: "FieldValueNotSupported",
  field,
  message: `Unsupported value: ${JSON.stringify(value)}: supported values: ${supported.map((s) => JSON.stringify(s)).join(", ")}`,
});

function podSpecCauses(spec: unknown, path: string, restartPolicies: string[]): StatusCause[] {
  if (!isObj(spec)) return [];
  const out: StatusCause[] = [];
  const containers = Array.isArray(spec.containers) ? spec.containers : [];
  if (containers.length === 0) out.push(required(`${path}.containers`));
  containers.forEach((c, i) => {
    if (!isObj(c)) return;
    const p = `${path}.containers[${i}]`;
    if (typeof c.name !== "string" || c.name === "") out.push(required(`${p}.name`));
    else out.push(...dns1123LabelCauses(`${p}.name`, c.name));
    if (typeof c.image !== "string" || c.image === "") out.push(required(`${p}.image`));
  });
  if (spec.restartPolicy !== undefined && !restartPolicies.includes(String(spec.restartPolicy))) out.push(unsupported(`${path}.restartPolicy`, spec.restartPolicy, restartPolicies));
  return out;
}

function selectorMatches(selector: unknown, labels: Record<string, string>): boolean {
  if (!isObj(selector)) return false;
  const ml = isObj(selector.matchLabels) ? (selector.matchLabels as Record<string, string>) : {};
  if (!Object.entries(ml).every(([k, v]) => labels[k] === v)) return false;
  const exprs = Array.isArray(selector.matchExpressions) ? selector.matchExpressions.filter(isObj) : [];
  return exprs.every((e) => {
    const has = Object.hasOwn(labels, String(e.key));
    const vals = Array.isArray(e.values) ? e.values.map(String) : [];
    switch (e.operator) {
      case "In":
        return has && vals.includes(labels[String(e.key)]!);
      case "NotIn":
        return !has || !vals.includes(labels[String(e.key)]!);
      case "Exists":
        return has;
      case "DoesNotExist":
        return !has;
      default:
        return false;
    }
  });
}

/** Causes for a create or update of `obj` (after defaulting), in the order the real validation reports them. */
export function kindCauses(info: ResourceInfo, obj: KubeObject): StatusCause[] {
  const key = `${info.group}/${info.resource}`;
  const spec = isObj(obj.spec) ? obj.spec : {};
  const out: StatusCause[] = [];
  switch (key) {
    case "/configmaps":
    case "/secrets":
      for (const field of ["data", "binaryData"])
        if (isObj(obj[field])) for (const k of Object.keys(obj[field] as Obj)) if (!CONFIG_KEY.test(k)) out.push(invalid(`${field}[${k}]`, JSON.stringify(k), CONFIG_KEY_MSG));
      break;
    case "/pods":
      out.push(...podSpecCauses(obj.spec, "spec", ["Always", "OnFailure", "Never"]));
      break;
    case "apps/deployments":
    case "apps/replicasets":
    case "apps/statefulsets":
    case "apps/daemonsets": {
      if (typeof spec.replicas === "number" && spec.replicas < 0) out.push(invalid("spec.replicas", String(spec.replicas), "must be greater than or equal to 0"));
      const t = isObj(spec.template) ? spec.template : {};
      const labels = (isObj(t.metadata) && isObj(t.metadata.labels) ? t.metadata.labels : {}) as Record<string, string>;
      if (!isObj(spec.selector)) out.push(required("spec.selector"));
      else if (!selectorMatches(spec.selector, labels)) out.push(invalid("spec.template.metadata.labels", goStringMap(labels), "`selector` does not match template `labels`"));
      out.push(...podSpecCauses(t.spec, "spec.template.spec", ["Always"]));
      break;
    }
    case "coordination.k8s.io/leases":
      for (const f of ["leaseDurationSeconds", "leaseTransitions"] as const) {
        const v = spec[f];
        if (typeof v !== "number") continue;
        if (f === "leaseDurationSeconds" && v <= 0) out.push(invalid(`spec.${f}`, String(v), "must be greater than 0"));
        if (f === "leaseTransitions" && v < 0) out.push(invalid(`spec.${f}`, String(v), "must be greater than or equal to 0"));
      }
      break;
  }
  return out;
}

const POD_UPDATE_MSG =
  "Forbidden: pod updates may not change fields other than `spec.containers[*].image`, `spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to existing tolerations) or `spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/** What a pod's spec may not change once created (ValidatePodUpdate). */
export function podUpdateCauses(old: KubeObject, next: KubeObject): StatusCause[] {
  const strip = (o: KubeObject): Obj => {
    const s = structuredClone(isObj(o.spec) ? o.spec : {});
    for (const list of ["containers", "initContainers"]) if (Array.isArray(s[list])) for (const c of s[list] as Obj[]) if (isObj(c)) delete c.image;
    delete s.activeDeadlineSeconds;
    delete s.tolerations;
    delete s.terminationGracePeriodSeconds;
    return s;
  };
  const a = strip(old);
  const b = strip(next);
  if (JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b))) return [];
  // The real message continues with a Go cmp diff of the internal PodSpec; ours names the fields.
  const changed = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((k) => JSON.stringify(sortKeys(a[k])) !== JSON.stringify(sortKeys(b[k])));
  return [{ reason: "FieldValueForbidden", field: "spec", message: `${POD_UPDATE_MSG}\n  changed: ${changed.map((k) => `spec.${k}`).join(", ")}\n` }];
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (isObj(v)) return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])]));
  return v;
}
