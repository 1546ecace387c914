// Bad input to `watch-auditor serve` exits 2 with a message naming the flag or field.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../support/cli.js";

test("invalid flag values exit 2 and name the flag", async () => {
  const cases: [string[], RegExp][] = [
    [["--mode", "foo"], /--mode.*must be one of audit, enforcing, got "foo"/],
    [["--every", "0s"], /--every.*must be greater than 0/],
    [["--port", "70000"], /--port.*between 0 and 65535/],
    [["--failure-threshold", "0"], /--failure-threshold.*between 1 and 1000/],
    [["--log-level", "loud"], /--log-level.*must be one of debug, info, error/],
    [["--controller-selector", "app in (x)"], /--controller-selector.*equality label selector/],
    [["--lease-duration", "5s", "--renew-deadline", "10s"], /--renew-deadline .* must be shorter than --lease-duration/],
  ];
  // A few at a time: the 2 shared cores also run everyone else's tests.
  for (let i = 0; i < cases.length; i += 4) {
    await Promise.all(
      cases.slice(i, i + 4).map(async ([args, re]) => {
        const r = await runCli(["serve", ...args], { env: { KUBECONFIG: "/nonexistent" } });
        assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
        assert.match(r.stderr, re, args.join(" "));
      }),
    );
  }
});

test("environment variables are validated like flags", async () => {
  const r = await runCli(["serve"], { env: { WATCH_AUDITOR_MODE: "foo" } });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--mode.*"foo"/);
});

test("a bad --config names the file and field; a bad kubeconfig names the file", async () => {
  const dir = await mkdtemp(join(tmpdir(), "serve-flags-"));
  try {
    const file = join(dir, "probes.yaml");
    await writeFile(file, "probes:\n  - name: a\n    canary:\n      deadline: soon\n");
    const r = await runCli(["serve", "--config", file]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`config ${file}: probes\\[0\\]\\.canary\\.deadline: invalid duration "soon"`));
    const r2 = await runCli(["serve", "--kubeconfig", join(dir, "missing.yaml"), "--leader-elect", "false"]);
    assert.equal(r2.code, 2, r2.stderr);
    assert.match(r2.stderr, /missing\.yaml/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("--help lists the published flags", async () => {
  const r = await runCli(["serve", "--help"]);
  assert.equal(r.code, 0);
  for (const f of ["-e, --every", "-f, --failure-threshold", "-l, --log-level", "-m, --mode", "-p, --port", "-h, --help"]) assert.ok(r.stdout.includes(f), f);
  assert.match(r.stdout, /--every <duration> +Interval to check \(default: 30s/);
});
