// The `console` command and `audit serve`'s console through the real CLI: usage errors, the page
// public and the data behind the token, and the shell in a real Chromium (token prompt, navigation,
// a view whose source is missing says which flag adds it).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { execFileSync } from "node:child_process";
import { get as httpsGet } from "node:https";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { eventually, runCli, spawnCli, stopCli } from "../support/cli.js";
import { freePorts } from "../support/ports.js";
import { buildStore, SECURITY_SCENARIO } from "../support/audit-store.js";
import { launchBrowser, newPage, startConsole } from "../support/browser.js";
import { WEB_ROOT } from "../../src/console/static.js";

let dir: string;
let db: string;
let tokens: string;
let browser: Browser;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), "console-cli-"));
  db = await buildStore(dir, [SECURITY_SCENARIO]);
  tokens = join(dir, "tokens.csv");
  writeFileSync(tokens, "s3cret-console-token,alice,uid-1\n");
  chmodSync(tokens, 0o600);
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

test("console without any source is a usage error naming the flags", async () => {
  const r = await runCli(["console", "--listen", "127.0.0.1:0"]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--audit-db FILE, --prometheus URL, --auditor URL/);
});

test("console on a non-loopback address refuses --auth=none and names --listen", async () => {
  const r = await runCli(["console", "--audit-db", db, "--listen", "0.0.0.0:0", "--auth", "none"]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--listen 0\.0\.0\.0: not a loopback address/);
});

