// GET /api/console/auditor/status: the console's server reads a real `watch-auditor serve` (against
// the test API server, a controller that is dead until it is rolled) and hands its /status on; the
// bearer token of --auditor-token-file, the size limit, the timeout, redirects and broken answers
// are checked against small local servers that stand in for a misbehaving auditor.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Registry } from "prom-client";
import { OpsServer } from "../../src/core/http-server.js";
import { createLogger } from "../../src/core/logger.js";
import { auditorRoutes, MAX_STATUS_BYTES, type AuditorStatus } from "../../src/console/api/auditor.js";
import type { ConsoleContext } from "../../src/console/context.js";
import { FAST, eventually, startCluster, startServe } from "../auditor/helpers.js";
import { DEPLOYMENT_NAME } from "../auditor/sim/controller.js";

async function consoleFor(auditor: ConsoleContext["auditor"], fetchTimeoutMs = 10_000): Promise<{ get(): Promise<{ status: number; body: AuditorStatus & { error?: string } }>; close(): Promise<void> }> {
  const server = new OpsServer({ registry: new Registry(), port: 0, host: "127.0.0.1", routes: auditorRoutes({ ...(auditor ? { auditor } : {}), log: createLogger("silent"), fetchTimeoutMs }) });
  const port = await server.listen();
  return {
    get: async () => {
      const res = await fetch(`http://127.0.0.1:${port}/api/console/auditor/status`);
      return { status: res.status, body: (await res.json()) as AuditorStatus & { error?: string } };
    },
    close: () => server.close(),
  };
}

function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })));
}

const closeServer = (s: Server) => new Promise<void>((resolve) => { s.closeAllConnections(); s.close(() => resolve()); });

