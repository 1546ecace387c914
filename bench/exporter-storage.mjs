#!/usr/bin/env node
// Storage ceiling vs the exporter's segmented log, same machine, same run.
//   npm run build && node bench/exporter-storage.mjs [--records 200000] [--batch 1000] [--size 1024]
// raw:   write(1000 × 1 KiB) + fdatasync, one file (what no queue can beat)
// queue: DurableQueue.append() of the same batches (framing + CRC32 + group commit + rotation)
import { mkdtempSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { records: { type: "string", default: "200000" }, batch: { type: "string", default: "1000" }, size: { type: "string", default: "1024" }, rounds: { type: "string", default: "3" } } });
const N = Number(values.records);
const B = Number(values.batch);
const SIZE = Number(values.size);
const ROUNDS = Number(values.rounds);
const { DurableQueue } = await import(new URL("../dist/exporter/queue/durable-queue.js", import.meta.url).href);

function record(i) {
  const head = `{"i":${i},"pad":"`;
  return Buffer.from(head + "x".repeat(SIZE - head.length - 2) + '"}');
}
const batch = Array.from({ length: B }, (_, i) => record(i));

async function raw(dir) {
  const fh = await open(join(dir, "raw.log"), "w");
  const buf = Buffer.concat(batch);
  let pos = 0;
  const t0 = performance.now();
  for (let done = 0; done < N; done += B) {
    await fh.write(buf, 0, buf.length, pos);
    pos += buf.length;
    await fh.datasync();
  }
  const s = (performance.now() - t0) / 1000;
  await fh.close();
  return N / s;
}

async function queue(dir) {
  const q = await DurableQueue.open({ dataDir: dir, sinks: ["bench"], maxBytes: 4 * 1024 ** 3, whenFull: "block", diskReserveBytes: 0 });
  const t0 = performance.now();
  for (let done = 0; done < N; done += B) await q.append(batch);
  const s = (performance.now() - t0) / 1000;
  await q.close();
  return N / s;
}

const results = { raw: [], queue: [] };
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, fn] of [["raw", raw], ["queue", queue]]) {
    const dir = mkdtempSync(join(tmpdir(), "wa-bench-storage-"));
    try {
      results[name].push(await fn(dir));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const rawM = median(results.raw);
const qM = median(results.queue);
console.log(JSON.stringify({ records: N, batch: B, recordBytes: SIZE, rounds: ROUNDS, rawRecordsPerSec: Math.round(rawM), queueRecordsPerSec: Math.round(qM), ratio: +(qM / rawM).toFixed(3), all: results }, null, 2));
