// etcdStatus and registerEtcdMetrics against real etcd members (test/support/etcd.ts): status over
// the etcd3 gRPC client compared with etcd's own JSON gateway, the quota from /metrics, a NOSPACE
// alarm raised by really filling a small quota, failing endpoints, and mTLS with certificates made
// by openssl for the test.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Registry } from "prom-client";
import { startEtcd, freePorts, type EtcdServer } from "../support/etcd.js";
import { etcdStatus, registerEtcdMetrics, scanEtcdUsage } from "../../src/controlplane/etcd/index.js";
import { fill, makeCerts, settled } from "./etcd-data.js";

const hex = (decimal: string): string => BigInt(decimal).toString(16);

/** Sample value of `name{labels}` in Prometheus text (labels in the order prom-client writes them). */
function sample(text: string, name: string, labels = ""): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

function promtoolCheck(text: string): string {
  try {
    return execFileSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(`promtool check metrics failed:\n${e.stdout ?? ""}${e.stderr ?? ""}`);
  }
}

describe("etcd status on a real etcd", () => {
  let etcd: EtcdServer;
  let full: EtcdServer;
  let deadUrl: string;
  before(async () => {
    [etcd, full] = await Promise.all([startEtcd({ metrics: true, quotaBackendBytes: 64 << 20 }), startEtcd({ quotaBackendBytes: 1 << 20 })]);
    await fill(etcd);
    // fill the 1 MiB quota until etcd raises its NOSPACE alarm
    for (let i = 0; ; i++) {
      try {
        await full.client.put(`/registry/configmaps/a/c${i}`, "x".repeat(100_000));
      } catch (err) {
        assert.match((err as Error).message, /database space exceeded/);
        break;
      }
      assert.ok(i < 100, "etcd never said its quota was exceeded");
    }
    deadUrl = `http://127.0.0.1:${(await freePorts(1))[0]}`;
    await Promise.all([settled(etcd), settled(full)]);
  });
  after(async () => {
    await Promise.all([etcd?.close(), full?.close()]);
  });

  test("status over gRPC equals etcd's own answer over the JSON gateway; quota from /metrics", async () => {
    const r = await etcdStatus({ endpoints: [etcd.clientUrl], metricsUrls: [etcd.metricsUrl!] });
    const gw = await etcd.client.status();
    assert.equal(r.ok, true);
    assert.deepEqual(r.alarms, []);
    const s = r.endpoints[0]!;
    assert.equal(s.endpoint, etcd.clientUrl);
    assert.equal(s.ok, true);
    assert.equal(s.error, undefined);
    assert.equal(s.dbSizeBytes, gw.dbSize);
    assert.equal(s.dbSizeInUseBytes, gw.dbSizeInUse);
    assert.equal(s.version, "3.4.23");
    assert.equal(s.memberId, hex(gw.header.memberId));
    assert.equal(s.leaderId, hex(gw.leader));
    assert.equal(s.isLeader, true);
    assert.ok(s.raftIndex! > 0 && s.raftIndex! <= gw.raftIndex, `${s.raftIndex} then ${gw.raftIndex}`);
    assert.equal(s.raftTerm, gw.raftTerm);
    assert.equal(s.quotaBytes, 64 << 20);
    assert.equal(r.quotaBytes, 64 << 20);
    assert.equal(r.dbSizeBytes, gw.dbSize);
    // without metricsUrls, /metrics is read from the client URL itself
    const viaClient = await etcdStatus({ endpoints: [etcd.clientUrl] });
    assert.equal(viaClient.endpoints[0]!.quotaBytes, 64 << 20);
  });

  test("a NOSPACE alarm is reported with the member that raised it; the cluster is not ok", async () => {
    const gw = await full.client.status();
    assert.deepEqual(gw.errors, [`memberID:${gw.header.memberId} alarm:NOSPACE `], "etcd itself says NOSPACE");
    const r = await etcdStatus({ endpoints: [full.clientUrl] });
    assert.deepEqual(r.alarms, [{ memberId: hex(gw.header.memberId), alarm: "NOSPACE" }]);
    assert.equal(r.ok, false);
    assert.equal(r.endpoints[0]!.ok, true);
    assert.equal(r.endpoints[0]!.quotaBytes, 1 << 20);
  });

  test("an endpoint with nothing listening is a row with the reason; the others are still read", async () => {
    const t0 = Date.now();
    const r = await etcdStatus({ endpoints: [etcd.clientUrl, deadUrl], timeoutMs: 1500 });
    assert.ok(Date.now() - t0 < 5000);
    assert.equal(r.ok, false);
    assert.equal(r.endpoints[0]!.ok, true);
    assert.equal(r.endpoints[1]!.endpoint, deadUrl);
    assert.equal(r.endpoints[1]!.ok, false);
    assert.match(r.endpoints[1]!.error ?? "", /^UNAVAILABLE: .*ECONNREFUSED/);
    assert.match(r.endpoints[1]!.metricsError ?? "", /ECONNREFUSED/);
    assert.equal(r.endpoints[1]!.dbSizeBytes, undefined);
  });

  test("metrics: gauges per endpoint, a failing endpoint is up 0 and counted, promtool-clean; usage gauges from a scan", async () => {
    const registry = new Registry();
    const m = registerEtcdMetrics(registry, { endpoints: [etcd.clientUrl, full.clientUrl, deadUrl], metricsUrls: [etcd.metricsUrl!, `${full.clientUrl}/metrics`, deadUrl], timeoutMs: 1500 });
    const first = await m.refresh();
    assert.deepEqual(first?.endpoints.map((e) => [e.endpoint, e.ok]), [[etcd.clientUrl, true], [full.clientUrl, true], [deadUrl, false]], "refresh resolves to the status it read");
    await m.refresh();
    const text = await registry.metrics();
    promtoolCheck(text);
    const P = "watch_auditor_controlplane_etcd_";
    const gw = await etcd.client.status();
    const e = (u: string): string => `{endpoint="${u}"}`;
    assert.equal(sample(text, P + "up", e(etcd.clientUrl)), 1);
    assert.equal(sample(text, P + "up", e(full.clientUrl)), 1);
    assert.equal(sample(text, P + "up", e(deadUrl)), 0);
    assert.equal(sample(text, P + "errors_total", `{endpoint="${deadUrl}",what="status"}`), 2);
    assert.equal(sample(text, P + "errors_total", `{endpoint="${deadUrl}",what="metrics"}`), 2);
    assert.equal(sample(text, P + "errors_total", `{endpoint="${etcd.clientUrl}",what="status"}`), 0);
    assert.equal(sample(text, P + "db_size_bytes", e(etcd.clientUrl)), gw.dbSize);
    assert.equal(sample(text, P + "db_size_in_use_bytes", e(etcd.clientUrl)), gw.dbSizeInUse);
    assert.equal(sample(text, P + "db_size_bytes", e(deadUrl)), undefined, "no stale size for a failing endpoint");
    assert.equal(sample(text, P + "quota_backend_bytes", e(etcd.clientUrl)), 64 << 20);
    assert.equal(sample(text, P + "quota_backend_bytes", e(full.clientUrl)), 1 << 20);
    assert.equal(sample(text, P + "is_leader", e(etcd.clientUrl)), 1);
    assert.ok(sample(text, P + "raft_index", e(etcd.clientUrl))! > 0);
    // the alarm list is cluster-wide: every member that answered shows it
    assert.equal(sample(text, P + "alarm", `{endpoint="${full.clientUrl}",alarm="NOSPACE"}`), 1);
    assert.equal(sample(text, P + "alarm", `{endpoint="${full.clientUrl}",alarm="CORRUPT"}`), 0);

    const u = await scanEtcdUsage({ endpoints: [etcd.clientUrl] }, { idleProbeMs: 0 });
    m.recordUsage(u);
    const after = await registry.metrics();
    promtoolCheck(after);
    assert.ok(u.resources.length > 5);
    for (const r of u.resources) {
      assert.equal(sample(after, P + "usage_bytes", `{resource="${r.resource}"}`), r.bytes, r.resource);
      assert.equal(sample(after, P + "usage_keys", `{resource="${r.resource}"}`), r.keys, r.resource);
    }
    assert.equal(sample(after, P + "usage_complete"), 1);
  });

  test("a frozen etcd (SIGSTOP): refresh returns within the deadline with up 0", async () => {
    const frozen = await startEtcd();
    try {
      const registry = new Registry();
      const m = registerEtcdMetrics(registry, { endpoints: [frozen.clientUrl], timeoutMs: 700 });
      await m.refresh();
      const before = await registry.metrics();
      assert.equal(sample(before, "watch_auditor_controlplane_etcd_up", `{endpoint="${frozen.clientUrl}"}`), 1);
      assert.equal(sample(before, "watch_auditor_controlplane_etcd_alarm", `{endpoint="${frozen.clientUrl}",alarm="NOSPACE"}`), 0);
      await frozen.pause();
      const t0 = Date.now();
      await m.refresh();
      assert.ok(Date.now() - t0 < 4000, `refresh took ${Date.now() - t0} ms`);
      const text = await registry.metrics();
      assert.equal(sample(text, "watch_auditor_controlplane_etcd_up", `{endpoint="${frozen.clientUrl}"}`), 0);
      assert.equal(sample(text, "watch_auditor_controlplane_etcd_errors_total", `{endpoint="${frozen.clientUrl}",what="status"}`), 1);
      assert.equal(sample(text, "watch_auditor_controlplane_etcd_alarm", `{endpoint="${frozen.clientUrl}",alarm="NOSPACE"}`), undefined, "no stale alarm state for a member that does not answer");
      assert.equal(sample(text, "watch_auditor_controlplane_etcd_db_size_bytes", `{endpoint="${frozen.clientUrl}"}`), undefined);
      const r = await etcdStatus({ endpoints: [frozen.clientUrl], timeoutMs: 700 });
      assert.match(r.endpoints[0]!.error ?? "", /DEADLINE_EXCEEDED/);
      await frozen.resume();
    } finally {
      await frozen.close();
    }
  });
});

