import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";

// The README's command reference is generated from --help; this keeps it from going stale.
test("README command reference equals the CLI's --help output", () => {
  const r = spawnSync(process.execPath, ["scripts/readme-cli.mjs", "--check"], { encoding: "utf8" });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  assert.match(r.stdout, /matches --help of \d+ commands/);
});
