// The forwarder against a real HTTP collector on loopback, through the real http sink:
// outages with backoff, permanent refusals to the dead-letter file, fan-out to two sinks.
import assert from "node:assert/strict";
import { mkdtemp, readFile, readdir, rename, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { Forwarder, type ForwarderOptions } from "../../src/exporter/forwarder.js";
import { DurableQueue, type QueueOptions } from "../../src/exporter/queue/durable-queue.js";
import type { Sink } from "../../src/exporter/sink.js";
import { createSink } from "../../src/exporter/sinks/index.js";
import { eventually } from "../support/cli.js";
import { Collector } from "./support/collector.js";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "wa-fwd-"));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const rec = (i: number, pad = 16): Buffer => Buffer.from(JSON.stringify({ i, pad: "r".repeat(pad) }));
const idx = (line: string): number => (JSON.parse(line) as { i: number }).i;

interface Rig {
  dir: string;
  collector: Collector;
  sink: Sink;
  q: DurableQueue;
  fwd: Forwarder;
}

/** A collector, the http sink to it (`?sinkQuery`), a queue and its forwarder (not started); all closed after fn. */
function withForwarder(sinkQuery: string, opts: { queue?: Partial<QueueOptions>; forwarder?: Partial<ForwarderOptions> }, fn: (r: Rig) => Promise<void>): Promise<void> {
  return withDir(async (dir) => {
    const collector = await new Collector().listen();
    const sink = createSink(`${collector.url}?${sinkQuery}`);
    const q = await DurableQueue.open({ dataDir: dir, sinks: [sink.name], maxBytes: 1 << 20, whenFull: "block", diskReserveBytes: 0, ...opts.queue });
    const fwd = new Forwarder({ queue: q, sink, dataDir: dir, backoffInitialMs: 10, backoffMaxMs: 100, ...opts.forwarder });
    try {
      await fn({ dir, collector, sink, q, fwd });
    } finally {
      await fwd.stop();
      await sink.close();
      await q.close();
      await collector.close();
    }
  });
}

/** The entries of one dead-letter file. */
async function deadLetters(dir: string, file: string): Promise<{ seq: number; sink: string; reason: string; record: { i?: number; bad?: number } }[]> {
  return (await readFile(join(dir, "dead-letter", file), "utf8"))
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { seq: number; sink: string; reason: string; record: { i?: number; bad?: number } });
}

async function droppedByRotation(q: DurableQueue): Promise<number> {
  return (await q.metrics.dropped.get()).values.find((v) => v.labels.reason === "dead_letter_rotated")?.value ?? 0;
}

const OUTAGE_MAX_BYTES = 256 * 1024;