test("auditor status through the console: the real serve's checks, failures, rolls; token; 503/502 for every failure mode", async (t) => {
  // A dead controller that comes back once rolled: fails, a roll at the 2nd consecutive failure, then passes.
  const c = await startCluster({ controller: { mode: "dead", recoverOnRoll: true } });
  t.after(() => c.close());
  const s = await startServe(c, [...FAST, "--leader-elect", "false", "--failure-threshold", "2"]);
  t.after(() => s.stop());
  const settled = await eventually(
    async () => {
      const p = (await s.status()).probes.default!;
      return p.rolls.length >= 1 && p.checks.some((x) => x.result === "pass") ? p : undefined;
    },
    { timeoutMs: 60_000, what: "a roll and a pass after it" },
  );
  assert.equal(settled.rolls[0]!.deployments[0], DEPLOYMENT_NAME);

  const plain = await consoleFor({ url: `http://127.0.0.1:${s.port}/status` });
  t.after(() => plain.close());
  const r = await plain.get();
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const direct = await s.status();
  assert.equal(r.body.identity, direct.identity);
  assert.equal(r.body.leader, true);
  const p = r.body.probes.default!;
  const d = direct.probes.default!;
  // The same rolls; every check the console passed on is the auditor's check of that run, unchanged
  // (new checks keep coming every 200 ms, so the two reads need not hold the same set).
  assert.deepEqual(p.rolls, d.rolls);
  assert.equal(p.failureThreshold, 2);
  assert.equal(p.kind, "sidecar");
  const byRun = new Map(d.checks.map((x) => [(x as unknown as { runId: string }).runId, x]));
  const shared = p.checks.filter((x) => byRun.has(x.runId));
  assert.ok(shared.length >= p.checks.length - 5, `${shared.length} of ${p.checks.length} checks still in the auditor's history`);
  for (const x of shared) assert.deepEqual(x, byRun.get(x.runId));
  assert.ok(p.checks.some((x) => x.result === "fail" && /istio-proxy/.test(x.reason)), "failed checks carry the auditor's reason");

  // --auditor-token-file: the token goes to the auditor as a bearer token (a gate in front of the real /status).
  const TOKEN = "s3cret-auditor-token";
  const seen: (string | undefined)[] = [];
  const gate = await listen((req, res) => {
    seen.push(req.headers.authorization);
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return void res.writeHead(401, { "content-type": "text/plain" }).end("Unauthorized");
    void fetch(`http://127.0.0.1:${s.port}/status`).then(async (up) => res.writeHead(up.status, { "content-type": "application/json" }).end(await up.text()));
  });
  t.after(() => closeServer(gate.server));
  const withToken = await consoleFor({ url: `${gate.url}/status`, token: TOKEN });
  t.after(() => withToken.close());
  const ok = await withToken.get();
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal(ok.body.identity, direct.identity);
  assert.deepEqual(seen, [`Bearer ${TOKEN}`]);
  const noToken = await consoleFor({ url: `${gate.url}/status` });
  t.after(() => noToken.close());
  const denied = await noToken.get();
  assert.equal(denied.status, 502);
  assert.match(denied.body.error!, new RegExp(`auditor ${gate.url}/status: HTTP 401 \\(check --auditor-token-file\\)`));
  assert.equal(seen[1], undefined, "no Authorization header without a token");
  assert.doesNotMatch(JSON.stringify(ok.body) + JSON.stringify(denied.body), new RegExp(TOKEN), "the token never reaches the page");

  // Misbehaving auditors: each a 502 naming the URL and what went wrong.
  const big = "x".repeat(MAX_STATUS_BYTES + 1);
  const cases: [string, (req: IncomingMessage, res: ServerResponse) => void, RegExp][] = [
    ["too large (declared)", (_q, res) => void res.writeHead(200, { "content-type": "application/json", "content-length": String(big.length) }).end(big), /answer of 4194305 bytes is larger than the limit of 4194304 bytes/],
    ["too large (chunked)", (_q, res) => { res.writeHead(200, { "content-type": "application/json" }); for (let i = 0; i < 5; i++) res.write("x".repeat(1024 * 1024)); res.end(); }, /answer is larger than the limit of 4194304 bytes/],
    ["not JSON", (_q, res) => void res.writeHead(200, { "content-type": "text/html" }).end("<html>login</html>"), /not JSON: "<html>login<\/html>"/],
    ["not a status", (_q, res) => void res.writeHead(200, { "content-type": "application/json" }).end('{"probes": {"x": {"checks": "nope"}}}'), /probe "x" is not a probe status/],
    ["no probes", (_q, res) => void res.writeHead(200, { "content-type": "application/json" }).end("[]"), /not the auditor's status/],
    ["server error", (_q, res) => void res.writeHead(500).end("boom"), /HTTP 500: boom/],
    ["redirect", (_q, res) => void res.writeHead(302, { location: "http://127.0.0.1:1/steal" }).end(), /HTTP 302 redirect \(not followed/],
    ["no answer", () => undefined, /no answer within 500 ms/],
  ];
  for (const [what, handler, re] of cases) {
    const bad = await listen(handler);
    const con = await consoleFor({ url: `${bad.url}/status`, token: TOKEN }, 500);
    try {
      const res = await con.get();
      assert.equal(res.status, 502, what);
      assert.match(res.body.error!, new RegExp(`^auditor ${bad.url}/status: `), what);
      assert.match(res.body.error!, re, what);
    } finally {
      await con.close();
      await closeServer(bad.server);
    }
  }
  // Nothing listening.
  const gone = await listen(() => undefined);
  await closeServer(gone.server);
  const refused = await consoleFor({ url: `${gone.url}/status` });
  t.after(() => refused.close());
  const rr = await refused.get();
  assert.equal(rr.status, 502);
  assert.match(rr.body.error!, new RegExp(`^auditor ${gone.url}/status: .*ECONNREFUSED`));
  // Not configured: 503 saying which flag.
  const none = await consoleFor(undefined);
  t.after(() => none.close());
  const nr = await none.get();
  assert.equal(nr.status, 503);
  assert.match(nr.body.error!, /--auditor URL/);
});
