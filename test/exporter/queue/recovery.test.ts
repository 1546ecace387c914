// Fault tests of the queue's on-disk recovery: torn tails, corrupt checksums, removed
// segments, bad headers, format versions, the disk reserve. Damage is done to real files.
import assert from "node:assert/strict";
import { mkdtemp, open, readFile, readdir, rm, stat, truncate, unlink, writeFile } from "node:fs/promises";
import { statfsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import fc from "fast-check";
import { DurableQueue, type QueueOptions } from "../../../src/exporter/queue/durable-queue.js";
import { QueueReader } from "../../../src/exporter/queue/queue-reader.js";
import { FRAME_HEADER_BYTES, SEGMENT_HEADER_BYTES } from "../../../src/exporter/queue/format.js";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "wa-queue-fault-"));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function opts(dir: string, extra: Partial<QueueOptions> = {}): QueueOptions {
  return { dataDir: dir, sinks: ["s"], maxBytes: 1024 * 1024, whenFull: "block", diskReserveBytes: 0, ...extra };
}

// Fixed width (JSON allows the spaces), so that frame offsets are easy to compute.
const rec = (i: number): Buffer => Buffer.from(`{"i":${String(i).padStart(6, " ")},"pad":"${"p".repeat(40)}"}`);

/** Appends records 1..n in one group commit (segment boundaries still fall every segmentBytes). */
async function fill(dir: string, n: number, extra: Partial<QueueOptions> = {}): Promise<void> {
  const q = await DurableQueue.open(opts(dir, extra));
  await q.append(Array.from({ length: n }, (_, i) => rec(i + 1)));
  await q.close();
}

async function segments(dir: string): Promise<string[]> {
  return (await readdir(join(dir, "queue"))).filter((n) => n.endsWith(".seg")).sort().map((n) => join(dir, "queue", n));
}

/** Reads everything available for sink "s" (until nothing comes for 200 ms). */
async function drain(q: DurableQueue): Promise<{ seq: bigint; i: number }[]> {
  const r = new QueueReader(q, "s");
  const out: { seq: bigint; i: number }[] = [];
  for (;;) {
    const ac = new AbortController();
    const t = setTimeout(() => ac.abort(), 200);
    const got = await r.read(1000, 1 << 30, ac.signal);
    clearTimeout(t);
    if (got.length === 0) break;
    for (const g of got) out.push({ seq: g.seq, i: (JSON.parse(g.data.toString()) as { i: number }).i });
  }
  await r.close();
  return out;
}

async function corruptCount(q: DurableQueue): Promise<number> {
  return (await q.metrics.corrupt.get()).values[0]?.value ?? 0;
}

const FRAME = FRAME_HEADER_BYTES + rec(1).length;
/** Records per segment in the tests that use 4 KiB segments. */
const PER_SEG = Math.floor((4096 - SEGMENT_HEADER_BYTES) / FRAME);

test("a torn tail (a write cut mid-record) is truncated; nothing acked is lost, seqs go on", () =>
  withDir(async (dir) => {
    await fill(dir, 10);
    const [seg] = await segments(dir);
    const size = (await stat(seg!)).size;
    await truncate(seg!, size - 7);
    const q = await DurableQueue.open(opts(dir));
    try {
      assert.equal(q.headSeq, 10n, "the torn 10th record is gone; its seq is reused (it was never acknowledged)");
      assert.equal(await corruptCount(q), 0, "a torn tail is not corruption");
      assert.equal((await stat(seg!)).size, size - FRAME);
      const got = await drain(q);
      assert.deepEqual(got.map((g) => g.i), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
      await q.append([rec(100)]);
      const after = await drain(q);
      assert.equal(after[after.length - 1]!.seq, 10n);
    } finally {
      await q.close();
    }
  }));

test("a corrupt checksum in the last segment is quarantined, counted, and seqs are never reused", () =>
  withDir(async (dir) => {
    await fill(dir, 10);
    const [seg] = await segments(dir);
    // Flip a payload byte of record 5.
    const fh = await open(seg!, "r+");
    const at = SEGMENT_HEADER_BYTES + 4 * FRAME + FRAME_HEADER_BYTES + 3;
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, at);
    b[0] = b[0]! ^ 0xff;
    await fh.write(b, 0, 1, at);
    await fh.close();
    const q = await DurableQueue.open(opts(dir));
    try {
      assert.equal(await corruptCount(q), 6, "record 5 and the 5 after it are counted lost");
      assert.equal(q.headSeq, 11n, "seq 5..10 were seen by nobody else, but the walk found them: never reuse");
      const quarantined = await readdir(join(dir, "quarantine"));
      assert.equal(quarantined.length, 1);
      assert.equal((await stat(join(dir, "quarantine", quarantined[0]!))).size, 6 * FRAME);
      assert.deepEqual((await drain(q)).map((g) => g.i), [1, 2, 3, 4]);
    } finally {
      await q.close();
    }
  }));

