// Item 4 of issue 11: bodies are kept, secret values never stored. The secret values to look for
// are collected here from the sample files with a plain JS pass (not with src/audit/redact.ts).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Registry } from "prom-client";
import { DuckDBInstance } from "@duckdb/node-api";
import { eventually, runCli, spawnCli, stopCli } from "../support/cli.js";
import { SCENARIO, SECURITY, readEvents, type Ev } from "./helpers.js";
import { REDACTED, redactBody, type RedactionCounts } from "../../src/audit/redact.js";
import { AuditWebhook } from "../../src/audit/server.js";
import { openStore } from "../../src/audit/store.js";
import { EVENTS_DDL } from "../../src/audit/schema.js";
import { createLogger } from "../../src/core/logger.js";

import { fileURLToPath } from "node:url";

const RECORDER = fileURLToPath(new URL("../../../shared/kube/recorded-v1.25/audit/scenario-recorder.jsonl", import.meta.url));
const FILES = [SECURITY, SCENARIO, RECORDER];

// ---- independent reference: every secret value in the inputs ----

function isObj(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

function decodedLeaves(value: string, out: Set<string>): void {
  const dec = Buffer.from(value, "base64").toString("utf8");
  if (Buffer.from(dec, "utf8").toString("base64").replace(/=+$/, "") !== value.replace(/=+$/, "")) return; // not base64
  if (dec.length >= 6) out.add(dec);
  try {
    // A docker config: its passwords and auths.
    const visit = (n: unknown): void => {
      if (Array.isArray(n)) n.forEach(visit);
      else if (isObj(n))
        for (const [k, v] of Object.entries(n)) {
          if (typeof v === "string" && /^(password|auth|token)$/.test(k) && v.length >= 6) {
            out.add(v);
            decodedLeaves(v, out);
          } else visit(v);
        }
    };
    visit(JSON.parse(dec));
  } catch {
    // not JSON
  }
}

/** Secret data/stringData values (raw and base64-decoded) and TokenRequest/TokenReview tokens. */
function secretValues(events: Ev[]): { raw: Set<string>; all: Set<string>; keys: Set<string> } {
  const raw = new Set<string>();
  const all = new Set<string>();
  const keys = new Set<string>();
  const secretObj = (o: Record<string, unknown>): void => {
    for (const field of ["data", "stringData"]) {
      const m = o[field];
      if (!isObj(m)) continue;
      for (const [k, v] of Object.entries(m)) {
        keys.add(k);
        if (typeof v !== "string" || v.length < 4) continue;
        raw.add(v);
        all.add(v);
        if (field === "data") decodedLeaves(v, all);
      }
    }
  };
  for (const ev of events) {
    for (const body of [ev.requestObject, ev.responseObject]) {
      if (!isObj(body)) continue;
      if (body.kind === "Secret") secretObj(body);
      if (body.kind === "SecretList" && Array.isArray(body.items)) body.items.filter(isObj).forEach(secretObj);
      const token = body.kind === "TokenRequest" ? (body.status as Ev)?.token : body.kind === "TokenReview" ? (body.spec as Ev)?.token : undefined;
      if (typeof token === "string" && token !== "") {
        raw.add(token);
        all.add(token);
      }
    }
  }
  return { raw, all, keys };
}

const inputs = FILES.flatMap((f) => readEvents(f).map((e) => e.ev as Ev));
const secrets = secretValues(inputs);

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), "h6-audit-redact-"));
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function sqlJson(db: string, query: string): Promise<Ev[]> {
  const r = await runCli(["audit", "sql", query, "--db", db, "-o", "json"]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim() === "" ? [] : (JSON.parse(r.stdout) as Ev[]);
}

const lit = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/** Values found anywhere in the store: every text column of events, and both bodies. */
async function foundInStore(db: string, values: string[]): Promise<string[]> {
  const cols = await sqlJson(db, "SELECT column_name AS c, data_type AS t FROM information_schema.columns WHERE table_name = 'events' AND data_type IN ('VARCHAR', 'VARCHAR[]', 'JSON')");
  assert.ok(cols.length >= 15, "events has its text columns");
  const text = cols.map((c) => (c.t === "VARCHAR[]" ? `coalesce(array_to_string("${c.c}", ' '), '')` : `coalesce("${c.c}"::VARCHAR, '')`)).join(` || ' ' || `);
  // A value inside JSON text may be escaped (quotes in a decoded docker config): look for both.
  const needles = values.flatMap((v) => [v, JSON.stringify(v).slice(1, -1)]);
  const rows = await sqlJson(
    db,
    `SELECT v FROM (VALUES ${needles.map((v) => `(${lit(v)})`).join(", ")}) t(v)
     WHERE EXISTS (SELECT 1 FROM events WHERE contains(${text}, v))
        OR EXISTS (SELECT 1 FROM bodies WHERE contains(coalesce(request_object::VARCHAR, '') || ' ' || coalesce(response_object::VARCHAR, ''), v))`,
  );
  return rows.map((r) => r.v as string);
}

function foundInBytes(file: string, values: string[]): string[] {
  const files = [file, file + ".wal"].filter(existsSync).map((f) => readFileSync(f));
  return values.filter((v) => files.some((b) => b.includes(Buffer.from(v)) || b.includes(Buffer.from(JSON.stringify(v).slice(1, -1)))));
}

test("the samples do carry secrets (the reference pass found them)", () => {
  // registry-creds' docker config, db's password, db-dsn, rec-secret, the v1.24 `db`, the TokenRequest JWT, TokenReview tokens.
  for (const v of ["c2VjcmV0LXNob3A=", "secret-shop", "R3g-Pa55-shop", "bm90LWEtcmVhbC1zZWNyZXQ=", "not-a-real-secret", "eA==", "not-a-real-token"]) assert.ok(secrets.all.has(v), v);
  assert.ok([...secrets.raw].some((v) => v.startsWith("eyJhbGciOi")), "the TokenRequest's JWT");
  assert.ok(secrets.keys.has(".dockerconfigjson") && secrets.keys.has("password") && secrets.keys.has("dsn"));
});

test("audit ingest (CLI) stores bodies with secret values redacted: not in any column, not in the file; keys kept", async () => {
  const db = join(dir, "redacted.duckdb");
  const r = await runCli(["audit", "ingest", "--db", db, ...FILES, "-o", "json"]);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /keep-secret-data/);
  const report = JSON.parse(r.stdout) as { redactions: RedactionCounts; inserted: number };
  assert.ok((report.redactions.secret_data ?? 0) > 0 && (report.redactions.token_request ?? 0) > 0 && (report.redactions.token_review ?? 0) > 0, r.stdout);

  assert.deepEqual(await foundInStore(db, [...secrets.all]), []);
  assert.deepEqual(foundInBytes(db, [...secrets.all].filter((v) => v.length >= 6)), []);

  // Key names stay, values become the marker.
  const rows = await sqlJson(
    db,
    `SELECT e.name, e.verb, json_keys(b.response_object->'$.data') AS keys, b.response_object->>'$.data' AS data
     FROM bodies b JOIN events e USING (audit_id, stage) WHERE e.resource = 'secrets' AND (b.response_object->>'$.kind') = 'Secret' ORDER BY e.ts`,
  );
  const want = inputs
    .filter((e) => e.objectRef?.resource === "secrets" && e.responseObject?.kind === "Secret")
    .map((e) => [e.objectRef.name, Object.keys(e.responseObject.data)]);
  const sorted = (a: unknown[][]): string[] => a.map((x) => JSON.stringify(x)).sort();
  assert.deepEqual(sorted(rows.map((x) => [x.name, x.keys])), sorted(want));
  for (const x of rows) for (const v of Object.values(JSON.parse(x.data) as Record<string, string>)) assert.equal(v, REDACTED);
  const tokens = await sqlJson(db, `SELECT b.response_object->>'$.status.token' AS t FROM bodies b JOIN events e USING (audit_id, stage) WHERE e.subresource = 'token' AND (b.response_object->>'$.kind') = 'TokenRequest'`);
  assert.ok(tokens.length > 0);
  assert.ok(tokens.every((x) => x.t === REDACTED));
});

