// The control-plane view in a real browser (Debian's Chromium through playwright-core) against the
// real `watch-auditor console --prometheus URL --etcd-usage FILE`: Prometheus scrapes the real
// `controlplane serve` (test API server with a failing etcd check, a real etcd of known keys) and
// holds a database-size history the exporter's forecast is drawn from (test/console/ops-sources.ts).
// Expected figures: the exporter's /metrics, etcd's quota as configured, the backfilled line, the
// etcd-usage JSON.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { launchBrowser, newPage, screenshot, startConsole } from "../support/browser.js";
import { parseExposition } from "./prometheus-support.js";
import { controlPlaneSources } from "./ops-sources.js";
import { watchProblems } from "./browser-support-c.js";

test("control-plane view: failing health checks first, DB size against the quota with the forecast, etcd usage by resource and namespace, largest objects", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "console-controlplane-ui-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const src = await controlPlaneSources(dir, (fn) => t.after(fn));
  const con = await startConsole(["--prometheus", src.prom.url, "--etcd-usage", src.usageFile]);
  t.after(() => con.stop());
  const exporter = parseExposition(await (await fetch(`http://127.0.0.1:${src.exporterPort}/metrics`)).text());
  const series = (name: string) => exporter.filter((s) => s.name === `watch_auditor_controlplane_${name}`);

  const browser = await launchBrowser();
  t.after(() => browser.close());
  const page = await newPage(browser, { width: 1400, height: 1300 });
  const problems = watchProblems(page);
  await page.goto(`${con.url}?view=controlplane`);
  await page.getByTestId("health").waitFor({ timeout: 30_000 });

  // Health: every check the exporter reports, the two failing etcd checks first.
  const checks = series("health_check");
  const rows = page.getByTestId("health-row");
  assert.equal(await rows.count(), checks.length);
  assert.deepEqual(await rows.evaluateAll((els) => els.slice(0, 2).map((e) => [e.getAttribute("data-ok"), e.textContent])), [
    ["false", "/livezetcdfailed"],
    ["false", "/readyzetcdfailed"],
  ]);
  assert.equal(await page.getByTestId("health-summary").innerText(), `2 of ${checks.length} checks failing`);
  assert.equal(await page.getByTestId("apiserver-up").innerText(), "API server answers");

  // Database: etcd's 256 MiB quota; the forecast of the line (20 → 40 MiB in 2 h reaches 256 MiB
  // 84,960 s after its start: about 21.6 hours from now).
  assert.equal(await page.getByTestId("db-quota").innerText(), "256 MiB");
  const size = series("database_size_bytes")[0]!.value;
  assert.match(await page.getByTestId("db-ratio").innerText(), /^ \([\d.]+ %\)$/);
  const pct = Number(/([\d.]+) %/.exec(await page.getByTestId("db-ratio").innerText())![1]);
  assert.ok(Math.abs(pct - (size / (256 * 1024 * 1024)) * 100) < 0.06, `${pct} %`);
  const forecast = await page.getByTestId("db-forecast").innerText();
  const hours = Number(/^full in ~([\d.]+) hours/.exec(forecast)?.[1]);
  const expectHours = (src.fullAt - Date.now() / 1000) / 3600;
  assert.ok(Math.abs(hours - expectHours) < 0.3, `${forecast}: the line says ${expectHours.toFixed(2)} hours`);

  // etcd usage by resource: one row per resource the exporter's scan found, largest first.
  const usage = series("etcd_usage_bytes").sort((a, b) => b.value - a.value);
  const resourceRows = page.getByTestId("usage-resource-row");
  assert.equal(await resourceRows.count(), usage.length);
  assert.deepEqual(await resourceRows.evaluateAll((els) => els.map((e) => Number(e.querySelector("[data-bytes]")!.getAttribute("data-bytes")))), usage.map((s) => s.value));
  assert.deepEqual(await resourceRows.evaluateAll((els) => els.map((e) => e.firstElementChild!.textContent)), usage.map((s) => s.labels.resource));
  // From the file: namespaces (largest first), largest objects.
  const ns = [...src.usageJson.namespaces].sort((a, b) => b.bytes - a.bytes);
  assert.deepEqual(await page.getByTestId("usage-namespace-row").evaluateAll((els) => els.map((e) => e.firstElementChild!.textContent)), ns.map((n) => n.namespace));
  const largest = page.getByTestId("largest-row");
  assert.equal(await largest.count(), src.usageJson.largest.length);
  assert.deepEqual(await largest.first().evaluate((e) => [...e.children].slice(0, 3).map((c) => c.textContent)), ["configmaps", "ns-b", "big"]);
  await screenshot(page, "controlplane");

  // As of a moment before the exporter ran (the URL's `at`): no exporter data then, and the page says so.
  await page.goto(`${con.url}?view=controlplane&at=${(src.first + 600) * 1000}`);
  await page.getByText("Prometheus has no watch_auditor_controlplane_* series").waitFor({ timeout: 30_000 });
  assert.equal(await page.getByTestId("health-row").count(), 0);
  assert.deepEqual(problems(), []);
});
