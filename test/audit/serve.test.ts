import { before, after, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually, runCli, spawnCli, stopCli } from "../support/cli.js";
import { generateEvents } from "./fixtures.js";
import { SCENARIO, isRequestEvent, readEvents, type Ev } from "./helpers.js";

let dir: string;
const pki: Record<string, string> = {};

function openssl(args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), "h6-audit-serve-"));
  openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=test-ca", "-keyout", "ca.key", "-out", "ca.crt"]);
  writeFileSync(join(dir, "server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  for (const who of ["server", "client"]) {
    openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", `/CN=${who === "client" ? "kube-apiserver" : "localhost"}`, "-keyout", `${who}.key`, "-out", `${who}.csr`]);
    openssl(["x509", "-req", "-in", `${who}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "1", "-out", `${who}.crt`, ...(who === "server" ? ["-extfile", "server.ext"] : [])]);
  }
  // A client certificate from a CA the server does not trust.
  openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=mallory", "-keyout", "rogue.key", "-out", "rogue.crt"]);
  for (const f of ["ca.crt", "server.crt", "server.key", "client.crt", "client.key", "rogue.crt", "rogue.key"]) pki[f] = join(dir, f);
});
after(() => rmSync(dir, { recursive: true, force: true }));

interface Resp {
  status: number;
  body: string;
}

function post(port: number, body: string | Buffer, opts: { cert?: string; key?: string; path?: string } = {}): Promise<Resp> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: "127.0.0.1",
        port,
        path: opts.path ?? "/",
        method: "POST",
        ca: readFileSync(pki["ca.crt"]!),
        cert: opts.cert ? readFileSync(opts.cert) : undefined,
        key: opts.key ? readFileSync(opts.key) : undefined,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8").on("data", (d: string) => (text += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

function get(port: number, path: string): Promise<Resp> {
  return new Promise((resolve, reject) => {
    httpRequest({ host: "127.0.0.1", port, path }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (d: string) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
    })
      .on("error", reject)
      .end();
  });
}

function ports(stderr: string): { webhookPort: number; httpPort?: number } | undefined {
  for (const line of stderr.split("\n")) {
    if (!line.includes("audit receiver listening")) continue;
    return JSON.parse(line) as { webhookPort: number; httpPort?: number };
  }
  return undefined;
}

const eventList = (items: unknown[]): string => JSON.stringify({ kind: "EventList", apiVersion: "audit.k8s.io/v1", metadata: {}, items });
const mtls = { cert: pki["client.crt"], key: pki["client.key"] };

test("audit serve: mTLS webhook, 400/413 counted, stream metrics pass promtool, JSON API, lock message", async (t) => {
  const db = join(dir, "serve.duckdb");
  const child = spawnCli([
    "audit", "serve", "--db", db, "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--auth=none",
    "--tls-cert", pki["server.crt"]!, "--tls-key", pki["server.key"]!, "--client-ca", pki["ca.crt"]!, "--max-body-bytes", "256KiB",
  ]);
  t.after(() => stopCli(child, "SIGKILL"));
  const p = await eventually(() => ports(child.output.stderr), { timeoutMs: 30_000, what: "listening log line" });
  const http = p.httpPort!;
  Object.assign(mtls, { cert: pki["client.crt"], key: pki["client.key"] });

  // The real scenario in API-server-sized batches, plus one re-sent batch (dedup).
  const scenario = readEvents(SCENARIO).map((e) => e.ev as Ev);
  for (let i = 0; i < scenario.length; i += 50) {
    const r = await post(p.webhookPort, eventList(scenario.slice(i, i + 50)), mtls);
    assert.deepEqual([r.status, JSON.parse(r.body)], [200, { accepted: scenario.slice(i, i + 50).length }]);
  }
  const again = await post(p.webhookPort, eventList(scenario.slice(0, 10)), mtls);
  assert.equal(again.status, 200);

  // mTLS: no client certificate, or one from an untrusted CA, never reaches the handler.
  await assert.rejects(post(p.webhookPort, eventList(scenario.slice(0, 1))));
  await assert.rejects(post(p.webhookPort, eventList(scenario.slice(0, 1)), { cert: pki["rogue.crt"], key: pki["rogue.key"] }));

  const bad = await post(p.webhookPort, '{"kind":"EventList","items":[{"auditID":', mtls);
  assert.equal(bad.status, 400);
  assert.match(JSON.parse(bad.body).error, /malformed JSON/);
  const notList = await post(p.webhookPort, JSON.stringify({ kind: "Pod" }), mtls);
  assert.equal(notList.status, 400);
  const big = await post(p.webhookPort, eventList([...generateEvents(400, { seed: 2 })]), mtls);
  assert.equal(big.status, 413);
  assert.match(JSON.parse(big.body).error, /--max-body-bytes/);
  const withJunk = await post(p.webhookPort, eventList([...generateEvents(3, { seed: 8 }), { kind: "Event" }]), mtls);
  assert.equal(withJunk.status, 200);

  // Metrics derived from the stream.
  const metrics = (await get(http, "/metrics")).body;
  const check = spawnSync("promtool", ["check", "metrics"], { input: metrics, encoding: "utf8" });
  assert.equal(check.status, 0, check.stdout + check.stderr);
  const sample = (name: string, labels: string): number => {
    const m = new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, "m").exec(metrics);
    return m ? Number(m[1]) : 0;
  };
  const all = [...scenario, ...scenario.slice(0, 10), ...generateEvents(3, { seed: 8 })].filter(isRequestEvent);
  const devForbidden = all.filter((e) => e.user.username === "developer" && e.responseStatus.code === 403 && e.verb === "list" && e.objectRef?.resource === "secrets").length;
  assert.equal(sample("watch_auditor_apiserver_requests_total", 'verb="list",resource="secrets",code="403",code_class="4xx",user_class="user"'), devForbidden);
  const anon401 = all.filter((e) => !e.user.username && e.responseStatus.code === 401).length;
  assert.equal(sample("watch_auditor_apiserver_requests_total", 'verb="list",resource="namespaces",code="401",code_class="4xx",user_class="anonymous"'), anon401);
  const total = [...metrics.matchAll(/^watch_auditor_apiserver_requests_total\{.*\} (\S+)$/gm)].reduce((s, m) => s + Number(m[1]), 0);
  assert.equal(total, all.length);
  const received = [...scenario, ...scenario.slice(0, 10), ...generateEvents(3, { seed: 8 })];
  const podLists = received.filter((e) => e.stage === "ResponseComplete" && e.verb === "list" && e.objectRef?.resource === "pods").length;
  assert.equal(sample("watch_auditor_apiserver_request_duration_seconds_count", 'resource="pods",verb="list"'), podLists);
  assert.equal(sample("watch_auditor_apiserver_request_duration_seconds_count", 'resource="pods",verb="watch"'), 0);
  assert.equal(sample("watch_auditor_audit_webhook_rejected_total", 'reason="invalid_json"'), 1);
  assert.equal(sample("watch_auditor_audit_webhook_rejected_total", 'reason="body_too_large"'), 1);
  assert.equal(sample("watch_auditor_audit_webhook_rejected_total", 'reason="not_eventlist"'), 1);
  assert.match(metrics, /^watch_auditor_audit_events_inserted_total (\d+)$/m);
  assert.equal(Number(/^watch_auditor_audit_events_inserted_total (\d+)$/m.exec(metrics)![1]), scenario.length + 3);
  assert.equal(Number(/^watch_auditor_audit_events_duplicate_total (\d+)$/m.exec(metrics)![1]), 10);
  assert.equal(Number(/^watch_auditor_audit_events_malformed_total (\d+)$/m.exec(metrics)![1]), 1);

  // Read-only JSON API with the CLI's parameters.
  const top = await get(http, "/api/v1/top?by=user&since=2026-01-01T00:00:00Z&limit=100");
  assert.equal(top.status, 200);
  const dev = (JSON.parse(top.body) as Ev[]).find((r) => r.user === "developer");
  assert.equal(dev.requests, scenario.filter((e) => isRequestEvent(e) && e.user.username === "developer").length);
  const who = JSON.parse((await get(http, "/api/v1/who-deleted?resource=configmaps&name=cfg-1")).body) as Ev[];
  assert.deepEqual(who.map((r) => [r.outcome, r.user]), [["deleted", "admin"]]);
  const tl = JSON.parse((await get(http, "/api/v1/timeline?resource=configmaps&name=cfg-1&namespace=team-a")).body) as Ev[];
  assert.equal(tl[0].verb, "create");
  for (const path of ["/api/v1/errors", "/api/v1/latency?by=resource,verb", "/api/v1/rate?by=group&step=1m"]) {
    const r = await get(http, path);
    assert.equal(r.status, 200, path);
    assert.ok((JSON.parse(r.body) as unknown[]).length > 0, path);
  }
  const badParam = await get(http, "/api/v1/top?by=color");
  assert.equal(badParam.status, 400);
  assert.match(JSON.parse(badParam.body).error, /query parameter by/);
  const noRes = await get(http, "/api/v1/timeline?name=x");
  assert.equal(noRes.status, 400);
  assert.match(JSON.parse(noRes.body).error, /resource is required/);

  // The store is held by the server: a second writer gets a clear message.
  const locked = await runCli(["audit", "ingest", "--db", db, SCENARIO]);
  assert.equal(locked.code, 1);
  assert.match(locked.stderr, /locked by another process.*HTTP API/);

  const stopped = await stopCli(child, "SIGTERM", 20_000);
  assert.equal(stopped.code, 0, stopped.stderr);
  const count = await runCli(["audit", "sql", "SELECT count(*)::INT AS n FROM events", "--db", db, "-o", "json"]);
  assert.deepEqual(JSON.parse(count.stdout), [{ n: scenario.length + 3 }]);
});

test("audit webhook over plain HTTP writes to the store; bad server flags exit 2", async (t) => {
  const db = join(dir, "webhook.duckdb");
  const child = spawnCli(["audit", "webhook", "--db", db, "--listen", "127.0.0.1:0"]);
  t.after(() => stopCli(child, "SIGKILL"));
  const p = await eventually(() => ports(child.output.stderr), { timeoutMs: 30_000, what: "listening log line" });
  const evs = [...generateEvents(25, { seed: 21 })];
  const r = await new Promise<Resp>((resolve, reject) => {
    const body = eventList(evs);
    httpRequest({ host: "127.0.0.1", port: p.webhookPort, method: "POST", path: "/", headers: { "content-length": Buffer.byteLength(body) } }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (d: string) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
    })
      .on("error", reject)
      .end(body);
  });
  assert.equal(r.status, 200);
  assert.match(child.output.stderr, /plain HTTP/);
  const stopped = await stopCli(child, "SIGTERM", 20_000);
  assert.equal(stopped.code, 0, stopped.stderr);
  const top = await runCli(["audit", "top", "--by", "verb", "--db", db, "-o", "json", "--since", "2025-01-01T00:00:00Z"]);
  const want = new Map<string, number>();
  for (const e of evs) want.set(e.verb, (want.get(e.verb) ?? 0) + 1);
  assert.deepEqual(new Map((JSON.parse(top.stdout) as Ev[]).map((x) => [x.verb, x.requests])), want);

  for (const args of [
    ["--listen", "nowhere"],
    ["--listen", "127.0.0.1:0", "--tls-cert", pki["server.crt"]!],
    ["--listen", "127.0.0.1:0", "--client-ca", pki["ca.crt"]!],
    ["--listen", "127.0.0.1:0", "--max-body-bytes", "lots"],
  ]) {
    const bad = await runCli(["audit", "webhook", "--db", join(dir, "x.duckdb"), ...args]);
    assert.equal(bad.code, 2, `${args.join(" ")}: ${bad.stderr}`);
    assert.match(bad.stderr, /--listen|--tls-cert|--client-ca|--max-body-bytes/);
  }
});

function getTls(port: number, path: string, token?: string): Promise<Resp> {
  return new Promise((resolve, reject) => {
    httpsRequest({ host: "127.0.0.1", port, path, method: "GET", ca: readFileSync(pki["ca.crt"]!), headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (d: string) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
    })
      .on("error", reject)
      .end();
  });
}

test("audit serve --http-tls-cert/--http-tls-key: the JSON API, metrics and probes over HTTPS only; plaintext API off loopback is warned about", async (t) => {
  const tokens = join(dir, "api-tokens.csv");
  writeFileSync(tokens, "s3cr3t-reader,reader,uid-1\n", { mode: 0o600 });
  const base = ["audit", "serve", "--listen", "127.0.0.1:0", "--auth-token-file", tokens];
  const child = spawnCli([...base, "--db", join(dir, "https-api.duckdb"), "--http-listen", "127.0.0.1:0", "--http-tls-cert", pki["server.crt"]!, "--http-tls-key", pki["server.key"]!]);
  t.after(() => stopCli(child, "SIGKILL"));
  const p = await eventually(() => ports(child.output.stderr)?.httpPort, { timeoutMs: 30_000, what: "listening log line" });
  assert.equal((await getTls(p, "/healthz")).status, 200);
  assert.equal((await getTls(p, "/api/v1/top?by=verb")).status, 401);
  const ok = await getTls(p, "/api/v1/top?by=verb", "s3cr3t-reader");
  assert.equal(ok.status, 200, ok.body);
  assert.match((await getTls(p, "/metrics")).body, /watch_auditor_audit_webhook_requests_total/);
  // The same port refuses plain HTTP: a token sent in clear gets no answer.
  await assert.rejects(
    new Promise((resolve, reject) => {
      httpRequest({ host: "127.0.0.1", port: p, path: "/api/v1/top", headers: { authorization: "Bearer s3cr3t-reader" } }, (res) => {
        res.resume();
        res.on("end", () => (res.statusCode === 200 ? resolve(res.statusCode) : reject(new Error(`HTTP ${res.statusCode}`))));
      })
        .on("error", reject)
        .end();
    }),
  );
  assert.doesNotMatch(child.output.stderr, /bearer tokens over plain HTTP/);
  assert.equal((await stopCli(child, "SIGTERM", 20_000)).code, 0);

  // Plain HTTP on a non-loopback address: served, but said loudly.
  const plain = spawnCli([...base, "--db", join(dir, "plain-api.duckdb"), "--http-listen", "0.0.0.0:0"]);
  t.after(() => stopCli(plain, "SIGKILL"));
  await eventually(() => ports(plain.output.stderr), { timeoutMs: 30_000, what: "listening log line" });
  assert.match(plain.output.stderr, /bearer tokens over plain HTTP: pass --http-tls-cert\/--http-tls-key/);
  await stopCli(plain, "SIGTERM", 20_000);

  const half = await runCli([...base, "--db", join(dir, "half.duckdb"), "--http-listen", "127.0.0.1:0", "--http-tls-cert", pki["server.crt"]!]);
  assert.equal(half.code, 2, half.stderr);
  assert.match(half.stderr, /--http-tls-cert and --http-tls-key must be given together/);
});
