import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, nanos, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { createSink } from "../../../src/exporter/sinks/index.js";
import type { Sink } from "../../../src/exporter/sink.js";
import { eventually } from "../../support/cli.js";
import { records } from "./helpers.js";
import { NatsServer, freePort } from "../support/nats-server.js";
import { generateClientCert, generateTls } from "../../support/kube-apiserver/tls.js";

const never = new AbortController().signal;

let dir: string;
let server: NatsServer;
let admin: NatsConnection;
let jsm: JetStreamManager;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "wa-nats-sink-"));
  server = new NatsServer(await freePort(), join(dir, "js"));
  await server.start();
  admin = await connect({ servers: `127.0.0.1:${server.port}` });
  jsm = await jetstreamManager(admin);
});

after(async () => {
  await admin?.close().catch(() => undefined);
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function addStream(name: string, subject: string, extra: { max_msg_size?: number } = {}): Promise<void> {
  await jsm.streams.add({ name, subjects: [subject], duplicate_window: nanos(120_000), ...extra });
}

async function storedSeqs(stream: string): Promise<number[]> {
  const info = await jsm.streams.info(stream);
  const out: number[] = [];
  for (let s = info.state.first_seq; s <= info.state.last_seq && info.state.messages > 0; s++) {
    const m = (await jsm.streams.getMessage(stream, { seq: s }))!;
    assert.equal(m.header.get("Nats-Msg-Id"), String((m.json() as { n: number }).n), "Nats-Msg-Id is the record's sequence number");
    out.push((m.json() as { n: number }).n);
  }
  return out;
}

async function withSink(url: string, fn: (sink: Sink) => Promise<void>): Promise<void> {
  const sink = createSink(url);
  try {
    await fn(sink);
  } finally {
    await sink.close();
  }
}

test("publishes each record to the subject with Nats-Msg-Id = seq; re-sending the same seqs is de-duplicated by the stream", async () => {
  await addStream("DEDUP", "decisions.dedup");
  await withSink(`nats://127.0.0.1:${server.port}/decisions.dedup?batchRecords=100`, async (sink) => {
    assert.equal(sink.name, `nats://127.0.0.1:${server.port}/decisions.dedup`);
    assert.equal(sink.maxBatchRecords, 100);
    assert.deepEqual(await sink.send(records(1, 100), never), { kind: "ok" });
    assert.deepEqual(await sink.send(records(101, 50), never), { kind: "ok" });
    // A retry after an unclear outcome re-sends overlapping sequence numbers.
    assert.deepEqual(await sink.send(records(90, 30), never), { kind: "ok" });
    const seqs = await storedSeqs("DEDUP");
    assert.deepEqual(seqs, Array.from({ length: 150 }, (_, i) => i + 1), "each record stored once, in order");
    const m = (await jsm.streams.getMessage("DEDUP", { seq: 1 }))!;
    assert.deepEqual(Buffer.from(m.data), records(1, 1)[0]!.data, "payload byte for byte");
  });
});

test("no stream for the subject (no responders) is transient; a record over the stream's max_msg_size is permanent", async () => {
  await withSink(`nats://127.0.0.1:${server.port}/nobody.listens?timeout=2s`, async (sink) => {
    const out = await sink.send(records(1, 2), never);
    assert.equal(out.kind, "transient");
    assert.equal((out as { accepted?: number }).accepted, 0);
  });
  await addStream("SMALL", "decisions.small", { max_msg_size: 200 });
  await withSink(`nats://127.0.0.1:${server.port}/decisions.small`, async (sink) => {
    const batch = [...records(1, 2), ...records(3, 1, "x".repeat(500)), ...records(4, 1)];
    const out = await sink.send(batch, never);
    assert.equal(out.kind, "permanent");
    assert.equal((out as { accepted: number }).accepted, 2);
    assert.equal((out as { rejected: number }).rejected, 1);
    assert.match((out as { reason: string }).reason, /JetStream refused the record: .*(size|maximum)/i);
    assert.deepEqual(await sink.send(batch.slice(3), never), { kind: "ok" });
    assert.deepEqual((await storedSeqs("SMALL")).slice(0, 2), [1, 2]);
  });
});

test("a server restart in the middle: transient while down, then delivered, nothing lost, no duplicates stored", async () => {
  await addStream("RESTART", "decisions.restart");
  await withSink(`nats://127.0.0.1:${server.port}/decisions.restart?timeout=1s&batchRecords=50`, async (sink) => {
    // A forwarder's loop: resend from the first unaccepted record until everything is in.
    const all = records(1, 600);
    let next = 0;
    let transients = 0;
    const deliver = async (until: number): Promise<void> => {
      while (next < until) {
        const batch = all.slice(next, Math.min(until, next + 50));
        const out = await sink.send(batch, never);
        if (out.kind === "ok") {
          next += batch.length;
          await new Promise((r) => setTimeout(r, 10)); // spread the work so the restart lands mid-stream
        } else {
          assert.equal(out.kind, "transient", JSON.stringify(out));
          transients++;
          next += out.accepted ?? 0;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    };
    // The forwarder keeps sending while the server goes away and comes back.
    const running = deliver(600);
    await eventually(() => next >= 200, { timeoutMs: 30_000, intervalMs: 5, what: "200 records delivered" });
    await admin.close();
    await server.stop();
    const whileDown = await sink.send(all.slice(next, next + 50), never);
    assert.equal(whileDown.kind, "transient", "the server is away");
    await new Promise((r) => setTimeout(r, 500));
    await server.start();
    await running;
    assert.ok(transients > 0, "the delivery loop saw the outage");
    assert.ok(next === 600);

    admin = await connect({ servers: `127.0.0.1:${server.port}` });
    jsm = await jetstreamManager(admin);
    assert.deepEqual(await storedSeqs("RESTART"), Array.from({ length: 600 }, (_, i) => i + 1), "all 600 records stored exactly once, in order");
  });
});

test("credentials: user/password from the URL authenticate; wrong ones are transient; bad options are usage errors", async () => {
  const authDir = join(dir, "auth");
  const authed = new NatsServer(await freePort(), join(authDir, "js"), ["--user", "exporter", "--pass", "s3cret"]);
  await authed.start();
  try {
    const nc = await connect({ servers: `127.0.0.1:${authed.port}`, user: "exporter", pass: "s3cret" });
    await (await jetstreamManager(nc)).streams.add({ name: "AUTH", subjects: ["auth.x"] });
    await withSink(`nats://exporter:s3cret@127.0.0.1:${authed.port}/auth.x?timeout=2s`, async (sink) => {
      assert.equal(sink.name, `nats://127.0.0.1:${authed.port}/auth.x`, "no credentials in the name");
      assert.deepEqual(await sink.send(records(1, 3), never), { kind: "ok" });
    });
    await withSink(`nats://exporter:wrong@127.0.0.1:${authed.port}/auth.x?timeout=2s`, async (sink) => {
      const out = await sink.send(records(4, 1), never);
      assert.equal(out.kind, "transient");
      assert.doesNotMatch((out as { reason: string }).reason, /wrong/);
    });
    assert.equal((await (await jetstreamManager(nc)).streams.info("AUTH")).state.messages, 3);
    await nc.close();
  } finally {
    await authed.stop();
  }
  const tokenServer = new NatsServer(await freePort(), join(authDir, "js-token"), ["--auth", "t0ken-abc"]);
  await tokenServer.start();
  try {
    const nc = await connect({ servers: `127.0.0.1:${tokenServer.port}`, token: "t0ken-abc" });
    await (await jetstreamManager(nc)).streams.add({ name: "TOK", subjects: ["tok.x"] });
    await withSink(`nats://127.0.0.1:${tokenServer.port}/tok.x?timeout=2s`, async (sink) => {
      assert.equal((await sink.send(records(1, 1), never)).kind, "transient", "no token: not authorized");
    });
    // The token from the config file's options, not the URL.
    const sink = createSink(`nats://127.0.0.1:${tokenServer.port}/tok.x`, { token: "t0ken-abc" });
    try {
      assert.deepEqual(await sink.send(records(1, 2), never), { kind: "ok" });
    } finally {
      await sink.close();
    }
    assert.equal((await (await jetstreamManager(nc)).streams.info("TOK")).state.messages, 2);
    await nc.close();
  } finally {
    await tokenServer.stop();
  }
  assert.throws(() => createSink("nats://h:4222/a.*"), /sink "nats:\/\/h:4222\/a.\*": the path must be a NATS subject without wildcards/);
  assert.throws(() => createSink("nats://h:4222/"), /the path must be a NATS subject/);
  assert.throws(() => createSink("nats://u:p@h:4222/x?token=t"), /give only one of user\/password, token or credsFile/);
  assert.throws(() => createSink("nats://h/x?credsFile=/nonexistent.creds"), /option "credsFile": cannot read \/nonexistent.creds: ENOENT/);
  assert.throws(() => createSink("nats://h/x?gzip=true"), /option "gzip" does not apply to nats:\/\/ sinks/);
});

test("TLS: caFile trusts the server's CA; mTLS with certFile/keyFile; plain or untrusted connections are transient; bad options are usage errors", async () => {
  const tlsDir = join(dir, "tls");
  await mkdir(tlsDir, { recursive: true });
  const tls = await generateTls(tlsDir);
  const client = await generateClientCert(tlsDir, "exporter");
  const serverArgs = ["--tls", "--tlscert", join(tlsDir, "server.crt"), "--tlskey", join(tlsDir, "server.key")];
  const secure = new NatsServer(await freePort(), join(tlsDir, "js"), serverArgs);
  await secure.start();
  try {
    const nc = await connect({ servers: `127.0.0.1:${secure.port}`, tls: { ca: tls.caPem } });
    await (await jetstreamManager(nc)).streams.add({ name: "TLS", subjects: ["tls.x"] });
    await withSink(`nats://127.0.0.1:${secure.port}/tls.x?timeout=2s&caFile=${tls.caFile}`, async (sink) => {
      assert.deepEqual(await sink.send(records(1, 3), never), { kind: "ok" });
    });
    // System roots do not know the test CA; a plain client is turned away by a TLS-only server.
    for (const url of [`nats://127.0.0.1:${secure.port}/tls.x?timeout=2s&tls=true`, `nats://127.0.0.1:${secure.port}/tls.x?timeout=2s`]) {
      await withSink(url, async (sink) => assert.equal((await sink.send(records(4, 1), never)).kind, "transient", url));
    }
    assert.equal((await (await jetstreamManager(nc)).streams.info("TLS")).state.messages, 3);
    await nc.close();
  } finally {
    await secure.stop();
  }
  // mTLS: the server verifies clients against the same CA.
  const mtls = new NatsServer(await freePort(), join(tlsDir, "js-mtls"), [...serverArgs, "--tlsverify", "--tlscacert", tls.caFile]);
  await mtls.start();
  try {
    const nc = await connect({ servers: `127.0.0.1:${mtls.port}`, tls: { ca: tls.caPem, certFile: client.certFile, keyFile: client.keyFile } });
    await (await jetstreamManager(nc)).streams.add({ name: "MTLS", subjects: ["mtls.x"] });
    await withSink(`nats://127.0.0.1:${mtls.port}/mtls.x?timeout=2s&caFile=${tls.caFile}&certFile=${client.certFile}&keyFile=${client.keyFile}`, async (sink) => {
      assert.deepEqual(await sink.send(records(1, 2), never), { kind: "ok" });
    });
    await withSink(`nats://127.0.0.1:${mtls.port}/mtls.x?timeout=2s&caFile=${tls.caFile}`, async (sink) => {
      assert.equal((await sink.send(records(3, 1), never)).kind, "transient", "no client certificate");
    });
    assert.equal((await (await jetstreamManager(nc)).streams.info("MTLS")).state.messages, 2);
    await nc.close();
  } finally {
    await mtls.stop();
  }
  assert.throws(() => createSink(`nats://h/x?certFile=${client.certFile}`), /options "certFile" and "keyFile" go together/);
  assert.throws(() => createSink("nats://h/x?caFile=/nonexistent/ca.pem"), /sink "nats:\/\/h\/x": option "caFile": cannot read \/nonexistent\/ca.pem: ENOENT/);
  assert.throws(() => createSink(`nats://h/x?tls=false&caFile=${tls.caFile}`), /contradicts/);
});
