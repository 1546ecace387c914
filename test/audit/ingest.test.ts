import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { Readable } from "node:stream";
import { openStore, type AuditStore } from "../../src/audit/store.js";
import { ingestPaths, ingestEvents } from "../../src/audit/ingest.js";
import { generateEvents, writeJsonl } from "./fixtures.js";
import { DEMO, PRIV_POD, SAMPLES, SCENARIO, SECURITY, V1BETA1, readEvents, tempDir } from "./helpers.js";

async function memStore(t: { after: (fn: () => void) => void }): Promise<AuditStore> {
  const s = await openStore(":memory:");
  t.after(() => s.close());
  return s;
}

test("ingests every real sample: v1, v1beta1, 2017 `timestamp` format, RequestResponse objects", async (t) => {
  const s = await memStore(t);
  const r = await ingestPaths(s, [SAMPLES]);
  const expected = [SCENARIO, DEMO, V1BETA1, PRIV_POD, SECURITY].reduce((n, f) => n + readEvents(f).length, 0);
  assert.equal(r.files, 5);
  assert.equal(r.eventsRead, expected);
  assert.equal(r.inserted, expected);
  assert.equal(r.malformed, 0);
  assert.equal(await s.count(), expected);

  // Old format: no requestReceivedTimestamp/stageTimestamp → both from `timestamp`, latency unknown.
  const demo = readEvents(DEMO)[4]!;
  const [row] = await s.query("SELECT strftime(ts::TIMESTAMP, '%Y-%m-%dT%H:%M:%SZ') AS ts, received_ts = ts AS same, latency_ms, impersonated_user, source, event_api_version FROM events WHERE audit_id = ?", [demo.ev.auditID]);
  assert.deepEqual(row, { ts: demo.ev.timestamp, same: true, latency_ms: null, impersonated_user: demo.ev.impersonatedUser.username, source: `${DEMO}:${demo.line}`, event_api_version: "audit.k8s.io/v1" });

  // v1beta1 with RBAC annotations.
  const beta = readEvents(V1BETA1)[0]!.ev;
  const [b] = await s.query("SELECT event_api_version, authz_decision, user_agent FROM events WHERE audit_id = ?", [beta.auditID]);
  assert.equal(b!.event_api_version, "audit.k8s.io/v1beta1");
  assert.equal(b!.authz_decision, beta.annotations["authorization.k8s.io/decision"]);
  assert.equal(b!.user_agent, beta.userAgent);

  // Request/response object sizes and microsecond latency.
  const pod = readEvents(PRIV_POD)[0]!.ev;
  const [p] = await s.query("SELECT request_object_bytes, response_object_bytes, event_bytes, latency_ms, api_group, namespace, name FROM events WHERE audit_id = ?", [pod.auditID]);
  const us = (x: string): number => Date.parse(x.replace(/\.\d+Z$/, "Z")) * 1000 + Number((/\.(\d+)Z$/.exec(x)?.[1] ?? "0").padEnd(6, "0"));
  assert.equal(p!.request_object_bytes, JSON.stringify(pod.requestObject).length);
  assert.equal(p!.response_object_bytes, JSON.stringify(pod.responseObject).length);
  assert.equal(p!.event_bytes, Buffer.byteLength(readFileSync(PRIV_POD, "utf8").trim()));
  assert.ok(Math.abs((p!.latency_ms as number) - (us(pod.stageTimestamp) - us(pod.requestReceivedTimestamp)) / 1000) < 1e-6);
  assert.deepEqual([p!.api_group, p!.namespace, p!.name], ["", pod.objectRef.namespace, pod.objectRef.name]);
});

test("every stored row points back to its file:line", async (t) => {
  const s = await memStore(t);
  await ingestPaths(s, [SCENARIO]);
  const rows = await s.query("SELECT audit_id, stage, source FROM events");
  const want = new Map(readEvents(SCENARIO).map((e) => [`${e.ev.auditID}/${e.ev.stage}`, `${SCENARIO}:${e.line}`]));
  assert.equal(rows.length, want.size);
  for (const r of rows) assert.equal(r.source, want.get(`${r.audit_id}/${r.stage}`));
});

