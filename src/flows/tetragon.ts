import { InvalidEventError, type EventPod, type IoEvent, type SkippedEvent, type TcpEvent, type TcpEventType } from "./events.js";

// Tetragon's JSON export is protobuf's JSON mapping: 64-bit integers are strings and fields equal
// to their zero value are omitted (an absent sport is port 0, an argument `{}` is a zero size).

const TCP_FUNCTION_TYPES: Record<string, TcpEventType> = {
  tcp_connect: "connect",
  tcp_v4_connect: "connect",
  tcp_v6_connect: "connect",
  tcp_close: "close",
  tcp_sendmsg: "send",
  tcp_sendpage: "send",
  tcp_recvmsg: "recv",
  tcp_v4_rcv: "recv",
  tcp_v6_rcv: "recv",
  tcp_v4_do_rcv: "recv",
};

const IO_FUNCTION = /^(?:__(?:x64|arm64|ia32)_)?(?:sys|ksys|vfs)_(read|write|readv|writev|pread64|pwrite64|preadv|pwritev)$/;

/** The bounded set of values the `type` label of the events counter can take for Tetragon. */
// A Map: function names come from the input, and "constructor" must not find Object's.
const TCP_FUNCTIONS = new Map(Object.entries(TCP_FUNCTION_TYPES));

export const TETRAGON_EVENT_TYPES = [...TCP_FUNCTIONS.keys(), "read", "write", "other_kprobe", "process_exec", "process_exit", "process_tracepoint", "process_lsm", "process_uprobe", "non_ip", "non_tcp", "other"] as const;

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

// Field paths for error messages are built only when there is an error (this is the hot path).
function fieldPath(index: number, field: string): string {
  return index >= 0 ? `args[${index}].${field}` : `return.${field}`;
}

/** A protobuf JSON integer: a number, or a decimal string for 64-bit fields. */
function toInt(v: unknown, index: number, field: string): number {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "string" && /^-?\d+$/.test(v)) return Number(v);
  throw new InvalidEventError("field", `${fieldPath(index, field)} is not an integer: ${JSON.stringify(v)?.slice(0, 40)}`);
}

/** The value of a numeric KprobeArgument; undefined if the argument is of another type. An empty object is a zero the producer omitted. */
function numericArg(arg: Json, index: number): number | undefined {
  let sawKey = false;
  for (const k in arg) {
    sawKey = true;
    if (k === "int_arg" || k === "size_arg" || k === "uint_arg" || k === "long_arg" || k === "ulong_arg") return toInt(arg[k], index, k);
  }
  return sawKey ? undefined : 0;
}

function eventPod(process: unknown): EventPod | undefined {
  if (!isObject(process) || !isObject(process.pod)) return undefined;
  const p = process.pod;
  if (typeof p.namespace !== "string" || typeof p.name !== "string") return undefined;
  const pod: EventPod = { namespace: p.namespace, name: p.name };
  if (typeof p.workload === "string" && p.workload) pod.workload = p.workload;
  if (typeof p.workload_kind === "string" && p.workload_kind) pod.workloadKind = p.workload_kind;
  if (isObject(p.pod_labels)) pod.labels = p.pod_labels as Record<string, string>;
  return pod;
}

interface Endpoints {
  saddr: string;
  daddr: string;
  sport: number;
  dport: number;
}

const PORT_FIELDS = {
  sock_arg: ["sock_arg.sport", "sock_arg.dport"],
  skb_arg: ["skb_arg.sport", "skb_arg.dport"],
} as const;

function sockEndpoints(sock: Json, index: number, arg: "sock_arg" | "skb_arg"): Endpoints | "non_ip" | "non_tcp" {
  const family = sock.family;
  if (family !== undefined && family !== "AF_INET" && family !== "AF_INET6") return "non_ip";
  // Old Tetragon printed the raw (mis-decoded) protocol number; only skip explicit non-TCP names.
  if (typeof sock.protocol === "string" && sock.protocol.startsWith("IPPROTO_") && sock.protocol !== "IPPROTO_TCP") return "non_tcp";
  const saddr = sock.saddr ?? "";
  const daddr = sock.daddr;
  if (typeof saddr !== "string" || typeof daddr !== "string" || daddr === "") {
    throw new InvalidEventError("field", `${fieldPath(index, arg)} has no daddr/saddr`);
  }
  return { saddr, daddr, sport: sock.sport === undefined ? 0 : toInt(sock.sport, index, PORT_FIELDS[arg][0]), dport: sock.dport === undefined ? 0 : toInt(sock.dport, index, PORT_FIELDS[arg][1]) };
}

