/** The pod a Tetragon process runs in, as Tetragon reports it (`process.pod`). */
export interface EventPod {
  namespace: string;
  name: string;
  workload?: string;
  workloadKind?: string;
  labels?: Record<string, string>;
}

export type TcpEventType = "connect" | "close" | "send" | "recv";

/**
 * A socket-level observation on the node. `local*` is the traced process's side of the
 * socket, `remote*` the peer.
 */
export interface TcpEvent {
  kind: "tcp";
  type: TcpEventType;
  fn: string;
  localIp: string;
  localPort: number;
  remoteIp: string;
  remotePort: number;
  bytes: number;
  pod?: EventPod;
  node?: string;
}

export interface IoEvent {
  kind: "io";
  direction: "read" | "write";
  fn: string;
  bytes: number;
  pod?: EventPod;
  node?: string;
}

/** The peer of an HTTP exchange as Hubble reports it. */
export interface HubbleEndpoint {
  ip: string;
  port: number;
  namespace?: string;
  pod?: string;
  workload?: string;
  workloadKind?: string;
  labels?: Record<string, string>;
  service?: string;
}

/** A completed HTTP exchange (a Hubble L7 RESPONSE flow). */
export interface HttpEvent {
  kind: "http";
  method: string;
  code: number;
  latencySeconds: number;
  server: HubbleEndpoint;
  client: HubbleEndpoint;
  node?: string;
  /** The flow's verdict, protocol and traffic direction (for the verdicts counter). */
  verdict?: string;
  protocol?: string;
  direction?: "ingress" | "egress" | "unknown";
}

/** One Hubble flow (flow.Flow) beyond HTTP: L3/L4 facts, verdict, drops and DNS. */
export interface HubbleFlowEvent {
  kind: "hubble";
  /** events_total type: l4, http_request, dns_request, dns_response, l7_other. */
  type: string;
  /** FORWARDED, DROPPED, ERROR, AUDIT, REDIRECTED, TRACED, TRANSLATED, VERDICT_UNKNOWN. */
  verdict: string;
  /** TCP, UDP, ICMPv4, ICMPv6, SCTP; "" when the flow has no l4. */
  protocol: string;
  /** The packet's (or message's) source and destination. */
  src: HubbleEndpoint;
  dst: HubbleEndpoint;
  /** TCP flags set, in Hubble's order (SYN, ACK, …). */
  flags?: string[];
  icmp?: { type: number; code: number };
  /** Absent when Hubble does not know. */
  isReply?: boolean;
  direction: "ingress" | "egress" | "unknown";
  /** drop_reason_desc for DROPPED flows (the enum name). */
  dropReason?: string;
  /** The policies that denied it (egress_denied_by/ingress_denied_by), as namespace/name or name. */
  policies?: string[];
  dns?: DnsInfo;
  node?: string;
  /** flow.time in seconds since the epoch (sub-microsecond precision), when present. */
  time?: number;
}

export interface DnsInfo {
  response: boolean;
  query: string;
  /** NOERROR, NXDOMAIN, … (responses). */
  rcode: string;
  qtypes: string[];
  /** l7.latency_ns when Hubble gave one, else undefined (the processor pairs request and response). */
  latencySeconds?: number;
}

export type FlowEvent = TcpEvent | IoEvent | HttpEvent | HubbleFlowEvent;

/** Why a line was rejected; becomes the `reason` label of the invalid-events counter. */
export type InvalidReason = "json" | "shape" | "field" | "too_long";

export class InvalidEventError extends Error {
  constructor(
    readonly reason: InvalidReason,
    message: string,
  ) {
    super(message);
    this.name = "InvalidEventError";
  }
}

/** An event understood but deliberately not counted (e.g. an exec event, a UDP socket). */
export interface SkippedEvent {
  kind: "not-tracked";
  /** Bounded label value for the events counter. */
  type: string;
}

/** JSON.parse of an input line; unparseable text becomes an InvalidEventError with reason "json". */
export function parseJsonLine(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch (err) {
    throw new InvalidEventError("json", `invalid JSON: ${(err as Error).message}`);
  }
}