test("corruption inside a sealed segment is found by the reader, quarantined, counted once; reading goes on", () =>
  withDir(async (dir) => {
    await fill(dir, 200, { segmentBytes: 4096 });
    const segs = await segments(dir);
    assert.ok(segs.length >= 3, `expected several segments, got ${segs.length}`);
    const fh = await open(segs[0]!, "r+");
    const at = SEGMENT_HEADER_BYTES + 10 * FRAME + 2; // inside the length/crc of record 11
    await fh.write(Buffer.from([0xaa, 0xbb]), 0, 2, at);
    await fh.close();
    const q = await DurableQueue.open(opts(dir, { segmentBytes: 4096, sinks: ["s", "t"] }));
    try {
      const got = await drain(q);
      const is = got.map((g) => g.i);
      assert.deepEqual(is.slice(0, 10), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      assert.equal(is[10], PER_SEG + 1, "reading resumes at the next segment");
      assert.equal(is.length, 200 - (PER_SEG - 10));
      assert.equal(await corruptCount(q), PER_SEG - 10);
      // A second sink reading the same damage does not count it again.
      const r2 = new QueueReader(q, "t");
      const ac = new AbortController();
      let n = 0;
      while (n < is.length) n += (await r2.read(1000, 1 << 30, ac.signal)).length;
      await r2.close();
      assert.equal(n, is.length);
      assert.equal(await corruptCount(q), PER_SEG - 10);
      assert.equal((await readdir(join(dir, "quarantine"))).length, 1);
    } finally {
      await q.close();
    }
  }));

test("a removed segment file: its records are counted lost and the rest is delivered", () =>
  withDir(async (dir) => {
    await fill(dir, 200, { segmentBytes: 4096 });
    const segs = await segments(dir);
    await unlink(segs[1]!);
    const q = await DurableQueue.open(opts(dir, { segmentBytes: 4096 }));
    try {
      const got = await drain(q);
      assert.equal(got.length, 200 - PER_SEG);
      assert.equal(got[PER_SEG]!.i, 2 * PER_SEG + 1);
      assert.equal(await corruptCount(q), PER_SEG);
    } finally {
      await q.close();
    }
  }));

test("a segment removed while running is skipped as well (reader on disk)", () =>
  withDir(async (dir) => {
    // recentBytes 0: the reader reads everything back from disk, as a sink that fell behind does.
    const q = await DurableQueue.open(opts(dir, { segmentBytes: 4096, recentBytes: 0 }));
    try {
      await q.append(Array.from({ length: 200 }, (_, i) => rec(i + 1)));
      const segs = await segments(dir);
      await unlink(segs[2]!);
      const got = await drain(q);
      assert.equal(got.length, 200 - PER_SEG);
      assert.equal(await corruptCount(q), PER_SEG);
    } finally {
      await q.close();
    }
  }));

test("a segment removed while its records are still in the in-memory tail: they are delivered from memory", () =>
  withDir(async (dir) => {
    const q = await DurableQueue.open(opts(dir, { segmentBytes: 4096 }));
    try {
      await q.append(Array.from({ length: 200 }, (_, i) => rec(i + 1)));
      await unlink((await segments(dir))[2]!);
      const got = await drain(q);
      assert.deepEqual(got.map((g) => g.i), Array.from({ length: 200 }, (_, i) => i + 1));
      assert.equal(await corruptCount(q), 0);
    } finally {
      await q.close();
    }
  }));

test("a segment with a bad header is quarantined whole at start-up", () =>
  withDir(async (dir) => {
    await fill(dir, 200, { segmentBytes: 4096 });
    const segs = await segments(dir);
    const fh = await open(segs[0]!, "r+");
    await fh.write(Buffer.from("XXXX"), 0, 4, 0);
    await fh.close();
    const q = await DurableQueue.open(opts(dir, { segmentBytes: 4096 }));
    try {
      assert.deepEqual(await readdir(join(dir, "quarantine")).then((l) => l.length), 1);
      const got = await drain(q);
      assert.equal(got.length, 200 - PER_SEG);
      assert.equal(await corruptCount(q), PER_SEG);
    } finally {
      await q.close();
    }
  }));

test("an unknown format version refuses to start and names the file", () =>
  withDir(async (dir) => {
    await fill(dir, 1);
    await writeFile(join(dir, "format-version"), "99\n");
    await assert.rejects(DurableQueue.open(opts(dir)), (err: Error) => err.message.includes(join(dir, "format-version")) && err.message.includes("99"));
  }));

test("the disk reserve: drop-newest drops and counts, block applies back-pressure", () =>
  withDir(async (dir) => {
    const s = statfsSync(dir);
    const free = s.bavail * s.bsize;
    // A reserve above the free space simulates a full disk without filling one.
    const q = await DurableQueue.open(opts(dir, { whenFull: "drop-newest", diskReserveBytes: free + 1024 ** 3 }));
    try {
      const r = await q.append([rec(1), rec(2)]);
      assert.deepEqual({ accepted: r.accepted, dropped: r.dropped }, { accepted: 0, dropped: 2 });
      assert.match(r.dropReason ?? "", /disk reserve/);
      const m = await q.metrics.dropped.get();
      assert.equal(m.values.find((v) => v.labels.reason === "disk_reserve")?.value, 2);
    } finally {
      await q.close();
    }
    const qb = await DurableQueue.open(opts(dir, { whenFull: "block", diskReserveBytes: free + 1024 ** 3 }));
    try {
      let settled = false;
      const p = qb.append([rec(3)]).finally(() => (settled = true));
      const rejected = assert.rejects(p, /closed/);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(settled, false);
      assert.equal(qb.isBlocked, true);
      await qb.close();
      await rejected;
    } finally {
      await qb.close();
    }
  }));

test("any single damaged byte: recovery terminates and only intact, original records come back", { timeout: 60_000 }, async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 20, max: 120 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 255 }), async (n, where, xor) => {
      await withDir(async (dir) => {
        await fill(dir, n, { segmentBytes: 4096 });
        const segs = await segments(dir);
        const sizes = await Promise.all(segs.map(async (p) => (await stat(p)).size));
        const total = sizes.reduce((a, b) => a + b, 0);
        let pos = Math.floor(where * (total - 1));
        let k = 0;
        while (pos >= sizes[k]!) pos -= sizes[k++]!;
        const buf = await readFile(segs[k]!);
        buf[pos] = buf[pos]! ^ xor;
        await writeFile(segs[k]!, buf);
        const q = await DurableQueue.open(opts(dir, { segmentBytes: 4096 }));
        try {
          const got = await drain(q);
          let last = 0n;
          for (const g of got) {
            assert.ok(g.seq > last, "in order");
            assert.equal(BigInt(g.i), g.seq, "each record comes back with its own seq and content");
            last = g.seq;
          }
          const lost = await corruptCount(q);
          assert.ok(got.length + lost >= n - 1 || got.length + lost >= n, `${got.length} read + ${lost} counted lost < ${n} written`);
          await q.append([rec(9999)]);
          assert.ok(q.headSeq > BigInt(n), "no seq reuse after damage");
        } finally {
          await q.close();
        }
      });
    }),
    { numRuns: 15 },
  );
});
