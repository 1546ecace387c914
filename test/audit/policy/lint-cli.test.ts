// `audit policy lint` through the real CLI process (dist/, built by `npm test`).
import { test } from "node:test";
import assert from "node:assert/strict";
import { runCli } from "../../support/cli.js";
import { SLOW, scratchDir } from "./cli-support.js";

const DOCS_EXAMPLE = new URL("./fixtures/kubernetes-docs-audit-policy.yaml", import.meta.url).pathname;

const scratch = scratchDir("audit-policy-lint-cli-");
const policyFile = scratch.policyFile;

test("lint CLI: the Kubernetes docs example exits 0", async () => {
  const r = await runCli(["audit", "policy", "lint", DOCS_EXAMPLE], SLOW);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /0 errors, 0 warnings, 0 infos/);
});

test("lint CLI: errors are reported as file:line:col with the rule path, exit 1", async () => {
  const p = await policyFile(
    "bad.yaml",
    ["apiVersion: audit.k8s.io/v1", "kind: Policy", "rules:", "- level: Metadata", "  resources:", "  - group: apps", "    resources: [pods]", '  - group: "*"', "- level: Metadata", "  resource: [x]", ""].join("\n"),
  );
  const [r, j] = await Promise.all([runCli(["audit", "policy", "lint", p], SLOW), runCli(["audit", "policy", "lint", "--output", "json", p], SLOW)]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, new RegExp(`${p}:7:17: warning \\[core-resource-wrong-group\\] rules\\[0\\]\\.resources\\[0\\]\\.resources\\[0\\]: `));
  assert.match(r.stdout, new RegExp(`${p}:8:12: error \\[wildcard-group\\] rules\\[0\\]\\.resources\\[1\\]\\.group`));
  assert.match(r.stdout, new RegExp(`${p}:10:3: error \\[unknown-field\\] rules\\[1\\]\\.resource`));
  assert.match(r.stdout, /2 errors, 1 warning, 0 infos/);

  assert.equal(j.code, 1);
  assert.ok(j.stdout.length > 0, `no JSON on stdout; stderr: ${j.stderr}`);
  const out = JSON.parse(j.stdout) as { summary: Record<string, number>; findings: { code: string; rule?: number; line: number; file: string }[] };
  assert.deepEqual(out.summary, { error: 2, warning: 1, info: 0 });
  assert.deepEqual(
    out.findings.map((f) => [f.code, f.rule, f.line]),
    [
      ["core-resource-wrong-group", 0, 7],
      ["wildcard-group", 0, 8],
      ["unknown-field", 1, 10],
    ],
  );
  assert.equal(out.findings[0]!.file, p);
});

test("lint CLI: warnings exit 0, or 1 with --strict", async () => {
  const p = await policyFile("warn.yaml", 'apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n  resources:\n  - group: ""\n    resources: [deployments]\n- level: Metadata\n');
  const [plain, strict] = await Promise.all([runCli(["audit", "policy", "lint", p], SLOW), runCli(["audit", "policy", "lint", "--strict", p], SLOW)]);
  assert.equal(plain.code, 0, plain.stdout);
  assert.match(plain.stdout, /warning \[resource-wrong-group\]/);
  assert.equal(strict.code, 1);
});

test("lint CLI: a YAML syntax error exits 1 with file:line:col", async () => {
  const p = await policyFile("syntax.yaml", "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n  verbs: [get\n");
  const r = await runCli(["audit", "policy", "lint", p], SLOW);
  assert.equal(r.code, 1);
  assert.match(r.stdout, new RegExp(`${p}:\\d+:\\d+: error \\[yaml-syntax\\]: YAML syntax error`));
});

test("lint CLI: a missing file or a bad flag exits 2 naming it", async () => {
  const [missing, flag] = await Promise.all([runCli(["audit", "policy", "lint", scratch.path("nope.yaml")], SLOW), runCli(["audit", "policy", "lint", "--output", "xml", DOCS_EXAMPLE], SLOW)]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /nope\.yaml/);
  assert.equal(flag.code, 2);
  assert.match(flag.stderr, /--output/);
});
