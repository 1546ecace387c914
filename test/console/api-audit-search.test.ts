// The console's audit search API (summary, histogram, events) over a store the real CLI built from
// real audit logs (the recorded v1.25 API server, the v1.24 and v1.25 scenarios, the old-format
// demo log), served by a real node:http server and called with fetch. Expected values come from a
// plain pass over the raw events.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildStore, RECORDED_V125, SECURITY_SCENARIO, V124_SCENARIO } from "../support/audit-store.js";
import { AUDIT_SAMPLES } from "../support/samples.js";
import { serialized } from "../../src/audit/public.js";
import { isRequest, isoMicros, micros, newestFirst, qualified, readEvents, serve, servedStore, type Ev } from "./api-audit-support.js";

const FILES = [RECORDED_V125, SECURITY_SCENARIO, V124_SCENARIO, join(AUDIT_SAMPLES, "demo.log")];
const all = readEvents(FILES);
const requests = all.filter(isRequest);

const fx = servedStore("search", FILES);

const sortedUnique = <T>(xs: T[], by?: (a: T, b: T) => number): T[] => [...new Set(xs)].sort(by);
const ms = (ev: Ev): number => Math.floor(micros(ev) / 1000);

test("summary: request count, first and last time, verbs, resources (plural.group), namespaces and codes of the whole store", async () => {
  const r = await fx.api.get("summary");
  assert.equal(r.status, 200);
  assert.match(r.type, /^application\/json/);
  const byTime = [...requests].sort((a, b) => micros(a) - micros(b));
  assert.equal(r.body.events, requests.length);
  assert.ok(requests.length < all.length, "the samples hold stage events that are not requests (ResponseStarted of successes)");
  assert.equal(r.body.from, isoMicros(byTime[0]));
  assert.equal(r.body.to, isoMicros(byTime.at(-1)));
  assert.deepEqual(r.body.verbs, sortedUnique(requests.map((e) => e.verb)));
  assert.deepEqual(r.body.resources, sortedUnique(requests.map(qualified).filter((x): x is string => x !== null)));
  assert.ok(r.body.resources.includes("deployments.apps") && r.body.resources.includes("pods"));
  assert.deepEqual(r.body.namespaces, sortedUnique(requests.map((e) => e.objectRef?.namespace).filter((x): x is string => !!x)));
  assert.deepEqual(r.body.codes, sortedUnique(requests.map((e) => e.responseStatus?.code).filter((c): c is number => typeof c === "number"), (a, b) => a - b));
});

test("histogram without a range spans the store's first to last request; every request lands in its bucket, errors are code >= 400", async () => {
  const r = await fx.api.get("histogram");
  assert.equal(r.status, 200);
  const lo = Math.min(...requests.map(ms));
  const hi = Math.max(...requests.map(ms)) + 1;
  assert.equal(r.body.from, new Date(lo).toISOString());
  assert.equal(r.body.to, new Date(hi).toISOString());
  const step = Math.ceil((hi - lo) / 120);
  assert.equal(r.body.stepMs, step);
  const n = Math.ceil((hi - lo) / step);
  assert.equal(r.body.buckets.length, n);
  const counts = new Array<number>(n).fill(0);
  const errors = new Array<number>(n).fill(0);
  for (const e of requests) {
    const i = Math.min(n - 1, Math.floor((ms(e) - lo) / step));
    counts[i]!++;
    if (e.responseStatus?.code >= 400) errors[i]!++;
  }
  assert.deepEqual(r.body.buckets.map((b: Ev) => b.count), counts);
  assert.deepEqual(r.body.buckets.map((b: Ev) => b.errors), errors);
  assert.deepEqual(r.body.buckets.map((b: Ev) => b.t), counts.map((_, i) => new Date(lo + i * step).toISOString()));
  assert.ok(errors.some((x) => x > 0));
});

