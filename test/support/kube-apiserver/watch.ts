// Watch streams: chunked JSON lines, replay from a resourceVersion, bookmarks, timeouts, and the
// failure modes tests need (cut = socket reset mid-stream, stall = open but silent).
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { groupVersion, gvrKey, type ResourceInfo } from "./resources.js";
import type { Matcher } from "./selectors.js";
import { ApiError, type StatusObject } from "./status.js";
import { invalidResourceVersion } from "./server.js";
import type { KubeObject, ObjectStore, StoreEvent } from "./store.js";

export interface WatchParams {
  info: ResourceInfo;
  namespace?: string;
  name?: string;
  label: Matcher;
  field: Matcher;
  resourceVersion?: string;
  allowBookmarks: boolean;
  sendInitialEvents: boolean;
  timeoutSeconds?: number;
  bookmarkIntervalMs: number;
  /** "interval": every bookmarkIntervalMs (fast tests); "kube-apiserver": the real server's schedule. */
  bookmarkTiming?: "interval" | "kube-apiserver";
  /** Each frame's object as the client asked for it (API version, PartialObjectMetadata, Table): representation.ts. */
  transform?: (o: KubeObject) => unknown;
}

interface ActiveWatch {
  res: ServerResponse;
  stalled: boolean;
  stop: () => void;
  cancelTimers: () => void;
}

export class WatchHub {
  private readonly active = new Set<ActiveWatch>();

  get count(): number {
    return this.active.size;
  }

  /** Destroys every open watch connection with a TCP reset: the client sees no final chunk. */
  cutAll(): number {
    const n = this.active.size;
    for (const w of [...this.active]) {
      w.stop();
      const sock = w.res.socket as (Socket & { resetAndDestroy?: () => void }) | null;
      if (sock?.resetAndDestroy) sock.resetAndDestroy();
      else sock?.destroy();
    }
    return n;
  }

  /** Keeps every open watch connection open but silent: no events, no bookmarks, no timeout close. */
  stallAll(): number {
    for (const w of this.active) {
      w.stalled = true;
      w.cancelTimers();
    }
    return this.active.size;
  }

  closeAll(): void {
    for (const w of [...this.active]) {
      w.stop();
      w.res.end();
    }
  }

  serve(req: IncomingMessage, res: ServerResponse, store: ObjectStore, p: WatchParams): void {
    const key = gvrKey(p.info);
    const selected = (o: KubeObject): boolean =>
      (!p.namespace || !p.info.namespaced || o.metadata.namespace === p.namespace) &&
      (!p.name || o.metadata.name === p.name) &&
      p.label(o) &&
      p.field(o);

    // Work out what to replay before the first byte, so a bad resourceVersion can still be a 400.
    let replay: StoreEvent[] = [];
    let initial: KubeObject[] = [];
    let expired: ApiError | undefined;
    const rv = p.resourceVersion;
    // A watch from an RV the store has not reached yet sends nothing (no bookmark either) until it has.
    let future = 0;
    if (p.sendInitialEvents || rv === undefined || rv === "" || rv === "0") {
      initial = store.listCurrent(p.info, p.namespace).filter(selected);
    } else {
      if (!/^[0-9]+$/.test(rv)) throw invalidResourceVersion(rv);
      if (Number(rv) > store.resourceVersion) future = Number(rv);
      else
        try {
          replay = store.eventsSince(Number(rv), p.info);
        } catch (err) {
          if (!(err instanceof ApiError)) throw err;
          expired = err;
        }
    }

    res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "no-cache, private" });
    res.flushHeaders();
    const send = (type: string, object: KubeObject | StatusObject): void => {
      const out = p.transform && type !== "ERROR" ? p.transform(object as KubeObject) : object;
      res.write(`${JSON.stringify({ type, object: out })}\n`);
    };
    if (expired) {
      // The real server answers 200 and reports expiry in-stream, then ends the watch.
      send("ERROR", expired.status);
      res.end();
      return;
    }

    const w: ActiveWatch = { res, stalled: false, stop: () => undefined, cancelTimers: () => undefined };
    const deliver = (e: StoreEvent): void => {
      if (w.stalled || gvrKey(e.resource) !== key || e.resourceVersion <= future) return;
      const now = e.type !== "DELETED" && selected(e.object);
      const before = e.oldObject !== undefined && selected(e.oldObject);
      if (e.type === "ADDED") {
        if (now) send("ADDED", e.object);
      } else if (e.type === "DELETED") {
        if (before || selected(e.object)) send("DELETED", e.object);
      } else if (now && before) send("MODIFIED", e.object);
      else if (now) send("ADDED", e.object);
      else if (before) {
        // Stopped matching the selector: the watch cache reports the old state as deleted.
        const gone = structuredClone(e.oldObject!);
        gone.metadata.resourceVersion = String(e.resourceVersion);
        send("DELETED", gone);
      }
    };
    const bookmark = (annotations?: Record<string, string>): void => {
      if (w.stalled || store.resourceVersion <= future) return;
      // The latest RV the watch cache processed for this resource type; the real server encodes
      // an empty object of the resource's kind, hence creationTimestamp: null.
      const metadata: Record<string, unknown> = { resourceVersion: String(store.lastResourceVersionOf(p.info)), creationTimestamp: null };
      if (annotations) metadata.annotations = annotations;
      send("BOOKMARK", { kind: p.info.kind, apiVersion: groupVersion(p.info.group, p.info.version), metadata } as KubeObject);
    };

    for (const o of initial) send("ADDED", o);
    for (const e of replay) deliver(e);
    if (p.sendInitialEvents && p.allowBookmarks) bookmark({ "k8s.io/initial-events-end": "true" });
    const unsubscribe = store.onChange(deliver);
    const timers: NodeJS.Timeout[] = [];
    if (p.allowBookmarks) {
      if (p.bookmarkTiming === "kube-apiserver") {
        // v1.25 cacher: a watcher's next bookmark is due at min(now + 1 min, deadline - 2 s);
        // the dispatcher ticks every second, so near the deadline one comes every second.
        const first = p.timeoutSeconds !== undefined ? Math.max(0, p.timeoutSeconds * 1000 - 2000) : 60_000;
        const every = p.timeoutSeconds !== undefined ? 1000 : 60_000;
        timers.push(
          setTimeout(() => {
            bookmark();
            timers.push(setInterval(() => bookmark(), every));
          }, first),
        );
      } else timers.push(setInterval(() => bookmark(), p.bookmarkIntervalMs));
    }
    if (p.timeoutSeconds !== undefined)
      timers.push(
        setTimeout(() => {
          w.stop();
          res.end();
        }, p.timeoutSeconds * 1000),
      );
    w.cancelTimers = () => {
      for (const t of timers) clearTimeout(t);
    };
    w.stop = () => {
      unsubscribe();
      w.cancelTimers();
      this.active.delete(w);
    };
    this.active.add(w);
    req.on("close", () => w.stop());
    res.on("close", () => w.stop());
  }
}
