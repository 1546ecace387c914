/**
 * List-then-watch cache for one resource type (client-go's reflector + store, minus the
 * queue). It lists, then watches from the list's resourceVersion with bookmarks and a
 * randomised server timeout, resuming from the last seen resourceVersion. A 410 Gone means
 * our resourceVersion was compacted away: it relists and emits the difference between the
 * cache and the new list, so handlers see every add/update/delete that happened while we
 * were disconnected. Connection errors back off exponentially with jitter; a silent
 * connection is detected by the idle timeout.
 */
import type { Logger } from "../logger.js";
import { backoffDelay, sleep, type BackoffOptions } from "./backoff.js";
import type { KubeClient } from "./client.js";
import { isGone, KubeApiError } from "./errors.js";
import type { GVR } from "./gvr.js";

export interface KubeObject {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; uid?: string };
}

export interface InformerOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Server-side watch timeout: a fixed number or a range picked at random per watch (default 300-600 s). */
  watchTimeoutSeconds?: number | { min: number; max: number };
  /** Restart the watch when no byte (event or bookmark) arrives for this long (default 150 s). */
  idleTimeoutMs?: number;
  /** Backoff between failed lists/watches (default 800 ms doubling to 30 s, jittered). */
  backoff?: BackoffOptions;
  /** Page size for the initial list and relists (default 500). */
  pageSize?: number;
  logger?: Logger;
  /** Counter hook for metrics: list, relist, restart, event, error, handler_error. */
  onStat?: (stat: InformerStat, gvr: GVR) => void;
}

export type InformerStat = "list" | "relist" | "restart" | "event" | "error" | "handler_error";

type Handlers<T> = {
  add: (obj: T) => void;
  update: (oldObj: T, newObj: T) => void;
  delete: (obj: T) => void;
  synced: () => void;
  /** A list or watch failure; the informer keeps retrying. */
  error: (err: KubeApiError) => void;
};

export type InformerEvent = keyof Handlers<unknown>;

/** Watches that end this quickly without delivering anything count as failures (no hot loop). */
const MIN_HEALTHY_WATCH_MS = 1000;

