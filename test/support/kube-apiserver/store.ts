// Object storage with etcd-like semantics: one global, monotonically increasing resourceVersion,
// an event log (bounded by the compaction window) that watches replay from, and snapshots of any
// retained revision for consistent paginated lists.
import { randomUUID, randomInt } from "node:crypto";
import { errors, ApiError, statusObject } from "./status.js";
import { trackUpdate } from "./managed-fields.js";
import { groupVersion, gvrKey, type GvrRef, type ResourceInfo, type ResourceRegistry } from "./resources.js";

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: unknown[];
  [k: string]: unknown;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [k: string]: unknown;
}

export type EventType = "ADDED" | "MODIFIED" | "DELETED";

export interface StoreEvent {
  type: EventType;
  /** The object after the change (for DELETED: its last state, carrying the deletion's resourceVersion). */
  object: KubeObject;
  /** The object before the change (absent for ADDED). */
  oldObject?: KubeObject;
  resource: ResourceInfo;
  resourceVersion: number;
}

export interface DeletePreconditions {
  uid?: string;
  resourceVersion?: string;
}

export interface WriteOptions {
  dryRun?: boolean;
  /**
   * Store actors (simulated controllers) that want metadata.managedFields as the real ones leave
   * them: the field manager ("kube-controller-manager", "kube-scheduler") and, for status writes,
   * subresource "status". Without it the write leaves managedFields as given.
   */
  manager?: { manager: string; subresource?: string };
}

export type PropagationPolicy = "Orphan" | "Background" | "Foreground";

export interface DeleteOptions extends WriteOptions {
  preconditions?: DeletePreconditions;
  /** Pods: how long to wait for the kubelet (default: the pod's terminationGracePeriodSeconds). */
  gracePeriodSeconds?: number;
  /** A client's DELETE through the API (graceful pod termination applies); store actors delete at once. */
  api?: boolean;
  /** What happens to objects whose ownerReferences point at the deleted one (default Background). */
  propagationPolicy?: PropagationPolicy;
}

/** apimachinery's rand alphabet: generateName suffixes, token volume names, hashes (SafeEncodeString). */
export const SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

/** A random suffix as names.SimpleNameGenerator makes it (5 characters of SAFE_ALPHABET). */
export function randomSuffix(n = 5): string {
  let out = "";
  for (let i = 0; i < n; i++) out += SAFE_ALPHABET[randomInt(SAFE_ALPHABET.length)];
  return out;
}

export function nowTimestamp(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
}

function clone<T>(v: T): T {
  return structuredClone(v);
}

function objKey(ns: string | undefined, name: string): string {
  return ns ? `${ns}/${name}` : name;
}

function specOf(obj: KubeObject): Record<string, unknown> {
  const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = obj;
  return rest;
}

/** Semantic equality of JSON values (key order does not matter, as for the real no-op check). */
function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => deepEqual(x, bb[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined);
  return ak.length === bk.length && ak.every((k) => Object.hasOwn(bo, k) && deepEqual(ao[k], bo[k]));
}

export class ObjectStore {
  private rv: number;
  private compactedRv: number;
  /** etcd's compacted revision: lists read from storage at an older revision get 410 (etcdctl compact). */
  private etcdCompactedRv: number;
  /** Per resource: the watch cache's window (see watchCacheOldest). */
  private readonly watchCaches = new Map<string, { events: { rv: number; at: number }[]; capacity: number; evicted: boolean }>();
  private readonly initialRv: number;
  private readonly log: StoreEvent[] = [];
  private readonly data = new Map<string, Map<string, KubeObject>>();
  private readonly listeners = new Set<(e: StoreEvent) => void>();
  private readonly pending: StoreEvent[] = [];
  private dispatching = false;

