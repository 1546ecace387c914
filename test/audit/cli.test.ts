import { before, after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../support/cli.js";
import { generateEvents, writeJsonl } from "./fixtures.js";
import { DEMO, SCENARIO, isRequestEvent, readEvents, type Ev } from "./helpers.js";

let dir: string;
let db: string;
let genDb: string;
const scenario = readEvents(SCENARIO).map((e) => e.ev as Ev);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "h6-audit-cli-"));
  db = join(dir, "audit.duckdb");
  genDb = join(dir, "gen.duckdb");
  const r = await runCli(["audit", "ingest", "--db", db, SCENARIO, DEMO]);
  assert.equal(r.code, 0, r.stderr);
  await writeJsonl(join(dir, "gen.jsonl"), 5000, { seed: 1 });
  const g = await runCli(["audit", "ingest", "--db", genDb, join(dir, "gen.jsonl")]);
  assert.equal(g.code, 0, g.stderr);
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function json(args: string[]): Promise<Ev[]> {
  const r = await runCli([...args, "--db", db, "-o", "json"]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Ev[];
}

test("ingest reports malformed lines as file:line on stderr and reads stdin", async () => {
  const lines = [...generateEvents(3, { seed: 4 })].map((e) => JSON.stringify(e));
  const r = await runCli(["audit", "ingest", "--db", join(dir, "stdin.duckdb"), "-"], { input: [lines[0], "{oops", lines[1], lines[2]].join("\n") });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^-:2: malformed: invalid JSON$/m);
  assert.match(r.stdout, /read 3 events from 1 file\(s\): 3 inserted, 0 duplicates, 1 malformed lines/);
});

test("who-deleted: the configmap in the v1.24 scenario, with user, agent, IP and time", async () => {
  const del = scenario.filter((e) => e.verb === "delete" && e.objectRef?.resource === "configmaps" && e.stage === "ResponseComplete");
  assert.equal(del.length, 1);
  const rows = await json(["audit", "who-deleted", "configmaps", "cfg-1"]);
  assert.deepEqual(
    rows.map((r) => [r.outcome, r.user, r.user_agent, r.source_ip, r.namespace, r.code, r.time]),
    del.map((e) => ["deleted", e.user.username, e.userAgent, e.sourceIPs[0], e.objectRef.namespace, e.responseStatus.code, e.stageTimestamp]),
  );
  const table = await runCli(["audit", "who-deleted", "configmaps", "--db", db]);
  assert.match(table.stdout, /^Deleted \(1\):\nTIME +VERB +NAMESPACE/m);
  assert.match(table.stdout, /^Failed attempts \(0\):/m);
});

test("who-deleted lists failed attempts apart (developer's 403 on deployments)", async () => {
  const rows = await json(["audit", "who-deleted", "deployments.apps"]);
  const failed = scenario.filter((e) => e.verb === "delete" && e.objectRef?.resource === "deployments" && e.responseStatus.code >= 400);
  const ok = scenario.filter((e) => e.verb === "delete" && e.objectRef?.resource === "deployments" && e.responseStatus.code < 400);
  assert.deepEqual(rows.filter((r) => r.outcome === "failed").map((r) => [r.user, r.name, r.code]), failed.map((e) => [e.user.username, e.objectRef.name, 403]));
  assert.deepEqual(rows.filter((r) => r.outcome === "deleted").map((r) => [r.user, r.name]), ok.map((e) => [e.user.username, e.objectRef.name]));
});