test("histogram with from/to, buckets and filters counts only matching requests in that range", async () => {
  const sec = readEvents([SECURITY_SCENARIO]).filter(isRequest);
  const from = Math.min(...sec.map(ms)) + 1000;
  const to = Math.max(...sec.map(ms)) - 1000;
  const params = { from: new Date(from).toISOString(), to: String(to), buckets: 50, useragent: "KUBECTL", code: "2xx" };
  const r = await fx.api.get("histogram", params);
  assert.equal(r.status, 200);
  const step = Math.ceil((to - from) / 50);
  assert.equal(r.body.stepMs, step);
  assert.equal(r.body.from, new Date(from).toISOString());
  assert.equal(r.body.to, new Date(to).toISOString());
  const expected = new Array<number>(r.body.buckets.length).fill(0);
  const match = requests.filter((e) => ms(e) >= from && ms(e) < to && /kubectl/i.test(e.userAgent ?? "") && e.responseStatus.code >= 200 && e.responseStatus.code < 300);
  for (const e of match) expected[Math.floor((ms(e) - from) / step)]!++;
  assert.ok(match.length > 5 && match.length < sec.length);
  assert.deepEqual(r.body.buckets.map((b: Ev) => b.count), expected);
  assert.equal(r.body.buckets.reduce((n: number, b: Ev) => n + b.errors, 0), 0);
});

async function allPages(params: Record<string, string>, limit: number): Promise<{ total: number; rows: Ev[] }> {
  const rows: Ev[] = [];
  let total = -1;
  for (let offset = 0; ; offset += limit) {
    const r = await fx.api.get("events", { ...params, offset, limit });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.offset, offset);
    if (total >= 0) assert.equal(r.body.total, total);
    total = r.body.total;
    rows.push(...r.body.rows);
    if (r.body.rows.length < limit) break;
  }
  return { total, rows };
}

test("events: pages of any size, concatenated, are every request newest first (ts DESC, audit_id, stage), with the event's fields", async () => {
  const expected = [...requests].sort(newestFirst);
  for (const limit of [97, 1000]) {
    const { total, rows } = await allPages({}, limit);
    assert.equal(total, requests.length);
    assert.deepEqual(rows.map((r) => `${r.audit_id}/${r.stage}`), expected.map((e) => `${e.auditID}/${e.stage}`));
  }
  const page = await fx.api.get("events", { offset: 40, limit: 60 });
  for (const [i, row] of page.body.rows.entries()) {
    const e = expected[40 + i];
    assert.deepEqual(
      { ...row, latency_ms: undefined },
      {
        audit_id: e.auditID, stage: e.stage, ts: isoMicros(e), verb: e.verb, user: e.user?.username ?? null, user_agent: e.userAgent ?? null,
        source_ip: e.sourceIPs?.[0] ?? null, namespace: e.objectRef?.namespace ?? null, resource: qualified(e), subresource: e.objectRef?.subresource ?? null,
        name: e.objectRef?.name ?? null, code: e.responseStatus?.code ?? null, request_uri: e.requestURI ?? null,
        authz_decision: e.annotations?.["authorization.k8s.io/decision"] ?? null, latency_ms: undefined,
      },
    );
    if (e.requestReceivedTimestamp) {
      const want = (micros(e) - micros({ stageTimestamp: e.requestReceivedTimestamp })) / 1000;
      assert.ok(Math.abs(row.latency_ms - want) < 0.001, `latency of ${e.auditID}: ${row.latency_ms} vs ${want}`);
    }
  }
  const past = await fx.api.get("events", { offset: requests.length, limit: 10 });
  assert.deepEqual(past.body, { total: requests.length, offset: requests.length, rows: [] });
});

