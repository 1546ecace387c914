// Model-based test: the durable queue against an in-memory model of "what each sink has
// still to receive", through appends, per-sink reads+acks, restarts, rotation and limits.
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import fc from "fast-check";
import { DurableQueue, type WhenFull } from "../../../src/exporter/queue/durable-queue.js";
import { QueueReader } from "../../../src/exporter/queue/queue-reader.js";
import { frameBytes } from "../../../src/exporter/queue/format.js";

const SINKS = ["a", "b"] as const;
type SinkName = (typeof SINKS)[number];

interface Model {
  /** Records not yet acked by every sink, in order. */
  records: { seq: bigint; data: string }[];
  acked: Record<SinkName, bigint>;
  lastSeq: bigint;
}

interface Real {
  dir: string;
  queue: DurableQueue;
  readers: Record<SinkName, QueueReader>;
  policy: WhenFull;
  maxBytes: number;
  /** The queue's in-memory tail: 0 (readers always go to disk), small (they fall off it), default. */
  recentBytes: number;
}

const MAX_BYTES = 16 * 1024;
const SEGMENT_BYTES = 2048;

async function openReal(dir: string, policy: WhenFull, recentBytes: number): Promise<Pick<Real, "queue" | "readers">> {
  const queue = await DurableQueue.open({ dataDir: dir, sinks: [...SINKS], maxBytes: MAX_BYTES, whenFull: policy, diskReserveBytes: 0, segmentBytes: SEGMENT_BYTES, cursorSyncMs: 0, recentBytes });
  return { queue, readers: { a: new QueueReader(queue, "a"), b: new QueueReader(queue, "b") } };
}

function record(n: number, size: number): string {
  const head = `{"n":${n},"p":"`;
  return head + "x".repeat(Math.max(0, size - head.length - 2)) + `"}`;
}

let counter = 0;
/** What the runs exercised, so that the test fails if generation stops reaching limits. */
const seen = { dropped: 0, droppedOldest: 0, restarts: 0, reads: 0, blocked: 0 };

class AppendCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly sizes: number[]) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    const datas = this.sizes.map((s) => record(counter++, s));
    const firstSeq = m.lastSeq + 1n;
    if (r.policy === "block") {
      // Block never drops: the model knows the records up front, and the sinks keep
      // draining while the append waits for room (that is what unblocks it).
      for (const d of datas) m.records.push({ seq: ++m.lastSeq, data: d });
      let done = false;
      const appending = r.queue.append(datas.map((d) => Buffer.from(d))).finally(() => (done = true));
      // If a check below fails, the queue is closed under the waiting append; that rejection
      // belongs to this command, not to the process.
      const settled = appending.then(
        (res) => ({ res }),
        (err: unknown) => ({ err }),
      );
      while (!done) {
        if (r.queue.isBlocked) {
          seen.blocked++;
          // Only sinks with committed records left can read: the model already holds the
          // blocked records, but a sink that acked everything on disk would wait for ever.
          for (const s of SINKS) if (r.queue.headSeq - 1n > m.acked[s]) await new ReadAckCmd(s, 5).run(m, r, true);
        }
        await new Promise((res) => setTimeout(res, 2));
      }
      const out = await settled;
      if ("err" in out) throw out.err;
      const res = out.res;
      assert.equal(res.accepted, datas.length);
      assert.ok(r.queue.diskBytes <= r.maxBytes, `disk ${r.queue.diskBytes} > max ${r.maxBytes}`);
      assert.equal(r.queue.headSeq, m.lastSeq + 1n);
      return;
    }
    const diskBefore = r.queue.diskBytes;
    const res = await r.queue.append(datas.map((d) => Buffer.from(d)));
    assert.equal(res.accepted + res.dropped, datas.length);
    if (r.policy !== "drop-newest") assert.equal(res.dropped, 0, "only drop-newest refuses records");
    if (res.dropped > 0) {
      // It dropped because the next record really did not fit.
      const next = frameBytes(Buffer.byteLength(datas[res.accepted]!));
      assert.ok(r.queue.diskBytes + next + 16 > r.maxBytes || diskBefore + next + 16 > r.maxBytes, `dropped with room left: disk ${r.queue.diskBytes} + ${next} <= ${r.maxBytes}`);
    }
    seen.dropped += res.dropped;
    for (let i = 0; i < res.accepted; i++) m.records.push({ seq: ++m.lastSeq, data: datas[i]! });
    assert.equal(m.lastSeq - firstSeq + 1n, BigInt(res.accepted));
    // drop-oldest may have moved cursors past the oldest records: adopt, but only at the head.
    for (const s of SINKS) {
      const acked = r.queue.ackedSeq(s);
      if (acked > m.acked[s]) {
        assert.equal(r.policy, "drop-oldest", `cursor of ${s} moved without an ack`);
        seen.droppedOldest++;
        m.acked[s] = acked;
        await r.readers[s].rewind();
      }
    }
    trim(m);
    assert.ok(r.queue.diskBytes <= r.maxBytes, `disk ${r.queue.diskBytes} > max ${r.maxBytes}`);
    assert.equal(r.queue.headSeq, m.lastSeq + 1n);
  }
  toString(): string {
    return `append(${this.sizes.join(",")})`;
  }
}

