// A gRPC test server speaking Tetragon's FineGuidanceSensors/GetEvents and Hubble's
// Observer/GetFlows, streaming given events (the real samples, converted to protobuf). It can cut
// a stream with UNAVAILABLE after N messages, honours GetFlows' `since` and whitelist, sends
// lost_events, and serves plaintext, TLS or mTLS.
import * as grpc from "@grpc/grpc-js";
import type protobuf from "protobufjs";
import { flowFromJson, messageType, tetragonFromJson, type Json } from "../../src/flows/grpc-codec.js";
import { GRPC_PATHS } from "../../src/flows/grpc-protos.js";

export interface GrpcTestServerOptions {
  /** Tetragon events (export-file objects). A live agent: each event is sent once, across calls. */
  tetragon?: Json[];
  /** Hubble lines ({flow, node_name}); sorted by time, replayed from `since` on each call. */
  hubble?: Json[];
  /** Cut the n-th call (0-based) with UNAVAILABLE after this many messages. */
  cut?: { call: number; after: number }[];
  /** lost_events sent at the start of the first GetFlows call. */
  lost?: { source: string; n: number };
  /** Tetragon: rate_limit_info sent at the start of the first call. */
  rateLimited?: number;
  tls?: { caPem: string; certPem: string; keyPem: string; requireClientCert?: boolean };
  /** Listen here (default 127.0.0.1:0); a unix:// address works too. */
  address?: string;
}

export interface GrpcTestServer {
  address: string;
  /** Decoded requests, per method, in arrival order. */
  requests: { method: "GetEvents" | "GetFlows"; request: Json }[];
  /** Per GetFlows call: the times (RFC 3339) of the flows written. */
  flowTimes: string[][];
  /** Calls whose messages were all written (not cut). */
  finished: number;
  close(): Promise<void>;
}

function timeOf(line: Json): number {
  const t = (line.flow as Json | undefined)?.time;
  return typeof t === "string" ? Date.parse(t) * 1e6 + Number((/\.\d{3}(\d{0,6})/.exec(t)?.[1] ?? "").padEnd(6, "0")) : 0;
}

function matches(filter: Json, flow: Json): boolean {
  const verdicts = filter.verdict as string[] | undefined;
  if (verdicts?.length && !verdicts.includes(String(flow.verdict))) return false;
  const protocols = filter.protocol as string[] | undefined;
  if (protocols?.length) {
    const l7 = flow.l7 as Json | undefined;
    const l4 = (flow.l4 ?? {}) as Json;
    const have = [l7?.dns ? "dns" : "", l7?.http ? "http" : "", ...Object.keys(l4).map((k) => k.toLowerCase())];
    if (!protocols.some((p) => have.includes(p))) return false;
  }
  return true;
}