// Each filter against an independent predicate over the raw events.
const sec = readEvents([SECURITY_SCENARIO]).filter(isRequest).sort((a, b) => micros(a) - micros(b));
const FILTERS: { params: Record<string, string>; keep: (e: Ev) => boolean }[] = [
  { params: { user: "dana" }, keep: (e) => e.user?.username === "dana" },
  { params: { useragent: "KUBECTL/" }, keep: (e) => (e.userAgent ?? "").toLowerCase().includes("kubectl/") },
  { params: { verb: "delete" }, keep: (e) => e.verb === "delete" },
  { params: { resource: "deployments" }, keep: (e) => e.objectRef?.resource === "deployments" },
  { params: { resource: "deployments.apps" }, keep: (e) => e.objectRef?.resource === "deployments" && e.objectRef.apiGroup === "apps" },
  { params: { resource: "leases.coordination.k8s.io" }, keep: (e) => e.objectRef?.resource === "leases" && e.objectRef.apiGroup === "coordination.k8s.io" },
  { params: { namespace: "shop" }, keep: (e) => e.objectRef?.namespace === "shop" },
  { params: { namespace: "-" }, keep: (e) => !e.objectRef?.namespace },
  { params: { name: "cart" }, keep: (e) => e.objectRef?.name === "cart" },
  { params: { code: "403" }, keep: (e) => e.responseStatus?.code === 403 },
  { params: { code: "4xx" }, keep: (e) => e.responseStatus?.code >= 400 && e.responseStatus.code < 500 },
  { params: { q: "WATCH=TRUE" }, keep: (e) => (e.requestURI ?? "").toLowerCase().includes("watch=true") },
  {
    params: { from: isoMicros(sec[10]), to: String(ms(sec[60])) },
    keep: (e) => micros(e) >= micros(sec[10]) && ms(e) < ms(sec[60]),
  },
  { params: { namespace: "shop", verb: "patch", code: "2xx" }, keep: (e) => e.objectRef?.namespace === "shop" && e.verb === "patch" && e.responseStatus.code < 300 },
];

test("events filters: user, user agent (substring, any case), verb, resource (plural or plural.group), namespace (- = cluster-scoped), name, code and class, URI text, time range, combined", async () => {
  for (const { params, keep } of FILTERS) {
    const expected = requests.filter(keep).sort(newestFirst);
    assert.ok(expected.length > 0 && expected.length < requests.length, `${JSON.stringify(params)} selects some, not all (${expected.length})`);
    const { total, rows } = await allPages(params, 1000);
    assert.equal(total, expected.length, JSON.stringify(params));
    assert.deepEqual(rows.map((r) => `${r.audit_id}/${r.stage}`), expected.map((e) => `${e.auditID}/${e.stage}`), JSON.stringify(params));
    const h = await fx.api.get("histogram", params);
    assert.equal(h.body.buckets.reduce((n: number, b: Ev) => n + b.count, 0), expected.length, `histogram ${JSON.stringify(params)}`);
  }
});

test("bad parameters answer 400 naming the parameter; nothing is run", async () => {
  const cases: [string, Record<string, string>, RegExp][] = [
    ["events", { code: "abc" }, /^query parameter code: /],
    ["events", { code: "6xx" }, /^query parameter code: /],
    ["events", { limit: "0" }, /^query parameter limit: must be between 1 and 1000/],
    ["events", { limit: "1001" }, /^query parameter limit: /],
    ["events", { offset: "-1" }, /^query parameter offset: /],
    ["events", { offset: "ten" }, /^query parameter offset: not an integer/],
    ["events", { from: "yesterday" }, /^query parameter from: not a time/],
    ["events", { to: "2026-13-45" }, /^query parameter to: /],
    ["events", { from: "2024-01-02T00:00:00Z", to: "2024-01-01T00:00:00Z" }, /^query parameter to: must be after from/],
    ["events", { resource: "pods; DROP TABLE events" }, /^query parameter resource: /],
    ["events", { user: "x".repeat(2000) }, /^query parameter user: longer than/],
    ["histogram", { buckets: "5" }, /^query parameter buckets: must be between 10 and 400/],
    ["histogram", { buckets: "401" }, /^query parameter buckets: /],
    ["timeline", { lanes: "0" }, /^query parameter lanes: /],
    ["timeline", { lanes: "2001" }, /^query parameter lanes: /],
    ["insights/errors", { limit: "0" }, /^query parameter limit: /],
    ["insights/who-deleted", { code: "4x" }, /^query parameter code: /],
    ["event", {}, /^query parameter audit_id is required/],
    ["history", { resource: "deployments" }, /^query parameter name is required/],
    ["history", { name: "cart" }, /^query parameter resource is required/],
  ];
  for (const [path, params, want] of cases) {
    const r = await fx.api.get(path, params);
    assert.equal(r.status, 400, `${path} ${JSON.stringify(params)}: ${r.text}`);
    assert.match(r.body.error, want, `${path} ${JSON.stringify(params)}`);
  }
  assert.equal((await fx.api.get("insights/nope")).status, 404);
  // User text is data, never SQL: quotes and SQL in a value just match nothing.
  for (const [k, v] of [["user", "x' OR '1'='1"], ["q", "%' OR 1=1 --"], ["name", "'; DROP TABLE events; --"]] as const) {
    const r = await fx.api.get("events", { [k]: v });
    assert.equal(r.status, 200);
    assert.equal(r.body.total, 0, `${k}=${v}`);
  }
  assert.equal((await fx.api.get("summary")).body.events, requests.length);
});

