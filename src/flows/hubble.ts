import { InvalidEventError, type DnsInfo, type HttpEvent, type HubbleEndpoint, type HubbleFlowEvent, type SkippedEvent } from "./events.js";

// Hubble's flow.Flow in protobuf JSON (field names as in cilium api/v1/flow/flow.proto): uint64s
// (latency_ns) are strings, zero fields omitted, enums by name (a number is accepted too).
// `hubble observe -o json` and the Hubble exporter wrap it as {"flow": {...}, "node_name", "time"}.

export const HUBBLE_EVENT_TYPES = ["http_response", "http_request", "dns_request", "dns_response", "l7_other", "l4"] as const;

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

function endpoint(ep: unknown, ip: unknown, port: number, service: unknown): HubbleEndpoint {
  const out: HubbleEndpoint = { ip: typeof ip === "string" ? ip : "", port };
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
  if (typeof v === "number" && Number.isInteger(v) && v >= 0) return v;
  if (typeof v === "string" && /^\d+$/.test(v)) return Number(v);
  throw new InvalidEventError("field", `${field} is not an integer: ${JSON.stringify(v)?.slice(0, 40)}`);
}

// Enums of flow.proto by number, for producers that write numbers (protojson accepts both).
const VERDICTS = ["VERDICT_UNKNOWN", "FORWARDED", "DROPPED", "ERROR", "AUDIT", "REDIRECTED", "TRACED", "TRANSLATED"];
const L7_TYPES = ["UNKNOWN_L7_TYPE", "REQUEST", "RESPONSE", "SAMPLE"];
const DIRECTIONS = ["unknown", "ingress", "egress"] as const;
// DropReason (flow.proto): 130.. The common ones by number; the rest pass as their number.
const DROP_REASONS: Record<number, string> = {
  130: "INVALID_SOURCE_MAC",
  131: "INVALID_DESTINATION_MAC",
  132: "INVALID_SOURCE_IP",
  133: "POLICY_DENIED",
  134: "INVALID_PACKET_DROPPED",
  135: "CT_TRUNCATED_OR_INVALID_HEADER",
  136: "CT_MISSING_TCP_ACK_FLAG",
  137: "CT_UNKNOWN_L4_PROTOCOL",
  138: "CT_CANNOT_CREATE_ENTRY_FROM_PACKET",
  139: "UNSUPPORTED_L3_PROTOCOL",
  140: "MISSED_TAIL_CALL",
  151: "STALE_OR_UNROUTABLE_IP",
  158: "SERVICE_BACKEND_NOT_FOUND",
  164: "LOCAL_HOST_IS_UNREACHABLE",
  165: "NO_CONFIGURATION_AVAILABLE_TO_PERFORM_POLICY_DECISION",
  169: "FIB_LOOKUP_FAILED",
  171: "INVALID_IDENTITY",
  174: "IS_A_CLUSTERIP",
  176: "FORBIDDEN_ICMPV6_MESSAGE",
  181: "POLICY_DENY",
  189: "AUTH_REQUIRED",
};
const TCP_FLAGS = ["SYN", "ACK", "FIN", "RST", "PSH", "URG", "ECE", "CWR", "NS"] as const;
// DNS RCODEs (RFC 1035, 2136, 6895): values beyond are reported by number.
const RCODES = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"];
const NAME = /^[A-Z][A-Z0-9_]{0,63}$/;

function enumName(v: unknown, names: readonly string[], field: string, fallback: string): string {
  if (v === undefined) return fallback;
  if (typeof v === "string" && NAME.test(v)) return v;
  if (typeof v === "number" && Number.isInteger(v) && v >= 0) return names[v] ?? String(v);
  throw new InvalidEventError("field", `${field} is not an enum value: ${JSON.stringify(v)?.slice(0, 40)}`);
}

