// protobuf ⇄ the protobuf-JSON shape the file parsers read (field names as in the .proto, enums by
// name, 64-bit integers as strings, Timestamps as RFC 3339, wrappers unwrapped), so gRPC events go
// through exactly the same decoding as exported JSON lines.
import protobuf from "protobufjs";
import { ALL_PROTOS } from "./grpc-protos.js";

export type Json = Record<string, unknown>;

let root: protobuf.Root | undefined;

/** The parsed definitions (field names kept as written: source_port, not sourcePort). */
export function protoRoot(): protobuf.Root {
  if (!root) {
    const r = new protobuf.Root();
    for (const src of ALL_PROTOS) protobuf.parse(src, r, { keepCase: true });
    r.resolveAll();
    root = r;
  }
  return root;
}

export function messageType(name: string): protobuf.Type {
  return protoRoot().lookupType(name);
}

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** google.protobuf.Timestamp → RFC 3339 with nanoseconds, as protojson writes it. */
export function timestampToRfc3339(t: { seconds?: unknown; nanos?: unknown }): string {
  const s = Number(t.seconds ?? 0);
  const n = Number(t.nanos ?? 0);
  const iso = new Date(s * 1000).toISOString().slice(0, 19);
  return n ? `${iso}.${String(n).padStart(9, "0")}Z` : `${iso}Z`;
}

/** RFC 3339 → google.protobuf.Timestamp fields. */
export function rfc3339ToTimestamp(v: string): { seconds: number; nanos: number } {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(v);
  if (!m) throw new Error(`not an RFC 3339 time: ${JSON.stringify(v).slice(0, 40)}`);
  return { seconds: Date.parse(m[1]! + m[3]!) / 1000, nanos: m[2] ? Number(m[2].padEnd(9, "0")) : 0 };
}

const TO_OBJECT: protobuf.IConversionOptions = { longs: String, enums: String, bytes: String, defaults: false, oneofs: false };

/** A decoded GetFlowsResponse's flow in the JSON shape of `hubble observe -o json`'s `flow`. */
export function flowToJson(msg: protobuf.Message, type: protobuf.Type): Json {
  const o = type.toObject(msg, TO_OBJECT);
  if (isObject(o.time)) o.time = timestampToRfc3339(o.time);
  if (isObject(o.is_reply)) o.is_reply = o.is_reply.value === true;
  return o;
}

/** A decoded GetEventsResponse in the JSON shape of Tetragon's export file. */
export function tetragonToJson(msg: protobuf.Message, type: protobuf.Type): Json {
  const o = type.toObject(msg, TO_OBJECT);
  if (isObject(o.time)) o.time = timestampToRfc3339(o.time);
  const kp = o.process_kprobe;
  if (isObject(kp) && isObject(kp.process) && isObject(kp.process.pid)) kp.process.pid = kp.process.pid.value;
  return o;
}

/** The reverse, for test servers and benches: a JSON flow (protojson names) → Flow fields. */
export function flowFromJson(flow: Json): Json {
  const o: Json = { ...flow };
  if (typeof o.time === "string") o.time = rfc3339ToTimestamp(o.time);
  if (typeof o.is_reply === "boolean") o.is_reply = { value: o.is_reply };
  return o;
}

/** A Tetragon export line's object → GetEventsResponse fields. */
export function tetragonFromJson(ev: Json): Json {
  const o: Json = { ...ev };
  if (typeof o.time === "string") o.time = rfc3339ToTimestamp(o.time);
  const kp = o.process_kprobe;
  if (isObject(kp) && isObject(kp.process) && typeof kp.process.pid === "number") o.process_kprobe = { ...kp, process: { ...kp.process, pid: { value: kp.process.pid } } };
  return o;
}
