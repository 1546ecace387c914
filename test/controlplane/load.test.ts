// whoLoads (controlplane --audit-db): the busiest and slowest resource/verb pairs and their users and
// user agents, from a store filled by the real `audit ingest` with the recorded v1.24 scenario, the
// v1.25 security scenario and derived copies of its events carrying latency annotations
// (test/audit/latency-fixture.ts). Expected answers come from a plain JS pass over the JSON lines.
import { before, after, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../support/cli.js";
import { SCENARIO, SECURITY, isRequestEvent, readEvents, type Ev } from "../audit/helpers.js";
import { derivedAnnotatedEvents, expectedSplit, isLongRunning, latencyMs, quantileCont, writeJsonlFile } from "../audit/latency-fixture.js";
import { whoLoads, renderWhoLoads, targetOf, type ResourceVerbLoad } from "../../src/controlplane/load/index.js";

let dir: string;
let db: string;
let events: Ev[];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "h6-cp-load-"));
  db = join(dir, "audit.duckdb");
  const derived = join(dir, "derived.jsonl");
  const d = derivedAnnotatedEvents();
  writeJsonlFile(derived, d.events);
  const r = await runCli(["audit", "ingest", "--db", db, SCENARIO, SECURITY, derived]);
  assert.equal(r.code, 0, r.stderr);
  events = [...readEvents(SCENARIO), ...readEvents(SECURITY)].map((e) => e.ev).concat(d.events).filter(isRequestEvent);
});
after(() => rmSync(dir, { recursive: true, force: true }));

interface Group {
  key: string;
  evs: Ev[];
  requests: number;
  errors: number;
  lat: number[];
  latSum: number | null;
  p99: number | null;
}

const r3 = (x: number): number => Math.round(x * 1000) / 1000;

function keyOf(e: Ev): string {
  const o = e.objectRef;
  const res = o?.resource ? (o.apiGroup ? `${o.resource}.${o.apiGroup}` : o.resource) : null;
  const url = o?.resource ? null : String(e.requestURI ?? "").replace(/\?.*$/, "");
  return JSON.stringify([e.verb ?? null, res, (o?.resource && o.subresource) || null, url]);
}

function groupsOf(evs: Ev[]): Map<string, Group> {
  const m = new Map<string, Group>();
  for (const e of evs) {
    const k = keyOf(e);
    const g = m.get(k) ?? { key: k, evs: [], requests: 0, errors: 0, lat: [], latSum: null, p99: null };
    g.evs.push(e);
    g.requests++;
    if (e.responseStatus?.code >= 400) g.errors++;
    const l = isLongRunning(e) ? null : latencyMs(e);
    if (l !== null) g.lat.push(l);
    m.set(k, g);
  }
  for (const g of m.values()) {
    g.latSum = g.lat.length ? r3(g.lat.reduce((a, b) => a + b, 0)) : null;
    g.p99 = g.lat.length ? r3(quantileCont(g.lat, 0.99)) : null;
  }
  return m;
}

const reportKey = (p: ResourceVerbLoad): string => JSON.stringify([p.verb, p.resource, p.subresource, p.nonResourceURL]);
const near = (a: number | null, b: number | null, what: string): void => {
  if (b === null) assert.equal(a, null, what);
  else assert.ok(a !== null && Math.abs(a - b) <= 0.0015, `${what}: ${String(a)} != ${b}`);
};

function checkClients(p: ResourceVerbLoad, g: Group, top: number): void {
  for (const [field, pick] of [["users", (e: Ev) => e.user?.username ?? null], ["userAgents", (e: Ev) => e.userAgent ?? null]] as const) {
    const by = new Map<string | null, Ev[]>();
    for (const e of g.evs) by.set(pick(e), [...(by.get(pick(e)) ?? []), e]);
    const stats = [...by].map(([name, evs]) => {
      const lat = evs.filter((e) => !isLongRunning(e)).map((e) => latencyMs(e)).filter((x): x is number => x !== null);
      return { name, requests: evs.length, latSum: lat.length ? r3(lat.reduce((a, b) => a + b, 0)) : null, p99: lat.length ? r3(quantileCont(lat, 0.99)) : null };
    });
    const got = p[field];
    // By requests: the top counts, in order, each with its own numbers.
    assert.deepEqual(got.byRequests.map((c) => c.requests), stats.map((s) => s.requests).sort((a, b) => b - a).slice(0, top), `${field} ${reportKey(p)}`);
    for (const c of [...got.byRequests, ...got.byLatency]) {
      const s = stats.find((x) => x.name === c.name)!;
      assert.ok(s, `${field}: ${String(c.name)} is not a client of ${reportKey(p)}`);
      assert.equal(c.requests, s.requests);
      near(c.latencySumMs, s.latSum, `${field} ${String(c.name)} latency sum`);
      near(c.p99Ms, s.p99, `${field} ${String(c.name)} p99`);
    }
    // By latency: the largest sums, in order (none for long-running pairs).
    const sums = stats.map((s) => s.latSum).filter((x): x is number => x !== null).sort((a, b) => b - a).slice(0, top);
    assert.equal(got.byLatency.length, sums.length, `${field} byLatency ${reportKey(p)}`);
    got.byLatency.forEach((c, i) => near(c.latencySumMs, sums[i]!, `${field} byLatency[${i}]`));
  }
}

