import { test } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, mkdtempSync, renameSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileFollower, LineSplitter } from "../../src/flows/lines.js";
import { eventually } from "../support/cli.js";

function collector() {
  const lines: [string, number][] = [];
  const tooLong: [number, number][] = [];
  const notices: string[] = [];
  return {
    lines,
    tooLong,
    notices,
    line: (t: string, n: number) => void lines.push([t, n]),
    tooLongFn: (n: number, b: number) => void tooLong.push([n, b]),
  };
}

test("splitter: lines across chunks, CRLF, blank lines keep numbering, over-long lines dropped without buffering them", () => {
  const c = collector();
  const s = new LineSplitter(10, { line: c.line, tooLong: c.tooLongFn });
  s.push(Buffer.from("ab"));
  s.push(Buffer.from("c\r\n\nde"));
  s.push(Buffer.from("f\n0123456789ABCDEF"));
  s.push(Buffer.from("GHIJ\nok\n12345678901\nlast"));
  s.end();
  assert.deepEqual(c.lines, [["abc", 1], ["def", 3], ["ok", 5], ["last", 7]]);
  assert.deepEqual(c.tooLong, [[4, 20], [6, 11]]);
});

test("follower: starts at the end, follows appends, rename rotation (old file drained), truncation, and a file that appears later", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "flows-follow-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "tetragon.log");
  writeFileSync(path, "old-1\nold-2\n");
  const c = collector();
  const f = new FileFollower(path, { line: c.line, tooLong: c.tooLongFn, maxLineBytes: 1024, fromStart: false, pollMs: 20, notice: (e) => void c.notices.push(e) });
  f.start();
  t.after(() => f.stop());
  await eventually(() => c.notices.includes("opened"), { what: "opened" });
  appendFileSync(path, "a1\na2");
  await eventually(() => c.lines.length === 1, { what: "a1" });
  appendFileSync(path, "\n");
  await eventually(() => c.lines.length === 2, { what: "a2" });
  assert.deepEqual(c.lines, [["a1", 3], ["a2", 4]], "existing lines skipped, numbering counts them");

  // Rotation by rename: the writer appends to the old file once more, then a new file appears.
  renameSync(path, `${path}.1`);
  appendFileSync(`${path}.1`, "late-old\n");
  await eventually(() => c.lines.some(([l]) => l === "late-old"), { what: "late line of renamed file" });
  writeFileSync(path, "new-1\n");
  await eventually(() => c.lines.some(([l]) => l === "new-1"), { what: "new file read from its start" });
  assert.ok(c.notices.includes("rotated"));
  assert.deepEqual(c.lines.at(-1), ["new-1", 1], "line numbers restart in the new file");

  // Rotation by truncation (copytruncate).
  appendFileSync(path, "new-2\n");
  await eventually(() => c.lines.some(([l]) => l === "new-2"));
  truncateSync(path, 0);
  await eventually(() => c.notices.includes("truncated"), { what: "truncate noticed" });
  appendFileSync(path, "after-truncate\n");
  await eventually(() => c.lines.some(([l]) => l === "after-truncate"), { what: "after truncate" });
  assert.deepEqual(c.lines.at(-1), ["after-truncate", 1]);

  // Deleted and recreated later.
  rmSync(path);
  await new Promise((r) => setTimeout(r, 100));
  writeFileSync(path, "reborn\n");
  await eventually(() => c.lines.some(([l]) => l === "reborn"), { what: "recreated file" });
  assert.equal(c.lines.filter(([l]) => l.startsWith("old-")).length, 0);
});

test("follower: a missing file is waited for and read from its start; --from-start reads existing content", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "flows-follow-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const c = collector();
  const f = new FileFollower(join(dir, "later.log"), { line: c.line, tooLong: c.tooLongFn, maxLineBytes: 1024, fromStart: false, pollMs: 20, notice: (e) => void c.notices.push(e) });
  f.start();
  t.after(() => f.stop());
  await eventually(() => c.notices.includes("waiting"));
  writeFileSync(join(dir, "later.log"), "first\nsecond\n");
  await eventually(() => c.lines.length === 2, { what: "both lines" });

  writeFileSync(join(dir, "existing.log"), "e1\ne2\n");
  const c2 = collector();
  const g = new FileFollower(join(dir, "existing.log"), { line: c2.line, tooLong: c2.tooLongFn, maxLineBytes: 1024, fromStart: true, pollMs: 20, notice: () => {} });
  g.start();
  t.after(() => g.stop());
  await eventually(() => c2.lines.length === 2, { what: "existing lines with fromStart" });
  assert.deepEqual(c2.lines, [["e1", 1], ["e2", 2]]);
});
