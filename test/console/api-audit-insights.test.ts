// The console's audit insights against the audit CLI's own answers on the same store (who-deleted,
// top, errors, latency, detect with -o json) and a plain pass over the raw events (who-changed);
// then the audit API through the real `watch-auditor console` process.
import { test } from "node:test";
import assert from "node:assert/strict";
import { runCli } from "../support/cli.js";
import { startConsole } from "../support/browser.js";
import { RECORDED_V125, SECURITY_SCENARIO, V124_SCENARIO } from "../support/audit-store.js";
import { isRequest, qualified, readEvents, servedStore, type Ev } from "./api-audit-support.js";

const FILES = [RECORDED_V125, SECURITY_SCENARIO, V124_SCENARIO];
const all = readEvents(FILES);

const fx = servedStore("insights", FILES);

async function cli(args: string[]): Promise<Ev[]> {
  const r = await runCli(["audit", ...args, "--db", fx.db, "-o", "json"]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

const pick = (row: Ev, cols: string[]): Ev => Object.fromEntries(cols.map((c) => [c, row[c] ?? null]));
const canon = (rows: Ev[]): string[] => rows.map((r) => JSON.stringify(r)).sort();

test("insights/who-deleted with a resource filter is `audit who-deleted RESOURCE -o json` (resource as plural.group), plus each event's audit ID", async () => {
  for (const [resource, name] of [["configmaps", undefined], ["deployments.apps", undefined], ["pods", undefined], ["deployments", "cart"]] as const) {
    const r = await fx.api.get("insights/who-deleted", { resource, ...(name ? { name } : {}) });
    assert.equal(r.status, 200, r.text);
    const want = await cli(["who-deleted", resource, ...(name ? [name] : []), "--limit", "1000"]);
    assert.ok(want.length > 0, `${resource}: the scenarios delete some`);
    const cols = Object.keys(want[0]);
    assert.deepEqual(r.body.columns.filter((c: string) => cols.includes(c)), cols);
    const plain = (row: Ev): Ev => ({ ...pick(row, cols), resource: String(row.resource).split(".")[0] });
    assert.deepEqual(canon(r.body.rows.map(plain)), canon(want));
    for (const row of r.body.rows) {
      const ev = all.find((e) => e.auditID === row.audit_id && e.stage === row.stage);
      assert.ok(ev && ["delete", "deletecollection"].includes(ev.verb));
      assert.equal(row.resource, qualified(ev));
    }
  }
  const everything = await fx.api.get("insights/who-deleted");
  assert.equal(everything.body.rows.length, all.filter((e) => isRequest(e) && ["delete", "deletecollection"].includes(e.verb)).length);
});

test("insights/who-changed: successful writes per object and user, as counted from the raw events", async () => {
  const groups = new Map<string, { changes: number; verbs: Set<string> }>();
  for (const e of all) {
    if (!isRequest(e) || !["create", "update", "patch", "apply", "delete"].includes(e.verb) || !(e.responseStatus.code >= 200 && e.responseStatus.code < 300) || !e.objectRef?.name) continue;
    const k = JSON.stringify([qualified(e), e.objectRef.namespace ?? null, e.objectRef.name, e.user?.username ?? null]);
    const g = groups.get(k) ?? { changes: 0, verbs: new Set<string>() };
    g.changes++;
    g.verbs.add(e.verb);
    groups.set(k, g);
  }
  const r = await fx.api.get("insights/who-changed", { limit: 10000 });
  assert.equal(r.status, 200);
  assert.deepEqual(
    canon(r.body.rows.map((x: Ev) => [x.resource, x.namespace, x.name, x.user, x.changes, x.verbs])),
    canon([...groups.entries()].map(([k, g]) => [...JSON.parse(k), g.changes, [...g.verbs].sort().join(",")])),
  );
  const dana = await fx.api.get("insights/who-changed", { user: "dana", namespace: "shop" });
  assert.ok(dana.body.rows.length > 0);
  assert.ok(dana.body.rows.every((x: Ev) => x.user === "dana" && x.namespace === "shop"));
});

test("insights/top-callers, errors and latency agree with `audit top --by user`, `audit errors`, `audit latency --by resource,verb`", async () => {
  const top = await fx.api.get("insights/top-callers");
  assert.deepEqual(
    top.body.rows.map((x: Ev) => pick(x, ["user", "requests", "errors", "share_pct"])),
    (await cli(["top", "--by", "user", "--limit", "1000"])).map((x) => pick(x, ["user", "requests", "errors", "share_pct"])),
  );
  const errCols = ["code", "user", "verb", "resource", "count", "likely_cause", "last_seen"];
  const errors = await fx.api.get("insights/errors");
  const wantErrors = await cli(["errors", "--limit", "1000"]);
  assert.ok(wantErrors.length > 3);
  assert.deepEqual(canon(errors.body.rows.map((x: Ev) => pick(x, errCols))), canon(wantErrors.map((x) => pick(x, errCols))));
  const ERROR_CODES = [401, 403, 404, 409, 422, 429];
  let oneObject = 0;
  for (const row of errors.body.rows) {
    const ev = all.find((e) => e.auditID === row.audit_id && e.stage === row.stage);
    assert.ok(ev, "each error group links to one of its events");
    assert.equal(ev.responseStatus.code, row.code);
    // namespace/name are set exactly when every error of the group concerns one object.
    const group = all.filter((e) => isRequest(e) && (ERROR_CODES.includes(e.responseStatus?.code) || e.responseStatus?.code >= 500) && e.responseStatus.code === row.code &&
      (e.user?.username ?? null) === row.user && e.verb === row.verb && qualified(e) === row.resource);
    assert.equal(group.length, row.count);
    const objects = new Set(group.map((e) => `${e.objectRef?.namespace ?? ""}/${e.objectRef?.name ?? ""}`));
    if (objects.size === 1) {
      oneObject++;
      assert.deepEqual([row.namespace, row.name], [group[0].objectRef?.namespace ?? null, group[0].objectRef?.name ?? null]);
    } else assert.deepEqual([row.namespace, row.name], [null, null]);
  }
  assert.ok(oneObject > 0 && oneObject < errors.body.rows.length);
  const shopErrors = await fx.api.get("insights/errors", { namespace: "shop" });
  assert.deepEqual(canon(shopErrors.body.rows.map((x: Ev) => pick(x, errCols))), canon((await cli(["errors", "-n", "shop", "--limit", "1000"])).map((x) => pick(x, errCols))));
  const latCols = ["kind", "resource", "verb", "count", "p50_ms", "p95_ms", "p99_ms", "max_ms"];
  const lat = await fx.api.get("insights/latency");
  assert.deepEqual(canon(lat.body.rows.map((x: Ev) => pick(x, latCols))), canon((await cli(["latency", "--by", "resource,verb", "--limit", "1000"])).map((x) => pick(x, latCols))));
});

test("insights/detections: the hits of `audit detect -o json` (rule, event), with the object they concern", async () => {
  const want = await cli(["detect"]);
  assert.ok(want.length > 0);
  const r = await fx.api.get("insights/detections", { limit: 10000 });
  assert.equal(r.status, 200);
  assert.equal(r.body.truncated, false);
  assert.deepEqual(canon(r.body.rows.map((x: Ev) => [x.audit_id, x.rule, x.severity, x.user, x.verb, x.namespace, x.code, x.time])), canon(want.map((x) => [x.audit_id, x.rule, x.severity, x.user, x.verb, x.namespace, x.code, x.time])));
  for (const row of r.body.rows) {
    const ev = all.find((e) => e.auditID === row.audit_id && e.stage === row.stage);
    assert.ok(ev);
    assert.equal(row.resource, qualified(ev));
    assert.equal(row.name, ev.objectRef?.name ?? ev.responseObject?.metadata?.name ?? null);
  }
  const newest = await fx.api.get("insights/detections", { limit: 2 });
  assert.equal(newest.body.rows.length, 2);
  assert.equal(newest.body.truncated, true);
  const times = want.map((x) => x.time as string).sort().reverse();
  assert.deepEqual(newest.body.rows.map((x: Ev) => x.time), times.slice(0, 2), "newest hits first");
});

test("the audit API through the real `watch-auditor console --audit-db` process answers as the routes do in-process", async () => {
  const c = await startConsole(["--audit-db", fx.db]);
  try {
    for (const [path, params] of [["summary", {}], ["events", { limit: "50", namespace: "shop" }], ["insights/who-deleted", { resource: "configmaps" }], ["timeline", { name: "cart" }]] as const) {
      const url = new URL(`/api/console/audit/${path}?${new URLSearchParams(params).toString()}`, c.url);
      const r = await fetch(url);
      assert.equal(r.status, 200, path);
      assert.equal(r.headers.get("cache-control"), "no-store");
      assert.deepEqual(await r.json(), (await fx.api.get(path, params)).body, path);
    }
    const bad = await fetch(new URL("/api/console/audit/events?code=abc", c.url));
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: string }).error, /^query parameter code: /);
  } finally {
    await c.stop();
  }
});
