// The small subset of kustomize the deploy/ tree uses: `resources` (YAML files, possibly
// multi-document, and directories holding a kustomization.yaml) and `namespace`. Anything else
// in a kustomization is refused by name rather than silently ignored.
import { readFile, stat } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import YAML from "yaml";
import { UsageError } from "../core/errors.js";

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

const SUPPORTED_FIELDS = new Set(["apiVersion", "kind", "resources", "namespace"]);
/** Kinds without a namespace among those we ship (kustomize knows them from the OpenAPI schema). */
const CLUSTER_SCOPED = new Set(["Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PriorityClass", "StorageClass", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"]);
const MAX_FILE_BYTES = 4 * 1024 * 1024;
const MAX_DEPTH = 10;

export function isNamespaced(o: KubeObject): boolean {
  return !CLUSTER_SCOPED.has(o.kind);
}

async function readLimited(path: string, root: string): Promise<string> {
  const st = await stat(path).catch(() => undefined);
  if (!st) throw new UsageError(`${relative(root, path) || path}: no such file`);
  if (st.size > MAX_FILE_BYTES) throw new UsageError(`${relative(root, path)}: ${st.size} bytes, over the ${MAX_FILE_BYTES}-byte limit`);
  return readFile(path, "utf8");
}

function parseObjects(text: string, where: string): KubeObject[] {
  const out: KubeObject[] = [];
  const lines = new YAML.LineCounter();
  for (const doc of YAML.parseAllDocuments(text, { lineCounter: lines })) {
    if (doc.errors.length > 0) {
      const e = doc.errors[0]!;
      throw new UsageError(`${where}:${e.linePos?.[0]?.line ?? "?"}: ${e.message.split("\n")[0]}`);
    }
    const v = doc.toJSON() as unknown;
    if (v === null || v === undefined) continue;
    const o = v as Partial<KubeObject>;
    const line = lines.linePos(doc.contents?.range[0] ?? doc.range[0]).line;
    if (typeof o !== "object" || typeof o.apiVersion !== "string" || typeof o.kind !== "string" || typeof o.metadata?.name !== "string") {
      throw new UsageError(`${where}:${line}: not a Kubernetes object (needs apiVersion, kind and metadata.name)`);
    }
    out.push(o as KubeObject);
  }
  return out;
}

interface Kustomization {
  resources?: unknown;
  namespace?: unknown;
}

async function build(dir: string, root: string, depth: number): Promise<KubeObject[]> {
  const file = join(dir, "kustomization.yaml");
  const where = relative(root, file) || file;
  if (depth > MAX_DEPTH) throw new UsageError(`${where}: resources nested more than ${MAX_DEPTH} deep (a cycle?)`);
  const k = YAML.parse(await readLimited(file, root)) as Kustomization | null;
  if (!k || typeof k !== "object") throw new UsageError(`${where}: not a kustomization`);
  for (const key of Object.keys(k)) if (!SUPPORTED_FIELDS.has(key)) throw new UsageError(`${where}: field "${key}" is not supported (only resources and namespace)`);
  if (k.resources !== undefined && (!Array.isArray(k.resources) || !k.resources.every((r) => typeof r === "string"))) throw new UsageError(`${where}: resources must be a list of paths`);
  if (k.namespace !== undefined && typeof k.namespace !== "string") throw new UsageError(`${where}: namespace must be a string`);
  const objects: KubeObject[] = [];
  for (const r of (k.resources as string[] | undefined) ?? []) {
    const path = resolve(dir, r);
    const st = await stat(path).catch(() => undefined);
    if (!st) throw new UsageError(`${where}: resource "${r}" does not exist`);
    if (st.isDirectory()) objects.push(...(await build(path, root, depth + 1)));
    else objects.push(...parseObjects(await readLimited(path, root), relative(root, path)));
  }
  if (typeof k.namespace === "string") setNamespace(objects, k.namespace);
  return objects;
}

/** kustomize's namespace transformer: every namespaced object, and ServiceAccount subjects of bindings. */
export function setNamespace(objects: KubeObject[], namespace: string): void {
  const accounts = new Set(objects.filter((o) => o.kind === "ServiceAccount").map((o) => o.metadata.name));
  for (const o of objects) {
    if (isNamespaced(o)) o.metadata.namespace = namespace;
    if (o.kind === "RoleBinding" || o.kind === "ClusterRoleBinding") {
      for (const s of (o.subjects as { kind?: string; name?: string; namespace?: string }[] | undefined) ?? []) {
        if (s.kind === "ServiceAccount" && s.name && accounts.has(s.name)) s.namespace = namespace;
      }
    }
  }
}

/** Renders the kustomization in dir (a directory holding kustomization.yaml). */
export async function kustomizeBuild(dir: string): Promise<KubeObject[]> {
  const abs = resolve(dir);
  return build(abs, resolve(abs, ".."), 0);
}

export function toMultiDocYaml(objects: KubeObject[]): string {
  return objects.map((o) => YAML.stringify(o, { lineWidth: 0 })).join("---\n");
}
