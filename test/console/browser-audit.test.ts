// The audit views of the web console in a real browser (Debian's Chromium through playwright-core)
// against the real `watch-auditor console` on a store the real `audit ingest` built from the real
// v1.25 security scenario, the events recorded from a real v1.25 API server, and one event of that
// scenario rewritten with HTML and script in its fields. Expected counts, orders, events and diffs
// come from the JSONL files (JSON.parse here) and from the real `audit history -o json` CLI.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { runCli, eventually } from "../support/cli.js";
import { launchBrowser, newPage, screenshot, startConsole, type RunningConsole } from "../support/browser.js";
import { buildStore, RECORDED_V125, SECURITY_SCENARIO } from "../support/audit-store.js";

interface AuditEvent {
  auditID: string;
  stage: string;
  verb: string;
  requestURI: string;
  userAgent?: string;
  user: { username?: string };
  objectRef?: { resource?: string; namespace?: string; name?: string; apiGroup?: string };
  responseStatus?: { code?: number };
  stageTimestamp: string;
}

const HOSTILE_UA = `<img src=x onerror="window.__xss=1">kubectl`;
const HOSTILE_NAME = `<script>window.__xss=2</script>`;

let dir: string;
let db: string;
let events: AuditEvent[];
let server: RunningConsole;
let browser: Browser;

/** Microseconds since the epoch of an RFC 3339 time (the store keeps microseconds; Date.parse drops them). */
function micros(iso: string): number {
  const m = /^(.*?)(?:\.(\d+))?Z$/.exec(iso);
  assert.ok(m, `time ${iso}`);
  const frac = (m[2] ?? "").padEnd(6, "0").slice(0, 6);
  return Date.parse(`${m[1]}Z`) * 1000 + Number(frac);
}

/** One row per request, as the issue defines it: completed (or panicked), or a failed non-watch request's ResponseStarted. */
function isRequest(e: AuditEvent): boolean {
  const code = e.responseStatus?.code ?? 0;
  return e.stage === "ResponseComplete" || e.stage === "Panic" || (e.stage === "ResponseStarted" && code >= 400 && e.verb !== "watch");
}

function requests(): AuditEvent[] {
  return events.filter(isRequest);
}

function readEvents(file: string): AuditEvent[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as AuditEvent);
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "console-audit-"));
  // A real event of the scenario with hostile text in its user agent and object name.
  const base = readEvents(SECURITY_SCENARIO).find((e) => e.stage === "ResponseComplete" && e.verb === "get" && e.objectRef?.name);
  assert.ok(base, "the scenario has a completed get of a named object");
  const hostile = { ...base, auditID: "0000feed-0000-4000-8000-00000000beef", userAgent: HOSTILE_UA, objectRef: { ...base.objectRef, name: HOSTILE_NAME } };
  const hostileFile = join(dir, "hostile.jsonl");
  writeFileSync(hostileFile, JSON.stringify(hostile) + "\n");
  const files = [SECURITY_SCENARIO, RECORDED_V125, hostileFile];
  events = files.flatMap(readEvents);
  db = await buildStore(dir, files);
  server = await startConsole(["--audit-db", db]);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function open(query: string): Promise<Page & { errors: string[] }> {
  const page = await newPage(browser);
  await page.goto(new URL(query, server.url).toString());
  return page;
}

function urlState(page: Page): URLSearchParams {
  return new URL(page.url()).searchParams;
}

/** The total the results table shows, once it equals want (the table loads asynchronously). */
async function waitTotal(page: Page, want: number): Promise<void> {
  await eventually(
    async () => (await page.getByTestId("results-total").getAttribute("data-total")) === String(want),
    { timeoutMs: 15_000, what: `results total ${want} (shown: ${await page.getByTestId("results-total").getAttribute("data-total").catch(() => "?")})` },
  );
}

/**
 * Uncaught exceptions and console errors (a refused inline style or script under the CSP is one),
 * except the browser's note of an HTTP error status: the favicon's 404, and the 400 a bad filter earns.
 */
function pageErrors(page: { errors: string[] }): string[] {
  return page.errors.filter((e) => !/^console\.error: Failed to load resource: the server responded with a status of (404|400) /.test(e));
}