test("sink outage (500, 429, hangs) then recovery: backoff grows, nothing is lost, the disk bound holds", { timeout: 60_000 }, () =>
  // Jitter pinned to the middle so that the growth is visible through scheduling noise;
  // the full-jitter distribution itself is tested in backoff.test.ts.
  // sendTimeoutMs backs up the sink's own 500 ms timeout (Node 20 may never fire a timeout
  // signal combined with AbortSignal.any once it is garbage collected).
  withForwarder("timeout=500ms&batchRecords=100", { queue: { maxBytes: OUTAGE_MAX_BYTES, segmentBytes: 16 * 1024 }, forwarder: { backoffInitialMs: 40, backoffMaxMs: 2000, random: () => 0.5, sendTimeoutMs: 1000 } }, async ({ collector, q, fwd }) => {
    // 4×500, 2×429, 2×hang, then fine.
    const script: (number | "hang")[] = [500, 500, 500, 500, 429, 429, "hang", "hang"];
    collector.behave = ({ n }) => script[n] ?? 200;
    fwd.start();
    const N = 400; // ~400 KiB through a 256 KiB queue while the sink is down
    let maxDisk = 0;
    const sampler = setInterval(() => (maxDisk = Math.max(maxDisk, q.diskBytes)), 5);
    try {
      for (let i = 0; i < N; i++) await q.append([rec(i, 1000)]);
      await eventually(() => new Set(collector.accepted.map(idx)).size === N, { timeoutMs: 40_000, what: "all records delivered" });
      // In order, each at least once.
      const firstSeen = [...new Set(collector.accepted.map(idx))];
      assert.deepEqual(firstSeen, Array.from({ length: N }, (_, i) => i));
      assert.ok(maxDisk <= OUTAGE_MAX_BYTES, `queue on disk reached ${maxDisk} > ${OUTAGE_MAX_BYTES}`);
      // Backoff: compare the waits before the early retries with those before the late ones.
      const failed = collector.attempts.slice(0, script.length + 1);
      const waits = failed.slice(1).map((a, i) => a.at - failed[i]!.at - (failed[i]!.status === "hang" ? 500 : 0));
      const early = waits.slice(0, 3).reduce((a, b) => a + b, 0);
      const late = waits.slice(-3).reduce((a, b) => a + b, 0);
      // Expected waits: 20, 40, 80, 160, 320, 640, 1000, 1000 ms (half of min(2000, 40·2^n)).
      assert.ok(late > 4 * early, `backoff should grow: early waits ${waits.slice(0, 3).map(Math.round)} vs late ${waits.slice(-3).map(Math.round)}`);
      assert.ok(waits[waits.length - 1]! >= 900, `the last wait reaches the cap's half: ${waits.map(Math.round)}`);
      assert.ok(Math.max(...waits) <= 1000 + 1500, `backoff is capped: ${waits.map(Math.round)}`);
      const retries = (await q.metrics.retries.get()).values[0]?.value;
      // A slow, loaded machine may time out an answered request too: at least one retry per failure.
      assert.ok((retries ?? 0) >= script.length, `retries ${retries}`);
      // Fully delivered segments are deleted.
      await eventually(() => q.diskBytes <= 16 * 1024 + 16, { what: "segments deleted after delivery" });
    } finally {
      clearInterval(sampler);
    }
  }),
);

test("a record the sink refuses for good goes to the dead-letter file with the reason; the rest of its batch flows on in order", () =>
  withForwarder("batchRecords=100", {}, async ({ dir, collector, sink, q, fwd }) => {
    collector.behave = ({ lines }) => (lines.some((l) => l.includes('"bad"')) ? 400 : 200);
    // One batch of 60 with two refused records (seq 3 and 41) among good ones.
    const batch = Array.from({ length: 60 }, (_, i) => (i === 2 || i === 40 ? Buffer.from(`{"bad":${i}}`) : rec(i)));
    await q.append(batch);
    fwd.start();
    await eventually(() => fwd.caughtUp(), { what: "forwarder caught up" });
    const good = Array.from({ length: 60 }, (_, i) => i).filter((i) => i !== 2 && i !== 40);
    assert.deepEqual(collector.accepted.map(idx), good, "every good record delivered once, in order");
    const files = await readdir(join(dir, "dead-letter"));
    assert.equal(files.length, 1);
    const dl = await deadLetters(dir, files[0]!);
    assert.deepEqual(dl.map((d) => d.record), [{ bad: 2 }, { bad: 40 }], "only the refused records are dead-lettered");
    assert.deepEqual(dl.map((d) => d.seq), [3, 41]);
    assert.equal(dl[0]!.sink, sink.name);
    assert.match(String(dl[0]!.reason), /HTTP 400/);
    assert.equal((await q.metrics.deadLettered.get()).values[0]?.value, 2);
  }));

const DEAD_LETTER_MAX = 4096;

