import { test } from "node:test";
import assert from "node:assert/strict";
import { runCli } from "../support/cli.js";

test("unknown command and unknown options exit 2 and name the culprit", async () => {
  const r = await runCli(["frobnicate"]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /frobnicate/);
  const r2 = await runCli(["audit", "policy", "lint", "--bogus"]);
  assert.equal(r2.code, 2, r2.stderr);
  assert.match(r2.stderr, /--bogus/);
});

test("--version prints the package version and --help lists every command", async () => {
  const v = await runCli(["--version"]);
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^\d+\.\d+\.\d+/);
  const h = await runCli(["--help"]);
  assert.equal(h.code, 0);
  for (const c of ["serve", "exporter", "audit", "flows", "dashboards", "install"]) assert.match(h.stdout, new RegExp(`^  ${c}\\b`, "m"), `help lists ${c}`);
});
