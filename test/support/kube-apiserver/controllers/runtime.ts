// The machinery the simulated control-plane controllers share: one subscription to the store, a
// work queue of (controller, key) with optional delays, the "API client" writes the real
// controllers make (with the admission the API server would apply to them), an event recorder
// and label-selector matching.
//
// Timing: a key queued without a delay is synced synchronously, still inside the write that
// triggered it (after the store has delivered that write's event), so a client sees a
// controller's reaction on its very next request, deterministically. Delays (namespace deletion
// grace period, foreground deletion, progress deadlines) use timers that never keep the process
// alive and are cleared by stop().
import { performance } from "node:perf_hooks";
import { admitNamespace, admitPodCreate, admitPodSecurity } from "../admission.js";
import { applyDefaults, qosClass } from "../defaults.js";
import { trackUpdate } from "../managed-fields.js";
import { ApiError } from "../status.js";
import type { DeleteOptions, KubeObject, ObjectStore, StoreEvent } from "../store.js";
import { nowTimestamp } from "../store.js";

export type Obj = Record<string, unknown>;
export const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

export interface Controller {
  readonly name: string;
  /** Maps a committed change to the keys this controller must sync (via `enqueue`). */
  observe(e: StoreEvent): void;
  sync(key: string): void;
}

export interface Enqueue {
  (key: string, afterMs?: number): void;
}

/** A reference to an API object, as events and owner references carry it. */
export interface ObjectRef {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
  uid: string;
  resourceVersion?: string;
}

/** The field manager of kube-controller-manager's writes (its user agent up to the first "/"). */
export const KCM = "kube-controller-manager";

/** Loops that never settle (a controller fighting another writer) are cut off here. */
const MAX_SYNCS_PER_DRAIN = 200_000;

export class ControllerRuntime {
  private readonly queue: { c: Controller; key: string }[] = [];
  private readonly queued = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly controllers: Controller[] = [];
  private readonly unsubscribe: () => void;
  private draining = false;
  private stopped = false;
  /** Creation times with sub-second precision (creationTimestamp has whole seconds). */
  private readonly createdAt = new Map<string, number>();
  /** Consecutive failed syncs per (controller, key), for the retry backoff. */
  private readonly failures = new Map<string, number>();
  readonly events: EventRecorder;

  constructor(
    readonly store: ObjectStore,
    readonly opts: { hostname: string },
  ) {
    this.events = new EventRecorder(this);
    this.unsubscribe = store.onChange((e) => this.onChange(e));
  }

  add(c: Controller): void {
    this.controllers.push(c);
  }

  enqueuer(c: Controller): Enqueue {
    return (key, afterMs) => this.enqueue(c, key, afterMs);
  }

  /** Queues every existing object of a resource for `c` (a controller starting on a non-empty store). */
  resyncAll(c: Controller, gvr: string, keyOf: (o: KubeObject) => string = (o) => keyFor(o)): void {
    for (const o of this.store.list(gvr)) this.enqueue(c, keyOf(o));
    this.drain();
  }

  enqueue(c: Controller, key: string, afterMs?: number): void {
    if (this.stopped) return;
    if (afterMs !== undefined && afterMs > 0) {
      const t = setTimeout(() => {
        this.timers.delete(t);
        this.enqueue(c, key);
        this.drain();
      }, afterMs);
      t.unref();
      this.timers.add(t);
      return;
    }
    const id = `${c.name}\u0000${key}`;
    if (this.queued.has(id)) return;
    this.queued.add(id);
    this.queue.push({ c, key });
  }

  /** Milliseconds since the epoch at which an object was created, as precisely as known. */
  creationMs(o: KubeObject): number {
    const uid = o.metadata.uid;
    const known = uid ? this.createdAt.get(uid) : undefined;
    if (known !== undefined) return known;
    const t = Date.parse(o.metadata.creationTimestamp ?? "");
    return Number.isNaN(t) ? 0 : t;
  }