test("console rejects a bad --prometheus URL and a token file without --auditor", async () => {
  const bad = await runCli(["console", "--audit-db", db, "--prometheus", "ftp://x"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--prometheus: must be http:\/\/ or https:\/\//);
  const stray = await runCli(["console", "--audit-db", db, "--auditor-token-file", tokens]);
  assert.equal(stray.code, 2);
  assert.match(stray.stderr, /--auditor-token-file needs --auditor URL/);
  // audit serve's console flags take the same checks
  const serve = await runCli(["audit", "serve", "--db", join(dir, "x.duckdb"), "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--auth", "none", "--auditor", "http://user:pw@auditor:8080/status"]);
  assert.equal(serve.code, 2);
  assert.match(serve.stderr, /--auditor: credentials in the URL would end up in logs/);
});

test("--memory-limit: a bad or too small size is a usage error naming the flag; a console with a cap serves its store", async () => {
  const bad = await runCli(["console", "--audit-db", db, "--memory-limit", "lots"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--memory-limit/);
  const small = await runCli(["console", "--audit-db", db, "--memory-limit", "1MiB"]);
  assert.equal(small.code, 2);
  assert.match(small.stderr, /--memory-limit: at least 16MiB/);
  const c = await startConsole(["--audit-db", db, "--memory-limit", "64MiB"]);
  try {
    const page = (await (await fetch(new URL("/api/console/audit/events?limit=5", c.url))).json()) as { total: number; rows: unknown[] };
    const requests = readFileSync(SECURITY_SCENARIO, "utf8").split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as { stage: string; verb: string; responseStatus?: { code?: number } })
      .filter((e) => e.stage === "ResponseComplete" || e.stage === "Panic" || (e.stage === "ResponseStarted" && (e.responseStatus?.code ?? 0) >= 400 && e.verb !== "watch"));
    assert.equal(page.total, requests.length);
    assert.equal(page.rows.length, 5);
  } finally {
    await c.stop();
  }
});

test("console on a store that does not exist fails naming the file", async () => {
  const missing = join(dir, "nope.duckdb");
  const r = await runCli(["console", "--audit-db", missing, "--listen", "127.0.0.1:0"]);
  assert.notEqual(r.code, 0);
  assert.ok(r.stderr.includes(missing), r.stderr);
});

test("audit serve serves the page publicly and /api/console behind its token; --no-console removes both", async () => {
  const serveDb = join(dir, "serve.duckdb");
  for (const withConsole of [true, false]) {
    const [hook, http] = await freePorts(2);
    const child = spawnCli([
      "audit", "serve", "--db", serveDb, "--listen", `127.0.0.1:${hook}`, "--http-listen", `127.0.0.1:${http}`, "--auth-token-file", tokens,
      ...(withConsole ? [] : ["--no-console"]),
    ]);
    try {
      const base = `http://127.0.0.1:${http}`;
      const page = await eventually(async () => {
        try {
          return await fetch(`${base}/`);
        } catch {
          return undefined;
        }
      }, { what: "audit serve http" });
      const auth = { authorization: "Bearer s3cret-console-token" };
      if (withConsole) {
        assert.equal(page.status, 200);
        assert.match(page.headers.get("content-security-policy") ?? "", /default-src 'none'/);
        const html = await page.text();
        const js = /src="(\/assets\/app-[0-9a-f]+\.js)"/.exec(html)?.[1];
        assert.ok(js, html);
        const script = await fetch(base + js);
        assert.equal(script.status, 200);
        // compressed at build time; fetch decompresses it back to the file in dist/
        assert.equal(script.headers.get("content-encoding"), "gzip");
        assert.equal(await script.text(), readFileSync(join(WEB_ROOT, js!), "utf8"));
        assert.equal((await fetch(`${base}/api/console/info`)).status, 401);
        const info = (await (await fetch(`${base}/api/console/info`, { headers: auth })).json()) as { sources: Record<string, boolean> };
        assert.deepEqual(info.sources, { audit: true, prometheus: false, auditor: false, etcdUsage: false });
        // the JSON API is still there, behind the same token
        assert.equal((await fetch(`${base}/api/v1/top?by=user`, { headers: auth })).status, 200);
        // a bad parameter is a 400 naming it, and each answer is counted by route and code
        const bad = await fetch(`${base}/api/console/audit/events?limit=0`, { headers: auth });
        assert.equal(bad.status, 400);
        assert.match(((await bad.json()) as { error: string }).error, /limit/);
        const metrics = await (await fetch(`${base}/metrics`)).text();
        assert.match(metrics, /^watch_auditor_console_requests_total\{route="\/api\/console\/info",code="200"\} 1$/m);
        assert.match(metrics, /^watch_auditor_console_requests_total\{route="\/api\/console\/audit\/events",code="400"\} 1$/m);
        assert.match(metrics, /^watch_auditor_console_request_duration_seconds_count\{route="\/api\/console\/info"\} 1$/m);
      } else {
        // no page, and an unknown path answers the gate's 401 like any other
        assert.equal(page.status, 401);
        assert.equal((await fetch(`${base}/api/console/info`, { headers: auth })).status, 404);
      }
    } finally {
      await stopCli(child);
    }
  }
});

test("in Chromium: a console behind a token asks for it, then shows the views; a view without its source names the flag", async () => {
  const c = await startConsole(["--audit-db", db, "--auth-token-file", tokens]);
  const page = await newPage(browser);
  try {
    await page.goto(c.url);
    await page.waitForSelector("[data-testid=token-prompt]");
    await page.fill("[data-testid=token-prompt] input", "s3cret-console-token");
    await Promise.all([page.waitForEvent("load"), page.click("[data-testid=token-prompt] button")]);
    await page.waitForSelector("[data-testid=view-audit]");
    await eventually(async () => ((await page.locator("[data-testid=token-prompt]").count()) === 0 ? true : undefined), { what: "token accepted" });
    await page.click("[data-testid=nav-auditor]");
    await page.waitForSelector("[data-testid=source-missing]");
    assert.match(await page.textContent("[data-testid=source-missing]") ?? "", /--auditor URL/);
    assert.match(page.url(), /[?&]view=auditor/);
    // back to the audit view with the browser's back button
    await page.goBack();
    await page.waitForSelector("[data-testid=view-audit]");
    // the token lives in sessionStorage only: no cookie is ever set
    assert.deepEqual(await page.context().cookies(), []);
    assert.deepEqual(page.errors.filter((e) => !/401/.test(e)), []);
  } finally {
    await page.close();
    await c.stop();
  }
});

test("in Chromium: an empty store shows every audit tab without an error (no range, no rows, no lanes)", async () => {
  const empty = join(dir, "empty.jsonl");
  writeFileSync(empty, "");
  const emptyDb = await buildStore(dir, [empty], { name: "empty.duckdb" });
  const c = await startConsole(["--audit-db", emptyDb]);
  const page = await newPage(browser);
  try {
    for (const tab of ["search", "timeline", "insights"]) {
      await page.goto(new URL(`/?view=audit&tab=${tab}`, c.url).toString());
      await page.waitForSelector("[data-testid=view-audit]");
      if (tab === "search") await eventually(async () => ((await page.getByTestId("results-total").getAttribute("data-total")) === "0" ? true : undefined), { what: "total 0" });
      else await page.waitForLoadState("networkidle");
    }
    assert.deepEqual(page.errors, []);
  } finally {
    await page.close();
    await c.stop();
  }
});

test("console --tls-cert/--tls-key serves the page and the API over HTTPS; the URL it prints says https", async () => {
  const openssl = (args: string[]): void => void execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  writeFileSync(join(dir, "tls.ext"), "subjectAltName=IP:127.0.0.1\n");
  openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=console-ca", "-keyout", "tls-ca.key", "-out", "tls-ca.crt"]);
  openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "tls.key", "-out", "tls.csr"]);
  openssl(["x509", "-req", "-in", "tls.csr", "-CA", "tls-ca.crt", "-CAkey", "tls-ca.key", "-CAcreateserial", "-days", "1", "-out", "tls.crt", "-extfile", "tls.ext"]);
  const c = await startConsole(["--audit-db", db, "--tls-cert", join(dir, "tls.crt"), "--tls-key", join(dir, "tls.key")]);
  const ca = readFileSync(join(dir, "tls-ca.crt"));
  const get = (path: string): Promise<{ status: number; csp: string | undefined; body: string }> =>
    new Promise((resolve, reject) => {
      httpsGet(new URL(path, c.url), { ca }, (res) => {
        let body = "";
        res.setEncoding("utf8").on("data", (d: string) => (body += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, csp: res.headers["content-security-policy"] as string | undefined, body }));
      }).on("error", reject);
    });
  try {
    assert.match(c.url, /^https:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await get("/");
    assert.equal(page.status, 200);
    assert.match(page.csp ?? "", /default-src 'none'/);
    const info = await get("/api/console/info");
    assert.equal(info.status, 200);
    assert.equal((JSON.parse(info.body) as { sources: { audit: boolean } }).sources.audit, true);
    // plain HTTP on the same port is not answered as HTTP
    await assert.rejects(fetch(c.url.replace("https:", "http:") + "api/console/info"));
  } finally {
    await c.stop();
  }
});

test("console --tls-cert without --tls-key is a usage error", async () => {
  const r = await runCli(["console", "--audit-db", db, "--tls-cert", join(dir, "tls.crt")]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--tls-cert and --tls-key must be given together/);
});
