// The auditor view in a real browser (Debian's Chromium through playwright-core) against the real
// `watch-auditor console --auditor URL` reading a running `watch-auditor serve` (the test API
// server, a controller that is dead until rolled: failed checks, a roll at the 2nd, then passes).
// A second console reads a frozen copy of that serve's /status (served by a small local server)
// with one check's reason replaced by HTML and script, so every figure on the page can be compared
// exactly with the status it was drawn from, and the hostile text must render as text.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { launchBrowser, newPage, screenshot, startConsole } from "../support/browser.js";
import { watchProblems } from "./browser-support-c.js";
import { FAST, eventually, startCluster, startServe } from "../auditor/helpers.js";

interface Check {
  runId: string;
  result: string;
  reason: string;
  reactionSeconds?: number;
  startedAt: string;
}
interface Probe {
  kind: string;
  mode: string;
  consecutiveFailures: number;
  failureThreshold: number;
  rolls: { at: string; method: string; deployments: string[] }[];
  checks: Check[];
}
interface Status {
  identity: string;
  probes: Record<string, Probe>;
}

const HOSTILE = `<img src=x onerror="document.title='xss'"><script>document.title='xss2'</script>`;

test("auditor view: the running serve's probe, checks, reaction times, failures against the threshold, rolls and why; hostile text stays text", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "console-auditor-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const c = await startCluster({ controller: { mode: "dead", recoverOnRoll: true } });
  t.after(() => c.close());
  // A check every 300 ms: the history (20 checks) still holds the failures that led to the roll for a few seconds.
  const s = await startServe(c, [...FAST, "--every", "300ms", "--leader-elect", "false", "--failure-threshold", "2"]);
  t.after(() => s.stop());
  await eventually(
    async () => {
      const p = (await s.status()).probes.default!;
      return p.rolls.length >= 1 && p.checks.some((x) => x.result === "pass") && p.checks.some((x) => x.result === "fail") ? true : undefined;
    },
    { timeoutMs: 60_000, what: "failed checks, a roll and a pass after it" },
  );
  const snapshot = JSON.parse((await s.get("/status")).body) as Status;

  const browser = await launchBrowser();
  t.after(() => browser.close());

  // --- live: the console reads the running serve
  const live = await startConsole(["--auditor", `http://127.0.0.1:${s.port}/status`]);
  t.after(() => live.stop());
  const page = await newPage(browser);
  const problems = watchProblems(page);
  await page.goto(`${live.url}?view=auditor`);
  const card = page.getByTestId("probe-default");
  await card.waitFor({ timeout: 30_000 });
  const status = (await s.status()) as unknown as Status;
  const probe = status.probes.default!;
  assert.deepEqual((await card.locator("header").innerText()).split("\n").slice(0, 4), ["default", probe.kind, probe.mode, "every 300ms"]);
  // Rolls: the one the serve made, with the failures that led to it.
  const rollRows = card.getByTestId("roll-row");
  assert.equal(await rollRows.count(), probe.rolls.length);
  assert.match(await rollRows.first().innerText(), new RegExp(`rollout_restart\\s+${probe.rolls[0]!.deployments[0]}`));
  const why = await rollRows.first().getByTestId("roll-why").innerText();
  assert.match(why, /2 consecutive failed checks \(threshold 2\); last: .*istio-proxy/);
  // Checks: every row is a check of the serve (new ones keep coming: compared by reason and result).
  const after = (await s.status()) as unknown as Status;
  const known = new Set([...probe.checks, ...after.probes.default!.checks].map((x) => `${x.result} ${x.reason}`));
  const rows = await card.getByTestId("check-row").all();
  assert.ok(rows.length >= 2);
  for (const r of rows) assert.ok(known.has(`${await r.getAttribute("data-result")} ${await r.getByTestId("check-reason").innerText()}`));
  await screenshot(page, "auditor");
  assert.deepEqual(problems(), []);

  // --- frozen: the same status, fixed in time, with a hostile reason
  const frozen = structuredClone(snapshot);
  const p0 = frozen.probes.default!;
  p0.checks[0]!.reason = HOSTILE;
  const body = JSON.stringify(frozen);
  const stand = createServer((_req, res) => void res.writeHead(200, { "content-type": "application/json" }).end(body));
  await new Promise<void>((resolve) => stand.listen(0, "127.0.0.1", () => resolve()));
  t.after(() => new Promise<void>((resolve) => stand.close(() => resolve())));
  const tokenFile = join(dir, "token");
  writeFileSync(tokenFile, "auditor-token\n");
  const fixed = await startConsole(["--auditor", `http://127.0.0.1:${(stand.address() as AddressInfo).port}/status`, "--auditor-token-file", tokenFile]);
  t.after(() => fixed.stop());
  const page2 = await newPage(browser);
  const problems2 = watchProblems(page2);
  await page2.goto(`${fixed.url}?view=auditor`);
  const card2 = page2.getByTestId("probe-default");
  await card2.waitFor({ timeout: 30_000 });
  const sorted = [...p0.checks].sort((a, b) => Date.parse(b.startedAt) - Date.parse(a.startedAt));
  assert.deepEqual(await card2.getByTestId("check-row").evaluateAll((els) => els.map((e) => e.getAttribute("data-result"))), sorted.map((x) => x.result));
  assert.deepEqual(await card2.getByTestId("check-reason").allInnerTexts(), sorted.map((x) => x.reason));
  assert.equal(await card2.getByTestId("consecutive").innerText(), `${p0.consecutiveFailures} / ${p0.failureThreshold}`);
  assert.equal(await card2.getByTestId("last-result").innerText(), sorted[0]!.result.toUpperCase());
  const counts = (r: string) => p0.checks.filter((x) => x.result === r).length;
  assert.equal(await card2.getByTestId("counts").innerText(), `of the last ${p0.checks.length}: ${counts("pass")} pass, ${counts("fail")} fail, ${counts("inconclusive")} inconclusive`);
  // The histogram counts every check that has a reaction time, once.
  const reactions = p0.checks.filter((x) => typeof x.reactionSeconds === "number").length;
  assert.ok(reactions > 0);
  const bars = await card2.getByTestId("reaction-histogram").locator("rect.bar").evaluateAll((els) => els.map((e) => Number(e.getAttribute("data-count"))));
  assert.equal(bars.reduce((a, b) => a + b, 0), reactions);
  assert.match(await card2.getByTestId("reaction-histogram").locator("figcaption").innerText(), new RegExp(`reaction time of ${reactions} checks?:`));
  // Hostile text is shown as text: no element made from it, no script run.
  assert.equal(await card2.locator("img").count(), 0);
  assert.equal(await page2.locator("main script").count(), 0);
  assert.notEqual(await page2.title(), "xss");
  assert.notEqual(await page2.title(), "xss2");
  assert.deepEqual(problems2(), []);

  // An auditor that is gone: the view says so (the server's 502 message, naming the URL).
  await fixed.stop();
  const gone = await startConsole(["--auditor", "http://127.0.0.1:1/status", "--fetch-timeout", "2s"]);
  t.after(() => gone.stop());
  const page3 = await newPage(browser);
  await page3.goto(`${gone.url}?view=auditor`);
  await page3.getByTestId("auditor-error").waitFor({ timeout: 30_000 });
  assert.match(await page3.getByTestId("auditor-error").innerText(), /^auditor http:\/\/127\.0\.0\.1:1\/status: /);
});
