import { InvalidEventError, type HttpEvent, type HubbleEndpoint, type SkippedEvent } from "./events.js";

// Hubble's flow.Flow in protobuf JSON: latency_ns is a uint64 (a string), zero fields omitted.
// `hubble observe -o json` and the Hubble exporter wrap it as {"flow": {...}, "node_name", "time"}.

export const HUBBLE_EVENT_TYPES = ["http_response", "http_request", "l7_other", "l4", "other"] as const;

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}

function labelsOf(v: unknown): Record<string, string> | undefined {
  if (!Array.isArray(v)) return undefined;
  let out: Record<string, string> | undefined;
  for (const l of v) {
    // Only the pod's own labels ("k8s:app=x"); Cilium's derived ones carry a io.cilium. prefix.
    if (typeof l !== "string" || !l.startsWith("k8s:") || l.startsWith("k8s:io.cilium.") || l.startsWith("k8s:io.kubernetes.")) continue;
    const eq = l.indexOf("=");
    if (eq < 0) continue;
    (out ??= {})[l.slice(4, eq)] = l.slice(eq + 1);
  }
  return out;
}

function endpoint(ep: unknown, ip: unknown, port: unknown, service: unknown): HubbleEndpoint {
  const out: HubbleEndpoint = { ip: typeof ip === "string" ? ip : "", port: typeof port === "number" ? port : 0 };
  if (!isObject(ep)) return out;
  const ns = str(ep.namespace);
  if (ns) out.namespace = ns;
  const pod = str(ep.pod_name);
  if (pod) out.pod = pod;
  if (Array.isArray(ep.workloads) && isObject(ep.workloads[0])) {
    const w = ep.workloads[0];
    const name = str(w.name);
    if (name) {
      out.workload = name;
      out.workloadKind = str(w.kind) ?? "Workload";
    }
  }
  const labels = labelsOf(ep.labels);
  if (labels) out.labels = labels;
  if (isObject(service)) {
    const name = str(service.name);
    if (name) out.service = name;
  }
  return out;
}

function toInt(v: unknown, field: string): number {
  if (v === undefined) return 0;
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "string" && /^\d+$/.test(v)) return Number(v);
  throw new InvalidEventError("field", `${field} is not an integer: ${JSON.stringify(v)?.slice(0, 40)}`);
}

/**
 * One parsed Hubble line → a completed HTTP exchange (from its RESPONSE flow, which carries the
 * status code and the latency) or a skipped event. Requests are not counted on their own: the
 * response completes them, so each exchange is counted once per observation point.
 */
export function parseHubbleFlow(obj: unknown): HttpEvent | SkippedEvent {
  if (!isObject(obj)) throw new InvalidEventError("shape", "not a JSON object");
  const flow = isObject(obj.flow) ? obj.flow : isObject(obj.IP) || isObject(obj.l7) || obj.verdict !== undefined ? obj : undefined;
  if (!flow) throw new InvalidEventError("shape", "no flow object");
  const l7 = flow.l7;
  if (l7 === undefined) return { kind: "not-tracked", type: "l4" };
  if (!isObject(l7)) throw new InvalidEventError("field", "flow.l7 is not an object");
  const http = l7.http;
  if (!isObject(http)) return { kind: "not-tracked", type: "l7_other" };
  const type = l7.type;
  if (type === "REQUEST") return { kind: "not-tracked", type: "http_request" };
  if (type !== "RESPONSE") {
    if (type === undefined || type === "UNKNOWN_L7_TYPE" || type === "SAMPLE") return { kind: "not-tracked", type: "l7_other" };
    throw new InvalidEventError("field", `flow.l7.type ${JSON.stringify(type)?.slice(0, 40)} is not REQUEST/RESPONSE`);
  }
  const ipv = isObject(flow.IP) ? flow.IP : {};
  const tcp = isObject(flow.l4) && isObject(flow.l4.TCP) ? flow.l4.TCP : {};
  const method = typeof http.method === "string" ? http.method : "";
  // A response travels server → client: its source is the server.
  const server = endpoint(flow.source, ipv.source, tcp.source_port, flow.source_service);
  const client = endpoint(flow.destination, ipv.destination, tcp.destination_port, flow.destination_service);
  const node = str(flow.node_name) ?? str(obj.node_name);
  return {
    kind: "http",
    method,
    code: toInt(http.code, "flow.l7.http.code"),
    latencySeconds: toInt(l7.latency_ns, "flow.l7.latency_ns") / 1e9,
    server,
    client,
    ...(node ? { node } : {}),
  };
}
