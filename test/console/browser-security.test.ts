// The console's security in a real browser (Debian's Chromium through playwright-core) against the
// real `watch-auditor console`: events whose user, object name, user agent and request URI carry
// HTML and script render as text everywhere the page shows them (search table, raw event, timeline,
// insights) with no element injected and no script run; Secret values kept in the store never reach
// the page; the page loads nothing from another origin and breaks no rule of its CSP.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { launchBrowser, newPage, screenshot, startConsole, type RunningConsole } from "../support/browser.js";
import { buildStore, SECURITY_SCENARIO } from "../support/audit-store.js";

interface Ev {
  auditID: string;
  stage: string;
  verb: string;
  requestURI: string;
  userAgent?: string;
  user: { username?: string; groups?: string[] };
  objectRef?: { resource?: string; namespace?: string; name?: string; apiGroup?: string; apiVersion?: string };
  requestObject?: { kind?: string; metadata?: Record<string, unknown>; data?: Record<string, string> };
  responseObject?: { kind?: string; metadata?: Record<string, unknown>; data?: Record<string, string> };
  responseStatus?: { code?: number };
}

// Each would run script or add an element if it reached the DOM as HTML.
const PAYLOADS = [`<script>window.__xss=1</script>`, `<img src=x onerror="window.__xss=2">`, `"><b data-xss="3">bold</b>`];
const PROBE = "xss-probe";

interface Hostile {
  auditID: string;
  stage: string;
  user: string;
  userAgent: string;
  requestURI: string;
  name: string;
  payload: string;
}

let dir: string;
let server: RunningConsole;
let browser: Browser;
let hostile: Hostile[];
let secrets: { auditID: string; stage: string; verb: string; namespace: string; name: string; values: string[] }[];
let origin: string;

const readEvents = (file: string): Ev[] =>
  readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Ev);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "console-browser-security-"));
  const scenario = readEvents(SECURITY_SCENARIO);
  // Real writes of the scenario (a ConfigMap or Deployment create with its bodies), each copied with
  // one payload in every free-text field the table shows.
  const base = scenario.find((e) => e.stage === "ResponseComplete" && e.verb === "create" && e.objectRef?.resource === "deployments" && e.requestObject);
  assert.ok(base?.objectRef?.namespace, "the scenario has a Deployment create with bodies");
  hostile = PAYLOADS.map((payload, i) => {
    const name = `web-${i}${payload}`;
    const h: Hostile = {
      auditID: `0000${i}bad-0000-4000-8000-00000000beef`,
      stage: "ResponseComplete",
      user: `mallory${i}${payload}`,
      userAgent: `kubectl/${payload}`,
      requestURI: `/apis/apps/v1/namespaces/${base.objectRef!.namespace}/deployments?${PROBE}=${payload}`,
      name,
      payload,
    };
    return h;
  });
  const lines = hostile.map((h) => {
    const body = { ...base.requestObject, metadata: { ...base.requestObject!.metadata, name: h.name, annotations: { note: h.payload } } };
    return JSON.stringify({ ...base, auditID: h.auditID, user: { ...base.user, username: h.user }, userAgent: h.userAgent, requestURI: h.requestURI, objectRef: { ...base.objectRef, name: h.name }, requestObject: body, responseObject: body });
  });
  const hostileFile = join(dir, "hostile.jsonl");
  writeFileSync(hostileFile, lines.join("\n") + "\n");
  // The Secret writes of the scenario and their values (and decoded values), read from the file.
  secrets = [];
  for (const e of scenario) {
    const values = new Set<string>();
    for (const b of [e.requestObject, e.responseObject]) {
      if (b?.kind !== "Secret" || !b.data) continue;
      for (const v of Object.values(b.data)) {
        values.add(v);
        values.add(Buffer.from(v, "base64").toString("utf8"));
      }
    }
    if (values.size > 0 && e.objectRef?.namespace && e.objectRef.name) secrets.push({ auditID: e.auditID, stage: e.stage, verb: e.verb, namespace: e.objectRef.namespace, name: e.objectRef.name, values: [...values].filter((v) => v.length >= 6) });
  }
  assert.ok(secrets.length >= 3, "the scenario has Secret writes with data");
  const db = await buildStore(dir, [SECURITY_SCENARIO, hostileFile], { keepSecretData: true });
  server = await startConsole(["--audit-db", db]);
  origin = new URL(server.url).origin;
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** What the page-side callbacks use of the browser's globals (this file is compiled without the DOM lib). */
interface BrowserGlobals {
  __xss?: unknown;
  __csp: string[];
  document: {
    addEventListener(type: "securitypolicyviolation", fn: (e: { violatedDirective: string; blockedURI: string }) => void): void;
    querySelectorAll(sel: string): { length: number };
    scripts: Iterable<{ src: string }>;
  };
}

interface Watched {
  page: Page & { errors: string[] };
  requests: string[];
  bodies: { url: string; body: string }[];
  favicon404: number;
}

