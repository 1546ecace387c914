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
    fc.asyncProperty(fc.integer({ min: 1, max: 97 }), fc.integer({ min: 300, max: 1500 }), fc.integer({ min: 4000, max: 8000 }), async (batch, size, n) => {
      const dir = await mkdtemp(join(tmpdir(), "wa-reader-"));
      const q = await DurableQueue.open({ dataDir: dir, sinks: ["s"], maxBytes: 256 * 1024 * 1024, whenFull: "block", diskReserveBytes: 0, cursorSyncMs: 0 });
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