  private onChange(e: StoreEvent): void {
    if (this.stopped) return;
    const uid = e.object.metadata.uid;
    if (uid) {
      if (e.type === "ADDED") this.createdAt.set(uid, Date.now());
      else if (e.type === "DELETED") this.createdAt.delete(uid);
    }
    for (const c of this.controllers) {
      try {
        c.observe(e);
      } catch (err) {
        console.error(`kube-apiserver controllers: ${c.name} failed to observe a change`, err);
      }
    }
    this.drain();
  }

  /** Syncs queued keys until none are left (re-entrant calls only queue). */
  drain(): void {
    if (this.draining || this.stopped) return;
    this.draining = true;
    let n = 0;
    try {
      for (let item = this.queue.shift(); item; item = this.queue.shift()) {
        this.queued.delete(`${item.c.name}\u0000${item.key}`);
        if (++n > MAX_SYNCS_PER_DRAIN) {
          console.error(`kube-apiserver controllers: more than ${MAX_SYNCS_PER_DRAIN} syncs without settling; dropping the queue`);
          this.queue.length = 0;
          this.queued.clear();
          break;
        }
        const id = `${item.c.name}\u0000${item.key}`;
        try {
          item.c.sync(item.key);
          this.failures.delete(id);
        } catch (err) {
          if (err instanceof ApiError) {
            // What a real controller does with a failed sync: retry with the workqueue's
            // per-item exponential backoff (5 ms doubling; capped at 60 s here).
            const n = (this.failures.get(id) ?? 0) + 1;
            this.failures.set(id, n);
            this.enqueue(item.c, item.key, Math.min(5 * 2 ** n, 60_000));
          } else console.error(`kube-apiserver controllers: ${item.c.name} failed to sync ${item.key}`, err);
        }
      }
    } finally {
      this.draining = false;
    }
  }

  /** Number of delayed syncs waiting for their timer. */
  get pendingTimers(): number {
    return this.timers.size;
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.queue.length = 0;
    this.queued.clear();
    this.failures.clear();
  }

  // ---- writes as an API client -------------------------------------------------------------

  /**
   * Creates an object as a controller's POST would: NamespaceLifecycle (403 in a terminating
   * namespace), defaulting, for pods the ServiceAccount/Priority/DefaultTolerationSeconds
   * admission and PodSecurity, and the status the registry resets on create.
   */
  create<T extends KubeObject>(obj: T, manager = KCM): T {
    const info = this.store.infoOf(obj);
    const o = structuredClone(obj) as KubeObject;
    applyDefaults(info, o);
    admitNamespace(this.store, info, o.metadata.namespace, String(o.metadata.name ?? o.metadata.generateName ?? ""));
    if (info.group === "" && info.resource === "pods") {
      // What admission adds is not the writer's: its managedFields entry is taken before.
      const gvk = { group: info.group, version: info.version, kind: info.kind };
      o.metadata.managedFields = trackUpdate(gvk, undefined, o, { manager, operation: "Update", apiVersion: "v1", time: nowTimestamp() }).metadata.managedFields;
      admitPodCreate(o);
      admitPodSecurity(this.store, info, o);
      o.status = { phase: "Pending", qosClass: qosClass(o) };
      return this.store.create(o) as T;
    }
    return this.store.create(o, { manager: { manager } }) as T;
  }

  /** Replaces an object with `mutate(current)`, unconditionally (no resourceVersion precondition); no-op if unchanged. */
  update(gvr: string, namespace: string | undefined, name: string, mutate: (o: KubeObject) => void, manager = KCM): KubeObject | undefined {
    const cur = this.store.get(gvr, namespace, name);
    if (!cur) return undefined;
    const next = structuredClone(cur);
    mutate(next);
    delete next.metadata.resourceVersion;
    return this.store.update(next, { manager: { manager } });
  }