test("malformed lines are reported with file:line and counted; blank lines and unknown fields do not shift or abort", async (t) => {
  const dir = await tempDir(t);
  const good = [...generateEvents(6, { seed: 7 })];
  const withUnknown = { ...good[3], someFutureField: { nested: [1, 2] }, objectRef: { ...good[3]!.objectRef, futureRef: "x" } };
  const lines = [
    JSON.stringify(good[0]), // 1
    "", // 2
    '{"kind":"Event","auditID":"broken', // 3 truncated
    JSON.stringify(good[1]), // 4
    "   ", // 5
    "[1,2,3]", // 6 not an object
    JSON.stringify({ kind: "Event", stage: "ResponseComplete", verb: "get" }), // 7 no auditID
    JSON.stringify({ ...good[2], stageTimestamp: "yesterday", requestReceivedTimestamp: "noon" }), // 8 bad timestamp
    JSON.stringify(withUnknown), // 9
    JSON.stringify(good[4]) + "\r", // 10 CRLF
    "not json at all", // 11
    JSON.stringify(good[5]), // 12
  ];
  const file = join(dir, "mixed.log");
  writeFileSync(file, lines.join("\n") + "\n\n");
  const s = await memStore(t);
  const r = await ingestPaths(s, [file]);
  assert.deepEqual(
    r.malformedLines.map((m) => [m.file, m.line]),
    [3, 6, 7, 8, 11].map((l) => [file, l]),
  );
  assert.match(r.malformedLines[0]!.reason, /invalid JSON/);
  assert.match(r.malformedLines[2]!.reason, /auditID/);
  assert.match(r.malformedLines[3]!.reason, /timestamp/);
  assert.equal(r.malformed, 5);
  assert.equal(r.inserted, 5);
  const sources = await s.query("SELECT audit_id, source FROM events ORDER BY source");
  const want = [[good[0], 1], [good[1], 4], [good[3], 9], [good[4], 10], [good[5], 12]].map(([e, l]) => ({ audit_id: (e as { auditID: string }).auditID, source: `${file}:${l}` }));
  assert.deepEqual(
    sources.sort((a, b) => String(a.audit_id).localeCompare(String(b.audit_id))),
    want.sort((a, b) => a.audit_id.localeCompare(b.audit_id)),
  );
});

test("de-duplicates on (auditID, stage) within a file and across runs", async (t) => {
  const dir = await tempDir(t);
  const evs = [...generateEvents(50, { seed: 3 })];
  const started = { ...evs[0]!, stage: "ResponseStarted" }; // same auditID, other stage: kept
  const file = join(dir, "dups.log");
  writeFileSync(file, [...evs, evs[1], evs[2], started].map((e) => JSON.stringify(e)).join("\n"));
  const s = await memStore(t);
  const first = await ingestPaths(s, [file]);
  assert.deepEqual([first.eventsRead, first.inserted, first.duplicates], [53, 51, 2]);
  const second = await ingestPaths(s, [file]);
  assert.deepEqual([second.eventsRead, second.inserted, second.duplicates], [53, 0, 53]);
  assert.equal(await s.count(), 51);
});

