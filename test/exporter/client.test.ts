import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ExporterClient, ExporterClientError, ExporterRejectedError } from "../../src/exporter/client.js";
import { Exporter } from "../../src/exporter/exporter.js";
import { DEFAULTS, type ExporterConfig } from "../../src/exporter/config.js";
import { createSink } from "../../src/exporter/sinks/index.js";
import { createLogger } from "../../src/core/logger.js";
import { eventually } from "../support/cli.js";

let dir: string;
let n = 0;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "wa-client-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** One side of the protocol, written from the spec, so each test can misbehave on purpose. */
type PeerHandler = (conn: { socket: Socket; lines: Array<Record<string, unknown>>; index: number; ack(n: number): void; error(line: number, msg: string): void }) => void;

class Peer {
  readonly path = join(dir, `peer-${++n}.sock`);
  readonly received: Array<Record<string, unknown>> = [];
  connections = 0;
  private server: Server | undefined;
  private sockets = new Set<Socket>();
  constructor(public onLines: PeerHandler) {}

  async start(): Promise<void> {
    this.server = createServer((socket) => {
      const index = this.connections++;
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
      socket.on("error", () => undefined);
      const lines: Array<Record<string, unknown>> = [];
      let buf = "";
      const conn = {
        socket,
        lines,
        index,
        ack: (k: number) => socket.writable && socket.write(`{"ack":${k}}\n`),
        error: (line: number, msg: string) => socket.writable && socket.write(JSON.stringify({ error: msg, line }) + "\n"),
      };
      socket.setEncoding("utf8").on("data", (d: string) => {
        buf += d;
        const parts = buf.split("\n");
        buf = parts.pop()!;
        for (const p of parts) {
          const rec = JSON.parse(p) as Record<string, unknown>;
          lines.push(rec);
          this.received.push(rec);
        }
        if (parts.length > 0) this.onLines(conn);
      });
    });
    await new Promise<void>((r) => this.server!.listen(this.path, r));
  }

  /** Listens on loopback TCP instead; returns the address for the client. */
  async startTcp(): Promise<string> {
    await this.start();
    await new Promise<void>((r) => this.server!.close(() => r()));
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r));
    return `tcp://127.0.0.1:${(this.server!.address() as { port: number }).port}`;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.server = undefined;
  }
}

/** The well-behaved peer: every record is durable at once; records with reject:true are refused. */
function acking(): PeerHandler {
  return (c) => {
    let durable = 0;
    let answered = (c as unknown as { answered?: number }).answered ?? 0;
    for (; answered < c.lines.length; answered++) {
      if (c.lines[answered]!.reject) c.error(answered + 1, "line is not a JSON object");
      else durable++;
    }
    const state = c as unknown as { answered?: number; durable?: number };
    state.answered = answered;
    state.durable = (state.durable ?? 0) + durable;
    c.ack(state.durable);
  };
}

test("send resolves only once the exporter acks; refused lines reject with the exporter's error and do not count as durable", async () => {
  let hold = true;
  const inner = acking();
  const peer = new Peer((c) => {
    if (!hold) inner(c);
  });
  await peer.start();
  const client = new ExporterClient({ address: `unix://${peer.path}` });
  try {
    let resolved = false;
    const first = client.send({ n: 1 }).then(() => (resolved = true));
    await eventually(() => peer.received.length === 1);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(resolved, false, "no ack, no resolve");
    assert.equal(client.pending, 1);
    hold = false;
    const results = await Promise.allSettled([client.send({ n: 2 }), client.send({ n: 3, reject: true }), client.send({ n: 4 }), client.send({ n: 5, reject: true }), client.send({ n: 6 })]);
    await first;
    assert.deepEqual(results.map((r) => r.status), ["fulfilled", "rejected", "fulfilled", "rejected", "fulfilled"]);
    const err = (results[1] as PromiseRejectedResult).reason as ExporterRejectedError;
    assert.ok(err instanceof ExporterRejectedError);
    assert.equal(err.message, "line is not a JSON object");
    assert.equal(err.line, 3);
    assert.equal(client.pending, 0);
    assert.deepEqual(peer.received.map((r) => r.n), [1, 2, 3, 4, 5, 6]);
  } finally {
    client.destroy();
    await peer.stop();
  }
});

