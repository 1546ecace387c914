// The producer protocol through a real unix socket: acks, error lines, limits, socket file
// handling, back-pressure. The queue behind it is the real durable queue on a temp dir.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ProducerServer, parseListenAddress } from "../../src/exporter/producer-server.js";
import { DurableQueue, type QueueOptions } from "../../src/exporter/queue/durable-queue.js";
import { QueueReader } from "../../src/exporter/queue/queue-reader.js";
import { eventually } from "../support/cli.js";
import { RawProducer } from "./support/producer.js";

interface Rig {
  dir: string;
  sock: string;
  queue: DurableQueue;
  server: ProducerServer;
}

async function withRig(fn: (r: Rig) => Promise<void>, o: { queue?: Partial<QueueOptions>; maxRecordBytes?: number; socketMode?: number } = {}): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "wa-prod-"));
  const sock = join(dir, "export.sock");
  const queue = await DurableQueue.open({ dataDir: join(dir, "data"), sinks: ["s"], maxBytes: 64 * 1024 * 1024, whenFull: "block", diskReserveBytes: 0, cursorSyncMs: 0, ...o.queue });
  const server = new ProducerServer({ listen: [{ kind: "unix", path: sock }], queue, maxRecordBytes: o.maxRecordBytes ?? 1024, socketMode: o.socketMode ?? 0o660 });
  await server.start();
  try {
    await fn({ dir, sock, queue, server });
  } finally {
    await server.stop(1000);
    await queue.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function metric(q: DurableQueue, name: "persisted" | "received" | "acked"): Promise<number> {
  return (await q.metrics[name].get()).values[0]?.value ?? 0;
}

test("acks are cumulative per connection and come after the records are durable", () =>
  withRig(async ({ sock, queue }) => {
    const p = await RawProducer.connect(sock);
    const q = await RawProducer.connect(sock);
    await p.write('{"a":1}\n{"a":2}\n{"a":3}\n');
    await p.waitAck(3);
    assert.ok((await metric(queue, "persisted")) >= 3, "acked records are persisted");
    await q.write('{"b":1}\n');
    await q.waitAck(1);
    await p.write('{"a":4}\n{"a":5}\n');
    await p.waitAck(5);
    assert.equal(p.lastAck, 5);
    assert.equal(q.lastAck, 1, "each connection counts its own records");
    // Acks never go backwards.
    const acks = p.replies.filter((r) => r.ack !== undefined).map((r) => r.ack!);
    assert.deepEqual([...acks].sort((x, y) => x - y), acks);
    p.close();
    q.close();
  }));

test("bad lines get an error naming the line; the connection stays usable", () =>
  withRig(async ({ sock, queue }) => {
    const p = await RawProducer.connect(sock);
    const lines = [
      Buffer.from('{"ok":1}'),
      Buffer.from("[1,2]"),
      Buffer.from('{"ok":2}'),
      Buffer.from('{"broken":'),
      Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]), // {"\xff\xfe":1}
      Buffer.from("42"),
      Buffer.from("{\"big\":\"" + "x".repeat(2000) + "\"}"),
      Buffer.from('{"ok":3}\r'),
    ];
    await p.write(Buffer.concat(lines.flatMap((l) => [l, Buffer.from("\n")])));
    await p.waitAck(3);
    await eventually(() => p.errors.length === 5, { what: "5 error lines" });
    assert.deepEqual(
      p.errors.map((e) => e.line),
      [2, 4, 5, 6, 7],
    );
    assert.match(p.errors[0]!.error!, /not a JSON object/);
    assert.match(p.errors[1]!.error!, /invalid JSON/);
    assert.match(p.errors[2]!.error!, /UTF-8/);
    assert.match(p.errors[4]!.error!, /larger than the limit of 1024 bytes/);
    const errs = await queue.metrics.protocolErrors.get();
    const by = Object.fromEntries(errs.values.map((v) => [v.labels.reason, v.value]));
    assert.deepEqual(by, { not_object: 2, invalid_json: 1, invalid_utf8: 1, too_large: 1 });
    // Still usable, and the stored record is byte for byte what was sent (minus the CR).
    await p.write('{"ok":4}\n');
    await p.waitAck(4);
    const r = new QueueReader(queue, "s");
    const got = await r.read(10, 1 << 20, new AbortController().signal);
    await r.close();
    assert.deepEqual(got.map((g) => g.data.toString()), ['{"ok":1}', '{"ok":2}', '{"ok":3}', '{"ok":4}']);
    p.close();
  }));