export async function startGrpcTestServer(o: GrpcTestServerOptions): Promise<GrpcTestServer> {
  const server = new grpc.Server();
  const requests: GrpcTestServer["requests"] = [];
  const flowTimes: string[][] = [];
  let finished = 0;
  const calls = { GetEvents: 0, GetFlows: 0 };
  const open = new Set<grpc.ServerWritableStream<protobuf.Message, protobuf.Message>>();
  const types = {
    evReq: messageType("tetragon.GetEventsRequest"),
    evRes: messageType("tetragon.GetEventsResponse"),
    flReq: messageType("observer.GetFlowsRequest"),
    flRes: messageType("observer.GetFlowsResponse"),
  };
  const cutAfter = (n: number): number | undefined => o.cut?.find((c) => c.call === n)?.after;
  const toObj = (t: protobuf.Type, m: protobuf.Message): Json => t.toObject(m, { longs: String, enums: String, defaults: false }) as Json;
  const hubble = [...(o.hubble ?? [])].sort((a, b) => timeOf(a) - timeOf(b));
  let tetragonCursor = 0;

  const stream = async (call: grpc.ServerWritableStream<protobuf.Message, protobuf.Message>, messages: () => Iterable<Json | undefined>, type: protobuf.Type, cut: number | undefined): Promise<void> => {
    open.add(call);
    call.on("cancelled", () => open.delete(call));
    let sent = 0;
    const cutNow = (): void => {
      call.emit("error", { code: grpc.status.UNAVAILABLE, details: "test server cut the stream" });
      open.delete(call);
    };
    if (cut === 0) return cutNow();
    for (const m of messages()) {
      if (call.cancelled) return;
      if (m === undefined) continue;
      if (!call.write(type.fromObject(m))) await new Promise((r) => call.once("drain", r));
      sent++;
      if (cut !== undefined && sent >= cut) return cutNow();
    }
    finished++;
    // follow: stay open until the client goes or the server closes.
  };

  server.addService(
    {
      GetEvents: { path: GRPC_PATHS.tetragonGetEvents, requestStream: false, responseStream: true, requestSerialize: (m: protobuf.Message) => Buffer.from(types.evReq.encode(m).finish()), requestDeserialize: (b: Buffer) => types.evReq.decode(b), responseSerialize: (m: protobuf.Message) => Buffer.from(types.evRes.encode(m).finish()), responseDeserialize: (b: Buffer) => types.evRes.decode(b) },
      GetFlows: { path: GRPC_PATHS.hubbleGetFlows, requestStream: false, responseStream: true, requestSerialize: (m: protobuf.Message) => Buffer.from(types.flReq.encode(m).finish()), requestDeserialize: (b: Buffer) => types.flReq.decode(b), responseSerialize: (m: protobuf.Message) => Buffer.from(types.flRes.encode(m).finish()), responseDeserialize: (b: Buffer) => types.flRes.decode(b) },
    },
    {
      GetEvents: (call: grpc.ServerWritableStream<protobuf.Message, protobuf.Message>) => {
        const n = calls.GetEvents++;
        requests.push({ method: "GetEvents", request: toObj(types.evReq, call.request) });
        const events = o.tetragon ?? [];
        void stream(
          call,
          function* () {
            if (n === 0 && o.rateLimited) yield { rate_limit_info: { number_of_dropped_process_events: o.rateLimited } };
            while (tetragonCursor < events.length) yield tetragonFromJson(events[tetragonCursor++]!);
          },
          types.evRes,
          cutAfter(n),
        );
      },
      GetFlows: (call: grpc.ServerWritableStream<protobuf.Message, protobuf.Message>) => {
        const n = calls.GetFlows++;
        const req = toObj(types.flReq, call.request);
        requests.push({ method: "GetFlows", request: req });
        const since = req.since as { seconds?: string; nanos?: number } | undefined;
        const sinceNs = since ? Number(since.seconds ?? 0) * 1e9 + Number(since.nanos ?? 0) : -Infinity;
        const whitelist = (req.whitelist as Json[] | undefined) ?? [];
        const times: string[] = [];
        flowTimes.push(times);
        void stream(
          call,
          function* () {
            if (n === 0 && o.lost) yield { lost_events: { source: o.lost.source, num_events_lost: o.lost.n } };
            for (const line of hubble) {
              const flow = line.flow as Json;
              if (timeOf(line) < sinceNs) continue;
              if (whitelist.length && !whitelist.some((f) => matches(f, flow))) continue;
              times.push(String(flow.time));
              yield { flow: flowFromJson(flow), ...(typeof line.node_name === "string" ? { node_name: line.node_name } : {}) };
            }
          },
          types.flRes,
          cutAfter(n),
        );
      },
    },
  );
  const creds = o.tls
    ? grpc.ServerCredentials.createSsl(o.tls.requireClientCert ? Buffer.from(o.tls.caPem) : null, [{ private_key: Buffer.from(o.tls.keyPem), cert_chain: Buffer.from(o.tls.certPem) }], o.tls.requireClientCert ?? false)
    : grpc.ServerCredentials.createInsecure();
  const bind = o.address ?? "127.0.0.1:0";
  const port = await new Promise<number>((resolve, reject) => server.bindAsync(bind, creds, (err, p) => (err ? reject(err) : resolve(p))));
  return {
    address: bind.startsWith("unix:") ? bind : `127.0.0.1:${port}`,
    requests,
    flowTimes,
    get finished() {
      return finished;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of open) c.end();
        server.tryShutdown(() => resolve());
        setTimeout(() => server.forceShutdown(), 2000).unref();
      }),
  };
}
