// The console's security over HTTP, through the real `watch-auditor console` process: the security
// headers on the page, its files and the JSON; loopback-only without a token; refusal to start on
// another address without authentication; the token gate on /api/ (the page and its files stay
// public: they hold no data); Secret values never leave the server even when the store kept them
// (`audit ingest --keep-secret-data` of the real v1.25 security scenario's Secret creates).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { eventually, runCli, spawnCli, stopCli } from "../support/cli.js";
import { freePorts } from "../support/ports.js";
import { startConsole } from "../support/browser.js";
import { buildStore, SECURITY_SCENARIO } from "../support/audit-store.js";

interface Resp {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** GET of url; rawPath (sent as is, not normalized) replaces its path when given. */
function get(url: string, token?: string, rawPath?: string): Promise<Resp> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    httpRequest(
      { host: u.hostname, port: u.port, path: rawPath ?? u.pathname + u.search, method: "GET", headers: token === undefined ? {} : { authorization: `Bearer ${token}` } },
      (res) => {
        let text = "";
        res.setEncoding("utf8").on("data", (d: string) => (text += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    )
      .on("error", reject)
      .end();
  });
}

// The policy the issue asks for, written out here (not imported from the code under test).
const CSP_DIRECTIVES = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
];

function assertSecurityHeaders(r: Resp, what: string): void {
  assert.equal(r.headers["x-content-type-options"], "nosniff", `${what}: x-content-type-options`);
  assert.equal(r.headers["referrer-policy"], "no-referrer", `${what}: referrer-policy`);
  assert.equal(r.headers["x-frame-options"], "DENY", `${what}: x-frame-options`);
}

/** The page's script and style, as index.html names them. */
function assetPaths(html: string): string[] {
  const paths = [...html.matchAll(/(?:src|href)="(\/?assets\/[^"]+)"/g)].map((m) => "/" + m[1]!.replace(/^\//, ""));
  assert.ok(paths.some((p) => p.endsWith(".js")) && paths.some((p) => p.endsWith(".css")), `index.html names a script and a style: ${html}`);
  return paths;
}

/** A non-loopback IPv4 address of this machine, or 0.0.0.0 (all addresses) when it has none. */
function nonLoopbackHost(): string {
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  return "0.0.0.0";
}

interface SecretEvent {
  auditID: string;
  stage: string;
  name: string;
  namespace: string;
  values: string[];
}

/** The Secret writes of the scenario with the values of their data, read from the file itself. */
function secretEvents(): SecretEvent[] {
  const out: SecretEvent[] = [];
  for (const line of readFileSync(SECURITY_SCENARIO, "utf8").split("\n")) {
    if (!line.trim()) continue;
    const e = JSON.parse(line) as { auditID: string; stage: string; objectRef?: { resource?: string; name?: string; namespace?: string }; requestObject?: { kind?: string; data?: Record<string, string> }; responseObject?: { kind?: string; data?: Record<string, string> } };
    const values = new Set<string>();
    for (const b of [e.requestObject, e.responseObject]) {
      if (b?.kind !== "Secret" || !b.data) continue;
      for (const v of Object.values(b.data)) {
        values.add(v);
        values.add(Buffer.from(v, "base64").toString("utf8"));
      }
    }
    if (values.size > 0 && e.objectRef?.name && e.objectRef.namespace) out.push({ auditID: e.auditID, stage: e.stage, name: e.objectRef.name, namespace: e.objectRef.namespace, values: [...values] });
  }
  return out;
}

let dir: string;
let store: string;
let secretStore: string;
let tokenFile: string;
const TOKEN = "console-test-token-5f1c9e";

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "console-security-"));
  store = await buildStore(dir, [SECURITY_SCENARIO]);
  secretStore = await buildStore(dir, [SECURITY_SCENARIO], { name: "secrets.duckdb", keepSecretData: true });
  tokenFile = join(dir, "tokens.csv");
  writeFileSync(tokenFile, `${TOKEN},alice,alice-uid,"ops"\n`);
  chmodSync(tokenFile, 0o600);
});
after(() => rmSync(dir, { recursive: true, force: true }));