test("an oversized line split over many writes is skipped without buffering it; the next line is fine", () =>
  withRig(async ({ sock, queue }) => {
    const p = await RawProducer.connect(sock);
    await p.write('{"big":"');
    for (let i = 0; i < 64; i++) await p.write("y".repeat(16 * 1024));
    await p.write('"}\n{"after":1}\n');
    await p.waitAck(1);
    await eventually(() => p.errors.length === 1);
    assert.deepEqual(p.errors[0]!.line, 1);
    assert.equal(await metric(queue, "persisted"), 1);
    p.close();
  }));

test("a last line without a newline counts when the producer half-closes; then the exporter closes", () =>
  withRig(async ({ sock }) => {
    const p = await RawProducer.connect(sock);
    await p.write('{"a":1}\n{"a":2}');
    p.socket.end();
    await eventually(() => p.closed, { what: "exporter closes after the final ack" });
    assert.equal(p.lastAck, 2);
  }));

test("a producer that never reads does not block the exporter; acks coalesce to the latest", () =>
  withRig(async ({ sock, queue }) => {
    const p = await RawProducer.connect(sock, { paused: true });
    const rec = '{"pad":"' + "z".repeat(200) + '"}\n';
    const total = 20_000;
    const chunk = rec.repeat(500);
    for (let i = 0; i < total / 500; i++) await p.write(chunk);
    await eventually(async () => (await metric(queue, "persisted")) === total, { timeoutMs: 30_000, what: "all records persisted while the producer reads nothing" });
    p.socket.resume();
    await p.waitAck(total);
    const ackLines = p.replies.filter((r) => r.ack !== undefined).length;
    assert.ok(ackLines < total / 10, `acks should coalesce, got ${ackLines} ack lines for ${total} records`);
    p.close();
  }));

test("a producer that sends bad lines but reads nothing is slowed down; no error line is ever skipped", () =>
  withRig(async ({ sock, queue }) => {
    const p = await RawProducer.connect(sock, { paused: true });
    const total = 40_000; // odd lines are bad: ~20k error lines, far past the unread-output limit
    let body = "";
    for (let i = 1; i <= total; i++) body += i % 2 ? "not json\n" : `{"n":${i}}\n`;
    const written = p.write(body);
    // While nobody reads, the exporter must stop short of the end of the input.
    await eventually(async () => (await metric(queue, "received")) > 0, { timeoutMs: 30_000, what: "some records received" });
    await new Promise((r) => setTimeout(r, 300));
    assert.ok((await metric(queue, "received")) < total / 2, "the exporter stopped reading the producer that does not read its error lines");
    p.socket.resume();
    await written;
    await p.waitAck(total / 2, 60_000);
    const errorLines = p.replies.filter((r) => r.error !== undefined).map((r) => r.line);
    assert.equal(errorLines.length, total / 2, "one error line per bad line");
    assert.deepEqual(errorLines.slice(0, 3), [1, 3, 5]);
    assert.equal(errorLines.at(-1), total - 1);
    p.close();
  }));

test("block policy: a full queue stops reading the socket (back-pressure) and resumes when a sink catches up", () =>
  withRig(
    async ({ sock, queue }) => {
      const p = await RawProducer.connect(sock);
      const rec = '{"pad":"' + "q".repeat(1000) + '"}\n';
      const total = 400; // ~400 KiB into a 128 KiB queue
      let written = 0;
      const writing = (async () => {
        for (; written < total; written++) await p.write(rec);
      })();
      await eventually(() => queue.isBlocked, { what: "queue blocked" });
      await new Promise((r) => setTimeout(r, 300));
      const ackWhileBlocked = p.lastAck;
      assert.ok(ackWhileBlocked < total);
      assert.ok(queue.diskBytes <= 128 * 1024, `disk bound held: ${queue.diskBytes}`);
      // A sink drains: everything arrives, nothing is dropped.
      const r = new QueueReader(queue, "s");
      const ac = new AbortController();
      let seen = 0;
      while (seen < total) {
        const got = await r.read(50, 1 << 20, ac.signal);
        seen += got.length;
        await queue.ack("s", got[got.length - 1]!.seq);
      }
      await r.close();
      await writing;
      await p.waitAck(total);
      assert.equal(seen, total);
      assert.equal((await queue.metrics.dropped.get()).values.length, 0);
      p.close();
    },
    { queue: { maxBytes: 128 * 1024, segmentBytes: 16 * 1024 }, maxRecordBytes: 4096 },
  ));