test("after the exporter drops the connection, the client reconnects and resends everything not acked (at-least-once)", async () => {
  // Connection 0 acks 30 records then dies; later connections behave.
  const good = acking();
  const peer = new Peer((c) => {
    if (c.index === 0) {
      if (c.lines.length >= 50) {
        c.ack(30);
        setTimeout(() => c.socket.destroy(), 20);
      }
    } else good(c);
  });
  await peer.start();
  const client = new ExporterClient({ address: peer.path, reconnect: { initialMs: 10, maxMs: 100 } });
  try {
    const all = Array.from({ length: 200 }, (_, i) => ({ n: i + 1 }));
    await client.sendMany(all);
    assert.ok(peer.connections >= 2);
    assert.ok(client.stats.resent >= 20, `resent ${client.stats.resent}`);
    const seen = new Set(peer.received.map((r) => r.n));
    assert.equal(seen.size, 200, "every record reached the exporter");
    const dupes = peer.received.length - seen.size;
    assert.ok(dupes >= 20 && dupes <= 200 - 30, `duplicates only among the unacked: ${dupes}`);
    // Acked records are never resent: 1..30 went over connection 0 only.
    assert.equal(peer.received.filter((r) => (r.n as number) <= 30).length, 30);
  } finally {
    client.destroy();
    await peer.stop();
  }
});

test("an exporter that is not up yet: the client keeps trying with backoff and delivers once it is", async () => {
  const peer = new Peer(acking());
  const client = new ExporterClient({ address: `unix://${peer.path}`, reconnect: { initialMs: 20, maxMs: 200 } });
  try {
    const sending = client.send({ n: 1 });
    await new Promise((r) => setTimeout(r, 300));
    await peer.start();
    await sending;
    assert.deepEqual(peer.received, [{ n: 1 }]);
  } finally {
    client.destroy();
    await peer.stop();
  }
});

test("tcp:// addresses work the same way", async () => {
  const peer = new Peer(acking());
  const address = await peer.startTcp();
  const client = new ExporterClient({ address });
  try {
    await client.sendMany([{ a: 1 }, { b: 2 }]);
    await assert.rejects(client.send({ reject: true }), ExporterRejectedError);
    assert.deepEqual(peer.received, [{ a: 1 }, { b: 2 }, { reject: true }]);
  } finally {
    await client.close();
    await peer.stop();
  }
});

test('"not stored:" answers are resent on a new connection instead of failing the send', async () => {
  const good = acking();
  const peer = new Peer((c) => {
    if (c.index === 0) c.error(1, "not stored: exporter is shutting down");
    else good(c);
  });
  await peer.start();
  const client = new ExporterClient({ address: peer.path, reconnect: { initialMs: 10, maxMs: 50 } });
  try {
    await client.send({ n: 7 });
    assert.equal(peer.connections, 2);
    assert.deepEqual(peer.received, [{ n: 7 }, { n: 7 }]);
  } finally {
    client.destroy();
    await peer.stop();
  }
});

test("maxInFlight bounds what is written before acks; close() waits for the acks; close with a dead exporter times out and rejects", async () => {
  let maxUnacked = 0;
  const peer = new Peer((c) => {
    maxUnacked = Math.max(maxUnacked, c.lines.length - ((c as unknown as { acked?: number }).acked ?? 0));
    // Ack lazily, in chunks, a little later.
    setTimeout(() => {
      (c as unknown as { acked?: number }).acked = c.lines.length;
      c.ack(c.lines.length);
    }, 5);
  });
  await peer.start();
  const client = new ExporterClient({ address: peer.path, maxInFlight: 16 });
  const sends = Array.from({ length: 300 }, (_, i) => client.send({ n: i }));
  await client.close();
  assert.equal((await Promise.allSettled(sends)).filter((r) => r.status === "fulfilled").length, 300);
  assert.ok(maxUnacked <= 16, `at most 16 unacked on the wire, saw ${maxUnacked}`);
  await assert.rejects(client.send({ n: 1 }), /client is closed/);
  await peer.stop();

  const silent = new Peer(() => undefined);
  await silent.start();
  const c2 = new ExporterClient({ address: silent.path });
  const p = c2.send({ n: 1 });
  const t0 = Date.now();
  await c2.close({ timeoutMs: 300 });
  assert.ok(Date.now() - t0 >= 250);
  await assert.rejects(p, (e: Error) => e instanceof ExporterClientError && /closed before the exporter acknowledged/.test(e.message));
  await silent.stop();
});

