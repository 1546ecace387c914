// `watch-auditor exporter` as a real process: producer socket in, HTTP and file sinks out,
// /metrics checked by promtool, /readyz on a stalled sink, SIGTERM drain, usage errors.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { eventually, runCli, stopCli } from "../support/cli.js";
import { Collector } from "./support/collector.js";
import { metricValue, scrape, startExporter } from "./support/exporter-process.js";
import { RawProducer } from "./support/producer.js";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "wa-exp-e2e-"));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const P = "watch_auditor_exporter_";

test("end to end: socket → durable queue → HTTP and file sinks; metrics pass promtool; SIGTERM exits 0", { timeout: 60_000 }, () =>
  withDir(async (dir) => {
    const collector = await new Collector().listen();
    const sock = join(dir, "export.sock");
    const out = join(dir, "out");
    const httpSink = `${collector.url}?batchRecords=100`;
    const child = await startExporter(["--listen", `unix://${sock}`, "--data-dir", join(dir, "data"), "--sink", httpSink, "--sink", `file://${out}`]);
    try {
      assert.equal((await stat(sock)).mode & 0o777, 0o660);
      const producers = await Promise.all([RawProducer.connect(sock), RawProducer.connect(sock)]);
      const N = 500;
      await Promise.all(
        producers.map(async (p, k) => {
          let batch = "";
          for (let i = 0; i < N; i++) batch += JSON.stringify({ p: k, i }) + "\n";
          await p.write(batch + "oops\n");
          await p.waitAck(N);
          await eventually(() => p.errors.length === 1);
          assert.equal(p.errors[0]!.line, N + 1);
        }),
      );
      await eventually(() => collector.accepted.length >= 2 * N, { what: "HTTP sink got everything" });
      const fileLines = async (): Promise<string[]> => {
        const files = existsSync(out) ? await readdir(out) : [];
        const all: string[] = [];
        for (const f of files.sort()) all.push(...(await readFile(join(out, f), "utf8")).split("\n").filter(Boolean));
        return all;
      };
      await eventually(async () => (await fileLines()).length >= 2 * N, { what: "file sink got everything" });
      for (const lines of [collector.accepted, await fileLines()]) {
        for (const k of [0, 1]) {
          const mine = lines.map((l) => JSON.parse(l) as { p: number; i: number }).filter((r) => r.p === k).map((r) => r.i);
          assert.deepEqual(mine, Array.from({ length: N }, (_, i) => i), "each producer's records arrive once, in order");
        }
      }
      const ready = await scrape(child.opsPort, "/readyz");
      assert.equal(ready.status, 200);
      const { body } = await scrape(child.opsPort);
      const check = spawnSync("promtool", ["check", "metrics"], { input: body, encoding: "utf8" });
      assert.equal(check.status, 0, `promtool check metrics failed:\n${check.stdout}${check.stderr}`);
      assert.equal(metricValue(body, `${P}records_received_total`), 2 * N);
      assert.equal(metricValue(body, `${P}records_persisted_total`), 2 * N);
      assert.equal(metricValue(body, `${P}records_acked_total`), 2 * N);
      assert.equal(metricValue(body, `${P}protocol_errors_total{reason="not_object"}`), 2);
      await eventually(async () => metricValue((await scrape(child.opsPort)).body, `${P}records_sent_total{sink="file://${out}"}`) === 2 * N);
      const m2 = (await scrape(child.opsPort)).body;
      assert.equal(metricValue(m2, `${P}records_sent_total{sink="${collector.url}"}`), 2 * N);
      assert.ok((metricValue(m2, `${P}disk_free_bytes`) ?? 0) > 0);
      for (const name of ["queue_records", "queue_bytes", "oldest_unsent_age_seconds"]) assert.ok(m2.includes(`${P}${name}{sink=`), `${name} exported`);
      for (const name of ["send_duration_seconds_bucket", "fsync_duration_seconds_bucket"]) assert.ok(m2.includes(`${P}${name}`), `${name} exported`);
      for (const p of producers) p.close();

      // A second exporter on the same data dir refuses to start.
      const second = await runCli(["exporter", "--listen", `unix://${join(dir, "other.sock")}`, "--data-dir", join(dir, "data"), "--sink", "stdout://", "--port", "0"], { timeoutMs: 20_000 });
      assert.notEqual(second.code, 0);
      assert.match(second.stderr, /in use by another exporter/);
      assert.match(second.stderr, new RegExp(join(dir, "data")));

      const res = await stopCli(child, "SIGTERM", 20_000);
      assert.equal(res.code, 0, res.stderr);
      assert.equal(existsSync(sock), false, "socket file removed on a clean stop");
      assert.equal(existsSync(join(dir, "data", "lock")), false, "lock released");
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      await collector.close();
    }
  }),
);