/** The raw event the event panel shows, as its text view. */
async function shownEvent(page: Page): Promise<AuditEvent> {
  await page.getByTestId("event-panel").waitFor();
  await page.getByTestId("event-as-text").click();
  const text = await page.getByTestId("event-json").textContent();
  return JSON.parse(text ?? "") as AuditEvent;
}

test("search view: every request counted, filters typed into the URL narrow the count, back restores the previous filter", async () => {
  const page = await open("/?view=audit");
  await waitTotal(page, requests().length);
  const admin = requests().filter((e) => e.user.username === "admin");
  const adminCreates = admin.filter((e) => e.verb === "create");
  assert.ok(admin.length > adminCreates.length && adminCreates.length > 0, "the scenario has admin requests, some creates");

  await page.getByTestId("filter-user").fill("admin");
  await waitTotal(page, admin.length);
  assert.equal(urlState(page).get("user"), "admin");
  await page.getByTestId("filter-verb").fill("create");
  await waitTotal(page, adminCreates.length);
  assert.equal(urlState(page).get("verb"), "create");
  // Every row on screen matches the filters.
  const shown = await page.getByTestId("event-row").evaluateAll((rows) => rows.map((r) => [r.querySelector(".c-user")?.textContent, r.querySelector(".c-verb")?.textContent]));
  assert.ok(shown.length > 0);
  for (const [user, verb] of shown) assert.deepEqual([user, verb], ["admin", "create"]);

  await page.goBack();
  await waitTotal(page, admin.length);
  assert.equal(urlState(page).get("verb"), null);
  assert.equal(urlState(page).get("user"), "admin");
  assert.equal(await page.getByTestId("filter-verb").inputValue(), "");
  assert.equal(await page.getByTestId("filter-user").inputValue(), "admin");

  // A response-code class filter.
  await page.getByTestId("filter-code").fill("4xx");
  await waitTotal(page, admin.filter((e) => (e.responseStatus?.code ?? 0) >= 400 && (e.responseStatus?.code ?? 0) < 500).length);
  await screenshot(page, "audit-search");
  assert.deepEqual(pageErrors(page), []);
  await page.close();
});

test("search view: the table scrolls to the oldest request without holding every row in the page", async () => {
  const page = await open("/?view=audit");
  const all = requests();
  await waitTotal(page, all.length);
  // Newest first (ts DESC, then audit_id): the last row is the oldest request.
  const sorted = [...all].sort((a, b) => micros(b.stageTimestamp) - micros(a.stageTimestamp) || (a.auditID < b.auditID ? -1 : a.auditID > b.auditID ? 1 : 0));
  const inDom = await page.getByTestId("event-row").count();
  assert.ok(inDom > 0 && inDom < 100, `only the visible rows are in the DOM (${inDom} of ${all.length})`);
  await page.getByTestId("results-scroller").evaluate((el) => (el.scrollTop = el.scrollHeight));
  const last = page.locator(`[data-testid="event-row"][data-row="${all.length - 1}"]`);
  await last.waitFor({ timeout: 15_000 });
  assert.equal(await last.getAttribute("data-audit-id"), sorted[sorted.length - 1]!.auditID);
  const mid = Math.floor(all.length / 2);
  await page.getByTestId("results-scroller").evaluate((el, top) => (el.scrollTop = top), mid * 24);
  const midRow = page.locator(`[data-testid="event-row"][data-row="${mid}"]`);
  await midRow.waitFor({ timeout: 15_000 });
  assert.equal(await midRow.getAttribute("data-audit-id"), sorted[mid]!.auditID);
  assert.deepEqual(pageErrors(page), []);
  await page.close();
});

