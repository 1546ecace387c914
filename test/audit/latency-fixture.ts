// Real audit events with apiserver.latency.k8s.io/* annotations, and an independent reading of them.
//
// Of the recorded audit logs, only two events carry these annotations (the API server adds them
// only to requests slower than 500 ms): the v1.24 scenario's GET /openapi/v2 (798.786941ms:
// response-write, total) and the v1.25 recording's slow LIST of configmaps (3.002622604s:
// serialize-response-object, response-write in µs, total). The v1.25 security scenario has none.
// To cover every key, `derivedAnnotatedEvents` takes real request events of the v1.25 security
// scenario and adds annotations in Go's time.Duration.String() format (s, ms, µs, ns, "1m2.5s"),
// moving stageTimestamp so that the request really took `total`; three get malformed values.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { SECURITY, SCENARIO, readEvents, type Ev } from "./helpers.js";
import { SHARED_KUBE_DIR } from "../support/kube-apiserver/openapi.js";

export const RECORDED_V125_AUDIT = join(SHARED_KUBE_DIR, "recorded-v1.25", "audit", "scenario-recorder.jsonl");
export const PREFIX = "apiserver.latency.k8s.io/";
export const KEYS = [
  "total", "etcd", "apf-queue-wait", "decode-response-object", "transform-response-object", "serialize-response-object",
  "response-write", "mutating-webhook", "validating-webhook", "impersonation",
] as const;

/** The real events (file, 1-based line) that carry the annotations in the recordings. */
export function realAnnotated(): { file: string; line: number; ev: Ev }[] {
  const out: { file: string; line: number; ev: Ev }[] = [];
  for (const file of [SCENARIO, RECORDED_V125_AUDIT]) {
    for (const { line, ev } of readEvents(file)) {
      if (Object.keys(ev.annotations ?? {}).some((k) => k.startsWith(PREFIX))) out.push({ file, line, ev });
    }
  }
  return out;
}

/** Go's Duration.String() for a whole number of nanoseconds (positive). */
export function goDuration(ns: number): string {
  const trim = (s: string): string => s.replace(/\.?0+$/, "");
  if (ns < 1000) return `${ns}ns`;
  if (ns < 1e6) return `${trim((ns / 1e3).toFixed(3))}µs`;
  if (ns < 1e9) return `${trim((ns / 1e6).toFixed(6))}ms`;
  if (ns < 60e9) return `${trim((ns / 1e9).toFixed(9))}s`;
  const m = Math.floor(ns / 60e9);
  return `${m}m${trim(((ns - m * 60e9) / 1e9).toFixed(9))}s`;
}

/**
 * Independent reading of a Go duration (a character walk, not a regex): ms, or null when it is not
 * one. Go accepts "us", "µs" (U+00B5) and "μs" (U+03BC) for microseconds.
 */
export function readGoDuration(v: unknown): number | null {
  if (typeof v !== "string" || v === "") return null;
  let s = v;
  let sign = 1;
  if (s[0] === "-" || s[0] === "+") {
    sign = s[0] === "-" ? -1 : 1;
    s = s.slice(1);
  }
  if (s === "0") return 0;
  if (s === "") return null;
  const units: [string, number][] = [["ns", 1e-6], ["us", 1e-3], ["µs", 1e-3], ["μs", 1e-3], ["ms", 1], ["s", 1000], ["m", 60000], ["h", 3600000]];
  let i = 0;
  let total = 0;
  while (i < s.length) {
    let num = "";
    while (i < s.length && ((s[i]! >= "0" && s[i]! <= "9") || s[i] === ".")) num += s[i++];
    if (num === "" || num === "." || num.split(".").length > 2) return null;
    // The longest unit that matches here ("ms" before "m").
    const u = units.filter(([name]) => s.startsWith(name, i)).sort((a, b) => b[0].length - a[0].length)[0];
    if (!u) return null;
    i += u[0].length;
    total += Number(num) * u[1];
  }
  return sign * total;
}

function addMicros(ts: string, us: number): string {
  // "2026-12-07T11:43:15.026493Z" + us, keeping microseconds.
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(ts)!;
  const base = Date.parse(`${m[1]}Z`);
  const frac = Number(((m[2] ?? "") + "000000").slice(0, 6));
  const totalUs = base * 1000 + frac + us;
  const sec = Math.floor(totalUs / 1e6);
  return `${new Date(sec * 1000).toISOString().slice(0, 19)}.${String(totalUs - sec * 1e6).padStart(6, "0")}Z`;
}

export interface Derived {
  events: Ev[];
  /** 0-based index in `events` → the malformed annotations it carries. */
  malformed: Map<number, string[]>;
}

/**
 * Real v1.25 security-scenario request events (ResponseComplete, not long-running, every 4th) with
 * annotations added. Part sizes are fixed fractions of total so that every layer appears somewhere.
 */
