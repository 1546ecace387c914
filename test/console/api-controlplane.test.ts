// GET /api/console/controlplane/overview against a real Prometheus that scrapes the real
// `watch-auditor controlplane serve` (the test API server with a failing etcd check, a real etcd
// filled with known keys, a usage scan every 2 s). The exporter's forecast reads a database-size
// history backfilled into the same Prometheus (a straight line: 20 → 40 MiB over 2 h), so the
// expected "full in" follows from that line and etcd's quota. The --etcd-usage file is the JSON of
// the real `controlplane etcd-usage`. Expected values come from etcd itself (its key counts and
// sizes), the exporter's own /metrics, the backfilled line and the file, never from the console.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { Registry } from "prom-client";
import { OpsServer } from "../../src/core/http-server.js";
import { createLogger } from "../../src/core/logger.js";
import { controlplaneRoutes, type ControlPlaneOverview } from "../../src/console/api/controlplane.js";
import type { ConsoleContext } from "../../src/console/context.js";
import { STORAGE_PREFIXES, etcdSays } from "../controlplane/etcd-data.js";
import { parseExposition } from "./prometheus-support.js";
import { controlPlaneSources, QUOTA } from "./ops-sources.js";

test("control-plane overview from real controlplane serve metrics in a real Prometheus, plus the etcd-usage file", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "console-controlplane-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { etcd, prom, exporterPort, usageFile, usageJson, first, fullAt } = await controlPlaneSources(dir, (fn) => t.after(fn));
  const server = new OpsServer({ registry: new Registry(), port: 0, host: "127.0.0.1", routes: controlplaneRoutes({ prometheus: prom.url, etcdUsageFile: usageFile, log: createLogger("silent"), fetchTimeoutMs: 10_000 } satisfies ConsoleContext) });
  const port = await server.listen();
  t.after(() => server.close());
  const get = async (q = "") => {
    const res = await fetch(`http://127.0.0.1:${port}/api/console/controlplane/overview${q}`);
    return { status: res.status, body: (await res.json()) as ControlPlaneOverview & { error?: string } };
  };
  const r = await get();
  const exporter = parseExposition(await (await fetch(`http://127.0.0.1:${exporterPort}/metrics`)).text());
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const o = r.body;
  const series = (name: string) => exporter.filter((s) => s.name === `watch_auditor_controlplane_${name}`);

  // Health: the exporter's checks, failing first; the etcd check fails on /livez and /readyz.
  const want = series("health_check").map((s) => ({ endpoint: s.labels.endpoint!, check: s.labels.check!, ok: s.value === 1 }));
  const key = (h: { endpoint: string; check: string; ok: boolean }) => `${h.endpoint}/${h.check}=${h.ok}`;
  assert.deepEqual(o.health.map(key).sort(), want.map(key).sort());
  assert.ok(want.length > 10, `${want.length} checks`);
  assert.deepEqual(o.health.filter((h) => !h.ok).map((h) => `${h.endpoint}/${h.check}`).sort(), ["livez/etcd", "readyz/etcd"]);
  assert.deepEqual(o.health.slice(0, 2).map((h) => h.ok), [false, false], "failing checks first");
  assert.equal(o.apiserverUp, 1);
  assert.deepEqual(o.statusCodes, series("health_status_code").map((s) => ({ endpoint: s.labels.endpoint!, code: s.value })).sort((a, b) => a.endpoint.localeCompare(b.endpoint)));
  assert.deepEqual(o.statusCodes.map((s) => s.code), [500, 500]);

  // Database: etcd's quota as configured, the size the exporter read from etcd, the forecast of the line.
  assert.equal(o.database.quotaBytes, QUOTA);
  assert.equal(o.database.sizeBytes, series("database_size_bytes")[0]!.value);
  assert.ok(o.database.sizeBytes! > 0);
  assert.equal(o.database.usedRatio, o.database.sizeBytes! / QUOTA);
  const expectSeconds = fullAt - Date.parse(o.at) / 1000;
  assert.ok(Math.abs(o.database.fullSeconds! - expectSeconds) < 0.01 * expectSeconds + 120, `full in ${o.database.fullSeconds} s, the line says ${expectSeconds} s`);
  assert.ok(Math.abs(Date.parse(o.database.fullAt!) / 1000 - fullAt) < 0.01 * expectSeconds + 120);
  assert.ok(o.database.history.length >= 1 && o.database.history.every(([, v]) => v === o.database.sizeBytes), JSON.stringify(o.database.history));

  // etcd usage by resource: etcd's own counts of each storage prefix.
  assert.equal(o.etcd.complete, true);
  assert.ok(Math.abs(Date.parse(o.etcd.scannedAt!) - Date.now()) < 60_000);
  for (const [resource, prefix] of Object.entries(STORAGE_PREFIXES)) {
    const says = await etcdSays(etcd, prefix);
    assert.deepEqual(o.etcd.usage.find((u) => u.resource === resource), { resource, bytes: says.bytes, keys: says.keys }, resource);
  }
  assert.deepEqual(o.etcd.usage.map((u) => u.bytes), [...o.etcd.usage.map((u) => u.bytes)].sort((a, b) => b - a), "largest first");
  assert.deepEqual(o.sources.map((s) => s.source).sort(), [...new Set(series("scrape_errors_total").map((s) => s.labels.source!))].sort());

  // The etcd-usage file: by namespace (etcd's counts per namespace), pairs, the largest objects.
  const f = o.etcdUsageFile!;
  assert.equal(f.file, usageFile);
  assert.equal(f.scannedKeys, usageJson.scannedKeys);
  assert.deepEqual(f.namespaces.map((n) => [n.namespace, n.bytes, n.keys]), [...usageJson.namespaces].sort((a, b) => b.bytes - a.bytes).map((n) => [n.namespace, n.bytes, n.keys]));
  assert.deepEqual(f.pairs.find((p) => p.resource === "pods" && p.namespace === "ns-a"), { resource: "pods", namespace: "ns-a", ...(await etcdSays(etcd, "/registry/pods/ns-a/")) });
  assert.equal(f.largest[0]!.key, "/registry/configmaps/ns-b/big");
  assert.equal(f.largest.length, 5);

  // As of a time before the exporter ran: no exporter series then (the backfilled history is not its own).
  const before = await get(`?at=${(first + 600) * 1000}`);
  assert.equal(before.status, 200);
  assert.deepEqual([before.body.health.length, before.body.database.sizeBytes, before.body.apiserverUp], [0, null, null]);
  const bad = await get("?at=soon");
  assert.equal(bad.status, 400);
  assert.match(bad.body.error!, /query parameter at: not a time/);

  // A broken or missing etcd-usage file: 502 naming it.
  writeFileSync(join(dir, "broken.json"), "{not json");
  writeFileSync(join(dir, "other.json"), JSON.stringify({ hello: 1 }));
  for (const [file, re] of [
    [join(dir, "broken.json"), /not JSON/],
    [join(dir, "other.json"), /not the JSON of controlplane etcd-usage -o json/],
    [join(dir, "missing.json"), /ENOENT/],
  ] as const) {
    const s2 = new OpsServer({ registry: new Registry(), port: 0, host: "127.0.0.1", routes: controlplaneRoutes({ prometheus: prom.url, etcdUsageFile: file, log: createLogger("silent"), fetchTimeoutMs: 10_000 }) });
    const p2 = await s2.listen();
    const res = await fetch(`http://127.0.0.1:${p2}/api/console/controlplane/overview`);
    const body = (await res.json()) as { error: string };
    await s2.close();
    assert.equal(res.status, 502, file);
    assert.ok(body.error.startsWith(`--etcd-usage ${file}: `), body.error);
    assert.match(body.error, re);
  }
  // No Prometheus: 503 naming the flag.
  const s3 = new OpsServer({ registry: new Registry(), port: 0, host: "127.0.0.1", routes: controlplaneRoutes({ log: createLogger("silent"), fetchTimeoutMs: 1000 }) });
  const p3 = await s3.listen();
  t.after(() => s3.close());
  const none = await fetch(`http://127.0.0.1:${p3}/api/console/controlplane/overview`);
  assert.equal(none.status, 503);
  assert.match(((await none.json()) as { error: string }).error, /--prometheus URL/);
});