test("without an audit store the routes answer 503 naming --audit-db", async () => {
  const none = await serve(undefined);
  try {
    for (const p of ["summary", "events", "timeline", "insights/errors"]) {
      const r = await none.get(p);
      assert.equal(r.status, 503);
      assert.match(r.body.error, /--audit-db/);
    }
  } finally {
    await none.close();
  }
});

test("an empty store: zero counts, no range, no buckets, no rows, no lanes (not errors)", async () => {
  const file = join(fx.dir, "empty.jsonl");
  writeFileSync(file, "");
  const empty = await serve(await buildStore(fx.dir, [file], { name: "empty.duckdb" }));
  try {
    assert.deepEqual((await empty.get("summary")).body, { events: 0, from: null, to: null, verbs: [], resources: [], namespaces: [], codes: [] });
    assert.deepEqual((await empty.get("histogram")).body, { from: null, to: null, stepMs: 0, buckets: [] });
    const ranged = await empty.get("histogram", { from: "2026-01-01T00:00:00Z", to: "2026-01-01T01:00:00Z", buckets: 60 });
    assert.equal(ranged.body.buckets.length, 60);
    assert.ok(ranged.body.buckets.every((b: Ev) => b.count === 0 && b.errors === 0));
    assert.deepEqual((await empty.get("events")).body, { total: 0, offset: 0, rows: [] });
    assert.deepEqual((await empty.get("timeline")).body, { from: null, to: null, totalObjects: 0, truncated: false, events: 0, lanes: [] });
    assert.deepEqual((await empty.get("insights/who-deleted")).body.rows, []);
  } finally {
    await empty.close();
  }
});

test("a request whose client went away while it waited for the store is not run; the next one is", async () => {
  let release!: () => void;
  const held = serialized(fx.api.store, () => new Promise<void>((r) => (release = r)));
  const ac = new AbortController();
  const gone = fetch(`${fx.api.base}/api/console/audit/summary`, { signal: ac.signal }).catch((err: unknown) => err);
  await new Promise((r) => setTimeout(r, 500)); // it reaches the server and waits behind the held store
  ac.abort();
  assert.equal(((await gone) as Error).name, "AbortError");
  await new Promise((r) => setTimeout(r, 300)); // the server sees the closed socket
  const query = fx.api.store.query;
  const ran: string[] = [];
  fx.api.store.query = (sql, params) => {
    ran.push(sql);
    return query.call(fx.api.store, sql, params);
  };
  try {
    const next = fx.api.get("summary");
    release();
    await held;
    const r = await next;
    assert.equal(r.status, 200);
    assert.equal(r.body.events, requests.length);
    assert.equal(ran.length, 1, "only the live request's summary query ran");
  } finally {
    fx.api.store.query = query;
  }
});
