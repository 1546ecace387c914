// The `scale` subresource of custom resources (CRD `subresources.scale`): an autoscaling/v1 Scale
// read from specReplicasPath / statusReplicasPath / labelSelectorPath, written back to
// specReplicasPath on PUT and PATCH (merge, strategic, JSON patch of the Scale), as the real
// apiextensions-apiserver's scale REST does. Shape as recorded for deployments/scale-{get,put,patch}.
import { getPath, setPath } from "./crds.js";
import { applyPatch, type Json, type PatchType } from "./patch.js";
import type { ResourceInfo } from "./resources.js";
import { trackUpdate, type ManagerContext } from "./managed-fields.js";
import { errors } from "./status.js";
import type { KubeObject, ObjectStore } from "./store.js";

export interface Scale {
  kind: "Scale";
  apiVersion: "autoscaling/v1";
  metadata: Record<string, unknown>;
  spec: { replicas?: number };
  status: { replicas: number; selector?: string };
}

function scaleSpec(info: ResourceInfo): NonNullable<ResourceInfo["scale"]> {
  const s = info.crd?.scale ?? info.scale;
  if (!s) throw errors.notFoundPath();
  return s;
}

/**
 * metav1.FormatLabelSelector: a LabelSelector as a selector string ("app=web,tier in (a,b)"); a
 * plain map (ReplicationController) as "k=v,…"; a string (custom resources) as it is.
 */
function formatSelector(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (v === null || typeof v !== "object" || Array.isArray(v)) return undefined;
  const o = v as { matchLabels?: Record<string, string>; matchExpressions?: { key: string; operator: string; values?: string[] }[] };
  if (o.matchLabels === undefined && o.matchExpressions === undefined) {
    const m = v as Record<string, unknown>;
    return Object.keys(m)
      .sort()
      .map((k) => `${k}=${String(m[k])}`)
      .join(",");
  }
  const parts = Object.keys(o.matchLabels ?? {})
    .sort()
    .map((k) => `${k}=${o.matchLabels![k]}`);
  for (const e of o.matchExpressions ?? []) {
    const vals = [...(e.values ?? [])].sort().join(",");
    if (e.operator === "In") parts.push(`${e.key} in (${vals})`);
    else if (e.operator === "NotIn") parts.push(`${e.key} notin (${vals})`);
    else if (e.operator === "Exists") parts.push(e.key);
    else if (e.operator === "DoesNotExist") parts.push(`!${e.key}`);
  }
  return parts.length ? parts.join(",") : "<none>";
}

function toScale(info: ResourceInfo, obj: KubeObject): Scale {
  const s = scaleSpec(info);
  const num = (v: unknown) => (typeof v === "number" ? v : 0);
  const m = obj.metadata;
  const selector = s.labelSelectorPath ? formatSelector(getPath(obj, s.labelSelectorPath)) : undefined;
  return {
    kind: "Scale",
    apiVersion: "autoscaling/v1",
    metadata: { name: m.name, ...(m.namespace && { namespace: m.namespace }), uid: m.uid, resourceVersion: m.resourceVersion, creationTimestamp: m.creationTimestamp },
    spec: { replicas: num(getPath(obj, s.specReplicasPath)) },
    status: { replicas: num(getPath(obj, s.statusReplicasPath)), ...(typeof selector === "string" && selector !== "" && { selector }) },
  };
}

/** GET / PUT / PATCH of `<resource>/<name>/scale`. `body` is the decoded request body (not for get). */
export function scaleRequest(
  store: ObjectStore,
  info: ResourceInfo,
  namespace: string | undefined,
  name: string,
  verb: string,
  body: unknown,
  opts: { dryRun: boolean; patchType?: PatchType; manager?: ManagerContext },
): Scale {
  const cur = store.getRaw(info, namespace, name);
  if (!cur) throw errors.notFound({ group: info.group, resource: info.resource, name });
  const current = toScale(info, cur);
  if (verb === "get") return current;
  let next: unknown;
  if (verb === "update") next = body;
  else if (verb === "patch") next = applyPatch(opts.patchType ?? "merge", structuredClone(current) as unknown as Json, body as Json);
  else throw errors.methodNotAllowed("the server does not allow this method on the requested resource");
  const scale = next as Partial<Scale> | null;
  if (!scale || typeof scale !== "object" || Array.isArray(scale)) throw errors.badRequest("the request body must be a Scale object");
  if (verb === "update") {
    if (scale.kind !== undefined && scale.kind !== "Scale")
      throw errors.badRequest(`${String(scale.kind)} in version "v1" cannot be handled as a Scale: converting (${String(scale.kind)}) to (autoscaling.Scale): unknown conversion`);
    const n = (scale.metadata as { name?: unknown } | undefined)?.name;
    if (n !== undefined && n !== name) throw errors.badRequest(`the name of the object (${String(n)}) does not match the name on the URL (${name})`);
  }
  const replicas = scale.spec?.replicas;
  const target = { group: "autoscaling", resource: "scale", name };
  if (replicas !== undefined && (typeof replicas !== "number" || !Number.isInteger(replicas)))
    throw errors.badRequest(`Scale in version "v1" cannot be handled as a Scale: json: cannot unmarshal ${typeof replicas === "string" ? "string" : "number"} into Go struct field ScaleSpec.spec.replicas of type int32`);
  if (typeof replicas === "number" && replicas < 0)
    throw errors.invalid("Scale", target, [{ reason: "FieldValueInvalid", field: "spec.replicas", message: `Invalid value: ${replicas}: must be greater than or equal to 0` }]);
  const rv = (scale.metadata as { resourceVersion?: unknown } | undefined)?.resourceVersion;
  const updated = structuredClone(cur);
  setPath(updated, scaleSpec(info).specReplicasPath, replicas ?? 0);
  if (verb === "update" && typeof rv === "string" && rv !== "") updated.metadata.resourceVersion = rv;
  else delete updated.metadata.resourceVersion;
  // Only spec.replicas is owned through the scale subresource, under the parent's apiVersion.
  if (opts.manager)
    updated.metadata.managedFields = trackUpdate({ group: info.group, version: info.version, kind: info.kind }, cur, updated, {
      ...opts.manager,
      subresource: "scale",
      replicasPath: scaleSpec(info).specReplicasPath.replace(/^\./, "").split("."),
    }).metadata.managedFields;
  const written = store.replace(info, namespace, name, updated, { dryRun: opts.dryRun, scope: "main" });
  return toScale(info, written);
}