test("records are checked locally: objects only, size limit, buffer limit, bad addresses", async () => {
  const client = new ExporterClient({ address: join(dir, "nobody.sock"), maxRecordBytes: 20, maxBuffered: 2, reconnect: { initialMs: 1000 } });
  try {
    await assert.rejects(client.send([1, 2] as unknown as object), /must be a JSON object/);
    await assert.rejects(client.send({ long: "x".repeat(50) }), /over maxRecordBytes \(20\)/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await assert.rejects(client.send(cyclic), /not serializable/);
    const a = client.send({ a: 1 });
    const b = client.send({ b: 1 });
    await assert.rejects(client.send({ c: 1 }), /maxBuffered 2/);
    client.destroy();
    await assert.rejects(a, /client destroyed/);
    await assert.rejects(b, /client destroyed/);
  } finally {
    client.destroy();
  }
  assert.throws(() => new ExporterClient({ address: "unix://relative.sock" }), /address "unix:\/\/relative.sock": expected unix:\/\/\/absolute/);
  assert.throws(() => new ExporterClient({ address: "http://x" }), /expected unix:\/\/\/path.sock or tcp:\/\/host:port/);
  assert.throws(() => new ExporterClient({ address: "tcp://127.0.0.1:1", maxInFlight: 0 }), /option maxInFlight: must be a positive number/);
});

function exporterConfig(dataDir: string, socket: string, sinkDir: string): ExporterConfig {
  return {
    ...DEFAULTS,
    listen: [{ kind: "unix", path: socket }],
    dataDir,
    sinks: [{ url: pathToFileURL(sinkDir).href, options: {} }],
    maxRecordBytes: 1024,
    maxBytes: 64 * 1024 * 1024,
    diskReserveBytes: 0,
    port: 0,
    backoffInitialMs: 10,
    backoffMaxMs: 100,
    graceMs: 2000,
    logLevel: "error",
  };
}

async function sinkRecords(sinkDir: string): Promise<Array<Record<string, unknown>>> {
  const names = (await readdir(sinkDir).catch(() => [] as string[])).sort();
  const texts = await Promise.all(names.map((f) => readFile(join(sinkDir, f), "utf8")));
  return texts.flatMap((t) => t.split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>));
}

test("end to end with the real exporter: durable acks, refusals, and an exporter restart mid-stream lose nothing", async () => {
  const dataDir = join(dir, "e2e-data");
  const sinkDir = join(dir, "e2e-sink");
  const socket = join(dir, "e2e.sock");
  const log = createLogger("error", "exporter-test");
  const cfg = exporterConfig(dataDir, socket, sinkDir);
  let exporter = await Exporter.start(cfg, (url, opts) => createSink(url, opts), log);
  const client = new ExporterClient({ address: `unix://${socket}`, maxRecordBytes: 4096, reconnect: { initialMs: 20, maxMs: 200 } });
  try {
    await assert.rejects(client.send({ big: "x".repeat(2000) }), (e: Error) => e instanceof ExporterRejectedError && /larger than the limit of 1024 bytes/.test(e.message));
    await client.sendMany(Array.from({ length: 500 }, (_, i) => ({ n: i })));

    // Keep sending while the exporter stops (SIGTERM path) and a new one starts on the same data dir.
    const sending: Array<Promise<void>> = [];
    const more = (async () => {
      for (let i = 500; i < 2500; i += 20) {
        sending.push(client.sendMany(Array.from({ length: 20 }, (_, k) => ({ n: i + k }))));
        await new Promise((r) => setTimeout(r, 5));
      }
      await Promise.all(sending);
    })();
    await eventually(async () => (await sinkRecords(sinkDir)).length >= 800, { timeoutMs: 30_000, what: "records reaching the sink" });
    await exporter.shutdown();
    exporter = await Exporter.start(cfg, (url, opts) => createSink(url, opts), log);
    await more;
    assert.ok(client.stats.connects >= 2, "the client reconnected");

    await client.close();
    await eventually(async () => new Set((await sinkRecords(sinkDir)).map((r) => r.n)).size === 2500, { timeoutMs: 30_000, what: "all 2500 records at the sink" });
    const got = await sinkRecords(sinkDir);
    assert.ok(!got.some((r) => "big" in r), "the refused record was not stored");
    const dupes = got.length - 2500;
    assert.ok(dupes >= 0 && dupes <= client.stats.resent, `duplicates (${dupes}) come only from resends (${client.stats.resent})`);
  } finally {
    client.destroy();
    await exporter.shutdown();
  }
});

test('the package export "watch-auditor/exporter" works from another process (dist build)', async () => {
  const root = fileURLToPath(new URL("../..", import.meta.url));
  assert.ok(existsSync(join(root, "dist/exporter/client.js")), "dist/ is missing: run `npm run build` (npm test does)");
  const peer = new Peer(acking());
  await peer.start();
  try {
    const code = `
      import { ExporterClient, ExporterRejectedError } from "watch-auditor/exporter";
      const c = new ExporterClient({ address: "unix://" + process.env.SOCK });
      await c.sendMany(Array.from({ length: 10 }, (_, i) => ({ from: "child", i })));
      const refused = await c.send({ reject: true }).catch((e) => e);
      await c.close();
      console.log(JSON.stringify({ refused: refused instanceof ExporterRejectedError, line: refused.line }));`;
    const child = spawn(process.execPath, ["--input-type=module", "-e", code], { cwd: root, env: { ...process.env, SOCK: peer.path }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    const exit = await new Promise<number | null>((r) => child.on("close", r));
    clearTimeout(timer);
    assert.equal(exit, 0, err);
    assert.deepEqual(JSON.parse(out), { refused: true, line: 11 });
    assert.deepEqual(peer.received.slice(0, 10), Array.from({ length: 10 }, (_, i) => ({ from: "child", i })));
  } finally {
    await peer.stop();
  }
});
