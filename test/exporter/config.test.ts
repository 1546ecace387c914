// The exporter's command-line wiring in-process (the real commander program from
// src/cli/exporter.ts): precedence flag > env > config file > default, and errors that
// name the flag, env var or file:line + field. Process-level exit codes: cli.e2e.test.ts.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { Command, CommanderError } from "commander";
import { register, resolveConfig } from "../../src/cli/exporter.js";
import { UsageError } from "../../src/core/errors.js";
import { loadConfigFile } from "../../src/exporter/config.js";

/** Parses exporter flags without running the exporter; returns the resolved config or the error. */
async function resolve(args: string[], env: Record<string, string> = {}): Promise<ReturnType<typeof resolveConfig> | Error> {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  const program = new Command("watch-auditor").exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  register(program);
  const cmd = program.commands.find((c) => c.name() === "exporter")!;
  cmd.exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  let result: ReturnType<typeof resolveConfig> | Error | undefined;
  cmd.action((flags: Parameters<typeof resolveConfig>[0], c: Command) => {
    result = resolveConfig(flags, c);
  });
  try {
    await program.parseAsync(["node", "watch-auditor", "exporter", ...args]);
  } catch (err) {
    result = err as Error;
  } finally {
    for (const k of Object.keys(env)) delete process.env[k];
    Object.assign(process.env, saved);
  }
  return result!;
}

const base = ["--listen", "unix:///tmp/wa-x.sock", "--data-dir", "/tmp/wa-x", "--sink", "stdout://"];

test("defaults, flags and env vars", async () => {
  const c = await resolve(base);
  assert.ok(!(c instanceof Error));
  assert.equal(c.maxBytes, 1024 ** 3);
  assert.equal(c.whenFull, "block");
  assert.equal(c.socketMode, 0o660);
  assert.equal(c.maxRecordBytes, 1024 * 1024);
  assert.equal(c.backoffInitialMs, 200);
  assert.equal(c.stallTimeoutMs, 300_000);
  assert.equal(c.deadLetterMaxBytes, 64 * 1024 * 1024);
  const d = await resolve([...base, "--dead-letter-max-bytes", "8MiB"]);
  assert.ok(!(d instanceof Error));
  assert.equal(d.deadLetterMaxBytes, 8 * 1024 * 1024);
  const e = await resolve(["--data-dir", "/tmp/wa-x"], {
    WATCH_AUDITOR_EXPORTER_LISTEN: "unix:///tmp/a.sock tcp://127.0.0.1:9095",
    WATCH_AUDITOR_EXPORTER_SINK: "stdout:// file:///tmp/out",
    WATCH_AUDITOR_EXPORTER_MAX_BYTES: "256MiB",
    WATCH_AUDITOR_EXPORTER_GRACE: "3s",
  });
  assert.ok(!(e instanceof Error), String(e));
  assert.deepEqual(e.listen, [{ kind: "unix", path: "/tmp/a.sock" }, { kind: "tcp", host: "127.0.0.1", port: 9095 }]);
  assert.deepEqual(e.sinks.map((s) => s.url), ["stdout://", "file:///tmp/out"]);
  assert.equal(e.maxBytes, 256 * 1024 * 1024);
  assert.equal(e.graceMs, 3000);
  const f = await resolve([...base, "--max-bytes", "2GiB"], { WATCH_AUDITOR_EXPORTER_MAX_BYTES: "256MiB" });
  assert.ok(!(f instanceof Error));
  assert.equal(f.maxBytes, 2 * 1024 ** 3, "the flag wins over the env var");
});

test("bad values are refused naming the flag", async () => {
  const cases: [string[], RegExp][] = [
    [[...base, "--listen", "http://nope"], /--listen/],
    [[...base, "--socket-mode", "0666"], /every local user/],
    [[...base, "--socket-mode", "rw"], /octal/],
    [[...base, "--max-bytes", "1MiB", "--max-record-bytes", "1MiB"], /--max-record-bytes/],
    [[...base, "--max-bytes", "1KiB"], /--max-bytes/],
    [[...base, "--backoff-initial", "2s", "--backoff-max", "1s"], /--backoff-max/],
    [[...base, "--port", "70000"], /--port/],
    [[...base, "--batch-records", "0"], /--batch-records/],
    [[...base, "--dead-letter-max-bytes", "100"], /--dead-letter-max-bytes: must be at least 4096 bytes/],
    [["--listen", "unix:///tmp/x.sock", "--data-dir", "/tmp/x"], /--sink/],
  ];
  for (const [args, re] of cases) {
    const r = await resolve(args);
    assert.ok(r instanceof UsageError || r instanceof CommanderError, `${args.join(" ")}: expected a usage error, got ${String(r)}`);
    assert.match(r.message, re, args.join(" "));
  }
});

test("config file: values, precedence, and errors with file:line and field", async () => {
  const dir = await mkdtemp(join(tmpdir(), "wa-exp-cfg-"));
  try {
    const cfg = join(dir, "exporter.yaml");
    await writeFile(
      cfg,
      ["listen: [unix:///tmp/c.sock]", "dataDir: /tmp/c", "sinks:", "  - stdout://", "  - url: http://127.0.0.1:1/x", "    gzip: true", "maxBytes: 512MiB", "whenFull: drop-oldest", "backoffMax: 1m", "socketMode: \"0600\"", ""].join("\n"),
    );
    const c = await resolve(["--config", cfg, "--when-full", "drop-newest"]);
    assert.ok(!(c instanceof Error), String(c));
    assert.equal(c.maxBytes, 512 * 1024 * 1024);
    assert.equal(c.whenFull, "drop-newest", "the flag wins over the file");
    assert.equal(c.backoffMaxMs, 60_000);
    assert.equal(c.socketMode, 0o600);
    assert.deepEqual(c.sinks, [
      { url: "stdout://", options: {} },
      { url: "http://127.0.0.1:1/x", options: { gzip: true } },
    ]);
    const bad = join(dir, "bad.yaml");
    await writeFile(bad, "dataDir: /tmp/c\nmaxBytes: lots\n");
    assert.throws(() => loadConfigFile(bad), (e: Error) => e instanceof UsageError && e.message.startsWith(`${bad}:2: field "maxBytes"`));
    await writeFile(bad, "dataDir: /tmp/c\nmaxByte: 1MiB\n");
    assert.throws(() => loadConfigFile(bad), /unknown field "maxByte"/);
    await writeFile(bad, "dataDir: [unclosed\n");
    assert.throws(() => loadConfigFile(bad), new RegExp(`${bad}:\\d+: invalid YAML`));
    assert.throws(() => loadConfigFile(join(dir, "missing.yaml")), /--config .*missing.yaml: cannot read: ENOENT/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