/**
 * Turns one parsed Tetragon export line into a TCP or I/O event. Events that are valid but not
 * about traffic (exec, exit, other kprobes, UDP sockets) come back as skipped with a bounded type.
 */
export function parseTetragonEvent(obj: unknown): TcpEvent | IoEvent | SkippedEvent {
  if (!isObject(obj)) throw new InvalidEventError("shape", "not a JSON object");
  const kp = obj.process_kprobe;
  if (kp === undefined) {
    for (const k in obj) if (k.startsWith("process_")) return { kind: "not-tracked", type: (TETRAGON_EVENT_TYPES as readonly string[]).includes(k) ? k : "other" };
    throw new InvalidEventError("shape", "no process_* event field");
  }
  if (!isObject(kp)) throw new InvalidEventError("shape", "process_kprobe is not an object");
  const fn = kp.function_name;
  if (typeof fn !== "string" || fn === "") throw new InvalidEventError("field", "process_kprobe.function_name missing");
  const args = kp.args ?? [];
  if (!Array.isArray(args)) throw new InvalidEventError("field", "process_kprobe.args is not an array");

  const node = typeof obj.node_name === "string" ? obj.node_name : undefined;
  const tcpType = TCP_FUNCTIONS.get(fn);
  const io = tcpType ? undefined : IO_FUNCTION.exec(fn);
  if (!tcpType && !io) return { kind: "not-tracked", type: "other_kprobe" };

  // The byte count: the return value when the policy captures it (bytes actually moved),
  // else the last numeric argument (the requested size).
  let bytes = 0;
  let ends: Endpoints | undefined;
  let skbLen: number | undefined;
  let sizeFromArgs: number | undefined;
  for (let i = 0; i < args.length; i++) {
    const a: unknown = args[i];
    if (!isObject(a)) throw new InvalidEventError("field", `process_kprobe.args[${i}] is not an object`);
    if (isObject(a.sock_arg)) {
      const e = sockEndpoints(a.sock_arg, i, "sock_arg");
      if (typeof e === "string") return { kind: "not-tracked", type: e };
      ends = e;
    } else if (isObject(a.skb_arg)) {
      const e = sockEndpoints(a.skb_arg, i, "skb_arg");
      if (typeof e === "string") return { kind: "not-tracked", type: e };
      ends = e;
      skbLen = a.skb_arg.len === undefined ? 0 : toInt(a.skb_arg.len, i, "skb_arg.len");
    } else {
      const n = numericArg(a, i);
      if (n !== undefined) sizeFromArgs = n;
    }
  }
  if (isObject(kp.return)) {
    bytes = numericArg(kp.return, -1) ?? sizeFromArgs ?? 0;
  } else {
    bytes = sizeFromArgs ?? skbLen ?? 0;
  }
  if (bytes < 0) bytes = 0; // an error return moved nothing
  const pod = eventPod(kp.process);

  if (io) {
    const direction = io[1]!.includes("read") ? "read" : "write";
    const ev: IoEvent = { kind: "io", direction, fn: direction, bytes };
    if (pod) ev.pod = pod;
    if (node) ev.node = node;
    return ev;
  }
  if (!ends) throw new InvalidEventError("field", `${fn} event has no sock_arg or skb_arg`);
  // An skb on the receive path is addressed to us: its destination is the local side.
  const inbound = skbLen !== undefined;
  const ev: TcpEvent = {
    kind: "tcp",
    type: tcpType!,
    fn,
    localIp: inbound ? ends.daddr : ends.saddr,
    localPort: inbound ? ends.dport : ends.sport,
    remoteIp: inbound ? ends.saddr : ends.daddr,
    remotePort: inbound ? ends.sport : ends.dport,
    bytes: tcpType === "connect" || tcpType === "close" ? 0 : bytes,
  };
  if (pod) ev.pod = pod;
  if (node) ev.node = node;
  return ev;
}

