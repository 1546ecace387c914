import { Counter, Histogram, type Registry } from "prom-client";
import { LATENCY_ANNOTATIONS, LATENCY_ANNOTATION_PREFIX, malformedLatencyAnnotations } from "./latency-annotations.js";

/** Bounded user classification for metric labels (a username would explode cardinality). */
export type UserClass = "node" | "serviceaccount" | "system" | "user" | "anonymous";

export function userClass(username: string | undefined, groups: string[] | undefined): UserClass {
  const u = username ?? "";
  if (u === "" || u === "system:anonymous" || groups?.includes("system:unauthenticated")) return "anonymous";
  if (u.startsWith("system:node:") || groups?.includes("system:nodes")) return "node";
  if (u.startsWith("system:serviceaccount:")) return "serviceaccount";
  if (u.startsWith("system:")) return "system";
  return "user";
}

export function codeClass(code: number | undefined): string {
  if (code === undefined) return "unknown";
  return Number.isInteger(code) && code >= 100 && code <= 599 ? `${Math.floor(code / 100)}xx` : "other";
}

/** The exact status code as a label, bounded to HTTP's 100-599 so a bogus value cannot add series. */
export function codeLabel(code: number | undefined): string {
  if (code === undefined || !Number.isInteger(code)) return code === undefined ? "unknown" : "other";
  return code >= 100 && code <= 599 ? String(code) : "other";
}

const LONG_RUNNING_VERBS = new Set(["watch", "connect", "proxy"]);
const LONG_RUNNING_SUBRESOURCES = new Set(["exec", "attach", "portforward", "proxy"]);
const LABEL_OK = /^[a-z0-9][a-z0-9.-]{0,62}$/;
const MAX_RESOURCES = 500;

interface EventLike {
  stage?: unknown;
  verb?: unknown;
  user?: { username?: unknown; groups?: unknown };
  objectRef?: { resource?: unknown; subresource?: unknown };
  responseStatus?: { code?: unknown };
  requestReceivedTimestamp?: unknown;
  stageTimestamp?: unknown;
  annotations?: unknown;
}

/** Prometheus metrics derived from the audit stream as it is received. */
export class StreamMetrics {
  readonly requests: Counter<"verb" | "resource" | "code" | "code_class" | "user_class">;
  readonly duration: Histogram<"resource" | "verb">;
  readonly malformedAnnotations: Counter<"annotation">;
  private readonly resources = new Set<string>();

  constructor(registry: Registry) {
    this.requests = new Counter({
      name: "watch_auditor_apiserver_requests_total",
      help: "API server requests seen in the audit stream (one per request: ResponseComplete, or a failed ResponseStarted).",
      labelNames: ["verb", "resource", "code", "code_class", "user_class"],
      registers: [registry],
    });
    this.duration = new Histogram({
      name: "watch_auditor_apiserver_request_duration_seconds",
      help: "stageTimestamp - requestReceivedTimestamp of ResponseComplete events, long-running requests (watch, exec, attach, portforward, proxy) excluded.",
      labelNames: ["resource", "verb"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    });
    this.malformedAnnotations = new Counter({
      name: "watch_auditor_audit_latency_annotations_malformed_total",
      help: `Received audit events whose ${LATENCY_ANNOTATION_PREFIX}<annotation> value is not a Go duration (stored as NULL), by annotation.`,
      labelNames: ["annotation"],
      registers: [registry],
    });
    for (const a of LATENCY_ANNOTATIONS) this.malformedAnnotations.inc({ annotation: a.key }, 0);
  }

  /** Label values are bounded: unknown shapes and resources beyond the first 500 become "other". */
  private resourceLabel(r: unknown): string {
    if (typeof r !== "string" || r === "") return r === undefined ? "" : "other";
    if (!LABEL_OK.test(r)) return "other";
    if (this.resources.has(r)) return r;
    if (this.resources.size >= MAX_RESOURCES) return "other";
    this.resources.add(r);
    return r;
  }

  observe(ev: EventLike): void {
    for (const m of malformedLatencyAnnotations(ev.annotations)) this.malformedAnnotations.inc({ annotation: m.key });
    const code = typeof ev.responseStatus?.code === "number" ? ev.responseStatus.code : undefined;
    const verb = typeof ev.verb === "string" && LABEL_OK.test(ev.verb) ? ev.verb : "other";
    const counted = ev.stage === "ResponseComplete" || ev.stage === "Panic" || (ev.stage === "ResponseStarted" && code !== undefined && code >= 400 && verb !== "watch");
    if (!counted) return;
    const resource = this.resourceLabel(ev.objectRef?.resource);
    const groups = Array.isArray(ev.user?.groups) ? (ev.user.groups as unknown[]).filter((g): g is string => typeof g === "string") : undefined;
    const username = typeof ev.user?.username === "string" ? ev.user.username : undefined;
    this.requests.inc({ verb, resource, code: codeLabel(code), code_class: codeClass(code), user_class: userClass(username, groups) });
    if (ev.stage !== "ResponseComplete") return;
    const sub = ev.objectRef?.subresource;
    if (LONG_RUNNING_VERBS.has(verb) || (typeof sub === "string" && LONG_RUNNING_SUBRESOURCES.has(sub))) return;
    if (typeof ev.requestReceivedTimestamp !== "string" || typeof ev.stageTimestamp !== "string") return;
    const secs = (preciseMs(ev.stageTimestamp) - preciseMs(ev.requestReceivedTimestamp)) / 1000;
    if (Number.isFinite(secs) && secs >= 0) this.duration.observe({ resource, verb }, secs);
  }
}

/** Date.parse drops sub-millisecond digits; audit timestamps carry microseconds. */
export function preciseMs(ts: string): number {
  const m = /^(.*?)(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/.exec(ts);
  if (!m) return NaN;
  const base = Date.parse(m[1]! + m[3]!);
  const frac = m[2] ? Number(`0.${m[2]}`) * 1000 : 0;
  return base + frac;
}