class ReadAckCmd implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly sink: SinkName,
    readonly max: number,
  ) {}
  check(m: Model): boolean {
    return m.records.some((x) => x.seq > m.acked[this.sink]);
  }
  async run(m: Model, r: Real, whileAppending = false): Promise<void> {
    const expected = m.records.filter((x) => x.seq > m.acked[this.sink]);
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), 5000);
    const got = await r.readers[this.sink].read(this.max, 1 << 30, ac.signal);
    clearTimeout(timer);
    assert.ok(got.length > 0, "records are waiting but the reader returned none");
    // While an append is under way, part of what the model expects is not written yet.
    if (whileAppending) assert.ok(got.length <= Math.min(this.max, expected.length));
    else assert.equal(got.length, Math.min(this.max, expected.length));
    got.forEach((g, i) => {
      assert.equal(g.seq, expected[i]!.seq);
      assert.equal(g.data.toString(), expected[i]!.data);
    });
    seen.reads++;
    const last = got[got.length - 1]!;
    await r.queue.ack(this.sink, last.seq, { segFirst: last.segFirst, end: last.end });
    m.acked[this.sink] = last.seq;
    trim(m);
    if (!whileAppending) assert.equal(r.queue.backlog(this.sink).records, Number(m.lastSeq - m.acked[this.sink]));
  }
  toString(): string {
    return `readAck(${this.sink},${this.max})`;
  }
}

class RestartCmd implements fc.AsyncCommand<Model, Real> {
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    await r.readers.a.close();
    await r.readers.b.close();
    await r.queue.close();
    const o = await openReal(r.dir, r.policy, r.recentBytes);
    r.queue = o.queue;
    r.readers = o.readers;
    assert.equal(r.queue.headSeq, m.lastSeq + 1n, "seq continues after restart");
    for (const s of SINKS) assert.equal(r.queue.ackedSeq(s), m.acked[s], `cursor of ${s} survives restart`);
    assert.equal((await r.queue.metrics.corrupt.get()).values[0]?.value ?? 0, 0, "a clean restart loses nothing");
    seen.restarts++;
  }
  toString(): string {
    return "restart";
  }
}

function trim(m: Model): void {
  const min = SINKS.reduce((x, s) => (m.acked[s] < x ? m.acked[s] : x), m.lastSeq);
  m.records = m.records.filter((x) => x.seq > min);
}

const commands = [
  fc.array(fc.integer({ min: 2, max: 1000 }), { minLength: 1, maxLength: 30, size: "medium" }).map((s) => new AppendCmd(s)),
  fc.tuple(fc.constantFrom(...SINKS), fc.integer({ min: 1, max: 60 })).map(([s, n]) => new ReadAckCmd(s, n)),
  fc.constant(new RestartCmd()),
];