function direction(v: unknown): HubbleFlowEvent["direction"] {
  if (v === undefined || v === "TRAFFIC_DIRECTION_UNKNOWN") return "unknown";
  if (v === "INGRESS") return "ingress";
  if (v === "EGRESS") return "egress";
  if (typeof v === "number" && v >= 0 && v <= 2) return DIRECTIONS[v]!;
  throw new InvalidEventError("field", `flow.traffic_direction is not INGRESS/EGRESS: ${JSON.stringify(v)?.slice(0, 40)}`);
}

function dropReason(v: unknown): string {
  if (typeof v === "number" && Number.isInteger(v)) return DROP_REASONS[v] ?? String(v);
  return enumName(v, [], "flow.drop_reason_desc", "DROP_REASON_UNKNOWN");
}

function policies(flow: Json): string[] | undefined {
  let out: string[] | undefined;
  for (const field of ["egress_denied_by", "ingress_denied_by"] as const) {
    const list = flow[field];
    if (list === undefined) continue;
    if (!Array.isArray(list)) throw new InvalidEventError("field", `flow.${field} is not a list`);
    for (const p of list) {
      if (!isObject(p)) throw new InvalidEventError("field", `flow.${field}[] is not an object`);
      const name = str(p.name);
      if (!name) continue;
      const ns = str(p.namespace);
      const id = ns ? `${ns}/${name}` : name;
      if (!(out ??= []).includes(id)) out.push(id);
    }
  }
  return out;
}

/** RFC 3339 with up to nanoseconds → seconds since the epoch; undefined if absent or not a time. */
export function parseFlowTime(v: unknown): number | undefined {
  if (typeof v !== "string") return undefined;
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(v);
  if (!m) return undefined;
  const whole = Date.parse(m[1]! + m[3]!);
  if (Number.isNaN(whole)) return undefined;
  return whole / 1000 + (m[2] ? Number(m[2]) / 10 ** m[2].length : 0);
}

interface L4 {
  protocol: string;
  srcPort: number;
  dstPort: number;
  flags?: string[];
  icmp?: { type: number; code: number };
}

function layer4(v: unknown): L4 {
  if (v === undefined) return { protocol: "", srcPort: 0, dstPort: 0 };
  if (!isObject(v)) throw new InvalidEventError("field", "flow.l4 is not an object");
  for (const protocol of ["TCP", "UDP", "SCTP"] as const) {
    const p = v[protocol];
    if (p === undefined) continue;
    if (!isObject(p)) throw new InvalidEventError("field", `flow.l4.${protocol} is not an object`);
    const out: L4 = { protocol, srcPort: toInt(p.source_port, `flow.l4.${protocol}.source_port`), dstPort: toInt(p.destination_port, `flow.l4.${protocol}.destination_port`) };
    if (protocol === "TCP" && p.flags !== undefined) {
      if (!isObject(p.flags)) throw new InvalidEventError("field", "flow.l4.TCP.flags is not an object");
      const f = p.flags;
      out.flags = TCP_FLAGS.filter((k) => f[k] === true);
    }
    return out;
  }
  for (const protocol of ["ICMPv4", "ICMPv6"] as const) {
    const p = v[protocol];
    if (p === undefined) continue;
    if (!isObject(p)) throw new InvalidEventError("field", `flow.l4.${protocol} is not an object`);
    return { protocol, srcPort: 0, dstPort: 0, icmp: { type: toInt(p.type, `flow.l4.${protocol}.type`), code: toInt(p.code, `flow.l4.${protocol}.code`) } };
  }
  return { protocol: "", srcPort: 0, dstPort: 0 };
}

function dnsInfo(dns: Json, response: boolean, latencyNs: number): DnsInfo {
  const query = typeof dns.query === "string" ? dns.query : "";
  const qtypes = Array.isArray(dns.qtypes) ? dns.qtypes.filter((q): q is string => typeof q === "string") : [];
  const rcode = toInt(dns.rcode, "flow.l7.dns.rcode");
  return { response, query, rcode: response ? (RCODES[rcode] ?? String(rcode)) : "", qtypes, ...(latencyNs > 0 ? { latencySeconds: latencyNs / 1e9 } : {}) };
}

