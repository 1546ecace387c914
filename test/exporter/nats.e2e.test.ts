// `watch-auditor exporter --sink nats://…` as a real process against a real nats-server with
// JetStream: producers are acked while the server is down, the server restarts, and every
// record ends up in the stream exactly once (Nats-Msg-Id = sequence number), in order.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { connect, nanos, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { eventually, stopCli } from "../support/cli.js";
import { metricValue, scrape, startExporter } from "./support/exporter-process.js";
import { NatsServer, freePort } from "./support/nats-server.js";
import { RawProducer } from "./support/producer.js";

const P = "watch_auditor_exporter_";

async function streamMessages(nc: NatsConnection, stream: string): Promise<{ msgId: string | undefined; body: { p: number; i: number } }[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream);
  const out: { msgId: string | undefined; body: { p: number; i: number } }[] = [];
  if (info.state.messages === 0) return out;
  for (let s = info.state.first_seq; s <= info.state.last_seq; s++) {
    const m = (await jsm.streams.getMessage(stream, { seq: s }))!;
    out.push({ msgId: m.header.get("Nats-Msg-Id") || undefined, body: m.json() });
  }
  return out;
}

const batch = (p: number, from: number, n: number): string => Array.from({ length: n }, (_, k) => JSON.stringify({ p, i: from + k }) + "\n").join("");

test("exporter CLI → JetStream: acked while the server is down, delivered after its restart, each record stored once in order", { timeout: 90_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), "wa-nats-e2e-"));
  const server = new NatsServer(await freePort(), join(dir, "js"));
  await server.start();
  let nc = await connect({ servers: `127.0.0.1:${server.port}` });
  await (await jetstreamManager(nc)).streams.add({ name: "DECISIONS", subjects: ["gatekeeper.decisions"], duplicate_window: nanos(300_000) });
  const sock = join(dir, "export.sock");
  const sinkName = `nats://127.0.0.1:${server.port}/gatekeeper.decisions`;
  const child = await startExporter([
    "--listen", `unix://${sock}`, "--data-dir", join(dir, "data"),
    "--sink", `${sinkName}?timeout=1s&batchRecords=100`,
    "--backoff-initial", "50ms", "--backoff-max", "500ms",
  ]);
  try {
    const producer = await RawProducer.connect(sock);
    await producer.write(batch(1, 0, 300));
    await producer.waitAck(300);
    await eventually(async () => (await streamMessages(nc, "DECISIONS")).length === 300, { timeoutMs: 20_000, what: "first 300 records in the stream" });

    // The server goes away: producers are still acked (the queue is durable), sends are retried.
    await nc.close();
    await server.stop();
    await producer.write(batch(1, 300, 300));
    await producer.waitAck(600);
    await eventually(async () => (metricValue((await scrape(child.opsPort)).body, `${P}send_retries_total{sink="${sinkName}"}`) ?? 0) > 0, { timeoutMs: 20_000, what: "retries while the server is down" });
    const queued = metricValue((await scrape(child.opsPort)).body, `${P}queue_records{sink="${sinkName}"}`);
    assert.ok((queued ?? 0) > 0, `records wait in the queue while NATS is down (queue_records ${queued})`);

    await server.start();
    nc = await connect({ servers: `127.0.0.1:${server.port}` });
    await eventually(async () => (await streamMessages(nc, "DECISIONS")).length >= 600, { timeoutMs: 30_000, what: "all 600 records in the stream after the restart" });
    const msgs = await streamMessages(nc, "DECISIONS");
    assert.deepEqual(msgs.map((m) => m.body.i), Array.from({ length: 600 }, (_, i) => i), "each record stored once, in order");
    assert.deepEqual(msgs.map((m) => m.msgId), Array.from({ length: 600 }, (_, i) => String(i + 1)), "Nats-Msg-Id is the exporter's sequence number");
    const metrics = (await scrape(child.opsPort)).body;
    assert.equal(metricValue(metrics, `${P}records_sent_total{sink="${sinkName}"}`), 600);
    assert.equal(metricValue(metrics, `${P}records_dead_lettered_total{sink="${sinkName}"}`) ?? 0, 0);
    producer.close();
    const res = await stopCli(child);
    assert.equal(res.code, 0, res.stderr);
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
    await nc.close().catch(() => undefined);
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