export function objectKey(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

export class Informer<T extends KubeObject> {
  readonly stats = { lists: 0, relists: 0, restarts: 0, events: 0, errors: 0, handlerErrors: 0 };
  private readonly store = new Map<string, T>();
  private readonly handlers: { [K in InformerEvent]: Handlers<T>[K][] } = { add: [], update: [], delete: [], synced: [], error: [] };
  private resourceVersion = "";
  private synced = false;
  private abort?: AbortController;
  private loop?: Promise<void>;

  constructor(
    private readonly client: KubeClient,
    readonly gvr: GVR,
    private readonly opts: InformerOptions = {},
  ) {}

  on<K extends InformerEvent>(event: K, fn: Handlers<T>[K]): this {
    this.handlers[event].push(fn);
    if (event === "synced" && this.synced) this.call(() => (fn as Handlers<T>["synced"])());
    return this;
  }

  off<K extends InformerEvent>(event: K, fn: Handlers<T>[K]): this {
    const list = this.handlers[event] as Handlers<T>[K][];
    const i = list.indexOf(fn);
    if (i >= 0) list.splice(i, 1);
    return this;
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  /** The resourceVersion the cache reflects (last list, event or bookmark). */
  get lastResourceVersion(): string {
    return this.resourceVersion;
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.store.get(objectKey(this.gvr.namespaced ? namespace : undefined, name));
  }

  list(): T[] {
    return [...this.store.values()];
  }

  get size(): number {
    return this.store.size;
  }

  get running(): boolean {
    return this.loop !== undefined;
  }

  start(): void {
    if (this.loop) return;
    this.abort = new AbortController();
    this.loop = this.run(this.abort.signal);
  }

  async stop(): Promise<void> {
    this.abort?.abort();
    await this.loop;
    this.loop = undefined;
  }

  /** Resolves once the first list is in the cache (rejects if the signal aborts first). */
  waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.off("synced", onSynced);
        reject(new KubeApiError(`informer ${this.gvr.resource}: aborted before sync`, { code: "EABORTED" }));
      };
      const onSynced = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      this.on("synced", onSynced);
    });
  }

  private stat(stat: InformerStat): void {
    this.opts.onStat?.(stat, this.gvr);
  }

  private async run(signal: AbortSignal): Promise<void> {
    let needList = true;
    let failures = 0;
    // 410s since the last healthy watch. The first one relists at once; more in a row mean a
    // fresh list does not help (its RV is already outside the watch cache's window, or a
    // continue token keeps expiring): back off then, as client-go's reflector does, instead
    // of hammering the API server with full lists.
    let goneInARow = 0;
    while (!signal.aborted) {
      try {
        if (needList) {
          await this.relist(signal);
          needList = false;
        }
        const started = Date.now();
        const delivered = await this.watchOnce(signal);
        if (signal.aborted) break;
        if (delivered === 0 && Date.now() - started < MIN_HEALTHY_WATCH_MS) throw new KubeApiError(`watch ${this.gvr.resource}: closed immediately`, { code: "ESHORTWATCH" });
        failures = 0;
        goneInARow = 0;
      } catch (e) {
        if (signal.aborted) break;
        const err = e instanceof KubeApiError ? e : new KubeApiError(String(e), { cause: e });
        this.stats.errors++;
        this.stat("error");
        this.emit("error", err);
        if (isGone(err)) {
          // Our resourceVersion is too old: only a fresh list can resynchronise.
          this.opts.logger?.info({ resource: this.gvr.resource, rv: this.resourceVersion }, "watch expired (410); relisting");
          needList = true;
          this.stats.relists++;
          this.stat("relist");
          if (goneInARow++ > 0) {
            failures++;
            await sleep(err.retryAfterMs ?? backoffDelay(failures, this.opts.backoff), signal);
          }
          continue;
        }
        failures++;
        this.stats.restarts++;
        this.stat("restart");
        const delay = err.retryAfterMs ?? backoffDelay(failures, this.opts.backoff);
        this.opts.logger?.warn({ resource: this.gvr.resource, err: err.message, code: err.code, status: err.status, retryInMs: delay }, "list/watch failed; retrying");
        await sleep(delay, signal);
      }
    }
  }

  private async relist(signal: AbortSignal): Promise<void> {
    const { items, metadata } = await this.client.listAll<T>(this.gvr, {
      namespace: this.opts.namespace,
      labelSelector: this.opts.labelSelector,
      fieldSelector: this.opts.fieldSelector,
      limit: this.opts.pageSize ?? 500,
      signal,
    });
    this.stats.lists++;
    this.stat("list");
    const fresh = new Map<string, T>();
    for (const obj of items) fresh.set(this.keyOf(obj), obj);
    const old = new Map(this.store);
    this.store.clear();
    for (const [k, v] of fresh) this.store.set(k, v);
    this.resourceVersion = metadata.resourceVersion;
    for (const [k, obj] of fresh) {
      const before = old.get(k);
      if (!before) this.emit("add", obj);
      else if (before.metadata?.resourceVersion !== obj.metadata?.resourceVersion || before.metadata?.uid !== obj.metadata?.uid) {
        if (before.metadata?.uid !== undefined && obj.metadata?.uid !== undefined && before.metadata.uid !== obj.metadata.uid) {
          // Deleted and recreated while we were away: two events, like a live watch would show.
          this.emit("delete", before);
          this.emit("add", obj);
        } else this.emit("update", before, obj);
      }
    }
    for (const [k, obj] of old) if (!fresh.has(k)) this.emit("delete", obj);
    if (!this.synced) {
      this.synced = true;
      this.emit("synced");
    }
  }

  /** Returns how many events (bookmarks included) the watch delivered. */
  private async watchOnce(signal: AbortSignal): Promise<number> {
    const t = this.opts.watchTimeoutSeconds ?? { min: 300, max: 600 };
    const timeoutSeconds = typeof t === "number" ? t : Math.round(t.min + Math.random() * (t.max - t.min));
    let delivered = 0;
    for await (const ev of this.client.watch<T>(this.gvr, {
      namespace: this.opts.namespace,
      labelSelector: this.opts.labelSelector,
      fieldSelector: this.opts.fieldSelector,
      resourceVersion: this.resourceVersion,
      allowWatchBookmarks: true,
      timeoutSeconds,
      idleTimeoutMs: this.opts.idleTimeoutMs ?? 150_000,
      signal,
    })) {
      delivered++;
      const rv = ev.object.metadata?.resourceVersion;
      if (rv) this.resourceVersion = rv;
      if (ev.type === "BOOKMARK") continue;
      this.stats.events++;
      this.stat("event");
      const key = this.keyOf(ev.object);
      const before = this.store.get(key);
      if (ev.type === "DELETED") {
        this.store.delete(key);
        this.emit("delete", ev.object);
      } else {
        this.store.set(key, ev.object);
        if (before) this.emit("update", before, ev.object);
        else this.emit("add", ev.object);
      }
    }
    return delivered;
  }

  private keyOf(obj: T): string {
    return objectKey(this.gvr.namespaced ? obj.metadata?.namespace : undefined, obj.metadata?.name ?? "");
  }

  private emit<K extends InformerEvent>(event: K, ...args: Parameters<Handlers<T>[K]>): void {
    for (const fn of [...this.handlers[event]]) this.call(() => (fn as (...a: unknown[]) => void)(...args));
  }

  private call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      // A broken handler must not stop the cache for everyone else sharing it.
      this.stats.handlerErrors++;
      this.stat("handler_error");
      this.opts.logger?.error({ resource: this.gvr.resource, err: (err as Error)?.message }, "informer handler threw");
    }
  }
}

/**
 * One informer per (GVR, namespace, selectors): several users of the same resource share a
 * single list+watch and cache.
 */
export class SharedInformerFactory {
  private readonly informers = new Map<string, Informer<KubeObject>>();
  private started = false;

  constructor(
    private readonly client: KubeClient,
    private readonly defaults: Omit<InformerOptions, "namespace" | "labelSelector" | "fieldSelector"> = {},
  ) {}

  informerFor<T extends KubeObject>(gvr: GVR, sel: { namespace?: string; labelSelector?: string; fieldSelector?: string } = {}): Informer<T> {
    const key = JSON.stringify([gvr.group, gvr.version, gvr.resource, sel.namespace ?? "", sel.labelSelector ?? "", sel.fieldSelector ?? ""]);
    let inf = this.informers.get(key);
    if (!inf) {
      inf = new Informer<KubeObject>(this.client, gvr, { ...this.defaults, ...sel });
      this.informers.set(key, inf);
      if (this.started) inf.start();
    }
    return inf as unknown as Informer<T>;
  }

  /** Starts every informer created so far and any created later. */
  start(): void {
    this.started = true;
    for (const inf of this.informers.values()) inf.start();
  }

  async waitForSync(signal?: AbortSignal): Promise<void> {
    await Promise.all([...this.informers.values()].map((i) => i.waitForSync(signal)));
  }

  async stop(): Promise<void> {
    this.started = false;
    await Promise.all([...this.informers.values()].map((i) => i.stop()));
  }
}
