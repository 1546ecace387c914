// The traffic view in a real browser (Debian's Chromium through playwright-core) against the real
// `watch-auditor console --prometheus URL`, the Prometheus holding the real `flows` output over the
// Hubble and Tetragon samples (test/console/ops-sources.ts). The page draws what the graph API
// answers (checked against the flows' own /metrics in api-traffic.test.ts): one SVG node per
// workload, one edge per pair, red exactly where the error ratio is over 5 %; the namespace filter
// goes into the URL, the back button undoes it, and a pasted link opens the same view.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { launchBrowser, newPage, screenshot, startConsole } from "../support/browser.js";
import type { TrafficGraph } from "../../src/console/api/traffic.js";
import { flowsPrometheus } from "./ops-sources.js";
import { countIs, watchProblems } from "./browser-support-c.js";

test("traffic view: workload graph, red edges, namespace filter in the URL, back button, link round trip, edges of a clicked workload", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "console-traffic-ui-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { prom, end } = await flowsPrometheus(dir);
  t.after(() => prom.stop());
  const con = await startConsole(["--prometheus", prom.url]);
  t.after(() => con.stop());
  const at = new Date(end * 1000).toISOString();
  const api = async (q: Record<string, string>) => (await (await fetch(`${con.url}api/console/traffic/graph?${new URLSearchParams({ window: "5m", at, ...q })}`)).json()) as TrafficGraph;
  const all = await api({});
  const kube = await api({ ns: "kube-system" });
  assert.ok(all.edges.length > kube.edges.length && kube.edges.length > 0);

  const browser = await launchBrowser();
  t.after(() => browser.close());
  const page = await newPage(browser);
  const problems = watchProblems(page);
  await page.goto(`${con.url}?view=traffic&at=${encodeURIComponent(at)}`);
  await page.getByTestId("traffic-graph").waitFor({ timeout: 30_000 });

  const drawn = async () => ({
    nodes: (await page.getByTestId("node").evaluateAll((els) => els.map((e) => e.getAttribute("data-id")))).sort(),
    edges: (await page.getByTestId("edge").evaluateAll((els) => els.map((e) => `${e.getAttribute("data-source")}>${e.getAttribute("data-target")} ${e.getAttribute("data-bad")}`))).sort(),
  });
  const want = (g: TrafficGraph) => ({ nodes: g.nodes.map((n) => n.id).sort(), edges: g.edges.map((e) => `${e.source}>${e.target} ${e.errorRatio > 0.05}`).sort() });
  assert.deepEqual(await drawn(), want(all));
  assert.ok(all.edges.some((e) => e.errorRatio > 0.05) && all.edges.some((e) => e.errorRatio <= 0.05), "red and normal edges both drawn");
  assert.equal(await page.getByTestId("edge-row").count(), all.edges.length);
  // one column per namespace, peers outside the cluster last
  const columns = await page.getByTestId("ns-column").evaluateAll((els) => els.map((e) => e.textContent));
  const namespaces = [...new Set(all.nodes.map((n) => n.namespace))];
  assert.deepEqual(columns, [...namespaces.filter((n) => n !== "").sort(), ...(namespaces.includes("") ? ["outside the cluster"] : [])]);
  assert.match(await page.getByTestId("as-of").innerText(), /^as of 20\d\d-/);
  await screenshot(page, "traffic");

  // The namespace filter: into the URL (a history entry), the graph of that namespace.
  await page.getByTestId("ns-filter").selectOption("kube-system");
  await page.waitForURL(/[?&]ns=kube-system/);
  await countIs(page, "edge", kube.edges.length);
  assert.deepEqual(await drawn(), want(kube));
  const link = page.url();
  // Back: all namespaces again.
  await page.goBack();
  await countIs(page, "edge", all.edges.length);
  assert.doesNotMatch(page.url(), /ns=/);
  assert.equal(await page.getByTestId("ns-filter").inputValue(), "");
  // The link, pasted into a new page: the same filtered view.
  const page2 = await newPage(browser);
  const problems2 = watchProblems(page2);
  await page2.goto(link);
  await page2.getByTestId("traffic-graph").waitFor({ timeout: 30_000 });
  assert.equal(await page2.getByTestId("ns-filter").inputValue(), "kube-system");
  assert.equal(await page2.getByTestId("edge").count(), kube.edges.length);

  // Clicking a workload lists its edges only; clicking it again lists all.
  const busiest = all.edges[0]!.source;
  await page.locator(`[data-testid="node"][data-id="${busiest}"]`).click();
  const mine = all.edges.filter((e) => e.source === busiest || e.target === busiest).length;
  await countIs(page, "edge-row", mine);
  await page.locator(`[data-testid="node"][data-id="${busiest}"]`).click();
  await countIs(page, "edge-row", all.edges.length);

  // Bad URL state reaches the server as a 400 and is shown, not drawn.
  await page.goto(`${con.url}?view=traffic&ns=${encodeURIComponent('x"}')}`);
  await page.getByTestId("traffic-error").waitFor({ timeout: 30_000 });
  assert.match(await page.getByTestId("traffic-error").innerText(), /query parameter ns: not a Kubernetes namespace name/);
  assert.deepEqual(problems().filter((p) => !p.startsWith("400 ")), []);
  assert.deepEqual(problems2(), []);
});
