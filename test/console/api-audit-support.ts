// Shared by the audit API tests: the real routes on a real node:http server over a store opened
// read-only, and an independent reference built by a plain pass over the raw audit events.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { after, before } from "node:test";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildStore } from "../support/audit-store.js";
import { Registry } from "prom-client";
import { OpsServer } from "../../src/core/http-server.js";
import { createLogger } from "../../src/core/logger.js";
import { openAuditStoreReadOnly, type AuditStore } from "../../src/audit/public.js";
import { auditRoutes } from "../../src/console/api/audit.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Ev = any;

export interface Served {
  base: string;
  store: AuditStore;
  /** GET /api/console/audit/<path> with params; the status, the content type and the parsed body. */
  get(path: string, params?: Record<string, string | number>): Promise<{ status: number; type: string; text: string; body: Ev }>;
  close(): Promise<void>;
}

/** The audit routes on 127.0.0.1:0 over the store file opened read-only (as the console opens it). */
export async function serve(db: string | undefined): Promise<Served> {
  const store = db === undefined ? undefined : await openAuditStoreReadOnly(db);
  const server = new OpsServer({
    registry: new Registry(),
    host: "127.0.0.1",
    port: 0,
    routes: auditRoutes({ store, log: createLogger("silent"), fetchTimeoutMs: 5000 }),
  });
  const port = await server.listen();
  const base = `http://127.0.0.1:${port}`;
  return {
    base,
    store: store!,
    async get(path, params = {}) {
      const qs = new URLSearchParams(Object.entries(params).map(([k, v]): [string, string] => [k, String(v)])).toString();
      const r = await fetch(`${base}/api/console/audit/${path}${qs ? `?${qs}` : ""}`);
      const text = await r.text();
      let body: Ev;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      return { status: r.status, type: r.headers.get("content-type") ?? "", text, body };
    },
    async close() {
      await server.close();
      store?.close();
    },
  };
}

export interface ServedStore {
  /** The temp directory (removed after the file's tests). */
  dir: string;
  /** The store built by the real `audit ingest` from the files. */
  db: string;
  api: Served;
}

/** For a test file: before its tests, a store built from `files` and served; after them, closed and removed. */
export function servedStore(name: string, files: string[]): ServedStore {
  const fx = {} as ServedStore;
  before(async () => {
    fx.dir = mkdtempSync(join(tmpdir(), `console-api-audit-${name}-`));
    fx.db = await buildStore(fx.dir, files);
    fx.api = await serve(fx.db);
  });
  after(async () => {
    await fx.api?.close();
    if (fx.dir) rmSync(fx.dir, { recursive: true, force: true });
  });
  return fx;
}

/** Every event of the files (JSON lines), first of each (auditID, stage) kept, as `audit ingest` de-duplicates. */
export function readEvents(files: string[]): Ev[] {
  const seen = new Set<string>();
  const out: Ev[] = [];
  for (const f of files) {
    for (const line of readFileSync(f, "utf8").split("\n")) {
      if (line.trim() === "") continue;
      const ev = JSON.parse(line);
      const k = `${ev.auditID}\u0000${ev.stage}`;
      if (seen.has(k)) continue;
      seen.add(k);
      out.push(ev);
    }
  }
  return out;
}

/** One event per request: ResponseComplete/Panic, or ResponseStarted of a failed non-watch request. */
export function isRequest(ev: Ev): boolean {
  const code = ev.responseStatus?.code;
  return ev.stage === "ResponseComplete" || ev.stage === "Panic" || (ev.stage === "ResponseStarted" && code >= 400 && ev.verb !== "watch");
}

/** The event's time (stageTimestamp, else the old `timestamp`) in microseconds since the epoch. */
export function micros(ev: Ev): number {
  const text: string = ev.stageTimestamp ?? ev.timestamp;
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(text);
  if (!m) throw new Error(`unexpected timestamp ${text}`);
  return Date.parse(`${m[1]}${m[3]}`) * 1000 + Number((m[2] ?? "").padEnd(6, "0").slice(0, 6));
}

/** `plural` or `plural.group`, as the console names resources. */
export function qualified(ev: Ev): string | null {
  const r = ev.objectRef?.resource;
  if (!r) return null;
  return ev.objectRef.apiGroup ? `${r}.${ev.objectRef.apiGroup}` : r;
}

/** Newest first, then audit ID and stage: the order of the events route. */
export function newestFirst(a: Ev, b: Ev): number {
  return micros(b) - micros(a) || cmp(a.auditID, b.auditID) || cmp(a.stage, b.stage);
}

export const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The microsecond ISO text the API (and the audit CLI) prints for an event's time. */
export function isoMicros(ev: Ev): string {
  const us = micros(ev);
  return `${new Date(Math.floor(us / 1000)).toISOString().slice(0, 19)}.${String(us % 1_000_000).padStart(6, "0")}Z`;
}
