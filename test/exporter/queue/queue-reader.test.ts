// The reader in the conditions of a busy exporter: appends while reading, batches that end
// anywhere (inside read chunks, inside frame headers), records larger than a read chunk.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import fc from "fast-check";
import { DurableQueue } from "../../../src/exporter/queue/durable-queue.js";
import { QueueReader } from "../../../src/exporter/queue/queue-reader.js";

const rec = (i: number, size: number): Buffer => Buffer.from(`{"i":${i},"p":"${"x".repeat(Math.max(0, size - 20))}"}`);

test("reading in odd-sized batches while appends go on returns every record once, in order, with no false corruption", { timeout: 60_000 }, async () => {
  await fc.assert(
    // recentBytes: the in-memory tail off, small enough that the reader keeps falling off it, default.
    fc.asyncProperty(fc.integer({ min: 1, max: 97 }), fc.integer({ min: 300, max: 1500 }), fc.integer({ min: 4000, max: 8000 }), fc.constantFrom(0, 64 * 1024, 8 << 20), async (batch, size, n, recentBytes) => {
      const dir = await mkdtemp(join(tmpdir(), "wa-reader-"));
      const q = await DurableQueue.open({ dataDir: dir, sinks: ["s"], maxBytes: 256 * 1024 * 1024, whenFull: "block", diskReserveBytes: 0, cursorSyncMs: 0, recentBytes });
      const r = new QueueReader(q, "s");
      try {
        // A backlog of several read chunks first (a sink that was down), then appends go on.
        const half = Math.floor(n / 2);
        await q.append(Array.from({ length: half }, (_, k) => rec(k, size)));
        const writing = (async () => {
          for (let i = half; i < n; i += 250) await q.append(Array.from({ length: Math.min(250, n - i) }, (_, k) => rec(i + k, size)));
        })();
        const ac = new AbortController();
        let next = 0;
        while (next < n) {
          const got = await r.read(batch, 1 << 30, ac.signal);
          for (const g of got) {
            assert.equal((JSON.parse(g.data.toString()) as { i: number }).i, next, "in order, none skipped");
            assert.equal(g.seq, BigInt(next + 1));
            next++;
          }
          if (got.length > 0) await q.ack("s", got[got.length - 1]!.seq);
        }
        await writing;
        assert.equal((await q.metrics.corrupt.get()).values[0]?.value ?? 0, 0);
      } finally {
        await r.close();
        await q.close();
        await rm(dir, { recursive: true, force: true });
      }
    }),
    { numRuns: 6 },
  );
});

test("a reader served from the in-memory tail goes on from disk at the right place when it falls behind, across segments", async () => {
  const dir = await mkdtemp(join(tmpdir(), "wa-reader-tail-"));
  // Tail of ~2 batches of 10 × 500 B; segments of ~8 KiB, so the tail and the disk part cross segment files.
  const q = await DurableQueue.open({ dataDir: dir, sinks: ["s"], maxBytes: 16 * 1024 * 1024, whenFull: "block", diskReserveBytes: 0, cursorSyncMs: 0, recentBytes: 10_000, segmentBytes: 8 * 1024 });
  const r = new QueueReader(q, "s");
  const signal = new AbortController().signal;
  let i = 0;
  const appendBatch = (): Promise<unknown> => q.append(Array.from({ length: 10 }, () => rec(i++, 500)));
  const readAll = async (upTo: number, per: number): Promise<number[]> => {
    const seen: number[] = [];
    while (seen.length < upTo) {
      const got = await r.read(per, 1 << 30, signal);
      seen.push(...got.map((g) => (JSON.parse(g.data.toString()) as { i: number }).i));
      await q.ack("s", got[got.length - 1]!.seq, { segFirst: got[got.length - 1]!.segFirst, end: got[got.length - 1]!.end });
    }
    return seen;
  };
  try {
    const seen: number[] = [];
    for (let round = 0; round < 5; round++) {
      // Caught up: the next batch comes out of memory...
      await appendBatch();
      seen.push(...(await readAll(10, 7)));
      // ...then the reader falls behind by more than the tail holds and reads from disk.
      for (let k = 0; k < 4; k++) await appendBatch();
      seen.push(...(await readAll(40, 13)));
    }
    assert.deepEqual(seen, Array.from({ length: i }, (_, k) => k), "every record once, in order");
    assert.equal((await q.metrics.corrupt.get()).values[0]?.value ?? 0, 0, "no false corruption");
    assert.equal(q.backlog("s").records, 0);
  } finally {
    await r.close();
    await q.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test("a record larger than the reader's chunk is read whole", async () => {
  const dir = await mkdtemp(join(tmpdir(), "wa-reader-big-"));
  const q = await DurableQueue.open({ dataDir: dir, sinks: ["s"], maxBytes: 64 * 1024 * 1024, whenFull: "block", diskReserveBytes: 0 });
  const r = new QueueReader(q, "s");
  try {
    await q.append([rec(0, 100), rec(1, 3 * 1024 * 1024), rec(2, 100)]);
    const got: Buffer[] = [];
    while (got.length < 3) got.push(...(await r.read(1, 1 << 30, new AbortController().signal)).map((g) => g.data));
    assert.deepEqual(got.map((g) => g.length), [rec(0, 100).length, rec(1, 3 * 1024 * 1024).length, rec(2, 100).length]);
    assert.equal((await q.metrics.corrupt.get()).values[0]?.value ?? 0, 0);
  } finally {
    await r.close();
    await q.close();
    await rm(dir, { recursive: true, force: true });
  }
});