/** A page that records every request it makes, every API response body and every CSP violation. */
async function watchedPage(): Promise<Watched> {
  const page = await newPage(browser);
  const w: Watched = { page, requests: [], bodies: [], favicon404: 0 };
  // Chromium asks for /favicon.ico by itself (index.html names no icon): that 404 is the browser's, not the page's.
  page.on("console", (msg) => {
    if (msg.type() === "error" && /status of 404/.test(msg.text()) && new URL(msg.location().url || origin).pathname === "/favicon.ico") w.favicon404++;
  });
  await page.addInitScript(() => {
    const win = globalThis as unknown as BrowserGlobals;
    win.__csp = [];
    win.document.addEventListener("securitypolicyviolation", (e) => win.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  page.on("request", (r) => w.requests.push(r.url()));
  page.on("requestfinished", (r) => {
    void r.response().then((res) => {
      if (res && res.status() >= 400) page.errors.push(`${res.status()} ${r.url()}`);
    });
  });
  page.on("response", (r) => {
    if (new URL(r.url()).pathname.startsWith("/api/")) {
      void r
        .text()
        .then((body) => w.bodies.push({ url: r.url(), body }))
        .catch(() => undefined);
    }
  });
  return w;
}

/** No element from a payload, no script run, no CSP violation, no page error. */
async function assertNothingInjected(w: Watched, where: string): Promise<void> {
  const found = await w.page.evaluate(() => {
    const win = globalThis as unknown as BrowserGlobals;
    return {
      xss: win.__xss,
      csp: win.__csp,
      injected: win.document.querySelectorAll('b[data-xss], img[src="x"], main script, [onerror]').length,
      scripts: [...win.document.scripts].map((s) => s.src),
    };
  });
  assert.equal(found.xss, undefined, `${where}: a payload ran (window.__xss = ${String(found.xss)})`);
  assert.equal(found.injected, 0, `${where}: an element from a payload is in the DOM`);
  assert.deepEqual(found.csp, [], `${where}: CSP violations`);
  assert.ok(found.scripts.every((s) => s.startsWith(`${origin}/assets/`)), `${where}: scripts ${found.scripts.join(", ")}`);
  const errors = w.page.errors.filter((e) => !/Failed to load resource: the server responded with a status of 404/.test(e));
  assert.equal(w.page.errors.length - errors.length, w.favicon404, `${where}: 404s other than /favicon.ico: ${w.page.errors.join("; ")}`);
  assert.deepEqual(errors, [], `${where}: page errors`);
}

/** The event panel's text view (its "text" button) of the open event, parsed; back to the tree after. */
async function rawEventJson(page: Page, ev: string): Promise<unknown> {
  const panel = page.locator(`[data-testid="event-panel"][data-ev="${ev}"]`);
  await panel.getByTestId("event-tree").waitFor();
  await panel.getByRole("button", { name: "text", exact: true }).click();
  const text = await panel.getByTestId("event-json").textContent();
  await panel.getByRole("button", { name: "tree", exact: true }).click();
  await panel.getByTestId("event-tree").waitFor();
  return JSON.parse(text!);
}

function assertSameOrigin(w: Watched): void {
  assert.ok(w.requests.length > 3, "requests were recorded");
  const foreign = w.requests.filter((u) => new URL(u).origin !== origin);
  assert.deepEqual(foreign, [], "requests to another origin");
}

test("HTML and script in user, object name, user agent and request URI render as text in the search table and the raw event", async () => {
  const w = await watchedPage();
  const { page } = w;
  try {
    await page.goto(`${server.url}?view=audit&tab=search&q=${PROBE}`);
    const rows = page.getByTestId("event-row");
    await rows.nth(hostile.length - 1).waitFor();
    assert.equal(await rows.count(), hostile.length, "one row per hostile event (q filter on the request URI)");
    assert.equal(await page.getByTestId("results-total").getAttribute("data-total"), String(hostile.length));
    for (const h of hostile) {
      const row = page.locator(`[data-testid="event-row"][data-audit-id="${h.auditID}"]`);
      const cells = await row.locator("[role=cell]").allTextContents();
      // Each field appears as typed in its own cell.
      for (const [field, value] of [["user", h.user], ["user agent", h.userAgent], ["request URI", h.requestURI]] as const) {
        assert.ok(cells.includes(value), `${field} ${value} shown as text: ${JSON.stringify(cells)}`);
      }
      assert.ok(cells.some((c) => c.includes(h.name)), `name ${h.name} shown as text: ${JSON.stringify(cells)}`);
      assert.ok(await row.getByText(h.user, { exact: true }).isVisible(), `${h.user} visible`);
    }
    await assertNothingInjected(w, "search table");
    await screenshot(page, "console-security-hostile-search");

    // The raw event of each: the payloads are JSON string values in the tree and the text view.
    for (const h of hostile) {
      await page.locator(`[data-testid="event-row"][data-audit-id="${h.auditID}"]`).click();
      const panel = page.getByTestId("event-panel");
      await page.locator(`[data-testid="event-panel"][data-ev="${h.auditID}:${h.stage}"] [data-testid="event-tree"]`).waitFor();
      const tree = await panel.getByTestId("event-tree").textContent();
      for (const v of [h.user, h.userAgent, h.requestURI, h.name, h.payload]) assert.ok(tree!.includes(JSON.stringify(v)), `raw event shows ${v} as a string: ${tree!.slice(0, 400)}`);
      const shown = (await rawEventJson(page, `${h.auditID}:${h.stage}`)) as { auditID: string; user: { username: string }; userAgent: string; requestURI: string; objectRef: { name: string } };
      assert.equal(shown.auditID, h.auditID);
      assert.equal(shown.user.username, h.user);
      assert.equal(shown.userAgent, h.userAgent);
      assert.equal(shown.requestURI, h.requestURI);
      assert.equal(shown.objectRef.name, h.name);
      await assertNothingInjected(w, `raw event ${h.auditID}`);
    }
    await screenshot(page, "console-security-hostile-event");
    assertSameOrigin(w);
  } finally {
    await page.close();
  }
});

test("the hostile names render as text on the timeline and in the insights tables", async () => {
  const w = await watchedPage();
  const { page } = w;
  try {
    await page.goto(`${server.url}?view=audit&tab=timeline&q=${PROBE}`);
    // The accessible list of the visible lanes names each object by its key (an attribute, not HTML).
    for (const h of hostile) {
      const lane = page.locator(`[data-testid="timeline-a11y"] ul[aria-label$=${JSON.stringify("/" + h.name)}]`);
      await lane.waitFor({ state: "attached" });
      assert.ok((await lane.textContent())!.includes(h.user), `lane of ${h.name} lists the revision by ${h.user} as text`);
    }
    await assertNothingInjected(w, "timeline");

    await page.goto(`${server.url}?view=audit&tab=insights&insight=top-callers&q=${PROBE}`);
    const table = page.getByTestId("insight-table");
    await table.waitFor();
    const text = (await table.textContent())!;
    for (const h of hostile) assert.ok(text.includes(h.user), `top callers shows ${h.user} as text`);
    await assertNothingInjected(w, "insights top-callers");

    await page.goto(`${server.url}?view=audit&tab=insights&insight=who-changed&q=${PROBE}`);
    await page.getByTestId("insight-table").waitFor();
    const changed = (await page.getByTestId("insight-table").textContent())!;
    for (const h of hostile) assert.ok(changed.includes(h.name), `who changed shows ${h.name} as text`);
    await assertNothingInjected(w, "insights who-changed");
    assertSameOrigin(w);
  } finally {
    await page.close();
  }
});

test("Secret values kept in the store never reach the page: raw events, the Secret's timeline and diff, any API response", async () => {
  const w = await watchedPage();
  const { page } = w;
  const values = [...new Set(secrets.flatMap((s) => s.values))];
  try {
    for (const s of secrets) {
      await page.goto(`${server.url}?view=audit&tab=search&resource=secrets&ev=${encodeURIComponent(`${s.auditID}:${s.stage}`)}`);
      await page.locator(`[data-testid="event-panel"][data-ev="${s.auditID}:${s.stage}"] [data-testid="event-tree"]`).waitFor();
      const shown = (await rawEventJson(page, `${s.auditID}:${s.stage}`)) as Ev;
      assert.equal(shown.auditID, s.auditID);
      const body = shown.requestObject?.kind === "Secret" ? shown.requestObject : shown.responseObject;
      assert.equal(body?.kind, "Secret", "the raw event still shows the Secret");
      assert.ok(Object.keys(body?.data ?? {}).length > 0, "its data keys are shown");
      // The timeline of the Secret with the write's revision (its diff panel) open.
      if (s.verb !== "get") {
        await page.goto(`${server.url}?view=audit&tab=timeline&resource=secrets&sel=${encodeURIComponent(`secrets/${s.namespace}/${s.name}`)}&rev=${s.auditID}`);
        await page.locator(`[data-testid="diff-panel"][data-rev="${s.auditID}"] [data-testid="diff-meta"]`).waitFor();
        assert.match((await page.getByTestId("diff-meta").textContent())!, new RegExp(`${s.verb} by `));
      }
      const html = await page.content();
      for (const v of values) assert.ok(!html.includes(v), `the page of ${s.name} contains the secret value ${v}`);
    }
    await screenshot(page, "console-security-secret-diff");
    await page.waitForLoadState("networkidle");
    assert.ok(w.bodies.some((b) => b.url.includes("/audit/event?")) && w.bodies.some((b) => b.url.includes("/audit/history?")), `API responses recorded: ${w.bodies.map((b) => b.url).join(", ")}`);
    for (const b of w.bodies) for (const v of values) assert.ok(!b.body.includes(v), `${b.url} carries the secret value ${v}`);
    await assertNothingInjected(w, "secret pages");
    assertSameOrigin(w);
  } finally {
    await page.close();
  }
});
