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
}

export type FlowEvent = TcpEvent | IoEvent | HttpEvent;

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