test("reads .gz, rotated files in a directory, globs, stdin and EventList documents", async (t) => {
  const dir = await tempDir(t);
  const evs = [...generateEvents(40, { seed: 11 })];
  const text = (a: unknown[]): string => a.map((e) => JSON.stringify(e)).join("\n") + "\n";
  const logs = join(dir, "logs");
  (await import("node:fs")).mkdirSync(logs);
  writeFileSync(join(logs, "audit.log"), text(evs.slice(0, 5)));
  writeFileSync(join(logs, "audit.log.1"), text(evs.slice(5, 10)));
  writeFileSync(join(logs, "audit-2024-01-01T00-00-00.000.log.gz"), gzipSync(text(evs.slice(10, 15))));
  // A pretty-printed EventList document, and a one-line EventList inside JSON lines.
  const doc = join(dir, "eventlist.json");
  writeFileSync(doc, JSON.stringify({ kind: "EventList", apiVersion: "audit.k8s.io/v1", metadata: {}, items: [...evs.slice(15, 20), { kind: "Event" }] }, null, 2));
  const inline = join(dir, "inline.jsonl");
  writeFileSync(inline, JSON.stringify(evs[20]) + "\n" + JSON.stringify({ kind: "EventList", items: evs.slice(21, 25) }) + "\n");
  copyFileSync(SCENARIO, join(dir, "glob-a.jsonl"));
  const s = await memStore(t);
  const r = await ingestPaths(s, [logs, doc, inline, join(dir, "glob-*.jsonl"), "-"], { stdin: Readable.from([text(evs.slice(25, 40))]) });
  const scenario = readEvents(SCENARIO).length;
  assert.equal(r.files, 3 + 1 + 1 + 1 + 1);
  assert.equal(r.inserted, 40 + scenario);
  assert.equal(r.malformed, 1);
  assert.match(r.malformedLines[0]!.reason, /items\[5\].*auditID/);
  assert.equal(r.malformedLines[0]!.file, doc);
  const src = await s.query("SELECT audit_id, source FROM events WHERE audit_id IN (?, ?, ?, ?)", [evs[12]!.auditID, evs[16]!.auditID, evs[22]!.auditID, evs[30]!.auditID]);
  const bySource = Object.fromEntries(src.map((x) => [x.audit_id, x.source]));
  assert.equal(bySource[evs[12]!.auditID], `${join(logs, "audit-2024-01-01T00-00-00.000.log.gz")}:3`);
  assert.equal(bySource[evs[16]!.auditID], `${doc}:1#items[1]`);
  assert.equal(bySource[evs[22]!.auditID], `${inline}:2#items[1]`);
  assert.equal(bySource[evs[30]!.auditID], "-:6");
});

test("a path that matches nothing is an error naming it", async (t) => {
  const s = await memStore(t);
  await assert.rejects(ingestPaths(s, ["/nonexistent/audit.log"]), /PATH \/nonexistent\/audit.log: no such file/);
  const dir = await tempDir(t);
  await assert.rejects(ingestPaths(s, [join(dir, "*.gz")]), /no file matches/);
});

test("webhook events (already parsed) go through the same staging and de-duplication", async (t) => {
  const s = await memStore(t);
  const evs = [...generateEvents(20, { seed: 5 })];
  const r1 = await ingestEvents(s, [...evs.slice(0, 10), { kind: "Event", stage: "ResponseComplete" }]);
  assert.deepEqual([r1.inserted, r1.malformed], [10, 1]);
  const r2 = await ingestEvents(s, evs);
  assert.deepEqual([r2.inserted, r2.duplicates], [10, 10]);
  const [row] = await s.query("SELECT source FROM events LIMIT 1");
  assert.equal(row!.source, "webhook");
});

test("large generated file: counts and per-user totals match a JS pass", async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, "gen.jsonl");
  await writeJsonl(file, 10_000, { seed: 99 });
  const s = await memStore(t);
  const r = await ingestPaths(s, [file]);
  assert.equal(r.inserted, 10_000);
  const want = new Map<string, number>();
  for (const e of generateEvents(10_000, { seed: 99 })) want.set(e.user.username, (want.get(e.user.username) ?? 0) + 1);
  const rows = await s.query(`SELECT "user", count(*) AS n FROM events GROUP BY 1`);
  assert.deepEqual(new Map(rows.map((x) => [x.user as string, x.n as number])), want);
});
