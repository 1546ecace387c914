// gRPC inputs: Tetragon's FineGuidanceSensors/GetEvents and Hubble (Relay)'s Observer/GetFlows,
// streamed with reconnect and backoff. Hubble resumes from the last flow's time (`since`) and skips
// what it already counted; Tetragon's API has no resume point, so what it emits while we are
// disconnected is not seen (reconnects are counted).
import { readFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import type protobuf from "protobufjs";
import type { Logger } from "../core/logger.js";
import { UsageError } from "../core/errors.js";
export { parseGrpcAddress } from "./grpc-address.js";
import { GRPC_PATHS } from "./grpc-protos.js";
import { flowToJson, messageType, tetragonToJson, type Json } from "./grpc-codec.js";

export type GrpcSource = "tetragon" | "hubble";

/** The kprobes `flows` reads (docs/flows.md, Tetragon events); others are not asked for. */
export const TETRAGON_FIELDS = ["process.exec_id", "process.pod", "function_name", "args", "return", "action"];

export interface GrpcTls {
  /** CA bundle to verify the server (default: the system's roots). */
  caFile?: string;
  /** Client certificate and key (mTLS). */
  certFile?: string;
  keyFile?: string;
  /** Name to verify in the server certificate (e.g. *.hubble-relay.cilium.io). */
  serverName?: string;
}

export interface GrpcInputOptions {
  source: GrpcSource;
  /** unix:///path.sock, or host:port. */
  address: string;
  /** Hubble only: TLS (undefined = plaintext). */
  tls?: GrpcTls;
  /** Tetragon only: namespaces to ask for (allow-list filter); empty = all. */
  namespaces?: string[];
  /** One decoded event in the JSON shape of the export files. */
  onEvent(obj: Json): void;
  /** Events the agent reports lost (Hubble lost_events, Tetragon rate_limit_info). */
  onLost(reason: string, n: number): void;
  onStreamError(code: string): void;
  onReconnect(): void;
  onDuplicate(): void;
  onConnected(up: boolean): void;
  log: Logger;
  backoff?: { initialMs: number; maxMs: number };
}

function credentials(tls: GrpcTls | undefined, flag: string): grpc.ChannelCredentials {
  if (!tls) return grpc.credentials.createInsecure();
  const read = (f: string | undefined, what: string): Buffer | null => {
    if (!f) return null;
    try {
      return readFileSync(f);
    } catch (err) {
      throw new UsageError(`${flag}-${what}: ${(err as Error).message}`);
    }
  };
  if (!!tls.certFile !== !!tls.keyFile) throw new UsageError(`${flag}-tls-cert and ${flag}-tls-key go together (mTLS)`);
  return grpc.credentials.createSsl(read(tls.caFile, "tls-ca"), read(tls.keyFile, "tls-key"), read(tls.certFile, "tls-cert"));
}

interface Since {
  seconds: number;
  nanos: number;
}

/**
 * One long-lived server stream with reconnects. Backoff doubles from initialMs to maxMs with full
 * jitter and starts over once a stream delivered something.
 */
export class GrpcInput {
  private client: grpc.Client | undefined;
  private call: grpc.ClientReadableStream<protobuf.Message> | undefined;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private readonly reqType: protobuf.Type;
  private readonly resType: protobuf.Type;
  private readonly flowType: protobuf.Type | undefined;
  // Hubble resume point: the newest flow time seen, and the flows at exactly that time.
  private since: Since | undefined;
  private atSince = new Set<string>();
  // While a resumed stream replays from `since`: what was already counted at that time.
  private resume: { t: Since; keys: Set<string> } | undefined;

  constructor(private readonly o: GrpcInputOptions) {
    this.reqType = messageType(o.source === "hubble" ? "observer.GetFlowsRequest" : "tetragon.GetEventsRequest");
    this.resType = messageType(o.source === "hubble" ? "observer.GetFlowsResponse" : "tetragon.GetEventsResponse");
    this.flowType = o.source === "hubble" ? messageType("flow.Flow") : undefined;
  }

  start(): void {
    const flag = this.o.source === "hubble" ? "--hubble-relay" : "--tetragon-grpc";
    this.client = new grpc.Client(this.o.address, credentials(this.o.tls, flag), {
      ...(this.o.tls?.serverName ? { "grpc.ssl_target_name_override": this.o.tls.serverName, "grpc.default_authority": this.o.tls.serverName } : {}),
      "grpc.keepalive_time_ms": 30_000,
      "grpc.max_receive_message_length": 16 * 1024 * 1024,
    });
    this.connect();
  }

  /** The request: allow-list and field filters (Tetragon), follow + whitelist + since (Hubble). */
  request(): Json {
    if (this.o.source === "tetragon") {
      const allow: Json = { event_set: ["PROCESS_KPROBE"] };
      if (this.o.namespaces?.length) allow.namespace = this.o.namespaces;
      return {
        allow_list: [allow],
        field_filters: [{ event_set: ["PROCESS_KPROBE"], fields: { paths: TETRAGON_FIELDS }, action: "INCLUDE" }],
      };
    }
    // What flows counts beyond HTTP: drops and errors of any protocol, DNS and HTTP (L7).
    const req: Json = {
      follow: true,
      whitelist: [{ verdict: ["DROPPED", "ERROR", "AUDIT"] }, { protocol: ["dns", "http"] }],
    };
    if (this.since) req.since = this.since;
    return req;
  }

  private connect(): void {
    if (this.stopped || !this.client) return;
    const path = this.o.source === "hubble" ? GRPC_PATHS.hubbleGetFlows : GRPC_PATHS.tetragonGetEvents;
    const req = this.reqType.fromObject(this.request());
    const call = this.client.makeServerStreamRequest<protobuf.Message, protobuf.Message>(
      path,
      (m) => Buffer.from(this.reqType.encode(m).finish()),
      (b) => this.resType.decode(b),
      req,
    );
    this.call = call;
    let received = false;
    call.on("metadata", () => this.o.onConnected(true));
    call.on("data", (m: protobuf.Message) => {
      if (!received) {
        received = true;
        this.attempt = 0;
        this.o.onConnected(true);
      }
      this.onMessage(m);
    });
    let ended = false;
    const retry = (why: string, code?: grpc.status): void => {
      if (ended) return;
      ended = true;
      this.call = undefined;
      this.o.onConnected(false);
      if (this.stopped) return;
      if (code !== undefined) this.o.onStreamError(grpc.status[code] ?? String(code));
      const delay = this.backoff();
      this.o.log.warn({ source: this.o.source, address: this.o.address, reason: why, retryInMs: delay }, "gRPC stream ended; reconnecting");
      this.timer = setTimeout(() => {
        this.o.onReconnect();
        if (this.since) this.resume = { t: this.since, keys: new Set(this.atSince) };
        this.connect();
      }, delay);
    };
    call.on("error", (err: grpc.ServiceError) => retry(err.details || err.message, err.code));
    call.on("end", () => retry("server closed the stream"));
  }

  private backoff(): number {
    const b = this.o.backoff ?? { initialMs: 200, maxMs: 30_000 };
    const cap = Math.min(b.maxMs, b.initialMs * 2 ** this.attempt++);
    return Math.round(cap / 2 + Math.random() * (cap / 2));
  }

  private onMessage(m: protobuf.Message): void {
    const r = m as unknown as Json;
    if (this.o.source === "tetragon") {
      const rl = r.rate_limit_info as { number_of_dropped_process_events?: unknown } | undefined;
      if (rl) {
        this.o.onLost("rate_limit", Number(rl.number_of_dropped_process_events ?? 0));
        return;
      }
      if (!r.process_kprobe) return;
      this.o.onEvent(tetragonToJson(m, this.resType));
      return;
    }
    const lost = r.lost_events as { num_events_lost?: unknown; source?: number } | undefined;
    if (lost) {
      const src = messageType("flow.LostEvent").toObject(lost as unknown as protobuf.Message, { enums: String }).source as string | undefined;
      this.o.onLost((src ?? "UNKNOWN_LOST_EVENT_SOURCE").toLowerCase(), Number(lost.num_events_lost ?? 0));
      return;
    }
    const flowMsg = r.flow as protobuf.Message | undefined;
    if (!flowMsg) return;
    const flow = flowToJson(flowMsg, this.flowType!);
    const t = (flowMsg as unknown as { time?: { seconds?: unknown; nanos?: unknown } }).time;
    if (t && this.isDuplicate(flow, { seconds: Number(t.seconds ?? 0), nanos: Number(t.nanos ?? 0) })) {
      this.o.onDuplicate();
      return;
    }
    const node = r.node_name;
    this.o.onEvent({ flow, ...(typeof node === "string" && node ? { node_name: node } : {}) });
  }

  /**
   * Tracks the newest flow time and the flows seen at it (the next resume point). After a
   * reconnect, the server replays from that time: flows before it, and those at it already seen,
   * are duplicates. The first newer flow ends the replay.
   */
  private isDuplicate(flow: Json, t: Since): boolean {
    const key = flowKey(flow);
    const r = this.resume;
    if (r) {
      const c = cmp(t, r.t);
      if (c < 0 || (c === 0 && r.keys.has(key))) return true;
      if (c > 0) this.resume = undefined;
    }
    const s = this.since;
    const c = s ? cmp(t, s) : 1;
    if (c > 0) {
      this.since = t;
      this.atSince = new Set([key]);
    } else if (c === 0) this.atSince.add(key);
    return false;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.call?.cancel();
    this.client?.close();
  }
}

function cmp(a: Since, b: Since): number {
  return a.seconds !== b.seconds ? a.seconds - b.seconds : a.nanos - b.nanos;
}

function flowKey(f: Json): string {
  const ip = (f.IP ?? {}) as Json;
  const l4 = JSON.stringify(f.l4 ?? null);
  const l7 = f.l7 as Json | undefined;
  return `${String(f.node_name)}|${String(ip.source)}|${String(ip.destination)}|${l4}|${String(f.verdict)}|${String(f.traffic_direction)}|${String(f.is_reply)}|${l7 ? JSON.stringify(l7) : ""}`;
}
