// Group commits are encoded into one buffer reused from commit to commit. A shorter commit after
// a longer one, or concurrent appends of mixed sizes, must never leak stale bytes of an earlier
// commit to disk: every record must read back byte for byte, after a restart too (CRCs checked).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { DurableQueue } from "../../../src/exporter/queue/durable-queue.js";
import { QueueReader } from "../../../src/exporter/queue/queue-reader.js";

const rec = (size: number): Buffer => Buffer.from(`{"r":"${randomBytes(Math.ceil(size / 2)).toString("hex").slice(0, size)}"}`);

test("records of commits of different sizes (big, then small, then concurrent mixed) read back exactly, before and after a restart", async () => {
  const dir = await mkdtemp(join(tmpdir(), "wa-writebuf-"));
  const opts = { dataDir: dir, sinks: ["s"], maxBytes: 256 * 1024 * 1024, whenFull: "block" as const, diskReserveBytes: 0, cursorSyncMs: 0 };
  const sent: Buffer[] = [];
  let q = await DurableQueue.open(opts);
  try {
    const big = Array.from({ length: 3000 }, () => rec(1500));
    const small = Array.from({ length: 3 }, () => rec(40));
    sent.push(...big, ...small);
    await q.append(big);
    await q.append(small);
    // Several calls in flight join the same group commits, in an order admission decides.
    const mixed = Array.from({ length: 40 }, (_, i) => Array.from({ length: 1 + (i % 7) * 30 }, (_, k) => rec(k % 2 === 0 ? 20 : 9000)));
    for (const m of mixed) sent.push(...m);
    await Promise.all(mixed.map((m) => q.append(m)));

    const readAll = async (queue: DurableQueue): Promise<Buffer[]> => {
      const r = new QueueReader(queue, "s");
      const out: Buffer[] = [];
      try {
        while (out.length < sent.length) {
          const got = await r.read(500, 1 << 30, new AbortController().signal);
          for (const g of got) out.push(Buffer.from(g.data));
        }
      } finally {
        await r.close();
      }
      return out;
    };
    const check = (got: Buffer[], when: string): void => {
      assert.equal(got.length, sent.length, `${when}: record count`);
      for (let i = 0; i < sent.length; i++) assert.ok(got[i]!.equals(sent[i]!), `${when}: record ${i + 1} differs from what was appended`);
    };
    check(await readAll(q), "live");
    await q.close();
    q = await DurableQueue.open(opts);
    check(await readAll(q), "after restart");
    assert.equal((await q.metrics.corrupt.get()).values[0]?.value ?? 0, 0, "no record counted as corrupt");
  } finally {
    await q.close();
    await rm(dir, { recursive: true, force: true });
  }
});