for (const policy of ["block", "drop-newest", "drop-oldest"] as WhenFull[]) {
  test(`durable queue behaves like the model (${policy})`, { timeout: 60_000 }, async () => {
    Object.assign(seen, { dropped: 0, droppedOldest: 0, restarts: 0, reads: 0, blocked: 0 });
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 25 }), fc.constantFrom(0, 1500, 8 << 20), async (cmds, recentBytes) => {
        const dir = await mkdtemp(join(tmpdir(), "wa-queue-model-"));
        const o = await openReal(dir, policy, recentBytes);
        const real: Real = { dir, policy, maxBytes: MAX_BYTES, recentBytes, ...o };
        const model: Model = { records: [], acked: { a: 0n, b: 0n }, lastSeq: 0n };
        try {
          await fc.asyncModelRun(() => ({ model, real }), cmds).catch((err: unknown) => {
            console.error(String(cmds), err);
            throw err;
          });
          // Segments that every sink passed are deleted.
          const segs = (await readdir(join(dir, "queue"))).filter((n) => n.endsWith(".seg"));
          assert.ok(segs.length >= 1);
        } finally {
          await real.readers.a.close();
          await real.readers.b.close();
          await real.queue.close();
          await rm(dir, { recursive: true, force: true });
        }
      }),
      {
        numRuns: 8,
        endOnFailure: true,
        verbose: 1,
        // One run that surely reaches the limit, whatever the random runs do.
        examples: [
          [[new AppendCmd(Array(20).fill(900)), new ReadAckCmd("a", 5), new AppendCmd(Array(20).fill(900)), new RestartCmd(), new AppendCmd(Array(20).fill(900)), new ReadAckCmd("b", 50)] as unknown as Iterable<fc.AsyncCommand<Model, Real>>, 1500],
          // Found by CI: one sink has acked everything on disk when the next append blocks.
          [[new AppendCmd(Array(26).fill(600)), new ReadAckCmd("a", 45), new AppendCmd(Array(5).fill(600))] as unknown as Iterable<fc.AsyncCommand<Model, Real>>, 8 << 20],
        ],
        ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED), path: process.env.FC_PATH } : {}) },
    );
    assert.ok(seen.restarts > 0 && seen.reads > 0, `runs exercised too little: ${JSON.stringify(seen)}`);
    if (policy === "drop-newest") assert.ok(seen.dropped > 0, "no run reached the limit");
    if (policy === "drop-oldest") assert.ok(seen.droppedOldest > 0, "no run reached the limit");
    if (policy === "block") assert.ok(seen.blocked > 0, "no run reached the limit");
  });
}

test("block policy waits for room and resumes when a sink acks", async () => {
  const dir = await mkdtemp(join(tmpdir(), "wa-queue-block-"));
  const { queue, readers } = await openReal(dir, "block", 0);
  try {
    const rec = Buffer.from(record(0, 1000));
    // Fill to the bound.
    let appended = 0;
    while (queue.diskBytes + frameBytes(rec.length) <= MAX_BYTES) {
      await queue.append([rec]);
      appended++;
    }
    let done = false;
    const blocked = queue.append([rec]).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(done, false, "append must wait while the queue is full");
    assert.equal(queue.isBlocked, true);
    const ac = new AbortController();
    const got = await readers.a.read(appended, 1 << 30, ac.signal);
    const got2 = await readers.b.read(appended, 1 << 30, ac.signal);
    await queue.ack("a", got[got.length - 1]!.seq);
    assert.equal(done, false, "one sink acking is not enough: b still needs the records");
    await queue.ack("b", got2[got2.length - 1]!.seq);
    await blocked;
    assert.equal(done, true);
    assert.equal(queue.isBlocked, false);
  } finally {
    await readers.a.close();
    await readers.b.close();
    await queue.close();
    await rm(dir, { recursive: true, force: true });
  }
});
