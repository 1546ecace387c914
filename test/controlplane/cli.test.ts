// `controlplane report` when the API server cannot be reached, and how bad invocations end: through
// the real CLI. Unreachable is its own state and exit code (3), never a crash; a usage error is 2.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../support/cli.js";
import { reportJson, startCluster } from "./support.js";

/** A loopback port nothing listens on (bound, then closed). */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function kubeconfigFor(dir: string, server: string): Promise<string> {
  const path = join(dir, "kubeconfig");
  await writeFile(
    path,
    JSON.stringify({ apiVersion: "v1", kind: "Config", clusters: [{ name: "c", cluster: { server } }], users: [{ name: "u", user: { token: "t" } }], contexts: [{ name: "x", context: { cluster: "c", user: "u" } }], "current-context": "x" }),
    { mode: 0o600 },
  );
  return path;
}

test("unreachable API server: state 'unreachable' for both endpoints, apiserver reported unreachable, exit 3 (JSON and table)", async () => {
  const dir = await mkdtemp(join(tmpdir(), "controlplane-cli-"));
  try {
    const kc = await kubeconfigFor(dir, `http://127.0.0.1:${await closedPort()}`);
    const { r, json } = await reportJson(kc, ["--timeout", "2s"]);
    assert.ok(json, r.stderr);
    assert.equal(r.code, 3);
    assert.equal(r.stderr, "", "no crash, nothing on stderr");
    assert.equal(json.reachable, false);
    for (const e of ["livez", "readyz"]) {
      assert.equal(json.checks[e].state, "unreachable");
      assert.equal(json.checks[e].status, undefined);
      assert.match(json.checks[e].error, /ECONNREFUSED/);
    }
    assert.equal(json.objects, null);
    assert.equal(json.nodes, null);
    assert.ok(json.problems.some((p: string) => p.startsWith("livez: API server unreachable:")));
    const table = await runCli(["controlplane", "report", "--kubeconfig", kc, "--timeout", "2s"]);
    assert.equal(table.code, 3);
    assert.match(table.stdout, /: UNREACHABLE\n/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("usage errors exit 2 naming the flag or file", async () => {
  const dir = await mkdtemp(join(tmpdir(), "controlplane-cli-"));
  try {
    const kc = await kubeconfigFor(dir, "http://127.0.0.1:1");
    const cases: [string[], RegExp][] = [
      [["controlplane", "report", "--kubeconfig", kc, "--output", "xml"], /--output.*xml/s],
      [["controlplane", "report", "--kubeconfig", join(dir, "missing")], /missing/],
      [["controlplane", "report", "--kubeconfig", kc, "--db-threshold", "150"], /--db-threshold/],
      [["controlplane", "report", "--kubeconfig", kc, "--prometheus", "not a url"], /--prometheus/],
      [["controlplane", "report", "--kubeconfig", kc, "--etcd-cert", "c.pem"], /--etcd-cert and --etcd-key go together/],
      [["controlplane", "serve", "--kubeconfig", kc, "--port", "70000"], /--port/],
      [["controlplane", "serve", "--kubeconfig", kc, "--interval", "soon"], /--interval/],
    ];
    const results = await Promise.all(cases.map(([args]) => runCli(args, { timeoutMs: 30_000 })));
    results.forEach((r, i) => {
      assert.equal(r.code, 2, `${cases[i]![0].join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, cases[i]![1]);
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a token the server rejects: reachable, every endpoint an 'error' naming HTTP 401, exit 1 (not 3)", async () => {
  const cluster = await startCluster({ authz: "rbac" });
  try {
    const kc = cluster.api.writeKubeconfig(cluster.dir, { token: "not-a-known-token", user: "stranger" });
    const { r, json } = await reportJson(kc);
    assert.ok(json, r.stderr);
    assert.equal(json.reachable, true);
    for (const e of ["livez", "readyz"]) {
      assert.equal(json.checks[e].state, "error");
      assert.equal(json.checks[e].status, 401);
      assert.match(json.checks[e].error, /^HTTP 401/);
    }
    assert.equal(r.code, 1);
  } finally {
    await cluster.close();
  }
});
