// Binds reaction probes to the real Kubernetes client: resources are resolved through
// discovery (any built-in or custom resource, namespaced or cluster-scoped), objects are
// read with GET/LIST only.
import { isNotFound, type GVR, type KubeClient } from "../core/kube/index.js";
import { UnknownResourceError, type ReactionApi } from "./reaction-cycle.js";
import type { JsonObject } from "./reaction-probe.js";
import { REPORTING_COMPONENT } from "./kube-api.js";

interface APIResource {
  name: string;
  kind: string;
  namespaced: boolean;
}

/** A miss is looked up again at most this often (a CRD installed later is found). */
const MISS_RETRY_MS = 10_000;

export class KubeReactionApi implements ReactionApi {
  private readonly found = new Map<string, GVR>();
  private readonly missed = new Map<string, { at: number; error: UnknownResourceError }>();

  constructor(private readonly kube: KubeClient) {}

  async resolve(apiVersion: string, kind: string, signal?: AbortSignal): Promise<GVR> {
    const key = `${apiVersion}/${kind}`;
    const hit = this.found.get(key);
    if (hit) return hit;
    const miss = this.missed.get(key);
    if (miss && Date.now() - miss.at < MISS_RETRY_MS) throw miss.error;
    const [group, version] = apiVersion.includes("/") ? (apiVersion.split("/", 2) as [string, string]) : ["", apiVersion];
    const path = group === "" ? `/api/${version}` : `/apis/${group}/${version}`;
    let resources: APIResource[];
    try {
      const body = (await this.kube.request("GET", path, { signal })).body as { resources?: APIResource[] };
      resources = Array.isArray(body?.resources) ? body.resources : [];
    } catch (err) {
      if (!isNotFound(err)) throw err;
      const error = new UnknownResourceError(apiVersion, kind, `${apiVersion} is not served`);
      this.missed.set(key, { at: Date.now(), error });
      throw error;
    }
    // Subresources (pods/status) share the kind: only top-level resources count.
    const r = resources.find((x) => x.kind === kind && !x.name.includes("/"));
    if (!r) {
      const error = new UnknownResourceError(apiVersion, kind, "");
      this.missed.set(key, { at: Date.now(), error });
      throw error;
    }
    const gvr: GVR = Object.freeze({ group, version, resource: r.name, kind, namespaced: r.namespaced });
    this.found.set(key, gvr);
    this.missed.delete(key);
    return gvr;
  }

  async create(gvr: GVR, namespace: string | undefined, obj: JsonObject, signal?: AbortSignal): Promise<JsonObject> {
    return this.kube.create<JsonObject>(gvr, obj, { namespace, signal, fieldManager: REPORTING_COMPONENT });
  }

  async mergePatch(gvr: GVR, namespace: string | undefined, name: string, patch: JsonObject, signal?: AbortSignal): Promise<JsonObject> {
    return this.kube.patch<JsonObject>(gvr, name, patch, { namespace, type: "merge", signal, fieldManager: REPORTING_COMPONENT });
  }

  async get(gvr: GVR, namespace: string | undefined, name: string, signal?: AbortSignal): Promise<JsonObject | undefined> {
    try {
      return await this.kube.get<JsonObject>(gvr, name, namespace, { signal });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  async list(gvr: GVR, namespace: string | undefined, labelSelector: string, signal?: AbortSignal): Promise<JsonObject[]> {
    // Bounded: a selector of ours matches a handful of objects.
    return (await this.kube.list<JsonObject>(gvr, { namespace, labelSelector, limit: 500, signal })).items;
  }

  async delete(gvr: GVR, namespace: string | undefined, name: string): Promise<void> {
    try {
      await this.kube.delete(gvr, name, { namespace, propagationPolicy: "Background", ...(gvr.group === "" && gvr.resource === "pods" ? { gracePeriodSeconds: 0 } : {}) });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