export function derivedAnnotatedEvents(): Derived {
  const base = readEvents(SECURITY)
    .map((e) => e.ev)
    .filter((e) => e.stage === "ResponseComplete" && e.verb !== "watch" && !["exec", "attach", "portforward", "proxy"].includes(e.objectRef?.subresource));
  const events: Ev[] = [];
  const malformed = new Map<number, string[]>();
  base.forEach((ev, i) => {
    if (i % 4 !== 0) return;
    const n = events.length;
    const totalUs = n === 3 ? 62_500_000 : 501_000 + n * 97_531; // one "1m2.5s"; others from 501 ms
    const ann: Record<string, unknown> = { ...ev.annotations };
    const us = (f: number): number => Math.max(1, Math.round(totalUs * f));
    ann[`${PREFIX}total`] = goDuration(totalUs * 1000);
    ann[`${PREFIX}etcd`] = goDuration(us(0.41) * 1000);
    if (n % 2 === 0) ann[`${PREFIX}apf-queue-wait`] = goDuration(us(0.07) * 1000);
    if (n % 3 === 0) ann[`${PREFIX}decode-response-object`] = goDuration(us(0.013) * 1000);
    if (ev.verb === "list" || ev.verb === "get") ann[`${PREFIX}transform-response-object`] = goDuration(us(0.021) * 1000);
    if (n % 5 !== 4) ann[`${PREFIX}serialize-response-object`] = goDuration(us(0.09) * 1000);
    ann[`${PREFIX}response-write`] = `${us(0.00003) * 1000 + 17}ns`;
    if (["create", "update", "patch"].includes(ev.verb)) {
      ann[`${PREFIX}mutating-webhook`] = goDuration(us(0.05) * 1000);
      ann[`${PREFIX}validating-webhook`] = goDuration(us(0.03) * 1000);
    }
    if (n === 5) ann[`${PREFIX}impersonation`] = "3us";
    if (n === 6) ann[`${PREFIX}etcd`] = "0.250000s"; // still a Go duration, not String()'s form
    // Malformed values: stored as NULL and reported.
    if (n === 1) {
      ann[`${PREFIX}etcd`] = "12 ms";
      malformed.set(n, [`${PREFIX}etcd`]);
    }
    if (n === 2) {
      ann[`${PREFIX}total`] = "fast";
      malformed.set(n, [`${PREFIX}total`]);
    }
    if (n === 4) {
      ann[`${PREFIX}decode-response-object`] = 5;
      malformed.set(n, [`${PREFIX}decode-response-object`]);
    }
    events.push({ ...ev, auditID: `${ev.auditID.slice(0, -4)}a${String(n).padStart(3, "0")}`, stageTimestamp: addMicros(ev.requestReceivedTimestamp, totalUs), annotations: ann });
  });
  return { events, malformed };
}

export function writeJsonlFile(path: string, events: Ev[]): void {
  writeFileSync(path, events.map((e) => JSON.stringify(e)).join("\n") + "\n");
}

export const LONG_RUNNING_SUBRESOURCES = ["exec", "attach", "portforward", "proxy"];
export function isLongRunning(e: Ev): boolean {
  return ["watch", "connect", "proxy"].includes(e.verb) || LONG_RUNNING_SUBRESOURCES.includes(e.objectRef?.subresource);
}

/** Microsecond timestamps → ms, exactly. */
export function latencyMs(e: Ev): number | null {
  if (!e.requestReceivedTimestamp || !e.stageTimestamp) return null;
  const us = (ts: string): number => {
    const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(ts)!;
    return Date.parse(`${m[1]}Z`) * 1000 + Number(((m[2] ?? "") + "000000").slice(0, 6));
  };
  return (us(e.stageTimestamp) - us(e.requestReceivedTimestamp)) / 1000;
}

/** The split of one event as documented (docs/audit.md), or null when it carries no valid annotation. */
export function expectedSplit(e: Ev): Record<string, number> | null {
  const a = (k: (typeof KEYS)[number]): number | null => readGoDuration(e.annotations?.[PREFIX + k]);
  if (KEYS.every((k) => a(k) === null)) return null;
  const v = (k: (typeof KEYS)[number]): number => a(k) ?? 0;
  const total = a("total") ?? latencyMs(e)!;
  const serializeOrWrite = a("serialize-response-object") ?? v("response-write");
  return {
    total_ms: total,
    etcd_ms: v("etcd"),
    apf_queue_wait_ms: v("apf-queue-wait"),
    decode_ms: v("decode-response-object"),
    transform_ms: v("transform-response-object"),
    serialize_ms: v("serialize-response-object"),
    response_write_ms: v("response-write"),
    webhooks_ms: v("mutating-webhook") + v("validating-webhook"),
    impersonation_ms: v("impersonation"),
    other_ms: total - v("etcd") - v("apf-queue-wait") - v("decode-response-object") - v("transform-response-object") - serializeOrWrite - v("mutating-webhook") - v("validating-webhook") - v("impersonation"),
  };
}

/** quantile_cont (linear interpolation), as DuckDB computes it. */
export function quantileCont(values: number[], q: number): number {
  const s = [...values].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

export function readText(path: string): string {
  return readFileSync(path, "utf8");
}
