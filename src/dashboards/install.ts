// `watch-auditor install --print`: the deploy/ kustomize tree rendered for `kubectl apply -f -`.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { UsageError } from "../core/errors.js";
import { kustomizeBuild, type KubeObject } from "./kustomize.js";

/** The namespace every component's manifests are written for. */
export const HOME_NAMESPACE = "watch-auditor";

export const COMPONENTS = {
  auditor: "auditor",
  "audit-webhook": "audit-webhook",
  flows: "flows",
  controlplane: "controlplane",
  monitoring: "monitoring",
  "exporter-example": "exporter",
} as const;
export type Component = keyof typeof COMPONENTS;
/** What the kustomize base (deploy/kustomization.yaml) installs: the exporter is a sidecar example. */
export const BASE_COMPONENTS: Component[] = ["auditor", "audit-webhook", "flows", "controlplane", "monitoring"];

/** deploy/ next to src/ and dist/ (both are two levels below the package root). */
export function defaultDeployDir(): string {
  return fileURLToPath(new URL("../../deploy/", import.meta.url));
}

export function parseComponents(v: string): Component[] {
  const names = v.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (names.length === 0) throw new UsageError(`--components: empty list (choose from ${Object.keys(COMPONENTS).join(", ")})`);
  for (const n of names) if (!(n in COMPONENTS)) throw new UsageError(`--components: unknown component "${n}" (choose from ${Object.keys(COMPONENTS).join(", ")})`);
  return [...new Set(names)] as Component[];
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export function checkNamespace(ns: string): string {
  if (!DNS_LABEL.test(ns)) throw new UsageError(`--namespace: "${ns}" is not a valid namespace name (lowercase letters, digits and '-', at most 63)`);
  return ns;
}

/**
 * Moves the components' home namespace to ns. Only the home namespace changes: the auditor's Roles
 * live in the namespaces it audits and must stay there (kustomize's `namespace:` would move them).
 */
function moveHome(objects: KubeObject[], ns: string): void {
  for (const o of objects) {
    if (o.metadata.namespace === HOME_NAMESPACE) o.metadata.namespace = ns;
    if (o.kind === "Namespace" && o.metadata.name === HOME_NAMESPACE) o.metadata.name = ns;
    for (const s of (o.subjects as { kind?: string; namespace?: string }[] | undefined) ?? []) if (s.namespace === HOME_NAMESPACE) s.namespace = ns;
    // ServiceMonitors/PodMonitors may pin the namespace they select in.
    const sel = (o.spec as { namespaceSelector?: { matchNames?: string[] } } | undefined)?.namespaceSelector;
    if (sel?.matchNames) sel.matchNames = sel.matchNames.map((n) => (n === HOME_NAMESPACE ? ns : n));
  }
}

const ORDER = ["Namespace", "CustomResourceDefinition", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "ConfigMap", "Secret", "PersistentVolumeClaim", "Service"];

function rank(o: KubeObject): number {
  const i = ORDER.indexOf(o.kind);
  return i === -1 ? ORDER.length : i;
}

export interface InstallOptions {
  components: Component[];
  namespace: string;
  deployDir?: string;
}

export async function renderInstall(opts: InstallOptions): Promise<KubeObject[]> {
  const root = opts.deployDir ?? defaultDeployDir();
  const objects: KubeObject[] = [];
  for (const c of opts.components) {
    const dir = join(root, COMPONENTS[c]);
    if (!existsSync(join(dir, "kustomization.yaml"))) throw new UsageError(`--components: ${c} has no manifests (${join(dir, "kustomization.yaml")} is missing)`);
    objects.push(...(await kustomizeBuild(dir)));
  }
  // Every component runs in the home namespace; a subset without the auditor still needs it.
  if (!objects.some((o) => o.kind === "Namespace" && o.metadata.name === HOME_NAMESPACE)) {
    objects.unshift({ apiVersion: "v1", kind: "Namespace", metadata: { name: HOME_NAMESPACE, labels: { "app.kubernetes.io/name": "watch-auditor", "pod-security.kubernetes.io/enforce": "restricted" } } });
  }
  if (opts.namespace !== HOME_NAMESPACE) moveHome(objects, opts.namespace);
  const seen = new Set<string>();
  for (const o of objects) {
    const key = `${o.apiVersion}/${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`;
    if (seen.has(key)) throw new UsageError(`two components define ${o.kind} ${o.metadata.namespace ? o.metadata.namespace + "/" : ""}${o.metadata.name}`);
    seen.add(key);
  }
  // Stable sort: namespaces and identities before what uses them, as kubectl apply needs.
  return objects.map((o, i) => ({ o, i })).sort((a, b) => rank(a.o) - rank(b.o) || a.i - b.i).map((x) => x.o);
}