test("bodies of other objects are stored intact (the Deployment cart's revisions) and every body-carrying event has its row", async () => {
  const db = join(dir, "redacted.duckdb");
  const rows = await sqlJson(db, `SELECT audit_id, stage, request_object::VARCHAR AS rq, response_object::VARCHAR AS rs FROM bodies JOIN events USING (audit_id, stage) WHERE resource = 'deployments' AND name = 'cart' ORDER BY ts, audit_id`);
  const want = readEvents(SECURITY)
    .map((e) => e.ev as Ev)
    .filter((e) => e.objectRef?.resource === "deployments" && e.objectRef?.name === "cart" && (e.requestObject || e.responseObject));
  assert.ok(want.length >= 10);
  const byId = new Map(rows.map((x) => [`${x.audit_id}/${x.stage}`, x]));
  assert.equal(rows.length, want.length);
  for (const e of want) {
    const got = byId.get(`${e.auditID}/${e.stage}`)!;
    assert.deepEqual(got.rq === null ? undefined : JSON.parse(got.rq), e.requestObject, `${e.auditID} requestObject`);
    assert.deepEqual(got.rs === null ? undefined : JSON.parse(got.rs), e.responseObject, `${e.auditID} responseObject`);
  }
  const total = await sqlJson(db, "SELECT count(*)::INT AS n FROM bodies");
  const dedup = new Set(inputs.filter((e) => e.requestObject != null || e.responseObject != null).map((e) => `${e.auditID}/${e.stage}`));
  assert.equal(total[0].n, dedup.size);
  // Ingesting again adds nothing (bodies are de-duplicated with their events).
  const again = await runCli(["audit", "ingest", "--db", db, SECURITY]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal((await sqlJson(db, "SELECT count(*)::INT AS n FROM bodies"))[0].n, dedup.size);
});

test("--keep-secret-data keeps them, and says so on stderr", async () => {
  const db = join(dir, "kept.duckdb");
  const r = await runCli(["audit", "ingest", "--keep-secret-data", "--db", db, ...FILES, "-o", "json"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^warning: --keep-secret-data: .*UNREDACTED/m);
  assert.deepEqual((JSON.parse(r.stdout) as { redactions: RedactionCounts }).redactions, {});
  assert.deepEqual(new Set(await foundInStore(db, [...secrets.raw])), secrets.raw);
  // The raw-bytes search of the other test is not vacuous: unredacted values are visible in the file.
  assert.ok(foundInBytes(db, [...secrets.raw]).length > 0);
});

function postJson(port: number, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port, path: "/", method: "POST", headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (d: string) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

const eventList = (items: Ev[]): string => JSON.stringify({ kind: "EventList", apiVersion: "audit.k8s.io/v1", metadata: {}, items });

test("webhook (process): EventList batches are redacted the same way; --keep-secret-data warns at start", async () => {
  for (const keep of [false, true]) {
    const db = join(dir, `webhook-${keep}.duckdb`);
    const child = spawnCli(["audit", "webhook", "--db", db, "--listen", "127.0.0.1:0", ...(keep ? ["--keep-secret-data"] : [])]);
    try {
      const line = await eventually(() => child.output.stderr.split("\n").find((l) => l.includes("audit receiver listening")), { timeoutMs: 30_000, what: "listening" });
      const port = (JSON.parse(line) as { webhookPort: number }).webhookPort;
      for (let i = 0; i < inputs.length; i += 200) assert.equal((await postJson(port, eventList(inputs.slice(i, i + 200)))).status, 200);
    } finally {
      await stopCli(child);
    }
    assert.equal(/keep-secret-data.*UNREDACTED/.test(child.output.stderr), keep, child.output.stderr);
    const found = await foundInStore(db, [...secrets.raw]);
    if (keep) assert.deepEqual(new Set(found), secrets.raw);
    else {
      assert.deepEqual(await foundInStore(db, [...secrets.all]), []);
      assert.deepEqual(foundInBytes(db, [...secrets.all].filter((v) => v.length >= 6)), []);
    }
  }
});

test("webhook metrics: redactions_total{kind} and secret_redaction_enabled", async () => {
  for (const keep of [false, true]) {
    const store = await openStore(":memory:");
    const registry = new Registry();
    const hook = new AuditWebhook(store, { db: ":memory:", listen: { host: "127.0.0.1", port: 0 }, maxBodyBytes: 64 << 20, keepSecretData: keep }, createLogger("error", "test"), undefined, registry);
    try {
      const port = await hook.listen();
      assert.equal((await postJson(port, eventList(readEvents(SECURITY).map((e) => e.ev)))).status, 200);
      const text = await registry.metrics();
      assert.match(text, new RegExp(`^watch_auditor_audit_secret_redaction_enabled ${keep ? 0 : 1}$`, "m"));
      const n = (kind: string): number => Number(new RegExp(`^watch_auditor_audit_redactions_total\\{kind="${kind}"\\} (\\d+)$`, "m").exec(text)?.[1] ?? 0);
      // Independent count: data values of Secret bodies, non-empty TokenRequest tokens.
      const sec = readEvents(SECURITY).map((e) => e.ev as Ev);
      const dataValues = sec.flatMap((e) => [e.requestObject, e.responseObject]).filter((b) => b?.kind === "Secret").reduce((s, b) => s + Object.keys(b.data ?? {}).length, 0);
      const tokens = sec.filter((e) => e.responseObject?.kind === "TokenRequest" && e.responseObject.status?.token).length;
      assert.deepEqual([n("secret_data"), n("token_request")], keep ? [0, 0] : [dataValues, tokens]);
    } finally {
      await hook.close();
      store.close();
    }
  }
});

test("a store written before bodies were kept still opens: empty `bodies` for readers, created on the next ingest", async () => {
  const db = join(dir, "old.duckdb");
  const inst = await DuckDBInstance.create(db);
  const c = await inst.connect();
  await c.run(EVENTS_DDL);
  await c.run("INSERT INTO events (audit_id, stage, ts, verb) VALUES ('old-1', 'ResponseComplete', TIMESTAMPTZ '2026-01-01 00:00:00+00', 'get')");
  c.closeSync();
  inst.closeSync();
  assert.deepEqual(await sqlJson(db, "SELECT (SELECT count(*) FROM events)::INT AS e, (SELECT count(*) FROM bodies)::INT AS b"), [{ e: 1, b: 0 }]);
  const top = await runCli(["audit", "top", "--by", "verb", "--db", db, "-o", "json"]);
  assert.equal(top.code, 0, top.stderr);
  const r = await runCli(["audit", "ingest", "--db", db, SECURITY]);
  assert.equal(r.code, 0, r.stderr);
  const n = await sqlJson(db, "SELECT (SELECT count(*) FROM events)::INT AS e, (SELECT count(*) FROM bodies)::INT AS b");
  assert.equal(n[0].e, 1 + readEvents(SECURITY).length);
  assert.ok(n[0].b > 0);
});

// ---- shapes the samples do not carry ----

function redacted(body: unknown, ctx: { resource?: string; subresource?: string } = {}): { body: Ev; counts: RedactionCounts } {
  const copy = structuredClone(body);
  const counts: RedactionCounts = {};
  redactBody(copy, ctx, counts);
  return { body: copy, counts };
}

test("redactBody: SecretList items, stringData, patches (merge and JSON), last-applied annotations, Tables, tokens", () => {
  const list = redacted({ kind: "SecretList", items: [{ metadata: { name: "a" }, data: { k: "djE=" } }, { metadata: { name: "b" }, stringData: { s: "plain" } }] });
  assert.deepEqual(list.body.items.map((i: Ev) => i.data ?? i.stringData), [{ k: REDACTED }, { s: REDACTED }]);
  assert.deepEqual(list.counts, { secret_data: 1, secret_string_data: 1 });

  const merge = redacted({ data: { password: "bmV3" }, metadata: { labels: { a: "b" } } }, { resource: "secrets" });
  assert.deepEqual(merge.body, { data: { password: REDACTED }, metadata: { labels: { a: "b" } } });

  const jsonPatch = redacted(
    [
      { op: "replace", path: "/data/password", value: "bmV3" },
      { op: "add", path: "/stringData", value: { a: "x", b: "y" } },
      { op: "replace", path: "/metadata/labels/app", value: "web" },
    ],
    { resource: "secrets" },
  );
  assert.deepEqual(jsonPatch.body.map((o: Ev) => o.value), [REDACTED, { a: REDACTED, b: REDACTED }, "web"]);

  const applied = JSON.stringify({ apiVersion: "v1", kind: "Secret", metadata: { name: "s", namespace: "n" }, data: { tls: "c2VjcmV0" }, stringData: { u: "admin-pass" } }) + "\n";
  const la = redacted({ kind: "Secret", metadata: { name: "s", annotations: { "kubectl.kubernetes.io/last-applied-configuration": applied } }, data: { tls: "c2VjcmV0" } });
  const inner = la.body.metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"] as string;
  assert.ok(inner.endsWith("\n"));
  assert.deepEqual(JSON.parse(inner), { apiVersion: "v1", kind: "Secret", metadata: { name: "s", namespace: "n" }, data: { tls: REDACTED }, stringData: { u: REDACTED } });
  assert.equal(la.counts.last_applied_configuration, 1);

  // A Secret inside a List of another kind, and a Table of secrets with full objects.
  const other = redacted({ kind: "List", items: [{ kind: "ConfigMap", data: { a: "visible" } }, { kind: "Secret", data: { a: "aGlkZGVu" } }] });
  assert.deepEqual(other.body.items.map((i: Ev) => i.data.a), ["visible", REDACTED]);
  const table = redacted({ kind: "Table", rows: [{ cells: ["s"], object: { metadata: { name: "s" }, data: { k: "dg==" } } }] }, { resource: "secrets" });
  assert.equal(table.body.rows[0].object.data.k, REDACTED);

  // managedFields stay (field names only), ConfigMaps and empty tokens are not touched.
  const mf = [{ manager: "m", fieldsV1: { "f:data": { "f:k": {} } } }];
  assert.deepEqual(redacted({ kind: "Secret", metadata: { managedFields: mf }, data: { k: "dg==" } }).body.metadata.managedFields, mf);
  assert.deepEqual(redacted({ kind: "ConfigMap", data: { k: "v" } }, { resource: "configmaps" }).counts, {});
  assert.deepEqual(redacted({ kind: "TokenRequest", status: { token: "" } }).counts, {});
  assert.equal(redacted({ kind: "TokenRequest", status: { token: "eyJ.x.y" } }).body.status.token, REDACTED);
  assert.equal(redacted({ kind: "TokenReview", spec: { token: "abc" }, status: {} }).body.spec.token, REDACTED);
  assert.equal(redacted({ spec: { token: "abc" } }, { resource: "tokenreviews" }).body.spec.token, REDACTED);
});