  constructor(
    readonly registry: ResourceRegistry,
    private readonly opts: { compactionWindow: number; requireNamespaces: boolean; now?: () => number },
  ) {
    // Start well above 0: "0" means "any version" to the API, so no real object ever carries it.
    this.rv = 100;
    this.compactedRv = this.rv;
    this.etcdCompactedRv = 0;
    this.initialRv = this.rv;
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  /** Revision below which storage (etcd) has been compacted: lists there get 410 Expired. */
  get etcdCompactedResourceVersion(): number {
    return this.etcdCompactedRv;
  }

  /** What `etcdctl compact <current revision>` does: storage forgets old revisions, the watch caches keep theirs. */
  compactEtcd(): void {
    this.etcdCompactedRv = this.rv;
  }

  /**
   * The oldest resourceVersion a watch on this resource can start from, as the v1.25 watch cache
   * computes it: the cache starts at its initial list's RV and holds at least 100 events of the
   * resource; when full, it doubles (up to 102400) while its oldest event is younger than 75 s,
   * otherwise it drops the oldest. A watch from an RV older than (oldest - 1) is "too old".
   */
  watchCacheOldest(info: ResourceInfo): number {
    const c = this.watchCaches.get(gvrKey(info));
    if (!c || !c.evicted || c.events.length === 0) return Math.max(this.initialRv, this.compactedRv);
    return Math.max(c.events[0]!.rv, this.compactedRv);
  }

  /** The RV of the latest change to this resource type (the store's start if none): what bookmarks carry. */
  lastResourceVersionOf(info: ResourceInfo): number {
    const c = this.watchCaches.get(gvrKey(info));
    return c && c.events.length > 0 ? c.events[c.events.length - 1]!.rv : this.initialRv;
  }

  private recordInWatchCache(e: StoreEvent): void {
    const key = gvrKey(e.resource);
    let c = this.watchCaches.get(key);
    if (!c) {
      c = { events: [], capacity: 100, evicted: false };
      this.watchCaches.set(key, c);
    }
    const at = this.now();
    c.events.push({ rv: e.resourceVersion, at });
    if (c.events.length > c.capacity) {
      if (at - c.events[0]!.at < 75_000 && c.capacity < 102_400) c.capacity *= 2;
      else {
        c.events.shift();
        c.evicted = true;
      }
    }
  }

  /** Whether namespaced objects need their Namespace to exist (option requireNamespaces). */
  get requiresNamespaces(): boolean {
    return this.opts.requireNamespaces;
  }

  /** Current (latest) resourceVersion of the whole store. */
  get resourceVersion(): number {
    return this.rv;
  }

  /** Oldest resourceVersion a watch or exact list may still start from. */
  get oldestResourceVersion(): number {
    return this.compactedRv;
  }

  // ---- public API for simulated cluster actors (kubelet, controllers) -----------------------

  // Generic in the object type so tests can use kubernetes-types (`store.get<Pod>("pods", ns, n)`).

  get<T = KubeObject>(gvr: GvrRef, namespace: string | undefined, name: string): T | undefined {
    const info = this.registry.resolve(gvr);
    const o = this.bucket(info).get(objKey(info.namespaced ? namespace : undefined, name));
    return o ? (clone(o) as T) : undefined;
  }

  list<T = KubeObject>(gvr: GvrRef, namespace?: string): T[] {
    return this.listCurrent(this.registry.resolve(gvr), namespace).map((o) => clone(o) as T);
  }

  /** Creates an object (apiVersion/kind pick the resource; metadata.namespace for namespaced kinds). */
  create<T extends object>(obj: T, opts: WriteOptions = {}): T {
    const o = obj as unknown as KubeObject;
    const info = this.infoOf(o);
    return this.createIn(info, o.metadata?.namespace, this.tracked(info, undefined, o, opts), opts) as unknown as T;
  }

  /** The object with managedFields updated for a store actor's write (WriteOptions.manager). */
  private tracked(info: ResourceInfo, live: KubeObject | undefined, next: KubeObject, opts: WriteOptions): KubeObject {
    if (!opts.manager) return next;
    const ctx = {
      manager: opts.manager.manager,
      operation: "Update" as const,
      apiVersion: groupVersion(info.group, info.version),
      ...(opts.manager.subresource && { subresource: opts.manager.subresource }),
      time: nowTimestamp(),
    };
    const out = clone(next);
    out.metadata.managedFields = trackUpdate({ group: info.group, version: info.version, kind: info.kind }, live, next, ctx).metadata.managedFields;
    return out;
  }

  /** Full replacement (spec and status). A set metadata.resourceVersion must be current (409 otherwise). */
  update<T extends object>(obj: T, opts: WriteOptions = {}): T {
    const o = obj as unknown as KubeObject;
    const info = this.infoOf(o);
    const live = this.getRaw(info, o.metadata?.namespace, String(o.metadata?.name ?? ""));
    return this.replace(info, o.metadata?.namespace, String(o.metadata?.name ?? ""), this.tracked(info, live, o, opts), { ...opts, scope: "all" }) as unknown as T;
  }

  /**
   * An UpdateStatus (PUT of the status subresource) by a store actor: status, and metadata as the
   * kind's status strategy takes it (a Deployment's revision annotation), with no generation bump.
   */
  updateStatus<T extends object>(obj: T, opts: WriteOptions = {}): T {
    const o = obj as unknown as KubeObject;
    const info = this.infoOf(o);
    const live = this.getRaw(info, o.metadata?.namespace, String(o.metadata?.name ?? ""));
    const manager = opts.manager ? { ...opts, manager: { subresource: "status", ...opts.manager } } : opts;
    return this.replace(info, o.metadata?.namespace, String(o.metadata?.name ?? ""), this.tracked(info, live, o, manager), { ...opts, scope: "status" }) as unknown as T;
  }

  /** Merges `status` into the object's status (a JSON merge patch of .status) or applies fn to it. */
  patchStatus<T = KubeObject>(
    gvr: GvrRef,
    namespace: string | undefined,
    name: string,
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    status: Record<string, unknown> | ((old: any) => Record<string, unknown>),
    opts: WriteOptions = {},
  ): T {
    const info = this.registry.resolve(gvr);
    const cur = this.bucket(info).get(objKey(info.namespaced ? namespace : undefined, name));
    if (!cur) throw errors.notFound({ group: info.group, resource: info.resource, name });
    const old = (clone(cur).status as Record<string, unknown> | undefined) ?? {};
    const next = typeof status === "function" ? status(old) : mergeStatus(old, status);
    const updated = clone(cur);
    updated.status = next;
    const manager = opts.manager ? { ...opts, manager: { subresource: "status", ...opts.manager } } : opts;
    return this.replace(info, namespace, name, this.tracked(info, cur, updated, manager), { scope: "all" }) as T;
  }

  delete(gvr: GvrRef, namespace: string | undefined, name: string, opts: DeleteOptions = {}): KubeObject {
    return this.remove(this.registry.resolve(gvr), namespace, name, opts);
  }

  /** Subscribes to every committed change; returns the unsubscribe function. */
  onChange(fn: (e: StoreEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  // ---- internals used by the HTTP layer ------------------------------------------------------

  infoOf(obj: KubeObject): ResourceInfo {
    if (!obj || typeof obj !== "object") throw errors.badRequest("object is not a JSON object");
    if (!obj.apiVersion || !obj.kind) throw errors.badRequest(`Object 'Kind' is missing in '${JSON.stringify(obj).slice(0, 200)}'`);
    const info = this.registry.byKind(obj.apiVersion, obj.kind);
    if (!info) throw errors.badRequest(`no resource registered for ${obj.apiVersion}, Kind=${obj.kind}`);
    return info;
  }

  bucket(info: ResourceInfo): Map<string, KubeObject> {
    const k = gvrKey(info);
    let b = this.data.get(k);
    if (!b) {
      b = new Map();
      this.data.set(k, b);
    }
    return b;
  }

  getRaw(info: ResourceInfo, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.bucket(info).get(objKey(info.namespaced ? namespace : undefined, name));
  }

  listCurrent(info: ResourceInfo, namespace?: string): KubeObject[] {
    const items = [...this.bucket(info).entries()]
      .filter(([, o]) => !namespace || !info.namespaced || o.metadata.namespace === namespace)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, o]) => o);
    return items;
  }

