import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { PassThrough } from "node:stream";
import { createSink, StdoutSink, parseSinkUrl } from "../../../src/exporter/sinks/index.js";
import { records } from "./helpers.js";

const CHILD = fileURLToPath(new URL("./fixtures/stdout-child.ts", import.meta.url));

function runChild(args: number[], onStdout: (child: ReturnType<typeof spawn>, chunk: Buffer) => void): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", CHILD, ...args.map(String)], { stdio: ["ignore", "pipe", "pipe"] });
  const out: Buffer[] = [];
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => {
    out.push(d);
    onStdout(child, d);
  });
  child.stdout!.on("error", () => undefined);
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  return new Promise((resolve) =>
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr });
    }),
  );
}

test("stdout:// writes every record as one NDJSON line, in order, from a real process", async () => {
  const r = await runChild([50, 40, 200], () => undefined);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.toString("utf8").split("\n");
  assert.equal(lines.pop(), "", "ends with a newline");
  assert.equal(lines.length, 2000);
  lines.forEach((l, i) => assert.equal((JSON.parse(l) as { seq: number }).seq, i + 1));
  assert.deepEqual(JSON.parse(r.stderr.trim().split("\n").pop()!), { done: true, okBatches: 50 });
});

test("a reader that goes away (EPIPE) turns into a transient outcome, not a crash", async () => {
  const r = await runChild([100_000, 10, 1000], (child) => child.stdout!.destroy());
  assert.equal(r.code, 0, `child survived: ${r.stderr}`);
  const reports = r.stderr.trim().split("\n").map((l) => JSON.parse(l) as { outcome?: { kind: string; reason: string }; done?: boolean });
  const failure = reports.find((x) => x.outcome);
  assert.ok(failure, `a failed batch was reported: ${r.stderr}`);
  assert.equal(failure.outcome!.kind, "transient");
  assert.match(failure.outcome!.reason, /stdout is closed \((EPIPE|ERR_STREAM_DESTROYED)\)/);
  assert.equal(reports.at(-1)!.done, true);
});

test("back-pressure: send resolves only once the reader drained the data; an abort while blocked is transient", async () => {
  const out = new PassThrough({ highWaterMark: 16 });
  const sink = new StdoutSink(parseSinkUrl("stdout://?batchRecords=7"), out);
  assert.equal(sink.name, "stdout://");
  assert.equal(sink.maxBatchRecords, 7);
  const big = records(1, 50, "b".repeat(2000));
  let settled = false;
  const ac = new AbortController();
  const sending = sink.send(big, ac.signal).then((o) => {
    settled = true;
    return o;
  });
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(settled, false, "still waiting for the reader");
  ac.abort();
  assert.deepEqual(await sending, { kind: "transient", reason: "stdout write aborted (reader not consuming)" });

  const second = sink.send(records(51, 1), new AbortController().signal);
  const chunks: Buffer[] = [];
  out.on("data", (d: Buffer) => chunks.push(d));
  assert.deepEqual(await second, { kind: "ok" });
  const text = Buffer.concat(chunks).toString();
  assert.equal(text.split("\n").filter(Boolean).length, 51, "the aborted batch still went out (a duplicate on retry, never a loss)");
  await sink.close();
  assert.throws(() => createSink("stdout://?format=array"), /sink "stdout:\/\/": option "format" does not apply to stdout:\/\/ sinks/);
});
