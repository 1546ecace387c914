// `audit policy simulate` through the real CLI process (dist/, built by `npm test`).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { runCli } from "../../support/cli.js";
import { SLOW, scratchDir } from "./cli-support.js";
import { AUDIT_SAMPLES } from "../../support/samples.js";
import type { SimRow } from "../../../src/audit/policy/simulate.js";

const SAMPLES = AUDIT_SAMPLES;
const SCENARIO = `${SAMPLES}/real-apiserver-v1.24-scenario.jsonl`;

const scratch = scratchDir("audit-policy-simulate-cli-");
const policyFile = scratch.policyFile;

const SIM_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None
  nonResourceURLs: ["/version", "/openapi*"]
- level: None
  users: ["system:apiserver"]
- level: RequestResponse
  resources: [{group: "", resources: ["secrets", "configmaps"]}]
- level: Request
  verbs: [create, delete]
  resources: [{group: apps}]
- level: Metadata
  omitStages: [ResponseStarted]
`;

/** A row of the CLI's JSON output (the same shape as the simulator's rows). */
type Row = SimRow;

/**
 * Expected result for SIM_POLICY computed with plain predicates over the raw file, not with the
 * evaluator: which rule each line falls under is written out by hand here.
 */
async function expectedForScenario(): Promise<Map<string, Row>> {
  const rows = new Map<string, Row>();
  const keys = ["rules[0] None", "rules[1] None", "rules[2] RequestResponse", "rules[3] Request", "rules[4] Metadata", "(no rule matched) None"];
  for (const k of keys) rows.set(k, { key: k, recordedEvents: 0, recordedBytes: 0, events: 0, bytes: 0, omittedStageEvents: 0, underestimatedEvents: 0, unrecordedStageEvents: 0 });
  const text = await readFile(SCENARIO, "utf8");
  for (const line of text.split("\n").filter(Boolean)) {
    const e = JSON.parse(line) as { requestURI: string; verb: string; stage: string; user: { username?: string }; objectRef?: { resource?: string; apiGroup?: string; subresource?: string }; requestObject?: unknown; responseObject?: unknown };
    const path = e.requestURI.split("?")[0]!;
    const size = Buffer.byteLength(line);
    const req = e.requestObject === undefined ? 0 : Buffer.byteLength(JSON.stringify(e.requestObject));
    const resp = e.responseObject === undefined ? 0 : Buffer.byteLength(JSON.stringify(e.responseObject));
    const meta = size - req - resp;
    let key: string;
    let bytes = 0;
    let omitted = false;
    if (!e.objectRef && (path === "/version" || path.startsWith("/openapi"))) key = keys[0]!;
    else if (e.user.username === "system:apiserver") key = keys[1]!;
    else if (e.objectRef && !e.objectRef.apiGroup && !e.objectRef.subresource && ["secrets", "configmaps"].includes(e.objectRef.resource ?? "")) {
      key = keys[2]!;
      bytes = meta + req + resp;
    } else if (e.objectRef?.apiGroup === "apps" && (e.verb === "create" || e.verb === "delete")) {
      key = keys[3]!;
      bytes = meta + req;
    } else {
      key = keys[4]!;
      omitted = e.stage === "ResponseStarted";
      bytes = omitted ? 0 : meta;
    }
    const r = rows.get(key)!;
    r.recordedEvents++;
    r.recordedBytes += size;
    if (key === keys[0] || key === keys[1]) continue;
    if (omitted) r.omittedStageEvents++;
    else {
      r.events++;
      r.bytes += bytes;
    }
  }
  return rows;
}

test("simulate CLI: per-rule counts and bytes on the real v1.24 sample match an independent computation", async () => {
  const p = await policyFile("sim.yaml", SIM_POLICY);
  const r = await runCli(["audit", "policy", "simulate", p, SCENARIO, "--output", "json"], SLOW);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as { by: string; rows: Row[]; totals: Omit<Row, "key"> };
  assert.equal(report.by, "rule");
  const expected = await expectedForScenario();
  assert.deepEqual(report.rows, [...expected.values()]);
  // Whole-file facts: 174 events; the file is 196200 bytes including one newline per event.
  assert.equal(report.totals.recordedEvents, 174);
  assert.equal(report.totals.recordedBytes, 196200 - 174);
  // The recording was RequestResponse throughout, so nothing is underestimated; 4 failed-auth
  // lists and 1 watch are ResponseStarted events, omitted by rules[4].
  assert.equal(report.totals.underestimatedEvents, 0);
  assert.equal(report.rows[4]!.omittedStageEvents, 5);
  assert.ok(report.rows.every((x) => x.events <= x.recordedEvents));
});

test("simulate CLI: --db reads an ingested store and agrees with PATH mode; table and csv outputs", async () => {
  const p = await policyFile("sim-db.yaml", SIM_POLICY);
  const db = scratch.path("audit.duckdb");
  const ing = await runCli(["audit", "ingest", "--db", db, SCENARIO], SLOW);
  assert.equal(ing.code, 0, ing.stderr);
  // Read-only opens: several readers may share the store file.
  const [fromDb, fromPath, csv, table] = await Promise.all([
    runCli(["audit", "policy", "simulate", p, "--db", db, "--by", "level", "--output", "json"], SLOW),
    runCli(["audit", "policy", "simulate", p, SCENARIO, "--by", "level", "--output", "json"], SLOW),
    runCli(["audit", "policy", "simulate", p, "--db", db, "--output", "csv"], SLOW),
    runCli(["audit", "policy", "simulate", p, "--db", db], SLOW),
  ]);
  assert.equal(fromDb.code, 0, fromDb.stderr);
  assert.equal(fromPath.code, 0, fromPath.stderr);
  assert.deepEqual(JSON.parse(fromDb.stdout), JSON.parse(fromPath.stdout));

  const expected = await expectedForScenario();
  const byLevel = (JSON.parse(fromDb.stdout) as { rows: Row[] }).rows;
  assert.deepEqual(
    byLevel.map((x) => x.key),
    ["None", "Metadata", "Request", "RequestResponse"],
  );
  assert.equal(byLevel[3]!.bytes, expected.get("rules[2] RequestResponse")!.bytes);
  assert.equal(byLevel[2]!.bytes, expected.get("rules[3] Request")!.bytes);

  assert.equal(csv.code, 0, csv.stderr);
  const lines = csv.stdout.trim().split("\n");
  assert.equal(lines[0], "rule,recorded_events,recorded_bytes,events,estimated_bytes,stage_omitted_events,underestimated_events,unrecorded_stage_events");
  const rr = expected.get("rules[2] RequestResponse")!;
  assert.ok(lines.includes(`rules[2] RequestResponse,${rr.recordedEvents},${rr.recordedBytes},${rr.events},${rr.bytes},0,0,0`), csv.stdout);
  assert.match(lines[lines.length - 1]!, /^\(total\),174,196026,/);

  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^RULE\s+RECORDED\s+RECORDED BYTES\s+EVENTS\s+EST\. BYTES/m);
  assert.match(table.stdout, /estimated: \d+ events \(\d+\.\d% of 174 recorded\)/);
});

test("simulate CLI: a Metadata recording replayed at RequestResponse is flagged as an underestimate, and unrecorded RequestReceived stages are counted", async () => {
  // demo.log (2017) was recorded at Metadata level with no RequestReceived events.
  const p = await policyFile("rr.yaml", "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: RequestResponse\n");
  const r = await runCli(["audit", "policy", "simulate", p, `${SAMPLES}/demo.log`, "--output", "json"], SLOW);
  assert.equal(r.code, 0, r.stderr);
  const text = await readFile(`${SAMPLES}/demo.log`, "utf8");
  const events = text.split("\n").filter(Boolean).map((l) => JSON.parse(l) as { auditID: string; stage: string; level: string; objectRef?: unknown; requestURI: string });
  const belowRR = events.filter((e) => e.level !== "RequestResponse").length;
  const requestsWithoutReceived = new Set(events.map((e) => e.auditID));
  for (const e of events) if (e.stage === "RequestReceived") requestsWithoutReceived.delete(e.auditID);
  const report = JSON.parse(r.stdout) as { totals: Omit<Row, "key">; notes: string[] };
  assert.equal(report.totals.recordedEvents, 37);
  assert.equal(report.totals.events, 37);
  assert.equal(report.totals.underestimatedEvents, belowRR);
  assert.ok(belowRR > 0);
  assert.equal(report.totals.unrecordedStageEvents, requestsWithoutReceived.size);
  assert.ok(report.notes.some((n) => /underestimated/.test(n)));
});

test("simulate CLI: usage errors exit 2; an invalid policy exits 1 with its errors", async () => {
  const p = await policyFile("ok.yaml", SIM_POLICY);
  const bad = await policyFile("invalid.yaml", "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Everything\n");
  const lines = (await readFile(SCENARIO, "utf8")).split("\n").slice(0, 3);
  const mixed = scratch.path("mixed.jsonl");
  await writeFile(mixed, [...lines, '{"kind":"Event", truncated', ""].join("\n"));
  const [both, by, inv, noDb, malformed] = await Promise.all([
    runCli(["audit", "policy", "simulate", p, "--db", scratch.path("x.duckdb"), SCENARIO], SLOW),
    runCli(["audit", "policy", "simulate", p, SCENARIO, "--by", "verb"], SLOW),
    runCli(["audit", "policy", "simulate", bad, SCENARIO], SLOW),
    runCli(["audit", "policy", "simulate", p, "--db", scratch.path("missing.duckdb")], SLOW),
    runCli(["audit", "policy", "simulate", p, mixed, "--output", "json"], SLOW),
  ]);
  // A malformed line is reported with file:line and counted, never silently dropped.
  assert.equal(malformed.code, 0, malformed.stderr);
  assert.match(malformed.stderr, new RegExp(`${mixed}:4: skipped malformed event`));
  assert.ok(malformed.stdout.length > 0, malformed.stderr);
  const mreport = JSON.parse(malformed.stdout) as { totals: { recordedEvents: number }; notes: string[] };
  assert.equal(mreport.totals.recordedEvents, 3);
  assert.ok(mreport.notes.some((n) => /^1 malformed event line/.test(n)), mreport.notes.join("; "));
  assert.equal(both.code, 2);
  assert.match(both.stderr, /either --db FILE or event PATHs/);
  assert.equal(by.code, 2);
  assert.match(by.stderr, /--by/);
  assert.equal(inv.code, 1);
  assert.match(inv.stderr, new RegExp(`${bad}:4:10: error \\[invalid-level\\]`));
  assert.equal(inv.stdout, "");
  assert.notEqual(noDb.code, 0);
  assert.match(noDb.stderr, /missing\.duckdb/);
});