describe("etcd over mTLS (etcd --client-cert-auth, certificates from openssl)", () => {
  let dir: string;
  let certs: ReturnType<typeof makeCerts>;
  let etcd: EtcdServer;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "etcd-mtls-"));
    certs = makeCerts(dir);
    etcd = await startEtcd({ tls: { certFile: certs.serverCert, keyFile: certs.serverKey, trustedCaFile: certs.ca, clientCertAuth: true } });
    await fill(etcd);
    await settled(etcd);
  });
  after(async () => {
    await etcd?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("with the client certificate: status, quota (from the https /metrics) and the scan work, and equal the plain-http answers", async () => {
    assert.match(etcd.secureClientUrl ?? "", /^https:\/\/127\.0\.0\.1:\d+$/);
    const conn = { endpoints: [etcd.secureClientUrl!], cacert: certs.ca, cert: certs.clientCert, key: certs.clientKey };
    const r = await etcdStatus(conn);
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal(r.endpoints[0]!.quotaBytes, 2 * 1024 ** 3, "etcd's default quota, read over https with the client certificate");
    assert.equal(r.endpoints[0]!.dbSizeBytes, (await etcd.client.status()).dbSize);
    const overTls = await scanEtcdUsage(conn, { idleProbeMs: 0 });
    const plain = await scanEtcdUsage({ endpoints: [etcd.clientUrl] }, { idleProbeMs: 0 });
    assert.equal(overTls.complete, true, overTls.error);
    assert.ok(overTls.scannedKeys > 20);
    assert.deepEqual(overTls.resources, plain.resources);
    assert.deepEqual(overTls.pairs, plain.pairs);
  });

  test("without a client certificate, or trusting the wrong CA: refused, with a hint naming the flag", async () => {
    const noCert = await etcdStatus({ endpoints: [etcd.secureClientUrl!], cacert: certs.ca, timeoutMs: 2000 });
    assert.equal(noCert.ok, false);
    assert.match(noCert.endpoints[0]!.error ?? "", /UNAVAILABLE.*--etcd-cert\/--etcd-key/);
    const scan = await scanEtcdUsage({ endpoints: [etcd.secureClientUrl!], cacert: certs.ca, timeoutMs: 2000 }, { idleProbeMs: 0 });
    assert.equal(scan.complete, false);
    assert.equal(scan.scannedKeys, 0);
    assert.match(scan.error ?? "", /--etcd-cert\/--etcd-key/);
    const wrongCa = await etcdStatus({ endpoints: [etcd.secureClientUrl!], cacert: certs.otherCa, cert: certs.clientCert, key: certs.clientKey, timeoutMs: 2000 });
    assert.equal(wrongCa.ok, false);
    assert.match(wrongCa.endpoints[0]!.error ?? "", /--etcd-cacert/);
  });
});