  /** UpdateStatus: status (and what the kind's status strategy takes of metadata) from `mutate(current)`. */
  updateStatus(gvr: string, namespace: string | undefined, name: string, mutate: (o: KubeObject) => void, manager = KCM): KubeObject | undefined {
    const cur = this.store.get(gvr, namespace, name);
    if (!cur) return undefined;
    const next = structuredClone(cur);
    mutate(next);
    delete next.metadata.resourceVersion;
    return this.store.updateStatus(next, { manager: { manager } });
  }

  /** DELETE through the API (graceful pod termination, finalizers); a missing object is fine. */
  delete(gvr: string, namespace: string | undefined, name: string, opts: DeleteOptions = {}): KubeObject | undefined {
    try {
      return this.store.delete(gvr, namespace, name, { api: true, ...opts });
    } catch (err) {
      if (err instanceof ApiError && err.code === 404) return undefined;
      throw err;
    }
  }
}

export function keyFor(o: { metadata: { namespace?: string; name?: string } }): string {
  return o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : String(o.metadata.name);
}

export function splitKey(key: string): [string | undefined, string] {
  const i = key.indexOf("/");
  return i < 0 ? [undefined, key] : [key.slice(0, i), key.slice(i + 1)];
}

export function refOf(o: KubeObject): ObjectRef {
  return {
    apiVersion: String(o.apiVersion),
    kind: String(o.kind),
    ...(o.metadata.namespace && { namespace: o.metadata.namespace }),
    name: String(o.metadata.name),
    uid: String(o.metadata.uid),
    resourceVersion: o.metadata.resourceVersion,
  };
}

/** metav1.NewControllerRef */
export function controllerRef(owner: KubeObject): Obj {
  return { apiVersion: owner.apiVersion, kind: owner.kind, name: owner.metadata.name, uid: owner.metadata.uid, controller: true, blockOwnerDeletion: true };
}

export function controllerOf(o: KubeObject): { uid?: string; kind?: string; name?: string; apiVersion?: string } | undefined {
  return ((o.metadata.ownerReferences ?? []) as { controller?: boolean; uid?: string }[]).find((r) => r?.controller === true);
}


// ---- time -----------------------------------------------------------------------------------

const origin = BigInt(Math.round(performance.timeOrigin * 1000));

/** Microseconds since the epoch (monotonic within the process). */
function nowMicros(): bigint {
  return origin + BigInt(Math.round(performance.now() * 1000));
}

/** metav1.MicroTime: RFC 3339 with exactly six fraction digits. */
export function microTime(): string {
  const us = nowMicros();
  const iso = new Date(Number(us / 1000n)).toISOString().slice(0, 19);
  return `${iso}.${String(us % 1_000_000n).padStart(6, "0")}Z`;
}

export { nowTimestamp };

let lastNano = 0n;
/** t.UnixNano() in hex, unique per process: the suffix of recorded event names. */
export function eventNameSuffix(): string {
  let n = nowMicros() * 1000n;
  if (n <= lastNano) n = lastNano + 1n;
  lastNano = n;
  return n.toString(16);
}

// ---- events ----------------------------------------------------------------------------------

/**
 * client-go's event recorder as kube-controller-manager uses it (core/v1 Events named
 * `<object>.<UnixNano hex>`, source.component set), with the EventCorrelator's de-duplication:
 * an identical event again only bumps `count` and `lastTimestamp` of the first one.
 */
export class EventRecorder {
  private readonly seen = new Map<string, { namespace: string; name: string }>();

  constructor(private readonly rt: ControllerRuntime) {}