  /** The objects of a resource as they were at resourceVersion `at` (410 if compacted away). */
  snapshot(info: ResourceInfo, namespace: string | undefined, at: number): KubeObject[] {
    if (at > this.rv) throw new ApiError(statusObject(500, "", "etcdserver: mvcc: required revision is a future revision"));
    if (at < this.etcdCompactedRv || at < this.compactedRv) throw errors.gone("The resourceVersion for the provided list is too old.");
    const state = new Map<string, KubeObject>(this.bucket(info));
    const k = gvrKey(info);
    for (let i = this.log.length - 1; i >= 0; i--) {
      const e = this.log[i]!;
      if (e.resourceVersion <= at) break;
      if (gvrKey(e.resource) !== k) continue;
      const key = objKey(e.object.metadata.namespace, e.object.metadata.name!);
      if (e.type === "ADDED") state.delete(key);
      else state.set(key, e.oldObject!);
    }
    return [...state.entries()]
      .filter(([, o]) => !namespace || !info.namespaced || o.metadata.namespace === namespace)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, o]) => o);
  }

  /** Logged events after resourceVersion `after`; throws 410 if some were compacted away. */
  eventsSince(after: number, info?: ResourceInfo): StoreEvent[] {
    const oldest = info ? this.watchCacheOldest(info) : this.compactedRv;
    if (after < oldest - 1 || after < this.compactedRv) throw errors.gone(`too old resource version: ${after} (${oldest - 1})`);
    const out: StoreEvent[] = [];
    for (let i = this.log.length - 1; i >= 0; i--) {
      const e = this.log[i]!;
      if (e.resourceVersion <= after) break;
      out.push(e);
    }
    return out.reverse();
  }

  /** Forgets all history: watches and exact lists from any older resourceVersion get 410 Gone. */
  compact(): void {
    this.log.length = 0;
    this.compactedRv = this.rv;
    this.etcdCompactedRv = this.rv;
  }

  private checkNamespace(info: ResourceInfo, namespace: string | undefined): void {
    if (!info.namespaced) return;
    if (!namespace) throw errors.badRequest("the server could not find the requested resource: a namespace is required");
    if (this.opts.requireNamespaces) {
      const nsInfo = this.registry.resolve("namespaces");
      if (!this.getRaw(nsInfo, undefined, namespace)) throw errors.notFound({ group: "", resource: "namespaces", name: namespace });
    }
  }

  /** `prepare` runs once name and uid are assigned (server-generated fields derived from them). */
  createIn(
    info: ResourceInfo,
    namespace: string | undefined,
    input: KubeObject,
    opts: WriteOptions & { prepare?: (obj: KubeObject) => void } = {},
  ): KubeObject {
    const obj = clone(input);
    obj.metadata = obj.metadata ?? {};
    obj.apiVersion = groupVersion(info.group, info.version);
    obj.kind = info.kind;
    const ns = info.namespaced ? (namespace ?? obj.metadata.namespace) : undefined;
    this.checkNamespace(info, ns);
    const b = this.bucket(info);
    if (!obj.metadata.name) {
      if (!obj.metadata.generateName)
        throw errors.invalid(info.kind, { group: info.group, resource: info.resource }, [
          { reason: "FieldValueRequired", field: "metadata.name", message: "Required value: name or generateName is required" },
        ]);
      do {
        obj.metadata.name = obj.metadata.generateName + randomSuffix();
      } while (b.has(objKey(ns, obj.metadata.name)));
    }
    const name = obj.metadata.name;
    if (b.has(objKey(ns, name))) throw errors.alreadyExists({ group: info.group, resource: info.resource, name });
    if (ns) obj.metadata.namespace = ns;
    else delete obj.metadata.namespace;
    obj.metadata.uid = randomUUID();
    obj.metadata.creationTimestamp = nowTimestamp();
    delete obj.metadata.deletionTimestamp;
    delete obj.metadata.deletionGracePeriodSeconds;
    if (info.generation) obj.metadata.generation = 1;
    opts.prepare?.(obj);
    if (opts.dryRun) {
      delete obj.metadata.resourceVersion;
      return clone(obj);
    }
    this.rv++;
    obj.metadata.resourceVersion = String(this.rv);
    b.set(objKey(ns, name), obj);
    this.emit({ type: "ADDED", object: obj, resource: info, resourceVersion: this.rv });
    return clone(obj);
  }

  /**
   * Replaces an object. `scope` says which part a write may change, as the real registry does for
   * kinds with a status subresource: "main" keeps the stored status, "status" keeps everything
   * but status, "all" (store actors, kinds without the subresource) takes the whole object.
   */
  replace(
    info: ResourceInfo,
    namespace: string | undefined,
    name: string,
    input: KubeObject,
    opts: WriteOptions & { scope: "main" | "status" | "all" },
  ): KubeObject {
    const ns = info.namespaced ? namespace : undefined;
    const b = this.bucket(info);
    const key = objKey(ns, name);
    const cur = b.get(key);
    const target = { group: info.group, resource: info.resource, name };
    if (!cur) throw errors.notFound(target);
    const given = input.metadata?.resourceVersion;
    if (given !== undefined && given !== "" && given !== cur.metadata.resourceVersion)
      throw errors.conflict(target, "the object has been modified; please apply your changes to the latest version and try again");
    if (input.metadata?.uid && input.metadata.uid !== cur.metadata.uid)
      throw errors.conflict(target, `Precondition failed: UID in precondition: ${input.metadata.uid}, UID in object meta: ${cur.metadata.uid}`);
    let next: KubeObject;
    if (opts.scope === "status") {
      // The status strategies: spec stays; metadata is taken from the request (pods/status also
      // changes labels, as recorded), except that apps workloads keep their labels.
      next = clone(cur);
      if (input.status === undefined) delete next.status;
      else next.status = clone(input.status);
      const meta = input.metadata ?? {};
      for (const k of ["labels", "annotations", "managedFields"] as const) {
        if (k === "labels" && info.group === "apps") continue;
        // Custom resources: the apiextensions status strategy copies the old object, metadata included.
        if (info.crd && k !== "managedFields") continue;
        if (meta[k] === undefined) delete next.metadata[k];
        else (next.metadata as Record<string, unknown>)[k] = clone(meta[k]);
      }
    } else {
      next = clone(input);
      next.metadata = next.metadata ?? {};
      if (opts.scope === "main" && info.statusSubresource) {
        if (cur.status === undefined) delete next.status;
        else next.status = clone(cur.status);
      }
      // Fields the server owns: identity and history cannot be changed by a client write.
      next.metadata.name = cur.metadata.name;
      if (ns) next.metadata.namespace = ns;
      else delete next.metadata.namespace;
      next.metadata.uid = cur.metadata.uid;
      next.metadata.creationTimestamp = cur.metadata.creationTimestamp;
      if (cur.metadata.deletionTimestamp) {
        next.metadata.deletionTimestamp = cur.metadata.deletionTimestamp;
        next.metadata.deletionGracePeriodSeconds = cur.metadata.deletionGracePeriodSeconds;
      } else {
        delete next.metadata.deletionTimestamp;
        delete next.metadata.deletionGracePeriodSeconds;
      }
      if (info.generation) {
        const gen = cur.metadata.generation ?? 1;
        // The Deployment strategy also counts annotation changes (the legacy rollback annotation).
        const annotationsToo = info.group === "apps" && info.resource === "deployments" && !deepEqual(next.metadata.annotations ?? {}, cur.metadata.annotations ?? {});
        next.metadata.generation = deepEqual(specOf(next), specOf(cur)) && !annotationsToo ? gen : gen + 1;
      } else if (cur.metadata.generation !== undefined) next.metadata.generation = cur.metadata.generation;
    }
    next.apiVersion = groupVersion(info.group, info.version);
    next.kind = info.kind;
    next.metadata.resourceVersion = cur.metadata.resourceVersion;
    // A no-op write does not create a new revision, as with the real server.
    if (deepEqual(next, cur)) return clone(cur);
    if (opts.dryRun) return clone(next);
    // With a namespace controller, a terminating namespace also waits for its spec.finalizers (the `finalize` subresource empties them).
    const nsFinalizers =
      info.group === "" && info.resource === "namespaces" && this.namespaceFinalizer === "controller" ? ((next.spec as { finalizers?: string[] } | undefined)?.finalizers ?? []) : [];
    if (next.metadata.deletionTimestamp && (next.metadata.finalizers ?? []).length === 0 && nsFinalizers.length === 0) {
      const deleted = this.commitDelete(info, key, next);
      this.collectDependents(next.metadata.uid!, "Background");
      return deleted;
    }
    this.rv++;
    next.metadata.resourceVersion = String(this.rv);
    b.set(key, next);
    this.emit({ type: "MODIFIED", object: next, oldObject: cur, resource: info, resourceVersion: this.rv });
    return clone(next);
  }

  remove(info: ResourceInfo, namespace: string | undefined, name: string, opts: DeleteOptions = {}): KubeObject {
    return this.removeWithOutcome(info, namespace, name, opts).object;
  }

  /**
   * DELETE with the registry's semantics. `deleted` says whether the object is gone now (the API
   * answers a Status then, unless the kind returns deleted objects) or only marked for deletion
   * (graceful pod termination, finalizers, a terminating namespace, foreground deletion).
   */
  removeWithOutcome(info: ResourceInfo, namespace: string | undefined, name: string, opts: DeleteOptions = {}): { object: KubeObject; deleted: boolean } {
    const ns = info.namespaced ? namespace : undefined;
    const key = objKey(ns, name);
    const cur = this.bucket(info).get(key);
    const target = { group: info.group, resource: info.resource, name };
    if (!cur) throw errors.notFound(target);
    const pre = opts.preconditions;
    const kindTarget = { group: "", resource: info.kind, name };
    if (pre?.uid && pre.uid !== cur.metadata.uid)
      throw errors.conflict(
        kindTarget,
        `the UID in the precondition (${pre.uid}) does not match the UID in record (${cur.metadata.uid}). The object might have been deleted and then recreated`,
      );
    if (pre?.resourceVersion && pre.resourceVersion !== cur.metadata.resourceVersion)
      throw errors.conflict(
        kindTarget,
        `the ResourceVersion in the precondition (${pre.resourceVersion}) does not match the ResourceVersion in record (${cur.metadata.resourceVersion}). The object might have been modified`,
      );
    const isPod = info.group === "" && info.resource === "pods";
    const isNamespace = info.group === "" && info.resource === "namespaces";
    const policy = opts.propagationPolicy ?? "Background";
    if (isPod && opts.api) {
      // Pods are always deleted gracefully (rest.BeforeDelete with the pod strategy): the grace
      // period is the request's, else the pod's terminationGracePeriodSeconds, and 0 for a pod not
      // on a node or already terminated. Watchers see the deletionTimestamp (MODIFIED); with a
      // period of 0 the pod then goes (DELETED), else it waits for its kubelet.
      const spec = (cur.spec ?? {}) as { nodeName?: string; terminationGracePeriodSeconds?: number };
      const phase = (cur.status as { phase?: string } | undefined)?.phase;
      let grace = opts.gracePeriodSeconds ?? spec.terminationGracePeriodSeconds ?? 30;
      if (!spec.nodeName || phase === "Succeeded" || phase === "Failed") grace = 0;
      const had = cur.metadata.deletionGracePeriodSeconds;
      if (cur.metadata.deletionTimestamp && (opts.gracePeriodSeconds === undefined || (had !== undefined && opts.gracePeriodSeconds >= had)))
        return { object: clone(cur), deleted: false };
      const next = clone(cur);
      next.metadata.deletionTimestamp = new Date(this.now() + grace * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
      next.metadata.deletionGracePeriodSeconds = grace;
      if (opts.dryRun) return { object: next, deleted: false };
      const marked = this.commitModified(info, key, cur, next, false);
      if (grace > 0 || (cur.metadata.finalizers ?? []).length > 0) return { object: marked, deleted: false };
      this.commitDelete(info, key, this.bucket(info).get(key)!);
      this.collectDependents(cur.metadata.uid!, policy);
      return { object: marked, deleted: true };
    }
    const finalizers = [...(cur.metadata.finalizers ?? [])];
    if (isNamespace && ((cur.spec as { finalizers?: string[] } | undefined)?.finalizers ?? []).length > 0 && (opts.api || this.namespaceFinalizer === "controller")) {
      // The namespace goes Terminating; its contents are removed by the namespace controller
      // (a simulated one, or at once here when none runs).
      const next = clone(cur);
      // The namespace registry sets only the deletionTimestamp (no grace period) and the phase.
      if (!next.metadata.deletionTimestamp) next.metadata.deletionTimestamp = nowTimestamp();
      next.status = { ...((next.status as object | undefined) ?? {}), phase: "Terminating" };
      const marked = cur.metadata.deletionTimestamp ? clone(cur) : this.commitModified(info, key, cur, next, opts.dryRun);
      if (opts.dryRun || this.namespaceFinalizer === "controller") return { object: marked, deleted: false };
      this.deleteNamespaceContents(name);
      this.commitDelete(info, key, this.bucket(info).get(key)!);
      return { object: marked, deleted: false };
    }
    if (policy === "Foreground" && !finalizers.includes("foregroundDeletion") && this.hasDependents(cur.metadata.uid!)) finalizers.push("foregroundDeletion");
    if (finalizers.length > 0) {
      // Finalizers hold the object: it only gets a deletionTimestamp until they are removed.
      if (cur.metadata.deletionTimestamp) return { object: clone(cur), deleted: false };
      const next = clone(cur);
      next.metadata.deletionTimestamp = nowTimestamp();
      next.metadata.deletionGracePeriodSeconds = 0;
      next.metadata.finalizers = finalizers;
      // Marking an object for deletion is a change of its desired state: generation moves on.
      if (info.generation && typeof cur.metadata.generation === "number") next.metadata.generation = cur.metadata.generation + 1;
      const marked = this.commitModified(info, key, cur, next, opts.dryRun);
      if (!opts.dryRun && finalizers.includes("foregroundDeletion")) this.finishForeground(info, key, cur.metadata.uid!);
      return { object: marked, deleted: false };
    }
    if (opts.dryRun) return { object: clone(cur), deleted: false };
    this.commitDelete(info, key, cur);
    if (isNamespace) this.deleteNamespaceContents(name);
    else this.collectDependents(cur.metadata.uid!, policy);
    // The answer is the object as it was stored (its last resourceVersion); watchers get the
    // DELETED event with the deletion's resourceVersion.
    return { object: clone(cur), deleted: true };
  }

  /** Who removes a terminating namespace's contents: the store at once, or a simulated controller. */
  namespaceFinalizer: "store" | "controller" = "store";

  /** How long the stand-in garbage collector takes to finish a foreground deletion (ms). */
  foregroundDelayMs = 50;

  /** Who finishes foreground deletions: the stand-in here, or a simulated garbage collector (controllers/gc.ts). */
  garbageCollector: "store" | "controller" = "store";

  private hasDependents(uid: string): boolean {
    for (const i of this.registry.all())
      for (const o of this.bucket(i).values()) if (((o.metadata.ownerReferences ?? []) as { uid?: string }[]).some((r) => r?.uid === uid)) return true;
    return false;
  }

  /** The garbage collector's part of a foreground deletion: dependents first, then the owner. */
  private finishForeground(info: ResourceInfo, key: string, uid: string): void {
    if (this.garbageCollector === "controller") return;
    setTimeout(() => {
      try {
        this.collectDependents(uid, "Foreground");
        const cur = this.bucket(info).get(key);
        if (!cur || cur.metadata.uid !== uid) return;
        const next = clone(cur);
        next.metadata.finalizers = (cur.metadata.finalizers ?? []).filter((f) => f !== "foregroundDeletion");
        if (next.metadata.finalizers.length === 0) delete next.metadata.finalizers;
        this.replace(info, cur.metadata.namespace, cur.metadata.name!, next, { scope: "all" });
      } catch (err) {
        if (!(err instanceof ApiError)) console.error("kube-apiserver: foreground deletion failed", err);
      }
    }, this.foregroundDelayMs).unref();
  }

  private commitModified(info: ResourceInfo, key: string, cur: KubeObject, next: KubeObject, dryRun: boolean | undefined): KubeObject {
    if (dryRun) return clone(next);
    this.rv++;
    next.metadata.resourceVersion = String(this.rv);
    this.bucket(info).set(key, next);
    this.emit({ type: "MODIFIED", object: next, oldObject: cur, resource: info, resourceVersion: this.rv });
    return clone(next);
  }

  /**
   * Stands in for the garbage collector, synchronously: dependents (objects with an ownerReference
   * to `uid`) are deleted in turn, or for Orphan just lose that ownerReference.
   */
  private collectDependents(uid: string, policy: PropagationPolicy): void {
    for (const info of this.registry.all()) {
      for (const o of [...this.bucket(info).values()]) {
        const refs = (o.metadata.ownerReferences ?? []) as { uid?: string }[];
        if (!refs.some((r) => r?.uid === uid)) continue;
        if (policy === "Orphan") {
          const next = clone(o);
          next.metadata.ownerReferences = refs.filter((r) => r?.uid !== uid);
          if ((next.metadata.ownerReferences as unknown[]).length === 0) delete next.metadata.ownerReferences;
          this.replace(info, o.metadata.namespace, o.metadata.name!, next, { scope: "all" });
        } else if (this.getRaw(info, o.metadata.namespace, o.metadata.name!)) {
          // Dependents go in the background (their own dependents after them), as the collector does.
          this.remove(info, o.metadata.namespace, o.metadata.name!, { propagationPolicy: "Background" });
        }
      }
    }
  }

  private commitDelete(info: ResourceInfo, key: string, last: KubeObject): KubeObject {
    const b = this.bucket(info);
    const cur = b.get(key)!;
    b.delete(key);
    this.rv++;
    const obj = clone(last);
    obj.metadata.resourceVersion = String(this.rv);
    this.emit({ type: "DELETED", object: obj, oldObject: cur, resource: info, resourceVersion: this.rv });
    return clone(obj);
  }

  /** Stands in for the namespace controller: everything in a deleted namespace goes with it. */
  private deleteNamespaceContents(ns: string): void {
    for (const info of this.registry.all()) {
      if (!info.namespaced) continue;
      const b = this.bucket(info);
      for (const [key, o] of [...b.entries()]) if (o.metadata.namespace === ns) this.commitDelete(info, key, o);
    }
  }

  private emit(e: StoreEvent): void {
    this.log.push(e);
    this.recordInWatchCache(e);
    while (this.log.length > this.opts.compactionWindow) {
      const dropped = this.log.shift()!;
      this.compactedRv = dropped.resourceVersion;
    }
    // Listeners may write (actors reacting to a change); queue so everyone sees events in order.
    this.pending.push(e);
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      for (let next = this.pending.shift(); next; next = this.pending.shift()) {
        for (const fn of [...this.listeners]) {
          try {
            fn(next);
          } catch (err) {
            // A failing listener (a test's actor) must not break the write that triggered it.
            if (!(err instanceof ApiError)) console.error("kube-apiserver: onChange listener threw", err);
          }
        }
      }
    } finally {
      this.dispatching = false;
    }
  }
}

function mergeStatus(old: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...old };
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else if (v && typeof v === "object" && !Array.isArray(v) && out[k] && typeof out[k] === "object" && !Array.isArray(out[k]))
      out[k] = mergeStatus(out[k] as Record<string, unknown>, v as Record<string, unknown>);
    else out[k] = v;
  }
  return out;
}