test("errors: 403s by developer, 401s with an empty username, the 422s — each with a likely cause", async () => {
  const rows = await json(["audit", "errors", "--since", "2026-01-01T00:00:00Z"]);
  const sum = (pred: (r: Ev) => boolean): number => rows.filter(pred).reduce((n, r) => n + r.count, 0);
  const req = scenario.filter(isRequestEvent);
  assert.equal(sum((r) => r.code === 403 && r.user === "developer"), req.filter((e) => e.responseStatus.code === 403 && e.user.username === "developer").length);
  assert.equal(sum((r) => r.code === 401 && (r.user ?? "") === ""), req.filter((e) => e.responseStatus.code === 401 && !e.user.username).length);
  assert.equal(sum((r) => r.code === 422), 3);
  assert.equal(sum((r) => r.code === 422), req.filter((e) => e.responseStatus.code === 422).length);
  const secrets = rows.find((r) => r.code === 403 && r.user === "developer" && r.resource === "secrets");
  assert.equal(secrets.likely_cause.startsWith("RBAC lacks verb list on resource secrets"), true);
  assert.match(rows.find((r) => r.code === 401).likely_cause, /expired or invalid credentials/);
  assert.match(rows.find((r) => r.code === 409).likely_cause, /already exists/);
  assert.match(rows.find((r) => r.code === 422).likely_cause, /invalid object or immutable field/);
});

test("top --by user|useragent|verb: requests, errors and share match a JS pass", async () => {
  const rows = await json(["audit", "top", "--by", "user", "--since", "2026-01-01T00:00:00Z"]);
  const req = scenario.filter(isRequestEvent);
  const want = new Map<string, { n: number; err: number }>();
  for (const e of req) {
    const w = want.get(e.user.username ?? "") ?? { n: 0, err: 0 };
    w.n++;
    if (e.responseStatus.code >= 400) w.err++;
    want.set(e.user.username ?? "", w);
  }
  assert.equal(rows.length, want.size);
  for (const r of rows) {
    const w = want.get(r.user ?? "")!;
    assert.deepEqual([r.requests, r.errors], [w.n, w.err], `user ${r.user}`);
    assert.ok(Math.abs(r.share_pct - (100 * w.n) / req.length) < 0.01);
  }
  const ua = await json(["audit", "top", "--by", "useragent", "--limit", "3"]);
  assert.ok(ua.some((r) => r.useragent === "noisy-agent/1.0"));
  const csv = await runCli(["audit", "top", "--by", "verb", "--db", db, "-o", "csv"]);
  assert.match(csv.stdout, /^verb,requests,errors,share_pct\n/);
});

test("timeline: every request on the object, in order", async () => {
  const want = scenario
    .filter((e) => isRequestEvent(e) && e.objectRef?.resource === "configmaps" && e.objectRef?.name === "cfg-1")
    .sort((a, b) => (a.requestReceivedTimestamp < b.requestReceivedTimestamp ? -1 : 1));
  const rows = await json(["audit", "timeline", "configmaps", "cfg-1", "-n", "team-a"]);
  assert.deepEqual(rows.map((r) => [r.verb, r.user, r.code]), want.map((e) => [e.verb, e.user.username, e.responseStatus.code]));
  assert.deepEqual(rows.map((r) => r.verb).slice(0, 2), ["create", "create"]); // the second create is the 409
});

