#!/usr/bin/env node
// Events/s of `flows` reading the same Tetragon kprobe events from the JSON export file (the file
// follower, line splitting, the Tetragon line parser) and over gRPC (GetEvents from a server in a
// worker thread, protobuf decoding, the same parser on the decoded object), alternating rounds in
// one run so both see the same machine state. The gRPC server sends what Tetragon sends for the
// request `flows` makes: the field filter keeps process.exec_id, process.pod, function_name, args,
// return and action, so the parent and most of the process never cross the wire. The processor
// (no cluster cache, series tables) is the same in both.
//
//   npm run build && node bench/flows-grpc.mjs [--events 200000] [--rounds 3]
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";

const DIST = fileURLToPath(new URL("../dist/", import.meta.url));
if (!existsSync(`${DIST}flows/grpc-input.js`)) {
  console.error("dist/flows is missing: run `npm run build` first");
  process.exit(1);
}
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};

const FNS = ["tcp_sendmsg", "tcp_sendmsg", "tcp_recvmsg", "tcp_recvmsg", "tcp_connect"];
const PARENT = { exec_id: "Z2tlLW1pY2hpLTIyMDM4LWRlZmF1bHQtcG9vbC00MzczMGZhYi1sOHpyOjEzNjYwNDgwNjUxNTk1OjY4NTk4", pid: 68598, uid: 0, cwd: "/run/containerd/io.containerd.runtime.v2.task/k8s.io/c97e298d5d4485f4710d3837b7d689aba6078e0c008af713053ac361cd8b0018", binary: "/usr/bin/containerd-shim-runc-v2", flags: "execve clone", start_time: "2026-01-01T03:16:12.931574263Z", auid: 4294967295 };

/** One Tetragon ≥ 1.0 kprobe event as exported (~1.3 KB of JSON), for 1000 processes over 10k sockets. */
function event(i) {
  const p = i % 1000;
  const fn = FNS[i % FNS.length];
  const args = [{ sock_arg: { family: "AF_INET", type: "SOCK_STREAM", protocol: "IPPROTO_TCP", saddr: `10.1.${p >> 8}.${p & 255}`, daddr: `10.2.0.${i % 200}`, sport: 40000 + (i % 10000), dport: 8080 } }];
  if (fn !== "tcp_connect") args.push({ int_arg: ((i * 7) % 1460) + 1 });
  return {
    process_kprobe: {
      process: {
        exec_id: Buffer.from(`node-a:${13665822624856 + p}:${68790 + p}`).toString("base64"),
        pid: 68790 + p, uid: 1000, cwd: "/", binary: "/usr/local/bin/app", arguments: "--port 8080", flags: "execve rootcwd clone", start_time: "2026-01-01T03:16:18.273546829Z", auid: 4294967295,
        pod: { namespace: `ns${p % 50}`, name: `web${p}-5c7d8b9f6-x2z4w`, container: { id: "containerd://19a02291e106ce6227b684197be232ea57c4e1a5ab2604a12608c325d701c7f4", name: "app" }, pod_labels: { app: `web${p}` }, workload: `web${p}`, workload_kind: "Deployment" },
        docker: "19a02291e106ce6227b684197be232e", parent_exec_id: "x", refcnt: 1,
      },
      parent: PARENT,
      function_name: fn,
      args,
      action: "KPROBE_ACTION_POST",
      policy_name: "connect",
    },
    node_name: "node-a",
    time: "2026-01-01T00:00:00.000000001Z",
  };
}