test("search view: dragging across the histogram sets from/to in the URL and the count follows; a double click clears them", async () => {
  const page = await open("/?view=audit");
  await waitTotal(page, requests().length);
  const over = page.locator('[data-testid="histogram-plot"] .u-over');
  const box = await over.boundingBox();
  assert.ok(box);
  const y = box.y + box.height / 2;
  await page.mouse.move(box.x + box.width * 0.05, y);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.5, y, { steps: 8 });
  await page.mouse.up();
  await eventually(() => urlState(page).get("from") && urlState(page).get("to"), { what: "from and to in the URL" });
  const from = urlState(page).get("from")!;
  const to = urlState(page).get("to")!;
  assert.match(from, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.match(to, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  const times = requests().map((e) => micros(e.stageTimestamp));
  const [lo, hi] = [Math.min(...times), Math.max(...times)];
  assert.ok(micros(from) < micros(to), `${from} < ${to}`);
  assert.ok(micros(from) >= lo - 60e6 && micros(to) <= hi + 60e6, `range ${from}..${to} lies over the store's ${lo}..${hi}`);
  const inRange = requests().filter((e) => micros(e.stageTimestamp) >= micros(from) && micros(e.stageTimestamp) < micros(to));
  assert.ok(inRange.length > 0 && inRange.length < requests().length, `the selection holds some requests (${inRange.length})`);
  await waitTotal(page, inRange.length);
  await page.getByTestId("time-range").waitFor();

  await over.dblclick({ position: { x: box.width * 0.7, y: box.height / 2 } });
  await eventually(() => urlState(page).get("from") === null && urlState(page).get("to") === null, { what: "from/to cleared" });
  await waitTotal(page, requests().length);
  assert.deepEqual(pageErrors(page), []);
  await page.close();
});

test("search view: clicking a row shows its raw event; the link round-trips", async () => {
  const page = await open("/?view=audit&verb=delete&resource=deployments");
  const deletes = requests().filter((e) => e.verb === "delete" && e.objectRef?.resource === "deployments");
  assert.ok(deletes.length > 0);
  await waitTotal(page, deletes.length);
  const row = page.getByTestId("event-row").first();
  const id = await row.getAttribute("data-audit-id");
  await row.click();
  const ev = await shownEvent(page);
  const expected = deletes.find((e) => e.auditID === id);
  assert.ok(expected, `the row's audit ID ${id} is one of the deletes`);
  assert.equal(ev.auditID, expected.auditID);
  assert.equal(ev.verb, "delete");
  assert.equal(ev.requestURI, expected.requestURI);
  assert.equal(ev.user.username, expected.user.username);
  assert.equal(ev.objectRef?.name, expected.objectRef?.name);
  assert.equal(ev.responseStatus?.code, expected.responseStatus?.code);
  assert.equal(urlState(page).get("ev"), `${expected.auditID}:${expected.stage}`);

  // The same link in a new page: same filters, same count, same event open.
  const again = await open(page.url());
  await waitTotal(again, deletes.length);
  assert.equal((await shownEvent(again)).auditID, expected.auditID);

  // From the event to its object's timeline: the lane of the group-qualified resource is selected and on screen.
  const ref = expected.objectRef!;
  const key = `${ref.resource}${ref.apiGroup ? `.${ref.apiGroup}` : ""}/${ref.namespace ?? "-"}/${ref.name}`;
  await page.getByTestId("event-timeline-link").click();
  await eventually(() => urlState(page).get("tab") === "timeline", { what: "tab=timeline" });
  assert.equal(urlState(page).get("sel"), key);
  await page.getByTestId(`lane-${key}`).waitFor({ state: "attached", timeout: 15_000 });
  assert.deepEqual(pageErrors(page), []);
  assert.deepEqual(pageErrors(again), []);
  await again.close();
  await page.close();
});

interface CliChange {
  path: string;
  op: string;
  old?: unknown;
  new?: unknown;
}

test("timeline: a revision's diff equals `audit history -o json`, a mark opens its raw event, reload restores both", async () => {
  const r = await runCli(["audit", "history", "deployments.apps", "web", "-n", "rec", "--db", db, "-o", "json"]);
  assert.equal(r.code, 0, r.stderr);
  const history = JSON.parse(r.stdout) as { revisions: { audit_id: string; verb: string; subresource: string | null; changes: CliChange[] | null }[] };
  // The main-resource patch with the most changes.
  const patches = history.revisions.filter((v) => v.verb === "patch" && v.subresource === null && (v.changes?.length ?? 0) > 0);
  assert.ok(patches.length > 0, "the deployment was patched");
  const rev = patches.reduce((a, b) => ((b.changes?.length ?? 0) > (a.changes?.length ?? 0) ? b : a));
  const want = rev.changes!.map((c) => [c.path, c.op, c.old === undefined ? "" : JSON.stringify(c.old), c.new === undefined ? "" : JSON.stringify(c.new)]);

  const page = await open("/?view=audit&tab=timeline&sel=deployments.apps/rec/web");
  const canvas = page.getByTestId("timeline-canvas");
  await eventually(async () => Number(await canvas.getAttribute("data-lanes")) > 0 && Number(await canvas.getAttribute("data-events")) > 0, { what: "lanes drawn" });
  const button = page.getByTestId(`rev-${rev.audit_id}`);
  await button.press("Enter");
  await eventually(() => urlState(page).get("rev") === rev.audit_id, { what: "rev in the URL" });
  assert.equal(urlState(page).get("sel"), "deployments.apps/rec/web");
  const readDiff = async (p: Page): Promise<string[][]> => {
    await p.getByTestId("diff-table").waitFor({ timeout: 15_000 });
    return p.getByTestId("diff-change").evaluateAll((rows) =>
      rows.map((tr) => [tr.getAttribute("data-path") ?? "", tr.getAttribute("data-op") ?? "", tr.querySelector('[data-testid="diff-old"]')?.textContent ?? "", tr.querySelector('[data-testid="diff-new"]')?.textContent ?? ""]),
    );
  };
  assert.deepEqual(await readDiff(page), want);
  await screenshot(page, "audit-timeline");

  await page.reload();
  assert.deepEqual(await readDiff(page), want, "the reloaded link shows the same diff");

  // The deployment's delete: a mark; its raw event is the scenario's delete request.
  const del = requests().find((e) => e.verb === "delete" && e.objectRef?.resource === "deployments" && e.objectRef.namespace === "rec" && e.objectRef.name === "web");
  assert.ok(del);
  await page.locator(`[data-testid="mark-${del.auditID}"][data-type="delete"]`).press("Enter");
  await eventually(() => urlState(page).get("ev") === `${del.auditID}:${del.stage}`, { what: "ev in the URL" });
  const shown = await shownEvent(page);
  assert.equal(shown.auditID, del.auditID);
  assert.equal(shown.verb, "delete");
  assert.equal(shown.requestURI, del.requestURI);
  assert.equal(shown.user.username, del.user.username);

  // Back: the revision's diff again.
  await page.goBack();
  assert.deepEqual(await readDiff(page), want);
  assert.deepEqual(pageErrors(page), []);
  await page.close();
});

test("timeline: a cluster-scoped object's revision (a Namespace also logged under its own name as namespace) shows its history, not an ambiguity error", async () => {
  // Events on the Namespace "rec" come with objectRef.namespace "rec" (gets, deletes) and without (its create):
  // only namespace "-" (cluster-scoped) names the object itself.
  const create = requests().find((e) => e.verb === "create" && e.objectRef?.resource === "namespaces" && e.objectRef.name === "rec" && e.responseStatus?.code === 201);
  assert.ok(create, "the recorded scenario creates the Namespace rec");
  const r = await runCli(["audit", "history", "namespaces", "rec", "-n", "-", "--db", db, "-o", "json"]);
  assert.equal(r.code, 0, r.stderr);
  const cli = JSON.parse(r.stdout) as { revisions: { audit_id: string; index: number; verb: string }[] };
  const rev = cli.revisions.find((v) => v.audit_id === create.auditID);
  assert.ok(rev, "audit history lists the create as a revision");

  const page = await open(`/?view=audit&tab=timeline&sel=namespaces/-/rec&rev=${create.auditID}`);
  await page.getByTestId("diff-meta").waitFor({ timeout: 15_000 });
  assert.match((await page.getByTestId("diff-meta").textContent()) ?? "", new RegExp(`^#${rev.index} .*create`));
  assert.equal(await page.locator('[data-testid="diff-panel"] .error').count(), 0);
  assert.deepEqual(pageErrors(page), []);
  await page.close();
});

test("timeline: clicking a bar on the canvas itself selects that revision and shows its diff from `audit history`", async () => {
  const r = await runCli(["audit", "history", "deployments.apps", "web", "-n", "rec", "--db", db, "-o", "json"]);
  assert.equal(r.code, 0, r.stderr);
  const history = JSON.parse(r.stdout) as { revisions: { audit_id: string; changes: CliChange[] | null }[] };
  const page = await open("/?view=audit&tab=timeline&sel=deployments.apps/rec/web");
  const canvas = page.getByTestId("timeline-canvas");
  await eventually(async () => Number(await canvas.getAttribute("data-lanes")) > 0, { what: "lanes drawn" });
  // Zoom to the object's own span so its revisions are wide enough to aim at.
  await page.getByTestId("timeline-zoom-object").click();
  await eventually(() => urlState(page).get("from") && urlState(page).get("to"), { what: "from/to of the object's span" });
  await page.getByTestId("timeline-summary").filter({ hasText: urlState(page).get("from")!.slice(11, 19) }).waitFor({ timeout: 15_000 });
  const box = await canvas.boundingBox();
  assert.ok(box);
  const hover = page.getByTestId("timeline-hover");
  // Find the lane by pointing at the names column, then a revision bar along that lane.
  let laneY: number | null = null;
  for (let y = 30; y < box.height && laneY === null; y += 5) {
    await page.mouse.move(box.x + 40, box.y + y);
    if ((await hover.getAttribute("data-hit")) === "lane" && (await hover.textContent()) === "deployments.apps/rec/web") laneY = y;
  }
  assert.ok(laneY !== null, "the selected lane is on screen");
  let hitX: number | null = null;
  for (let x = box.width - 20; x > 290 && hitX === null; x -= 3) {
    await page.mouse.move(box.x + x, box.y + laneY);
    if ((await hover.getAttribute("data-hit")) === "revision") hitX = x;
  }
  assert.ok(hitX !== null, "a revision bar lies along the lane");
  await page.mouse.click(box.x + hitX, box.y + laneY);
  await eventually(() => urlState(page).get("rev"), { what: "rev in the URL" });
  const revId = urlState(page).get("rev")!;
  const rev = history.revisions.find((v) => v.audit_id === revId);
  assert.ok(rev, `the clicked revision ${revId} is one of the object's revisions in audit history`);
  await page.getByTestId("diff-meta").waitFor({ timeout: 15_000 });
  if (rev.changes === null) await page.getByTestId("diff-none").waitFor();
  else if (rev.changes.length === 0) await page.getByTestId("diff-empty").waitFor();
  else {
    const shown = await page.getByTestId("diff-change").evaluateAll((rows) => rows.map((tr) => [tr.getAttribute("data-path"), tr.getAttribute("data-op")]));
    assert.deepEqual(shown, rev.changes.map((c) => [c.path, c.op]));
  }
  assert.deepEqual(pageErrors(page), []);
  await page.close();
});

test("a bad filter in the link shows the server's error naming the parameter; a filter nothing matches says so", async () => {
  const page = await open("/?view=audit&code=abc");
  const results = page.getByTestId("audit-results");
  await results.locator(".error").waitFor({ timeout: 15_000 });
  assert.match((await results.locator(".error").textContent()) ?? "", /code.*abc/);
  await page.getByTestId("filter-code").fill("");
  await waitTotal(page, requests().length);
  assert.equal(await results.locator(".error").count(), 0, "the error goes with the bad filter");
  const nobody = "no-such-user-in-the-scenario";
  assert.equal(requests().filter((e) => e.user.username === nobody).length, 0);
  await page.getByTestId("filter-user").fill(nobody);
  await waitTotal(page, 0);
  await page.getByTestId("results-empty").waitFor();
  assert.equal(await page.getByTestId("event-row").count(), 0);
  assert.deepEqual(pageErrors(page), []);
  await page.close();
});

test("insights: who deleted lists the scenario's deletes and links into the object's timeline", async () => {
  const page = await open("/?view=audit&tab=insights&insight=who-deleted");
  const table = page.getByTestId("insight-table");
  await table.waitFor({ timeout: 15_000 });
  const rows = await page.getByTestId("insight-row").evaluateAll((trs) => trs.map((tr) => Array.from(tr.querySelectorAll("td") as ArrayLike<{ textContent: string | null }>, (td) => td.textContent ?? "")));
  const deleteIds = new Set(requests().filter((e) => e.verb === "delete" || e.verb === "deletecollection").map((e) => e.auditID));
  assert.ok(rows.length > 0);
  const del = requests().find((e) => e.verb === "delete" && e.objectRef?.resource === "deployments" && e.objectRef.name === "web");
  assert.ok(del);
  const webRow = rows.findIndex((cells) => cells.includes(del.auditID));
  assert.ok(webRow >= 0, "the deployment's delete is listed");
  for (const cells of rows) assert.ok(cells.some((c) => deleteIds.has(c)), `every row is one of the delete requests: ${cells.join(" | ")}`);
  await screenshot(page, "audit-insights");

  // Top callers: each user's request count equals a count over the files; back returns to who deleted.
  await page.getByTestId("insight-top-callers").click();
  await page.locator('[data-testid="insight-table"][data-kind="top-callers"]').waitFor({ timeout: 15_000 });
  const header = await page.locator('[data-testid="insight-table"] th').allTextContents();
  const [userCol, reqCol] = [header.indexOf("user"), header.indexOf("requests")];
  assert.ok(userCol > 0 && reqCol > 0, `columns user and requests: ${header.join(", ")}`);
  const callers = await page.getByTestId("insight-row").evaluateAll((trs) => trs.map((tr) => Array.from(tr.querySelectorAll("td") as ArrayLike<{ textContent: string | null }>, (td) => td.textContent ?? "")));
  const perUser = new Map<string, number>();
  for (const e of requests()) if (e.user.username) perUser.set(e.user.username, (perUser.get(e.user.username) ?? 0) + 1);
  const named = callers.filter((cells) => cells[userCol] !== "");
  assert.ok(named.length >= Math.min(5, perUser.size), `callers listed: ${named.length}`);
  for (const cells of named) assert.equal(Number(cells[reqCol]), perUser.get(cells[userCol]!), `requests of ${cells[userCol]}`);
  assert.equal(named[0]![userCol], [...perUser].sort((a, b) => b[1] - a[1])[0]![0], "the busiest caller first");
  await page.goBack();
  await page.locator('[data-testid="insight-table"][data-kind="who-deleted"]').waitFor({ timeout: 15_000 });

  await page.getByTestId("insight-row").nth(webRow).getByTestId("insight-timeline-link").click();
  await eventually(() => urlState(page).get("tab") === "timeline", { what: "tab=timeline" });
  assert.equal(urlState(page).get("sel"), "deployments.apps/rec/web");
  // The selected lane is scrolled into view (its buttons are in the list of visible lanes) and its delete event is open.
  await page.getByTestId("lane-deployments.apps/rec/web").waitFor({ state: "attached", timeout: 15_000 });
  assert.equal((await shownEvent(page)).auditID, del.auditID);
  assert.deepEqual(pageErrors(page), []);
  await page.close();
});

test("hostile field values render as text, never as markup", async () => {
  const page = await open(`/?view=audit&useragent=${encodeURIComponent("onerror")}`);
  await waitTotal(page, requests().filter((e) => (e.userAgent ?? "").toLowerCase().includes("onerror")).length);
  const row = page.getByTestId("event-row").first();
  assert.equal(await row.locator(".c-ua").textContent(), HOSTILE_UA);
  assert.ok(((await row.locator(".c-obj").textContent()) ?? "").includes(HOSTILE_NAME));
  await row.click();
  const ev = await shownEvent(page);
  assert.equal(ev.userAgent, HOSTILE_UA);
  assert.equal(ev.objectRef?.name, HOSTILE_NAME);
  assert.equal(await page.evaluate(() => (globalThis as unknown as { __xss?: number }).__xss), undefined);
  assert.equal(await page.locator('main img[src="x"]').count(), 0);
  assert.equal(await page.locator("main script").count(), 0);
  assert.deepEqual(pageErrors(page), []);
  await page.close();
});