/**
 * One parsed Hubble line → a completed HTTP exchange (its RESPONSE flow, which carries the status
 * code and the latency) or a flow event (L3/L4 facts, verdict, drop reason and denying policies,
 * DNS query/answer). HTTP requests are not counted on their own: the response completes them, so
 * each exchange is counted once per observation point.
 */
export function parseHubbleFlow(obj: unknown): HttpEvent | HubbleFlowEvent | SkippedEvent {
  if (!isObject(obj)) throw new InvalidEventError("shape", "not a JSON object");
  const flow = isObject(obj.flow) ? obj.flow : isObject(obj.IP) || isObject(obj.l7) || obj.verdict !== undefined ? obj : undefined;
  if (!flow) throw new InvalidEventError("shape", "no flow object");
  const verdict = enumName(flow.verdict, VERDICTS, "flow.verdict", "VERDICT_UNKNOWN");
  const l4 = layer4(flow.l4);
  const ipv = isObject(flow.IP) ? flow.IP : {};
  const node = str(flow.node_name) ?? str(obj.node_name);
  let type = "l4";
  let dns: DnsInfo | undefined;
  const l7 = flow.l7;
  if (l7 !== undefined) {
    if (!isObject(l7)) throw new InvalidEventError("field", "flow.l7 is not an object");
    const l7type = enumName(l7.type, L7_TYPES, "flow.l7.type", "UNKNOWN_L7_TYPE");
    if (l7type !== "REQUEST" && l7type !== "RESPONSE" && l7type !== "UNKNOWN_L7_TYPE" && l7type !== "SAMPLE") {
      throw new InvalidEventError("field", `flow.l7.type ${JSON.stringify(l7.type)?.slice(0, 40)} is not REQUEST/RESPONSE`);
    }
    const latencyNs = toInt(l7.latency_ns, "flow.l7.latency_ns");
    if (isObject(l7.http)) {
      const http = l7.http;
      if (l7type === "RESPONSE") {
        // A response travels server → client: its source is the server.
        return {
          kind: "http",
          method: typeof http.method === "string" ? http.method : "",
          code: toInt(http.code, "flow.l7.http.code"),
          latencySeconds: latencyNs / 1e9,
          server: endpoint(flow.source, ipv.source, l4.srcPort, flow.source_service),
          client: endpoint(flow.destination, ipv.destination, l4.dstPort, flow.destination_service),
          ...(node ? { node } : {}),
          verdict,
          protocol: l4.protocol,
          direction: direction(flow.traffic_direction),
        };
      }
      type = l7type === "REQUEST" ? "http_request" : "l7_other";
    } else if (isObject(l7.dns) && (l7type === "REQUEST" || l7type === "RESPONSE")) {
      dns = dnsInfo(l7.dns, l7type === "RESPONSE", latencyNs);
      type = l7type === "RESPONSE" ? "dns_response" : "dns_request";
    } else type = "l7_other";
  }
  const isReply = typeof flow.is_reply === "boolean" ? flow.is_reply : flow.reply === true ? true : undefined;
  const ev: HubbleFlowEvent = {
    kind: "hubble",
    type,
    verdict,
    protocol: l4.protocol,
    src: endpoint(flow.source, ipv.source, l4.srcPort, flow.source_service),
    dst: endpoint(flow.destination, ipv.destination, l4.dstPort, flow.destination_service),
    direction: direction(flow.traffic_direction),
  };
  if (l4.flags) ev.flags = l4.flags;
  if (l4.icmp) ev.icmp = l4.icmp;
  if (isReply !== undefined) ev.isReply = isReply;
  if (verdict === "DROPPED") ev.dropReason = dropReason(flow.drop_reason_desc);
  const pol = policies(flow);
  if (pol) ev.policies = pol;
  if (dns) ev.dns = dns;
  if (dns || verdict === "DROPPED") {
    const t = parseFlowTime(flow.time ?? obj.time);
    if (t !== undefined) ev.time = t;
  }
  if (node) ev.node = node;
  return ev;
}