test("the dead-letter file is bounded: rotated to .1 at --dead-letter-max-bytes, the older .1 removed and counted", () =>
  withForwarder("batchRecords=1", { forwarder: { deadLetterMaxBytes: DEAD_LETTER_MAX } }, async ({ dir, collector, q, fwd }) => {
    collector.behave = () => 400; // refuses every record
    const N = 100;
    await q.append(Array.from({ length: N }, (_, i) => rec(i, 200)));
    fwd.start();
    await eventually(() => fwd.caughtUp(), { timeoutMs: 20_000, what: "every record dead-lettered" });
    const files = (await readdir(join(dir, "dead-letter"))).sort();
    assert.equal(files.length, 2, `current file and one rotated file: ${files}`);
    const lines = async (f: string): Promise<number[]> => (await deadLetters(dir, f)).map((d) => d.record.i!);
    const rotated = await lines(files.find((f) => f.endsWith(".1.ndjson"))!);
    const current = await lines(files.find((f) => !f.endsWith(".1.ndjson"))!);
    for (const f of files) {
      const size = (await readFile(join(dir, "dead-letter", f))).length;
      assert.ok(size <= DEAD_LETTER_MAX, `${f} is ${size} bytes > ${DEAD_LETTER_MAX}`);
    }
    // The newest dead letters are kept, in order; what was rotated away is counted, none silently.
    const kept = [...rotated, ...current];
    assert.deepEqual(kept, Array.from({ length: kept.length }, (_, k) => N - kept.length + k));
    const dropped = await droppedByRotation(q);
    assert.equal(dropped + kept.length, N, `kept ${kept.length} + counted as dropped ${dropped}`);
    assert.ok(dropped > 0);
    assert.equal((await q.metrics.deadLettered.get()).values[0]?.value, N);

    // An operator collects the files; the next dead letters start a fresh file, nothing is lost.
    for (const f of files) await rename(join(dir, "dead-letter", f), join(dir, `collected-${f}`));
    await q.append([rec(N, 200), rec(N + 1, 200)]);
    await eventually(() => fwd.caughtUp(), { what: "two more dead-lettered" });
    assert.deepEqual(await readdir(join(dir, "dead-letter")), files.filter((f) => !f.endsWith(".1.ndjson")));
    assert.deepEqual(await lines(files.find((f) => !f.endsWith(".1.ndjson"))!), [N, N + 1]);
    assert.equal(await droppedByRotation(q), dropped, "no rotation after the files were moved away");
  }));

test("two sinks fan out with their own cursors; a segment is kept until both have it", () =>
  withDir(async (dir) => {
    const up = await new Collector().listen();
    const down = await new Collector().listen();
    let downIsDown = true;
    down.behave = () => (downIsDown ? 503 : 200);
    const s1 = createSink(`${up.url}?batchRecords=50`);
    const s2 = createSink(`${down.url}?batchRecords=50`);
    const q = await DurableQueue.open({ dataDir: dir, sinks: [s1.name, s2.name], maxBytes: 1 << 20, whenFull: "block", diskReserveBytes: 0, segmentBytes: 8 * 1024 });
    const f1 = new Forwarder({ queue: q, sink: s1, dataDir: dir, backoffInitialMs: 10, backoffMaxMs: 50 });
    const f2 = new Forwarder({ queue: q, sink: s2, dataDir: dir, backoffInitialMs: 10, backoffMaxMs: 50 });
    f1.start();
    f2.start();
    try {
      for (let i = 0; i < 300; i++) await q.append([rec(i, 100)]);
      await eventually(() => up.accepted.length === 300);
      const diskWhileDown = q.diskBytes;
      assert.ok(diskWhileDown > 30 * 1024, `segments are kept for the sink that is down (${diskWhileDown} bytes)`);
      assert.equal(q.backlog(s2.name).records, 300);
      // The collector counts a batch before its answer reaches the forwarder.
      await eventually(() => q.backlog(s1.name).records === 0);
      downIsDown = false;
      await eventually(() => down.accepted.length === 300, { timeoutMs: 15_000 });
      assert.deepEqual(down.accepted.map(idx), Array.from({ length: 300 }, (_, i) => i));
      await eventually(() => q.diskBytes < 8 * 1024 + 16, { what: "segments deleted once both sinks have them" });
      const sent = await q.metrics.sent.get();
      assert.deepEqual(Object.fromEntries(sent.values.map((v) => [v.labels.sink, v.value])), { [s1.name]: 300, [s2.name]: 300 });
    } finally {
      await f1.stop();
      await f2.stop();
      await s1.close();
      await s2.close();
      await q.close();
      await up.close();
      await down.close();
    }
  }));