  event(component: string, regarding: KubeObject, type: "Normal" | "Warning", reason: string, message: string): void {
    const ref = refOf(regarding);
    const namespace = ref.namespace ?? "default";
    const key = JSON.stringify([component, ref.kind, ref.namespace, ref.name, ref.uid, ref.apiVersion, type, reason, message]);
    const prior = this.seen.get(key);
    const now = nowTimestamp();
    try {
      if (prior && this.rt.store.get("events", prior.namespace, prior.name)) {
        this.rt.update("events", prior.namespace, prior.name, (ev) => {
          ev.count = (typeof ev.count === "number" ? ev.count : 1) + 1;
          ev.lastTimestamp = now;
        });
        return;
      }
      const name = `${ref.name}.${eventNameSuffix()}`;
      this.rt.create({
        apiVersion: "v1",
        kind: "Event",
        metadata: { name, namespace },
        involvedObject: { kind: ref.kind, namespace: ref.namespace, name: ref.name, uid: ref.uid, apiVersion: ref.apiVersion, resourceVersion: ref.resourceVersion },
        reason,
        message,
        source: { component },
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
        type,
        eventTime: null,
        reportingComponent: "",
        reportingInstance: "",
      });
      this.seen.set(key, { namespace, name });
    } catch (err) {
      // Events are best effort (a terminating namespace refuses them), as in client-go.
      if (!(err instanceof ApiError)) throw err;
    }
  }

  /**
   * An events.k8s.io/v1 event (the scheduler's recorder), written in the form the API server
   * stores it: a core Event with eventTime/action/reportingComponent and no count or timestamps.
   */
  newEvent(controller: string, instance: string, regarding: KubeObject, type: "Normal" | "Warning", reason: string, action: string, note: string, manager: string): void {
    const ref = refOf(regarding);
    try {
      this.rt.create(
        {
        apiVersion: "v1",
        kind: "Event",
        metadata: { name: `${ref.name}.${eventNameSuffix()}`, namespace: ref.namespace ?? "default" },
        involvedObject: { kind: ref.kind, namespace: ref.namespace, name: ref.name, uid: ref.uid, apiVersion: ref.apiVersion, resourceVersion: ref.resourceVersion },
        reason,
        message: note,
        source: {},
        firstTimestamp: null,
        lastTimestamp: null,
        type,
        eventTime: microTime(),
        action,
        reportingComponent: controller,
        reportingInstance: instance,
        },
        manager,
      );
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
    }
  }
}

// ---- label selectors ---------------------------------------------------------------------------

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

/** metav1.LabelSelectorAsSelector(sel).Matches(labels); a nil selector matches nothing, an empty one everything. */
export function selectorMatches(sel: LabelSelector | undefined | null, labels: Record<string, string> | undefined): boolean {
  if (!sel) return false;
  const l = labels ?? {};
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(l, e.key);
    const vals = e.values ?? [];
    switch (e.operator) {
      case "In":
        if (!has || !vals.includes(l[e.key]!)) return false;
        break;
      case "NotIn":
        if (has && vals.includes(l[e.key]!)) return false;
        break;
      case "Exists":
        if (!has) return false;
        break;
      case "DoesNotExist":
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

export function selectorIsEmpty(sel: LabelSelector | undefined | null): boolean {
  return !!sel && Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0;
}

/** The selector as a string (`app=web`), as the scale subresource and kubectl print it. */
export function selectorString(sel: LabelSelector): string {
  const parts = Object.entries(sel.matchLabels ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`);
  for (const e of sel.matchExpressions ?? []) {
    if (e.operator === "In") parts.push(`${e.key} in (${(e.values ?? []).join(",")})`);
    else if (e.operator === "NotIn") parts.push(`${e.key} notin (${(e.values ?? []).join(",")})`);
    else if (e.operator === "Exists") parts.push(e.key);
    else if (e.operator === "DoesNotExist") parts.push(`!${e.key}`);
  }
  return parts.join(",");
}

/** apiequality.Semantic.DeepEqual over JSON: nil and empty slices/maps are equal. */
export function semanticEqual(a: unknown, b: unknown): boolean {
  const empty = (v: unknown) => v === undefined || v === null || (Array.isArray(v) && v.length === 0) || (isObj(v) && Object.keys(v).every((k) => v[k] === undefined));
  if (empty(a) && empty(b)) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => semanticEqual(x, b[i]));
  if (isObj(a) && isObj(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) if (!semanticEqual(a[k], b[k])) return false;
    return true;
  }
  return a === b;
}