test("whoLoads: busiest and slowest pairs with their top users and user agents equal a plain reading of the events", async () => {
  const top = 4;
  const r = await whoLoads(db, { top });
  const groups = groupsOf(events);
  assert.equal(r.requests, events.length);

  const byRequests = [...groups.values()].sort((a, b) => b.requests - a.requests);
  assert.deepEqual(r.busiest.map((p) => p.requests), byRequests.slice(0, top).map((g) => g.requests));
  const bySlowness = [...groups.values()].filter((g) => g.p99 !== null && !g.evs.some(isLongRunning)).sort((a, b) => b.p99! - a.p99!);
  near(r.slowest[0]!.p99Ms, bySlowness[0]!.p99, "slowest p99");
  assert.deepEqual(r.slowest.map((p) => p.p99Ms), bySlowness.slice(0, top).map((g) => g.p99));

  for (const p of [...r.busiest, ...r.slowest]) {
    const g = groups.get(reportKey(p));
    assert.ok(g, `no such pair in the events: ${reportKey(p)}`);
    assert.equal(p.requests, g.requests);
    assert.equal(p.errors, g.errors);
    near(p.latencySumMs, g.latSum, `${reportKey(p)} latency sum`);
    near(p.p99Ms, g.p99, `${reportKey(p)} p99`);
    assert.equal(p.longRunning, g.evs.some(isLongRunning));
    const annotated = g.evs.filter((e) => expectedSplit(e) !== null);
    assert.equal(p.annotated, annotated.length, `${reportKey(p)} annotated`);
    if (annotated.length > 0) {
      const etcd = annotated.reduce((s, e) => s + expectedSplit(e)!.etcd_ms!, 0) / annotated.length;
      near(p.split!.etcd_ms, etcd, `${reportKey(p)} etcd mean`);
    } else assert.equal(p.split, null);
    checkClients(p, g, top);
  }
  // The busiest pair of these recordings: the noisy agent's pod lists (v1.24 scenario).
  assert.deepEqual([r.busiest[0]!.verb, targetOf(r.busiest[0]!), r.busiest[0]!.userAgents.byRequests[0]!.name], ["list", "pods", "noisy-agent/1.0"]);
  // The slowest pairs come from the derived annotated events (≥ 501 ms) and carry the split.
  assert.ok(r.slowest[0]!.p99Ms! > 500 && r.slowest[0]!.split !== null);
  assert.match(renderWhoLoads(r), /^Busiest \(by requests\):\n {2}list pods: \d+ requests/m);
  assert.match(renderWhoLoads(r), /where the time went \(\d+ slow request\(s\), mean ms of [\d.]+\): etcd [\d.]+/);
});

test("whoLoads: a window, a read-only file, and clear errors", async () => {
  // Only the v1.24 scenario's requests (23 Nov 2026) in this window.
  const since = new Date("2026-11-23T00:00:00Z");
  const until = new Date("2026-11-24T00:00:00Z");
  const ro = join(dir, "readonly.duckdb");
  copyFileSync(db, ro);
  chmodSync(ro, 0o444);
  const before = statSync(ro).mtimeMs;
  const r = await whoLoads(ro, { since, until, top: 2 });
  const inWindow = readEvents(SCENARIO).map((e) => e.ev).filter(isRequestEvent).filter((e) => {
    const t = Date.parse(e.stageTimestamp);
    return t >= since.getTime() && t < until.getTime();
  });
  assert.equal(r.requests, inWindow.length);
  assert.equal(r.busiest.length, 2);
  assert.equal(r.window.since, since.toISOString());
  assert.equal(statSync(ro).mtimeMs, before);
  assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith("readonly")), ["readonly.duckdb"]);

  const empty = await whoLoads(db, { since: new Date("2030-01-01T00:00:00Z") });
  assert.deepEqual([empty.requests, empty.busiest, empty.slowest, empty.notes], [0, [], [], ["no audited request in the window"]]);

  const missing = join(dir, "nope.duckdb");
  await assert.rejects(whoLoads(missing), (err: Error) => err.message.includes(missing));
  const notStore = join(dir, "derived.jsonl");
  await assert.rejects(whoLoads(notStore), (err: Error) => err.message.includes(notStore));
  await assert.rejects(whoLoads(db, { top: 0 }), /top must be an integer from 1 to 100/);
  await assert.rejects(whoLoads(db, { since: until, until: since }), /since .* must be before until/);
});

test("controlplane reads the audit store only through audit's public module", () => {
  const root = join(import.meta.dirname, "../../src/controlplane");
  const files: string[] = [];
  const walk = (d: string): void => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith(".ts")) files.push(p);
    }
  };
  walk(root);
  const offenders = files.flatMap((f) =>
    [...readFileSync(f, "utf8").matchAll(/from\s+"([^"]*\/audit\/[^"]*)"/g)].map((m) => m[1]!).filter((spec) => !/\/audit\/public\.js$/.test(spec)).map((spec) => `${f}: ${spec}`),
  );
  assert.deepEqual(offenders, []);
  assert.ok(files.some((f) => f.endsWith("load/index.ts")));
});