test("loopback: page, script, style and JSON carry the security headers; the page has the strict CSP; no token is needed", async () => {
  const c = await startConsole(["--audit-db", store]);
  try {
    assert.match(c.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const page = await get(c.url);
    assert.equal(page.status, 200);
    assert.match(String(page.headers["content-type"]), /^text\/html/);
    assertSecurityHeaders(page, "/");
    const csp = String(page.headers["content-security-policy"]);
    assert.deepEqual(csp.split(";").map((d) => d.trim()).filter(Boolean).sort(), [...CSP_DIRECTIVES].sort(), `CSP: ${csp}`);
    // No inline script or style in the page itself (the CSP would block it).
    assert.doesNotMatch(page.body, /<script(?![^>]*\bsrc=)[^>]*>/i, "inline <script> in index.html");
    assert.doesNotMatch(page.body, /<style|\sstyle=|\son[a-z]+=/i, "inline style or event handler in index.html");
    for (const p of assetPaths(page.body)) {
      const r = await get(new URL(p, c.url).href);
      assert.equal(r.status, 200, p);
      assertSecurityHeaders(r, p);
      assert.match(String(r.headers["content-type"]), p.endsWith(".js") ? /^text\/javascript/ : /^text\/css/, p);
      assert.ok(r.body.length > 100, `${p} has content`);
    }
    const info = await get(new URL("/api/console/info", c.url).href);
    assert.equal(info.status, 200, info.body);
    assertSecurityHeaders(info, "/api/console/info");
    assert.match(String(info.headers["content-type"]), /^application\/json/);
    assert.equal((JSON.parse(info.body) as { sources: { audit: boolean } }).sources.audit, true);
    const events = await get(new URL("/api/console/audit/events?limit=5", c.url).href);
    assert.equal(events.status, 200, events.body);
    assertSecurityHeaders(events, "/api/console/audit/events");
    assert.equal(events.headers["cache-control"], "no-store");
    // A path outside the page's files is not served from disk.
    for (const p of ["/assets/../../package.json", "/assets/manifest.json", "/manifest.json", "/assets/%2e%2e/index.html"]) {
      const r = await get(c.url, undefined, p);
      assert.notEqual(r.status, 200, `${p} answered 200: ${r.body.slice(0, 100)}`);
    }
  } finally {
    await c.stop();
  }
});

test("a non-loopback --listen without authentication: the CLI refuses to start and says why", async () => {
  const host = nonLoopbackHost();
  for (const listen of [`${host}:0`, "0.0.0.0:0"]) {
    const none = await runCli(["console", "--audit-db", store, "--listen", listen, "--auth=none"], { timeoutMs: 20_000 });
    assert.notEqual(none.code, 0, `--listen ${listen} --auth=none started: ${none.stdout}`);
    assert.doesNotMatch(none.stdout, /console listening/);
    assert.match(none.stderr, new RegExp(`--listen ${listen.split(":")[0]!.replace(/\./g, "\\.")}.*not a loopback.*authentication`), none.stderr);
  }
  // No auth flag at all means the Kubernetes gate; without any Kubernetes configuration it cannot
  // check tokens, so it does not start either (never an open port).
  const home = mkdtempSync(join(dir, "home-"));
  const dflt = await runCli(["console", "--audit-db", store, "--listen", "0.0.0.0:0"], { timeoutMs: 20_000, env: { HOME: home, KUBECONFIG: undefined, KUBERNETES_SERVICE_HOST: undefined } });
  assert.notEqual(dflt.code, 0, `started without auth: ${dflt.stdout}`);
  assert.doesNotMatch(dflt.stdout, /console listening/);
  assert.match(dflt.stderr, /Kubernetes configuration|kubeconfig/i, dflt.stderr);
});

test("a non-loopback --listen with --auth-token-file: /api/ answers 401 without the token and 200 with it; the page and its files are served to anyone", async () => {
  const host = nonLoopbackHost();
  const c = await startConsole(["--audit-db", store, "--listen", `${host}:0`, "--auth-token-file", tokenFile]);
  try {
    const base = new URL(c.url);
    const at = (p: string): string => new URL(p, base).href;
    const page = await get(at("/"));
    assert.equal(page.status, 200);
    assertSecurityHeaders(page, "/ (auth on)");
    for (const p of assetPaths(page.body)) assert.equal((await get(at(p))).status, 200, p);
    for (const p of ["/api/console/info", "/api/console/audit/summary", "/api/console/audit/events?limit=3"]) {
      const anon = await get(at(p));
      assert.equal(anon.status, 401, `${p} without a token: ${anon.body}`);
      assert.match(String(anon.headers["www-authenticate"]), /^Bearer/);
      assertSecurityHeaders(anon, `${p} 401`);
      assert.doesNotMatch(anon.body, /shop|oscar|deployments/, `${p}: the 401 carries no data`);
      const wrong = await get(at(p), "not-the-token");
      assert.equal(wrong.status, 401, `${p} with a wrong token`);
      const ok = await get(at(p), TOKEN);
      assert.equal(ok.status, 200, `${p} with the token: ${ok.body}`);
    }
    // With the token the data is the store's: three rows of the scenario.
    const page3 = JSON.parse((await get(at("/api/console/audit/events?limit=3"), TOKEN)).body) as { rows: { audit_id: string }[] };
    assert.equal(page3.rows.length, 3);
    const ids = new Set(readFileSync(SECURITY_SCENARIO, "utf8").split("\n").filter(Boolean).map((l) => (JSON.parse(l) as { auditID: string }).auditID));
    for (const r of page3.rows) assert.ok(ids.has(r.audit_id), `row ${r.audit_id} is from the scenario`);
  } finally {
    await c.stop();
  }
});

test("Secret values kept in the store (--keep-secret-data) never reach an API response", async () => {
  const secrets = secretEvents();
  assert.ok(secrets.length >= 3, `the scenario has Secret writes with data: ${secrets.length}`);
  const values = [...new Set(secrets.flatMap((s) => s.values))].filter((v) => v.length >= 6);
  // The store really holds them (otherwise this test would prove nothing).
  const inStore = await runCli(["audit", "sql", `SELECT count(*) AS n FROM bodies WHERE contains(request_object::VARCHAR, '${secrets[0]!.values[0]!.replace(/'/g, "''")}')`, "--db", secretStore, "-o", "json"]);
  assert.equal(inStore.code, 0, inStore.stderr);
  assert.equal(Number((JSON.parse(inStore.stdout) as { n: number | string }[])[0]!.n), 1, "the kept secret is in the store");

  const c = await startConsole(["--audit-db", secretStore]);
  try {
    const api = (p: string, params: Record<string, string> = {}): string => new URL(`/api/console/audit/${p}?${new URLSearchParams(params).toString()}`, c.url).href;
    const urls: string[] = [
      api("summary"),
      api("events", { limit: "1000" }),
      api("events", { resource: "secrets", limit: "1000" }),
      api("histogram", { resource: "secrets" }),
      api("timeline", { namespace: "shop", lanes: "2000" }),
      api("timeline", { resource: "secrets" }),
      ...["who-deleted", "who-changed", "top-callers", "errors", "latency"].map((k) => api(`insights/${k}`)),
    ];
    for (const s of secrets) {
      urls.push(api("event", { audit_id: s.auditID, stage: s.stage }));
      urls.push(api("history", { resource: "secrets", namespace: s.namespace, name: s.name }));
    }
    for (const u of urls) {
      const r = await get(u);
      assert.equal(r.status, 200, `${u}: ${r.body.slice(0, 300)}`);
      for (const v of values) assert.ok(!r.body.includes(v) && !r.body.includes(JSON.stringify(v).slice(1, -1)), `${u} contains the secret value ${v}`);
    }
    // The raw event keeps the Secret's shape (kind, data keys), only the values are gone.
    const s = secrets[0]!;
    const ev = JSON.parse((await get(api("event", { audit_id: s.auditID, stage: s.stage }))).body) as { auditID: string; requestObject?: { kind?: string; data?: Record<string, string> } };
    assert.equal(ev.auditID, s.auditID);
    assert.equal(ev.requestObject?.kind, "Secret");
    const keys = Object.keys(ev.requestObject?.data ?? {});
    assert.ok(keys.length > 0, "data keys kept");
    for (const k of keys) assert.ok(!s.values.includes(ev.requestObject!.data![k]!), `data.${k} still holds its value`);
    // The detections insight, when the server has it, is held to the same rule.
    const det = await get(api("insights/detections"));
    assert.ok(det.status === 200 || det.status === 404, `insights/detections: ${det.status}`);
    for (const v of values) assert.ok(!det.body.includes(v), `insights/detections contains ${v}`);
  } finally {
    await c.stop();
  }
});

test("audit serve's console: the same headers and CSP, /api/console behind its token, Secret values kept in its store never answered", async () => {
  const secrets = secretEvents();
  const values = [...new Set(secrets.flatMap((x) => x.values))].filter((v) => v.length >= 6);
  // audit serve owns (writes) its store: a copy of the one that kept the Secret data.
  const serveDb = join(dir, "serve.duckdb");
  copyFileSync(secretStore, serveDb);
  const [hook, http] = await freePorts(2);
  const child = spawnCli(["audit", "serve", "--db", serveDb, "--listen", `127.0.0.1:${hook}`, "--http-listen", `127.0.0.1:${http}`, "--auth-token-file", tokenFile]);
  try {
    const base = `http://127.0.0.1:${http}/`;
    const page = await eventually(() => get(base).catch(() => undefined), { timeoutMs: 30_000, what: "audit serve's page" });
    assert.equal(page.status, 200, page.body.slice(0, 200));
    assertSecurityHeaders(page, "audit serve /");
    const csp = String(page.headers["content-security-policy"]);
    assert.deepEqual(csp.split(";").map((d) => d.trim()).filter(Boolean).sort(), [...CSP_DIRECTIVES].sort(), `CSP: ${csp}`);
    for (const p of assetPaths(page.body)) {
      const r = await get(new URL(p, base).href);
      assert.equal(r.status, 200, p);
      assertSecurityHeaders(r, `audit serve ${p}`);
    }
    const info = new URL("/api/console/info", base).href;
    assert.equal((await get(info)).status, 401);
    const ok = await get(info, TOKEN);
    assert.equal(ok.status, 200, ok.body);
    assertSecurityHeaders(ok, "audit serve /api/console/info");
    for (const x of secrets) {
      const ev = await get(new URL(`/api/console/audit/event?${new URLSearchParams({ audit_id: x.auditID, stage: x.stage }).toString()}`, base).href, TOKEN);
      assert.equal(ev.status, 200, ev.body.slice(0, 300));
      assert.equal((JSON.parse(ev.body) as { auditID: string }).auditID, x.auditID);
      for (const v of values) assert.ok(!ev.body.includes(v), `audit serve's event ${x.auditID} contains the secret value ${v}`);
    }
  } finally {
    await stopCli(child);
  }
});
