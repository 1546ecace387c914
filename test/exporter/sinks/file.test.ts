import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { createSink } from "../../../src/exporter/sinks/index.js";
import { records } from "./helpers.js";

const never = new AbortController().signal;
let root: string;

before(async () => {
  root = await mkdtemp(join(tmpdir(), "wa-file-sink-"));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

async function files(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}

test("writes NDJSON files, rotating before a file would exceed maxFileBytes, in order and without loss", async () => {
  const dir = join(root, "rotate", "nested");
  const sink = createSink(`${pathToFileURL(dir).href}?maxFileBytes=1KiB&batchRecords=10`);
  assert.equal(sink.name, pathToFileURL(dir).href);
  assert.equal(sink.maxBatchRecords, 10);
  const all = records(1, 60, "z".repeat(40));
  for (let i = 0; i < all.length; i += 6) assert.deepEqual(await sink.send(all.slice(i, i + 6), never), { kind: "ok" });
  await sink.close();

  const names = await files(dir);
  assert.ok(names.length >= 4, `rotated into several files: ${names}`);
  for (const n of names) assert.match(n, /^records-\d{8}T\d{6}Z-\d{6}\.ndjson$/);
  const contents = await Promise.all(names.map((n) => readFile(join(dir, n))));
  for (const c of contents) assert.ok(c.length <= 1024, `file within maxFileBytes: ${c.length}`);
  // Names sort in write order (timestamp, then a zero-padded counter).
  const joined = Buffer.concat(contents);
  assert.deepEqual(joined, Buffer.concat(all.flatMap((r) => [r.data, Buffer.from("\n")])), "every record, byte for byte, in order");
  assert.equal((await stat(join(dir, names[0]!))).mode & 0o777, 0o640);
});

test("a batch larger than maxFileBytes still goes into one (new) file; a later sink never appends to existing files", async () => {
  const dir = join(root, "big");
  const url = `${pathToFileURL(dir).href}?maxFileBytes=100`;
  const a = createSink(url);
  assert.deepEqual(await a.send(records(1, 1), never), { kind: "ok" });
  assert.deepEqual(await a.send(records(2, 5, "q".repeat(50)), never), { kind: "ok" });
  await a.close();
  const b = createSink(url);
  assert.deepEqual(await b.send(records(7, 1), never), { kind: "ok" });
  await b.close();
  const names = await files(dir);
  assert.equal(names.length, 3);
  const lines = (await Promise.all(names.map((n) => readFile(join(dir, n), "utf8")))).map((t) => t.split("\n").filter(Boolean).length).sort();
  assert.deepEqual(lines, [1, 1, 5]);
});

test("data is on disk when ok is reported: another reader sees it before close", async () => {
  const dir = join(root, "durable");
  const sink = createSink(pathToFileURL(dir).href);
  try {
    const batch = records(100, 3);
    assert.deepEqual(await sink.send(batch, never), { kind: "ok" });
    const [name] = await files(dir);
    assert.deepEqual(await readFile(join(dir, name!)), Buffer.concat(batch.flatMap((r) => [r.data, Buffer.from("\n")])));
  } finally {
    await sink.close();
  }
});

test("a path that cannot be used is transient with the reason (records stay queued), and the sink recovers once it can", async () => {
  const path = join(root, "not-a-dir");
  await writeFile(path, "x");
  const sink = createSink(pathToFileURL(path).href);
  try {
    const out = await sink.send(records(1, 1), never);
    assert.equal(out.kind, "transient");
    assert.match((out as { reason: string }).reason, /EEXIST|ENOTDIR/);
    await rm(path);
    assert.deepEqual(await sink.send(records(1, 1), never), { kind: "ok" });
    assert.equal((await files(path)).length, 1);
  } finally {
    await sink.close();
  }
});

test("bad file:// URLs and options are rejected naming the sink and the option", () => {
  assert.throws(() => createSink("file://remote-host/x"), /^SinkConfigError: sink "file:\/\/remote-host\/x": file:\/\/ URLs name a local directory/);
  assert.throws(() => createSink("file:///"), /needs a directory path/);
  assert.throws(() => createSink("file:///tmp/x?maxFileBytes=0"), /sink "file:\/\/\/tmp\/x": option "maxFileBytes": must be between 1 and/);
  assert.throws(() => createSink("file:///tmp/x?gzip=true"), /option "gzip" does not apply to file:\/\/ sinks/);
});
