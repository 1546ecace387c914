// apiserver.latency.k8s.io/* annotations: stored as ms columns (file ingest and the webhook), malformed
// values reported and stored as NULL, the split of `audit latency`, and the migration of an older store.
// Expected values come from a character-walk reading of the raw JSON lines (latency-fixture.ts), not
// from the SQL under test.
import { before, after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import fc from "fast-check";
import { goDurationMsSql, parseGoDurationMs } from "../../src/audit/latency-annotations.js";
import { eventually, runCli, spawnCli, stopCli } from "../support/cli.js";
import { SECURITY, SCENARIO, readEvents, type Ev } from "./helpers.js";
import {
  KEYS, PREFIX, RECORDED_V125_AUDIT, derivedAnnotatedEvents, expectedSplit, isLongRunning, readGoDuration, realAnnotated, writeJsonlFile,
} from "./latency-fixture.js";

let dir: string;
let db: string;
let derivedPath: string;
const derived = derivedAnnotatedEvents();
const column = (k: string): string => `apiserver_latency_${k.replace(/-/g, "_")}_ms`;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "h6-audit-latency-"));
  db = join(dir, "audit.duckdb");
  derivedPath = join(dir, "derived-annotated.jsonl");
  writeJsonlFile(derivedPath, derived.events);
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function sqlJson(store: string, sql: string): Promise<Ev[]> {
  const r = await runCli(["audit", "sql", sql, "--db", store, "-o", "json"]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Ev[];
}

const close = (a: unknown, b: number, what: string): void => {
  assert.equal(typeof a, "number", `${what}: ${String(a)}`);
  assert.ok(Math.abs((a as number) - b) <= 1e-9 * Math.max(1, Math.abs(b)), `${what}: ${String(a)} != ${b}`);
};

test("Go durations: the SQL reading and the live counter's agree with an independent reading, valid or not", async () => {
  const num = fc.oneof(fc.nat(99_999).map(String), fc.tuple(fc.nat(999), fc.nat(999_999)).map(([a, b]) => `${a}.${b}`), fc.nat(999).map((b) => `.${b}`), fc.nat(99).map((a) => `${a}.`));
  const unit = fc.constantFrom("ns", "us", "µs", "μs", "ms", "s", "m", "h");
  const valid = fc.tuple(fc.constantFrom("", "", "-", "+"), fc.array(fc.tuple(num, unit).map(([n, u]) => n + u), { minLength: 1, maxLength: 3 })).map(([sg, parts]) => sg + parts.join(""));
  const junk = fc.string({ unit: fc.constantFrom(..."0123456789.mshnuµμ +-e"), maxLength: 8 });
  const samples = fc.sample(fc.oneof(valid, junk, fc.constantFrom("0", "-0", "", ".s", "1..5s", "5mss", "1e3ms", "12 ms", "inf", "1.256s", "43.75199ms")), { numRuns: 600, seed: 12 });
  const instance = await DuckDBInstance.create(":memory:");
  const c = await instance.connect();
  const rows = (await c.runAndReadAll(`SELECT v, ${goDurationMsSql("v")} AS ms FROM (VALUES ${samples.map((v) => `('${v}')`).join(", ")}) t(v)`)).getRowObjectsJS();
  c.closeSync();
  instance.closeSync();
  let valids = 0;
  for (const row of rows) {
    const v = String(row.v);
    const want = readGoDuration(v);
    const sql = row.ms === null ? null : Number(row.ms);
    const js = parseGoDurationMs(v);
    for (const [what, got] of [["sql", sql], ["js", js]] as const) {
      if (want === null) assert.equal(got, null, `${what} ${JSON.stringify(v)}`);
      else assert.ok(got !== null && Math.abs(got - want) <= 1e-9 * Math.max(1, Math.abs(want)), `${what} ${JSON.stringify(v)}: ${String(got)} != ${want}`);
    }
    if (want !== null) valids++;
  }
  assert.ok(valids > 200 && valids < rows.length - 100, `${valids} valid of ${rows.length}`);
});

test("the recordings: which real events carry the annotations", () => {
  const real = realAnnotated();
  assert.deepEqual(
    real.map((r) => [r.ev.verb, r.ev.requestURI.split("?")[0], Object.keys(r.ev.annotations).filter((k) => k.startsWith(PREFIX)).sort()]),
    [
      ["get", "/openapi/v2", [`${PREFIX}response-write`, `${PREFIX}total`]],
      ["list", "/api/v1/namespaces/rec/configmaps", [`${PREFIX}response-write`, `${PREFIX}serialize-response-object`, `${PREFIX}total`]],
    ],
  );
  assert.equal(readEvents(SECURITY).filter((e) => JSON.stringify(e.ev.annotations ?? {}).includes(PREFIX)).length, 0);
});

test("ingest: each annotation is a ms column equal to the raw value; malformed ones are reported as file:line and stored as NULL", async () => {
  const r = await runCli(["audit", "ingest", "--db", db, SCENARIO, RECORDED_V125_AUDIT, derivedPath, "-o", "json"]);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as Ev;
  const bad = [...derived.malformed].flatMap(([n, keys]) => keys.map((annotation) => ({ file: derivedPath, line: n + 1, annotation, value: String(derived.events[n].annotations[annotation]) })));
  assert.equal(report.malformedAnnotations, 3);
  assert.deepEqual(report.malformedAnnotationList, bad);
  assert.equal(report.malformed, 0);
  for (const b of bad) assert.ok(r.stderr.includes(`${b.file}:${b.line}: malformed annotation ${b.annotation}: ${JSON.stringify(b.value)} is not a Go duration (stored as NULL)`), r.stderr);

  // Every stored value equals the independent reading of the raw annotation; absent or malformed → NULL.
  const all = [SCENARIO, RECORDED_V125_AUDIT, derivedPath].flatMap((f) => readEvents(f).map((e) => e.ev));
  const rows = await sqlJson(db, `SELECT audit_id, stage, ${KEYS.map(column).join(", ")} FROM events`);
  assert.equal(rows.length, new Set(all.map((e) => `${e.auditID}/${e.stage}`)).size);
  const byId = new Map(rows.map((row) => [`${row.audit_id}/${row.stage}`, row]));
  let values = 0;
  for (const e of all) {
    const row = byId.get(`${e.auditID}/${e.stage}`);
    for (const k of KEYS) {
      const want = readGoDuration(e.annotations?.[PREFIX + k]);
      if (want === null) assert.equal(row[column(k)], null, `${e.auditID} ${k}`);
      else {
        close(row[column(k)], want, `${e.auditID} ${k}`);
        values++;
      }
    }
  }
  assert.ok(values > 60, `only ${values} annotation values`);
  // The two real ones, spelled out: "798.786941ms", "43.75199ms"; "3.002622604s", "32.009µs", "1.783µs".
  const [openapi, configmaps] = realAnnotated();
  const o = byId.get(`${openapi!.ev.auditID}/ResponseComplete`);
  close(o.apiserver_latency_total_ms, 798.786941, "openapi total");
  close(o.apiserver_latency_response_write_ms, 43.75199, "openapi response-write");
  const c = byId.get(`${configmaps!.ev.auditID}/ResponseComplete`);
  close(c.apiserver_latency_total_ms, 3002.622604, "configmaps total");
  close(c.apiserver_latency_serialize_response_object_ms, 0.032009, "configmaps serialize");
  close(c.apiserver_latency_response_write_ms, 0.001783, "configmaps response-write");
});

test("an EventList document (pretty-printed): a malformed annotation is named by file:line#items[i]", async () => {
  const doc = join(dir, "eventlist.json");
  const items = derived.events.slice(0, 3);
  writeFileSync(doc, JSON.stringify({ kind: "EventList", apiVersion: "audit.k8s.io/v1", items }, null, 2));
  const r = await runCli(["audit", "ingest", "--db", join(dir, "eventlist.duckdb"), doc]);
  assert.equal(r.code, 0, r.stderr);
  const want = [...derived.malformed]
    .filter(([i]) => i < 3)
    .flatMap(([i, keys]) => keys.map((k) => `${doc}:1#items[${i}]: malformed annotation ${k}: ${JSON.stringify(String(items[i].annotations[k]))} is not a Go duration (stored as NULL)`));
  assert.equal(want.length, 2);
  assert.deepEqual(r.stderr.trim().split("\n"), want);
  assert.match(r.stdout, /read 3 events from 1 file\(s\): 3 inserted, 0 duplicates, 0 malformed lines\n2 malformed apiserver\.latency\.k8s\.io annotation value\(s\) stored as NULL/);
});

test("audit latency: where the time went per resource,verb (JSON and table) equals the documented means", async () => {
  const r = await runCli(["audit", "latency", "--db", db, "--by", "resource,verb", "-o", "json", "--limit", "1000"]);
  assert.equal(r.code, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as Ev[];
  const all = [SCENARIO, RECORDED_V125_AUDIT, derivedPath].flatMap((f) => readEvents(f).map((e) => e.ev));
  const groups = new Map<string, Record<string, number>[]>();
  for (const e of all) {
    if (e.stage !== "ResponseComplete" || !e.requestReceivedTimestamp || !e.stageTimestamp) continue;
    const s = expectedSplit(e);
    if (s === null) continue;
    const res = e.objectRef?.resource ? (e.objectRef.apiGroup ? `${e.objectRef.resource}.${e.objectRef.apiGroup}` : e.objectRef.resource) : null;
    const key = `${isLongRunning(e) ? "long-running" : "request"}|${res}|${e.verb}`;
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  const withSplit = rows.filter((row) => row.split !== null);
  assert.deepEqual(withSplit.map((row) => `${row.kind}|${row.resource}|${row.verb}`).sort(), [...groups.keys()].sort());
  assert.ok(groups.size >= 8, `${groups.size} groups`);
  for (const row of withSplit) {
    const list = groups.get(`${row.kind}|${row.resource}|${row.verb}`)!;
    assert.equal(row.annotated, list.length);
    assert.equal(row.split.annotated, list.length);
    for (const f of Object.keys(list[0]!)) {
      const mean = list.reduce((s, x) => s + x[f]!, 0) / list.length;
      assert.ok(Math.abs(row.split[f] - mean) <= 0.0006, `${row.resource} ${row.verb} ${f}: ${row.split[f]} != ${mean}`);
    }
    // The parts add up to the total (means are additive; response-write is inside serialize when both are there).
    const s = row.split;
    const parts = s.etcd_ms + s.apf_queue_wait_ms + s.decode_ms + s.transform_ms + s.webhooks_ms + s.impersonation_ms + s.other_ms;
    assert.ok(parts <= s.total_ms + 0.01, `${row.resource} ${row.verb}: parts ${parts} > total ${s.total_ms}`);
  }
  // Groups without annotated requests say so with null, and the count of annotated requests is 0.
  assert.ok(rows.some((row) => row.split === null && row.annotated === 0));

  const table = await runCli(["audit", "latency", "--db", db, "--by", "resource,verb", "--limit", "1000"]);
  assert.equal(table.code, 0, table.stderr);
  const annotatedTotal = [...groups.values()].reduce((n, l) => n + l.length, 0);
  assert.match(table.stdout, new RegExp(`Where the time went \\(${annotatedTotal} of \\d+ requests carry apiserver\\.latency\\.k8s\\.io/\\* annotations`));
  assert.match(table.stdout, /^KIND +RESOURCE +VERB +ANNOTATED +TOTAL_MS +ETCD_MS +APF_QUEUE_WAIT_MS +DECODE_MS +TRANSFORM_MS +SERIALIZE_MS +RESPONSE_WRITE_MS +WEBHOOKS_MS +IMPERSONATION_MS +OTHER_MS +P99_TOTAL_MS$/m);
  // The real slow LIST of configmaps: 3002.623 ms, serialize 0.032, the rest unexplained.
  assert.match(table.stdout, /^request +configmaps +list +\d+ +[\d.]+ /m);
});

test("audit latency says plainly when the events carry no annotations (v1.25 security scenario)", async () => {
  const plain = join(dir, "plain.duckdb");
  const ing = await runCli(["audit", "ingest", "--db", plain, SECURITY]);
  assert.equal(ing.code, 0, ing.stderr);
  const json = await runCli(["audit", "latency", "--db", plain, "-o", "json"]);
  assert.equal(json.code, 0, json.stderr);
  const rows = JSON.parse(json.stdout) as Ev[];
  assert.ok(rows.length > 0);
  assert.ok(rows.every((row) => row.split === null && row.annotated === 0));
  assert.match(json.stderr, /no request in the selection carries apiserver\.latency\.k8s\.io\/\* annotations.*slower than 500 ms/);
  const table = await runCli(["audit", "latency", "--db", plain]);
  assert.match(table.stdout, /^note: no request in the selection carries apiserver\.latency\.k8s\.io\/\* annotations/m);
  assert.doesNotMatch(table.stdout, /Where the time went/);
});

// The `events` table as the previous release created it (src/audit/schema.ts before the latency columns).
const PREVIOUS_EVENTS_DDL = `
CREATE TABLE events (
  audit_id VARCHAR NOT NULL, stage VARCHAR NOT NULL, level VARCHAR, ts TIMESTAMPTZ, received_ts TIMESTAMPTZ, latency_ms DOUBLE,
  verb VARCHAR, request_uri VARCHAR, "user" VARCHAR, user_groups VARCHAR[], impersonated_user VARCHAR, user_agent VARCHAR,
  source_ip VARCHAR, namespace VARCHAR, resource VARCHAR, subresource VARCHAR, api_group VARCHAR, api_version VARCHAR, name VARCHAR,
  code INTEGER, status_reason VARCHAR, status_message VARCHAR, authz_decision VARCHAR, authz_reason VARCHAR, event_bytes INTEGER,
  request_object_bytes INTEGER, response_object_bytes INTEGER, source VARCHAR, event_api_version VARCHAR
)`;

test("a store created by the previous schema: read-only queries see NULL columns, the next ingest adds them", async () => {
  const old = join(dir, "old.duckdb");
  const first = readEvents(SECURITY).map((e) => e.ev).find((e) => e.stage === "ResponseComplete" && e.verb === "get" && e.objectRef?.resource && !e.objectRef.apiGroup)!;
  const instance = await DuckDBInstance.create(old);
  const c = await instance.connect();
  await c.run(PREVIOUS_EVENTS_DDL);
  await c.run(
    `INSERT INTO events (audit_id, stage, ts, received_ts, latency_ms, verb, "user", resource, code, source) VALUES (?, 'ResponseComplete', ?::TIMESTAMPTZ, ?::TIMESTAMPTZ, 2.5, ?, ?, ?, 200, 'old:1')`,
    [first.auditID, first.stageTimestamp, first.requestReceivedTimestamp, first.verb, first.user.username, first.objectRef.resource],
  );
  c.closeSync();
  instance.closeSync();

  // Read-only: the file is not changed, the split is simply absent.
  const ro = await runCli(["audit", "latency", "--db", old, "-o", "json"]);
  assert.equal(ro.code, 0, ro.stderr);
  assert.deepEqual((JSON.parse(ro.stdout) as Ev[]).map((row) => [row.resource, row.verb, row.count, row.annotated, row.split]), [[first.objectRef.resource, "get", 1, 0, null]]);
  const before = await sqlJson(old, "SELECT count(*)::INT AS n FROM duckdb_columns() WHERE table_name = 'events' AND column_name LIKE 'apiserver_latency_%' AND database_name = current_database()");
  assert.deepEqual(before, [{ n: 0 }]);

  // Written to: the columns are added (NULL for the old row) and filled for new events.
  const ing = await runCli(["audit", "ingest", "--db", old, derivedPath]);
  assert.equal(ing.code, 0, ing.stderr);
  const cols = await sqlJson(old, "SELECT column_name FROM duckdb_columns() WHERE table_name = 'events' AND column_name LIKE 'apiserver_latency_%' ORDER BY column_index");
  assert.deepEqual(cols.map((x) => x.column_name), KEYS.map(column));
  const rows = await sqlJson(old, "SELECT source, apiserver_latency_etcd_ms AS etcd FROM events ORDER BY source");
  assert.deepEqual(rows.find((x) => x.source === "old:1"), { source: "old:1", etcd: null });
  const e0 = derived.events[0];
  close(rows.find((x) => x.source === `${derivedPath}:1`)!.etcd, readGoDuration(e0.annotations[`${PREFIX}etcd`])!, "derived line 1 etcd");
});

function httpText(port: number, path: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port, path, method: body === undefined ? "GET" : "POST", headers: body === undefined ? {} : { "content-type": "application/json" } }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (d: string) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

test("audit serve: webhook events get the same columns; malformed annotations are counted per annotation", async (t) => {
  const store = join(dir, "webhook.duckdb");
  const child = spawnCli(["audit", "serve", "--db", store, "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--auth=none"]);
  t.after(() => stopCli(child, "SIGKILL"));
  const p = await eventually(
    () => {
      const line = child.output.stderr.split("\n").find((l) => l.includes("audit receiver listening"));
      return line ? (JSON.parse(line) as { webhookPort: number; httpPort: number }) : undefined;
    },
    { timeoutMs: 30_000, what: "listening log line" },
  );
  const events = [...realAnnotated().map((r) => r.ev), ...derived.events];
  const posted = await httpText(p.webhookPort, "/", JSON.stringify({ kind: "EventList", apiVersion: "audit.k8s.io/v1", items: events }));
  assert.equal(posted.status, 200, posted.body);
  const metrics = (await httpText(p.httpPort, "/metrics")).body;
  const counted = (k: string): number => Number(new RegExp(`^watch_auditor_audit_latency_annotations_malformed_total\\{annotation="${k}"\\} (\\S+)$`, "m").exec(metrics)?.[1] ?? NaN);
  for (const k of KEYS) {
    const want = [...derived.malformed.values()].flat().filter((a) => a === PREFIX + k).length;
    assert.equal(counted(k), want, `${k} in\n${metrics}`);
  }
  const stopped = await stopCli(child, "SIGTERM", 20_000);
  assert.equal(stopped.code, 0, stopped.stderr);
  const rows = await sqlJson(store, `SELECT audit_id, ${KEYS.map(column).join(", ")} FROM events`);
  assert.equal(rows.length, events.length);
  for (const row of rows) {
    const e = events.find((x) => x.auditID === row.audit_id)!;
    for (const k of KEYS) {
      const want = readGoDuration(e.annotations?.[PREFIX + k]);
      if (want === null) assert.equal(row[column(k)], null, `${e.auditID} ${k}`);
      else close(row[column(k)], want, `${e.auditID} ${k}`);
    }
  }
});