test("latency: quantiles per resource,verb equal a JS quantile_cont; watch kept apart", async () => {
  const r = await runCli(["audit", "latency", "--by", "resource,verb", "--db", genDb, "-o", "json", "--limit", "500"]);
  assert.equal(r.code, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as Ev[];
  const us = (x: string): number => Date.parse(x.replace(/\.\d+Z$/, "Z")) * 1000 + Number((/\.(\d+)Z$/.exec(x)?.[1] ?? "0").padEnd(6, "0").slice(0, 6));
  const lat = [...generateEvents(5000, { seed: 1 })]
    .filter((e) => e.objectRef?.resource === "configmaps" && e.verb === "list")
    .map((e) => (us(e.stageTimestamp) - us(e.requestReceivedTimestamp)) / 1000)
    .sort((a, b) => a - b);
  const q = (p: number): number => {
    const pos = (lat.length - 1) * p;
    const lo = Math.floor(pos);
    return lat[lo]! + (lat[Math.min(lo + 1, lat.length - 1)]! - lat[lo]!) * (pos - lo);
  };
  const row = rows.find((x) => x.resource === "configmaps" && x.verb === "list")!;
  assert.equal(row.kind, "request");
  assert.equal(row.count, lat.length);
  assert.ok(Math.abs(row.p50_ms - q(0.5)) < 0.001 && Math.abs(row.p95_ms - q(0.95)) < 0.001 && Math.abs(row.p99_ms - q(0.99)) < 0.001);
  assert.ok(Math.abs(row.max_ms - lat[lat.length - 1]!) < 0.001);
  assert.ok(rows.filter((x) => x.verb === "watch").every((x) => x.kind === "long-running"));
  assert.ok(rows.filter((x) => x.verb !== "watch").every((x) => x.kind === "request"));
});

test("rate --by user|group --step: buckets add up to the requests", async () => {
  const rows = await json(["audit", "rate", "--by", "user", "--step", "1m", "--user", "developer"]);
  const n = scenario.filter((e) => isRequestEvent(e) && e.user.username === "developer").length;
  assert.equal(rows.reduce((s, r) => s + r.requests, 0), n);
  for (const r of rows) assert.ok(Math.abs(r.per_second - r.requests / 60) < 0.001);
  const groups = await json(["audit", "rate", "--by", "group", "--step", "1h", "--since", "2026-01-01T00:00:00Z"]);
  const masters = scenario.filter((e) => isRequestEvent(e) && (e.user.groups ?? []).includes("system:masters")).length;
  assert.equal(groups.filter((r) => r.group === "system:masters").reduce((s, r) => s + r.requests, 0), masters);
});

test("sql is read-only; empty results say so; bad flags exit 2 naming the flag; a missing DB exits 1", async () => {
  const ok = await json(["audit", "sql", "SELECT count(*)::INT AS n FROM events WHERE code = 403"]);
  assert.equal(ok[0].n, scenario.filter((e) => e.responseStatus?.code === 403).length + readEvents(DEMO).filter((e) => e.ev.responseStatus?.code === 403).length);
  const del = await runCli(["audit", "sql", "DELETE FROM events", "--db", db]);
  assert.equal(del.code, 2);
  assert.match(del.stderr, /only SELECT/);
  const sneaky = await runCli(["audit", "sql", "SELECT * FROM read_text('/etc/passwd')", "--db", db]);
  assert.equal(sneaky.code, 1);
  assert.match(sneaky.stderr, /disabled|external/i);

  const empty = await runCli(["audit", "top", "--user", "nobody", "--db", db]);
  assert.equal(empty.code, 0);
  assert.equal(empty.stdout, "no matching events\n");
  const emptyJson = await runCli(["audit", "errors", "--user", "nobody", "--db", db, "-o", "json"]);
  assert.deepEqual([emptyJson.code, emptyJson.stdout.trim(), emptyJson.stderr.trim()], [0, "[]", "no matching events"]);

  const badBy = await runCli(["audit", "top", "--by", "color", "--db", db]);
  assert.equal(badBy.code, 2);
  assert.match(badBy.stderr, /--by/);
  const badSince = await runCli(["audit", "errors", "--since", "last tuesday", "--db", db]);
  assert.equal(badSince.code, 2);
  assert.match(badSince.stderr, /--since/);
  const badLimit = await runCli(["audit", "top", "--limit", "0", "--db", db]);
  assert.equal(badLimit.code, 2);
  const missing = await runCli(["audit", "top", "--db", join(dir, "nope.duckdb")]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /nope\.duckdb does not exist/);
  const viaEnv = await runCli(["audit", "top", "--by", "verb", "-o", "json"], { env: { WATCH_AUDITOR_AUDIT_DB: db } });
  assert.equal(viaEnv.code, 0, viaEnv.stderr);
  writeFileSync(join(dir, "q.sql"), "SELECT 42 AS answer");
  assert.deepEqual(await json(["audit", "sql", `@${join(dir, "q.sql")}`]), [{ answer: 42 }]);
});