test("drop-newest: records that do not fit get an error line naming them and are counted", () =>
  withRig(
    async ({ sock, queue }) => {
      const p = await RawProducer.connect(sock);
      const rec = '{"pad":"' + "d".repeat(1000) + '"}\n';
      await p.write(rec.repeat(200));
      await eventually(() => p.lastAck + p.errors.length === 200, { what: "every line answered" });
      assert.ok(p.lastAck > 0 && p.lastAck < 200);
      assert.ok(p.errors.every((e) => /queue full: record dropped/.test(e.error!)));
      assert.equal(p.errors[0]!.line, p.lastAck + 1, "the first dropped line follows the acked ones");
      const dropped = (await queue.metrics.dropped.get()).values.find((v) => v.labels.reason === "queue_full")?.value;
      assert.equal(dropped, 200 - p.lastAck);
      p.close();
    },
    { queue: { maxBytes: 128 * 1024, segmentBytes: 16 * 1024, whenFull: "drop-newest" }, maxRecordBytes: 4096 },
  ));

test("socket file gets mode 0660 by default, or the configured mode", async () => {
  await withRig(async ({ sock }) => {
    assert.equal((await stat(sock)).mode & 0o777, 0o660);
  });
  await withRig(
    async ({ sock }) => {
      assert.equal((await stat(sock)).mode & 0o777, 0o600);
    },
    { socketMode: 0o600 },
  );
});

test("a stale socket file (its exporter was SIGKILLed) is replaced; a live one or a regular file is refused", async () => {
  const dir = await mkdtemp(join(tmpdir(), "wa-stale-"));
  const queue = await DurableQueue.open({ dataDir: join(dir, "data"), sinks: ["s"], maxBytes: 1 << 20, whenFull: "block", diskReserveBytes: 0 });
  try {
    const stale = join(dir, "stale.sock");
    const child = spawn(process.execPath, ["-e", `require("net").createServer().listen(${JSON.stringify(stale)}, () => console.log("up"))`], { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise<void>((r) => child.stdout.once("data", () => r()));
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    assert.ok(existsSync(stale), "SIGKILL leaves the socket file behind");
    const s1 = new ProducerServer({ listen: [{ kind: "unix", path: stale }], queue, maxRecordBytes: 1024, socketMode: 0o660 });
    await s1.start();
    const p = await RawProducer.connect(stale);
    await p.write('{"x":1}\n');
    await p.waitAck(1);
    p.close();

    // Someone is listening: refuse rather than steal the path.
    const live = join(dir, "live.sock");
    const other = createServer().listen(live);
    await new Promise((r) => other.once("listening", r));
    const s2 = new ProducerServer({ listen: [{ kind: "unix", path: live }], queue, maxRecordBytes: 1024, socketMode: 0o660 });
    await assert.rejects(s2.start(), /another process is listening/);
    await new Promise((r) => other.close(r));

    const file = join(dir, "file.sock");
    await writeFile(file, "not a socket");
    const s3 = new ProducerServer({ listen: [{ kind: "unix", path: file }], queue, maxRecordBytes: 1024, socketMode: 0o660 });
    await assert.rejects(s3.start(), /not a socket/);
    await s1.stop(1000);
    assert.equal(existsSync(stale), false, "a clean stop removes the socket file");
  } finally {
    await queue.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test("tcp listener works too, and listen addresses are validated", async () => {
  assert.deepEqual(parseListenAddress("tcp://127.0.0.1:9095"), { kind: "tcp", host: "127.0.0.1", port: 9095 });
  assert.deepEqual(parseListenAddress("unix:///run/x.sock"), { kind: "unix", path: "/run/x.sock" });
  assert.throws(() => parseListenAddress("unix://relative.sock"), /absolute/);
  assert.throws(() => parseListenAddress("http://x:1"), /expected unix/);
  assert.throws(() => parseListenAddress("tcp://127.0.0.1:99999"), /65535/);
  const dir = await mkdtemp(join(tmpdir(), "wa-tcp-"));
  const queue = await DurableQueue.open({ dataDir: dir, sinks: ["s"], maxBytes: 1 << 20, whenFull: "block", diskReserveBytes: 0 });
  const server = new ProducerServer({ listen: [{ kind: "tcp", host: "127.0.0.1", port: 0 }], queue, maxRecordBytes: 1024, socketMode: 0o660 });
  try {
    const [addr] = await server.start();
    assert.equal(addr!.kind, "tcp");
    const { createConnection } = await import("node:net");
    const s = createConnection((addr as { port: number }).port, "127.0.0.1");
    let got = "";
    s.setEncoding("utf8").on("data", (d: string) => (got += d));
    s.write('{"t":1}\n');
    await eventually(() => got.includes('{"ack":1}'));
    s.destroy();
  } finally {
    await server.stop(1000);
    await queue.close();
    await rm(dir, { recursive: true, force: true });
  }
});
