import { Doorkeeper } from "./doorkeeper.js";
import { InvalidEventError, parseJsonLine, type EventPod, type IoEvent, type SkippedEvent, type TcpEvent, type TcpEventType } from "./events.js";

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
  return decodeTetragonEvent(obj, undefined);
}

/**
 * `knownPod`: the pod of `process_kprobe.process` when the caller already decoded it (the line
 * parser's head cache); `null` means the process has none. Undefined: read it from the event.
 */
function decodeTetragonEvent(obj: unknown, knownPod: EventPod | null | undefined): TcpEvent | IoEvent | SkippedEvent {
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
  const pod = knownPod === undefined ? eventPod(kp.process) : (knownPod ?? undefined);

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


// Tetragon writes a kprobe event as {"process_kprobe":{"process":{...},"parent":{...},
// "function_name":"...","args":[...],...},"node_name":...,"time":...} (protobuf field order).
// The process and parent objects are ~80 % of the line and repeat for every event of a process,
// so the parser remembers the text before "function_name" per exec_id, with the pod it yields,
// and parses only the rest. Text equality keeps it exact: a remembered head was parsed in full
// once, and identical text parses identically; anything else takes the full parse.
const KPROBE_HEAD = '{"process_kprobe":{"process":{"exec_id":"';
const FUNCTION_KEY = ',"function_name":"';
const TAIL_OPEN = '{"process_kprobe":{';

// The tail of the events a TCP TracingPolicy produces, in Tetragon's field order, as one regular
// expression over a strict subset of JSON (strings without escapes, integers without sign or
// leading zeros). A line it matches decodes to exactly what JSON.parse + decodeTetragonEvent
// give; anything else (other argument types, escapes, extra objects, bad JSON) misses it and
// takes the general path. Keys that JSON.parse would let override an earlier one are excluded.
// JSON strings without escapes: no quote, backslash or control character inside.
const STR_CHARS = String.raw`[^"\\\u0000-\u001f]*`;
const STR = `"${STR_CHARS}"`;
const UINT = "(?:0|[1-9]\\d{0,15})";
const otherMembers = (exclude: string[]): string => `(?:,(?!${exclude.map((k) => `"${k}"`).join("|")})${STR}:(?:${STR}|-?${UINT}|true|false))*`;
const COMMON_TAIL = new RegExp(
  [
    `,"function_name":"(tcp_[a-z0-9_]{1,40})"`,
    `,"args":\\[\\{"sock_arg":\\{"family":"(?:AF_INET|AF_INET6)","type":${STR},"protocol":"([A-Za-z0-9_]{0,40})"`,
    `(?:,"mark":${UINT})?(?:,"priority":${UINT})?(?:,"saddr":"([0-9a-fA-F.:]{0,64})")?,"daddr":"([0-9a-fA-F.:]{1,64})"`,
    `(?:,"sport":(${UINT}))?(?:,"dport":(${UINT}))?(?:,"cookie":${STR})?(?:,"state":${STR})?\\}\\}`,
    `(?:,\\{(?:"(?:int_arg|size_arg|uint_arg|long_arg|ulong_arg)":(?:(-?${UINT})|"(-?${UINT})"))?\\})?\\]`,
    `(?:,"return":\\{"int_arg":(-?${UINT})\\})?`,
    otherMembers(["process", "parent", "function_name", "args", "return"]),
    `\\},"node_name":"(${STR_CHARS})"`,
    otherMembers(["process_kprobe", "node_name"]),
    "\\}$",
  ].join(""),
  "y",
);

/** The event for a tail COMMON_TAIL matches, else undefined (then the general path decides). */
function decodeCommonTail(line: string, cut: number, pod: EventPod | null): TcpEvent | SkippedEvent | undefined {
  COMMON_TAIL.lastIndex = cut;
  const m = COMMON_TAIL.exec(line);
  if (m === null) return undefined;
  const [, fn, protocol, saddr, daddr, sport, dport, num, numstr, ret, node] = m as unknown as (string | undefined)[];
  const type = TCP_FUNCTIONS.get(fn!);
  if (type === undefined) return undefined;
  if (protocol!.startsWith("IPPROTO_") && protocol !== "IPPROTO_TCP") return { kind: "not-tracked", type: "non_tcp" };
  // The return value when captured, else the size argument ("{}" is a zero the producer omitted).
  const moved = ret ?? num ?? numstr;
  let bytes = moved === undefined ? 0 : Number(moved);
  if (bytes < 0) bytes = 0;
  const ev: TcpEvent = {
    kind: "tcp",
    type,
    fn: fn!,
    localIp: saddr ?? "",
    localPort: sport === undefined ? 0 : Number(sport),
    remoteIp: daddr!,
    remotePort: dport === undefined ? 0 : Number(dport),
    bytes: type === "connect" || type === "close" ? 0 : bytes,
  };
  if (pod) ev.pod = pod;
  if (node) ev.node = node;
  return ev;
}

// Slots of the seen-once table: a process whose events come further apart than ~this many other
// processes' first sightings is rarely admitted (its head would be evicted before it paid back).
const SEEN_ONCE_MAX = 16_384;

/** A copy of a short slice that does not keep its (much longer) line alive. */
function detached(s: string): string {
  // V8 flattens the concatenation into a new string; the slice then points into that.
  return (" " + s).slice(1);
}

/**
 * A remembered head: its text is `own + shared`, kept in two parts so that the part from
 * `,"parent":` on (the parent process, the same for every child of a container's shim or of a
 * server's master) is one string shared by all heads that have it. Both parts are copies, so the
 * line they came from is not kept alive (a slice would keep the whole line: ~30 % more).
 */
interface KnownHead {
  own: string;
  shared: string;
  pod: EventPod | null;
  /** Characters this head holds on its own (a shared part is counted once, when first seen, and never subtracted). */
  chars: number;
}

// Where the shared part of a head starts.
const PARENT_KEY = ',"parent":';
// Distinct shared parts kept (they are counted in the head budget too).
const SHARED_MAX = 4096;

export interface TetragonLineParserOptions {
  /** Bound on the remembered heads' text, in characters (default 12 Mi). */
  maxHeadChars?: number;
}

/**
 * Parses Tetragon export lines into events: the same result as `parseTetragonEvent(JSON.parse(line))`,
 * several times faster on the kprobe events that dominate a network policy's stream.
 */
export class TetragonLineParser {
  private heads = new Map<string, KnownHead>();
  private shared = new Map<string, string>();
  private headChars = 0;
  // Processes seen once (by exec_id hash): a head is remembered on the second sighting.
  private readonly seenOnce = new Doorkeeper(SEEN_ONCE_MAX);
  private readonly maxHeadChars: number;
  /** Lines whose head was remembered (the process/parent objects were not parsed again). */
  headHits = 0;
  /** Of those, lines whose tail the common-shape pattern decoded (no JSON.parse at all). */
  fastTails = 0;

  constructor(opts: TetragonLineParserOptions = {}) {
    this.maxHeadChars = opts.maxHeadChars ?? 12 << 20;
  }

  /** Throws InvalidEventError (reason "json" for unparseable text). */
  parse(line: string): TcpEvent | IoEvent | SkippedEvent {
    const idEnd = line.indexOf('"', KPROBE_HEAD.length);
    if (idEnd < 0) return parseTetragonEvent(parseJsonLine(line));
    const id = line.slice(KPROBE_HEAD.length, idEnd);
    const known = this.heads.get(id);
    if (known !== undefined) {
      // A remembered head starts with KPROBE_HEAD, so equal text implies this line does too.
      const split = known.own.length;
      const cut = split + known.shared.length;
      // Slices and ===, not startsWith(text, pos): V8 compares those char by char (~5 µs for 1 KB).
      if (line.startsWith(FUNCTION_KEY, cut) && line.slice(0, split) === known.own && line.slice(split, cut) === known.shared) {
        const fast = decodeCommonTail(line, cut, known.pod);
        if (fast !== undefined) {
          this.headHits++;
          this.fastTails++;
          return fast;
        }
        const ev = this.decodeTail(line, cut, known.pod);
        if (ev !== undefined) {
          this.headHits++;
          return ev;
        }
      }
    }
    const obj = parseJsonLine(line);
    const ev = parseTetragonEvent(obj);
    // Only a process seen twice is remembered: a stream of one-event processes would otherwise
    // pay for checking and storing heads that never pay back.
    if (line.startsWith(KPROBE_HEAD)) {
      if (known !== undefined || this.seenOnce.seen(id)) this.remember(id, line, obj);
    }
    return ev;
  }

  private decodeTail(line: string, cut: number, pod: EventPod | null): TcpEvent | IoEvent | SkippedEvent | undefined {
    const tail = this.parseTail(line, cut);
    return tail === undefined ? undefined : decodeTetragonEvent(tail, pod);
  }

  /**
   * The event without its head, or undefined when the tail does not stand alone: invalid JSON
   * (the full parse then reports it), or keys that would override the head under JSON.parse's
   * last-duplicate-wins rule (a second "process" or "process_kprobe").
   */
  private parseTail(line: string, cut: number): Record<string, unknown> | undefined {
    if (line.indexOf('"process_kprobe"', cut) !== -1) return undefined;
    let obj: unknown;
    try {
      obj = JSON.parse(TAIL_OPEN + line.slice(cut + 1));
    } catch {
      return undefined;
    }
    const kp = (obj as Record<string, unknown>).process_kprobe;
    if (!isObject(kp) || "process" in kp) return undefined;
    return obj as Record<string, unknown>;
  }

  /** Remembers the head only if it holds nothing but process (and parent) and the tail stands alone. */
  private remember(id: string, line: string, obj: unknown): void {
    const cut = line.lastIndexOf(FUNCTION_KEY);
    if (cut <= id.length + KPROBE_HEAD.length || !isObject(obj) || !isObject(obj.process_kprobe)) return;
    const keys = Object.keys(obj.process_kprobe);
    const fnAt = keys[1] === "parent" ? 2 : 1;
    if (keys[0] !== "process" || keys[fnAt] !== "function_name") return;
    // The tail must stand alone: the fast pattern matching it is enough, else a parse of it alone.
    if (decodeCommonTail(line, cut, null) === undefined) {
      const tail = this.parseTail(line, cut);
      if (tail === undefined || (tail.process_kprobe as Json).function_name !== obj.process_kprobe.function_name) return;
    }
    if (this.headChars + cut > this.maxHeadChars) {
      this.heads = new Map();
      this.shared = new Map();
      this.headChars = 0;
    }
    const old = this.heads.get(id);
    if (old !== undefined) this.headChars -= old.chars;
    const p = line.lastIndexOf(PARENT_KEY, cut);
    const split = p > 0 ? p : cut;
    let shared = "";
    if (split < cut) {
      const text = line.slice(split, cut);
      const known = this.shared.get(text);
      if (known !== undefined) shared = known;
      else {
        if (this.shared.size >= SHARED_MAX) this.shared = new Map();
        shared = detached(text);
        this.shared.set(shared, shared);
        this.headChars += shared.length;
      }
    }
    this.heads.set(detached(id), { own: detached(line.slice(0, split)), shared, pod: eventPod(obj.process_kprobe.process) ?? null, chars: split });
    this.headChars += split;
  }
}
