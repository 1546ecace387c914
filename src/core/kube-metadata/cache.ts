import { EventEmitter } from "node:events";
import type { KubeClient } from "../kube/client.js";
import { ENDPOINTSLICES, JOBS, NAMESPACES, NODES, PODS, REPLICASETS, SERVICES, type GVR } from "../kube/gvr.js";
import { SharedInformerFactory, type Informer, type InformerOptions, type InformerStat, type KubeObject } from "../kube/informer.js";
import { MetadataIndex, type IpMetadata, type ResourceKind } from "./metadata-index.js";

/** What the cache needs from a stream of objects of one kind; adapted from an Informer, or fed by tests. */
export interface ObjectSource {
  subscribe(h: { add(obj: unknown): void; update(obj: unknown): void; delete(obj: unknown): void; synced(): void }): void;
  readonly hasSynced: boolean;
  start(): void;
  stop(): void | Promise<void>;
}

export const RESOURCE_KINDS: readonly ResourceKind[] = ["namespaces", "nodes", "replicasets", "jobs", "services", "endpointslices", "pods"];

const GVRS: Record<ResourceKind, GVR> = {
  pods: PODS,
  services: SERVICES,
  endpointslices: ENDPOINTSLICES,
  namespaces: NAMESPACES,
  nodes: NODES,
  replicasets: REPLICASETS,
  jobs: JOBS,
};

export interface SourceOptions {
  /** For pods only, when the cache is limited to one node: `spec.nodeName=NODE`. */
  fieldSelector?: string;
}

export type SourceFactory = (kind: ResourceKind, opts: SourceOptions) => ObjectSource;

export interface MetadataCacheOptions {
  /** Only pods on this node (a DaemonSet agent); other kinds stay cluster-wide (EndpointSlices still name remote pods). */
  node?: string;
  /** Share informers with other users of the same client; the cache then leaves them running on stop. */
  factory?: SharedInformerFactory;
  /** Informer tuning (watch timeouts, backoff, idle timeout) and the stats hook. */
  informer?: Omit<InformerOptions, "namespace" | "labelSelector" | "fieldSelector">;
}

export interface KubeMetadataCacheEvents {
  change: [kind: ResourceKind];
  ready: [];
}

/** Adapts an Informer (update handlers get (old, new)) to an ObjectSource. */
export function informerSource(inf: Informer<KubeObject>, owned: boolean): ObjectSource {
  return {
    subscribe(h) {
      inf.on("add", (o) => h.add(o));
      inf.on("update", (_old, o) => h.update(o));
      inf.on("delete", (o) => h.delete(o));
      inf.on("synced", () => h.synced());
    },
    get hasSynced() {
      return inf.hasSynced;
    },
    start: () => inf.start(),
    stop: () => (owned ? inf.stop() : undefined),
  };
}

/**
 * A live map from IP address to Kubernetes metadata (pod, namespace, owner workload, services,
 * node, Helm release, ignore annotations), fed by one list+watch per resource type (Pods,
 * Services, EndpointSlices, Namespaces, Nodes, ReplicaSets, Jobs). `lookup` is synchronous and
 * cheap; `ready` turns true once every type has completed its initial list. Reconnects, watch
 * timeouts, bookmarks and relists after 410 Gone are the informers' job: a relist replays the
 * difference, so the map converges without a restart.
 */
export class KubeMetadataCache extends EventEmitter<KubeMetadataCacheEvents> {
  readonly index = new MetadataIndex();
  private readonly sources = new Map<ResourceKind, ObjectSource>();
  private isReady = false;

  private constructor() {
    super();
  }

  /** Starts informers on client; returns at once (see `ready`, `waitReady`). */
  static start(client: KubeClient, opts: MetadataCacheOptions = {}): KubeMetadataCache {
    const owned = !opts.factory;
    const factory = opts.factory ?? new SharedInformerFactory(client, opts.informer ?? {});
    const cache = KubeMetadataCache.fromSources((kind, sel) => informerSource(factory.informerFor<KubeObject>(GVRS[kind], sel), owned), opts);
    return cache;
  }

  /** Builds the cache over sources made by factory and starts them. */
  static fromSources(factory: SourceFactory, opts: Pick<MetadataCacheOptions, "node"> = {}): KubeMetadataCache {
    const cache = new KubeMetadataCache();
    for (const kind of RESOURCE_KINDS) {
      const src = factory(kind, kind === "pods" && opts.node ? { fieldSelector: `spec.nodeName=${opts.node}` } : {});
      cache.sources.set(kind, src);
      const apply = (type: "add" | "update" | "delete") => (obj: unknown) => {
        cache.index.apply(kind, type, obj);
        cache.emit("change", kind);
      };
      src.subscribe({ add: apply("add"), update: apply("update"), delete: apply("delete"), synced: () => cache.checkReady() });
    }
    for (const src of cache.sources.values()) src.start();
    cache.checkReady();
    return cache;
  }

  private checkReady(): void {
    if (this.isReady || this.sources.size < RESOURCE_KINDS.length) return;
    for (const s of this.sources.values()) if (!s.hasSynced) return;
    this.isReady = true;
    this.emit("ready");
  }

  get ready(): boolean {
    return this.isReady;
  }

  /** Changes whenever any object changes. */
  get version(): number {
    return this.index.version;
  }

  /** Resolves true once every resource type has synced, false on timeout. */
  waitReady(timeoutMs: number): Promise<boolean> {
    if (this.isReady) return Promise.resolve(true);
    return new Promise((resolve) => {
      const on = (): void => {
        clearTimeout(t);
        resolve(true);
      };
      const t = setTimeout(() => {
        this.off("ready", on);
        resolve(false);
      }, timeoutMs);
      // Waiting must not keep a stopping process alive.
      t.unref();
      this.once("ready", on);
    });
  }

  lookup(ip: string): IpMetadata | undefined {
    return this.index.lookup(ip);
  }

  lookupPod(namespace: string, name: string): IpMetadata | undefined {
    return this.index.lookupPod(namespace, name);
  }

  serviceFor(ip: string, port: number): string | undefined {
    return this.index.serviceFor(ip, port);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.sources.values()].map((s) => Promise.resolve(s.stop()).catch(() => {})));
  }
}

export type { InformerStat };