if (!isMainThread) {
  // The gRPC server: sends the pre-encoded responses on every GetEvents call, then stays open.
  const grpc = await import("@grpc/grpc-js");
  const { GRPC_PATHS } = await import(`${DIST}flows/grpc-protos.js`);
  const buffers = workerData.buffers.map((b) => Buffer.from(b));
  const server = new grpc.Server();
  const id = (b) => b;
  server.addService(
    { GetEvents: { path: GRPC_PATHS.tetragonGetEvents, requestStream: false, responseStream: true, requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id } },
    {
      GetEvents: async (call) => {
        for (const b of buffers) {
          if (call.cancelled) return;
          if (!call.write(b)) await new Promise((r) => call.once("drain", r));
        }
      },
    },
  );
  server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => parentPort.postMessage(err ? { error: err.message } : { port }));
} else {
  const N = Number(arg("events", "200000"));
  const ROUNDS = Number(arg("rounds", "3"));
  const { FlowProcessor } = await import(`${DIST}flows/processor.js`);
  const { Enricher } = await import(`${DIST}flows/enrich.js`);
  const { FileFollower } = await import(`${DIST}flows/lines.js`);
  const { GrpcInput } = await import(`${DIST}flows/grpc-input.js`);
  const { messageType, tetragonFromJson } = await import(`${DIST}flows/grpc-codec.js`);
  const { Registry } = await import("prom-client");
  const { default: pino } = await import("pino");
  const log = pino({ level: "silent" });

  // Inputs, outside the timed region: the JSON file and the encoded gRPC responses.
  const dir = mkdtempSync(join(tmpdir(), "flows-grpc-bench-"));
  const file = join(dir, "tetragon.log");
  const resType = messageType("tetragon.GetEventsResponse");
  let text = "";
  const buffers = [];
  let jsonBytes = 0;
  let wireBytes = 0;
  for (let i = 0; i < N; i++) {
    const ev = event(i);
    const line = JSON.stringify(ev) + "\n";
    text += line;
    jsonBytes += line.length;
    // What Tetragon sends for flows' field filter (process.exec_id, process.pod, function_name, args, return, action).
    const kp = ev.process_kprobe;
    const filtered = { ...ev, process_kprobe: { process: { exec_id: kp.process.exec_id, pod: kp.process.pod }, function_name: kp.function_name, args: kp.args, action: kp.action } };
    const b = resType.encode(resType.fromObject(tetragonFromJson(filtered))).finish();
    wireBytes += b.length;
    buffers.push(b);
  }
  writeFileSync(file, text);
  text = "";
  const worker = new Worker(fileURLToPath(import.meta.url), { workerData: { buffers } });
  const { port, error } = await new Promise((r) => worker.once("message", r));
  if (error) throw new Error(error);

  const processor = () => new FlowProcessor({ registry: new Registry(), enricher: new Enricher(undefined), maxSeries: 10_000, podLabels: false, flowsOut: false });
  const counted = (p) => p.counters().events.get(["tetragon", "tcp_sendmsg"]) + p.counters().events.get(["tetragon", "tcp_recvmsg"]) + p.counters().events.get(["tetragon", "tcp_connect"]);

  async function viaFile() {
    const p = processor();
    let n = 0;
    let done;
    const finished = new Promise((r) => (done = r));
    const t0 = process.hrtime.bigint();
    const f = new FileFollower(file, {
      maxLineBytes: 1 << 20, fromStart: true, pollMs: 5, notice: () => {},
      line: (l) => { p.handleLine("tetragon", l); if (++n === N) done(); },
      tooLong: () => {},
    });
    f.start();
    await finished;
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    await f.stop();
    if (counted(p) !== N) throw new Error(`file: counted ${counted(p)} of ${N}`);
    return N / s;
  }

  let lastElu = 0;
  async function viaGrpc() {
    const p = processor();
    let n = 0;
    let done;
    const finished = new Promise((r) => (done = r));
    const t0 = process.hrtime.bigint();
    const elu0 = performance.eventLoopUtilization();
    const g = new GrpcInput({
      source: "tetragon", address: `127.0.0.1:${port}`, log,
      onEvent: (obj) => { p.handleObject("tetragon", obj); if (++n === N) done(); },
      onLost: () => {}, onStreamError: (c) => { throw new Error(`stream error ${c}`); }, onReconnect: () => {}, onDuplicate: () => {}, onConnected: () => {},
    });
    g.start();
    await finished;
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    lastElu = performance.eventLoopUtilization(elu0).utilization;
    await g.stop();
    if (counted(p) !== N) throw new Error(`grpc: counted ${counted(p)} of ${N}`);
    return N / s;
  }

  console.log(`flows-grpc: ${N} Tetragon kprobe events; JSON ${(jsonBytes / N).toFixed(0)} B/event, protobuf after the field filter ${(wireBytes / N).toFixed(0)} B/event`);
  const rows = [];
  await viaFile(); // warm-up (JIT), not reported
  await viaGrpc();
  for (let r = 0; r < ROUNDS; r++) {
    const file = await viaFile();
    const grpc = await viaGrpc();
    rows.push({ file, grpc });
    console.log(`round ${r + 1}: file ${Math.round(file)} events/s, gRPC ${Math.round(grpc)} events/s, gRPC/file ${(grpc / file).toFixed(2)} (client thread busy ${(lastElu * 100).toFixed(0)}% of the gRPC run)`);
  }
  const med = (a) => a.sort((x, y) => x - y)[Math.floor(a.length / 2)];
  console.log(`median: file ${Math.round(med(rows.map((r) => r.file)))} events/s, gRPC ${Math.round(med(rows.map((r) => r.grpc)))} events/s, ratio gRPC/file ${med(rows.map((r) => r.grpc / r.file)).toFixed(2)}`);
  await worker.terminate();
  rmSync(dir, { recursive: true, force: true });
}
