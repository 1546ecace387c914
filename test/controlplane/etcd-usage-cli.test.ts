// `watch-auditor controlplane etcd-usage` as a real process (dist/, built by `npm test`) against a
// real etcd: JSON and table output equal to what etcd says for the same prefixes, bad flags named
// with exit 2, an unreachable etcd with exit 1 and a message, mTLS through the flags.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../support/cli.js";
import { startEtcd, freePorts, type EtcdServer } from "../support/etcd.js";
import { PassThrough } from "node:stream";
import type { EtcdUsage } from "../../src/controlplane/etcd/index.js";
import { runEtcdUsage } from "../../src/cli/controlplane-etcd-usage.js";
import { STORAGE_PREFIXES, etcdSays, fill, makeCerts } from "./etcd-data.js";

describe("controlplane etcd-usage (CLI)", () => {
  let etcd: EtcdServer;
  let dir: string;
  let certs: ReturnType<typeof makeCerts>;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "etcd-usage-cli-"));
    certs = makeCerts(dir);
    etcd = await startEtcd({ tls: { certFile: certs.serverCert, keyFile: certs.serverKey, trustedCaFile: certs.ca, clientCertAuth: true } });
    await fill(etcd);
  });
  after(async () => {
    await etcd?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("--output json: per resource, namespace, pair and the largest objects, equal to etcd's counts", async () => {
    const r = await runCli(["controlplane", "etcd-usage", "--etcd-endpoints", etcd.clientUrl, "--output", "json", "--top", "3", "--page-size", "7"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "", "no progress bar when stderr is not a terminal");
    const u = JSON.parse(r.stdout) as EtcdUsage;
    assert.equal(u.complete, true);
    assert.equal(u.pageSize, 7);
    const total = await etcdSays(etcd, "/registry/");
    assert.deepEqual({ keys: u.scannedKeys, bytes: u.scannedBytes }, total);
    for (const [resource, prefix] of Object.entries(STORAGE_PREFIXES)) assert.deepEqual(u.resources.find((x) => x.resource === resource), { resource, ...(await etcdSays(etcd, prefix)) }, resource);
    assert.deepEqual(u.pairs.find((p) => p.resource === "pods" && p.namespace === "ns-a"), { resource: "pods", namespace: "ns-a", ...(await etcdSays(etcd, "/registry/pods/ns-a/")) });
    assert.equal(u.largest.length, 3, "--top 3 keeps three largest objects");
    assert.equal(u.largest[0]!.key, "/registry/configmaps/ns-b/big");
    for (const f of ["resources", "namespaces", "pairs", "largest", "latency", "durationMs", "keysPerSecond"]) assert.ok(f in u, f);
  });

  test("table output: one row per resource with etcd's key count, the totals line, the largest objects", async () => {
    const r = await runCli(["controlplane", "etcd-usage", "--etcd-endpoints", etcd.clientUrl, "--top", "50"]);
    assert.equal(r.code, 0, r.stderr);
    const total = await etcdSays(etcd, "/registry/");
    assert.match(r.stdout, new RegExp(`^etcd ${etcd.clientUrl.replace(/\./g, "\\.")}, prefix /registry/ at revision \\d+: ${total.keys} keys, `));
    for (const [resource, prefix] of Object.entries(STORAGE_PREFIXES)) {
      const want = await etcdSays(etcd, prefix);
      assert.match(r.stdout, new RegExp(`^${resource.replace(/\./g, "\\.")}\\s+${want.keys}\\s+\\S+ \\S+\\s+[\\d.]+%$`, "m"), resource);
    }
    assert.match(r.stdout, /^By namespace \(cluster-scoped objects: \d+ keys, /m);
    assert.match(r.stdout, /^pods\s+ns-a\s+2\s/m);
    assert.match(r.stdout, /^Largest objects\n\s*BYTES\s+KEY\n\s*93\.8 KiB\s+\/registry\/configmaps\/ns-b\/big$/m);
    assert.match(r.stdout, /^etcd latency \(serializable get every 50 ms\): idle p50 [\d.]+ ms/m);
  });

  test("over mTLS with --etcd-cacert/--etcd-cert/--etcd-key; without the client certificate it fails with exit 1 and a hint", async () => {
    const ok = await runCli(["controlplane", "etcd-usage", "--etcd-endpoints", etcd.secureClientUrl!, "--etcd-cacert", certs.ca, "--etcd-cert", certs.clientCert, "--etcd-key", certs.clientKey, "-o", "json"]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal((JSON.parse(ok.stdout) as EtcdUsage).scannedKeys, (await etcdSays(etcd, "/registry/")).keys);
    const refused = await runCli(["controlplane", "etcd-usage", "--etcd-endpoints", etcd.secureClientUrl!, "--etcd-cacert", certs.ca, "--etcd-timeout", "2000"]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^error: etcd-usage is partial \(0 keys read\): etcd https:\/\/127\.0\.0\.1:\d+: UNAVAILABLE: .*--etcd-cert\/--etcd-key/m);
    assert.match(refused.stdout, /^PARTIAL: the scan stopped early/m);
  });

  test("a progress bar on stderr when it is a terminal (the command's run function with a TTY-flagged stderr)", async () => {
    const stdout = new PassThrough();
    const stderr = Object.assign(new PassThrough(), { isTTY: true });
    let out = "";
    let err = "";
    stdout.on("data", (d: Buffer) => (out += d.toString()));
    stderr.on("data", (d: Buffer) => (err += d.toString()));
    const code = await runEtcdUsage(
      { etcdEndpoints: etcd.clientUrl, etcdTimeout: 5000, prefix: "/registry/", pageSize: 10, maxKeysPerSecond: 1000, top: 5, output: "json" },
      { stdout, stderr },
    );
    assert.equal(code, 0);
    const total = (await etcdSays(etcd, "/registry/")).keys;
    const frames = err.split("\r").filter((f) => f !== "");
    const u = JSON.parse(out) as EtcdUsage;
    assert.equal(frames.length, u.pages, `one frame per range request: ${JSON.stringify(err)}`);
    assert.ok(u.pages >= Math.ceil(total / 10));
    assert.match(frames[0]!, new RegExp(`^\\[#+-+\\] 10/${total} keys, `));
    assert.match(frames[frames.length - 1]!, new RegExp(`^\\[#{30}\\] ${total}/${total} keys, .*\n$`));
    assert.equal(u.scannedKeys, total, "stdout carries only the result");
  });

  test("unreachable etcd: exit 1, the endpoint and the reason on stderr, JSON says complete: false", async () => {
    const [port] = await freePorts(1);
    const url = `http://127.0.0.1:${port}`;
    const r = await runCli(["controlplane", "etcd-usage", "--etcd-endpoints", url, "--etcd-timeout", "1000", "-o", "json"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`error: etcd-usage is partial \\(0 keys read\\): etcd ${url.replace(/\./g, "\\.")}: UNAVAILABLE: .*ECONNREFUSED`));
    const u = JSON.parse(r.stdout) as EtcdUsage;
    assert.equal(u.complete, false);
    assert.equal(u.scannedKeys, 0);
  });

  const bad: Array<[string[], RegExp]> = [
    [[], /--etcd-endpoints is required/],
    [["--etcd-endpoints", "ftp://x:1"], /--etcd-endpoints: "ftp:\/\/x:1": scheme must be http or https/],
    [["--etcd-endpoints", "http://a:1,https://b:2"], /--etcd-endpoints: mixes http and https/],
    [["--etcd-endpoints", "https://x:1", "--etcd-cacert", "/nonexistent/ca.pem"], /--etcd-cacert \/nonexistent\/ca\.pem: no such file/],
    [["--etcd-endpoints", "https://x:1", "--etcd-cert", "/etc/hostname"], /--etcd-cert given without --etcd-key/],
    [["--etcd-endpoints", "http://x:1", "--page-size", "0"], /option '--page-size <n>' argument '0' is invalid/],
    [["--etcd-endpoints", "http://x:1", "--page-size", "100000"], /option '--page-size <n>' argument '100000' is invalid/],
    [["--etcd-endpoints", "http://x:1", "--max-keys-per-second", "fast"], /option '--max-keys-per-second <n>' argument 'fast' is invalid/],
    [["--etcd-endpoints", "http://x:1", "--top", "-1"], /option '--top <n>' argument '-1' is invalid/],
    [["--etcd-endpoints", "http://x:1", "--output", "xml"], /option '-o, --output <format>' argument 'xml' is invalid/],
    [["--etcd-endpoints", "http://x:1", "--bogus"], /unknown option '--bogus'/],
  ];
  for (const [args, message] of bad)
    test(`bad flags exit 2 naming the flag: ${args.join(" ") || "(none)"}`, async () => {
      const r = await runCli(["controlplane", "etcd-usage", ...args]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stdout, "");
    });
});