test("/readyz fails while a sink makes no progress with records waiting, and recovers", { timeout: 60_000 }, () =>
  withDir(async (dir) => {
    const collector = await new Collector().listen();
    let down = true;
    collector.behave = () => (down ? 503 : 200);
    const sock = join(dir, "s.sock");
    const child = await startExporter(["--listen", `unix://${sock}`, "--data-dir", join(dir, "data"), "--sink", collector.url, "--stall-timeout", "1s", "--backoff-initial", "50ms", "--backoff-max", "200ms"]);
    try {
      assert.equal((await scrape(child.opsPort, "/readyz")).status, 200);
      const p = await RawProducer.connect(sock);
      await p.write('{"a":1}\n');
      await p.waitAck(1);
      await eventually(async () => (await scrape(child.opsPort, "/readyz")).status === 503, { what: "readyz 503 on a stalled sink" });
      const detail = (await scrape(child.opsPort, "/readyz")).body;
      assert.match(detail, /stalled/);
      const m = (await scrape(child.opsPort)).body;
      assert.ok((metricValue(m, `${P}oldest_unsent_age_seconds{sink="${collector.url}"}`) ?? 0) > 0.5, "oldest unsent age grows");
      assert.equal(metricValue(m, `${P}queue_records{sink="${collector.url}"}`), 1);
      down = false;
      await eventually(async () => (await scrape(child.opsPort, "/readyz")).status === 200, { what: "readyz back to 200" });
      assert.equal(collector.accepted.length, 1);
      p.close();
      const res = await stopCli(child, "SIGTERM", 20_000);
      assert.equal(res.code, 0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      await collector.close();
    }
  }),
);

test("SIGTERM drains what is queued to a recovering sink within the grace period, then exits 0", { timeout: 60_000 }, () =>
  withDir(async (dir) => {
    const collector = await new Collector().listen();
    let n = 0;
    collector.behave = () => (n++ < 3 ? 500 : 200);
    const sock = join(dir, "s.sock");
    const child = await startExporter(["--listen", `unix://${sock}`, "--data-dir", join(dir, "data"), "--sink", collector.url, "--backoff-initial", "100ms", "--backoff-max", "300ms", "--grace", "15s"]);
    try {
      const p = await RawProducer.connect(sock);
      let batch = "";
      for (let i = 0; i < 50; i++) batch += JSON.stringify({ i }) + "\n";
      await p.write(batch);
      await p.waitAck(50);
      const res = await stopCli(child, "SIGTERM", 20_000);
      assert.equal(res.code, 0, res.stderr);
      assert.equal(new Set(collector.accepted).size, 50, "drained before exiting");
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
      await collector.close();
    }
  }),
);

test("usage errors exit 2 and name the flag, env var or config field", { timeout: 60_000 }, () =>
  withDir(async (dir) => {
    const base = ["exporter", "--listen", `unix://${join(dir, "s.sock")}`, "--data-dir", join(dir, "d"), "--sink", "stdout://", "--port", "0"];
    const cfg1 = join(dir, "bad-field.yaml");
    await writeFile(cfg1, `listen: ["unix://${join(dir, "s.sock")}"]\ndataDir: ${join(dir, "d")}\nsinks: ["stdout://"]\nmaxBytes: 1GiB\nwhenFull: later\n`);
    const cfg2 = join(dir, "bad-sink.yaml");
    await writeFile(cfg2, `listen: ["unix://${join(dir, "s.sock")}"]\ndataDir: ${join(dir, "d")}\nsinks:\n  - url: "http://127.0.0.1:1/x"\n    gzip: maybe\n`);
    // [args, env, what stderr must name]; run side by side (each is a process start-up).
    const cases: [string[], Record<string, string>, RegExp][] = [
      [[...base, "--when-full", "sometimes"], {}, /--when-full/],
      [["exporter", "--listen", `unix://${join(dir, "s.sock")}`, "--sink", "stdout://"], {}, /--data-dir/],
      [base, { WATCH_AUDITOR_EXPORTER_MAX_BYTES: "lots" }, /max-bytes/],
      [["exporter", "--config", cfg1], {}, new RegExp(`${cfg1}:5: field "whenFull"`)],
      [["exporter", "--config", cfg2], {}, /gzip/],
    ];
    const results = await Promise.all(cases.map(([args, env]) => runCli(args, { env, timeoutMs: 45_000 })));
    results.forEach((r, i) => {
      assert.equal(r.code, 2, `case ${i}: exit ${r.code}: ${r.stderr}`);
      assert.match(r.stderr, cases[i]![2], `case ${i}`);
    });
  }),
);

test("config file and env vars configure the exporter; flags override them", { timeout: 60_000 }, () =>
  withDir(async (dir) => {
    const out = join(dir, "out");
    const sock = join(dir, "cfg.sock");
    const cfg = join(dir, "exporter.yaml");
    await writeFile(cfg, [`listen: ["unix://${join(dir, "ignored.sock")}"]`, `dataDir: ${join(dir, "d")}`, "sinks:", `  - url: "file://${out}"`, "    maxFileBytes: 1MiB", "socketMode: \"0600\"", ""].join("\n"));
    const child = await startExporter(["--config", cfg, "--listen", `unix://${sock}`], { env: { WATCH_AUDITOR_EXPORTER_MAX_RECORD_BYTES: "64" } });
    try {
      assert.equal((await stat(sock)).mode & 0o777, 0o600, "socketMode from the config file");
      assert.equal(existsSync(join(dir, "ignored.sock")), false, "--listen overrides the config file");
      const p = await RawProducer.connect(sock);
      await p.write(`{"small":1}\n{"big":"${"b".repeat(100)}"}\n`);
      await p.waitAck(1);
      await eventually(() => p.errors.length === 1);
      assert.match(p.errors[0]!.error!, /limit of 64 bytes/, "max record size from the env var");
      p.close();
      assert.equal((await stopCli(child)).code, 0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  }),
);
